// The layout, the components and htmx in a real browser under the real CSP: nothing violates the
// policy, no request leaves the origin, htmx works, the keyboard path works, the page reads at
// 375 and 1280 px (screenshots in test/.screenshots/), and without JavaScript it still works.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRequestListener } from '../../node-host/http-adapter.ts';
import { html, page as htmlPage } from '../../src/html/html.ts';
import { parseIpList } from '../../src/http/ip.ts';
import { withSecurityHeaders } from '../../src/http/security-headers.ts';
import { serveStatic } from '../../src/http/static.ts';
import { gatedDescribe, requireProgram } from '../harness/skip.ts';
import { ROOT } from '../harness/hosts.ts';
import { badge, button, checkboxField, field, pagination, postButton, selectField, table, textareaField } from '../../templates/components.ts';
import { layout, NAVIGATION } from '../../templates/layout.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(ROOT, 'test/.screenshots');
const TOKEN = 'csrf-token-for-the-test';

const certificates = [
  { name: 'www.example.test', names: 'www.example.test, example.test', status: 'valid', expires: '2026-03-01' },
  { name: 'mail', names: 'mail.example.test', status: 'pending', expires: '—' },
  { name: 'old-api', names: 'api.example.test', status: 'expired', expires: '2024-11-30' },
  { name: 'gone', names: 'gone.example.test, a-very-long-subdomain-name.example.test', status: 'revoked', expires: '2025-06-01' },
] as const;

/** A page shaped like the certificates list, using every shared part. */
function samplePage(url: URL) {
  const pageNo = Number(url.searchParams.get('page') ?? '1');
  return layout(
    { title: 'Certificates', session: { csrfToken: TOKEN, section: 'certificates' }, flash: [{ kind: 'success', message: 'Certificate "mail" created.' }] },
    html`<h1>Certificates</h1>
<form method="get" action="/" class="search">
  ${field({ name: 'q', label: 'Search by name', type: 'search', value: url.searchParams.get('q'), hint: 'Part of a name or a DNS name.' })}
  ${selectField({ name: 'status', label: 'State', placeholder: 'Any state', options: [{ value: 'valid', label: 'Valid' }, { value: 'pending', label: 'Pending' }] })}
  ${checkboxField({ name: 'mine', label: 'Only certificates renewing this week' })}
  ${button('Search', { variant: 'primary' })}
</form>
${table({
  caption: html`Certificates, page ${pageNo}`,
  columns: [
    { label: 'Name', cell: (c) => html`<a href="/?name=${c.name}">${c.name}</a>` },
    { label: 'DNS names', cell: (c) => c.names },
    { label: 'State', cell: (c) => badge(c.status) },
    { label: 'Expires', cell: (c) => c.expires },
  ],
  rows: certificates,
})}
${pagination({ url, page: pageNo, pageCount: 4 })}
<h2>Try htmx</h2>
<div class="actions">
  <button type="button" class="button" hx-get="/fragment" hx-target="#result">Load a fragment <span class="htmx-indicator">…</span></button>
  ${postButton({ action: '/issue', csrfToken: TOKEN, label: 'Issue now', variant: 'primary' })}
  ${postButton({ action: '/revoke', csrfToken: TOKEN, label: 'Revoke', variant: 'danger' })}
</div>
<div id="result"></div>
${textareaField({ name: 'pem', label: 'Certificate (PEM)', rows: 3, error: 'This is not a PEM certificate.' })}`,
  );
}

/** A page that breaks the CSP on purpose: proves the violation listener is not blind. */
const canaryPage = () => htmlPage(html`<!doctype html><html lang="en"><title>canary</title><style>p{color:red}</style><p>canary</p><script>window.ran = true</script></html>`);

interface Seen {
  paths: string[];
  fragmentHeaders: Record<string, string | null>[];
}

function startServer(seen: Seen): Promise<Server> {
  const app = {
    async fetch(request: Request): Promise<Response> {
      const url = new URL(request.url);
      seen.paths.push(url.pathname + url.search);
      let response: Response;
      if (url.pathname.startsWith('/static/')) response = serveStatic(request);
      else if (url.pathname === '/') response = htmlPage(samplePage(url));
      else if (url.pathname === '/fragment') {
        seen.fragmentHeaders.push({ 'hx-request': request.headers.get('hx-request'), 'x-csrf-token': request.headers.get('x-csrf-token') });
        response = htmlPage(html`<p id="loaded">Loaded by htmx at ${'<' + 'script>'}</p>`);
      } else if (url.pathname === '/canary') response = canaryPage();
      else response = new Response('not found', { status: 404 });
      return withSecurityHeaders(response, { secure: false });
    },
  };
  const { listener } = createRequestListener(app, { secure: false, trustProxy: parseIpList('', { defaultLoopback: false }) });
  const server = createServer(listener);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

interface Watched {
  page: Page;
  /** CSP violations seen by the page (securitypolicyviolation events) and console errors. */
  problems: () => Promise<string[]>;
  /** Requests to anything but our origin. */
  foreign: string[];
}

gatedDescribe(requireProgram(CHROMIUM, 'apt-get install chromium'))('layout in Chromium under the CSP', () => {
  let browser: Browser;
  let server: Server;
  let origin: string;
  const seen: Seen = { paths: [], fragmentHeaders: [] };

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    server = await startServer(seen);
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  async function open(path: string, options: BrowserContextOptions = {}): Promise<Watched> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    const foreign: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) consoleErrors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (new URL(r.url()).origin !== origin) foreign.push(r.url());
    });
    // Injected by the browser, not by the page: the CSP does not apply to it.
    await context.addInitScript(() => {
      const w = window as unknown as { __violations: string[] };
      w.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => w.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    await page.goto(origin + path);
    await page.waitForLoadState('load');
    const problems = async () => {
      const violations = options.javaScriptEnabled === false ? [] : await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations);
      return [...violations.map((v) => `csp: ${v}`), ...consoleErrors];
    };
    return { page, problems, foreign };
  }

  it('notices a CSP violation when there is one (the check below is not blind)', async () => {
    const { page, problems } = await open('/canary');
    await page.waitForTimeout(100);
    const found = await problems();
    expect(found.some((p) => p.startsWith('csp: style-src'))).toBe(true);
    expect(found.some((p) => p.startsWith('csp: script-src'))).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { ran?: boolean }).ran)).toBeUndefined();
    await page.context().close();
  });

  it('loads at 1280 px with htmx running, no CSP violation and no request to another origin', async () => {
    const { page, problems, foreign } = await open('/');
    await page.waitForFunction(() => (window as unknown as { htmx?: { version: string } }).htmx?.version);
    expect(await page.evaluate(() => (window as unknown as { htmx: { version: string } }).htmx.version)).toBe('4.0.1');
    // htmx-config took effect: htmx adopted no stylesheet of its own; app.css styles the indicator.
    expect(await page.evaluate(() => document.adoptedStyleSheets.length)).toBe(0);
    expect(await page.locator('.htmx-indicator').evaluate((e) => getComputedStyle(e).opacity)).toBe('0');

    await page.getByRole('button', { name: 'Load a fragment' }).click();
    await expect.poll(() => page.locator('#loaded').textContent()).toBe('Loaded by htmx at <script>');
    expect(seen.fragmentHeaders.at(-1)).toEqual({ 'hx-request': 'true', 'x-csrf-token': TOKEN });

    // Every control has a label; each name in aria-describedby exists.
    const unlabelled = await page.$$eval('input:not([type=hidden]), select, textarea', (els) => els.filter((e) => (e as HTMLInputElement).labels?.length === 0).map((e) => e.outerHTML));
    expect(unlabelled).toEqual([]);
    const dangling = await page.$$eval('[aria-describedby]', (els) => els.flatMap((e) => e.getAttribute('aria-describedby')!.split(' ')).filter((id) => !document.getElementById(id)));
    expect(dangling).toEqual([]);

    await page.screenshot({ path: join(SCREENSHOTS, 'layout-1280.png'), fullPage: true });
    expect(await problems()).toEqual([]);
    expect(foreign).toEqual([]);
    // Stylesheet, icon and script came from /static/ by their hashed names.
    expect(seen.paths.filter((p) => p.startsWith('/static/')).sort()).toEqual(expect.arrayContaining([expect.stringMatching(/^\/static\/app\.[0-9a-f]{16}\.css$/), expect.stringMatching(/^\/static\/htmx\.min\.[0-9a-f]{16}\.js$/)]));
    await page.context().close();
  });

  it('reads at 375 px: no sideways scrolling, the navigation wraps inside the screen', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const { page, problems, foreign } = await open('/', { viewport: { width: 375, height: 812 }, colorScheme, deviceScaleFactor: 2 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      const navBoxes = await page.locator('.site-nav a, .site-nav button').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON() as DOMRect));
      expect(navBoxes).toHaveLength(NAVIGATION.length + 1); // the links and "Sign out"
      for (const box of navBoxes) expect(box.right).toBeLessThanOrEqual(375);
      expect(new Set(navBoxes.map((b) => Math.round(b.top))).size).toBeGreaterThan(1); // wrapped into rows
      await page.screenshot({ path: join(SCREENSHOTS, `layout-375-${colorScheme}.png`), fullPage: true });
      expect(await problems()).toEqual([]);
      expect(foreign).toEqual([]);
      await page.context().close();
    }
  });

  it('works from the keyboard: the skip link comes first, shows a focus outline, and moves focus to main', async () => {
    const { page, problems } = await open('/');
    await page.keyboard.press('Tab');
    const skip = await page.evaluate(() => {
      const a = document.activeElement as HTMLElement;
      const s = getComputedStyle(a);
      return { text: a.textContent, top: a.getBoundingClientRect().top, outline: s.outlineStyle, width: s.outlineWidth };
    });
    expect(skip.text).toBe('Skip to content');
    expect(skip.top).toBeGreaterThanOrEqual(0); // on screen once focused
    expect(skip.outline).toBe('solid');
    expect(skip.width).toBe('3px');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.closest('main') !== null && document.activeElement?.getAttribute('name'))).toBe('q');
    expect(await problems()).toEqual([]);
    await page.context().close();
  });

  it('works with JavaScript turned off: links page, forms submit', async () => {
    const { page, foreign } = await open('/?q=www', { javaScriptEnabled: false });
    await page.getByRole('link', { name: 'Next' }).click();
    await page.waitForURL(/page=2/);
    expect(new URL(page.url()).search).toBe('?q=www&page=2');
    expect(await page.locator('caption').textContent()).toBe('Certificates, page 2');
    await page.getByLabel('Search by name').fill('mail');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=mail/);
    expect(await page.getByLabel('Search by name').inputValue()).toBe('mail');
    expect(foreign).toEqual([]);
    await page.context().close();
  });
});
