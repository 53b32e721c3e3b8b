// A browser that lands on an error — a page that does not exist, a form whose CSRF token is stale,
// a handler that failed — gets a page in words inside the usual layout, not a JSON problem
// document. API clients, htmx requests (which handle errors in place) and the challenge path keep
// the RFC 9457 document as it is.
import type { HandlerContext } from '../context.ts';
import { html, page } from '../../html/html.ts';
import { layout } from '../../../templates/layout.ts';
import { linkButton } from '../../../templates/components.ts';
import { sessionOf } from '../session.ts';
import { crossSiteReason } from '../same-origin.ts';

// (/api/ in any case: the download API's paths match so, src/app.ts.)
const NOT_PAGES = /^\/(?:[aA][pP][iI]\/|\.well-known\/|static\/|healthz$)/;

const HEADINGS: Record<number, string> = {
  400: 'That request was not right',
  403: 'Not allowed',
  404: 'Page not found',
  405: 'Not allowed',
  409: 'That cannot be done now',
  413: 'That was too large',
  429: 'Too many attempts',
};

/** Whether a browser navigated here: a page path, HTML accepted, not an htmx request. */
export function isPageRequest(request: Request): boolean {
  if (request.headers.has('hx-request')) return false;
  if (!/\btext\/html\b/.test(request.headers.get('accept') ?? '')) return false;
  return !NOT_PAGES.test(new URL(request.url).pathname);
}

/** `response` itself, or — for a problem document sent to a browsing user — the same status as a page. */
export async function problemAsPage(response: Response, request: Request, ctx: HandlerContext): Promise<Response> {
  if (!response.headers.get('content-type')?.startsWith('application/problem+json') || !isPageRequest(request)) return response;
  let detail = '';
  try {
    detail = String(((await response.clone().json()) as { detail?: unknown }).detail ?? '');
  } catch {
    // not readable: the heading alone says enough
  }
  const status = response.status;
  const heading = HEADINGS[status] ?? (status >= 500 ? 'Something went wrong' : 'That did not work');
  // A failed server is not the reader's fault: say so, and keep the internal words out.
  const message = status >= 500 ? 'Certkeep could not answer this request. The log has the details; try again in a moment.' : sentence(detail);
  // A request refused as cross-site is not even asked for its session (it would be touched).
  const session = crossSiteReason(request) === undefined ? await sessionOf(ctx.deps, request, ctx.secure).catch(() => null) : null;
  const body = layout(
    { title: heading, session: session ? { csrfToken: session.csrfToken } : undefined, flash: [{ kind: 'error', message }] },
    html`<h1>${heading}</h1>
<div class="actions">${session ? linkButton('/', 'Go to the dashboard', 'primary') : linkButton('/login', 'Sign in', 'primary')}</div>`,
  );
  const retryAfter = response.headers.get('retry-after');
  return page(body, { status, headers: retryAfter ? { 'retry-after': retryAfter } : {} });
}

/** "no such resource" → "No such resource." */
function sentence(detail: string): string {
  const text = detail.trim() || 'The request could not be answered.';
  return text[0].toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.');
}
