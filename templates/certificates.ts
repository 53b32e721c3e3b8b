// The certificate pages: the list with search and paging, the form for a new one, the page shown
// once after creation, the detail page with its live part (state, actions, order history — polled
// by htmx while an order runs), and the small pages for edit, key change, revoke and delete.
// Everything works without JavaScript: forms post, links navigate, a running order refreshes the
// page through <noscript><meta refresh>.
import { attrs, html, type Html, type HtmlValue } from '../src/html/html.ts';
import type { CertificateStatus } from '../src/domain/certificates.ts';
import type { AcmeProblem } from '../src/acme/types.ts';
import { KEY_TYPES } from '../src/crypto/keys.ts';
import { layout, type Flash } from './layout.ts';
import { badge, button, csrfField, field, linkButton, postButton, selectField, textareaField, type SelectOption } from './components.ts';
import { formatDate, formatTime, keyTypeLabel, problemInWords, relativeDays } from './format.ts';
import { downloadCommands, shownOnce, type ShownKey } from './secrets.ts';
import { agentSection, consumersSection, type AgentSectionOptions, type ConsumersSectionOptions } from './agent.ts';
import { deploymentsSection } from './tracking.ts';
import type { Deployment } from '../src/domain/tracking/deployments.ts';

/** How often the live part asks for news while an order runs, in seconds. */
const POLL_SECONDS = 1;

export const certificatePath = (name: string) => `/certificates/${encodeURIComponent(name)}`;
export const NEW_CERTIFICATE_PATH = '/certificates/-/new';

/**
 * Reasons a subscriber may give (RFC 5280 §5.3.1; the CA/Browser Forum's baseline requirements
 * §4.9.1.1 allow these to subscribers). cACompromise, certificateHold, removeFromCRL,
 * privilegeWithdrawn and aACompromise are the CA's own.
 */
export const REVOCATION_REASONS: readonly { code: number; name: string; label: string }[] = [
  { code: 0, name: 'unspecified', label: 'unspecified (0): no reason given' },
  { code: 1, name: 'keyCompromise', label: 'keyCompromise (1): the private key was exposed' },
  { code: 3, name: 'affiliationChanged', label: 'affiliationChanged (3): the names now belong to someone else' },
  { code: 4, name: 'superseded', label: 'superseded (4): replaced by another certificate' },
  { code: 5, name: 'cessationOfOperation', label: 'cessationOfOperation (5): the names are no longer used' },
];

const ALL_REASON_NAMES: Record<number, string> = {
  0: 'unspecified', 1: 'keyCompromise', 2: 'cACompromise', 3: 'affiliationChanged', 4: 'superseded', 5: 'cessationOfOperation',
  6: 'certificateHold', 8: 'removeFromCRL', 9: 'privilegeWithdrawn', 10: 'aACompromise',
};

export function revocationReasonName(code: number | null): string {
  return code === null ? 'unspecified' : (ALL_REASON_NAMES[code] ?? String(code));
}

const session = (csrfToken: string) => ({ csrfToken, section: 'certificates' as const });

function stagingBadge(staging: boolean): Html | null {
  return staging ? html` <span class="badge">staging</span>` : null;
}

// ---- new certificate ------------------------------------------------------------------------------

export interface CertificateFormChoices {
  accounts: readonly SelectOption[];
  /** Null when there are too many keys for a select: the form asks for a key's name instead. */
  keys: readonly SelectOption[] | null;
  dnsProviders: readonly SelectOption[];
}

export interface CertificateFormOptions extends CertificateFormChoices {
  csrfToken: string;
  values: URLSearchParams;
  /** Messages by field name (the domain's CertkeepError field names: name, domains, subject.CN…). */
  errors: Readonly<Record<string, string>>;
  message?: string;
}

export const SUBJECT_FIELDS: readonly { key: 'CN' | 'O' | 'OU' | 'C' | 'ST' | 'L'; label: string; hint?: string }[] = [
  { key: 'CN', label: 'Common name (CN)', hint: 'Usually left empty: the first name above is used.' },
  { key: 'O', label: 'Organization (O)' },
  { key: 'OU', label: 'Organizational unit (OU)' },
  { key: 'C', label: 'Country (C)', hint: 'Two letters, e.g. DE.' },
  { key: 'ST', label: 'State or province (ST)' },
  { key: 'L', label: 'Locality (L)' },
];

const CHALLENGE_OPTIONS: readonly SelectOption[] = [
  { value: 'http-01', label: 'http-01: the CA fetches a file over HTTP (port 80)' },
  { value: 'dns-01', label: 'dns-01: a TXT record in DNS (needed for wildcards)' },
];

export const KEY_TYPE_OPTIONS: readonly SelectOption[] = KEY_TYPES.map((t) => ({ value: t, label: keyTypeLabel(t) }));

function challengeFields(o: { values: URLSearchParams; errors: Readonly<Record<string, string>>; dnsProviders: readonly SelectOption[] }): Html {
  const v = (k: string) => o.values.get(k) ?? '';
  return html`${selectField({ name: 'challenge', label: 'Challenge', options: CHALLENGE_OPTIONS, value: v('challenge') || 'http-01', error: o.errors.challenge })}
  ${selectField({
    name: 'dnsProvider',
    label: 'DNS provider (dns-01)',
    options: o.dnsProviders,
    placeholder: o.dnsProviders.length ? 'None (http-01)' : 'None configured yet',
    value: v('dnsProvider'),
    error: o.errors.dnsProvider,
    hint: html`Publishes the dns-01 TXT records. <a href="/dns-providers">DNS providers</a> are set up on their own page.`,
  })}`;
}

/** An existing key: a select of the keys, or (too many to list) a field for a key's name. */
function keyField(o: { keys: readonly SelectOption[] | null; placeholder: string; value: string; error?: string }): Html {
  if (o.keys) return selectField({ name: 'key', label: 'Key', options: o.keys, placeholder: o.placeholder, value: o.value, error: o.error });
  return field({
    name: 'key',
    label: 'Existing key (its name)',
    value: o.value,
    error: o.error,
    hint: html`Empty: ${o.placeholder.toLowerCase()}. The names are on the <a href="/keys">Keys</a> page.`,
    attributes: { autocomplete: 'off', spellcheck: 'false', maxlength: 64 },
  });
}

export function newCertificatePage(o: CertificateFormOptions): Html {
  const v = (k: string) => o.values.get(k) ?? '';
  const advancedOpen = ['preferredChain', 'profile', ...SUBJECT_FIELDS.map((f) => `subject.${f.key}`)].some((k) => v(k) !== '' || o.errors[k]);
  return layout(
    { title: 'New certificate', session: session(o.csrfToken), flash: o.message ? [{ kind: 'error', message: o.message }] : [] },
    html`<h1>New certificate</h1>
<form method="post" action="/certificates" novalidate>
  ${csrfField(o.csrfToken)}
  ${field({ name: 'name', label: 'Name', value: v('name'), required: true, error: o.errors.name, hint: 'How servers ask for it: /api/certificate/<name>. Letters, digits, ".", "_" and "-".', attributes: { autocomplete: 'off', spellcheck: 'false', maxlength: 64 } })}
  ${textareaField({
    name: 'domains',
    label: 'Domain names',
    value: v('domains'),
    required: true,
    rows: 4,
    error: o.errors.domains,
    hint: 'One per line, or separated by commas or semicolons. The first is the subject. Wildcards (*.example.com) need dns-01.',
  })}
  ${challengeFields(o)}
  ${selectField({ name: 'account', label: 'ACME account', options: o.accounts, value: v('account') || 'default', error: o.errors.account })}
  <fieldset>
    <legend>Private key</legend>
    ${keyField({ keys: o.keys, placeholder: 'A new key, named after the certificate', value: v('key'), error: o.errors.key })}
    ${selectField({ name: 'keyType', label: 'Type of the new key', options: KEY_TYPE_OPTIONS, value: v('keyType') || 'ec-p256', error: o.errors.keyType, hint: 'Only used when a new key is made.' })}
  </fieldset>
  <details${advancedOpen ? html` open` : null}>
    <summary>Advanced: preferred chain, CA profile, certificate request subject</summary>
    ${field({ name: 'preferredChain', label: 'Preferred chain', value: v('preferredChain'), error: o.errors.preferredChain, hint: 'The common name of the root to chain to when the CA offers alternatives, e.g. ISRG Root X1.' })}
    ${field({ name: 'profile', label: 'CA profile', value: v('profile'), error: o.errors.profile, hint: 'A profile name the CA offers (draft-ietf-acme-profiles); empty for its default.' })}
    <fieldset>
      <legend>Subject of the certificate request (optional)</legend>
      ${SUBJECT_FIELDS.map((f) =>
        field({ name: `subject.${f.key}`, id: `field-subject-${f.key}`, label: f.label, value: v(`subject.${f.key}`), error: o.errors[`subject.${f.key}`], hint: f.hint, attributes: f.key === 'C' ? { maxlength: 2, autocomplete: 'off' } : undefined }),
      )}
    </fieldset>
  </details>
  <div class="actions">${button('Create certificate', { variant: 'primary' })}${linkButton('/certificates', 'Cancel')}</div>
</form>`,
  );
}

// ---- created ------------------------------------------------------------------------------------

export interface CnameRecord {
  name: string;
  target: string;
}

function cnameTable(cnames: readonly CnameRecord[]): Html {
  return html`<div class="table-wrap"><table class="stack">
<caption>CNAME records to create for acme-dns</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Points to</th></tr></thead>
<tbody>${cnames.map((c) => html`<tr><td data-label="Name"><code>${c.name}</code></td><td data-label="Type">CNAME</td><td data-label="Points to"><code>${c.target}</code></td></tr>`)}</tbody>
</table></div>`;
}

export interface CertificateCreatedOptions {
  csrfToken: string;
  origin: string | null;
  name: string;
  apiKeys: readonly string[];
  key: { name: string; apiKeys?: readonly string[] };
  cnames?: readonly CnameRecord[];
  /** The agent's config block with these API keys (templates/agent.ts). */
  agent?: Html;
}

/** The answer to the creating POST: the only place the new API keys ever appear. */
export function certificateCreatedPage(o: CertificateCreatedOptions): Html {
  const keys: ShownKey[] = o.apiKeys.map((value, i) => ({ label: `Certificate API key ${i + 1}`, id: `certificate-${i + 1}`, value }));
  if (o.key.apiKeys) keys.push(...o.key.apiKeys.map((value, i) => ({ label: `Key API key ${i + 1}`, id: `key-${i + 1}`, value })));
  return layout(
    { title: `Certificate ${o.name} created`, session: session(o.csrfToken), flash: [{ kind: 'success', message: html`Certificate <strong>${o.name}</strong> was created. Its order starts as soon as one of Certkeep's order slots is free; its page shows the progress.` }] },
    html`<h1>Certificate ${o.name} created</h1>
${shownOnce({
  heading: 'API keys for downloading',
  keys,
  extra: o.key.apiKeys
    ? html`<p>The key <strong>${o.key.name}</strong> was made for this certificate; its own API keys download the private key.</p>`
    : html`<p>The private key is the existing key <a href="/keys/${encodeURIComponent(o.key.name)}">${o.key.name}</a>: download it with one of that key's API keys.</p>`,
  commands: html`${downloadCommands({
    origin: o.origin,
    certificate: { name: o.name, apiKey: o.apiKeys[0] },
    key: { name: o.key.name, apiKey: o.key.apiKeys?.[0] },
  })}${o.agent ?? null}`,
})}
${o.cnames?.length
  ? html`<section aria-labelledby="cnames-heading"><h2 id="cnames-heading">DNS records to create</h2>
<p>dns-01 goes through your acme-dns server: create these CNAME records once, in the zone of each name, before the first order.</p>
${cnameTable(o.cnames)}</section>`
  : null}
<div class="actions">${linkButton(certificatePath(o.name), 'Go to the certificate', 'primary')}${linkButton('/certificates', 'All certificates')}</div>`,
  );
}

// ---- detail ---------------------------------------------------------------------------------------

export interface OrderView {
  state: string;
  reason: string;
  domains: string[];
  serial: string | null;
  notBefore: string | null;
  notAfter: string | null;
  error: AcmeProblem | null;
  createdAt: string | null;
  finishedAt: string | null;
  log: Array<{ at: string | null; level: string; message: string }>;
}

export interface CertificateDetail {
  name: string;
  domains: string[];
  status: CertificateStatus;
  challenge: string;
  account: { name: string; staging: boolean } | null;
  key: { name: string; type: string } | null;
  /** The key of the served certificate when it differs from the key of the next issuance. */
  servedKey: { name: string } | null;
  dnsProvider: { name: string; type: string } | null;
  preferredChain: string | null;
  profile: string | null;
  subject: Record<string, string> | null;
  serial: string | null;
  notBefore: number | null;
  notAfter: number | null;
  renewAt: number | null;
  nextAttemptAt: number | null;
  failureCount: number;
  lastError: AcmeProblem | null;
  revokedAt: number | null;
  revocationReason: number | null;
  createdAt: number;
  /** An order runs now (the certificate's lease is held). */
  running: boolean;
  /** The most recent orders (a page of them). */
  orders: OrderView[];
  /** The cursor of the older orders, or null when none are left. */
  olderOrders: string | null;
  /** The CA asked to pause new orders of the certificate's account (domain/ca-pace.ts). */
  caPause: { account: string; until: number; problem: AcmeProblem | null } | null;
  /** acme-dns: the CNAMEs this certificate's names need. */
  cnames?: CnameRecord[];
  /** "On your servers" and the consumers (templates/agent.ts). */
  agent?: AgentSectionOptions;
  consumers?: ConsumersSectionOptions;
  /** Tracked servers whose name it covers, and what they present (templates/tracking.ts). */
  deployments?: { serial: string | null; issuedAt: number | null; deployments: Deployment[] };
}

const ORDER_STATES: Record<string, string> = {
  placing: 'Placing the order',
  placed: 'Order placed',
  authorizing: 'Validating the names',
  finalizing: 'Finalizing',
  downloading: 'Downloading',
  done: 'Done',
  failed: 'Failed',
  abandoned: 'Abandoned',
};

const ORDER_REASONS: Record<string, string> = { new: 'First issuance', renewal: 'Renewal', manual: 'Requested now' };

function facts(caption: string, rows: ReadonlyArray<readonly [string, HtmlValue] | null>): Html {
  return html`<div class="table-wrap"><table class="details">
<caption class="visually-hidden">${caption}</caption>
<tbody>${rows.filter((r): r is readonly [string, HtmlValue] => r !== null).map(([label, value]) => html`<tr><th scope="row">${label}</th><td>${value}</td></tr>`)}</tbody>
</table></div>`;
}

function stateSentence(c: CertificateDetail, now: number): Html {
  switch (c.status) {
    case 'new':
      return html`Not obtained yet. Its order starts as soon as one of Certkeep's order slots is free.`;
    case 'pending':
      return html`Being obtained from the CA.`;
    case 'valid':
      return html`Valid until ${formatTime(c.notAfter)} (${relativeDays(c.notAfter!, now)}).`;
    case 'invalid':
      return html`Not obtained: the last attempt failed.`;
    case 'expired':
      return html`Expired ${relativeDays(c.notAfter!, now)}. Renewal failed or was not possible; see the last problem below.`;
    case 'revoked':
      return html`Revoked on ${formatTime(c.revokedAt)} (${revocationReasonName(c.revocationReason)}). It is no longer renewed; create a new certificate for these names.`;
  }
}

/** An order's log as console lines: time, level, message. */
function logLines(o: OrderView): string {
  return o.log.map((l) => `${formatTime(l.at).replace(' UTC', '')}  ${l.level.padEnd(5)} ${l.message}`).join('\n');
}

function orderLog(o: OrderView): Html {
  if (o.log.length === 0) return html``;
  return html`<details><summary>Log (${o.log.length} line${o.log.length === 1 ? '' : 's'})</summary><pre class="log"><code>${logLines(o)}</code></pre></details>`;
}

/** While an order runs: its log so far, in full width, as the progress of what happens now. */
function runningProgress(c: CertificateDetail): Html {
  const open = c.orders.find((o) => !o.finishedAt);
  return html`<div class="flash"><p class="info" role="status"><strong>An order is running.</strong> This page updates by itself until it ends.</p></div>
${open && open.log.length ? html`<pre class="log" aria-label="Progress of the running order"><code>${logLines(open)}</code></pre>` : null}`;
}

function orderHistory(c: CertificateDetail): Html {
  const rows = c.orders.map(
    (o) => html`<tr>
<td data-label="Started" class="nowrap">${formatTime(o.createdAt)}${o.finishedAt ? html`<br><span class="muted">ended ${formatTime(o.finishedAt)}</span>` : null}</td>
<td data-label="State">${ORDER_STATES[o.state] ?? o.state}${o.finishedAt ? null : html` <span class="muted">(open)</span>`}<br><span class="muted">${ORDER_REASONS[o.reason] ?? o.reason}</span></td>
<td data-label="Certificate">${o.serial ? html`<code class="serial">${o.serial}</code><br><span class="muted">${formatDate(o.notBefore)} to ${formatDate(o.notAfter)}</span>` : '—'}</td>
<td data-label="Problem and log">${o.error ? problemInWords(o.error) : o.log.length ? null : '—'}${orderLog(o)}</td>
</tr>`,
  );
  return html`<section aria-labelledby="orders-heading"><h2 id="orders-heading">Order history</h2>
<div class="table-wrap"><table class="stack">
<caption class="visually-hidden">Orders, newest first</caption>
<thead><tr><th scope="col">Started</th><th scope="col">State</th><th scope="col">Certificate</th><th scope="col">Problem and log</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td class="empty" colspan="4">No orders yet.</td></tr>`}</tbody>
</table></div>
${c.olderOrders ? html`<p><a href="${certificatePath(c.name)}?orders=${encodeURIComponent(c.olderOrders)}#orders-heading">Older orders</a></p>` : null}
</section>`;
}

/** The CA asked to wait: why, and until when (it is the account's pause, shared by its certificates). */
export function caPauseNotice(p: { account: string; until: number; problem: AcmeProblem | null }): Html {
  return html`<div class="flash"><p class="info" role="status"><strong>The CA asked Certkeep to wait.</strong> New orders of the ACME account <a href="/accounts/${encodeURIComponent(p.account)}">${p.account}</a> are paused until ${formatTime(p.until)}; they start by themselves then.</p>${p.problem ? problemInWords(p.problem) : null}</div>`;
}

/**
 * The part that changes while an order runs: state, problem, actions and the history. While
 * `running`, htmx asks for the page again every second and swaps in this part of it.
 */
export function certificateLivePart(c: CertificateDetail, o: { csrfToken: string; now: number }): Html {
  const path = certificatePath(c.name);
  const polling = c.running
    ? attrs({ 'hx-get': path, 'hx-trigger': `every ${POLL_SECONDS}s`, 'hx-select': '#certificate-live', 'hx-swap': 'outerHTML', 'aria-busy': 'true' })
    : null;
  const issued = c.serial !== null && c.status !== 'new' && c.status !== 'pending' && c.status !== 'invalid';
  const facts_ = facts('State', [
    ['State', html`${badge(c.status)} ${stateSentence(c, o.now)}`],
    c.serial ? ['Serial number', html`<code>${c.serial}</code>`] : null,
    c.notBefore !== null ? ['Valid', html`${formatTime(c.notBefore)} to ${formatTime(c.notAfter)}`] : null,
    c.status === 'valid' || c.status === 'expired' ? ['Renewal due', c.renewAt !== null ? html`${formatTime(c.renewAt)} (${relativeDays(c.renewAt, o.now)})` : html`—`] : null,
    c.nextAttemptAt !== null && c.status !== 'revoked' ? ['Next attempt', html`${formatTime(c.nextAttemptAt)} <span class="muted">(after ${c.failureCount} failed attempt${c.failureCount === 1 ? '' : 's'})</span>`] : null,
  ]);
  const actions = c.status === 'revoked'
    ? null
    : html`<div class="actions">
  ${postButton({ action: `${path}/issue`, csrfToken: o.csrfToken, label: c.running ? 'Request now (running…)' : 'Request now', variant: 'primary' })}
  ${issued ? linkButton(`${path}/revoke`, 'Revoke…', 'danger') : null}
</div>`;
  return html`<div id="certificate-live"${polling}>
${c.running ? runningProgress(c) : null}
${c.caPause ? caPauseNotice(c.caPause) : null}
${facts_}
${c.lastError && c.status !== 'revoked'
  ? html`<section aria-labelledby="problem-heading" class="last-problem"><h2 id="problem-heading">Last problem</h2>${problemInWords(c.lastError)}</section>`
  : null}
${actions}
${orderHistory(c)}
</div>`;
}

function settingsPart(c: CertificateDetail): Html {
  const path = certificatePath(c.name);
  const subject = c.subject && Object.keys(c.subject).length
    ? Object.entries(c.subject).map(([k, v]) => `${k}=${v}`).join(', ')
    : null;
  return html`<section aria-labelledby="settings-heading"><h2 id="settings-heading">How it is obtained</h2>
${facts('Settings', [
  ['Challenge', c.challenge],
  c.challenge === 'dns-01' ? ['DNS provider', c.dnsProvider ? html`${c.dnsProvider.name} <span class="muted">(${c.dnsProvider.type})</span>` : '—'] : null,
  ['ACME account', c.account ? html`${c.account.name}${stagingBadge(c.account.staging)}` : '—'],
  ['Key', c.key ? html`<a href="/keys/${encodeURIComponent(c.key.name)}">${c.key.name}</a> <span class="muted">(${keyTypeLabel(c.key.type)})</span>` : '—'],
  c.servedKey ? ['Key of the served certificate', html`<a href="/keys/${encodeURIComponent(c.servedKey.name)}">${c.servedKey.name}</a> <span class="muted">(until the next issuance)</span>`] : null,
  ['Preferred chain', c.preferredChain ?? 'the CA’s default'],
  c.profile ? ['CA profile', c.profile] : null,
  subject ? ['Request subject', subject] : null,
  ['Created', formatTime(c.createdAt)],
])}
${c.cnames?.length ? cnameTable(c.cnames) : null}
${c.status === 'revoked' ? null : html`<div class="actions">${linkButton(`${path}/edit`, 'Edit')}${linkButton(`${path}/key`, 'Use another key')}</div>`}
</section>`;
}

function downloadPart(c: CertificateDetail, o: { csrfToken: string; origin: string | null }): Html {
  const path = certificatePath(c.name);
  return html`<section aria-labelledby="download-heading"><h2 id="download-heading">Download</h2>
<p>Servers fetch the certificate with one of its two API keys, and the private key with one of the key's. API keys are shown only when they are made; replace one to get a new one (the other keeps working meanwhile).</p>
${downloadCommands({ origin: o.origin, certificate: { name: c.name }, key: c.key ? { name: c.key.name } : undefined, heading: 'Commands' })}
<div class="actions">
  ${postButton({ action: `${path}/api-keys/1`, csrfToken: o.csrfToken, label: 'Replace API key 1' })}
  ${postButton({ action: `${path}/api-keys/2`, csrfToken: o.csrfToken, label: 'Replace API key 2' })}
</div>
</section>`;
}

export interface CertificateDetailOptions {
  csrfToken: string;
  origin: string | null;
  now: number;
  cert: CertificateDetail;
  flash?: readonly Flash[];
  /** A shown-once section (a replaced API key, a new key's API keys), only in a POST's answer. */
  shown?: Html;
}

export function certificateDetailPage(o: CertificateDetailOptions): Html {
  const c = o.cert;
  const head = c.running ? html`<noscript><meta http-equiv="refresh" content="2"></noscript>` : undefined;
  return layout(
    { title: `Certificate ${c.name}`, session: session(o.csrfToken), flash: o.flash, head },
    html`<p class="breadcrumb"><a href="/certificates">Certificates</a></p>
<h1>${c.name}${stagingBadge(c.account?.staging ?? false)}</h1>
<p>${c.domains.join(', ')}</p>
${o.shown ?? null}
${certificateLivePart(c, o)}
${settingsPart(c)}
${downloadPart(c, o)}
${c.consumers ? consumersSection(c.consumers) : null}
${c.deployments?.deployments.length ? deploymentsSection({ ...c.deployments, now: o.now }) : null}
${c.agent ? agentSection(c.agent) : null}
<section aria-labelledby="delete-heading"><h2 id="delete-heading">Delete</h2>
<p>Deleting removes the certificate, its history and its API keys. Its key stays (delete it on its own page).</p>
<div class="actions">${linkButton(`${certificatePath(c.name)}/delete`, 'Delete…', 'danger')}</div>
</section>`,
  );
}

// ---- revoke, delete, edit, key -----------------------------------------------------------------

export function revokePage(o: { csrfToken: string; name: string; serial: string | null; reason?: string; error?: string; message?: string }): Html {
  const path = certificatePath(o.name);
  return layout(
    { title: `Revoke ${o.name}`, session: session(o.csrfToken), flash: o.message ? [{ kind: 'error', message: o.message }] : [] },
    html`<p class="breadcrumb"><a href="/certificates">Certificates</a> / <a href="${path}">${o.name}</a></p>
<h1>Revoke ${o.name}?</h1>
<p>The CA marks the certificate${o.serial ? html` with serial <code>${o.serial}</code>` : null} as revoked: clients that check revocation stop trusting it, and Certkeep stops renewing it. This cannot be undone.</p>
<form method="post" action="${path}/revoke">
  ${csrfField(o.csrfToken)}
  ${selectField({
    name: 'reason',
    label: 'Reason (RFC 5280)',
    options: REVOCATION_REASONS.map((r) => ({ value: String(r.code), label: r.label })),
    value: o.reason ?? '0',
    error: o.error,
    hint: 'keyCompromise if the private key may be known to others; superseded when another certificate replaced it.',
  })}
  <div class="actions">${button('Revoke the certificate', { variant: 'danger' })}${linkButton(path, 'Cancel')}</div>
</form>`,
  );
}

export function deleteCertificatePage(o: { csrfToken: string; name: string; message?: string }): Html {
  const path = certificatePath(o.name);
  return layout(
    { title: `Delete ${o.name}`, session: session(o.csrfToken), flash: o.message ? [{ kind: 'error', message: o.message }] : [] },
    html`<p class="breadcrumb"><a href="/certificates">Certificates</a> / <a href="${path}">${o.name}</a></p>
<h1>Delete ${o.name}?</h1>
<p>The certificate, its order history and its two API keys are removed; servers can no longer download it. The CA is not told (revoke it first if the key may be exposed). Its key stays.</p>
<form method="post" action="${path}/delete">
  ${csrfField(o.csrfToken)}
  <div class="actions">${button('Delete the certificate', { variant: 'danger' })}${linkButton(path, 'Cancel')}</div>
</form>`,
  );
}

export function editCertificatePage(o: {
  csrfToken: string;
  name: string;
  values: URLSearchParams;
  errors: Readonly<Record<string, string>>;
  dnsProviders: readonly SelectOption[];
  message?: string;
}): Html {
  const path = certificatePath(o.name);
  const v = (k: string) => o.values.get(k) ?? '';
  return layout(
    { title: `Edit ${o.name}`, session: session(o.csrfToken), flash: o.message ? [{ kind: 'error', message: o.message }] : [] },
    html`<p class="breadcrumb"><a href="/certificates">Certificates</a> / <a href="${path}">${o.name}</a></p>
<h1>Edit ${o.name}</h1>
<p>Changes apply to the next issuance; the served certificate stays until then. New names make the certificate due at once.</p>
<form method="post" action="${path}/edit" novalidate>
  ${csrfField(o.csrfToken)}
  ${textareaField({ name: 'domains', label: 'Domain names', value: v('domains'), required: true, rows: 4, error: o.errors.domains, hint: 'One per line, or separated by commas or semicolons. The first is the subject.' })}
  ${challengeFields(o)}
  ${field({ name: 'preferredChain', label: 'Preferred chain', value: v('preferredChain'), error: o.errors.preferredChain, hint: 'The common name of the root to chain to when the CA offers alternatives; empty for the CA’s default.' })}
  <div class="actions">${button('Save', { variant: 'primary' })}${linkButton(path, 'Cancel')}</div>
</form>`,
  );
}

export function certificateKeyPage(o: {
  csrfToken: string;
  name: string;
  currentKey: string | null;
  keys: readonly SelectOption[] | null;
  values: URLSearchParams;
  errors: Readonly<Record<string, string>>;
  message?: string;
}): Html {
  const path = certificatePath(o.name);
  const v = (k: string) => o.values.get(k) ?? '';
  return layout(
    { title: `Key of ${o.name}`, session: session(o.csrfToken), flash: o.message ? [{ kind: 'error', message: o.message }] : [] },
    html`<p class="breadcrumb"><a href="/certificates">Certificates</a> / <a href="${path}">${o.name}</a></p>
<h1>Use another key for ${o.name}</h1>
<p>The next issuance uses the chosen key${o.currentKey ? html` instead of <strong>${o.currentKey}</strong>` : null}. The served certificate and its key stay as they are until that issuance succeeds; “Request now” on the certificate's page does it at once.</p>
<form method="post" action="${path}/key" novalidate>
  ${csrfField(o.csrfToken)}
  ${keyField({ keys: o.keys, placeholder: 'A new key', value: v('key'), error: o.errors.key })}
  <fieldset>
    <legend>A new key</legend>
    ${selectField({ name: 'keyType', label: 'Type of the new key', options: KEY_TYPE_OPTIONS, value: v('keyType') || 'ec-p256', error: o.errors.keyType })}
    ${field({ name: 'keyName', label: 'Name of the new key', value: v('keyName'), error: o.errors.keyName, hint: `Empty for ${o.name}-2 (or the next free number).`, attributes: { autocomplete: 'off', spellcheck: 'false', maxlength: 64 } })}
  </fieldset>
  <div class="actions">${button('Use this key', { variant: 'primary' })}${linkButton(path, 'Cancel')}</div>
</form>`,
  );
}

/** The API keys of a key made by "Use another key", shown once. */
export function newKeyShown(o: { origin: string | null; keyName: string; apiKeys: readonly string[] }): Html {
  return shownOnce({
    heading: `API keys of the new key ${o.keyName}`,
    keys: o.apiKeys.map((value, i) => ({ label: `Key API key ${i + 1}`, id: `key-${i + 1}`, value })),
    commands: downloadCommands({ origin: o.origin, key: { name: o.keyName, apiKey: o.apiKeys[0] } }),
  });
}

/** A replaced certificate API key, shown once. */
export function replacedApiKeyShown(o: { origin: string | null; name: string; slot: number; apiKey: string; agent?: Html }): Html {
  return shownOnce({
    heading: `New API key ${o.slot}`,
    keys: [{ label: `Certificate API key ${o.slot}`, id: `certificate-${o.slot}`, value: o.apiKey }],
    extra: html`<p>The old API key ${o.slot} no longer works; API key ${o.slot === 1 ? 2 : 1} is unchanged.</p>`,
    commands: html`${downloadCommands({ origin: o.origin, certificate: { name: o.name, apiKey: o.apiKey } })}${o.agent ?? null}`,
  });
}

export const CERTIFICATE_NOTICES: Readonly<Record<string, string>> = {
  revoked: 'The certificate was revoked. Certkeep no longer renews it.',
  edited: 'Saved.',
  'edited-reissue': 'Saved. An order for the new names starts as soon as an order slot is free.',
  'key-changed': 'The next issuance uses the chosen key.',
  deleted: 'The certificate was deleted.',
};
