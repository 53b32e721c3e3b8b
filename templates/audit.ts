// The audit log page: who did what to which object, from where, with what outcome, newest first,
// with the API's filters (a GET form, so a filtered view is a link) and its paging, and the same
// records as a JSON lines download.
import { html, type Html } from '../src/html/html.ts';
import { layout } from './layout.ts';
import { button, field, linkButton, selectField, table, type SelectOption } from './components.ts';
import { cursorPager } from './pager.ts';
import { formatTime } from './format.ts';
import { wrappable } from './details.ts';
import { AUDIT_ACTIONS } from '../src/domain/audit.ts';

export const AUDIT_PATH = '/audit';
export const AUDIT_EXPORT_PATH = '/audit/export';
/** Records on one page. */
export const AUDIT_PER_PAGE = 50;

export interface AuditItem {
  id: number;
  at: number;
  actorKind: string;
  actorName: string;
  action: string;
  objectKind: string | null;
  objectName: string | null;
  clientIp: string | null;
  outcome: 'ok' | 'refused' | 'failed';
  count: number;
  lastAt: number | null;
  detail: string | null;
}

export interface AuditPageOptions {
  csrfToken: string;
  items: readonly AuditItem[];
  next: string | null;
  /** The filters as given (also kept by the pager and the export link). */
  values: URLSearchParams;
  url: URL;
  /** A filter the list refused, with why. */
  errors?: Readonly<Record<string, string>>;
}

const ACTOR_KINDS: Record<string, string> = {
  user: 'user',
  token: 'admin token',
  'api-key': 'API key',
  anonymous: 'not signed in',
  cli: 'command line',
  system: 'Certkeep',
};

const OUTCOMES: readonly SelectOption[] = [
  { value: 'ok', label: 'Done' },
  { value: 'refused', label: 'Refused' },
  { value: 'failed', label: 'Failed' },
];

const outcomeBadge = (o: AuditItem['outcome']) =>
  html`<span class="badge ${o === 'ok' ? 'valid' : o === 'refused' ? 'revoked' : 'invalid'}">${OUTCOMES.find((x) => x.value === o)!.label}</span>`;

/** The record's facts in words: its detail (never a secret), key by key. */
function details(item: AuditItem): Html | null {
  if (!item.detail) return null;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(item.detail) as Record<string, unknown>;
  } catch {
    return null;
  }
  const text = Object.entries(parsed)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('; ');
  return text ? html`<br><span class="hint">${wrappable(text)}</span>` : null;
}

function when(item: AuditItem): Html {
  if (item.count > 1 && item.lastAt !== null) return html`${formatTime(item.at)}<br><span class="hint">to ${formatTime(item.lastAt)}</span>`;
  return html`${formatTime(item.at)}`;
}

export function auditPage(o: AuditPageOptions): Html {
  const errors = o.errors ?? {};
  const value = (k: string) => o.values.get(k) ?? '';
  const filtered = [...o.values.keys()].some((k) => k !== 'cursor' && value(k) !== '');
  const exportQuery = new URLSearchParams([...o.values].filter(([k, v]) => k !== 'cursor' && v !== ''));
  const actions: SelectOption[] = Object.entries(AUDIT_ACTIONS).map(([a, meaning]) => ({ value: a, label: `${a} — ${meaning}` }));
  if (value('action') && !actions.some((a) => a.value === value('action'))) actions.push({ value: value('action'), label: value('action') });
  return layout(
    { title: 'Audit log', session: { csrfToken: o.csrfToken, section: 'audit' } },
    html`<h1>Audit log</h1>
<p>Who changed what, from which address, and who downloaded which certificate and key. Downloads are counted per server and hour: one line per certificate or key, API key, address, outcome and hour. Records are sealed into a chain a minute or so after they are written (downloads once their hour has ended); <code>certkeep audit verify</code> checks that none was changed, removed or inserted since. How long records are kept is a <a href="/settings#audit-retention">setting</a>.</p>
<form method="get" action="${AUDIT_PATH}" role="search" class="list-filters">
  ${field({ name: 'actor', label: 'Who', value: value('actor'), error: errors.actor, hint: 'An email, a token’s name, or “certificate www, API key 1”, as shown below.', attributes: { autocomplete: 'off', spellcheck: 'false' } })}
  ${selectField({ name: 'action', label: 'What', options: actions, placeholder: 'Everything', value: value('action'), error: errors.action })}
  ${field({ name: 'object', label: 'Object', value: value('object'), error: errors.object, hint: 'A certificate’s, key’s or account’s name, or a user’s email.', attributes: { autocomplete: 'off', spellcheck: 'false' } })}
  ${selectField({ name: 'outcome', label: 'Outcome', options: OUTCOMES, placeholder: 'Any', value: value('outcome'), error: errors.outcome })}
  ${field({ name: 'since', label: 'From (UTC)', value: value('since'), error: errors.since, hint: 'A date, 2030-05-01, or a date and time, 2030-05-01T12:00Z.', attributes: { autocomplete: 'off', spellcheck: 'false', placeholder: 'YYYY-MM-DD' } })}
  ${field({ name: 'until', label: 'Before (UTC)', value: value('until'), error: errors.until, attributes: { autocomplete: 'off', spellcheck: 'false', placeholder: 'YYYY-MM-DD' } })}
  <div class="actions">${button('Show')}${filtered ? linkButton(AUDIT_PATH, 'Show all') : null}</div>
</form>
<div class="actions">${linkButton(`${AUDIT_EXPORT_PATH}${exportQuery.size ? `?${exportQuery}` : ''}`, filtered ? 'Download these records (JSON lines)' : 'Download all records (JSON lines)')}</div>
${table({
  caption: 'Audit records, newest first',
  captionHidden: true,
  columns: [
    { label: 'When', cell: (r: AuditItem) => when(r) },
    { label: 'Who', cell: (r: AuditItem) => html`${wrappable(r.actorName)}<br><span class="hint">${ACTOR_KINDS[r.actorKind] ?? r.actorKind}</span>` },
    { label: 'What', cell: (r: AuditItem) => html`<code>${r.action}</code>${details(r)}` },
    { label: 'Object', cell: (r: AuditItem) => (r.objectName ? html`${wrappable(r.objectName)}${r.objectKind ? html`<br><span class="hint">${r.objectKind}</span>` : null}` : '—') },
    { label: 'From', cell: (r: AuditItem) => (r.clientIp ? html`<code>${wrappable(r.clientIp)}</code>` : '—') },
    { label: 'Outcome', cell: (r: AuditItem) => outcomeBadge(r.outcome) },
    { label: 'Times', numeric: true, cell: (r: AuditItem) => String(r.count) },
  ],
  rows: o.items,
  empty: filtered ? 'No record matches these filters.' : o.url.searchParams.has('cursor') ? 'No more records.' : 'Nothing recorded yet.',
})}
${cursorPager({ url: o.url, next: o.next, label: 'Pages of audit records' })}`,
  );
}
