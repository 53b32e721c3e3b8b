// What every page needs first: setup done (else the wizard), a session (else sign-in), and on
// POST a valid CSRF token.
import type { HandlerContext } from '../context.ts';
import { isSetupDone } from '../../domain/setup.ts';
import type { ActiveSession } from '../../domain/sessions.ts';
import { csrfOk, formOf, sessionOf } from '../session.ts';
import { problemResponse } from '../problem.ts';

export function redirect(location: string, headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 303, headers: { location, 'cache-control': 'no-store', ...headers } });
}

export interface PageContext {
  session: ActiveSession;
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
  return { session, form };
}

/** Only local paths may be redirected to after sign-in. */
export function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}
