// /account: the signed-in admin's own password and two-factor sign-in.
//
// Every change here asks again for the current password, and for a current code while 2FA is
// on (re-authentication through sign-in's own checks and lock-out), so that a session left open
// on someone's screen cannot take the account over. Changing the password or 2FA signs out the
// other sessions. Switching 2FA on is two steps: a page with a new secret (QR code drawn here as
// SVG, and the key in text), then a code from the app to prove it holds the secret; only then is
// anything stored, and the ten recovery codes are shown, once.
import type { HandlerContext } from '../context.ts';
import { html, page, raw, type Html } from '../../html/html.ts';
import { layout, type Flash } from '../../../templates/layout.ts';
import { button, copyButton, csrfField, field, linkButton } from '../../../templates/components.ts';
import { errorField, fieldMessage } from '../../../templates/error-text.ts';
import { CertkeepError } from '../../errors.ts';
import { qrSvg } from '../../auth/qr.ts';
import { changePassword } from '../../domain/sessions.ts';
import {
  RECOVERY_CODE_COUNT,
  beginEnrolment,
  disableTwoFactor,
  enableTwoFactor,
  reauthenticate,
  recoveryCodesLeft,
  regenerateRecoveryCodes,
  resumeEnrolment,
  twoFactorEnabled,
  type Enrolment,
} from '../../domain/two-factor.ts';
import { byPage, redirect, signedIn, type PageContext } from './guard.ts';
import type { PageRoute } from './routes.ts';

const MIN_PASSWORD = 10;

/** Messages after a redirect, by a fixed key: nothing the request says is echoed. */
const DONE: Record<string, string> = {
  password: 'Your password was changed. Every other session was signed out.',
  'two-factor-off': 'Two-factor authentication is off. Every other session was signed out.',
};

type Errors = Record<string, string>;

// ---- re-authentication -----------------------------------------------------------------------

/** The current password (and code) fields every form here starts with; `prefix` keeps ids unique. */
export function reauthFields(pc: PageContext, prefix: string, errors: Errors): Html {
  return html`${field({ name: 'currentPassword', id: `${prefix}-current-password`, label: 'Current password', type: 'password', required: true, autocomplete: 'current-password', error: errors[`${prefix}-current-password`] })}
${twoFactorEnabled(pc.session.user)
  ? field({
      name: 'code',
      id: `${prefix}-code`,
      label: 'Authentication code',
      hint: 'From your authenticator app, or one of your recovery codes.',
      required: true,
      autocomplete: 'one-time-code',
      attributes: { inputmode: 'numeric' },
      error: errors[`${prefix}-code`],
    })
  : null}`;
}

/** Checks the re-authentication fields; the errors to show, or null when they pass. */
export async function reauthErrors(pc: PageContext, ctx: HandlerContext, prefix: string): Promise<{ errors: Errors; locked: boolean } | null> {
  const result = await reauthenticate(ctx.deps, pc.session.user, {
    password: pc.form.get('currentPassword') ?? '',
    code: pc.form.get('code')?.trim(),
    clientIp: ctx.clientIp,
  });
  if (result.ok) return null;
  if (result.reason === 'locked') return { errors: {}, locked: true };
  if (result.reason === 'second-factor') return { errors: { [`${prefix}-code`]: 'Enter a code from your authenticator app or a recovery code.' }, locked: false };
  const message = twoFactorEnabled(pc.session.user) ? 'The password or the code is not right.' : 'This is not your current password.';
  return { errors: { [`${prefix}-current-password`]: message }, locked: false };
}

export const LOCKED: Flash = {
  kind: 'error',
  message: 'Too many failed attempts: your account is locked for a few minutes. An administrator can unlock it with "certkeep user unlock".',
};

// ---- /account ----------------------------------------------------------------------------------

function accountPage(pc: PageContext, o: { errors?: Errors; flash?: Flash[] } = {}, status = 200): Response {
  const errors = o.errors ?? {};
  const user = pc.session.user;
  const on = twoFactorEnabled(user);
  const left = recoveryCodesLeft(user);
  const csrf = csrfField(pc.session.csrfToken);
  return page(
    layout(
      { title: 'Your account', session: { csrfToken: pc.session.csrfToken, section: 'account' }, flash: o.flash },
      html`<h1>Your account</h1>
<p>Signed in as <strong>${user.email}</strong>.</p>

<section aria-labelledby="password-heading">
  <h2 id="password-heading">Password</h2>
  <form method="post" action="/account/password">
    ${csrf}
    ${reauthFields(pc, 'pw', errors)}
    ${field({ name: 'newPassword', id: 'pw-new', label: 'New password', type: 'password', required: true, autocomplete: 'new-password', hint: `At least ${MIN_PASSWORD} characters. Your other sessions will be signed out.`, error: errors['pw-new'], attributes: { minlength: MIN_PASSWORD } })}
    ${field({ name: 'newPassword2', id: 'pw-new2', label: 'New password again', type: 'password', required: true, autocomplete: 'new-password', error: errors['pw-new2'] })}
    <div class="actions">${button('Change password', { variant: 'primary' })}</div>
  </form>
</section>

<section aria-labelledby="two-factor-heading">
  <h2 id="two-factor-heading">Two-factor authentication</h2>
  ${on
    ? html`<p><strong>On.</strong> Signing in asks for a code from your authenticator app. ${left} of ${RECOVERY_CODE_COUNT} recovery codes are left${left <= 3 ? html` — <strong>make new ones soon</strong>` : ''}.</p>
  <form method="post" action="/account/recovery-codes">
    ${csrf}
    <fieldset><legend>New recovery codes</legend>
      <p>Replaces every recovery code with ${RECOVERY_CODE_COUNT} new ones; the old ones stop working.</p>
      ${reauthFields(pc, 'rc', errors)}
      <div class="actions">${button('Make new recovery codes')}</div>
    </fieldset>
  </form>
  <form method="post" action="/account/two-factor/disable">
    ${csrf}
    <fieldset><legend>Turn off two-factor authentication</legend>
      <p>Signing in will ask for the password alone. Your other sessions will be signed out.</p>
      ${reauthFields(pc, 'off', errors)}
      <div class="actions">${button('Turn off two-factor authentication', { variant: 'danger' })}</div>
    </fieldset>
  </form>`
    : html`<p><strong>Off.</strong> With it on, signing in also asks for a 6-digit code from an authenticator app on your phone, so that a stolen password alone opens nothing.</p>
  <div class="actions">${linkButton('/account/two-factor', 'Set up two-factor authentication', 'primary')}</div>`}
</section>`,
    ),
    { status },
  );
}

async function showAccount(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const done = DONE[new URL(request.url).searchParams.get('done') ?? ''];
  return accountPage(pc, { flash: done ? [{ kind: 'success', message: done }] : [] });
}

async function submitPassword(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const next = pc.form.get('newPassword') ?? '';
  // The cheap checks first, so that a typo does not use up a one-time code.
  if (next.length < MIN_PASSWORD) return accountPage(pc, { errors: { 'pw-new': `At least ${MIN_PASSWORD} characters.` } }, 400);
  if (next !== pc.form.get('newPassword2')) return accountPage(pc, { errors: { 'pw-new2': 'The two new passwords differ.' } }, 400);
  const refused = await reauthErrors(pc, ctx, 'pw');
  if (refused) return accountPage(pc, { errors: refused.errors, flash: refused.locked ? [LOCKED] : [] }, refused.locked ? 429 : 400);
  await changePassword(ctx.deps, byPage(pc, ctx), pc.session.user, next, pc.session.id);
  return redirect('/account?done=password');
}

async function submitDisable(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  if (!twoFactorEnabled(pc.session.user)) return redirect('/account');
  const refused = await reauthErrors(pc, ctx, 'off');
  if (refused) return accountPage(pc, { errors: refused.errors, flash: refused.locked ? [LOCKED] : [] }, refused.locked ? 429 : 400);
  await disableTwoFactor(ctx.deps, byPage(pc, ctx), pc.session.user, pc.session.id);
  return redirect('/account?done=two-factor-off');
}

async function submitRecoveryCodes(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  if (!twoFactorEnabled(pc.session.user)) return redirect('/account');
  const refused = await reauthErrors(pc, ctx, 'rc');
  if (refused) return accountPage(pc, { errors: refused.errors, flash: refused.locked ? [LOCKED] : [] }, refused.locked ? 429 : 400);
  return recoveryCodesPage(pc, await regenerateRecoveryCodes(ctx.deps, byPage(pc, ctx), pc.session.user), 'Your new recovery codes replace the old ones, which no longer work.');
}

// ---- enrolment -----------------------------------------------------------------------------------

/** The key as apps and people type it: groups of four. */
function grouped(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

function enrolmentPage(pc: PageContext, enrolment: Enrolment, errors: Errors = {}, status = 200): Response {
  return page(
    layout(
      { title: 'Set up two-factor authentication', session: { csrfToken: pc.session.csrfToken, section: 'account' } },
      html`<h1>Set up two-factor authentication</h1>
<ol class="steps">
  <li>
    <p>Scan this QR code with an authenticator app (for example Aegis, Google Authenticator, 1Password or Bitwarden).</p>
    <figure class="qr">${raw(qrSvg(enrolment.uri, { title: 'QR code of the key for your authenticator app', moduleSize: 4 }))}</figure>
    <p>Or type this key into the app: <code id="totp-secret">${grouped(enrolment.secret)}</code> (time-based, 6 digits, every 30 seconds).</p>
  </li>
  <li>
    <p>Enter the code the app shows, and your password, to turn it on.</p>
    <form method="post" action="/account/two-factor">
      ${csrfField(pc.session.csrfToken)}
      <input type="hidden" name="enrolment" value="${enrolment.token}">
      ${field({ name: 'code', id: 'enrol-code', label: 'Code from the app', required: true, autocomplete: 'one-time-code', attributes: { inputmode: 'numeric', pattern: '[0-9 ]{6,7}', maxlength: 7 }, error: errors['enrol-code'] })}
      ${field({ name: 'currentPassword', id: 'enrol-current-password', label: 'Current password', type: 'password', required: true, autocomplete: 'current-password', error: errors['enrol-current-password'] })}
      <div class="actions">${button('Turn on two-factor authentication', { variant: 'primary' })} ${linkButton('/account', 'Cancel')}</div>
    </form>
  </li>
</ol>`,
    ),
    { status },
  );
}

async function showEnrolment(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  if (twoFactorEnabled(pc.session.user)) return redirect('/account');
  return enrolmentPage(pc, await beginEnrolment(ctx.deps, pc.session.user, pc.session.id));
}

async function submitEnrolment(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  if (twoFactorEnabled(pc.session.user)) return redirect('/account');
  let enrolment: Enrolment;
  try {
    enrolment = await resumeEnrolment(ctx.deps, pc.session.user, pc.session.id, pc.form.get('enrolment') ?? '');
  } catch {
    // Another session's page (or a damaged one): start again with a new key.
    return enrolmentPage(pc, await beginEnrolment(ctx.deps, pc.session.user, pc.session.id), { 'enrol-code': 'This set-up page has expired. Scan the new QR code and enter its code.' }, 400);
  }
  const refused = await reauthErrors(pc, ctx, 'enrol');
  if (refused?.locked) return accountPage(pc, { flash: [LOCKED] }, 429);
  if (refused) return enrolmentPage(pc, enrolment, refused.errors, 400);
  try {
    const codes = await enableTwoFactor(ctx.deps, byPage(pc, ctx), pc.session.user, { secret: enrolment.secret, code: pc.form.get('code') ?? '' }, pc.session.id);
    return recoveryCodesPage(pc, codes, 'Two-factor authentication is on. Every other session was signed out.');
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    if (err.code === 'CONFLICT') return redirect('/account');
    return enrolmentPage(pc, enrolment, { [errorField(err) === 'code' ? 'enrol-code' : 'enrol-current-password']: fieldMessage(err) }, 400);
  }
}

/** The codes in clear, this once: the page is not stored by caches (page() sends no-store). */
function recoveryCodesPage(pc: PageContext, codes: string[], intro: string): Response {
  return page(
    layout(
      { title: 'Recovery codes', session: { csrfToken: pc.session.csrfToken, section: 'account' }, flash: [{ kind: 'success', message: intro }] },
      html`<h1>Your recovery codes</h1>
<p>If you lose your phone, each of these codes signs you in once instead of a code from the app. <strong>Keep them somewhere safe now — they are not shown again.</strong></p>
<ol class="recovery-codes" id="recovery-codes" aria-label="Recovery codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ol>
<div class="actions">${copyButton({ target: 'recovery-codes', what: 'the recovery codes' })}${linkButton('/account', 'I have saved them', 'primary')}</div>`,
    ),
  );
}

export const accountPages: readonly PageRoute[] = [
  ['get', '/account', showAccount],
  ['post', '/account/password', submitPassword],
  ['get', '/account/two-factor', showEnrolment],
  ['post', '/account/two-factor', submitEnrolment],
  ['post', '/account/two-factor/disable', submitDisable],
  ['post', '/account/recovery-codes', submitRecoveryCodes],
];
