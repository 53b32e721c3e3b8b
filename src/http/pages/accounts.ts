// /accounts: the ACME accounts certificates are ordered with. A list; a form to register a new
// account at a CA (the CA chosen as in the setup wizard, its terms linked, external account
// binding when it asks for it, a new key or one brought as PEM); a page per account with key
// rollover (RFC 8555 §7.3.5), deactivation (§7.3.6) and removal. What the CA answers is shown in
// its own words. The same domain functions serve the JSON API (admin-api.ts).
import type { HandlerContext, RoutedRequest } from '../context.ts';
import { html, page, type Html } from '../../html/html.ts';
import { layout, type Flash } from '../../../templates/layout.ts';
import { button, checkboxField, csrfField, field, linkButton, selectField, table, textareaField } from '../../../templates/components.ts';
import { detailsTable, wrappable } from '../../../templates/details.ts';
import { confirmForm, confirmed } from '../../../templates/confirm-form.ts';
import { acmeProblemOf, errorField, errorText, fieldMessage } from '../../../templates/error-text.ts';
import { CertkeepError } from '../../errors.ts';
import { KEY_TYPES, type KeyType } from '../../crypto/index.ts';
import * as accounts from '../../domain/accounts.ts';
import { LETS_ENCRYPT, LETS_ENCRYPT_STAGING, type AccountRow } from '../../domain/accounts.ts';
import { certificatesUsing, pageAccounts, parseNameListQuery } from '../../domain/lists.ts';
import { activePause, MAX_ORDERS_PER_HOUR } from '../../domain/ca-pace.ts';
import { cursorPager } from '../../../templates/pager.ts';
import { formatTime, problemInWords } from '../../../templates/format.ts';
import { NAME_HINT, NAME_PATTERN } from '../validate.ts';
import { byPage, redirect, signedIn, type PageContext } from './guard.ts';
import type { PageRoute } from './routes.ts';
import { CA_CHOICES, directoryUrlError, directoryUrlField, type CaInfo } from '../../../templates/ca.ts';
import { directoryOf, EMAIL_PATTERN, lookUpCa, MAX_ACCOUNT_KEY_PEM, uploadedAccountKey } from './ca-directory.ts';


export const KEY_TYPE_LABELS: Record<KeyType, string> = {
  'ec-p256': 'EC P-256 (recommended)',
  'ec-p384': 'EC P-384',
  'rsa-2048': 'RSA 2048',
  'rsa-3072': 'RSA 3072',
  'rsa-4096': 'RSA 4096',
};

const DONE: Record<string, string> = {
  created: 'The account was registered at the CA.',
  'rolled-over': 'The account has a new key; the CA no longer accepts the old one.',
  paced: 'Saved: the pace of new orders applies from now on.',
  deactivated: 'The account was deactivated at the CA.',
  deleted: 'The account was removed from Certkeep.',
};

type Errors = Record<string, string>;

function doneFlash(request: Request): Flash[] {
  const message = DONE[new URL(request.url).searchParams.get('done') ?? ''];
  return message ? [{ kind: 'success', message }] : [];
}

/** Let's Encrypt by name; another CA by its directory's host (the whole URL is on the account's page). */
function caName(url: string): string {
  if (url === LETS_ENCRYPT) return "Let's Encrypt";
  if (url === LETS_ENCRYPT_STAGING) return "Let's Encrypt staging";
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function statusBadge(status: AccountRow['status']): Html {
  const look = { valid: 'valid', pending: 'pending', deactivated: 'revoked' }[status];
  const word = { valid: 'Valid', pending: 'Pending', deactivated: 'Deactivated' }[status];
  return html`<span class="badge ${look}">${word}</span>`;
}

const stagingBadge = html`<span class="badge new">Staging</span>`;

// ---- the list ------------------------------------------------------------------------------------

/** Accounts shown on one page of the list. */
const ACCOUNTS_PER_PAGE = 50;

async function listPage(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const url = new URL(request.url);
  const found = await pageAccounts(ctx.deps, parseNameListQuery(url.searchParams, { defaultLimit: ACCOUNTS_PER_PAGE, ignore: ['done'] }));
  const rows = found.items;
  const now = ctx.deps.now();
  url.searchParams.delete('done');
  return page(
    layout(
      { title: 'ACME accounts', session: { csrfToken: pc.session.csrfToken, section: 'accounts' }, flash: doneFlash(request) },
      html`<h1>ACME accounts</h1>
<p>Certificates are ordered with one of these accounts at its certificate authority.</p>
<div class="actions">${linkButton('/accounts/new', 'New ACME account', 'primary')}</div>
${table({
  caption: 'ACME accounts',
  captionHidden: true,
  columns: [
    { label: 'Name', cell: (a: AccountRow) => html`<a href="/accounts/${encodeURIComponent(a.name)}">${a.name}</a>` },
    { label: 'Email', cell: (a) => a.email ?? '—' },
    { label: 'Certificate authority', cell: (a) => html`${caName(a.directoryUrl)}${a.staging ? html` ${stagingBadge}` : null}` },
    { label: 'Status', cell: (a) => html`${statusBadge(a.status)}${activePause(a, now) ? html`<br><span class="muted">paused by the CA until ${formatTime(a.pausedUntil)}</span>` : null}` },
    { label: 'Terms accepted', cell: (a) => (a.termsOfServiceAgreed ? 'Yes' : 'No') },
    { label: 'New orders per hour', cell: (a) => (a.maxOrdersPerHour === null ? 'no limit' : String(a.maxOrdersPerHour)), numeric: true },
    { label: 'Key', cell: (a) => KEY_TYPE_LABELS[a.keyType as KeyType]?.replace(' (recommended)', '') ?? a.keyType },
  ],
  rows,
  empty: 'No ACME account yet.',
})}
${cursorPager({ url, next: found.next, label: 'Pages of ACME accounts' })}`,
    ),
  );
}

// ---- creating one ------------------------------------------------------------------------------

/** The CA's terms (a link only for http(s) URLs: a CA could name anything there) and its EAB rule. */
function caPart(info: CaInfo): Html {
  const tos = info.termsOfService;
  const linkable = tos !== undefined && /^https?:\/\//i.test(tos);
  return html`<div id="ca-terms" aria-live="polite">
  ${linkable ? html`<p>Read the CA's <a href="${tos}" rel="noreferrer" target="_blank">terms of service</a> before you accept them.</p>` : null}
  ${tos !== undefined && !linkable ? html`<p>The CA's terms of service: <code>${tos}</code></p>` : null}
  ${info.externalAccountRequired ? html`<p><strong>This CA requires external account binding:</strong> enter the key ID and HMAC key it gave you below.</p>` : null}
</div>`;
}

/** Both controls ask through one queue: a later question replaces an earlier one still in flight. */
const LOOKUP = { 'hx-post': '/accounts/new/ca', 'hx-target': '#ca-terms', 'hx-swap': 'outerHTML', 'hx-sync': 'closest fieldset:replace' };
const DIRECTORY_LOOKUP = { ...LOOKUP, 'hx-trigger': 'change', 'hx-include': '[name=ca]' };

function newAccountPage(pc: PageContext, s: { values: URLSearchParams; errors: Errors; info: CaInfo; flash?: Flash[] }, status = 200): Response {
  const v = (k: string) => s.values.get(k) ?? '';
  const e = s.errors;
  const lookUp = LOOKUP;
  return page(
    layout(
      { title: 'New ACME account', session: { csrfToken: pc.session.csrfToken, section: 'accounts' }, flash: s.flash },
      html`<h1>New ACME account</h1>
<p>Certkeep registers the account at the CA now; certificates can then be ordered with it.</p>
<form method="post" action="/accounts" enctype="multipart/form-data" novalidate>
  ${csrfField(pc.session.csrfToken)}
  ${field({ name: 'name', label: 'Name', value: v('name'), required: true, error: e.name, hint: `How certificates refer to it: ${NAME_HINT}.`, attributes: { pattern: NAME_PATTERN.source, maxlength: 64, autocomplete: 'off' } })}
  <fieldset><legend>Certificate authority</legend>
    ${selectField({
      name: 'ca',
      label: 'Certificate authority',
      options: CA_CHOICES.map((c) => ({ value: c.value, label: c.label })),
      value: v('ca') || 'letsencrypt',
      attributes: { ...lookUp, 'hx-trigger': 'change', 'hx-include': '[name=directoryUrl]' },
    })}
    ${directoryUrlField({ value: v('directoryUrl'), error: e.directoryUrl ?? s.info.error, attributes: DIRECTORY_LOOKUP })}
    ${checkboxField({ name: 'staging', label: 'This CA issues test certificates (staging)', checked: v('staging') === 'on', hint: "Set by itself for Let's Encrypt staging. The download API's staging=true|false parameter matches it." })}
    ${caPart(s.info)}
    <div class="actions">${button('Look up this CA', { name: 'action', value: 'check' })}</div>
  </fieldset>
  <fieldset><legend>Contact and terms</legend>
    ${field({ name: 'email', label: 'Contact email', type: 'email', value: v('email'), error: e.email, hint: 'Optional. The CA may write here about problems with your certificates.', autocomplete: 'email' })}
    ${checkboxField({ name: 'acceptTos', label: "I accept the CA's terms of service", checked: v('acceptTos') === 'on', required: true, error: e.acceptTos })}
  </fieldset>
  <fieldset><legend>External account binding</legend>
    <p class="hint">Only when the CA requires it (for example ZeroSSL, Google Trust Services, a company CA). Leave empty otherwise.</p>
    ${field({ name: 'eabKid', label: 'EAB key ID', value: v('eabKid'), error: e.eabKid, attributes: { autocomplete: 'off' } })}
    ${field({ name: 'eabHmacKey', label: 'EAB HMAC key', type: 'password', error: e.eabHmacKey, hint: 'base64url, as the CA shows it.', attributes: { autocomplete: 'off' } })}
  </fieldset>
  <fieldset><legend>Account key</legend>
    ${selectField({ name: 'keyType', label: 'New key type', options: KEY_TYPES.map((t) => ({ value: t, label: KEY_TYPE_LABELS[t] })), value: v('keyType') || 'ec-p256', error: e.keyType, hint: 'A new key is made unless you bring one below.' })}
    ${textareaField({ name: 'keyPem', label: 'Or paste an existing account key (PEM)', rows: 4, error: e.keyPem, hint: 'PKCS#8, PKCS#1 or SEC1 private key, e.g. from another ACME client. Stored encrypted.' })}
    ${field({ name: 'keyFile', label: 'Or upload it as a PEM file', type: 'file', error: e.keyFile, attributes: { accept: '.pem,.key,.txt,application/x-pem-file' } })}
  </fieldset>
  <div class="actions">${button('Create account', { variant: 'primary', name: 'action', value: 'create' })} ${linkButton('/accounts', 'Cancel')}</div>
</form>`,
    ),
    { status },
  );
}

async function showNewAccount(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const values = new URLSearchParams({ ca: 'letsencrypt' });
  return newAccountPage(pc, { values, errors: {}, info: await lookUpCa(ctx, LETS_ENCRYPT) });
}

/** htmx: the terms/EAB part for the CA just chosen. */
async function caLookUpPart(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  // The CA's part, and out of band the directory URL field with the look-up's error (or none).
  const info = await lookUpCa(ctx, directoryOf(pc.form));
  return page(html`${caPart(info)}${directoryUrlError(info.error, true)}`);
}

/** Maps an error to the field it is about; ACME problems about the contact or EAB too. */
function fieldOfError(err: CertkeepError): string | undefined {
  const field = errorField(err);
  if (field) return field.replace(/^eab\.kid$/, 'eabKid').replace(/^eab\.hmacKey$/, 'eabHmacKey');
  if (['PEM_INVALID', 'KEY_INVALID', 'KEY_UNSUPPORTED'].includes(err.code)) return 'keyPem';
  const type = acmeProblemOf(err)?.type ?? '';
  if (/:(invalidContact|unsupportedContact)$/.test(type)) return 'email';
  if (/:externalAccountRequired$/.test(type)) return 'eabKid';
  if (/external account binding|\bEAB\b/i.test(acmeProblemOf(err)?.detail ?? '')) return 'eabHmacKey';
  if (['ACME_NETWORK', 'ACME_BAD_RESPONSE', 'TARGET_REFUSED', 'OUTBOUND_FAILED'].includes(err.code)) return 'directoryUrl';
  return undefined;
}

async function submitNewAccount(request: Request, ctx: HandlerContext): Promise<Response> {
  const copy = request.clone();
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const form = pc.form;
  const directoryUrl = directoryOf(form);
  const info = await lookUpCa(ctx, directoryUrl);
  // Secrets are never sent back into the page.
  const values = new URLSearchParams(form);
  for (const secret of ['eabHmacKey', 'keyPem', '_csrf']) values.delete(secret);
  if (form.get('action') === 'check') return newAccountPage(pc, { values, errors: {}, info });

  const errors: Errors = {};
  const name = (form.get('name') ?? '').trim();
  if (!NAME_PATTERN.test(name)) errors.name = name ? `Use ${NAME_HINT}.` : 'Give the account a name.';
  if (!directoryUrl) errors.directoryUrl = 'Enter the directory URL of the CA.';
  const email = (form.get('email') ?? '').trim();
  if (email && (!EMAIL_PATTERN.test(email) || email.length > 254)) errors.email = 'Enter an email address, or leave it empty.';
  if (form.get('acceptTos') !== 'on') errors.acceptTos = "The CA's terms of service must be accepted.";
  const kid = (form.get('eabKid') ?? '').trim();
  const hmacKey = (form.get('eabHmacKey') ?? '').trim();
  if (kid && !hmacKey) errors.eabHmacKey = 'Enter the HMAC key that belongs to this key ID.';
  if (hmacKey && !kid) errors.eabKid = 'Enter the key ID that belongs to this HMAC key.';
  if (hmacKey && !/^[A-Za-z0-9_-]+={0,2}$/.test(hmacKey)) errors.eabHmacKey = 'The HMAC key is base64url: letters, digits, "-" and "_".';
  const keyType = (KEY_TYPES as readonly string[]).includes(form.get('keyType') ?? '') ? (form.get('keyType') as KeyType) : 'ec-p256';
  const pasted = (form.get('keyPem') ?? '').trim();
  const uploaded = await uploadedAccountKey(copy);
  if (typeof uploaded === 'object') errors.keyFile = uploaded.error;
  else if (uploaded && pasted) errors.keyFile = 'Paste the key or upload it, not both.';
  const keyPem = pasted || (typeof uploaded === 'string' ? uploaded.trim() : '');
  if (keyPem.length > MAX_ACCOUNT_KEY_PEM) errors.keyPem = 'This is too long for an account key.';
  if (Object.keys(errors).length > 0) {
    return newAccountPage(pc, { values, errors, info, flash: [{ kind: 'error', message: 'Some fields need a second look.' }] }, 400);
  }

  try {
    await accounts.createAccount(ctx.deps, byPage(pc, ctx), {
      name,
      directoryUrl,
      email: email || undefined,
      termsOfServiceAgreed: true,
      staging: form.get('staging') === 'on' || directoryUrl === LETS_ENCRYPT_STAGING ? true : undefined,
      eab: kid ? { kid, hmacKey } : undefined,
      ...(keyPem ? { keyPem } : { keyType }),
    });
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    const where = fieldOfError(err);
    const message = errorText(err);
    const status = err.code === 'CONFLICT' ? 409 : /^(ACME_|TARGET_|OUTBOUND_)/.test(err.code) ? 502 : 400;
    const fieldErrors = where ? { [where]: acmeProblemOf(err) ? message : fieldMessage(err) } : {};
    // Said once: next to its field (the flash then only points there), or on its own.
    const flash: Flash[] = where ? [{ kind: 'error', message: 'Some fields need a second look.' }] : [{ kind: 'error', message }];
    return newAccountPage(pc, { values, errors: fieldErrors, info, flash }, status);
  }
  return redirect(`/accounts/${encodeURIComponent(name)}?done=created`);
}

// ---- one account ---------------------------------------------------------------------------------

function notFound(pc: PageContext, name: string): Response {
  return page(
    layout(
      { title: 'No such account', session: { csrfToken: pc.session.csrfToken, section: 'accounts' } },
      html`<h1>No such ACME account</h1><p>There is no ACME account named <strong>${name}</strong>.</p><div class="actions">${linkButton('/accounts', 'All ACME accounts')}</div>`,
    ),
    { status: 404 },
  );
}

async function accountPage(ctx: HandlerContext, pc: PageContext, row: AccountRow, o: { flash?: Flash[]; errors?: Errors; values?: URLSearchParams } = {}, status = 200): Promise<Response> {
  const errors = o.errors ?? {};
  const users = await certificatesUsing(ctx.deps, { accountId: row.id });
  const pause = activePause(row, ctx.deps.now());
  const base = `/accounts/${encodeURIComponent(row.name)}`;
  const active = row.status === 'valid';
  const when = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  return page(
    layout(
      { title: `ACME account ${row.name}`, session: { csrfToken: pc.session.csrfToken, section: 'accounts' }, flash: o.flash },
      html`<p><a href="/accounts">ACME accounts</a></p>
<h1>ACME account ${row.name}</h1>
${detailsTable('Account', [
  { label: 'Status', value: statusBadge(row.status) },
  {
    label: 'Certificate authority',
    value: html`${caName(row.directoryUrl)}${row.staging ? html` ${stagingBadge}` : null}<br><code>${wrappable(row.directoryUrl)}</code>`,
  },
  { label: 'Contact email', value: row.email ?? '—' },
  { label: 'Terms of service accepted', value: row.termsOfServiceAgreed ? 'Yes' : 'No' },
  { label: 'Account URL at the CA', value: row.accountUrl ? html`<code>${wrappable(row.accountUrl)}</code>` : '—' },
  { label: 'Key', value: KEY_TYPE_LABELS[row.keyType as KeyType]?.replace(' (recommended)', '') ?? row.keyType },
  { label: 'External account binding', value: row.eabKid ? html`key ID <code>${row.eabKid}</code>` : 'None' },
  { label: 'Created', value: when(row.createdAt) },
])}
${pause
  ? html`<div class="flash"><p class="info" role="status"><strong>The CA asked Certkeep to wait:</strong> no new order with this account until ${formatTime(pause.until)}. Orders start by themselves then.</p>${pause.problem ? problemInWords(pause.problem) : null}</div>`
  : null}
<section aria-labelledby="pace"><h2 id="pace">Pace of new orders</h2>
<p>A CA limits how many orders an account may place (Let's Encrypt: 300 new orders per account every 3 hours). With a limit here, Certkeep places at most that many in any hour and keeps the rest waiting, so a large import is obtained at the CA's pace instead of failing.</p>
<form method="post" action="${base}/pace" novalidate>
  ${csrfField(pc.session.csrfToken)}
  ${field({
    name: 'maxOrdersPerHour',
    label: 'New orders per hour, at most',
    type: 'number',
    value: errors.maxOrdersPerHour ? (o.values?.get('maxOrdersPerHour') ?? '') : (row.maxOrdersPerHour ?? ''),
    error: errors.maxOrdersPerHour,
    hint: `Empty: no limit. From 1 to ${MAX_ORDERS_PER_HOUR}.`,
    attributes: { min: 1, max: MAX_ORDERS_PER_HOUR, inputmode: 'numeric' },
  })}
  <div class="actions">${button('Save the pace')}</div>
</form>
</section>
<section aria-labelledby="used-by"><h2 id="used-by">Certificates ordered with it</h2>
${users.items.length
  ? html`<ul>${users.items.map((c) => html`<li><a href="/certificates/${encodeURIComponent(c.name)}">${c.name}</a></li>`)}</ul>${users.total > users.items.length ? html`<p class="muted">…and ${users.total - users.items.length} more.</p>` : null}`
  : html`<p>None.</p>`}
</section>
<section aria-labelledby="actions"><h2 id="actions">Actions</h2>
${active
  ? html`${confirmForm({
      action: `${base}/key-rollover`,
      csrfToken: pc.session.csrfToken,
      id: 'rollover',
      legend: 'Change the account key',
      explanation: 'The CA is told to accept a new key for this account from now on (key rollover). Certificates and their keys are not affected.',
      fields: selectField({ name: 'keyType', id: 'rollover-key-type', label: 'New key type', options: KEY_TYPES.map((t) => ({ value: t, label: KEY_TYPE_LABELS[t] })), value: row.keyType }),
      confirmLabel: 'Yes, replace the account key',
      buttonLabel: 'Change the account key',
      variant: 'secondary',
      error: errors.rollover,
    })}
${confirmForm({
  action: `${base}/deactivate`,
  csrfToken: pc.session.csrfToken,
  id: 'deactivate',
  legend: 'Deactivate at the CA',
  explanation: html`The CA will refuse every further request from this account: no more certificates can be ordered or revoked with it. <strong>This cannot be undone.</strong> Certificates already issued stay valid.`,
  confirmLabel: 'Yes, deactivate it for good',
  buttonLabel: 'Deactivate the account',
  error: errors.deactivate,
})}`
  : html`<p>This account is ${row.status} at the CA: it can no longer order certificates.</p>`}
${confirmForm({
  action: `${base}/delete`,
  csrfToken: pc.session.csrfToken,
  id: 'delete',
  legend: 'Remove from Certkeep',
  explanation: active
    ? 'Certkeep forgets the account and its key. It stays registered at the CA; deactivate it first if it should not be used again.'
    : 'Certkeep forgets the account and its key.',
  confirmLabel: 'Yes, remove it from Certkeep',
  buttonLabel: 'Remove the account',
  error: errors.delete,
})}
</section>`,
    ),
    { status },
  );
}

async function showAccount(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const row = await accounts.findAccountByName(ctx.deps, request.params.name);
  if (!row) return notFound(pc, request.params.name);
  return accountPage(ctx, pc, row, { flash: doneFlash(request) });
}

/** The three actions share their shape: confirmation, the domain call, the CA's answer in words. */
function action(id: 'rollover' | 'deactivate' | 'delete', run: (ctx: HandlerContext, pc: PageContext, row: AccountRow) => Promise<string>) {
  return async (request: RoutedRequest, ctx: HandlerContext): Promise<Response> => {
    const pc = await signedIn(request, ctx);
    if (pc instanceof Response) return pc;
    const row = await accounts.findAccountByName(ctx.deps, request.params.name);
    if (!row) return notFound(pc, request.params.name);
    if (!confirmed(pc.form)) return accountPage(ctx, pc, row, { errors: { [id]: 'Tick this box to confirm.' } }, 400);
    try {
      return redirect(await run(ctx, pc, row));
    } catch (err) {
      if (!(err instanceof CertkeepError)) throw err;
      const status = err.code === 'CONFLICT' ? 409 : err.code === 'NOT_FOUND' ? 404 : err.code.startsWith('ACME_') ? 502 : 400;
      const fresh = (await accounts.findAccountById(ctx.deps, row.id)) ?? row;
      return accountPage(ctx, pc, fresh, { flash: [{ kind: 'error', message: errorText(err) }] }, status);
    }
  };
}

const rollover = action('rollover', async (ctx, pc, row) => {
  const requested = pc.form.get('keyType') ?? '';
  const keyType = (KEY_TYPES as readonly string[]).includes(requested) ? (requested as KeyType) : undefined;
  await accounts.rolloverAccountKey(ctx.deps, byPage(pc, ctx), row.name, keyType);
  return `/accounts/${encodeURIComponent(row.name)}?done=rolled-over`;
});

const deactivate = action('deactivate', async (ctx, pc, row) => {
  await accounts.deactivateAccount(ctx.deps, byPage(pc, ctx), row.name);
  return `/accounts/${encodeURIComponent(row.name)}?done=deactivated`;
});

/** The pacing form: `maxOrdersPerHour`, empty for no limit. */
async function pace(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const row = await accounts.findAccountByName(ctx.deps, request.params.name);
  if (!row) return notFound(pc, request.params.name);
  const text = (pc.form.get('maxOrdersPerHour') ?? '').trim();
  const value = text === '' ? null : /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (value !== null && (!Number.isInteger(value) || value < 1 || value > MAX_ORDERS_PER_HOUR)) {
    return accountPage(ctx, pc, row, { errors: { maxOrdersPerHour: `A whole number from 1 to ${MAX_ORDERS_PER_HOUR}, or empty for no limit.` }, values: pc.form }, 400);
  }
  await accounts.setAccountPacing(ctx.deps, byPage(pc, ctx), row.name, value);
  return redirect(`/accounts/${encodeURIComponent(row.name)}?done=paced`);
}

const remove = action('delete', async (ctx, pc, row) => {
  await accounts.deleteAccount(ctx.deps, byPage(pc, ctx), row.name);
  return '/accounts?done=deleted';
});

export const accountsPages: readonly PageRoute[] = [
  ['get', '/accounts', listPage],
  ['post', '/accounts', submitNewAccount],
  ['get', '/accounts/new', showNewAccount],
  ['post', '/accounts/new/ca', caLookUpPart],
  ['get', '/accounts/:name', showAccount],
  ['post', '/accounts/:name/key-rollover', rollover],
  ['post', '/accounts/:name/deactivate', deactivate],
  ['post', '/accounts/:name/delete', remove],
  ['post', '/accounts/:name/pace', pace],
];
