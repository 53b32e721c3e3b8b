// The central cross-site and content-type checks (same-origin.ts) through the app in this process,
// signed in with a real session: which requests pass, which are refused, and that a refused one
// reaches no handler (nothing made, the session not even touched). Both hosts and Chromium:
// test/contract/no-way-in.test.ts, test/browser/cross-site.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_ORIGIN, signedInPageApp, type PageApp } from '../../test/harness/page-app.ts';
import { sessions } from '../db/schema.ts';
import { createAdminToken } from '../domain/tokens.ts';
import { BY_CLI } from '../domain/audit.ts';

let f: PageApp;
let token: string;
beforeAll(async () => {
  f = await signedInPageApp('same-origin');
  token = await createAdminToken(f.deps, BY_CLI, 'test');
});
afterAll(() => f?.close());

const form = (fields: Record<string, string>) => ({ 'content-type': 'application/x-www-form-urlencoded', body: new URLSearchParams(fields).toString() });
const postKey = (name: string, headers: Record<string, string> = {}, method = 'POST') => {
  const { body, ...type } = form({ _csrf: f.csrf, name, type: 'ec-p256' });
  return f.call('/keys', { method, headers: { ...type, ...headers }, body });
};

describe('unsafe page requests from another site', () => {
  it('pass from our own pages and from clients that send neither header (curl, scripts)', async () => {
    expect((await postKey('k1')).status).toBe(201);
    expect((await postKey('k2', { origin: PAGE_ORIGIN })).status).toBe(201);
    expect((await postKey('k3', { origin: PAGE_ORIGIN, 'sec-fetch-site': 'same-origin' })).status).toBe(201);
    expect((await postKey('k4', { 'sec-fetch-site': 'none' })).status).toBe(201); // typed into the address bar
  });

  it('are refused with 403 before any handler runs: nothing made, the session not touched', async () => {
    const [before] = await f.deps.db.db.select().from(sessions);
    await f.deps.db.db.update(sessions).set({ lastSeenAt: before.lastSeenAt - 5 * 60_000 }); // due for a touch
    const refused: Array<Record<string, string>> = [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { origin: 'http://127.0.0.1:8081' }, // another port
      { origin: 'https://127.0.0.1:8080' }, // another scheme
      { origin: PAGE_ORIGIN, 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of refused) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        const res = await postKey('planted', { ...headers, accept: 'text/html' }, method);
        expect(res.status, `${method} ${JSON.stringify(headers)}`).toBe(403);
        expect(res.text).toContain('Not allowed');
      }
    }
    const [after] = await f.deps.db.db.select().from(sessions);
    expect(after.lastSeenAt).toBe(before.lastSeenAt - 5 * 60_000);
    expect((await f.call('/keys/planted')).status).toBe(404);
  });

  it('leave safe methods, the download API and the always-open endpoints alone', async () => {
    expect((await f.call('/keys', { headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } })).status).toBe(200);
    const download = await f.call('/api/key/k1', { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: 'format=zip' }, false);
    expect(download.status).toBe(401); // the API key decides there, not the origin
    expect((await f.call('/healthz', { headers: { origin: 'null' } }, false)).status).toBe(200);
  });
});

describe('the admin API', () => {
  const call = (body: string | undefined, headers: Record<string, string> = {}) =>
    f.call('/api/v1/tokens', { method: 'POST', headers: { authorization: `Bearer ${token}`, ...headers }, body }, false);

  it('takes a body only as JSON', async () => {
    expect((await call('{"name":"a"}', { 'content-type': 'application/json' })).status).toBe(201);
    expect((await call('{"name":"b"}', { 'content-type': 'application/json; charset=utf-8' })).status).toBe(201);
    expect((await call('{"name":"c"}', { 'content-type': 'application/merge-patch+json' })).status).toBe(201);
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'text/json']) {
      const res = await call('{"name":"d"}', { 'content-type': type });
      expect(res.status, type).toBe(415);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
    expect((await call('{"name":"e"}')).status).toBe(415); // no type at all: not taken for JSON
  });

  it('takes a POST without a body', async () => {
    expect((await call(undefined)).status).toBe(201);
  });
});
