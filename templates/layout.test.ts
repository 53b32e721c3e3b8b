import { describe, expect, it } from 'vitest';
import { html } from '../src/html/html.ts';
import { assetUrl } from './assets.ts';
import { CSRF_HEADER } from './components.ts';
import { layout, NAVIGATION, SIGN_OUT_PATH } from './layout.ts';

const decode = (s: string) => s.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
const signedIn = (section?: (typeof NAVIGATION)[number]['section']) =>
  layout({ title: 'Keys', session: { csrfToken: 'tok"<en>', section } }, html`<h1>Keys</h1>`).toString();

describe('layout', () => {
  it('is a complete document: doctype, lang, charset, viewport, escaped title', () => {
    const out = layout({ title: '<Certs & "keys">' }, html`<h1>x</h1>`).toString();
    expect(out).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(out).toContain('<meta charset="utf-8">');
    expect(out).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(out).toContain('<title>&lt;Certs &amp; &quot;keys&quot;&gt; · Certkeep</title>');
  });

  it('loads the stylesheet, the icon, htmx and our script (deferred) from our origin by their hashed URLs', () => {
    const out = layout({ title: 't' }, html``).toString();
    expect(out).toContain(`<link rel="stylesheet" href="${assetUrl('app.css')}">`);
    expect(out).toContain(`<link rel="icon" href="${assetUrl('favicon.svg')}" type="image/svg+xml">`);
    expect(out).toContain(`<script src="${assetUrl('htmx.min.js')}" defer></script>`);
    expect(out).toContain(`<script src="${assetUrl('app.js')}" defer></script>`);
  });

  it('needs nothing the CSP forbids: no inline script or style, no other origin, htmx\'s injected CSS off', () => {
    const out = signedIn('keys');
    expect(out.match(/<script\b[^>]*>/g)).toEqual([`<script src="${assetUrl('htmx.min.js')}" defer>`, `<script src="${assetUrl('app.js')}" defer>`]);
    expect(out).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=|javascript:/i);
    expect(out).not.toMatch(/(?:src|href|action)="(?![/#])/); // every URL is a path or a fragment on this origin
    expect(out).not.toMatch(/https?:\/\/|\/\/[a-z]/i);
    const config = /<meta name="htmx-config" content='([^']*)'>/.exec(out);
    // No settle step either: it copies an element's style attribute into its replacement with
    // setAttribute, which the CSP refuses (a browser or password manager styles inputs).
    expect(JSON.parse(config![1])).toEqual({ includeIndicatorCSS: false, defaultSettleDelay: 0 });
    // The config must come before htmx reads it.
    expect(out.indexOf('name="htmx-config"')).toBeLessThan(out.indexOf('<script'));
  });

  it('starts the body with a skip link to <main id="main">, which holds the content and a status region', () => {
    const out = layout({ title: 't' }, html`<h1>Hello</h1>`).toString();
    const body = out.slice(out.indexOf('<body'));
    expect(body).toMatch(/^<body>\s*<a class="skip-link" href="#main">Skip to content<\/a>/);
    expect(out).toMatch(/<main id="main" tabindex="-1">\s*<div id="flash" class="flash" role="status"><\/div>\s*<h1>Hello<\/h1>\s*<\/main>/);
  });

  it('shows flash messages in the status region, escaped', () => {
    const out = layout({ title: 't', flash: [{ kind: 'success', message: 'Saved <b>' }, { kind: 'error', message: html`<em>no</em>` }] }, html``).toString();
    expect(out).toContain('<div id="flash" class="flash" role="status"><p class="success">Saved &lt;b&gt;</p><p class="error"><em>no</em></p></div>');
  });

  it('has no navigation without a session (sign-in, setup)', () => {
    const out = layout({ title: 'Sign in' }, html``).toString();
    expect(out).not.toContain('<nav');
    expect(out).not.toContain('hx-headers');
    expect(out).toContain('<a class="brand" href="/">Certkeep</a>');
  });

  it('with a session: every section in order, the current one marked, and sign-out as a POST with the token', () => {
    const out = signedIn('keys');
    const links = [...out.matchAll(/<li><a href="([^"]+)"( aria-current="page")?>([^<]+)<\/a><\/li>/g)].map((m) => [m[1], m[3], Boolean(m[2])]);
    expect(links).toEqual(NAVIGATION.map((n) => [n.href, n.label, n.section === 'keys']));
    expect(links.map((l) => l[1])).toEqual(['Dashboard', 'Certificates', 'Keys', 'ACME accounts', 'DNS providers', 'Tracking', 'Notifications', 'Audit log', 'Backups', 'Settings', 'Account']);
    expect(out).toContain(`<form method="post" action="${SIGN_OUT_PATH}" class="inline"><input type="hidden" name="_csrf" value="tok&quot;&lt;en&gt;"><button type="submit" class="button secondary">Sign out</button></form>`);
    expect(out.match(/aria-current/g)).toHaveLength(1);
    expect(signedIn().match(/aria-current/g)).toBeNull();
  });

  it('with a session, htmx requests carry the CSRF token in a header inherited from <body>', () => {
    const attr = /<body hx-headers:inherited="([^"]*)">/.exec(signedIn())![1];
    expect(JSON.parse(decode(attr))).toEqual({ [CSRF_HEADER]: 'tok"<en>' });
  });
});
