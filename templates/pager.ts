// A keyset list's page (src/domain/paging.ts): its filter form, live with htmx, and paging
// through it: "Next page" carries the list's cursor, and "First page" leaves it out; every other
// parameter (search, filters, sort) stays in both links. Plain links and a plain GET form, so
// searching and paging work without JavaScript.
import { html, type Html } from '../src/html/html.ts';

export function cursorPager(o: { url: URL; next: string | null; label?: string }): Html {
  const href = (cursor: string | null) => {
    const u = new URL(o.url.href);
    u.searchParams.delete('notice');
    if (cursor) u.searchParams.set('cursor', cursor);
    else u.searchParams.delete('cursor');
    return u.pathname + u.search;
  };
  const later = o.url.searchParams.has('cursor');
  if (!later && !o.next) return html``;
  return html`<nav class="pagination" aria-label="${o.label ?? 'Pages'}"><ul>
${later ? html`<li><a href="${href(null)}" rel="first">First page</a></li>` : null}${o.next ? html`<li><a href="${href(o.next)}" rel="next">Next page</a></li>` : null}
</ul></nav>`;
}

/**
 * htmx attributes of a list's filter form (`<form method="get">` with a search box named `q`):
 * the results follow the search box as one types (after a pause) and each other filter as it
 * changes, and only the results are swapped. The search box's own `change`, fired when it loses
 * focus — as a click on one of the results begins — sends nothing: the answer to it, swapped in
 * between the press and the release of the button, replaced the link and so lost the click.
 */
export function liveFilters(o: { path: string; results: string; filters: readonly string[] }): Record<string, string> {
  return {
    'hx-get': o.path,
    'hx-trigger': ['input changed delay:300ms from:#field-q', ...o.filters.map((name) => `change from:#field-${name}`), 'submit'].join(', '),
    'hx-target': `#${o.results}`,
    'hx-select': `#${o.results}`,
    'hx-swap': 'outerHTML',
    'hx-push-url': 'true',
  };
}
