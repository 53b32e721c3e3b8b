// Paging through a keyset list (src/domain/paging.ts): "Next page" carries the list's cursor, and
// "First page" leaves it out; every other parameter (search, filters, sort) stays in both links.
// Plain links, so paging works without JavaScript.
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
