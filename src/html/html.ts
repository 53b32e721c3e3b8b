// Escape-by-default HTML, in the habit of hono's `html` helper: every value interpolated into an
// `html` template is escaped unless it is itself Html; `raw()` is the one visible opt-out.
//
// Templates are checked once per call site (a tagged template's strings array is the same object
// on every call), and two patterns that escaping cannot make safe are refused with an error:
//   - an unquoted attribute value:     <input value=${v}>       → write value="${v}"
//   - a string in attribute position:  <input ${userText}>      → only Html may go there (attrs())
// A template is read on its own: a fragment such as html` title="${t}"` starts in text, so it is
// escaped (safely) but not checked for quoting; build attribute runs with attrs() instead.
// Escaping does not judge URLs: `href="${url}"` with a `javascript:` URL stays a script URL. The
// CSP (src/http/security-headers.ts) blocks those from running; templates should still link to our paths.

/** Markup that is safe to insert as is: produced by `html`, `attrs` or `raw` only. */
class Html {
  readonly #markup: string;
  constructor(markup: string) {
    this.#markup = markup;
  }
  toString(): string {
    return this.#markup;
  }
}
export type { Html };

/** What a template accepts: null, undefined and false render nothing; arrays are concatenated. */
export type HtmlValue = Html | string | number | bigint | null | undefined | false | readonly HtmlValue[];

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for element content and for quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

export function isHtml(value: unknown): value is Html {
  return value instanceof Html;
}

/** The visible opt-out: `markup` is trusted as it is. Never pass it anything a user typed. */
export function raw(markup: string): Html {
  return new Html(markup);
}

/** Where an interpolation sits: in text (or a quoted attribute value), or among a tag's attributes. */
type Slot = 'text' | 'tag';

const slotsBySite = new WeakMap<TemplateStringsArray, Slot[]>();

/** `html\`<p>${value}</p>\`` → Html, with every value escaped unless it is Html. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let slots = slotsBySite.get(strings);
  if (!slots) {
    slots = analyse(strings);
    slotsBySite.set(strings, slots);
  }
  let out = strings[0];
  for (let i = 0; i < values.length; i++) {
    out += slots[i] === 'tag' ? renderInTag(values[i]) : render(values[i]);
    out += strings[i + 1];
  }
  return new Html(out);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.toString();
  if (typeof value === 'string') return escapeHtml(value);
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return value.map(render).join('');
  throw new TypeError(`html: cannot interpolate a ${describe(value)}; pass a string, a number or Html`);
}

/** Among attributes only markup we built may appear: a string there could add `onclick=…`. */
function renderInTag(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.toString();
  if (Array.isArray(value)) return value.map(renderInTag).join('');
  throw new TypeError(`html: a ${describe(value)} cannot stand among a tag's attributes; use attrs() or a quoted attribute value`);
}

function describe(value: unknown): string {
  if (value === true) return 'boolean true';
  return typeof value === 'object' ? 'plain object' : typeof value;
}

/**
 * Follows the template's static text the way an HTML tokenizer would, just enough to know for
 * each interpolation whether it sits in text, in a quoted attribute value, or among attributes.
 */
function analyse(strings: readonly string[]): Slot[] {
  type State = 'text' | 'tag' | 'double' | 'single' | 'comment';
  let state: State = 'text';
  const slots: Slot[] = [];
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i];
    for (let j = 0; j < s.length; j++) {
      const c = s[j];
      if (state === 'text') {
        if (s.startsWith('<!--', j)) {
          state = 'comment';
          j += 3;
        } else if (c === '<' && (j + 1 === s.length || /[A-Za-z/!]/.test(s[j + 1]))) state = 'tag';
      } else if (state === 'comment') {
        if (s.startsWith('-->', j)) {
          state = 'text';
          j += 2;
        }
      } else if (state === 'tag') {
        if (c === '"') state = 'double';
        else if (c === "'") state = 'single';
        else if (c === '>') state = 'text';
      } else if ((state === 'double' && c === '"') || (state === 'single' && c === "'")) {
        state = 'tag';
      }
    }
    if (i === strings.length - 1) break;
    if (state === 'tag' && /=\s*$/.test(s)) {
      throw new SyntaxError(`html: unquoted attribute value after ${JSON.stringify(s.slice(-40))}; quote it: attr="\${value}"`);
    }
    slots.push(state === 'tag' ? 'tag' : 'text');
  }
  return slots;
}

/** Attribute values `attrs` accepts: true renders a bare boolean attribute, false/null/undefined omit it. */
export type AttrValue = string | number | boolean | null | undefined;

const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_:.-]*$/;

/**
 * A run of attributes from a record, each value escaped and double-quoted:
 * `attrs({ type: 'email', required: true, value: v, disabled: false })` → ` type="email" required value="…"`.
 * Names come from code, never from users; a name that is not a plain attribute name is refused.
 */
export function attrs(record: Readonly<Record<string, AttrValue>>): Html {
  let out = '';
  for (const [name, value] of Object.entries(record)) {
    if (!ATTRIBUTE_NAME.test(name)) throw new SyntaxError(`attrs: ${JSON.stringify(name)} is not an attribute name`);
    if (value === false || value === null || value === undefined) continue;
    out += value === true ? ` ${name}` : ` ${name}="${escapeHtml(String(value))}"`;
  }
  return new Html(out);
}

/** A complete HTML response. Pages are per user and may show secrets: not stored by caches unless `init` says so. */
export function page(body: Html, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set('content-type', 'text/html; charset=utf-8');
  if (!headers.has('cache-control')) headers.set('cache-control', 'no-store');
  return new Response(body.toString(), { ...init, headers });
}
