// The audit log's chain, on both databases the hosts use: a libSQL file and D1 (Miniflare's, with
// the real migrations). Records are sealed after commit, in id order, downloads once their hour
// has ended; verification passes, and finds an edited, removed or inserted record by name;
// retention's purge leaves an anchor the rest still verifies from, and that cannot be moved.
// Time is driven through the clock of the deps, never by waiting.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { asc, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { openDatabase } from '../../node-host/db.ts';
import { auditLog, settings } from '../db/schema.ts';
import * as schema from '../db/schema.ts';
import { wrapDatabase, type Database, type Db } from '../db/client.ts';
import type { Deps } from '../deps.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';
import { callHarnessWorker, harnessWorker, migrationStatements } from '../../test/harness/hosts.ts';
import { audit, auditIf, BY_CLI, type By } from './audit.ts';
import { AUDIT_ANCHOR, sealAndPurge, verifyAudit } from './audit-chain.ts';
import { flushDownloadAudit, recordDownload } from './download-audit.ts';
import { setAuditRetention } from './settings.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2030, 0, 1, 9, 5);

interface Fixture {
  deps: Deps;
  /** Raw SQL as someone with write access to the database (and no master key) would use it. */
  run(query: string): Promise<void>;
  close(): Promise<void>;
}

async function libsqlFixture(): Promise<Fixture> {
  const opened = await openDatabase(`file:${makeTempDir('audit-chain-')}/certkeep.db`);
  return {
    deps: await offlineDeps(opened.database),
    run: async (q) => void (await opened.client.execute(q)),
    close: async () => opened.close(),
  };
}

async function d1Fixture(): Promise<Fixture> {
  const { Miniflare } = await import('miniflare');
  const mf = new Miniflare({
    d1Persist: makeTempDir('audit-d1-'),
    workers: [{ name: 'main', modules: true, script: 'export default { fetch() { return new Response(null) } }', d1Databases: { DB: 'audit-chain' } }, harnessWorker('audit-chain')],
  });
  // The migrations by plain requests; the proxy below (each call a blocking round trip) only for
  // what the test runs on D1 itself.
  await callHarnessWorker(mf, '/migrate', migrationStatements());
  const d1 = await mf.getD1Database('DB');
  const database: Database = wrapDatabase(drizzle(d1 as never, { schema }) as unknown as Db & { batch(s: unknown[]): Promise<unknown[]> });
  return { deps: await offlineDeps(database), run: async (q) => void (await d1.prepare(q).run()), close: () => mf.dispose() };
}

const ADMIN: By = { actor: { kind: 'token', id: 't1', name: 'ci' }, clientIp: '192.0.2.7' };

for (const [kind, open] of [['libSQL', libsqlFixture], ['D1', d1Fixture]] as const) {
  describe(`the audit chain on ${kind}`, () => {
    let f: Fixture;
    let clock = T0;
    beforeAll(async () => {
      f = await open();
      f.deps.now = () => clock;
    });
    afterAll(() => f?.close());
    beforeEach(async () => {
      await f.run('delete from audit_log');
      await f.run(`delete from settings where key = '${AUDIT_ANCHOR}'`);
      await f.run(`delete from leases`);
      clock = T0;
    });

    const records = (n: number, from = 1) =>
      f.deps.db.batch(Array.from({ length: n }, (_, i) => audit(f.deps, ADMIN, { action: 'certificate.create', object: { kind: 'certificate', name: `c${from + i}` } })));
    const rows = () => f.deps.db.db.select().from(auditLog).orderBy(asc(auditLog.id));
    const verify = () => verifyAudit(f.deps);

    it('seals records after commit, in id order, and verifies them', async () => {
      await records(5);
      expect(await verify()).toMatchObject({ ok: true, records: 0, unsealed: 5, head: null });
      expect(await sealAndPurge(f.deps)).toEqual({ sealed: 5, purged: 0 });
      const sealed = await rows();
      expect(sealed.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(sealed.every((r) => /^[0-9a-f]{64}$/.test(r.hash!))).toBe(true);
      await records(2, 6);
      expect(await sealAndPurge(f.deps)).toEqual({ sealed: 2, purged: 0 });
      const result = await verify();
      expect(result).toMatchObject({ ok: true, records: 7, unsealed: 0, head: { seq: 7, id: sealed[4].id + 2 } });
      // A second sealer finds nothing to do.
      expect(await sealAndPurge(f.deps)).toEqual({ sealed: 0, purged: 0 });
    });

    it('writes a conditional record only when its change happened', async () => {
      await f.deps.db.batch([auditIf(f.deps, ADMIN, { action: 'user.two-factor-on' }, sql`1 = 0`), auditIf(f.deps, ADMIN, { action: 'user.password' }, sql`1 = 1`)]);
      expect((await rows()).map((r) => r.action)).toEqual(['user.password']);
    });

    it('finds a record that was edited, and names it', async () => {
      await records(5);
      await sealAndPurge(f.deps);
      const third = (await rows())[2];
      await f.run(`update audit_log set actor_name = 'someone else' where id = ${third.id}`);
      expect(await verify()).toMatchObject({ ok: false, records: 2, broken: { id: third.id, seq: 3, action: 'certificate.create', actorName: 'someone else' }, problem: expect.stringMatching(/changed/) });
      await f.run(`update audit_log set actor_name = 'ci' where id = ${third.id}`);
      expect(await verify()).toMatchObject({ ok: true, records: 5 });
      // Also the count of an aggregated record, or its time.
      await f.run(`update audit_log set "at" = "at" - 1 where id = ${third.id}`);
      expect(await verify()).toMatchObject({ ok: false, broken: { id: third.id } });
    });

    it('finds a record that was removed, and one that was inserted', async () => {
      await records(5);
      await sealAndPurge(f.deps);
      const all = await rows();
      await f.run(`delete from audit_log where id = ${all[1].id}`);
      expect(await verify()).toMatchObject({ ok: false, records: 1, broken: { id: all[2].id, seq: 3 }, problem: expect.stringMatching(/1 record was removed just before/) });
      // Put back, but not as it was: a record forged in its place.
      await f.run(
        `insert into audit_log (id, "at", actor_kind, actor_name, action, outcome, count, seq, hash) values (${all[1].id}, ${all[1].at}, 'token', 'ci', 'certificate.delete', 'ok', 1, 2, '${all[1].hash}')`,
      );
      expect(await verify()).toMatchObject({ ok: false, broken: { id: all[1].id, seq: 2, action: 'certificate.delete' } });
      await f.run(`delete from audit_log where id = ${all[1].id}`);
      // A record slipped in without a place in the chain, before records that have one.
      await f.run(`insert into audit_log (id, "at", actor_kind, actor_name, action, outcome, count) values (${all[1].id}, ${all[1].at}, 'token', 'ci', 'key.delete', 'ok', 1)`);
      await f.run(`update audit_log set seq = seq - 1 where seq > 2`);
      const afterRenumbering = await verify();
      expect(afterRenumbering.ok).toBe(false);
      // A record appended at the end with a made-up hash.
      await f.run('delete from audit_log');
      await records(3);
      await sealAndPurge(f.deps);
      await f.run(`insert into audit_log ("at", actor_kind, actor_name, action, outcome, count, seq, hash) values (${T0}, 'cli', 'certkeep CLI', 'token.create', 'ok', 1, 4, '${'0'.repeat(64)}')`);
      expect(await verify()).toMatchObject({ ok: false, records: 3, broken: { seq: 4, action: 'token.create' } });
    });

    it('seals a download record once its hour has ended; a later count opens a new record', async () => {
      const download = (status = 200) => recordDownload(f.deps, { kind: 'key', name: 'www', presented: null, keyHash: null, clientIp: '192.0.2.20', status });
      await records(1);
      await download();
      await records(1, 2);
      for (let i = 0; i < 9; i++) await download();
      // The hour is not over: the download waits; the records on either side of it are sealed.
      expect(await sealAndPurge(f.deps)).toEqual({ sealed: 2, purged: 0 });
      expect((await rows()).map((r) => [r.action, r.count, r.seq])).toEqual([
        ['certificate.create', 1, 1],
        ['key.download', 1, null],
        ['certificate.create', 1, 2],
      ]);
      clock = T0 + HOUR;
      expect(await flushDownloadAudit(f.deps)).toBe(1);
      expect((await rows())[1].count).toBe(10);
      // Within the grace after the hour, late counts still go into it; then it is sealed.
      expect(await sealAndPurge(f.deps)).toEqual({ sealed: 0, purged: 0 });
      clock = T0 + HOUR + 11 * 60_000;
      expect(await sealAndPurge(f.deps)).toEqual({ sealed: 1, purged: 0 });
      expect(await verify()).toMatchObject({ ok: true, records: 3 });
      // A count for that hour arriving now (a host that was away) goes into a new record.
      await f.deps.db.batch([
        f.deps.db.db.insert(auditLog).values({ ...(await rows())[1], id: undefined, seq: null, hash: null, count: 2 }).onConflictDoUpdate({
          target: auditLog.aggregateKey,
          targetWhere: sql`${auditLog.seq} is null`,
          set: { count: sql`${auditLog.count} + excluded.count` },
        }),
      ]);
      const downloads = (await rows()).filter((r) => r.action === 'key.download');
      expect(downloads.map((r) => [r.count, r.seq !== null])).toEqual([
        [10, true],
        [2, false],
      ]);
      expect(await verify()).toMatchObject({ ok: true, records: 3 });
    });

    it('seals nothing of a batch in which a record changed after it was read (a download counted meanwhile)', async () => {
      await records(1);
      await recordDownload(f.deps, { kind: 'certificate', name: 'www', presented: null, keyHash: null, clientIp: '192.0.2.20', status: 200 });
      clock = T0 + 2 * HOUR;
      // Between the sealer's read and its write, another host adds to the download's count.
      const racing: Deps = {
        ...f.deps,
        db: {
          ...f.deps.db,
          async batch(statements) {
            if (statements.some((s) => JSON.stringify((s as unknown as { toSQL(): unknown }).toSQL()).includes('audit-seal-check'))) {
              await f.run('update audit_log set count = count + 1 where aggregate_key is not null');
            }
            return f.deps.db.batch(statements);
          },
        },
      };
      expect(await sealAndPurge(racing)).toEqual({ sealed: 0, purged: 0 });
      expect((await rows()).map((r) => r.seq)).toEqual([null, null]);
      expect(await sealAndPurge(f.deps)).toEqual({ sealed: 2, purged: 0 });
      expect(await verify()).toMatchObject({ ok: true, records: 2 });
      expect((await rows())[1].count).toBe(2);
    });

    it("purges what is past the retention, leaves an anchor the rest verifies from, and finds an anchor that was moved", async () => {
      await setAuditRetention(f.deps, BY_CLI, 30);
      await records(4);
      clock = T0 + 10 * DAY;
      await records(2, 5);
      await sealAndPurge(f.deps);
      clock = T0 + 35 * DAY;
      // The first five (the setting's record and four more) are older than 30 days.
      expect(await sealAndPurge(f.deps)).toEqual({ sealed: 0, purged: 5 });
      const left = await rows();
      expect(left.map((r) => [r.action, r.seq])).toEqual([
        ['certificate.create', 6],
        ['certificate.create', 7],
        ['audit.purge', null],
      ]);
      expect(JSON.parse(left[2].detail!)).toMatchObject({ records: 5, throughSeq: 5, retentionDays: 30 });
      await sealAndPurge(f.deps);
      expect(await verify()).toMatchObject({ ok: true, records: 3, anchor: { seq: 5 } });
      // Removing more, and moving the anchor past it, without the master key:
      const [anchor] = await f.deps.db.db.select().from(settings).where(eq(settings.key, AUDIT_ANCHOR));
      const moved = { ...JSON.parse(anchor.value), seq: 6, hash: left[0].hash };
      await f.run(`delete from audit_log where seq = 6`);
      expect(await verify()).toMatchObject({ ok: false, broken: { seq: 7 } });
      await f.run(`update settings set value = '${JSON.stringify(moved)}' where key = '${AUDIT_ANCHOR}'`);
      expect(await verify()).toMatchObject({ ok: false, broken: null, problem: expect.stringMatching(/anchor/) });
    });
  });
}
