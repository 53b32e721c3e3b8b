// /metrics in process, through the real app on a libSQL file, with the clock in hand: what each
// series says for certificates in known states (status, failing, expiry, the scheduler's queue
// and lag), the database counters and their bounded labels, the delivery log once its table
// exists, the download counts, who may read it (allow-list, metrics token, admin token, guessing)
// and what a scrape costs: the same few queries at 7 certificates as at 47, each along an index.
import { BY_CLI } from '../domain/audit.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { drizzle } from 'drizzle-orm/libsql/sqlite3';
import { eq, like, sql } from 'drizzle-orm';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import { createApp, type App } from '../app.ts';
import * as schema from '../db/schema.ts';
import { acmeAccounts, auditLog, certificates, leases, rateLimits, settings } from '../db/schema.ts';
import { wrapDatabase, type Db } from '../db/client.ts';
import type { Deps } from '../deps.ts';
import { parseIpList } from '../http/ip.ts';
import { createCertificate } from '../domain/certificates.ts';
import { createAdminToken } from '../domain/tokens.ts';
import { BY_SYSTEM } from '../domain/audit.ts';
import { createMetricsToken } from '../domain/metrics-token.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';
import { parseExposition, seriesKey } from '../../test/harness/prometheus.ts';
import { orderEndedStatement, problemStatement, problemTypeLabel } from './counters.ts';
import { DownloadCounts } from './downloads.ts';
import { EXPOSITION_CONTENT_TYPE, renderExposition } from './exposition.ts';

const DAY = 86_400_000;
const ALLOWED = '127.0.0.1';
const OUTSIDE = '192.0.2.7';

interface Fixture {
  opened: OpenedDatabase;
  deps: Deps;
  app: App;
  adminToken: string;
  /** The clock the app reads. */
  now: number;
  sent: Array<{ sql: string; params: unknown[] }>;
  call(path: string, opts?: { from?: string; headers?: Record<string, string>; method?: string; body?: string }): Promise<{ status: number; type: string | null; text: string }>;
  scrape(): Promise<Map<string, number>>;
}

async function fixture(): Promise<Fixture> {
  const opened = await openDatabase(`file:${makeTempDir('metrics-')}/certkeep.db`);
  const sent: Fixture['sent'] = [];
  const recording = drizzle(opened.client, { schema, logger: { logQuery: (query, params) => void sent.push({ sql: query, params }) } });
  const f = { opened, sent, now: Date.now() } as Fixture;
  f.deps = await offlineDeps(wrapDatabase(recording as unknown as Db & { batch(s: unknown[]): Promise<unknown[]> }), {
    now: () => f.now,
    allowAdmin: parseIpList(ALLOWED),
    hostMetrics: { downloads: new DownloadCounts(), collect: async () => [] },
  });
  await f.deps.db.db.insert(settings).values({ key: 'setupCompletedAt', value: String(f.now), updatedAt: f.now });
  await f.deps.db.db.insert(acmeAccounts).values({
    id: 'acct', name: 'default', directoryUrl: 'https://ca.example/dir', email: null, staging: false, termsOfServiceAgreed: true,
    accountUrl: 'https://ca.example/acct/1', status: 'valid', keyType: 'ec-p256', keySealed: 'unused', nextKeySealed: null, eabKid: null, createdAt: f.now, updatedAt: f.now,
  });
  f.adminToken = await createAdminToken(f.deps, BY_CLI, 'metrics-test');
  f.app = createApp(f.deps);
  f.call = async (path, opts = {}) => {
    const res = await f.app.fetch(new Request(`http://127.0.0.1${path}`, { method: opts.method ?? 'GET', headers: opts.headers, body: opts.body }), {
      clientIp: opts.from ?? ALLOWED,
      secure: false,
      waitUntil: () => {},
    });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };
  f.scrape = async () => {
    const res = await f.call('/metrics');
    expect(res.status, res.text).toBe(200);
    expect(res.type).toBe(EXPOSITION_CONTENT_TYPE);
    return parseExposition(res.text);
  };
  return f;
}

let f: Fixture;
beforeEach(async () => {
  f = await fixture();
});
afterEach(() => f.opened.close());

/** Sets a certificate's columns as if it had been issued, failed, revoked… */
async function shape(name: string, set: Partial<typeof certificates.$inferInsert>) {
  await f.deps.db.db.update(certificates).set(set).where(eq(certificates.name, name));
}

async function make(name: string) {
  await createCertificate(f.deps, BY_CLI, { name, domains: [`${name}.example.com`], challenge: 'http-01' });
}

const issued = (notAfter: number, renewAt: number) => ({ status: 'valid' as const, pem: 'PEM', serial: '01', notBefore: notAfter - 90 * DAY, notAfter, renewAt });

/** Seven certificates, one of each situation; see the expectations below. */
async function seedSituations() {
  const now = f.now;
  for (const name of ['fresh', 'expired', 'waiting', 'overdue', 'failing', 'revoked', 'leased']) await make(name);
  await shape('fresh', issued(now + 10 * DAY, now + 5 * DAY));
  // Expired, its renewal failing and backed off for an hour: not due now.
  await shape('expired', { ...issued(now - DAY, now - 31 * DAY), lastError: '{"type":"urn:ietf:params:acme:error:connection"}', failureCount: 3, nextAttemptAt: now + 3_600_000 });
  // Never issued, created ten minutes ago: due since then.
  await shape('waiting', { createdAt: now - 600_000 });
  // Issued, its renewal time two hours past: due since then (the longest wait).
  await shape('overdue', issued(now + 20 * DAY, now - 7_200_000));
  // Renewal due but backed off: failing, not due.
  await shape('failing', { ...issued(now + 25 * DAY, now - DAY), lastError: '{"type":"urn:ietf:params:acme:error:rateLimited"}', failureCount: 1, nextAttemptAt: now + 600_000 });
  await shape('revoked', { ...issued(now + 40 * DAY, now - DAY), status: 'revoked', revokedAt: now });
  // Never issued, but an order runs for it (its lease is held): not waiting.
  const [leased] = await f.deps.db.db.select({ id: certificates.id }).from(certificates).where(eq(certificates.name, 'leased'));
  await f.deps.db.db.insert(leases).values({ name: `certificate:${leased.id}`, holder: 'other-host', expiresAt: now + 30_000 });
}

describe('the exposition format', () => {
  it('escapes label values and help text, sorts labels, writes special values as Prometheus reads them', () => {
    const text = renderExposition([
      { name: 'x_total', help: 'a \\ back\nslash', type: 'counter', samples: [{ labels: { b: 'q"uote', a: 'back\\slash\nnewline' }, value: 3 }] },
      { name: 'y', help: 'y', type: 'gauge', samples: [{ value: NaN }, { labels: { k: 'v' }, value: Infinity }, { labels: { k: 'w' }, value: -Infinity }, { labels: { k: 'z' }, value: 0.25 }] },
      { name: 'empty', help: 'no series: no lines', type: 'gauge', samples: [] },
    ]);
    expect(text).toBe(
      [
        '# HELP x_total a \\\\ back\\nslash',
        '# TYPE x_total counter',
        'x_total{a="back\\\\slash\\nnewline",b="q\\"uote"} 3',
        '# HELP y y',
        '# TYPE y gauge',
        'y NaN',
        'y{k="v"} +Inf',
        'y{k="w"} -Inf',
        'y{k="z"} 0.25',
        '',
      ].join('\n'),
    );
  });

  it('refuses a metric or label name Prometheus would not read', () => {
    expect(() => renderExposition([{ name: 'bad-name', help: '', type: 'gauge', samples: [{ value: 1 }] }])).toThrow(/bad metric name/);
    expect(() => renderExposition([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }])).toThrow(/bad label name/);
  });
});

describe('what a scrape says', () => {
  it('counts certificates by status, the failing ones, each expiry, and the scheduler queue and its lag', async () => {
    await seedSituations();
    const m = await f.scrape();
    const status = (s: string) => m.get(seriesKey('certkeep_certificates', { status: s }));
    expect([status('new'), status('pending'), status('valid'), status('invalid'), status('expired'), status('revoked')]).toEqual([2, 0, 3, 0, 1, 1]);
    expect(m.get('certkeep_certificates_failing')).toBe(2);
    const expiresIn = (name: string) => m.get(seriesKey('certkeep_certificate_expires_in_seconds', { certificate: name }));
    expect(expiresIn('fresh')).toBe(10 * 86_400);
    expect(expiresIn('expired')).toBe(-86_400);
    expect(expiresIn('overdue')).toBe(20 * 86_400);
    // Never issued, and revoked: no expiry series.
    for (const name of ['waiting', 'leased', 'revoked']) expect(expiresIn(name), name).toBeUndefined();
    // Due: `waiting` (10 minutes) and `overdue` (2 hours); not the backed-off, revoked or leased ones.
    expect(m.get('certkeep_scheduler_due_certificates')).toBe(2);
    expect(m.get('certkeep_scheduler_lag_seconds')).toBe(7200);

    // An hour later the same queue has waited an hour longer; once it is empty the lag is 0.
    f.now += 3_600_000;
    expect((await f.scrape()).get("certkeep_scheduler_lag_seconds")).toBe(7200 + 3600);
    await f.deps.db.db.update(certificates).set({ renewAt: f.now + DAY, nextAttemptAt: f.now + DAY, pem: 'PEM' });
    const empty = await f.scrape();
    expect(empty.get('certkeep_scheduler_due_certificates')).toBe(0);
    expect(empty.get('certkeep_scheduler_lag_seconds')).toBe(0);
  });

  it('shows the order and problem counters from the database, every reason × outcome from zero, unknown problem types as other', async () => {
    const before = await f.scrape();
    expect(before.get(seriesKey('certkeep_orders_total', { reason: 'renewal', outcome: 'failed' }))).toBe(0);
    expect([...before.keys()].some((k) => k.startsWith('certkeep_acme_problems_total'))).toBe(false);
    await f.deps.db.batch([
      orderEndedStatement(f.deps, 'new', 'issued'),
      orderEndedStatement(f.deps, 'new', 'issued'),
      orderEndedStatement(f.deps, 'renewal', 'failed'),
      problemStatement(f.deps, 'urn:ietf:params:acme:error:rateLimited'),
      problemStatement(f.deps, 'urn:ietf:params:acme:error:rateLimited'),
      problemStatement(f.deps, 'urn:certkeep:problem:acme-network'),
      problemStatement(f.deps, 'urn:ietf:params:acme:error:madeUpByTheCa'),
      problemStatement(f.deps, 'https://ca.example/problems/' + 'x'.repeat(500)),
    ]);
    const m = await f.scrape();
    expect(m.get(seriesKey('certkeep_orders_total', { reason: 'new', outcome: 'issued' }))).toBe(2);
    expect(m.get(seriesKey('certkeep_orders_total', { reason: 'renewal', outcome: 'failed' }))).toBe(1);
    expect(m.get(seriesKey('certkeep_orders_total', { reason: 'manual', outcome: 'abandoned' }))).toBe(0);
    expect([...m.keys()].filter((k) => k.startsWith('certkeep_orders_total'))).toHaveLength(9);
    expect(m.get(seriesKey('certkeep_acme_problems_total', { type: 'urn:ietf:params:acme:error:rateLimited' }))).toBe(2);
    expect(m.get(seriesKey('certkeep_acme_problems_total', { type: 'urn:certkeep:problem:acme-network' }))).toBe(1);
    expect(m.get(seriesKey('certkeep_acme_problems_total', { type: 'other' }))).toBe(2);
    expect(problemTypeLabel('urn:certkeep:problem:no-challenge')).toBe('urn:certkeep:problem:no-challenge');
    expect(problemTypeLabel('urn:certkeep:problem:whatever-a-ca-says')).toBe('other');
  });

  it('shows the delivery log by state, every state from zero', async () => {
    const zero = await f.scrape();
    for (const state of ['pending', 'sent', 'failed']) expect(zero.get(seriesKey('certkeep_notification_deliveries', { state }))).toBe(0);
    const delivery = (state: string, n: number) =>
      `(${n}, 'certificate.renewed', 'c1', 'ops', 'webhook', '${state}', 1, 0, 0)`;
    await f.opened.client.execute(
      `insert into notification_deliveries (event_id, event_type, channel_id, channel_name, channel_type, state, attempts, created_at, updated_at) values ${[delivery('sent', 1), delivery('sent', 2), delivery('failed', 3)].join(', ')}`,
    );
    const m = await f.scrape();
    expect(m.get(seriesKey('certkeep_notification_deliveries', { state: 'pending' }))).toBe(0);
    expect(m.get(seriesKey('certkeep_notification_deliveries', { state: 'sent' }))).toBe(2);
    expect(m.get(seriesKey('certkeep_notification_deliveries', { state: 'failed' }))).toBe(1);
  });

  it('counts the download API answers of this process by kind and outcome', async () => {
    await f.call('/api/certificate/nothing', { headers: { apikey: 'ckc_' + 'A'.repeat(32) } });
    await f.call('/api/key/nothing', { headers: {} });
    await f.call('/api/certificate/nothing', { headers: { apikey: 'ckc_' + 'A'.repeat(32) }, from: OUTSIDE });
    const m = await f.scrape();
    expect(m.get(seriesKey('certkeep_downloads_total', { kind: 'certificate', outcome: 'unauthorized' }))).toBe(1);
    expect(m.get(seriesKey('certkeep_downloads_total', { kind: 'certificate', outcome: 'forbidden' }))).toBe(1);
    expect(m.get(seriesKey('certkeep_downloads_total', { kind: 'key', outcome: 'unauthorized' }))).toBe(1);
    expect(m.get(seriesKey('certkeep_downloads_total', { kind: 'key', outcome: 'ok' }))).toBe(0);
  });
});

describe('who may read /metrics', () => {
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('answers the admin allow-list without a token and refuses other addresses with 403, saying how, leaking nothing', async () => {
    await seedSituations();
    const outside = await f.call('/metrics', { from: OUTSIDE });
    expect(outside.status).toBe(403);
    expect(outside.type).toBe('application/problem+json');
    expect(JSON.parse(outside.text).detail).toMatch(/CERTKEEP_ALLOW_ADMIN.*metrics token/);
    expect(outside.text).not.toMatch(/certkeep_|fresh|expired/);
    // A refusal without a token changes nothing, not even a guessing count.
    expect(await f.deps.db.db.select().from(rateLimits)).toEqual([]);
    expect((await f.call('/metrics', { method: 'POST', body: 'x' })).status).toBe(405);
    expect((await f.call('/metrics', { method: 'POST', from: OUTSIDE })).status).toBe(403);
  });

  it('opens to the metrics token from anywhere; a new token replaces the old; deleting it closes the door; each change audited', async () => {
    const admin = { ...bearer(f.adminToken), 'content-type': 'application/json' };
    expect(JSON.parse((await f.call('/api/v1/metrics-token', { headers: admin })).text)).toEqual({ exists: false, createdAt: null });
    const created = await f.call('/api/v1/metrics-token', { method: 'POST', headers: admin, body: '{}' });
    expect(created.status).toBe(201);
    const first = JSON.parse(created.text).token as string;
    expect(first).toMatch(/^ckm_[A-Za-z0-9_-]{32}$/);
    expect((await f.call('/metrics', { from: OUTSIDE, headers: bearer(first) })).status).toBe(200);
    // Only its hash is stored.
    const stored = await f.deps.db.db.select().from(settings).where(eq(settings.key, 'metricsToken'));
    expect(stored[0].value).not.toContain(first);

    const second = await createMetricsToken(f.deps, BY_SYSTEM);
    expect((await f.call('/metrics', { from: OUTSIDE, headers: bearer(first) })).status).toBe(401);
    expect((await f.call('/metrics', { from: OUTSIDE, headers: bearer(second) })).status).toBe(200);
    // The token opens /metrics only.
    expect((await f.call('/api/v1/certificates', { from: ALLOWED, headers: bearer(second) })).status).toBe(401);

    expect((await f.call('/api/v1/metrics-token', { method: 'DELETE', headers: bearer(f.adminToken) })).status).toBe(204);
    expect((await f.call('/metrics', { from: OUTSIDE, headers: bearer(second) })).status).toBe(401);
    expect((await f.call('/api/v1/metrics-token', { method: 'DELETE', headers: bearer(f.adminToken) })).status).toBe(404);
    // A body it does not take is a 400 naming the field.
    const bad = await f.call('/api/v1/metrics-token', { method: 'POST', headers: admin, body: '{"name":"x"}' });
    expect([bad.status, JSON.parse(bad.text).field]).toEqual([400, 'name']);

    const audit = await f.deps.db.db.select().from(auditLog).where(like(auditLog.action, 'metrics-token.%')).orderBy(auditLog.id);
    expect(audit.map((a) => [a.action, a.actorKind, a.outcome])).toEqual([
      ['metrics-token.create', 'token', 'ok'],
      ['metrics-token.create', 'system', 'ok'],
      ['metrics-token.delete', 'token', 'ok'],
    ]);
    expect(audit.map((a) => a.detail).join(' ')).not.toMatch(/ckm_/);
  });

  it('refuses an admin token without counting it, counts wrong metrics tokens, and answers 429 past the limit', async () => {
    for (let i = 0; i < 25; i++) expect((await f.call('/metrics', { from: OUTSIDE, headers: bearer(f.adminToken) })).status).toBe(401);
    expect(await f.deps.db.db.select().from(rateLimits)).toEqual([]);
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await f.call('/metrics', { from: OUTSIDE, headers: bearer(`ckm_${String(i).padStart(32, 'A')}`) })).status);
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses[20]).toBe(429);
    // A malformed header is refused the same way, from the allow-list too.
    expect((await f.call('/metrics', { headers: { authorization: 'Basic eDp5' } })).status).toBe(401);
  });

  it('is not served over plain HTTP to another machine once HTTPS is up, as the API is not', async () => {
    f.deps.httpsPort = () => 8443;
    const token = await createMetricsToken(f.deps, BY_SYSTEM);
    const res = await f.call('/metrics', { from: OUTSIDE, headers: bearer(token) });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).detail).toMatch(/use HTTPS/);
  });
});

describe('what a scrape costs', () => {
  /** The SQL of one scrape, each select with its EXPLAIN QUERY PLAN. */
  async function scrapePlans(): Promise<Array<{ sql: string; plan: string[] }>> {
    f.sent.length = 0;
    await f.scrape();
    const plans = [];
    for (const { sql: text, params } of f.sent) {
      const rows = (await f.opened.client.execute({ sql: `explain query plan ${text}`, args: params as never })).rows;
      plans.push({ sql: text, plan: rows.map((r) => String(r.detail)) });
    }
    return plans;
  }

  it('sends the same few queries at 7 certificates as at 47, each along an index, none reading every certificate row', async () => {
    await seedSituations();
    const small = await scrapePlans();
    for (let i = 0; i < 40; i++) await make(`more-${i}`);
    await f.deps.db.db.update(certificates).set(issued(f.now + 50 * DAY, f.now + 20 * DAY)).where(sql`${certificates.name} like 'more-%'`);
    const large = await scrapePlans();
    expect(large.map((p) => p.sql)).toEqual(small.map((p) => p.sql));
    expect(large.length).toBeLessThanOrEqual(12);
    for (const { sql: text, plan } of large) {
      const where = `${text}\n${plan.join('\n')}`;
      if (process.env.SHOW_PLANS) console.log(where);
      // Never a plain scan of the certificates table (its rows carry the PEM).
      expect(plan.some((l) => /^SCAN certificates$/.test(l)), where).toBe(false);
      if (/"certificates"/.test(text)) expect(plan.every((l) => !l.startsWith('SCAN') || /COVERING INDEX|USING INDEX/.test(l)), where).toBe(true);
    }
    // The per-certificate expiry walks the expiry index in order: no sort of every certificate.
    const expiry = large.find((p) => /"not_after" is not null/.test(p.sql))!;
    expect(expiry.plan.join('\n')).toMatch(/COVERING INDEX certificates_expiry/);
    expect(expiry.plan.join('\n')).not.toMatch(/TEMP B-TREE/);
  });
});
