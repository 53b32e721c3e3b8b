// Scheduled backups on running node hosts: two hosts on one database file take one backup per
// interval between them (the lease), never two within an interval, the oldest are deleted down
// to CERTKEEP_BACKUP_KEEP, and the API lists and downloads what is on disk. Time is driven
// through the setting: an interval of 0.0005 hours (1.8 s).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startNodeHost, type NodeHostUnderTest } from '../harness/hosts.ts';
import { setUpDataDir } from '../harness/installation.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { openBackup } from '../../node-host/backup/format.ts';

const INTERVAL_HOURS = 0.0005;
const INTERVAL_MS = INTERVAL_HOURS * 3_600_000;

interface Written {
  file: string;
  takenAt: string;
}

function written(logs: string): Written[] {
  return logs
    .split('\n')
    .filter((line) => line.includes('"scheduled backup written"'))
    .map((line) => JSON.parse(line) as Written);
}

const hosts: NodeHostUnderTest[] = [];
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

describe('scheduled backups', () => {
  it('one per interval across two hosts on one database, pruned to the newest, listed and downloaded', async () => {
    const dataDir = makeTempDir('schedule-');
    await setUpDataDir(dataDir);
    const created = await runCli(['token', 'create'], { CERTKEEP_DATA_DIR: dataDir, CERTKEEP_LOG_LEVEL: 'warn' });
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trim();
    const env = { CERTKEEP_BACKUP_HOURS: String(INTERVAL_HOURS), CERTKEEP_BACKUP_KEEP: '2', CERTKEEP_LOG_LEVEL: 'info' };
    hosts.push(await startNodeHost({ dataDir, env }), await startNodeHost({ dataDir, env }));
    const all = () => hosts.flatMap((h) => written(h.logs())).sort((a, b) => a.takenAt.localeCompare(b.takenAt));

    // Wait for four backups between them (polling the logs for the event, at most 30 s).
    const deadline = Date.now() + 30_000;
    while (all().length < 4) {
      if (Date.now() > deadline) throw new Error(`only ${all().length} scheduled backups after 30 s:\n${hosts.map((h) => h.logs().slice(-2000)).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    // The API lists what is there, newest first, and downloads the newest byte for byte (it is
    // not pruned before the next two backups).
    const auth = { authorization: `Bearer ${token}` };
    const list = await (await fetch(`${hosts[0].baseUrl}/api/v1/backups`, { headers: auth })).json();
    expect(list.items.length).toBeGreaterThanOrEqual(1);
    expect(list.items.length).toBeLessThanOrEqual(3); // a backup may be written before its prune
    const newest = list.items[0].name;
    const download = await fetch(`${hosts[1].baseUrl}/api/v1/backups/${newest}`, { headers: auth });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(readFileSync(join(dataDir, 'backups', newest)))).toBe(true);

    await Promise.all(hosts.map((h) => h.stop()));
    const taken = all();
    // Never two within an interval, whichever host took them.
    for (let i = 1; i < taken.length; i++) {
      expect(Date.parse(taken[i].takenAt) - Date.parse(taken[i - 1].takenAt), `${taken[i - 1].takenAt} → ${taken[i].takenAt}`).toBeGreaterThanOrEqual(INTERVAL_MS);
    }
    // The newest two are kept, and they are whole backups.
    const names = taken.map((w) => w.file.split('/').pop()!);
    expect(readdirSync(join(dataDir, 'backups')).sort()).toEqual(names.slice(-2).sort());
    for (const name of names.slice(-2)) {
      const backup = await openBackup(join(dataDir, 'backups', name));
      expect(backup.header).toMatchObject({ masterKey: false, encryption: null });
    }
  });
});
