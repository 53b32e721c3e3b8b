import { describe, expect, it } from 'vitest';
import { html } from '../src/html/html.ts';
import { detailsTable, wrappable } from './details.ts';

describe('detailsTable', () => {
  it('gives each value its name as a row header, every value escaped', () => {
    const out = detailsTable('Account', [
      { label: 'Email', value: '<b>x</b>@example.com' },
      { label: 'Status', value: html`<span class="badge valid">Valid</span>` },
    ]).toString();
    expect(out).toContain('<caption>Account</caption>');
    expect(out).toContain('<tr><th scope="row">Email</th><td>&lt;b&gt;x&lt;/b&gt;@example.com</td></tr>');
    expect(out).toContain('<td><span class="badge valid">Valid</span></td>');
  });
});

describe('wrappable', () => {
  it('lets a URL break after "/" and ".", and escapes each part', () => {
    expect(wrappable('https://acme.example/dir').toString()).toBe('https:/<wbr>/<wbr>acme.<wbr>example/<wbr>dir');
    expect(wrappable('/a"b/<c>').toString()).toBe('/<wbr>a&quot;b/<wbr>&lt;c&gt;');
    expect(wrappable('plain').toString()).toBe('plain');
  });
});
