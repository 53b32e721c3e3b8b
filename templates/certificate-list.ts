// The certificates list page: search, a filter by state (failing, expiring within N days,
// waiting, …), a sort (name, expiry), and pages of a fixed size with "Next page" / "First page"
// links (src/domain/certificate-list.ts reads them along an index). A plain GET form: it works
// without JavaScript; with it, htmx swaps the results as the search is typed.
import { attrs, html, type Html } from '../src/html/html.ts';
import type { CertificateStatus } from '../src/domain/certificates.ts';
import type { AcmeProblem } from '../src/acme/types.ts';
import { layout, type Flash } from './layout.ts';
import { badge, button, field, linkButton, selectField, type SelectOption } from './components.ts';
import { formatDate, formatTime, relativeDays } from './format.ts';
import { cursorPager, liveFilters } from './pager.ts';
import { certificatePath, NEW_CERTIFICATE_PATH } from './certificates.ts';

/** Page size of the list. */
export const CERTIFICATES_PER_PAGE = 25;

export interface CertificateListItem {
  name: string;
  status: CertificateStatus;
  domains: string[];
  notAfter: number | null;
  staging: boolean;
  keyName: string | null;
  lastError: AcmeProblem | null;
  nextAttemptAt: number | null;
}

/** The filter choices of the page: values of the list's `status` parameter. */
export const STATUS_FILTERS: readonly SelectOption[] = [
  { value: 'failing', label: 'Failing (the last attempt failed)' },
  { value: 'expiring', label: 'Expiring soon' },
  { value: 'new,pending', label: 'Waiting to be obtained' },
  { value: 'valid', label: 'Valid' },
  { value: 'invalid', label: 'Never obtained (failed)' },
  { value: 'expired', label: 'Expired' },
  { value: 'revoked', label: 'Revoked' },
];

export const SORTS: readonly SelectOption[] = [
  { value: 'name', label: 'Name, A to Z' },
  { value: '-name', label: 'Name, Z to A' },
  { value: 'expiry', label: 'Expiry, soonest first' },
  { value: '-expiry', label: 'Expiry, latest first' },
];

export interface CertificateListOptions {
  csrfToken: string;
  items: readonly CertificateListItem[];
  /** The next page's cursor, or null on the last page. */
  next: string | null;
  /** How many match the filter (counted only without a search), else null. */
  total: number | null;
  query: string;
  status: string;
  days: number;
  sort: string;
  url: URL;
  now: number;
  flash?: readonly Flash[];
}

function namesSummary(domains: readonly string[]): Html {
  if (domains.length === 0) return html`—`;
  const more = domains.length - 1;
  return html`${domains[0]}${more > 0 ? ` and ${more} more` : null}`;
}

function expiry(notAfter: number | null, now: number): Html {
  if (notAfter === null) return html`—`;
  return html`${formatDate(notAfter)}<br><span class="muted">${relativeDays(notAfter, now)}</span>`;
}

function stateCell(c: CertificateListItem): Html {
  const failing = c.lastError ? html`<br><span class="muted">failing${c.nextAttemptAt ? html`, next attempt ${formatTime(c.nextAttemptAt)}` : null}</span>` : null;
  return html`${badge(c.status)}${failing}`;
}

function summary(o: CertificateListOptions): Html {
  const filter = STATUS_FILTERS.find((f) => f.value === o.status);
  const what = filter ? html` (${o.status === 'expiring' ? html`expiring within ${o.days} days` : filter.label.toLowerCase()})` : null;
  if (o.query) return html`Certificates matching “${o.query}”${what}.`;
  if (o.total !== null) return html`${o.total} certificate${o.total === 1 ? '' : 's'}${what}.`;
  return html`Certificates${what}.`;
}

/** The part htmx swaps when the search or a filter changes: summary, table and paging. */
export function certificateResults(o: CertificateListOptions): Html {
  const rows = o.items.map(
    (c) => html`<tr>
<td data-label="Certificate"><a href="${certificatePath(c.name)}">${c.name}</a>${c.staging ? html` <span class="badge">staging</span>` : null}<br><span class="muted">${namesSummary(c.domains)}</span></td>
<td data-label="State">${stateCell(c)}</td>
<td data-label="Expires">${expiry(c.notAfter, o.now)}</td>
<td data-label="Key">${c.keyName ? html`<a href="/keys/${encodeURIComponent(c.keyName)}">${c.keyName}</a>` : '—'}</td>
</tr>`,
  );
  const filtered = o.query || o.status;
  const empty = filtered
    ? html`No certificate matches${o.query ? html` “${o.query}”` : null}${o.status ? ' this filter' : null}.`
    : o.url.searchParams.has('cursor')
      ? html`No more certificates.`
      : html`No certificates yet. <a href="${NEW_CERTIFICATE_PATH}">Create the first one</a>.`;
  return html`<div id="certificate-results">
<p class="muted" role="status">${summary(o)}</p>
<div class="table-wrap"><table class="stack">
<caption class="visually-hidden">Certificates</caption>
<thead><tr><th scope="col">Certificate</th><th scope="col">State</th><th scope="col">Expires</th><th scope="col">Key</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td class="empty" colspan="4">${empty}</td></tr>`}</tbody>
</table></div>
${cursorPager({ url: o.url, next: o.next, label: 'Pages of certificates' })}
</div>`;
}

export function certificateListPage(o: CertificateListOptions): Html {
  return layout(
    { title: 'Certificates', session: { csrfToken: o.csrfToken, section: 'certificates' }, flash: o.flash },
    html`<h1>Certificates</h1>
<div class="actions">${linkButton(NEW_CERTIFICATE_PATH, 'New certificate', 'primary')}</div>
<form method="get" action="/certificates" role="search" class="list-filters"${attrs(liveFilters({ path: '/certificates', results: 'certificate-results', filters: ['status', 'days', 'sort'] }))}>
  ${field({ name: 'q', label: 'Search by name or domain', type: 'search', value: o.query, attributes: { autocomplete: 'off', spellcheck: 'false' } })}
  ${selectField({ name: 'status', label: 'Show', options: STATUS_FILTERS, placeholder: 'All certificates', value: o.status })}
  ${field({ name: 'days', label: 'Expiring within (days)', type: 'number', value: o.days, hint: 'For “Expiring soon”.', attributes: { min: 1, max: 3650, inputmode: 'numeric' } })}
  ${selectField({ name: 'sort', label: 'Sort by', options: SORTS, value: o.sort })}
  <div class="actions">${button('Search')}${o.query || o.status || o.url.searchParams.has('sort') ? linkButton('/certificates', 'Show all') : null}</div>
</form>
${certificateResults(o)}`,
  );
}
