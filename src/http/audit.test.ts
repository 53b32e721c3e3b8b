// The audit log as users meet it, in the app in this process on a libSQL file (no CA needed):
//   - every admin change through the API and the pages is recorded with who, what, which object,
//     from where and the outcome, and a failed sign-in is recorded as refused;
//   - fail closed: when the record cannot be written (a trigger makes every insert into the audit
//     log fail), the change is not made and the caller gets an error — also for a download;
//   - downloads are counted per consumer and hour: the first writes a record, the repeats write
//     nothing until the hour has ended; refusals (401, 403) are recorded too;
//   - GET /api/v1/audit filters and pages along indexes; ?format=jsonl streams every record;
//     /audit shows the same with its filters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/libsql/sqlite3';
import type { Client } from '@libsql/client';
import { auditLog, certificates, keys } from '../db/schema.ts';
import * as schema from '../db/schema.ts';
import { signedInPageApp, PAGE_ORIGIN, type PageApp } from '../../test/harness/page-app.ts';
import { createAdminToken } from '../domain/tokens.ts';
import { createSession } from '../domain/sessions.ts';
import { auditStatement, BY_CLI } from '../domain/audit.ts';
import { auditTick } from '../domain/audit-chain.ts';
import { pageAudit, parseAuditQuery } from '../domain/audit-list.ts';
import { sessions, users } from '../db/schema.ts';
import { hashPassword } from '../domain/passwords.ts';
import { parseIpList } from './ip.ts';

const HOUR = 3_600_000;

let app: PageApp;
let token: string;
let clock = Date.now();

beforeAll(async () => {
  app = await signedInPageApp('audit');
  app.deps.now = () => clock;
  // Requests come from several addresses here, as from a fleet.
  app.deps.allowAdmin = parseIpList('*');
  app.deps.allowApi = parseIpList('*');
  token = await createAdminToken(app.deps, BY_CLI, 'ci');
});
afterAll(() => app?.close());

/** A request from `clientIp`, as the host hands it to the app. */
async function send(path: string, init: RequestInit & { clientIp?: string; secure?: boolean } = {}) {
  const res = await app.app.fetch(new Request(PAGE_ORIGIN + path, { ...init, redirect: 'manual' }), { clientIp: init.clientIp ?? '127.0.0.1', secure: init.secure ?? false, waitUntil: () => {} });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, json: () => JSON.parse(text) };
}
const api = (method: string, path: string, body?: unknown, clientIp = '192.0.2.10') =>
  send(path, { method, clientIp, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
/** The signed-in administrator's session, made anew when the clock has moved past the last one. */
let session: { cookie: string; csrf: string; at: number } | undefined;
async function signedIn() {
  if (!session || clock - session.at > 10 * 60_000) {
    const made = await createSession(app.deps, BY_CLI, { id: 'u1', email: 'admin@example.com' });
    session = { cookie: `certkeep=${made.token}`, csrf: made.session.csrfToken, at: clock };
  }
  return session;
}
const page = async (path: string) => send(path, { headers: { cookie: (await signedIn()).cookie } });
const form = async (path: string, fields: Record<string, string>) => {
  const { cookie, csrf } = await signedIn();
  return send(path, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: PAGE_ORIGIN }, body: new URLSearchParams({ _csrf: csrf, ...fields }).toString() });
};
const records = async (query = '') => (await api('GET', `/api/v1/audit${query}`)).json().items as Array<Record<string, any>>;
const count = async (table: typeof keys | typeof auditLog) => (await app.deps.db.db.select({ n: sql<number>`count(*)` }).from(table))[0].n;

describe('every admin change', () => {
  it('is recorded with who, what, which object, from where and how it went', async () => {
    expect((await api('POST', '/api/v1/keys', { name: 'k1', type: 'ec-p256' })).status).toBe(201);
    expect((await api('POST', '/api/v1/keys/k1/api-keys/2')).status).toBe(200);
    expect((await api('PUT', '/api/v1/settings', { renewDays: 20, auditRetentionDays: 400 })).status).toBe(200);
    expect((await api('POST', '/api/v1/certificates', { name: 'www', domains: ['www.example.com'] })).status).toBe(201);
    expect((await api('PATCH', '/api/v1/certificates/www', { domains: ['www.example.com', 'example.com'] })).status).toBe(200);
    expect((await api('DELETE', '/api/v1/keys/k1')).status).toBe(204);
    expect((await form('/keys', { source: 'generate', name: 'k2', type: 'ec-p256' })).status).toBe(201);
    expect((await form('/settings/audit', { auditRetentionDays: '2' })).status).toBe(400);
    const got = (await records('?limit=20')).filter((r) => !['token.create', 'user.sign-in'].includes(r.action));
    expect(got.map((r) => [r.action, r.actor.kind, r.actor.name, r.object?.name ?? null, r.clientIp, r.outcome])).toEqual([
      ['key.create', 'user', 'admin@example.com', 'k2', '127.0.0.1', 'ok'],
      ['key.delete', 'token', 'ci', 'k1', '192.0.2.10', 'ok'],
      ['certificate.edit', 'token', 'ci', 'www', '192.0.2.10', 'ok'],
      ['certificate.create', 'token', 'ci', 'www', '192.0.2.10', 'ok'],
      ['settings.update', 'token', 'ci', 'auditRetentionDays', '192.0.2.10', 'ok'],
      ['settings.update', 'token', 'ci', 'renewDays', '192.0.2.10', 'ok'],
      ['key.api-key', 'token', 'ci', 'k1', '192.0.2.10', 'ok'],
      ['key.create', 'token', 'ci', 'k1', '192.0.2.10', 'ok'],
    ]);
    expect(got[2].detail).toEqual({ changed: ['domains'], domains: ['www.example.com', 'example.com'] });
    expect(got[3].detail).toMatchObject({ domains: ['www.example.com'], challenge: 'http-01', account: 'default', key: { name: 'www', created: true } });
    expect(got[6].detail).toEqual({ slot: 2 });
    // No secret in any record: no API key, no token.
    expect(JSON.stringify(await records('?limit=500'))).not.toMatch(/ck[ckat]_/);
  });

  it('includes signing in, failing to, and signing out', async () => {
    const now = Date.now();
    await app.deps.db.db.insert(users).values({ id: 'u2', email: 'ops@example.com', passwordHash: await hashPassword('the right password', 1000), createdAt: now, updatedAt: now });
    const login = (password: string) =>
      send('/login', { method: 'POST', clientIp: '198.51.100.4', secure: true, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ email: 'ops@example.com', password }).toString() });
    expect((await login('a wrong password')).status).toBe(401);
    const ok = await login('the right password');
    expect(ok.status).toBe(303);
    const cookie = ok.headers.get('set-cookie')!.split(';')[0];
    const [{ csrfToken }] = await app.deps.db.db.select().from(sessions).where(eq(sessions.userId, 'u2'));
    const signOut = await send('/logout', {
      method: 'POST',
      clientIp: '198.51.100.4',
      secure: true,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrfToken }).toString(),
    });
    expect(signOut.status).toBe(303);
    const got = await records('?object=ops%40example.com');
    expect(got.map((r) => [r.action, r.actor.name, r.outcome, r.clientIp, r.detail])).toEqual([
      ['user.sign-out', 'ops@example.com', 'ok', '198.51.100.4', null],
      ['user.sign-in', 'ops@example.com', 'ok', '198.51.100.4', null],
      ['user.sign-in', 'ops@example.com', 'refused', '198.51.100.4', { reason: 'wrong password', purpose: 'sign-in' }],
    ]);
  });
});

describe('fail closed', () => {
  it('makes no change, and serves no download, whose record cannot be written', async () => {
    const created = await api('POST', '/api/v1/keys', { name: 'served', type: 'ec-p256' });
    const keyApiKey: string = created.json().apiKeys[0];
    const client = (app.deps.db as unknown as { db: { $client: { execute(q: string): Promise<unknown> } } }).db.$client;
    await client.execute("create trigger audit_unavailable before insert on audit_log begin select raise(abort, 'the audit log is unavailable'); end");
    try {
      const settingsBefore = (await api('GET', '/api/v1/settings')).json();
      const keysBefore = await count(keys);
      const attempts = [
        await api('POST', '/api/v1/keys', { name: 'k3', type: 'ec-p256' }),
        await api('POST', '/api/v1/certificates', { name: 'api', domains: ['api.example.com'] }),
        await api('DELETE', '/api/v1/keys/served'),
        await api('PUT', '/api/v1/settings', { renewDays: 30 }),
        await api('POST', '/api/v1/tokens', { name: 'another' }),
        await form('/keys', { source: 'generate', name: 'k4', type: 'ec-p256' }),
      ];
      expect(attempts.map((a) => a.status)).toEqual([500, 500, 500, 500, 500, 500]);
      expect(await count(keys)).toBe(keysBefore);
      expect(await app.deps.db.db.select().from(certificates).where(eq(certificates.name, 'api'))).toEqual([]);
      expect((await api('GET', '/api/v1/settings')).json()).toEqual(settingsBefore);
      // A download whose record cannot be written is not served.
      const download = await send('/api/key/served', { headers: { apikey: keyApiKey }, clientIp: '192.0.2.99' });
      expect(download.status).toBe(500);
      expect(download.text).not.toContain('PRIVATE KEY');
    } finally {
      await client.execute('drop trigger audit_unavailable');
    }
    expect((await send('/api/key/served', { headers: { apikey: keyApiKey }, clientIp: '192.0.2.99' })).text).toContain('PRIVATE KEY');
  });
});

describe('downloads', () => {
  it('are counted per consumer and hour: a record when the hour or outcome is new, the repeats in memory until the hour ends', async () => {
    // The 1,000 downloads below take 1,000 s of the clock: all of them in one hour.
    clock = Math.floor(clock / HOUR) * HOUR + HOUR + 60_000;
    const made = (await api('POST', '/api/v1/certificates', { name: 'dl', domains: ['dl.example.com'] })).json();
    await app.deps.db.db.update(certificates).set({ pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', status: 'valid' }).where(eq(certificates.name, 'dl'));
    const [slot1, slot2]: string[] = made.apiKeys;
    const keyKey: string = made.key.apiKeys[0];
    const get = (path: string, apikey: string, clientIp: string) => send(path, { headers: { apikey }, clientIp });
    const downloads = () => app.deps.db.db.select().from(auditLog).where(and(eq(auditLog.objectName, 'dl'), eq(auditLog.action, 'certificate.download'))).orderBy(auditLog.id);
    const before = await count(auditLog);
    // 1,000 downloads in one hour: three servers polling, one with a wrong key, one with the key's API key on the certificate.
    const plan: Array<[string, string, number, number]> = [
      [slot1, '192.0.2.31', 400, 200],
      [slot2, '192.0.2.32', 300, 200],
      [slot1, '192.0.2.33', 200, 200],
      ['ckc_' + 'x'.repeat(32), '192.0.2.34', 15, 401],
      [keyKey, '192.0.2.35', 85, 403],
    ];
    let sent = 0;
    for (const [apikey, ip, n, status] of plan) {
      for (let i = 0; i < n; i++) {
        clock += 1000;
        expect((await get('/api/certificate/dl', apikey, ip)).status).toBe(status);
        sent++;
      }
    }
    expect(sent).toBe(1000);
    let rows = await downloads();
    // One record per consumer and outcome, written by its first download; nothing since.
    expect((await count(auditLog)) - before).toBe(5);
    expect(rows.map((r) => [r.actorName, r.clientIp, r.outcome, r.count, r.detail])).toEqual([
      ['certificate dl, API key 1', '192.0.2.31', 'ok', 1, null],
      ['certificate dl, API key 2', '192.0.2.32', 'ok', 1, null],
      ['certificate dl, API key 1', '192.0.2.33', 'ok', 1, null],
      ['an unknown API key', '192.0.2.34', 'refused', 1, '{"status":401}'],
      ['key dl, API key 1', '192.0.2.35', 'refused', 1, '{"status":403}'],
    ]);
    // The hour ends: the tick writes the counts kept in memory and seals the records.
    clock = Math.floor(clock / HOUR) * HOUR + HOUR + 11 * 60_000;
    await auditTick(app.deps);
    rows = await downloads();
    expect(rows.map((r) => r.count)).toEqual([400, 300, 200, 15, 85]);
    expect(rows.every((r) => r.seq !== null)).toBe(true);
    expect((await count(auditLog)) - before).toBe(5);
    // The next hour starts a new record for the consumer.
    await get('/api/certificate/dl', slot1, '192.0.2.31');
    expect((await downloads()).length).toBe(6);
    const listed = await records('?action=certificate.download&actor=certificate%20dl%2C%20API%20key%201&limit=5');
    expect(listed.map((r) => [r.clientIp, r.count, r.sealed])).toEqual([
      ['192.0.2.31', 1, false],
      ['192.0.2.33', 200, true],
      ['192.0.2.31', 400, true],
    ]);
  });

  it('past the limit of wrong keys, are one record per address and hour whatever the names asked for', async () => {
    const before = await count(auditLog);
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await send(`/api/certificate/made-up-${i}`, { headers: { apikey: `ckc_${'y'.repeat(32)}` }, clientIp: '203.0.113.66' })).status);
    expect(statuses.filter((s) => s === 401).length).toBe(20);
    expect(statuses.filter((s) => s === 429).length).toBe(10);
    const flood = await records('?outcome=refused&limit=50');
    const mine = flood.filter((r) => r.clientIp === '203.0.113.66');
    expect(mine.filter((r) => r.detail?.status === 429)).toEqual([expect.objectContaining({ object: null, actor: expect.objectContaining({ name: 'too many wrong API keys from this address' }) })]);
    expect((await count(auditLog)) - before).toBe(21);
  });
});

describe('the list', () => {
  it('pages newest first with a cursor, filters, and refuses a bad parameter naming it', async () => {
    const t = clock;
    await app.deps.db.batch(
      Array.from({ length: 120 }, (_, i) => {
        app.deps.now = () => t + 10_000 + i;
        return auditStatement(app.deps, { kind: 'cli', name: 'seed' }, { action: i % 2 ? 'certificate.delete' : 'key.delete', object: { kind: 'key', name: `p${i}` }, outcome: i % 3 ? 'ok' : 'failed' });
      }),
    );
    app.deps.now = () => clock;
    const seen: number[] = [];
    let next: string | null = null;
    do {
      const page = (await api('GET', `/api/v1/audit?actor=seed&limit=50${next ? `&cursor=${next}` : ''}`)).json();
      seen.push(...page.items.map((r: { id: number }) => r.id));
      next = page.next;
    } while (next);
    expect(seen.length).toBe(120);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    expect((await records('?actor=seed&action=key.delete&outcome=failed&limit=500')).length).toBe(20);
    expect((await records(`?actor=seed&since=${new Date(t + 10_100).toISOString()}&limit=500`)).length).toBe(20);
    expect((await records(`?object=p7`)).map((r) => r.action)).toEqual(['certificate.delete']);
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['outcome=maybe', 'outcome'],
      ['since=yesterday', 'since'],
      ['cursor=bogus', 'cursor'],
      ['who=me', 'who'],
      ['format=xml', 'format'],
    ]) {
      const res = await api('GET', `/api/v1/audit?${query}`);
      expect([res.status, res.headers.get('content-type'), res.json().field], query).toEqual([400, 'application/problem+json', field]);
    }
  });

  it('reads along an index for every filter, never sorting the whole log', async () => {
    const plans: string[] = [];
    const client = (app.deps.db as unknown as { db: { $client: Client } }).db.$client;
    const recording = drizzle(client, { schema, logger: { logQuery: (q, params) => void plans.push(JSON.stringify([q, params])) } });
    const deps = { ...app.deps, db: { ...app.deps.db, db: recording as never } };
    const first = await pageAudit(deps, parseAuditQuery(new URLSearchParams('limit=10')));
    for (const query of ['', `cursor=${first.next}`, 'action=key.delete', 'actor=ci', 'object=www', 'outcome=refused', 'since=2030-01-01&until=2030-02-01', 'action=key.delete&since=2030-01-01']) {
      plans.length = 0;
      await pageAudit(deps, parseAuditQuery(new URLSearchParams(`limit=10&${query}`)));
      const [q, params] = JSON.parse(plans[0]);
      const plan = ((await client.execute({ sql: `explain query plan ${q}`, args: params })).rows as unknown as Array<{ detail: string }>).map((r) => r.detail).join('\n');
      expect(plan, query).toMatch(/USING INDEX audit_log_/);
      expect(plan, query).not.toMatch(/TEMP B-TREE|SCAN audit_log$/m);
    }
  });

  it('exports every record the filters select as JSON lines, and shows them on the page', async () => {
    const all = await count(auditLog);
    const res = await api('GET', '/api/v1/audit?format=jsonl');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/jsonl; charset=utf-8');
    const lines = res.text.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(all);
    const order = lines.map((l) => [Date.parse(l.at), l.id]);
    expect(order).toEqual([...order].sort((a, b) => b[0] - a[0] || b[1] - a[1]));
    expect((await api('GET', '/api/v1/audit?format=jsonl&action=certificate.delete')).text.trimEnd().split('\n').length).toBe(60);

    const shown = await page('/audit?action=key.create&outcome=');
    expect(shown.status).toBe(200);
    expect(shown.text).toContain('<a href="/audit" aria-current="page">Audit log</a>');
    expect(shown.text).toMatch(/<code>key\.create<\/code>/);
    expect(shown.text).not.toMatch(/<code>key\.delete<\/code>/);
    expect(shown.text).toContain('href="/audit/export?action=key.create"');
    const bad = await page('/audit?since=soon');
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/aria-invalid="true"/);
    const exported = await page('/audit/export?action=key.create');
    expect(exported.text.trimEnd().split('\n').map((l) => JSON.parse(l).action)).toEqual(['key.create', 'key.create', 'key.create']);
  });
});
