// A record shown as a two-column table: one row per property, the property's name as the row
// header. Used by the detail pages (an ACME account, a DNS provider) so that screen readers
// announce each value with its name and the page reuses the table styling.
import { html, type Html, type HtmlValue } from '../src/html/html.ts';

export interface DetailRow {
  label: HtmlValue;
  value: HtmlValue;
}

export function detailsTable(caption: HtmlValue, rows: readonly DetailRow[]): Html {
  return html`<div class="table-wrap"><table class="details">
<caption>${caption}</caption>
<tbody>${rows.map((r) => html`<tr><th scope="row">${r.label}</th><td>${r.value}</td></tr>`)}</tbody>
</table></div>`;
}

/**
 * A URL or path that may break after "/" and "." on a narrow screen (<wbr>), so that a long
 * directory URL wraps inside its cell instead of widening the table. Each part is escaped.
 */
export function wrappable(text: string): Html {
  const parts = text.split(/(?<=[/.])/);
  return html`${parts.map((part, i) => (i === 0 ? part : html`<wbr>${part}`))}`;
}
