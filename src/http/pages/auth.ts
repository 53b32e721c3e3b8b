// /login and /logout (SPEC §6).
import type { HandlerContext } from '../context.ts';
import { html, page } from '../../html/html.ts';
import { layout } from '../../../templates/layout.ts';
import { button, field } from '../../../templates/components.ts';
import { isSetupDone } from '../../domain/setup.ts';
import { createSession, endSession, signIn } from '../../domain/sessions.ts';
import { clearedSessionCookie, csrfOk, formOf, sessionCookie, sessionOf } from '../session.ts';
import { redirect, safeNext } from './guard.ts';
import { isLoopback } from '../ip.ts';

/**
 * Plain HTTP is for loopback and setup only: a password typed on a page that came in clear from
 * another machine could be read on the way, so such a page offers no form and the form's POST
 * is refused before the password is looked at. (The Worker is always reached over HTTPS; behind
 * a TLS-terminating proxy, CERTKEEP_TRUST_PROXY makes its requests count as HTTPS.)
 */
function inClear(ctx: HandlerContext): boolean {
  return !ctx.secure && !isLoopback(ctx.clientIp);
}

const NEEDS_HTTPS = 'This connection is not encrypted, so Certkeep takes no password over it. Open Certkeep over HTTPS, or on this machine at http://localhost/.';

function httpsNeededPage(status: number): Response {
  return page(layout({ title: 'Sign in', flash: [{ kind: 'error', message: NEEDS_HTTPS }] }, html`<h1>Sign in</h1>`), { status });
}

function loginPage(o: { email?: string; next: string; error?: string; askCode?: boolean }, status = 200, headers: Record<string, string> = {}): Response {
  return page(
    layout(
      { title: 'Sign in', flash: o.error ? [{ kind: 'error', message: o.error }] : [] },
      html`<h1>Sign in</h1>
<form method="post" action="/login">
  <input type="hidden" name="next" value="${o.next}">
  ${field({ name: 'email', label: 'Email', type: 'email', value: o.email ?? '', required: true, autocomplete: 'username' })}
  ${field({ name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' })}
  ${o.askCode
    ? field({
        name: 'code',
        label: 'Authentication code',
        hint: 'The 6-digit code from your authenticator app, or one of your recovery codes.',
        required: true,
        autocomplete: 'one-time-code',
        attributes: { inputmode: 'numeric', autofocus: true },
      })
    : null}
  <div class="actions">${button('Sign in', { variant: 'primary' })}</div>
</form>`,
    ),
    { status, headers },
  );
}

export async function showLogin(request: Request, ctx: HandlerContext): Promise<Response> {
  if (!(await isSetupDone(ctx.deps))) return redirect('/setup');
  const url = new URL(request.url);
  const next = safeNext(url.searchParams.get('next'), url.origin);
  if (await sessionOf(ctx.deps, request, ctx.secure)) return redirect(next);
  if (inClear(ctx)) return httpsNeededPage(200);
  return loginPage({ next });
}

export async function submitLogin(request: Request, ctx: HandlerContext): Promise<Response> {
  if (!(await isSetupDone(ctx.deps))) return redirect('/setup');
  const form = await formOf(request);
  const email = (form.get('email') ?? '').slice(0, 254);
  if (inClear(ctx)) {
    ctx.deps.log.info('sign-in attempt', { email, clientIp: ctx.clientIp, outcome: 'refused: plain HTTP from another machine' });
    return httpsNeededPage(403);
  }
  const next = safeNext(form.get('next'), new URL(request.url).origin);
  const code = form.get('code')?.trim() || undefined;
  const result = await signIn(ctx.deps, { email, password: form.get('password') ?? '', code, clientIp: ctx.clientIp });
  if (!result.ok) {
    if (result.reason === 'second-factor') return loginPage({ email, next, askCode: true });
    const message =
      result.reason === 'locked'
        ? 'Too many failed attempts: this account is locked for a few minutes. An administrator can unlock it with "certkeep user unlock".'
        : 'The email, password or code is not right.';
    const retryAfter: Record<string, string> = result.lockedUntil ? { 'retry-after': String(Math.max(1, Math.ceil((result.lockedUntil - ctx.deps.now()) / 1000))) } : {};
    return loginPage({ email, next, error: message, askCode: !!code }, result.reason === 'locked' ? 429 : 401, retryAfter);
  }
  const { token } = await createSession(ctx.deps, { actor: { kind: 'user', id: result.user.id, name: result.user.email }, clientIp: ctx.clientIp }, result.user);
  return redirect(next, { 'set-cookie': sessionCookie(token, ctx.secure) });
}

export async function logout(request: Request, ctx: HandlerContext): Promise<Response> {
  const session = await sessionOf(ctx.deps, request, ctx.secure);
  if (session) {
    const form = await formOf(request);
    if (!csrfOk(request, form, session)) return redirect('/');
    await endSession(ctx.deps, { actor: { kind: 'user', id: session.user.id, name: session.user.email }, clientIp: ctx.clientIp }, session);
  }
  return redirect('/login', { 'set-cookie': clearedSessionCookie(ctx.secure) });
}
