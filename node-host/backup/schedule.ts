// Scheduled backups: the running server writes one every CERTKEEP_BACKUP_HOURS into
// `<data dir>/backups/`, keeps the newest CERTKEEP_BACKUP_KEEP and deletes older ones, and lists
// and serves them to the backups page (deps.backups).
//
// When several hosts share the database, one backup is taken per interval by all of them
// together: the host that takes it holds the lease `backup:scheduled` for the interval (the
// lease's expiry is the next backup's time), and the others find it held. Each host checks at
// most once a minute (one conditional upsert, nothing written when the lease is held).
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { BackupEntry, Backups, Deps } from '../../src/deps.ts';
import { tryAcquireLease, type Lease } from '../../src/db/lease.ts';
import { databaseFilePath } from '../db-version.ts';

export const LEASE_NAME = 'backup:scheduled';
/**
 * certkeep-20250102-030405Z.ckbackup: UTC, so names sort by time. Backups taken before a
 * migration carry what they came before (…Z-before-0004_audit.ckbackup); pruning leaves those.
 */
const FILE_NAME = /^certkeep-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})Z(-before-[A-Za-z0-9_]+)?\.ckbackup$/;
const SCHEDULED = /^certkeep-\d{8}-\d{6}Z\.ckbackup$/;
/** Leftovers of a backup interrupted by a crash (backup.ts names its temporaries so). */
const LEFTOVER = /^\.certkeep-.*\.(tmp|snapshot)$/;
const LEFTOVER_AGE_MS = 3_600_000;
const CHECK_MS = 60_000;
/** After a failure, the next attempt comes this much later (or one interval, when shorter). */
const RETRY_MS = 15 * 60_000;

export function backupFileName(at: Date, note?: string): string {
  const iso = at.toISOString(); // 2025-01-02T03:04:05.678Z
  return `certkeep-${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}Z${note ? `-${note}` : ''}.ckbackup`;
}

function createdAtOf(name: string): number | undefined {
  const m = FILE_NAME.exec(name);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}

export interface ScheduleOptions {
  dataDir: string;
  databaseUrl: string;
  deps: Pick<Deps, 'db' | 'now' | 'hostId' | 'log'>;
  hours: number;
  keep: number;
}

export class ScheduledBackups implements Backups {
  readonly directory: string;
  private hours: number;
  private keep: number;
  private readonly local: boolean;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** This host's own next time (it holds the lease until then; the lease alone would let it in again). */
  private nextAt = 0;
  private stopped = false;
  private armed = 0;

  constructor(private readonly o: ScheduleOptions) {
    this.directory = join(o.dataDir, 'backups');
    this.hours = o.hours;
    this.keep = o.keep;
    this.local = databaseFilePath(o.databaseUrl) !== undefined;
  }

  schedule(): { everyHours: number; keep: number } | { off: string } {
    if (!this.local) return { off: 'the database is not a local file (CERTKEEP_DATABASE_URL): back it up where it lives' };
    if (this.hours === 0) return { off: 'CERTKEEP_BACKUP_HOURS is 0' };
    if (this.keep === 0) return { off: 'CERTKEEP_BACKUP_KEEP is 0' };
    return { everyHours: this.hours, keep: this.keep };
  }

  private get intervalMs(): number {
    return Math.round(this.hours * 3_600_000);
  }

  /** Starts checking; the first check comes one check period after the start. */
  start(): void {
    this.stopped = false;
    this.arm();
  }

  /** New settings (SIGHUP): they apply from the next check; a backup already taken keeps its lease. */
  reconfigure(hours: number, keep: number): void {
    this.hours = hours;
    this.keep = keep;
    if (!this.stopped) this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.armed++;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** (Re)starts the checks; a loop started by an earlier call ends at its next turn. */
  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const generation = ++this.armed;
    if ('off' in this.schedule()) return;
    const period = Math.max(1000, Math.min(this.intervalMs, CHECK_MS));
    const loop = () => {
      this.timer = setTimeout(() => {
        void this.check().finally(() => {
          if (!this.stopped && generation === this.armed) loop();
        });
      }, period);
      this.timer.unref();
    };
    loop();
  }

  /** Takes a backup when one is due and no other host has taken it; resolves when done. */
  async check(): Promise<void> {
    if (this.running || this.stopped || 'off' in this.schedule()) return;
    const { deps } = this.o;
    const now = deps.now();
    if (now < this.nextAt) return;
    let lease: Lease | null;
    try {
      lease = await tryAcquireLease(deps.db, LEASE_NAME, deps.hostId, this.intervalMs, deps.now);
    } catch (err) {
      deps.log.error('scheduled backup: cannot take its lease', { err });
      return;
    }
    if (!lease) return; // another host took one within the interval
    this.nextAt = now + this.intervalMs;
    this.running = this.take(lease, now).finally(() => (this.running = undefined));
    await this.running;
  }

  /** `now`: when the lease was taken, which is the backup's time. */
  private async take(lease: Lease, now: number): Promise<void> {
    const { deps } = this.o;
    try {
      await mkdir(this.directory, { recursive: true, mode: 0o700 });
      const at = new Date(now);
      const { createBackup } = await import('./backup.ts');
      const result = await createBackup({ databaseUrl: this.o.databaseUrl, file: join(this.directory, backupFileName(at)), now: () => at });
      deps.log.info('scheduled backup written', { file: result.path, bytes: result.bytes, takenAt: at.toISOString() });
      await this.prune();
    } catch (err) {
      deps.log.error('scheduled backup failed', { err });
      this.nextAt = deps.now() + Math.min(this.intervalMs, RETRY_MS);
      await lease.release().catch(() => {});
    }
  }

  /** Deletes all but the newest `keep` backups, and leftovers of interrupted ones. */
  private async prune(): Promise<void> {
    const names = await readdir(this.directory);
    const backups = names.filter((n) => SCHEDULED.test(n)).sort().reverse();
    for (const name of backups.slice(this.keep)) {
      await rm(join(this.directory, name), { force: true });
      this.o.deps.log.info('old scheduled backup deleted', { file: name });
    }
    const now = Date.now();
    for (const name of names.filter((n) => LEFTOVER.test(n))) {
      const st = await stat(join(this.directory, name)).catch(() => undefined);
      if (st && now - st.mtimeMs > LEFTOVER_AGE_MS) await rm(join(this.directory, name), { force: true });
    }
  }

  async list(): Promise<BackupEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const entries: BackupEntry[] = [];
    for (const name of names.filter((n) => FILE_NAME.test(n)).sort().reverse()) {
      const st = await stat(join(this.directory, name)).catch(() => undefined);
      if (st?.isFile()) entries.push({ name, createdAt: createdAtOf(name)!, bytes: st.size });
    }
    return entries;
  }

  async open(name: string): Promise<{ body: ReadableStream<Uint8Array>; bytes: number } | null> {
    if (!FILE_NAME.test(name)) return null;
    let handle;
    try {
      handle = await open(join(this.directory, name), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    // Opened before it is streamed: pruning it meanwhile does not cut the download short.
    const { size } = await handle.stat();
    const stream = handle.createReadStream({ highWaterMark: 64 * 1024 }); // closes the handle at its end
    return { body: Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>, bytes: size };
  }
}
