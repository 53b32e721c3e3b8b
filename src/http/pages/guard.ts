// What every page needs first: setup done (else the wizard), a session (else sign-in), and on
// POST a valid CSRF token.
import type { HandlerContext } from '../context.ts';
import { isSetupDone } from '../../domain/setup.ts';
import type { ActiveSession } from '../../domain/sessions.ts';
import type { Actor, By } from '../../domain/audit.ts';
import { csrfOk, formOf, sessionOf } from '../session.ts';
import { problemResponse } from '../problem.ts';

export function redirect(location: string, headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 303, headers: { location, 'cache-control': 'no-store', ...headers } });
}

export interface PageContext {
  session: ActiveSession;
  /** The signed-in user, for the audit log. */
  actor: Actor;
  /** The POST body (empty for GET). */
  form: URLSearchParams;
}

/** The signed-in page context, or the response to send instead (redirect or 403). */
export async function signedIn(request: Request, ctx: HandlerContext): Promise<PageContext | Response> {
  if (!(await isSetupDone(ctx.deps))) return redirect('/setup');
  const session = await sessionOf(ctx.deps, request, ctx.secure);
  const url = new URL(request.url);
  if (!session) return redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`);
  const form = request.method === 'POST' ? await formOf(request) : new URLSearchParams();
  if (request.method === 'POST' && !csrfOk(request, form, session)) {
    return problemResponse(403, 'the form is out of date or was not sent by this site; reload the page and try again');
  }
  return { session, form, actor: { kind: 'user', id: session.user.id, name: session.user.email } };
}

/** Who acts on a page (the signed-in user) and from where: for the audit log. */
export function byPage(pc: PageContext, ctx: HandlerContext): By {
  return { actor: pc.actor, clientIp: ctx.clientIp };
}

/**
 * Where to go after sign-in: `next` only when it stays on `origin`, reduced to its path, query and
 * fragment; else '/'. The browser's own URL parser decides, so what it would make of tabs, line
 * breaks, backslashes and dot segments (`/%09/evil.example` is `//evil.example` to a browser) is
 * what is checked; a result that still reads as another host (`//…`) is refused as well.
 */
export function safeNext(next: string | null, origin: string): string {
  if (!next) return '/';
  let url: URL;
  try {
    url = new URL(next, origin);
  } catch {
    return '/';
  }
  if (url.origin !== origin) return '/';
  const local = url.pathname + url.search + url.hash;
  return local.startsWith('/') && !local.startsWith('//') ? local : '/';
}
