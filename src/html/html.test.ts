import { describe, expect, it } from 'vitest';
import { attrs, escapeHtml, html, isHtml, page, raw, type HtmlValue } from './html.ts';

// Payloads from the usual XSS filter-evasion lists: tag injection, attribute breakout with each
// quote, event handlers, and template-literal breakout with a backtick.
const PAYLOADS = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'><svg onload=alert(1)>",
  '`><iframe srcdoc=x>',
  '</textarea><script>alert(1)</script>',
  '&lt;script&gt;',
  '--><script>alert(1)</script><!--',
];

describe('html', () => {
  it('escapes & < > " \' and ` in text', () => {
    expect(html`<p>${'a & b < c > d " e \' f ` g'}</p>`.toString()).toBe('<p>a &amp; b &lt; c &gt; d &quot; e &#39; f &#96; g</p>');
  });

  it.each(PAYLOADS)('keeps %s inert in text, in double- and single-quoted attributes', (payload) => {
    const out = html`<p title="${payload}" data-x='${payload}'>${payload}</p><!-- ${payload} -->`.toString();
    // Nothing a payload brings may open a tag, close a quote or end the comment.
    const escaped = escapeHtml(payload);
    expect(out).toBe(`<p title="${escaped}" data-x='${escaped}'>${escaped}</p><!-- ${escaped} -->`);
    for (const c of ['<', '>', '"', "'", '`']) expect(escaped).not.toContain(c);
  });

  it('does not decode entities: "&lt;" arrives as the text "&lt;", not as "<"', () => {
    expect(html`${'&lt;'}`.toString()).toBe('&amp;lt;');
  });

  it('renders numbers and bigints; null, undefined and false render nothing', () => {
    expect(html`${1}|${2.5}|${10n}|${null}|${undefined}|${false}|${0}|${''}`.toString()).toBe('1|2.5|10||||0|');
  });

  it('inserts nested templates as they are, and escapes inside them', () => {
    const item = (name: string) => html`<li>${name}</li>`;
    const list = html`<ul>${item('<b>')}${item('ok')}</ul>`;
    expect(list.toString()).toBe('<ul><li>&lt;b&gt;</li><li>ok</li></ul>');
    expect(html`<div>${list}</div>`.toString()).toBe('<div><ul><li>&lt;b&gt;</li><li>ok</li></ul></div>');
  });

  it('joins arrays, escaping each element unless it is Html, flattening nested arrays', () => {
    const values: HtmlValue[] = ['<a>', html`<b>${'<c>'}</b>`, null, 3, ['<d>', [raw('<e>')]]];
    expect(html`${values}`.toString()).toBe('&lt;a&gt;<b>&lt;c&gt;</b>3&lt;d&gt;<e>');
    expect(html`<ul>${['x', 'y'].map((v) => html`<li>${v}</li>`)}</ul>`.toString()).toBe('<ul><li>x</li><li>y</li></ul>');
  });

  it('raw() is the one way to insert markup', () => {
    expect(html`<p>${raw('<em>trusted</em>')}</p>`.toString()).toBe('<p><em>trusted</em></p>');
    expect(isHtml(raw('x'))).toBe(true);
    expect(isHtml('x')).toBe(false);
    // A look-alike object is not Html: it is refused, not inserted.
    expect(() => html`${{ toString: () => '<x>' } as unknown as string}`).toThrow(TypeError);
  });

  it('refuses values it has no rendering for (true, objects, functions)', () => {
    expect(() => html`${true as unknown as string}`).toThrow(/boolean true/);
    expect(() => html`${{} as unknown as string}`).toThrow(TypeError);
    expect(() => html`${(() => 'x') as unknown as string}`).toThrow(TypeError);
  });

  it('refuses an unquoted attribute value', () => {
    expect(() => html`<input value=${'x onfocus=alert(1)'}>`).toThrow(/unquoted attribute value/);
    expect(() => html`<a href = ${'/x'}>x</a>`).toThrow(/unquoted attribute value/);
  });

  it('refuses a string among a tag\'s attributes, where no escaping helps', () => {
    // "onmouseover=alert(1)" holds no character escaping would change.
    expect(() => html`<p ${'onmouseover=alert(1)'}>x</p>`).toThrow(/attrs\(\)/);
    expect(() => html`<${'script'}>`).toThrow(TypeError);
    // Html there is fine, so are the values that render nothing.
    expect(html`<p${attrs({ id: 'a' })}${null}${false}>x</p>`.toString()).toBe('<p id="a">x</p>');
  });

  it('knows quoted values from attribute positions across several interpolations', () => {
    const out = html`<a href="/c/${'a"b'}?q=${'<'}" class='${"x'y"}'${attrs({ title: 't' })}>${'<'}</a>`.toString();
    expect(out).toBe('<a href="/c/a&quot;b?q=&lt;" class=\'x&#39;y\' title="t">&lt;</a>');
  });

  it('treats "=" in text as text', () => {
    expect(html`<p>a = ${'<b>'}</p>`.toString()).toBe('<p>a = &lt;b&gt;</p>');
    expect(html`<p>1 < 2 = ${'x'}</p>`.toString()).toBe('<p>1 < 2 = x</p>');
  });

  it('checks each call site once, and the same site keeps its rules on later calls', () => {
    const cell = (v: HtmlValue) => html`<td title="${v}">${v}</td>`;
    expect(cell('<1>').toString()).toBe('<td title="&lt;1&gt;">&lt;1&gt;</td>');
    expect(cell(2).toString()).toBe('<td title="2">2</td>');
  });
});

describe('attrs', () => {
  it('escapes values, renders true as a bare attribute and omits false, null and undefined', () => {
    const out = attrs({ type: 'text', value: '"><script>', required: true, disabled: false, min: 0, max: null, step: undefined, 'hx-target:inherited': '#x' });
    expect(out.toString()).toBe(' type="text" value="&quot;&gt;&lt;script&gt;" required min="0" hx-target:inherited="#x"');
  });

  it('refuses a name that is not an attribute name', () => {
    expect(() => attrs({ 'x onload=alert(1)': 'y' })).toThrow(SyntaxError);
    expect(() => attrs({ 'a"': 'y' })).toThrow(SyntaxError);
    expect(() => attrs({ '': 'y' })).toThrow(SyntaxError);
  });
});

describe('page', () => {
  it('is an HTML response, not stored by caches', async () => {
    const res = page(html`<!doctype html><p>${'<hi>'}</p>`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toBe('<!doctype html><p>&lt;hi&gt;</p>');
  });

  it('keeps the status and headers it is given', async () => {
    const res = page(html`<p>bad</p>`, { status: 422, headers: { 'cache-control': 'private, max-age=5', 'hx-retarget': '#form' } });
    expect(res.status).toBe(422);
    expect(res.headers.get('cache-control')).toBe('private, max-age=5');
    expect(res.headers.get('hx-retarget')).toBe('#form');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });
});
