// /setup: the first-run wizard, one step per page — the administrator, the ACME account, the
// server's hostname — then the site certificate obtained with live progress (/setup/progress).
// Every step posts to /setup with a hidden `step`; GET /setup shows the step that is next by what
// is stored (domain/setup.ts), so a reload, a closed browser or another browser resume there.
//
// Step 1 creates the administrator and signs them in (on the Worker only with the setup token);
// the later steps need that session and its CSRF token. A browser without it is asked to sign in
// to continue (/login itself leads here until setup is done). A form from another site never gets
// here: src/http/same-origin.ts refuses it before any step reads it.
import type { HandlerContext } from '../context.ts';
import { page } from '../../html/html.ts';
import { problemResponse } from '../problem.ts';
import * as wizard from '../../../templates/setup.ts';
import type { FormState } from '../../../templates/setup.ts';
import { CA_CHOICES } from '../../../templates/ca.ts';
import { directoryOf, EMAIL_PATTERN, lookUpCa, MAX_ACCOUNT_KEY_PEM, uploadedAccountKey } from './ca-directory.ts';
import { acmeProblemOf, errorField, errorText, fieldMessage } from '../../../templates/error-text.ts';
import {
  changeSetupAdmin,
  finishSetup,
  MIN_PASSWORD,
  registerSetupAccount,
  retrySiteCertificate,
  setupState,
  siteCertificateProgress,
  SITE_CERTIFICATE,
  startSetup,
  type SetupState,
  type SiteCertificateProgress,
} from '../../domain/setup.ts';
import type { AccountRow } from '../../domain/accounts.ts';
import { createSession, signIn, type ActiveSession } from '../../domain/sessions.ts';
import { findCertificateByName } from '../../domain/certificates.ts';
import { issue } from '../../domain/orders.ts';
import { isDue } from '../../jobs/scheduler.ts';
import { KEY_TYPES, type KeyType } from '../../crypto/index.ts';
import { CertkeepError } from '../../errors.ts';
import { timingSafeEqual, utf8 } from '../../util/encoding.ts';
import { refuseCredential } from '../../domain/throttle.ts';
import { csrfOk, formOf, sessionCookie, sessionOf } from '../session.ts';
import type { By } from '../../domain/audit.ts';
import { statusOf, type FieldErrors } from './form-errors.ts';
import { redirect, signedIn } from './guard.ts';

/** Form fields never sent back into a page. */
const SECRETS = ['adminPassword', 'adminPassword2', 'setupToken', 'password', 'eabHmacKey', 'keyPem', '_csrf'];

const NEEDS_A_LOOK = [{ kind: 'error' as const, message: 'Some fields need a second look.' }];

function keptValues(form: URLSearchParams): URLSearchParams {
  const values = new URLSearchParams(form);
  for (const secret of SECRETS) values.delete(secret);
  return values;
}

const hasErrors = (errors: FieldErrors) => Object.keys(errors).length > 0;

// ---- reading a CA's directory -------------------------------------------------------------------

/** The step-2 form as it was filled for a registered account (when going back to it). */
function accountValues(account: AccountRow): URLSearchParams {
  const named = CA_CHOICES.find((c) => c.url === account.directoryUrl);
  return new URLSearchParams({
    ca: named?.value ?? 'other',
    directoryUrl: named ? '' : account.directoryUrl,
    acmeEmail: account.email ?? '',
    keyType: account.keyType,
  });
}

// ---- who may take the next step --------------------------------------------------------------

/** The wizard administrator's session, or null (not signed in, or signed in as nobody we know). */
async function wizardSession(request: Request, ctx: HandlerContext, state: SetupState): Promise<ActiveSession | null> {
  const session = await sessionOf(ctx.deps, request, ctx.secure);
  return session && state.admin && session.user.id === state.admin.id ? session : null;
}

/** A new session for the administrator, and on to the step that is next. */
async function signInAndContinue(ctx: HandlerContext, user: { id: string; email: string }): Promise<Response> {
  const { token } = await createSession(ctx.deps, userBy(ctx, user), user);
  return redirect(wizard.SETUP_PATH, { 'set-cookie': sessionCookie(token, ctx.secure) });
}

/** The wizard's administrator acting, from this request's address: for the audit log. */
function userBy(ctx: HandlerContext, user: { id: string; email: string }): By {
  return { actor: { kind: 'user', id: user.id, name: user.email }, clientIp: ctx.clientIp };
}

// ---- GET /setup -----------------------------------------------------------------------------------

export async function showSetup(request: Request, ctx: HandlerContext): Promise<Response> {
  const state = await setupState(ctx.deps);
  if (state.step === 'done') return redirect('/');
  const worker = ctx.deps.runtime === 'worker';
  if (state.step === 'admin') return page(wizard.adminStep({ askSetupToken: worker }));
  const session = await wizardSession(request, ctx, state);
  if (!session) return page(wizard.resumeSignIn({ worker }));
  const asked = new URL(request.url).searchParams.get('step');
  if (asked === 'admin') {
    return page(wizard.adminStep({ askSetupToken: worker, editing: { csrfToken: session.csrfToken }, form: { values: new URLSearchParams({ adminEmail: session.user.email }), errors: {} } }));
  }
  if (state.step === 'acme' || asked === 'acme') {
    const values = state.account ? accountValues(state.account) : new URLSearchParams({ ca: 'letsencrypt', acmeEmail: session.user.email });
    return page(
      wizard.acmeStep({ csrfToken: session.csrfToken, info: await lookUpCa(ctx, directoryOf(values)), form: { values, errors: {} }, registered: state.account?.directoryUrl }),
    );
  }
  return page(wizard.serverStep({ csrfToken: session.csrfToken, worker, directoryUrl: state.account!.directoryUrl }));
}

// ---- POST /setup ------------------------------------------------------------------------------

export async function submitSetup(request: Request, ctx: HandlerContext): Promise<Response> {
  // Read copies: the site step hands the request to the page guard, the account step reads its file.
  const form = await formOf(request.clone());
  const step = form.get('step');
  if (step === 'site') return submitSite(request, ctx);

  const state = await setupState(ctx.deps);
  if (state.step === 'done') return redirect('/');
  if (state.step === 'admin') return step === 'admin' ? createAdmin(ctx, form) : redirect(wizard.SETUP_PATH);
  if (step === 'signin') return resume(ctx, form);
  const session = await wizardSession(request, ctx, state);
  if (!session) return redirect(wizard.SETUP_PATH);
  if (!csrfOk(request, form, session)) {
    return problemResponse(403, 'the form is out of date or was not sent by this site; reload the page and try again');
  }
  if (step === 'admin') return editAdmin(ctx, session, form);
  if (step === 'acme') return submitAccount(request, ctx, session, form, state);
  if (step === 'server' && state.step === 'server') return submitServer(ctx, session, form, state);
  return redirect(wizard.SETUP_PATH);
}

/** Step 1: the passwords match and are long enough; the domain checks the rest. */
function passwordErrors(form: URLSearchParams, errors: FieldErrors, required: boolean): string | undefined {
  const password = form.get('adminPassword') ?? '';
  if (!password && !required && !form.get('adminPassword2')) return undefined;
  if (password.length < MIN_PASSWORD) errors.adminPassword = `At least ${MIN_PASSWORD} characters.`;
  else if (password !== form.get('adminPassword2')) errors.adminPassword2 = 'The two passwords differ.';
  return password;
}

/** A refusal that names its field goes next to that field; any other error propagates. */
function fieldErrorOf(err: unknown, errors: FieldErrors): void {
  if (!(err instanceof CertkeepError)) throw err;
  const field = errorField(err);
  if (!field) throw err;
  errors[field] = field === 'adminEmail' ? 'Enter an email address.' : fieldMessage(err);
}

async function createAdmin(ctx: HandlerContext, form: URLSearchParams): Promise<Response> {
  const worker = ctx.deps.runtime === 'worker';
  const errors: FieldErrors = {};
  if (worker) {
    const given = form.get('setupToken') ?? '';
    const expected = ctx.deps.setupToken ?? '';
    if (!expected) errors.setupToken = 'The SETUP_TOKEN secret is not set on this Worker: wrangler secret put SETUP_TOKEN.';
    else if (!timingSafeEqual(utf8(given), utf8(expected))) {
      // Counted like a wrong admin token: past the address's limit, 429 instead of another try.
      const refusal = await refuseCredential(ctx.deps, 'admin-token', ctx.clientIp, new CertkeepError('UNAUTHORIZED', 'wrong setup token'));
      if (refusal.code === 'RATE_LIMITED') throw refusal;
      errors.setupToken = 'This is not the setup token.';
    }
  }
  const email = (form.get('adminEmail') ?? '').trim();
  if (!EMAIL_PATTERN.test(email)) errors.adminEmail = 'Enter an email address.';
  const password = passwordErrors(form, errors, true)!;
  const again = (status: number, flash = NEEDS_A_LOOK) => page(wizard.adminStep({ askSetupToken: worker, form: { values: keptValues(form), errors, flash } }), { status });
  if (hasErrors(errors)) return again(400);
  try {
    const user = await startSetup(ctx.deps, { clientIp: ctx.clientIp }, { email, password });
    return signInAndContinue(ctx, user);
  } catch (err) {
    if (err instanceof CertkeepError && err.code === 'CONFLICT') {
      // Another browser was faster: this one signs in to continue.
      return page(wizard.resumeSignIn({ worker, email, flash: [{ kind: 'error', message: `${fieldMessage(err)}.` }] }), { status: 409 });
    }
    fieldErrorOf(err, errors);
    return again(400);
  }
}

async function editAdmin(ctx: HandlerContext, session: ActiveSession, form: URLSearchParams): Promise<Response> {
  const errors: FieldErrors = {};
  const email = (form.get('adminEmail') ?? '').trim();
  if (!EMAIL_PATTERN.test(email)) errors.adminEmail = 'Enter an email address.';
  const password = passwordErrors(form, errors, false);
  const again = (status: number) =>
    page(wizard.adminStep({ askSetupToken: false, editing: { csrfToken: session.csrfToken }, form: { values: keptValues(form), errors, flash: NEEDS_A_LOOK } }), { status });
  if (hasErrors(errors)) return again(400);
  try {
    await changeSetupAdmin(ctx.deps, userBy(ctx, session.user), session.user.id, { email, password });
  } catch (err) {
    fieldErrorOf(err, errors);
    return again(400);
  }
  return redirect(wizard.SETUP_PATH);
}

/** Resuming in a browser without the session: the administrator's email and password. */
async function resume(ctx: HandlerContext, form: URLSearchParams): Promise<Response> {
  const email = (form.get('email') ?? '').slice(0, 254);
  const result = await signIn(ctx.deps, { email, password: form.get('password') ?? '', clientIp: ctx.clientIp });
  if (result.ok) return signInAndContinue(ctx, result.user);
  const locked = result.reason === 'locked';
  const error = locked ? 'Too many failed attempts: this account is locked for a few minutes.' : 'The email or password is not right.';
  const retryAfter = result.lockedUntil ? { 'retry-after': String(Math.max(1, Math.ceil((result.lockedUntil - ctx.deps.now()) / 1000))) } : undefined;
  return page(wizard.resumeSignIn({ worker: ctx.deps.runtime === 'worker', email, error }), { status: locked ? 429 : 401, headers: retryAfter });
}

// ---- step 2 ------------------------------------------------------------------------------------

/** Maps an error of the registration to the field it is about; ACME problems about the contact or EAB too. */
function accountFieldOf(err: CertkeepError): string | undefined {
  const field = errorField(err);
  if (field) return { email: 'acmeEmail', 'eab.kid': 'eabKid', 'eab.hmacKey': 'eabHmacKey', 'acme.termsOfServiceAgreed': 'acceptTos' }[field] ?? field;
  if (['PEM_INVALID', 'KEY_INVALID', 'KEY_UNSUPPORTED'].includes(err.code)) return 'keyPem';
  const type = acmeProblemOf(err)?.type ?? '';
  if (/:(invalidContact|unsupportedContact)$/.test(type)) return 'acmeEmail';
  if (/:externalAccountRequired$/.test(type)) return 'eabKid';
  // A binding the CA could not verify (a wrong key ID or HMAC key): about the HMAC key, typed last.
  if (/external account binding|\bEAB\b/i.test(acmeProblemOf(err)?.detail ?? '')) return 'eabHmacKey';
  if (/:(connection|malformed)$/.test(type) || ['ACME_NETWORK', 'ACME_BAD_RESPONSE', 'TARGET_REFUSED', 'OUTBOUND_FAILED'].includes(err.code)) return 'directoryUrl';
  return undefined;
}

async function submitAccount(request: Request, ctx: HandlerContext, session: ActiveSession, form: URLSearchParams, state: SetupState): Promise<Response> {
  const directoryUrl = directoryOf(form);
  const info = await lookUpCa(ctx, directoryUrl);
  const values = keptValues(form);
  const again = (s: FormState, status: number) =>
    page(wizard.acmeStep({ csrfToken: session.csrfToken, info: s.errors.directoryUrl ? { ...info, error: undefined } : info, form: s, registered: state.account?.directoryUrl }), { status });
  if (form.get('action') === 'check') return again({ values, errors: {} }, 200);

  const errors: FieldErrors = {};
  if (!directoryUrl) errors.directoryUrl = 'Enter the directory URL of the CA.';
  else if (info.error) errors.directoryUrl = info.error;
  const email = (form.get('acmeEmail') ?? '').trim();
  if (email && (!EMAIL_PATTERN.test(email) || email.length > 254)) errors.acmeEmail = 'Enter an email address, or leave it empty.';
  if (form.get('acceptTos') !== 'on') errors.acceptTos = "The CA's terms of service must be accepted.";
  else if (info.termsOfService !== undefined && form.get('termsFor') && form.get('termsFor') !== directoryUrl) {
    // Ticked while another CA's terms were on the page (without JavaScript, or a changed URL). A
    // tick on a page that showed no terms (the directory typed before could not be read) counts
    // for this CA's terms, so that correcting the URL takes one send.
    values.delete('acceptTos');
    errors.acceptTos = "Read this CA's terms of service, shown above, and accept them.";
  }
  const kid = (form.get('eabKid') ?? '').trim();
  const hmacKey = (form.get('eabHmacKey') ?? '').trim();
  if (info.externalAccountRequired && !kid) errors.eabKid = 'This CA requires external account binding: enter the key ID it gave you.';
  else if (hmacKey && !kid) errors.eabKid = 'Enter the key ID that belongs to this HMAC key.';
  if (kid && !hmacKey) errors.eabHmacKey = 'Enter the HMAC key that belongs to this key ID.';
  else if (hmacKey && !/^[A-Za-z0-9_-]+={0,2}$/.test(hmacKey)) errors.eabHmacKey = 'The HMAC key is base64url: letters, digits, "-" and "_".';
  const keyType = (KEY_TYPES as readonly string[]).includes(form.get('keyType') ?? '') ? (form.get('keyType') as KeyType) : 'ec-p256';
  const pasted = (form.get('keyPem') ?? '').trim();
  const uploaded = await uploadedAccountKey(request.clone());
  if (typeof uploaded === 'object') errors.keyFile = uploaded.error;
  else if (uploaded && pasted) errors.keyFile = 'Paste the key or upload it, not both.';
  const keyPem = pasted || (typeof uploaded === 'string' ? uploaded.trim() : '');
  if (keyPem.length > MAX_ACCOUNT_KEY_PEM) errors.keyPem = 'This is too long for an account key.';
  if (hasErrors(errors)) return again({ values, errors, flash: NEEDS_A_LOOK }, 400);

  try {
    await registerSetupAccount(ctx.deps, userBy(ctx, session.user), {
      directoryUrl,
      email: email || undefined,
      termsOfServiceAgreed: true,
      eab: kid ? { kid, hmacKey } : undefined,
      ...(keyPem ? { keyPem } : { keyType }),
    });
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    // Said once: next to the field it is about (the page's flash then only points there), or on its own.
    const where = accountFieldOf(err);
    const message = errorText(err);
    return again({ values, errors: where ? { [where]: message } : {}, flash: where ? NEEDS_A_LOOK : [{ kind: 'error', message }] }, statusOf(err));
  }
  return redirect(wizard.SETUP_PATH);
}

/** htmx: the terms/EAB part for the CA just chosen (the wizard's administrator only: it fetches a URL). */
export async function setupCaPart(request: Request, ctx: HandlerContext): Promise<Response> {
  const state = await setupState(ctx.deps);
  if (state.step === 'done') return new Response(null, { status: 409 });
  const form = await formOf(request);
  const session = await wizardSession(request, ctx, state);
  if (!session || !csrfOk(request, form, session)) return problemResponse(403, 'sign in to continue setting up');
  return page(wizard.caLookUpAnswer(await lookUpCa(ctx, directoryOf(form)), { values: keptValues(form), errors: {} }));
}

// ---- step 3 ------------------------------------------------------------------------------------

/** Starts on the site certificate now rather than at the next tick (on Workers, the next cron). */
async function obtainSiteCertificate(ctx: HandlerContext): Promise<void> {
  const site = await findCertificateByName(ctx.deps, SITE_CERTIFICATE);
  if (!site) return;
  // The scheduler may get there first: then this run finds nothing left to do.
  const run = issue(ctx.deps, site.id, 'new', { stillDue: () => isDue(ctx.deps, site.id) });
  ctx.waitUntil(run.catch((err) => ctx.deps.log.info('site certificate left to the scheduler', { err })));
}

async function submitServer(ctx: HandlerContext, session: ActiveSession, form: URLSearchParams, state: SetupState): Promise<Response> {
  const skip = form.get('action') === 'skip';
  const errors: FieldErrors = {};
  const hostname = skip ? undefined : (form.get('hostname') ?? '').trim();
  if (hostname === '') errors.hostname = 'Enter the hostname, or skip this step.';
  const again = (status: number, flash = NEEDS_A_LOOK) =>
    page(
      wizard.serverStep({ csrfToken: session.csrfToken, worker: ctx.deps.runtime === 'worker', directoryUrl: state.account!.directoryUrl, form: { values: keptValues(form), errors, flash } }),
      { status },
    );
  if (hasErrors(errors)) return again(400);
  try {
    await finishSetup(ctx.deps, userBy(ctx, session.user), { hostname });
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    if (err.code === 'CONFLICT') return redirect(wizard.SETUP_PATH);
    fieldErrorOf(err, errors);
    return again(400);
  }
  if (!hostname) return redirect('/');
  await obtainSiteCertificate(ctx);
  return redirect(wizard.SETUP_PROGRESS_PATH);
}

// ---- the site certificate -----------------------------------------------------------------------

/** The site certificate's progress; the signed-in dashboard's, as setup is done by then. */
export async function setupProgress(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const progress = await siteCertificateProgress(ctx.deps);
  if (!progress) return redirect('/');
  return page(wizard.progressPage({ progress: asServed(progress, ctx), csrfToken: pc.session.csrfToken, servedOverHttps: ctx.deps.httpsPort?.() != null }));
}

/**
 * On a node host with HTTPS, "ready" also says that the HTTPS port serves the certificate: until
 * the listener has swapped it in (right after the order stored it), it still counts as running.
 */
function asServed(progress: SiteCertificateProgress, ctx: HandlerContext): SiteCertificateProgress {
  return progress.state === 'valid' && ctx.deps.httpsPort?.() === null ? { ...progress, state: 'running' } : progress;
}

/** "Try again" on a failed site certificate, with the hostname corrected or not. */
async function submitSite(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  try {
    await retrySiteCertificate(ctx.deps, { actor: pc.actor, clientIp: ctx.clientIp }, (pc.form.get('hostname') ?? '').trim());
  } catch (err) {
    if (!(err instanceof CertkeepError) || err.code === 'INTERNAL') throw err;
    const current = await siteCertificateProgress(ctx.deps);
    if (!current) return redirect('/');
    // Every refusal here is about the hostname: its form, or an order still running for it.
    const message = fieldMessage(err);
    const form = { values: keptValues(pc.form), errors: { hostname: message }, flash: [{ kind: 'error' as const, message }] };
    return page(wizard.progressPage({ progress: asServed(current, ctx), csrfToken: pc.session.csrfToken, servedOverHttps: ctx.deps.httpsPort?.() != null, form }), { status: statusOf(err) });
  }
  await obtainSiteCertificate(ctx);
  return redirect(wizard.SETUP_PROGRESS_PATH);
}
