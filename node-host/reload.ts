// SIGHUP: the node host reads its settings again (the environment it started with, and
// config.json as it is now) and applies those that can change safely while it runs:
//
//   CERTKEEP_LOG_LEVEL        the logger reads the level at every line
//   CERTKEEP_ALLOW_ADMIN, CERTKEEP_ALLOW_API, CERTKEEP_TRUST_PROXY
//                             read at every request, before anything is answered from memory
//   CERTKEEP_CONCURRENCY      read by the scheduler at every tick
//   CERTKEEP_BACKUP_HOURS, CERTKEEP_BACKUP_KEEP
//                             from the next check of the backup schedule
//
// The others need a restart, and the log says which changed: the listeners' ports and address
// (sockets are bound once), the data directory, database and master key (every stored key is
// sealed under it), the DNS servers, SMTP and the tick. A reload whose settings do not parse
// changes nothing and logs why. A process's environment cannot change from outside, so under
// systemd a reload picks up config.json; Environment= changes need a restart.
import type { Deps } from '../src/deps.ts';
import type { IpList } from '../src/http/ip.ts';
import type { LogLevel } from '../src/log.ts';
import { readSettings, SettingsError, type Settings, type SettingsAsFound } from './settings.ts';

/** An IpList whose contents a reload replaces; users keep the same object. */
export class LiveIpList implements IpList {
  constructor(private list: IpList) {}
  allows(ip: string): boolean {
    return this.list.allows(ip);
  }
  describe(): string {
    return this.list.describe();
  }
  get isEmpty(): boolean {
    return this.list.isEmpty;
  }
  get isAny(): boolean {
    return this.list.isAny;
  }
  replace(next: IpList): void {
    this.list = next;
  }
}

interface BackupSchedule {
  reconfigure(hours: number, keep: number): void;
}

/** Settings that need a restart, by the name the operator knows them by. */
const RESTART_ONLY: ReadonlyArray<[keyof Settings, string]> = [
  ['dataDir', 'CERTKEEP_DATA_DIR'],
  ['databaseUrl', 'CERTKEEP_DATABASE_URL'],
  ['databaseAuthToken', 'CERTKEEP_DATABASE_AUTH_TOKEN'],
  ['httpPort', 'CERTKEEP_HTTP_PORT'],
  ['httpsPort', 'CERTKEEP_HTTPS_PORT'],
  ['bind', 'CERTKEEP_BIND'],
  ['dnsServers', 'CERTKEEP_DNS_SERVERS'],
  ['smtp', 'CERTKEEP_SMTP_URL/CERTKEEP_SMTP_FROM'],
  ['tickSeconds', 'CERTKEEP_TICK_SECONDS'],
];

export class LiveSettings {
  readonly trustProxy: LiveIpList;
  private level: LogLevel;
  private deps: Deps | undefined;
  private backups: BackupSchedule | undefined;

  constructor(private current: Settings | SettingsAsFound) {
    this.trustProxy = new LiveIpList(current.trustProxy);
    this.level = current.logLevel;
  }

  readonly logLevel = (): LogLevel => this.level;

  /** What a reload changes: the deps the app reads, and the backup schedule. */
  attach(deps: Deps, backups: BackupSchedule): void {
    deps.allowAdmin = new LiveIpList(deps.allowAdmin);
    deps.allowApi = new LiveIpList(deps.allowApi);
    this.deps = deps;
    this.backups = backups;
  }

  /** Reads the settings again and applies what may change; never throws (the outcome is logged). */
  async reload(env: NodeJS.ProcessEnv = process.env): Promise<{ applied: string[]; needRestart: string[] } | { refused: string }> {
    const log = this.deps?.log;
    let next: SettingsAsFound;
    try {
      next = await readSettings(env);
    } catch (err) {
      const reason = err instanceof SettingsError ? err.message : (err as Error).message;
      log?.error('settings not reloaded: nothing changed', { reason });
      return { refused: reason };
    }
    const old = this.current;
    const applied: string[] = [];
    if (next.logLevel !== old.logLevel) applied.push('CERTKEEP_LOG_LEVEL');
    if (next.allowAdmin.describe() !== old.allowAdmin.describe()) applied.push('CERTKEEP_ALLOW_ADMIN');
    if (next.allowApi.describe() !== old.allowApi.describe()) applied.push('CERTKEEP_ALLOW_API');
    if (next.trustProxy.describe() !== old.trustProxy.describe()) applied.push('CERTKEEP_TRUST_PROXY');
    if (next.concurrency !== old.concurrency) applied.push('CERTKEEP_CONCURRENCY');
    if (next.backupHours !== old.backupHours) applied.push('CERTKEEP_BACKUP_HOURS');
    if (next.backupKeep !== old.backupKeep) applied.push('CERTKEEP_BACKUP_KEEP');

    this.level = next.logLevel;
    this.trustProxy.replace(next.trustProxy);
    if (this.deps) {
      (this.deps.allowAdmin as LiveIpList).replace(next.allowAdmin);
      (this.deps.allowApi as LiveIpList).replace(next.allowApi);
      this.deps.concurrency = next.concurrency;
    }
    this.backups?.reconfigure(next.backupHours, next.backupKeep);

    const needRestart = RESTART_ONLY.filter(([key]) => JSON.stringify(next[key]) !== JSON.stringify(old[key])).map(([, name]) => name);
    if (next.masterKey !== undefined && old.masterKey !== undefined && Buffer.compare(Buffer.from(next.masterKey), Buffer.from(old.masterKey)) !== 0) {
      needRestart.push('CERTKEEP_MASTER_KEY');
    }
    // Keep what runs: a restart-only setting stays as it was until the restart.
    this.current = { ...next, ...Object.fromEntries(RESTART_ONLY.map(([key]) => [key, old[key]])), masterKey: old.masterKey } as SettingsAsFound;
    log?.info('settings reloaded', { applied, allowAdmin: next.allowAdmin.describe(), allowApi: next.allowApi.describe(), trustProxy: next.trustProxy.describe(), logLevel: next.logLevel });
    if (needRestart.length > 0) log?.warn('changed settings take effect only after a restart', { settings: needRestart });
    return { applied, needRestart };
  }
}
