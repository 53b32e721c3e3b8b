// The tracking pages (Certera's tracking page): the merged list of certificates seen on servers,
// uploaded, and served by Certkeep, with days left and badges (expired; expiring: amber under 21
// days, red under 7, as Certera; untrusted chain; name mismatch; unreachable); the page to add a
// server or upload certificates; one target with its history and "Scan now"; delete. On a Worker
// there are no scans, and the pages say so. The certificate page's "On your servers, as scanned"
// part (renewed but never deployed) is here too.
import { attrs, html, type Html } from '../src/html/html.ts';
import type { Deployment } from '../src/domain/tracking/deployments.ts';
import { layout, type Flash } from './layout.ts';
import { button, csrfField, field, linkButton, postButton, selectField, table, textareaField, type SelectOption } from './components.ts';
import { detailsTable } from './details.ts';
import { formatDate, formatTime } from './format.ts';
import { cursorPager, liveFilters } from './pager.ts';

export const TRACKING_PATH = '/tracking';
export const NEW_TRACKING_PATH = '/tracking/-/new';
export const TRACKING_PER_PAGE = 25;
export const trackingPath = (id: string) => `/tracking/${encodeURIComponent(id)}`;
/** As templates/certificates.ts writes it (not imported: that module shows this one's section). */
const certificatePath = (name: string) => `/certificates/${encodeURIComponent(name)}`;

const DAY = 86_400_000;
const session = (csrfToken: string) => ({ csrfToken, section: 'tracking' as const });

export type Source = 'url' | 'upload' | 'issued';

export interface TrackedItem {
  id: string;
  source: Source;
  target: string | null;
  starttls: string | null;
  subject: string | null;
  sans: string[];
  issuer: string | null;
  serial: string | null;
  sha256: string | null;
  notBefore: number | null;
  notAfter: number | null;
  chainValid: boolean | null;
  chainError: string | null;
  nameMatches: boolean | null;
  lastScanAt: number | null;
  lastError: string | null;
  changedAt: number | null;
  problems: string[];
  /** The Certkeep certificate it is (issued) or presents (a server presenting one Certkeep serves). */
  certificate: string | null;
}

export const SOURCE_LABELS: Record<Source, string> = { url: 'Server', upload: 'Uploaded', issued: 'Issued here' };

/** How many days are left (whole days, negative once expired). */
function daysLeftOf(notAfter: number, now: number): number {
  return Math.floor((notAfter - now) / DAY);
}

/** Days left as a badge: red once expired and under 7 days, amber under 21, plain otherwise. */
export function expiryBadge(notAfter: number | null, now: number): Html {
  if (notAfter === null) return html`<span class="badge new">Not scanned yet</span>`;
  const days = daysLeftOf(notAfter, now);
  if (notAfter <= now) return html`<span class="badge expired">Expired</span>`;
  const words = days === 0 ? 'under a day left' : `${days} day${days === 1 ? '' : 's'} left`;
  if (days < 7) return html`<span class="badge expired">${words}</span>`;
  if (days < 21) return html`<span class="badge pending">${words}</span>`;
  return html`<span class="muted">${words}</span>`;
}

/** The problems of a target as badges (the word carries the meaning; colour only helps). */
export function problemBadges(i: Pick<TrackedItem, 'problems' | 'chainValid' | 'nameMatches'>): Html {
  const badges: Html[] = [];
  if (i.problems.includes('unreachable')) badges.push(html`<span class="badge invalid">Unreachable</span>`);
  if (i.chainValid === false) badges.push(html`<span class="badge invalid">Untrusted</span>`);
  if (i.nameMatches === false) badges.push(html`<span class="badge invalid">Name mismatch</span>`);
  return html`${badges.map((b, n) => (n ? html` ${b}` : b))}`;
}

function whatCell(i: TrackedItem): Html {
  const name = i.subject ?? i.target ?? i.id;
  const under =
    i.source === 'url'
      ? html`<br><span class="muted">${i.target}${i.starttls ? ` (${i.starttls.toUpperCase()} STARTTLS)` : ''}</span>`
      : i.certificate
        ? html`<br><span class="muted">certificate ${i.certificate}</span>`
        : null;
  return html`<a href="${trackingPath(i.id)}">${name}</a>${under}`;
}

function expiresCell(i: TrackedItem, now: number): Html {
  if (i.notAfter === null) return expiryBadge(null, now);
  return html`${formatDate(i.notAfter)}<br>${expiryBadge(i.notAfter, now)}`;
}

// ---- list ------------------------------------------------------------------------------------------

export const STATUS_FILTERS: readonly SelectOption[] = [
  { value: 'problems', label: 'With a problem' },
  { value: 'expired,expiring', label: 'Expired or expiring soon' },
  { value: 'expired', label: 'Expired' },
  { value: 'expiring', label: 'Expiring soon' },
  { value: 'unreachable', label: 'Unreachable' },
  { value: 'untrusted', label: 'Untrusted chain' },
  { value: 'mismatch', label: 'Name mismatch' },
];

export const SOURCE_FILTERS: readonly SelectOption[] = [
  { value: 'url', label: 'Servers' },
  { value: 'upload', label: 'Uploaded' },
  { value: 'issued', label: 'Issued here' },
];

export const SORTS: readonly SelectOption[] = [
  { value: 'expiry', label: 'Expiry, soonest first' },
  { value: '-expiry', label: 'Expiry, latest first' },
  { value: 'problems', label: 'Problems first' },
  { value: 'subject', label: 'Subject, A to Z' },
  { value: '-subject', label: 'Subject, Z to A' },
  { value: 'source', label: 'Source' },
];

export interface TrackingListOptions {
  csrfToken: string;
  items: readonly TrackedItem[];
  next: string | null;
  counts: { expired: number; expiringSoon: number; problems: number };
  query: string;
  status: string;
  source: string;
  days: number;
  sort: string;
  url: URL;
  now: number;
  /** Node host: scans run here, every `scanHours`. Null on a Worker. */
  scanHours: number | null;
  scanHoursError?: string;
  flash?: readonly Flash[];
}

function summary(o: TrackingListOptions): Html {
  const c = o.counts;
  const parts: Html[] = [];
  if (c.expired) parts.push(html`<a href="${TRACKING_PATH}?status=expired">${c.expired} expired</a>`);
  if (c.expiringSoon) parts.push(html`<a href="${TRACKING_PATH}?status=expiring&amp;days=21&amp;sort=expiry">${c.expiringSoon} expiring within 21 days</a>`);
  if (c.problems) parts.push(html`<a href="${TRACKING_PATH}?status=problems">${c.problems} with a problem</a>`);
  return parts.length ? html`Needs attention: ${parts.map((p, i) => (i ? html`, ${p}` : p))}.` : html`Nothing expired, nothing expiring within 21 days, no problems.`;
}

export function trackingResults(o: TrackingListOptions): Html {
  const filtered = o.query || o.status || o.source;
  const empty = filtered
    ? html`Nothing tracked matches${o.query ? html` “${o.query}”` : null}${o.status || o.source ? ' this filter' : null}.`
    : o.url.searchParams.has('cursor')
      ? html`Nothing more.`
      : html`Nothing tracked yet. <a href="${NEW_TRACKING_PATH}">Add a server or upload a certificate</a>; the certificates Certkeep obtains appear here by themselves.`;
  return html`<div id="tracking-results">
<p class="muted" role="status">${summary(o)}</p>
${table<TrackedItem>({
  caption: 'Tracked certificates',
  captionHidden: true,
  columns: [
    { label: 'Certificate', cell: (i) => whatCell(i) },
    { label: 'Source', cell: (i) => SOURCE_LABELS[i.source] },
    { label: 'Issuer', cell: (i) => i.issuer ?? '—' },
    { label: 'Expires', cell: (i) => expiresCell(i, o.now) },
    { label: 'Problems', cell: (i) => (i.problems.length || i.chainValid === false || i.nameMatches === false ? problemBadges(i) : html`<span class="muted">none</span>`) },
    { label: 'Last scanned', cell: (i) => (i.source === 'url' ? (i.lastScanAt ? formatTime(i.lastScanAt) : 'not yet') : html`<span class="muted">not scanned</span>`) },
  ],
  rows: o.items,
  empty,
})}
${cursorPager({ url: o.url, next: o.next, label: 'Pages of tracked certificates' })}
</div>`;
}

function scanSettings(o: TrackingListOptions): Html {
  if (o.scanHours === null) {
    return html`<p><strong>Scans are a node-host feature.</strong> This server runs as a Cloudflare Worker, which cannot open raw TLS connections: servers are not scanned here. Uploaded certificates and the ones Certkeep obtains are tracked; for a server’s certificate, upload it.</p>`;
  }
  return html`<form method="post" action="/tracking/-/settings" novalidate>
  ${csrfField(o.csrfToken)}
  ${field({
    name: 'scanHours',
    label: 'Scan servers every (hours)',
    type: 'number',
    value: o.scanHours,
    error: o.scanHoursError,
    hint: '1 to 168. Each server is also scanned when it is added and on “Scan now”.',
    attributes: { min: 1, max: 168, step: 1, inputmode: 'numeric' },
  })}
  <div class="actions">${button('Save')}</div>
</form>`;
}

export function trackingListPage(o: TrackingListOptions): Html {
  return layout(
    { title: 'Tracking', session: session(o.csrfToken), flash: o.flash },
    html`<h1>Tracking</h1>
<p>Certificates seen on your servers, uploaded, or obtained by Certkeep, in one list: when each expires, and whether servers present a chain clients trust, for the right name.</p>
<div class="actions">${linkButton(NEW_TRACKING_PATH, 'Add a server or certificate', 'primary')}</div>
<form method="get" action="${TRACKING_PATH}" role="search" class="list-filters"${attrs(liveFilters({ path: TRACKING_PATH, results: 'tracking-results', filters: ['status', 'source', 'days', 'sort'] }))}>
  ${field({ name: 'q', label: 'Search by name or server', type: 'search', value: o.query, attributes: { autocomplete: 'off', spellcheck: 'false' } })}
  ${selectField({ name: 'status', label: 'Show', options: STATUS_FILTERS, placeholder: 'Everything', value: o.status })}
  ${selectField({ name: 'source', label: 'Source', options: SOURCE_FILTERS, placeholder: 'All sources', value: o.source })}
  ${field({ name: 'days', label: 'Expiring within (days)', type: 'number', value: o.days, hint: 'For “Expiring soon”.', attributes: { min: 1, max: 3650, inputmode: 'numeric' } })}
  ${selectField({ name: 'sort', label: 'Sort by', options: SORTS, value: o.sort })}
  <div class="actions">${button('Search')}${o.query || o.status || o.source || o.url.searchParams.has('sort') ? linkButton(TRACKING_PATH, 'Show all') : null}</div>
</form>
${trackingResults(o)}
<section aria-labelledby="scans-heading"><h2 id="scans-heading">Scans</h2>
${scanSettings(o)}
</section>`,
  );
}

// ---- add -------------------------------------------------------------------------------------------

export const STARTTLS_OPTIONS: readonly SelectOption[] = [
  { value: 'smtp', label: 'SMTP (port 25 unless given)' },
  { value: 'imap', label: 'IMAP (port 143 unless given)' },
  { value: 'pop3', label: 'POP3 (port 110 unless given)' },
];

export interface NewTrackingOptions {
  csrfToken: string;
  /** Node host: servers can be added. */
  canScan: boolean;
  form?: 'url' | 'upload';
  values: URLSearchParams;
  errors: Readonly<Record<string, string>>;
  message?: string;
}

export function newTrackingPage(o: NewTrackingOptions): Html {
  const mine = (form: 'url' | 'upload') => (o.form === form ? { v: (k: string) => o.values.get(k) ?? '', e: o.errors } : { v: () => '', e: {} as Record<string, string> });
  const url = mine('url');
  const up = mine('upload');
  const serverPart = o.canScan
    ? html`<form method="post" action="${TRACKING_PATH}" novalidate>
  ${csrfField(o.csrfToken)}
  <input type="hidden" name="source" value="url">
  ${field({ name: 'url', label: 'Server', value: url.v('url'), required: true, error: url.e.url, hint: html`<code>[https://]host[:port]</code>: a name or an IP address (IPv6 in brackets, <code>[2001:db8::1]:8443</code>); port 443 unless given.`, attributes: { autocomplete: 'off', spellcheck: 'false', inputmode: 'url', maxlength: 300 } })}
  ${selectField({ name: 'starttls', label: 'STARTTLS', options: STARTTLS_OPTIONS, placeholder: 'None: TLS from the start', value: url.v('starttls'), error: url.e.starttls, hint: 'For a mail server that starts in plain text. Ports 465, 993 and 995 speak TLS from the start: choose None.' })}
  <div class="actions">${button('Add and scan', { variant: 'primary' })}</div>
</form>`
    : html`<p><strong>Scans are a node-host feature.</strong> This server runs as a Cloudflare Worker, which cannot open raw TLS connections: it cannot scan servers. Upload the server’s certificate below instead, or run the node host to scan.</p>`;
  return layout(
    { title: 'Add to tracking', session: session(o.csrfToken), flash: o.message ? [{ kind: 'error', message: o.message }] : [] },
    html`<p class="breadcrumb"><a href="${TRACKING_PATH}">Tracking</a></p>
<h1>Add to tracking</h1>
<section aria-labelledby="server-heading">
<h2 id="server-heading">A server</h2>
<p>Certkeep connects to it, reads the certificate it presents (any certificate is accepted and recorded), checks the chain and the name, and scans it again every few hours.</p>
${serverPart}
</section>
<section aria-labelledby="upload-heading">
<h2 id="upload-heading">Certificates</h2>
<p>Public certificates to watch for expiry, as PEM text or a PEM or DER file; several in one go. A file with a private key in it is refused and nothing is stored.</p>
<form method="post" action="${TRACKING_PATH}" enctype="multipart/form-data" novalidate>
  ${csrfField(o.csrfToken)}
  <input type="hidden" name="source" value="upload">
  ${textareaField({ name: 'pem', label: 'Certificates (PEM)', rows: 8, value: up.v('pem'), error: up.e.pem, hint: 'Paste them here, or choose a file below.', attributes: { autocomplete: 'off' } })}
  ${field({ name: 'file', label: 'Or a certificate file', type: 'file', error: up.e.file, hint: 'PEM or DER (.pem, .crt, .cer, .der), at most 256 KiB.', attributes: { accept: '.pem,.crt,.cer,.der,application/x-pem-file,application/pkix-cert' } })}
  <div class="actions">${button('Upload', { variant: 'primary' })}</div>
</form>
</section>
<div class="actions">${linkButton(TRACKING_PATH, 'Cancel')}</div>`,
  );
}

// ---- one target ------------------------------------------------------------------------------------

export interface HistoryItem {
  sha256: string;
  serial: string;
  subject: string;
  issuer: string;
  notAfter: number;
  seenAt: number;
}

export interface TrackingDetailOptions {
  csrfToken: string;
  item: TrackedItem;
  history: readonly HistoryItem[];
  now: number;
  canScan: boolean;
  flash?: readonly Flash[];
}

const spaced = (hex: string) => hex.replace(/(.{8})(?=.)/g, '$1 ');

function chainWords(i: TrackedItem): Html {
  if (i.chainValid === null) return html`<span class="muted">not checked${i.source === 'url' ? ' yet' : ' (no server presents it)'}</span>`;
  if (i.chainValid) return html`trusted${i.chainError ? html` (the chain leads to a trusted root; <code>${i.chainError}</code> is about its dates)` : null}`;
  return html`<span class="badge invalid">Untrusted</span> <code>${i.chainError ?? 'not verified'}</code>: it does not lead to a root of this system or to one of Certkeep’s own CAs`;
}

function nameWords(i: TrackedItem): Html {
  if (i.nameMatches === null) return html`<span class="muted">not checked${i.source === 'url' ? ' yet' : ' (no server presents it)'}</span>`;
  return i.nameMatches ? html`valid for ${i.target?.replace(/:\d+$/, '')}` : html`<span class="badge invalid">Name mismatch</span> not valid for ${i.target?.replace(/:\d+$/, '')}`;
}

export function trackingDetailPage(o: TrackingDetailOptions): Html {
  const i = o.item;
  const path = trackingPath(i.id);
  const title = i.subject ?? i.target ?? 'Tracked certificate';
  const rows = [
    ...(i.source === 'url' ? [{ label: 'Server', value: html`<code>${i.target}</code>${i.starttls ? ` over ${i.starttls.toUpperCase()} STARTTLS` : ''}` }] : []),
    { label: 'Source', value: i.source === 'issued' && i.certificate ? html`Issued here: the certificate <a href="${certificatePath(i.certificate)}">${i.certificate}</a>` : SOURCE_LABELS[i.source] },
    ...(i.source === 'url' && i.certificate ? [{ label: 'Certkeep certificate', value: html`it presents the current certificate <a href="${certificatePath(i.certificate)}">${i.certificate}</a>` }] : []),
    { label: 'Subject', value: i.subject ?? html`<span class="muted">not known yet</span>` },
    { label: 'Alternative names', value: i.sans.length ? i.sans.join(', ') : '—' },
    { label: 'Issuer', value: i.issuer ?? '—' },
    { label: 'Serial', value: i.serial ? html`<code>${i.serial}</code>` : '—' },
    { label: 'SHA-256', value: i.sha256 ? html`<code>${spaced(i.sha256)}</code>` : '—' },
    { label: 'Valid', value: i.notBefore !== null && i.notAfter !== null ? html`${formatTime(i.notBefore)} to ${formatTime(i.notAfter)}<br>${expiryBadge(i.notAfter, o.now)}` : '—' },
    ...(i.source === 'url'
      ? [
          { label: 'Chain', value: chainWords(i) },
          { label: 'Name', value: nameWords(i) },
          { label: 'Last scan', value: i.lastScanAt ? html`${formatTime(i.lastScanAt)}${i.lastError ? html`<br><span class="badge invalid">Unreachable</span> ${i.lastError}` : html` <span class="muted">(answered)</span>`}` : 'not yet' },
        ]
      : []),
    { label: i.source === 'url' ? 'Presents this since' : i.source === 'upload' ? 'Uploaded' : 'Obtained', value: i.changedAt ? formatTime(i.changedAt) : '—' },
  ];
  const scanPart =
    i.source !== 'url'
      ? null
      : o.canScan
        ? html`<div class="actions">${postButton({ action: `${path}/scan`, csrfToken: o.csrfToken, label: 'Scan now', variant: 'primary' })}</div>`
        : html`<p><strong>Scans are a node-host feature:</strong> this Worker cannot scan it.</p>`;
  const deletePart =
    i.source === 'issued'
      ? html`<p>Certkeep tracks the certificates it serves by themselves, as long as they exist${i.certificate ? html` (delete <a href="${certificatePath(i.certificate)}">the certificate</a> to remove it)` : null}.</p>`
      : html`<div class="actions">${linkButton(`${path}/delete`, 'Stop tracking…', 'danger')}</div>`;
  return layout(
    { title, session: session(o.csrfToken), flash: o.flash },
    html`<p class="breadcrumb"><a href="${TRACKING_PATH}">Tracking</a></p>
<h1>${title}</h1>
${i.problems.length || i.chainValid === false || i.nameMatches === false ? html`<p>${problemBadges(i)}</p>` : null}
${detailsTable('What it presents', rows)}
${scanPart}
<section aria-labelledby="history-heading"><h2 id="history-heading">History</h2>
<p>Each certificate it ${i.source === 'url' ? 'presented' : 'was'}, newest first; a new row only when it changed (the last 20 are kept).</p>
${table<HistoryItem>({
  caption: 'History',
  captionHidden: true,
  columns: [
    { label: 'Since', cell: (h) => html`<span class="nowrap">${formatTime(h.seenAt)}</span>` },
    { label: 'Certificate', cell: (h) => html`${h.subject}<br><span class="muted">serial <code>${h.serial}</code>, ${h.issuer}</span>` },
    { label: 'Valid until', cell: (h) => formatDate(h.notAfter) },
    { label: 'SHA-256', cell: (h) => html`<code>${h.sha256.slice(0, 16)}…</code>` },
  ],
  rows: o.history,
  empty: i.source === 'url' ? 'Nothing seen yet: it has not answered a scan.' : 'Nothing yet.',
})}
</section>
<section aria-labelledby="delete-heading"><h2 id="delete-heading">Stop tracking</h2>
${deletePart}
</section>`,
  );
}

export function deleteTrackingPage(o: { csrfToken: string; item: TrackedItem; message?: string }): Html {
  const path = trackingPath(o.item.id);
  const name = o.item.source === 'url' ? o.item.target! : (o.item.subject ?? o.item.id);
  return layout(
    { title: `Stop tracking ${name}`, session: session(o.csrfToken), flash: o.message ? [{ kind: 'error', message: o.message }] : [] },
    html`<p class="breadcrumb"><a href="${TRACKING_PATH}">Tracking</a> / <a href="${path}">${name}</a></p>
<h1>Stop tracking ${name}?</h1>
<p>${o.item.source === 'url' ? 'It is no longer scanned, and its history goes with it.' : 'The uploaded certificate and its history are removed.'} No notice about it is sent any more.</p>
<form method="post" action="${path}/delete">
  ${csrfField(o.csrfToken)}
  <div class="actions">${button('Stop tracking', { variant: 'danger' })}${linkButton(path, 'Cancel')}</div>
</form>`,
  );
}

export const TRACKING_NOTICES: Readonly<Record<string, string>> = {
  deleted: 'It is no longer tracked.',
  uploaded: 'The certificates were added.',
  saved: 'Saved.',
  added: 'The server was added and scanned.',
  scanned: 'Scanned just now.',
};

// ---- the certificate page: on the servers, as scanned ------------------------------------------


/**
 * Where tracked servers cover the certificate's names: whether each presents the current serial
 * ("renewed but never deployed" when not), and since when it presents an older one.
 */
export function deploymentsSection(o: { serial: string | null; issuedAt: number | null; deployments: readonly Deployment[]; now: number }): Html {
  const state = (d: Deployment): Html => {
    if (d.serial === null) return html`<span class="muted">not scanned yet${d.lastError ? html`: ${d.lastError}` : null}</span>`;
    if (d.current) return html`<span class="badge valid">Current</span> presents the current serial`;
    const since = d.since ? formatTime(d.since) : 'an earlier scan';
    const renewed = o.issuedAt ? html`, although the current one was obtained ${formatTime(o.issuedAt)}` : null;
    return d.earlier
      ? html`<span class="badge expired">Renewed but never deployed</span> still presents the earlier serial <code>${d.serial}</code> (since ${since})${renewed}`
      : html`<span class="badge pending">Another certificate</span> presents serial <code>${d.serial}</code>, not one of this certificate (since ${since})`;
  };
  return html`<section aria-labelledby="deployments-heading"><h2 id="deployments-heading">On the servers, as scanned</h2>
<p>Tracked servers whose name this certificate covers, and what they presented at their last scan${o.serial ? html` (the current serial is <code>${o.serial}</code>)` : null}.</p>
${table<Deployment>({
  caption: 'Tracked servers for this certificate',
  captionHidden: true,
  columns: [
    { label: 'Server', cell: (d) => html`<a href="${trackingPath(d.id)}">${d.target}</a>${d.starttls ? ` (${d.starttls.toUpperCase()})` : ''}` },
    { label: 'Presents', cell: state },
    { label: 'Last scan', cell: (d) => (d.lastScanAt ? html`<span class="nowrap">${formatTime(d.lastScanAt)}</span>${d.lastError && d.serial !== null ? html`<br><span class="muted">failed: ${d.lastError}</span>` : null}` : 'not yet') },
  ],
  rows: o.deployments,
})}
</section>`;
}
