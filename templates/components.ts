// The parts pages are built from. Each returns Html; every value is escaped by `html`, so a
// caller passes plain strings and never escapes by hand. Everything here works without
// JavaScript: forms post, links navigate, pagination is links.
import { attrs, html, type AttrValue, type Html, type HtmlValue } from '../src/html/html.ts';
import type { CertificateStatus } from '../src/domain/certificates.ts';

// ---- forms ------------------------------------------------------------------------------------

/** The form field that carries the CSRF token; the CSRF middleware reads the same name. */
export const CSRF_FIELD = '_csrf';

/** The header htmx sends the token in on requests that have no form (see layout's hx-headers). */
export const CSRF_HEADER = 'X-CSRF-Token';

export function csrfField(token: string): Html {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${token}">`;
}

interface FieldBase {
  name: string;
  label: string;
  /** Defaults to `field-<name>`; the label's `for`, and the prefix of the hint's and error's ids. */
  id?: string;
  /** Help below the input, announced with it through aria-describedby. */
  hint?: HtmlValue;
  /** The validation message; also sets aria-invalid. */
  error?: string | null;
  required?: boolean;
  /** Any further attributes of the control (placeholder, pattern, min, inputmode, hx-*…). */
  attributes?: Readonly<Record<string, AttrValue>>;
}

export interface InputFieldOptions extends FieldBase {
  type?: 'text' | 'email' | 'password' | 'number' | 'url' | 'search' | 'tel' | 'date' | 'datetime-local' | 'file';
  value?: string | number | null;
  autocomplete?: string;
  /** Shown on the input's line, after it: a copy button. */
  addon?: Html;
}

/** The ids and attributes label, hint and error share. */
function fieldParts(o: FieldBase) {
  const id = o.id ?? `field-${o.name}`;
  const hintId = o.hint ? `${id}-hint` : null;
  const errorId = o.error ? `${id}-error` : null;
  const describedBy = [hintId, errorId].filter(Boolean).join(' ') || null;
  const below = html`${hintId ? html`<p class="hint" id="${hintId}">${o.hint}</p>` : null}${errorId ? html`<p class="error" id="${errorId}">${o.error}</p>` : null}`;
  const shared = { id, name: o.name, required: o.required ?? false, 'aria-describedby': describedBy, 'aria-invalid': o.error ? 'true' : null };
  return { id, below, shared };
}

/** A labelled input with its hint and error: `<label for>` + `<input>` + text tied by aria-describedby. */
export function field(o: InputFieldOptions): Html {
  const { id, below, shared } = fieldParts(o);
  const value = o.type === 'password' || o.type === 'file' ? null : o.value; // never echo a password back
  const input = html`<input${attrs({ type: o.type ?? 'text', ...shared, value: value ?? null, autocomplete: o.autocomplete ?? null, ...o.attributes })}>`;
  return html`<div class="field${o.error ? ' has-error' : ''}">
  <label for="${id}">${o.label}</label>
  ${o.addon ? html`<div class="with-copy">${input}${o.addon}</div>` : input}
  ${below}
</div>`;
}

export interface TextareaFieldOptions extends FieldBase {
  value?: string | null;
  rows?: number;
}

export function textareaField(o: TextareaFieldOptions): Html {
  const { id, below, shared } = fieldParts(o);
  return html`<div class="field${o.error ? ' has-error' : ''}">
  <label for="${id}">${o.label}</label>
  <textarea${attrs({ ...shared, rows: o.rows ?? 6, spellcheck: 'false', ...o.attributes })}>${o.value ?? ''}</textarea>
  ${below}
</div>`;
}

export interface SelectOption {
  value: string;
  label: string;
  disabled?: boolean;
}

export interface SelectFieldOptions extends FieldBase {
  options: readonly SelectOption[];
  value?: string | null;
  /** A first option with an empty value, e.g. "Choose an account…". */
  placeholder?: string;
}

export function selectField(o: SelectFieldOptions): Html {
  const { id, below, shared } = fieldParts(o);
  const options = o.options.map((opt) => html`<option${attrs({ value: opt.value, selected: opt.value === o.value, disabled: opt.disabled ?? false })}>${opt.label}</option>`);
  return html`<div class="field${o.error ? ' has-error' : ''}">
  <label for="${id}">${o.label}</label>
  <select${attrs({ ...shared, ...o.attributes })}>${o.placeholder !== undefined ? html`<option value="">${o.placeholder}</option>` : null}${options}</select>
  ${below}
</div>`;
}

export interface CheckboxFieldOptions extends FieldBase {
  checked?: boolean;
  /** Sent when checked; "on" like a browser's default. */
  value?: string;
}

/** A checkbox before its label (the usual reading order for checkboxes). */
export function checkboxField(o: CheckboxFieldOptions): Html {
  const { id, below, shared } = fieldParts(o);
  return html`<div class="field checkbox${o.error ? ' has-error' : ''}">
  <input${attrs({ type: 'checkbox', ...shared, value: o.value ?? 'on', checked: o.checked ?? false, ...o.attributes })}>
  <label for="${id}">${o.label}</label>
  ${below}
</div>`;
}

// ---- buttons ----------------------------------------------------------------------------------

export type ButtonVariant = 'primary' | 'secondary' | 'danger';

export interface ButtonOptions {
  variant?: ButtonVariant;
  type?: 'submit' | 'button' | 'reset';
  name?: string;
  value?: string;
  attributes?: Readonly<Record<string, AttrValue>>;
}

export function button(label: HtmlValue, o: ButtonOptions = {}): Html {
  return html`<button${attrs({ type: o.type ?? 'submit', class: `button ${o.variant ?? 'secondary'}`, name: o.name ?? null, value: o.value ?? null, ...o.attributes })}>${label}</button>`;
}

/**
 * "Copy" for the text of the element with id `target` (an input's value, otherwise its text),
 * its accessible name completed by `what` ("Copy certificate API key 1"). Rendered hidden:
 * static/app.js reveals it where the browser lets a page write the clipboard; after a click the
 * button reads "Copied" for a moment (its accessible name stays) and the status region beside it
 * says so to screen readers.
 * Without JavaScript there is no button: select and copy by hand.
 */
export function copyButton(o: { target: string; what: string }): Html {
  return html`<span class="copy"><button type="button" class="button copy-button" data-copy="${o.target}" hidden><span class="copy-label" aria-hidden="true">Copy</span><span class="visually-hidden">Copy ${o.what}</span></button><span class="copy-status visually-hidden" role="status"></span></span>`;
}

/** A link that looks like a button: for navigation (GET), never for actions that change state. */
export function linkButton(href: string, label: HtmlValue, variant: ButtonVariant = 'secondary'): Html {
  return html`<a class="button ${variant}" href="${href}">${label}</a>`;
}

export interface PostButtonOptions {
  action: string;
  csrfToken: string;
  label: HtmlValue;
  variant?: ButtonVariant;
  /** Further hidden fields to send. */
  fields?: Readonly<Record<string, string>>;
  /** Extra attributes of the button itself. */
  attributes?: Readonly<Record<string, AttrValue>>;
  /** Class of the form, e.g. "inline" (the default). */
  formClass?: string;
}

/** A one-button form that POSTs: how actions (sign out, issue now, revoke) work without JavaScript. */
export function postButton(o: PostButtonOptions): Html {
  const hidden = Object.entries(o.fields ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
  return html`<form method="post" action="${o.action}" class="${o.formClass ?? 'inline'}">${csrfField(o.csrfToken)}${hidden}${button(o.label, { variant: o.variant, attributes: o.attributes })}</form>`;
}

// ---- tables -----------------------------------------------------------------------------------

export interface Column<Row> {
  label: HtmlValue;
  cell: (row: Row) => HtmlValue;
  /** Right-aligned with tabular figures. */
  numeric?: boolean;
}

export interface TableOptions<Row> {
  /** Every table has a caption: it is how screen-reader users find and name it. */
  caption: HtmlValue;
  /** Keep the caption for assistive technology but do not show it (a heading already says it). */
  captionHidden?: boolean;
  columns: readonly Column<Row>[];
  rows: readonly Row[];
  /** Shown in a single cell when there are no rows. */
  empty?: HtmlValue;
  id?: string;
}

/**
 * A data table. On narrow screens (a phone) it reflows: each row becomes a block and each cell is
 * introduced by its column's label (`data-label`, shown by app.css), so nothing scrolls sideways.
 */
export function table<Row>(o: TableOptions<Row>): Html {
  const numeric = (c: Column<Row>) => (c.numeric ? html` class="numeric"` : null);
  const head = o.columns.map((c) => html`<th scope="col"${numeric(c)}>${c.label}</th>`);
  const body =
    o.rows.length === 0
      ? html`<tr><td class="empty" colspan="${o.columns.length}">${o.empty ?? 'Nothing here yet.'}</td></tr>`
      : o.rows.map((row) => html`<tr>${o.columns.map((c) => html`<td${numeric(c)}${cellLabel(c.label)}>${c.cell(row)}</td>`)}</tr>`);
  return html`<div class="table-wrap"><table${attrs({ id: o.id ?? null, class: 'stack' })}>
<caption${o.captionHidden ? html` class="visually-hidden"` : null}>${o.caption}</caption>
<thead><tr>${head}</tr></thead>
<tbody>${body}</tbody>
</table></div>`;
}

/** `data-label` for a cell of a reflowing table (class "stack"): its column's name as text. */
export function cellLabel(label: HtmlValue): Html {
  return typeof label === 'string' ? attrs({ 'data-label': label }) : html``;
}

// ---- badges -----------------------------------------------------------------------------------

const STATUS_LABELS: Record<CertificateStatus, string> = {
  new: 'New',
  pending: 'Pending',
  valid: 'Valid',
  invalid: 'Failed',
  expired: 'Expired',
  revoked: 'Revoked',
};

/** A certificate's state as a word with a colour (the word carries the meaning; colour only helps). */
export function badge(status: CertificateStatus): Html {
  return html`<span class="badge ${status}">${STATUS_LABELS[status]}</span>`;
}

// ---- pagination -------------------------------------------------------------------------------

export interface PaginationOptions {
  /** The current page's URL: its path and query (a search, a filter) are kept in every link. */
  url: URL;
  /** 1-based. */
  page: number;
  pageCount: number;
  /** The query parameter that holds the page number. */
  param?: string;
}

/**
 * Previous / numbered / next links; plain links, so paging works without JavaScript (htmx may
 * boost them). The first, the last and the pages around the current one are shown, gaps as "…".
 */
export function pagination(o: PaginationOptions): Html {
  if (o.pageCount <= 1) return html``;
  const param = o.param ?? 'page';
  const page = Math.min(Math.max(1, Math.trunc(o.page)), o.pageCount);
  const href = (n: number): string => {
    const u = new URL(o.url.href);
    if (n === 1) u.searchParams.delete(param);
    else u.searchParams.set(param, String(n));
    return u.pathname + u.search;
  };
  const numbers: (number | null)[] = [];
  for (let n = 1; n <= o.pageCount; n++) {
    if (n === 1 || n === o.pageCount || Math.abs(n - page) <= 1) numbers.push(n);
    else if (numbers[numbers.length - 1] !== null) numbers.push(null);
  }
  const items = numbers.map((n) =>
    n === null
      ? html`<li><span aria-hidden="true">…</span></li>`
      : html`<li><a href="${href(n)}"${n === page ? html` aria-current="page"` : null}><span class="visually-hidden">Page </span>${n}</a></li>`,
  );
  return html`<nav class="pagination" aria-label="Pagination"><ul>
${page > 1 ? html`<li><a href="${href(page - 1)}" rel="prev">Previous</a></li>` : null}${items}${page < o.pageCount ? html`<li><a href="${href(page + 1)}" rel="next">Next</a></li>` : null}
</ul></nav>`;
}
