// Consumers (SPEC §4.5) in process, through the real app on a libSQL file, with the node host's
// download memory switched on as `certkeep serve` does (its version is the file's write-ahead
// log): a download records its consumer once — one row per certificate, API key slot and address
// — and repeated downloads of the same serial send no statement at all and leave the log as it
// was (so the memory survives); the row is written again after FETCH_REFRESH_MS or for a new
// serial; staleness after a renewal raises consumer.stale once per consumer and serial (time
// driven through the clock of the deps); a failed install raises consumer.install_failed once;
// every list and the tick's query walk an index.
import { BY_CLI } from './audit.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { drizzle } from 'drizzle-orm/libsql/sqlite3';
import { eq, sql } from 'drizzle-orm';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import { walVersion } from '../../node-host/db-version.ts';
import { createApp, type App } from '../app.ts';
import * as schema from '../db/schema.ts';
import { acmeAccounts, auditLog, certificates, consumers, events, settings } from '../db/schema.ts';
import { wrapDatabase, type Db } from '../db/client.ts';
import type { Deps } from '../deps.ts';
import { parseIpList } from '../http/ip.ts';
import { enableDownloadCache } from '../http/download-cache.ts';
import { createCertificate, findCertificateByName } from './certificates.ts';
import { createAdminToken } from './tokens.ts';
import {
  FETCH_REFRESH_MS,
  consumerCounts,
  forgetRecordedDownloads,
  markConsumersBehind,
  pageConsumers,
  parseConsumerListQuery,
  raiseStaleConsumers,
  recordAgentReport,
  setStaleHours,
  type ConsumerFilter,
} from './consumers.ts';
import { CLI_ACTOR } from './audit.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';

const HOUR = 3_600_000;
const PEM1 = '-----BEGIN CERTIFICATE-----\nAQ==\n-----END CERTIFICATE-----\n';
const PEM2 = '-----BEGIN CERTIFICATE-----\nAg==\n-----END CERTIFICATE-----\n';

interface Fixture {
  opened: OpenedDatabase;
  deps: Deps;
  app: App;
  clock: { now: number };
  /** Every statement sent since the last `sent.length = 0`. */
  sent: Array<{ sql: string; params: unknown[] }>;
  /** The write-ahead log's version, as the download memory reads it. */
  version(): string | null;
  keys: { cert: string[]; key: string[] };
  download(ip: string, opts?: { slot?: 1 | 2; path?: string; headers?: Record<string, string> }): Promise<Response>;
  admin(path: string): Promise<any>;
  rows(): Promise<Array<typeof consumers.$inferSelect>>;
  /** What the renewal's batch does (domain/orders.ts): the new certificate, its consumers behind. */
  renew(serial: string, pem: string): Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const file = `${makeTempDir('consumers-')}/certkeep.db`;
  const opened = await openDatabase(`file:${file}`);
  const sent: Fixture['sent'] = [];
  const recording = drizzle(opened.client, { schema, logger: { logQuery: (query, params) => void sent.push({ sql: query, params }) } });
  const clock = { now: Date.now() };
  const deps = await offlineDeps(wrapDatabase(recording as unknown as Db & { batch(s: unknown[]): Promise<unknown[]> }), {
    now: () => clock.now,
    allowApi: parseIpList('127.0.0.1, 192.0.2.0/24'),
  });
  await deps.db.db.insert(settings).values({ key: 'setupCompletedAt', value: String(clock.now), updatedAt: clock.now });
  await deps.db.db.insert(acmeAccounts).values({
    id: 'acct', name: 'default', directoryUrl: 'https://ca.example/dir', email: null, staging: false, termsOfServiceAgreed: true,
    accountUrl: 'https://ca.example/acct/1', status: 'valid', keyType: 'ec-p256', keySealed: 'unused', nextKeySealed: null, eabKid: null, createdAt: clock.now, updatedAt: clock.now,
  });
  const created = await createCertificate(deps, BY_CLI, { name: 'www', domains: ['www.example.com'], challenge: 'http-01' });
  await deps.db.db
    .update(certificates)
    .set({ status: 'valid', pem: PEM1, serial: 'aa01', notBefore: clock.now - HOUR, notAfter: clock.now + 90 * 24 * HOUR, renewAt: clock.now + 60 * 24 * HOUR })
    .where(eq(certificates.name, 'www'));
  const token = await createAdminToken(deps, BY_CLI, 'consumers');
  const app = createApp(deps);
  // As node-host/serve.ts does; the log is taken as settled at once (no quiet period to wait).
  const version = walVersion(file, () => Date.now() + 60_000);
  enableDownloadCache(deps, { version });
  const ctx = (clientIp: string) => ({ clientIp, secure: false, waitUntil: () => {} });
  return {
    opened,
    deps,
    app,
    clock,
    sent,
    version,
    keys: { cert: created.apiKeys, key: (created.key as { apiKeys: string[] }).apiKeys },
    download: (ip, o = {}) =>
      app.fetch(new Request(`http://127.0.0.1${o.path ?? '/api/certificate/www'}`, { headers: { apikey: created.apiKeys[(o.slot ?? 1) - 1], ...o.headers } }), ctx(ip)),
    async admin(path) {
      const res = await app.fetch(new Request(`http://127.0.0.1${path}`, { headers: { authorization: `Bearer ${token}` } }), ctx('127.0.0.1'));
      return { status: res.status, body: await res.json() };
    },
    rows: () => deps.db.db.select().from(consumers).orderBy(consumers.apiKeySlot, consumers.clientIp),
    async renew(serial, pem) {
      const cert = (await findCertificateByName(deps, 'www'))!;
      await deps.db.batch([
        deps.db.db.update(certificates).set({ pem, serial, updatedAt: clock.now }).where(eq(certificates.id, cert.id)),
        markConsumersBehind(deps, cert.id, clock.now),
      ]);
    },
  };
}

let f: Fixture;
beforeEach(async () => {
  f = await fixture();
});
afterEach(() => f.opened.close());

const statementsOf = (sent: Fixture['sent']) => sent.map((s) => s.sql);

describe('downloads record their consumer', () => {
  it('one row per consumer; repeated downloads send no statement and keep the download memory; a refresh after an hour, a new serial at once', async () => {
    const first = await f.download('192.0.2.10');
    expect(first.status).toBe(200);
    expect(await first.text()).toBe(PEM1);
    const [row] = await f.rows();
    expect(row).toMatchObject({ apiKeySlot: 1, clientIp: '192.0.2.10', fetchedSerial: 'aa01', fetchedAt: f.clock.now, behindSince: null, installedSerial: null });

    // The next one fills the memory under the log's new version; from then on nothing reaches
    // the database, and the log stays as it is.
    expect((await f.download('192.0.2.10')).status).toBe(200);
    const settled = f.version();
    f.sent.length = 0;
    for (let i = 0; i < 20; i++) {
      const res = await f.download('192.0.2.10');
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(PEM1);
    }
    expect(statementsOf(f.sent)).toEqual([]);
    expect(f.version()).toBe(settled);
    expect(await f.rows()).toEqual([row]);

    // A 304 is a fetch of the current serial too; another address or the other API key is
    // another consumer.
    const etag = first.headers.get('etag')!;
    expect((await f.download('192.0.2.11', { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await f.download('192.0.2.10', { slot: 2 })).status).toBe(200);
    expect((await f.rows()).map((r) => [r.apiKeySlot, r.clientIp, r.fetchedSerial])).toEqual([
      [1, '192.0.2.10', 'aa01'],
      [1, '192.0.2.11', 'aa01'],
      [2, '192.0.2.10', 'aa01'],
    ]);

    // Another host (or this one after a restart) does not remember: one conditional statement,
    // which changes nothing within the hour — the log stays as it was.
    await f.download('192.0.2.10');
    const before = f.version();
    forgetRecordedDownloads(f.deps);
    f.sent.length = 0;
    expect((await f.download('192.0.2.10')).status).toBe(200);
    expect(statementsOf(f.sent)).toEqual([expect.stringMatching(/^insert into "consumers" .* on conflict .* do update set .* where /)]);
    expect(f.version()).toBe(before);
    expect((await f.rows())[0].fetchedAt).toBe(row.fetchedAt);

    // An hour on, the row is written again (the consumer is still there).
    f.clock.now += FETCH_REFRESH_MS;
    await f.download('192.0.2.10');
    expect((await f.rows())[0]).toMatchObject({ fetchedSerial: 'aa01', fetchedAt: f.clock.now });
    expect(f.version()).not.toBe(before);

    // A renewal: every consumer is behind; the next download of each records the new serial.
    f.clock.now += 1000;
    await f.renew('bb02', PEM2);
    expect((await f.rows()).map((r) => r.behindSince)).toEqual([f.clock.now, f.clock.now, f.clock.now]);
    f.clock.now += 1000;
    const renewed = await f.download('192.0.2.10');
    expect(await renewed.text()).toBe(PEM2);
    expect((await f.rows())[0]).toMatchObject({ fetchedSerial: 'bb02', fetchedAt: f.clock.now, behindSince: null });
    expect((await f.rows())[1]).toMatchObject({ fetchedSerial: 'aa01', behindSince: f.clock.now - 1000 });
    expect(await f.deps.db.db.select({ n: sql<number>`count(*)` }).from(consumers)).toEqual([{ n: 3 }]);
  });

  it('a key download records no consumer (a key has no serial; see README "Consumers")', async () => {
    const res = await f.app.fetch(new Request('http://127.0.0.1/api/key/www', { headers: { apikey: f.keys.key[0] } }), { clientIp: '192.0.2.20', secure: false, waitUntil: () => {} });
    expect(res.status).toBe(200);
    expect(await f.rows()).toEqual([]);
    // Refused downloads record nothing either.
    expect((await f.download('192.0.2.21', { headers: { apikey: 'ckc_not-a-key-0123456789abcdefghijklmnopq' } })).status).toBe(401);
    expect((await f.download('198.51.100.1')).status).toBe(403);
    expect(await f.rows()).toEqual([]);
  });
});

describe('staleness', () => {
  it('raises consumer.stale once per consumer and serial, staleHours after the renewal, and not for those that caught up', async () => {
    await f.download('192.0.2.10');
    await f.download('192.0.2.11');
    const renewedAt = (f.clock.now += HOUR);
    await f.renew('bb02', PEM2);
    f.clock.now += HOUR;
    await f.download('192.0.2.11'); // caught up
    const staleEvents = () => f.deps.db.db.select().from(events).where(eq(events.type, 'consumer.stale')).orderBy(events.id);

    f.clock.now = renewedAt + 24 * HOUR - 1;
    expect(await raiseStaleConsumers(f.deps)).toBe(0);
    f.clock.now = renewedAt + 24 * HOUR;
    expect(await raiseStaleConsumers(f.deps)).toBe(1);
    expect(await raiseStaleConsumers(f.deps)).toBe(0);
    const [event] = await staleEvents();
    expect(event).toMatchObject({ subjectKind: 'consumer', subjectName: 'www on 192.0.2.10', link: '/certificates/www#consumers', dispatchedAt: null });
    expect(event.dedupeKey).toMatch(/^consumer\.stale:.+:1:192\.0\.2\.10:bb02$/);
    expect(event.title).toBe('192.0.2.10 has not fetched the renewed certificate www');
    expect(event.body).toContain('renewed 24 hours ago (serial bb02), but 192.0.2.10 (API key 1) has not fetched it since: it still has serial aa01');
    expect(JSON.parse(event.data)).toMatchObject({ type: 'consumer.stale', certificate: 'www', serial: 'bb02', address: '192.0.2.10', fetchedSerial: 'aa01', staleHours: 24 });
    const rows = await f.rows();
    expect(rows.map((r) => [r.clientIp, r.staleSerial, r.behindSince])).toEqual([
      ['192.0.2.10', 'bb02', renewedAt],
      ['192.0.2.11', null, null],
    ]);
    // The API shows it stale; the consumer list's stale filter and the counts agree.
    const listed = await f.admin('/api/v1/certificates/www/consumers');
    expect(listed.body.items.map((c: any) => [c.address, c.behind, c.stale, c.behindSince])).toEqual([
      ['192.0.2.10', true, true, new Date(renewedAt).toISOString()],
      ['192.0.2.11', false, false, null],
    ]);
    expect((await f.admin('/api/v1/consumers?status=stale')).body.items.map((c: any) => [c.certificate, c.address])).toEqual([['www', '192.0.2.10']]);
    expect(await consumerCounts(f.deps, { now: f.clock.now, staleHours: 24 })).toEqual({ stale: 1, failed: 0 });

    // It comes back: no longer behind or stale. The next renewal starts the clock again, and a
    // second event (for the new serial) comes staleHours later — with the setting changed to 2.
    await f.download('192.0.2.10');
    expect((await f.rows())[0]).toMatchObject({ behindSince: null, staleSerial: null, fetchedSerial: 'bb02' });
    const second = (f.clock.now += HOUR);
    await f.renew('cc03', PEM1);
    expect(await setStaleHours(f.deps, 2, { actor: CLI_ACTOR })).toBe(2);
    expect(await f.deps.db.db.select({ action: auditLog.action, detail: auditLog.detail }).from(auditLog).where(eq(auditLog.action, 'settings.update'))).toEqual([
      { action: 'settings.update', detail: '{"staleHours":2}' },
    ]);
    f.clock.now = second + 2 * HOUR;
    expect(await raiseStaleConsumers(f.deps)).toBe(2);
    expect((await staleEvents()).map((e) => e.dedupeKey.split(':').slice(-2).join(':'))).toEqual(['192.0.2.10:bb02', '192.0.2.10:cc03', '192.0.2.11:cc03']);
    await expect(setStaleHours(f.deps, 0, { actor: CLI_ACTOR })).rejects.toMatchObject({ code: 'BAD_REQUEST', details: { field: 'staleHours' } });
  });

  it('raises consumer.install_failed once per consumer and serial from a failed report, in the batch that records it', async () => {
    const cert = (await findCertificateByName(f.deps, 'www'))!;
    const report = { serial: 'aa01', installed: false, reload: 'failed' as const, verified: null, host: 'web1', agentVersion: '1.1.0' };
    await recordAgentReport(f.deps, { certificate: cert, slot: 1, clientIp: '192.0.2.30', report });
    await recordAgentReport(f.deps, { certificate: cert, slot: 1, clientIp: '192.0.2.30', report });
    await recordAgentReport(f.deps, { certificate: cert, slot: 2, clientIp: '192.0.2.31', report: { ...report, installed: true, reload: 'ok', verified: false } });
    await recordAgentReport(f.deps, { certificate: cert, slot: 2, clientIp: '192.0.2.32', report: { ...report, installed: true, reload: 'ok', verified: true } });
    const failed = await f.deps.db.db.select().from(events).where(eq(events.type, 'consumer.install_failed')).orderBy(events.id);
    expect(failed.map((e) => e.subjectName)).toEqual(['www on web1', 'www on web1']);
    expect(failed[0].title).toBe('Installing www failed on web1');
    expect(failed[0].body).toBe(
      'The Certkeep agent on web1 (192.0.2.30, API key 1) could not install certificate www (serial aa01): the reload command failed; the agent put the previous files back and reloaded with them. The server still uses what it had before.',
    );
    expect(failed[1].body).toContain('after the reload the server did not present the new serial');
    expect(await consumerCounts(f.deps, { now: f.clock.now, staleHours: 24 })).toEqual({ stale: 0, failed: 2 });
    expect((await f.admin('/api/v1/consumers?status=failed')).body.items.map((c: any) => c.address).sort()).toEqual(['192.0.2.30', '192.0.2.31']);

    // Installing the current serial is catching up: a renewal made it behind, the report clears it.
    await f.renew('bb02', PEM2);
    const renewed = (await findCertificateByName(f.deps, 'www'))!;
    await recordAgentReport(f.deps, { certificate: renewed, slot: 1, clientIp: '192.0.2.30', report: { ...report, serial: 'bb02', installed: true, reload: 'ok', verified: true } });
    const row = (await f.rows()).find((r) => r.clientIp === '192.0.2.30')!;
    expect(row).toMatchObject({ installedSerial: 'bb02', behindSince: null, installed: true });
    expect(await consumerCounts(f.deps, { now: f.clock.now, staleHours: 24 })).toEqual({ stale: 0, failed: 1 });
  });
});

describe('the consumers list', () => {
  it('pages every filter along its index, each consumer once, and refuses bad parameters naming them', async () => {
    const cert = (await findCertificateByName(f.deps, 'www'))!;
    for (let i = 0; i < 7; i++) {
      f.clock.now += 1000;
      await f.download(`192.0.2.${100 + i}`, { slot: i % 2 === 0 ? 1 : 2 });
    }
    f.clock.now += 1000;
    await f.renew('bb02', PEM2);
    for (let i = 0; i < 3; i++) await f.download(`192.0.2.${100 + i}`, { slot: i % 2 === 0 ? 1 : 2 });
    await recordAgentReport(f.deps, { certificate: cert, slot: 2, clientIp: '192.0.2.103', report: { serial: 'aa01', installed: false, reload: 'skipped', verified: null, host: null, agentVersion: null } });
    f.clock.now += 25 * HOUR;

    const walk = async (status: string) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let guard = 0; guard < 20; guard++) {
        const res = await f.admin(`/api/v1/consumers?limit=2${status ? `&status=${status}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        seen.push(...res.body.items.map((c: any) => c.address));
        cursor = res.body.next;
        if (!cursor) return seen;
      }
      throw new Error('no end of pages');
    };
    const all = await walk('');
    expect(all).toEqual(['192.0.2.106', '192.0.2.105', '192.0.2.104', '192.0.2.103', '192.0.2.102', '192.0.2.101', '192.0.2.100']);
    // Behind since the same renewal: in the index's order, (behind_since, id).
    const behind = (await f.rows()).filter((r) => r.behindSince !== null).sort((a, b) => a.behindSince! - b.behindSince! || (a.id < b.id ? -1 : 1));
    expect(behind.map((r) => r.clientIp).sort()).toEqual(['192.0.2.103', '192.0.2.104', '192.0.2.105', '192.0.2.106']);
    expect(await walk('behind')).toEqual(behind.map((r) => r.clientIp));
    expect(await walk('stale')).toEqual(behind.map((r) => r.clientIp));
    expect(await walk('failed')).toEqual(['192.0.2.103']);

    const first = (await f.admin('/api/v1/consumers?limit=1&status=stale')).body.next;
    for (const [path, field] of [
      ['/api/v1/consumers?status=lost', 'status'],
      ['/api/v1/consumers?status=stale,failed', 'status'],
      ['/api/v1/consumers?limit=0', 'limit'],
      ['/api/v1/consumers?cursor=nope', 'cursor'],
      [`/api/v1/consumers?status=failed&cursor=${encodeURIComponent(first)}`, 'cursor'],
      ['/api/v1/consumers?q=x', 'q'],
    ]) {
      const res = await f.admin(path);
      expect(res.status, path).toBe(400);
      expect(res.body.field, path).toBe(field);
    }
  });

  it('reads along indexes: the tick, the lists and the counts (EXPLAIN QUERY PLAN)', async () => {
    await f.download('192.0.2.10');
    await f.renew('bb02', PEM2);
    const plans = async (run: () => Promise<unknown>) => {
      f.sent.length = 0;
      await run();
      const out: string[] = [];
      for (const { sql: text, params } of f.sent.filter((s) => /^select/i.test(s.sql) && /"consumers"/.test(s.sql))) {
        const rows = (await f.opened.client.execute({ sql: `explain query plan ${text}`, args: params as never })).rows;
        out.push(rows.map((r) => String(r.detail)).join('\n'));
      }
      expect(out.length).toBeGreaterThan(0);
      return out.join('\n---\n');
    };
    const rule = { now: f.clock.now + 30 * HOUR, staleHours: 24 };
    f.clock.now += 30 * HOUR;
    expect(await plans(async () => raiseStaleConsumers(f.deps))).toMatch(/SEARCH consumers USING INDEX consumers_stale_due \(behind_since>\? AND behind_since<\?\)/);
    const page = (status: ConsumerFilter | '') => () => pageConsumers(f.deps, parseConsumerListQuery(new URLSearchParams(status ? { status } : {})), rule);
    expect(await plans(page(''))).toMatch(/(SCAN|SEARCH) consumers USING INDEX consumers_seen\b/);
    expect(await plans(page('behind'))).toMatch(/(SCAN|SEARCH) consumers USING INDEX consumers_behind\b/);
    expect(await plans(page('stale'))).toMatch(/SEARCH consumers USING INDEX consumers_behind \(behind_since[<>]/);
    expect(await plans(page('failed'))).toMatch(/(SCAN|SEARCH) consumers USING INDEX consumers_failed\b/);
    const counts = await plans(() => consumerCounts(f.deps, rule));
    expect(counts).toMatch(/consumers_behind/);
    expect(counts).toMatch(/consumers_failed/);
    for (const run of [page(''), page('behind'), page('stale'), page('failed')]) expect(await plans(run)).not.toMatch(/TEMP B-TREE|SCAN consumers$/m);
  });
});
