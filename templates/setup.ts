// The setup wizard's pages: three steps under one step indicator — the administrator, the ACME
// account, the server's hostname — a sign-in page to resume a wizard begun in another browser,
// and the site certificate's progress. Every step is a plain form that posts to /setup, so the
// wizard works without JavaScript; with it, htmx reads the chosen CA's directory as soon as it is
// chosen and polls the progress.
import { html, type Html } from '../src/html/html.ts';
import { KEY_TYPES } from '../src/crypto/index.ts';
import { MIN_PASSWORD, type SiteCertificateProgress } from '../src/domain/setup.ts';
import type { AcmeProblem } from '../src/acme/types.ts';
import { layout, type Flash } from './layout.ts';
import { CA_CHOICES, directoryUrlError, directoryUrlField, type CaInfo } from './ca.ts';
import { button, checkboxField, csrfField, field, linkButton, selectField, textareaField } from './components.ts';
import { keyTypeLabel, problemInWords } from './format.ts';

export const SETUP_PATH = '/setup';
export const SETUP_CA_PATH = '/setup/ca';
export const SETUP_PROGRESS_PATH = '/setup/progress';

const STEPS = ['Administrator', 'ACME account', 'Server'] as const;
export type StepNumber = 1 | 2 | 3;

/** How often the progress part asks for news, in seconds. */
const POLL_SECONDS = 1;


/** A form as submitted (secrets removed) and the messages for its fields. */
export interface FormState {
  values: URLSearchParams;
  errors: Record<string, string>;
  flash?: readonly Flash[];
}

const emptyForm = (): FormState => ({ values: new URLSearchParams(), errors: {} });

/** "Step 2 of 3" and the three steps, done ones marked in words (not by colour alone). */
function stepIndicator(step: StepNumber): Html {
  const items = STEPS.map((name, i) => {
    const n = i + 1;
    if (n < step) return html`<li class="done"><span class="visually-hidden">Done: </span>${name}</li>`;
    if (n === step) return html`<li aria-current="step">${name}</li>`;
    return html`<li>${name}</li>`;
  });
  return html`<ol class="wizard-steps" aria-label="Setup steps">${items}</ol>
<h2 class="wizard-step">Step ${step} of ${STEPS.length}: ${STEPS[step - 1]}</h2>`;
}

function wizardPage(step: StepNumber, flash: readonly Flash[] | undefined, content: Html): Html {
  return layout(
    { title: `Set up Certkeep: step ${step} of ${STEPS.length}`, flash },
    html`<div class="wizard">
<h1>Set up Certkeep</h1>
${stepIndicator(step)}
${content}
</div>`,
  );
}

/** The hidden fields every step's form carries: which step, and (once signed in) the CSRF token. */
function stepFields(step: string, csrfToken?: string): Html {
  return html`<input type="hidden" name="step" value="${step}">${csrfToken ? csrfField(csrfToken) : null}`;
}

// ---- step 1 ------------------------------------------------------------------------------------

export interface AdminStepOptions {
  /** The Worker asks for its SETUP_TOKEN secret before anything else. */
  askSetupToken: boolean;
  /** Back at step 1 with the administrator already made: the email can change, the password may. */
  editing?: { csrfToken: string };
  form?: FormState;
}

export function adminStep(o: AdminStepOptions): Html {
  const s = o.form ?? emptyForm();
  const v = (k: string) => s.values.get(k) ?? '';
  const e = s.errors;
  return wizardPage(
    1,
    s.flash,
    html`<p>${o.editing
      ? 'Change the administrator’s email, or give a new password.'
      : 'Three steps and Certkeep is ready: who administers it, which CA issues its certificates, and the name it is reached by. First, the administrator: you sign in with this account.'}</p>
<form method="post" action="${SETUP_PATH}" novalidate>
  ${stepFields('admin', o.editing?.csrfToken)}
  ${o.askSetupToken && !o.editing
    ? field({ name: 'setupToken', label: 'Setup token', type: 'password', required: true, error: e.setupToken, autocomplete: 'off', hint: 'The SETUP_TOKEN secret you set with wrangler secret put.' })
    : null}
  ${field({ name: 'adminEmail', label: 'Email', type: 'email', value: v('adminEmail'), required: true, autocomplete: 'username', error: e.adminEmail })}
  ${field({
    name: 'adminPassword',
    label: o.editing ? 'New password' : 'Password',
    type: 'password',
    required: !o.editing,
    autocomplete: 'new-password',
    hint: o.editing ? 'Leave both password fields empty to keep the password.' : `At least ${MIN_PASSWORD} characters.`,
    error: e.adminPassword,
  })}
  ${field({ name: 'adminPassword2', label: o.editing ? 'New password again' : 'Password again', type: 'password', required: !o.editing, autocomplete: 'new-password', error: e.adminPassword2 })}
  <div class="actions">${button(o.editing ? 'Save and continue' : 'Continue', { variant: 'primary' })}${o.editing ? linkButton(SETUP_PATH, 'Cancel') : null}</div>
</form>`,
  );
}

/** Resuming a wizard whose administrator exists, in a browser that is not signed in. */
export function resumeSignIn(o: { worker: boolean; email?: string; error?: string; flash?: readonly Flash[] }): Html {
  return layout(
    { title: 'Continue setting up Certkeep', flash: o.flash ?? (o.error ? [{ kind: 'error', message: o.error }] : []) },
    html`<div class="wizard">
<h1>Continue setting up Certkeep</h1>
<p>Setup was started and its administrator account exists. Sign in with it to continue where you left off.</p>
<form method="post" action="${SETUP_PATH}" novalidate>
  ${stepFields('signin')}
  ${field({ name: 'email', label: 'Email', type: 'email', value: o.email ?? '', required: true, autocomplete: 'username' })}
  ${field({ name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' })}
  <div class="actions">${button('Sign in and continue', { variant: 'primary' })}</div>
</form>
<p class="hint">Forgot the password? ${o.worker
  ? html`<code>POST /api/v1/setup</code> with the <code>Setup-Token</code> header sets everything up afresh, replacing this unfinished setup.`
  : html`<code>certkeep user password EMAIL --password-file F</code> sets a new one; <code>certkeep setup</code> sets everything up afresh, replacing this unfinished setup.`}</p>
</div>`,
  );
}

// ---- step 2 ------------------------------------------------------------------------------------

/**
 * The part that depends on the chosen CA: its terms (a link only for http(s) URLs: a CA could name
 * anything there) with the box that accepts them, and the external account binding fields when
 * its directory says it requires them (or when they hold something). htmx swaps it whole when
 * another CA is chosen; the box is then unticked again, as those are other terms. `termsFor`
 * (empty when the page showed no terms, e.g. for a directory that could not be read)
 * names the directory whose terms were shown, so that accepting counts only for those.
 */
export function caPart(info: CaInfo, form: FormState = emptyForm()): Html {
  const v = (k: string) => form.values.get(k) ?? '';
  const e = form.errors;
  const tos = info.termsOfService;
  const linkable = tos !== undefined && /^https?:\/\//i.test(tos);
  const eab = info.externalAccountRequired || !!v('eabKid') || !!e.eabKid || !!e.eabHmacKey;
  return html`<div id="ca-terms" aria-live="polite">
  <input type="hidden" name="termsFor" value="${info.termsOfService !== undefined ? info.url : ''}">
  ${linkable ? html`<p>Read the CA's <a href="${tos}" rel="noreferrer" target="_blank">terms of service</a> before you accept them.</p>` : null}
  ${tos !== undefined && !linkable ? html`<p>The CA's terms of service: <code>${tos}</code></p>` : null}
  ${checkboxField({ name: 'acceptTos', label: "I accept the CA's terms of service", checked: v('acceptTos') === 'on', required: true, error: e.acceptTos })}
  ${eab
    ? html`<fieldset class="eab"><legend>External account binding</legend>
    <p>${info.externalAccountRequired ? html`<strong>This CA requires external account binding:</strong> ` : null}enter the key ID and HMAC key the CA gave you for this account.</p>
    ${field({ name: 'eabKid', label: 'EAB key ID', value: v('eabKid'), required: info.externalAccountRequired, error: e.eabKid, autocomplete: 'off' })}
    ${field({ name: 'eabHmacKey', label: 'EAB HMAC key', type: 'password', required: info.externalAccountRequired, error: e.eabHmacKey, hint: 'base64url, as the CA shows it.', autocomplete: 'off' })}
  </fieldset>`
    : null}
</div>`;
}

/** The answer to a CA look-up (htmx): the CA's part, and the directory URL field with the look-up's error or none. */
export function caLookUpAnswer(info: CaInfo, form: FormState): Html {
  return html`${caPart(info, form)}${directoryUrlError(info.error, true)}`;
}

/**
 * htmx posts the enclosing form (with its CSRF token). Both controls ask through one queue: a
 * later question replaces an earlier one still in flight.
 */
function caLookUpAttributes(): Record<string, string> {
  return { 'hx-post': SETUP_CA_PATH, 'hx-trigger': 'change', 'hx-target': '#ca-terms', 'hx-swap': 'outerHTML', 'hx-sync': 'closest form:replace' };
}

export interface AcmeStepOptions {
  csrfToken: string;
  info: CaInfo;
  form: FormState;
  /** Back at step 2 with an account registered: its directory, kept unless another is registered. */
  registered?: string;
}

export function acmeStep(o: AcmeStepOptions): Html {
  const v = (k: string) => o.form.values.get(k) ?? '';
  const e = o.form.errors;
  const lookUp = caLookUpAttributes();
  const ownKey = !!(v('keyPem') || e.keyPem || e.keyFile || (v('keyType') && v('keyType') !== 'ec-p256'));
  return wizardPage(
    2,
    o.form.flash,
    html`<p>Certkeep orders certificates with an account at an ACME certificate authority. It registers the account when you continue.</p>
${o.registered
  ? html`<p class="notice">An account is already registered at <code>${o.registered}</code>. ${linkButton(SETUP_PATH, 'Keep it and continue')} Or register another one below: it replaces it.</p>`
  : null}
<form method="post" action="${SETUP_PATH}" enctype="multipart/form-data" novalidate>
  ${stepFields('acme', o.csrfToken)}
  <fieldset><legend>The CA and its terms</legend>
    ${selectField({ name: 'ca', label: 'Certificate authority', options: CA_CHOICES.map((c) => ({ value: c.value, label: c.label })), value: v('ca') || 'letsencrypt', attributes: lookUp })}
    ${directoryUrlField({ value: v('directoryUrl'), error: e.directoryUrl ?? o.info.error, attributes: lookUp })}
    <div class="actions">${button('Look up this CA', { name: 'action', value: 'check' })}</div>
    ${caPart(o.info, o.form)}
  </fieldset>
  ${field({ name: 'acmeEmail', label: 'Contact email for the CA', type: 'email', value: v('acmeEmail'), error: e.acmeEmail, autocomplete: 'email', hint: 'The CA may write here about problems with your certificates. Empty for none.' })}
  <details class="account-key"${ownKey ? html` open` : null}>
    <summary>Account key: a new EC P-256 key, or your own</summary>
    ${selectField({ name: 'keyType', label: 'Type of a new key', options: KEY_TYPES.map((t) => ({ value: t, label: keyTypeLabel(t) })), value: v('keyType') || 'ec-p256', error: e.keyType })}
    ${textareaField({ name: 'keyPem', label: 'Or paste an existing account key (PEM)', rows: 4, error: e.keyPem, hint: 'PKCS#8, PKCS#1 or SEC1 private key, e.g. from another ACME client. Stored encrypted.' })}
    ${field({ name: 'keyFile', label: 'Or upload it as a PEM file', type: 'file', error: e.keyFile, attributes: { accept: '.pem,.key,.txt,application/x-pem-file' } })}
  </details>
  <div class="actions">${linkButton(`${SETUP_PATH}?step=admin`, 'Back')}${button('Register and continue', { variant: 'primary', name: 'action', value: 'register' })}</div>
</form>`,
  );
}

// ---- step 3 ------------------------------------------------------------------------------------

export function serverStep(o: { csrfToken: string; worker: boolean; directoryUrl: string; form?: FormState }): Html {
  const s = o.form ?? emptyForm();
  return wizardPage(
    3,
    s.flash,
    html`<p>The ACME account is registered at <code>${o.directoryUrl}</code>.</p>
<p>${o.worker
  ? 'Cloudflare serves this Worker over HTTPS, so a certificate of its own is optional here.'
  : 'With its hostname, Certkeep obtains a certificate for itself and serves it on its HTTPS port; port 80 of that name must reach this server. Until then it serves a self-signed one.'}</p>
<form method="post" action="${SETUP_PATH}" novalidate>
  ${stepFields('server', o.csrfToken)}
  ${field({ name: 'hostname', label: 'Hostname of this server', value: s.values.get('hostname') ?? '', error: s.errors.hostname, hint: 'For example certkeep.example.com.', attributes: { spellcheck: 'false', autocapitalize: 'off' } })}
  <div class="actions">
    ${linkButton(`${SETUP_PATH}?step=acme`, 'Back')}
    ${button('Finish setup', { variant: 'primary', name: 'action', value: 'finish' })}
    ${button('Skip: no certificate for this server', { name: 'action', value: 'skip' })}
  </div>
</form>`,
  );
}

// ---- the site certificate ----------------------------------------------------------------------

/**
 * The site certificate's progress. While it runs, htmx asks for this page every second and swaps
 * in #progress; without JavaScript the page refreshes itself. A failure is shown in the CA's words
 * with the hostname to correct and a button to try again.
 */
/** `servedOverHttps`: this host's HTTPS port serves the site certificate (node host with HTTPS). */
export function progressPage(o: { progress: SiteCertificateProgress; csrfToken: string; servedOverHttps: boolean; form?: FormState }): Html {
  const p = o.progress;
  const s = o.form ?? { values: new URLSearchParams({ hostname: p.hostname }), errors: {} };
  const running = p.state === 'running';
  const polling = running
    ? html` hx-get="${SETUP_PROGRESS_PATH}" hx-trigger="every ${POLL_SECONDS}s" hx-select="#progress" hx-swap="outerHTML" aria-busy="true"`
    : null;
  const part = html`<div id="progress" role="status"${polling}>
${p.state === 'valid'
  ? html`<p>The certificate for <strong>${p.hostname}</strong> is ready (serial <code>${p.serial}</code>)${o.servedOverHttps ? '; the HTTPS port now serves it.' : '.'}</p>
<div class="actions">${linkButton('/', 'Go to the dashboard', 'primary')}</div>`
  : p.state === 'failed'
    ? html`<p class="error">The CA could not issue the certificate for <strong>${p.hostname}</strong>.</p>
${problemInWords(p.problem as AcmeProblem)}
<p>Check that ${p.hostname} resolves to this server and that port 80 reaches it, or correct the hostname, then try again. Certkeep also retries by itself, less and less often.</p>
<form method="post" action="${SETUP_PATH}" novalidate>
  ${stepFields('site', o.csrfToken)}
  ${field({ name: 'hostname', label: 'Hostname of this server', value: s.values.get('hostname') ?? '', error: s.errors.hostname, attributes: { spellcheck: 'false', autocapitalize: 'off' } })}
  <div class="actions">${button('Try again', { variant: 'primary' })}${linkButton('/', 'Go to the dashboard')}</div>
</form>`
    : html`<p><span class="spinner" aria-hidden="true"></span> Obtaining a certificate for <strong>${p.hostname}</strong>… This takes a few seconds to a minute.</p>`}
</div>`;
  const head = running ? html`<noscript><meta http-equiv="refresh" content="2"></noscript>` : undefined;
  return layout(
    { title: 'Site certificate', head, flash: s.flash, session: { csrfToken: o.csrfToken } },
    html`<div class="wizard">
<h1>Site certificate</h1>
<p>Setup is done.${running ? ' Certkeep is now obtaining its own certificate.' : null}</p>
${part}
</div>`,
  );
}
