import { describe, expect, it } from 'vitest';
import { html } from '../src/html/html.ts';
import type { CertificateStatus } from '../src/domain/certificates.ts';
import { badge, button, checkboxField, copyButton, CSRF_FIELD, csrfField, field, linkButton, pagination, postButton, selectField, table, textareaField } from './components.ts';

const XSS = '"><script>alert(1)</script>';
const ESCAPED = '&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;';

/** All values of `attr` in `markup`, in order. */
const attrValues = (markup: string, attr: string) => [...markup.matchAll(new RegExp(`\\s${attr}="([^"]*)"`, 'g'))].map((m) => m[1]);

describe('csrfField', () => {
  it('is a hidden input named for the CSRF middleware, its value escaped', () => {
    expect(csrfField(XSS).toString()).toBe(`<input type="hidden" name="${CSRF_FIELD}" value="${ESCAPED}">`);
  });
});

describe('field', () => {
  it('ties the label to the input, and hint and error to it through aria-describedby', () => {
    const out = field({ name: 'email', label: 'E-mail', type: 'email', value: 'a@b', hint: 'For expiry mail', error: 'Not an address', required: true, autocomplete: 'email' }).toString();
    expect(out).toContain('<label for="field-email">E-mail</label>');
    expect(out).toContain('<input type="email" id="field-email" name="email" required aria-describedby="field-email-hint field-email-error" aria-invalid="true" value="a@b" autocomplete="email">');
    expect(out).toContain('<p class="hint" id="field-email-hint">For expiry mail</p>');
    expect(out).toContain('<p class="error" id="field-email-error">Not an address</p>');
    // Every id aria-describedby names exists.
    for (const id of attrValues(out, 'aria-describedby')[0].split(' ')) expect(attrValues(out, 'id')).toContain(id);
  });

  it('has no aria-describedby or aria-invalid when there is nothing to describe', () => {
    const out = field({ name: 'q', label: 'Search' }).toString();
    expect(out).not.toContain('aria-describedby');
    expect(out).not.toContain('aria-invalid');
    expect(out).toContain('<input type="text" id="field-q" name="q">');
  });

  it('escapes label, value, hint, error and extra attributes', () => {
    const out = field({ name: 'n', label: XSS, value: XSS, hint: XSS, error: XSS, attributes: { placeholder: XSS } }).toString();
    expect(out).not.toContain('<script>');
    expect(out.split(ESCAPED).length - 1).toBe(5);
  });

  it('never echoes a password back', () => {
    expect(field({ name: 'password', label: 'Password', type: 'password', value: 'hunter2' }).toString()).not.toContain('hunter2');
  });

  it('takes an explicit id', () => {
    const out = field({ name: 'n', id: 'other', label: 'L', hint: 'h' }).toString();
    expect(out).toContain('for="other"');
    expect(out).toContain('id="other-hint"');
  });
});

describe('textareaField, selectField, checkboxField', () => {
  it('textarea: labelled, content escaped', () => {
    const out = textareaField({ name: 'pem', label: 'PEM', value: `</textarea>${XSS}` }).toString();
    expect(out).toContain('<label for="field-pem">PEM</label>');
    expect(out).toContain(`>&lt;/textarea&gt;${ESCAPED}</textarea>`);
  });

  it('select: labelled, the current value selected, labels escaped, optional placeholder', () => {
    const out = selectField({ name: 'account', label: 'Account', value: 'b', placeholder: 'Choose…', options: [{ value: 'a', label: 'A' }, { value: 'b', label: XSS }, { value: 'c', label: 'C', disabled: true }] }).toString();
    expect(out).toContain('<label for="field-account">Account</label>');
    expect(out).toContain('<option value="">Choose…</option><option value="a">A</option>');
    expect(out).toContain(`<option value="b" selected>${ESCAPED}</option>`);
    expect(out).toContain('<option value="c" disabled>C</option>');
  });

  it('checkbox: input before its label, checked when asked', () => {
    const out = checkboxField({ name: 'ari', label: 'Use ARI', checked: true }).toString();
    expect(out).toMatch(/<input type="checkbox" id="field-ari" name="ari" value="on" checked>\s*<label for="field-ari">Use ARI<\/label>/);
    expect(checkboxField({ name: 'ari', label: 'Use ARI' }).toString()).not.toContain('checked');
  });
});

describe('buttons', () => {
  it('button: a submit button by default, variant as class, label escaped', () => {
    expect(button('Save').toString()).toBe('<button type="submit" class="button secondary">Save</button>');
    expect(button(XSS, { variant: 'danger', type: 'button', name: 'op', value: 'x' }).toString()).toBe(`<button type="button" class="button danger" name="op" value="x">${ESCAPED}</button>`);
  });

  it('linkButton: a link', () => {
    expect(linkButton('/certificates/new', 'New certificate', 'primary').toString()).toBe('<a class="button primary" href="/certificates/new">New certificate</a>');
  });

  it('postButton: a POST form with the CSRF token and any further hidden fields', () => {
    const out = postButton({ action: '/certificates/a/revoke', csrfToken: 't0k', label: 'Revoke', variant: 'danger', fields: { reason: '4' } }).toString();
    expect(out).toBe(
      '<form method="post" action="/certificates/a/revoke" class="inline"><input type="hidden" name="_csrf" value="t0k"><input type="hidden" name="reason" value="4"><button type="submit" class="button danger">Revoke</button></form>',
    );
  });
});

describe('table', () => {
  const columns = [
    { label: 'Name', cell: (r: { name: string; n: number }) => html`<a href="/c/${r.name}">${r.name}</a>` },
    { label: 'Count', cell: (r: { name: string; n: number }) => r.n, numeric: true },
  ];

  it('has a caption, column headers with scope, one row per item, values escaped', () => {
    const out = table({ caption: 'Certificates', columns, rows: [{ name: XSS, n: 3 }, { name: 'b', n: 10 }] }).toString();
    expect(out).toContain('<caption>Certificates</caption>');
    expect(out).toContain('<thead><tr><th scope="col">Name</th><th scope="col" class="numeric">Count</th></tr></thead>');
    expect(out).toContain(`<tr><td data-label="Name"><a href="/c/${ESCAPED}">${ESCAPED}</a></td><td class="numeric" data-label="Count">3</td></tr>`);
    expect(out.match(/<tr>/g)).toHaveLength(3);
    expect(out).toMatch(/^<div class="table-wrap"><table class="stack">/);
  });

  it('labels each cell with its column for the phone layout, escaped, and only with text labels', () => {
    const out = table({
      caption: 'x',
      columns: [
        { label: 'A "quoted" <label>', cell: () => '1' },
        { label: html`<abbr title="Days">D</abbr>`, cell: () => '2' },
      ],
      rows: [{}],
    }).toString();
    expect(out).toContain('<td data-label="A &quot;quoted&quot; &lt;label&gt;">1</td><td>2</td>');
  });

  it('says so when empty, across all columns, and can hide its caption visually', () => {
    const out = table({ caption: 'Keys', captionHidden: true, columns, rows: [], empty: 'No keys yet.' }).toString();
    expect(out).toContain('<caption class="visually-hidden">Keys</caption>');
    expect(out).toContain('<td class="empty" colspan="2">No keys yet.</td>');
  });
});

describe('badge', () => {
  it.each([
    ['new', 'New'],
    ['pending', 'Pending'],
    ['valid', 'Valid'],
    ['invalid', 'Failed'],
    ['expired', 'Expired'],
    ['revoked', 'Revoked'],
  ] as [CertificateStatus, string][])('%s → a word, not only a colour', (status, word) => {
    expect(badge(status).toString()).toBe(`<span class="badge ${status}">${word}</span>`);
  });
});

describe('pagination', () => {
  const url = new URL('http://127.0.0.1/certificates?q=a%26b&page=5');
  const hrefs = (markup: string) => attrValues(markup, 'href').map((h) => h.replaceAll('&amp;', '&'));

  it('is nothing for a single page', () => {
    expect(pagination({ url, page: 1, pageCount: 1 }).toString()).toBe('');
    expect(pagination({ url, page: 1, pageCount: 0 }).toString()).toBe('');
  });

  it('links previous, first, neighbours, last and next, keeping the query', () => {
    const out = pagination({ url, page: 5, pageCount: 10 }).toString();
    expect(hrefs(out)).toEqual([
      '/certificates?q=a%26b&page=4', // previous
      '/certificates?q=a%26b', // page 1 has no page parameter
      '/certificates?q=a%26b&page=4',
      '/certificates?q=a%26b&page=5',
      '/certificates?q=a%26b&page=6',
      '/certificates?q=a%26b&page=10',
      '/certificates?q=a%26b&page=6', // next
    ]);
    expect(out.match(/…/g)).toHaveLength(2);
    expect(out).toContain('<a href="/certificates?q=a%26b&amp;page=5" aria-current="page"><span class="visually-hidden">Page </span>5</a>');
    expect(out).toContain('rel="prev"');
    expect(out).toContain('rel="next"');
    expect(out).toContain('aria-label="Pagination"');
  });

  it('has no previous link on the first page and no next link on the last; clamps out-of-range pages', () => {
    const first = pagination({ url, page: 1, pageCount: 3 }).toString();
    expect(first).not.toContain('rel="prev"');
    expect(first).toContain('rel="next"');
    const last = pagination({ url, page: 99, pageCount: 3 }).toString();
    expect(last).not.toContain('rel="next"');
    expect(last).toContain('aria-current="page"><span class="visually-hidden">Page </span>3</a>');
  });

  it('uses the parameter it is told', () => {
    expect(hrefs(pagination({ url: new URL('http://x/orders'), page: 1, pageCount: 2, param: 'p' }).toString())).toEqual(['/orders', '/orders?p=2', '/orders?p=2']);
  });
});

describe('copyButton', () => {
  it('is hidden until the script reveals it, names what it copies, and has a status region beside it', () => {
    const out = copyButton({ target: 'shown-key-1', what: 'Key API key <1>' }).toString();
    expect(out).toMatch(/^<span class="copy"><button type="button" class="button copy-button" data-copy="shown-key-1" hidden>/);
    expect(out).toContain('<span class="copy-label" aria-hidden="true">Copy</span><span class="visually-hidden">Copy Key API key &lt;1&gt;</span></button>');
    expect(out).toContain('<span class="copy-status visually-hidden" role="status"></span></span>');
  });

  it('sits on the line of the input it copies (field addon)', () => {
    const out = field({ name: 'k', label: 'Key', value: 'cka_x', addon: copyButton({ target: 'field-k', what: 'the key' }) }).toString();
    expect(out).toMatch(/<div class="with-copy"><input [^>]*id="field-k"[^>]*><span class="copy"><button [^>]*data-copy="field-k"/);
  });
});
