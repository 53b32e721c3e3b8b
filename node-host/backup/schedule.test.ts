// The backup schedule with its clock in the test's hand: due once per interval, shared between
// hosts through the lease, pruned to `keep` (backups before a migration are left), off when a
// setting is 0, and a failure retried later, not at once.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type OpenedDatabase } from '../db.ts';
import { createLogger } from '../../src/log.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import { ScheduledBackups } from './schedule.ts';

const HOUR = 3_600_000;
let opened: OpenedDatabase | undefined;
afterEach(() => opened?.close());

async function setup() {
  const dataDir = makeTempDir('schedule-unit-');
  const databaseUrl = `file:${dataDir}/certkeep.db`;
  opened = await openDatabase(databaseUrl);
  let now = Date.UTC(2030, 0, 2, 3, 0, 0);
  const lines: string[] = [];
  const log = createLogger('info', (line) => lines.push(line));
  const host = async (hostId: string, hours = 1, keep = 2, url = databaseUrl) =>
    new ScheduledBackups({ dataDir, databaseUrl: url, deps: await offlineDeps(opened!.database, { now: () => now, hostId, log }), hours, keep });
  return {
    dataDir,
    host,
    lines,
    advance: (ms: number) => (now += ms),
    files: () => readdirSync(join(dataDir, 'backups')).sort(),
  };
}

describe('scheduled backups', () => {
  it('take one per interval across hosts, and keep the newest', async () => {
    const t = await setup();
    const a = await t.host('a');
    const b = await t.host('b');
    await a.check();
    expect(t.files()).toEqual(['certkeep-20300102-030000Z.ckbackup']);
    await a.check(); // not due again for an hour
    t.advance(HOUR / 2);
    await b.check(); // the other host finds the lease held
    expect(t.files()).toHaveLength(1);
    t.advance(HOUR / 2 + 1000);
    await b.check();
    await a.check();
    expect(t.files()).toEqual(['certkeep-20300102-030000Z.ckbackup', 'certkeep-20300102-040001Z.ckbackup']);
    // A backup from before a migration is not the schedule's to delete.
    writeFileSync(join(t.dataDir, 'backups', 'certkeep-20300101-000000Z-before-0004_x.ckbackup'), 'kept');
    t.advance(HOUR + 1000);
    await a.check();
    expect(t.files()).toEqual(['certkeep-20300101-000000Z-before-0004_x.ckbackup', 'certkeep-20300102-040001Z.ckbackup', 'certkeep-20300102-050002Z.ckbackup']);
    expect((await a.list()).map((e) => e.name)).toEqual(['certkeep-20300102-050002Z.ckbackup', 'certkeep-20300102-040001Z.ckbackup', 'certkeep-20300101-000000Z-before-0004_x.ckbackup']);
  });

  it('are off when either setting is 0, and on again after a reload', async () => {
    const t = await setup();
    const a = await t.host('a', 0, 2);
    expect(a.schedule()).toEqual({ off: 'CERTKEEP_BACKUP_HOURS is 0' });
    await a.check();
    a.reconfigure(1, 0);
    expect(a.schedule()).toEqual({ off: 'CERTKEEP_BACKUP_KEEP is 0' });
    await a.check();
    expect(await a.list()).toEqual([]);
    a.reconfigure(1, 3);
    expect(a.schedule()).toEqual({ everyHours: 1, keep: 3 });
    await a.check();
    expect(t.files()).toHaveLength(1);
    await a.stop();
  });

  it('after a failure, try again later (by any host), not at every check', async () => {
    const t = await setup();
    mkdirSync(join(t.dataDir, 'elsewhere'));
    const broken = await t.host('a', 24, 2, `file:${t.dataDir}/elsewhere/missing.db`);
    await broken.check();
    expect(t.lines.join('\n')).toMatch(/"msg":"scheduled backup failed".*no database at/);
    const failures = () => t.lines.filter((l) => l.includes('scheduled backup failed')).length;
    t.advance(60_000);
    await broken.check();
    expect(failures()).toBe(1);
    t.advance(15 * 60_000);
    await broken.check();
    expect(failures()).toBe(2);
    // The lease was given back: a host that can, takes the backup now.
    const working = await t.host('b', 24, 2);
    await working.check();
    expect(t.files()).toHaveLength(1);
  });

  it('refuses to open anything but its own files', async () => {
    const t = await setup();
    const a = await t.host('a');
    await a.check();
    const [name] = t.files();
    const file = await a.open(name);
    expect(file?.bytes).toBeGreaterThan(0);
    await file!.body.cancel();
    for (const other of ['../certkeep.db', 'certkeep.db', `${name}/..`, `x${name}`, 'certkeep-20300102-030000Z.ckbackup.tmp']) expect(await a.open(other), other).toBeNull();
  });
});
