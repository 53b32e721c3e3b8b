// Errors reach a browsing user as pages in words; API clients, htmx and the challenge path keep
// the RFC 9457 problem document.
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../node-host/db.ts';
import { makeTempDir } from '../../../test/harness/tmp.ts';
import { offlineDeps } from '../../../test/harness/deps.ts';
import { createApp } from '../../app.ts';
import { isPageRequest } from './problem-page.ts';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

async function appOnFreshDatabase() {
  const db = await openDatabase(`file:${makeTempDir('problem-page-')}/certkeep.db`);
  const app = createApp(await offlineDeps(db.database));
  const ctx = { clientIp: '127.0.0.1', secure: false, waitUntil: () => {} };
  return (path: string, headers: Record<string, string> = {}) => app.fetch(new Request(`http://127.0.0.1${path}`, { headers }), ctx);
}

describe('problem pages', () => {
  it('tells page requests from the rest', () => {
    const req = (path: string, headers: Record<string, string>) => new Request(`http://x${path}`, { headers });
    expect(isPageRequest(req('/nope', { accept: BROWSER_ACCEPT }))).toBe(true);
    expect(isPageRequest(req('/nope', { accept: 'application/json' }))).toBe(false);
    expect(isPageRequest(req('/nope', {}))).toBe(false);
    expect(isPageRequest(req('/nope', { accept: BROWSER_ACCEPT, 'hx-request': 'true' }))).toBe(false);
    for (const path of ['/api/v1/certificates', '/api/certificate/x', '/.well-known/acme-challenge/x', '/static/app.css', '/healthz']) {
      expect(isPageRequest(req(path, { accept: BROWSER_ACCEPT })), path).toBe(false);
    }
    expect(isPageRequest(req('/healthzz', { accept: BROWSER_ACCEPT }))).toBe(true);
  });

  it('answers a browser on an unknown page with a 404 page in the layout, with the security headers', async () => {
    const get = await appOnFreshDatabase();
    const res = await get('/no/such/page', { accept: BROWSER_ACCEPT });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.text();
    expect(body).toContain('<h1>Page not found</h1>');
    expect(body).toContain('No such resource.');
    expect(body).toContain('href="/login"'); // not signed in: the way on is to sign in
    expect(body).not.toContain('class="site-nav"');
  });

  it('keeps the problem document for API clients, htmx and the API paths; the challenge path stays plain text', async () => {
    const get = await appOnFreshDatabase();
    for (const [path, headers] of [
      ['/no/such/page', { accept: 'application/json' }],
      ['/no/such/page', { accept: BROWSER_ACCEPT, 'hx-request': 'true' }],
      ['/api/v1/nothing', { accept: BROWSER_ACCEPT }],
    ] as const) {
      const res = await get(path, headers);
      expect(res.headers.get('content-type'), path).toBe('application/problem+json');
      expect(res.status).toBeGreaterThanOrEqual(400);
    }
    // The challenge path answers in plain text, as CAs read it.
    expect((await get('/.well-known/acme-challenge/AAAA', { accept: BROWSER_ACCEPT })).headers.get('content-type')).toMatch(/^text\/plain/);
  });
});
