// Builds the core's Deps from the node host's settings.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Deps, DnsPropagation } from '../src/deps.ts';
import { tsigAlgorithm, type DnsResolver } from '../src/dns/index.ts';
import { DNS_PROPAGATION } from '../src/domain/dns/visibility.ts';
import type { Rfc2136Client, Rfc2136Target, RunScript } from '../src/domain/dns/types.ts';
import type { TlsScan } from '../src/domain/tracking/scan-types.ts';
import { newCaches } from '../src/deps.ts';
import { createLogger, type Logger, type LogLevel } from '../src/log.ts';
import { importMasterKey } from '../src/crypto/index.ts';
import type { Settings } from './settings.ts';
import { fstatSync } from 'node:fs';
import { journalPriorities } from './journal.ts';
import { openDatabase, type OpenedDatabase, type OpenOptions } from './db.ts';
import { nodeOutbound } from './outbound.ts';
import { smtpMailer } from './smtp.ts';
import { sha256Hex } from './digest.ts';

export interface NodeCore {
  deps: Deps;
  db: OpenedDatabase;
  log: Logger;
}

/**
 * dns-01 propagation checks: with CERTKEEP_DNS_SERVERS each listed server must show the value;
 * without, the zone's authoritative servers are found through the system resolver and asked.
 */
export function nodeDnsPropagation(servers: readonly string[]): DnsPropagation {
  // The sockets and their modules load with the first dns-01 question: most hosts never ask one.
  let loaded: Promise<DnsResolver> | undefined;
  const query: DnsResolver['query'] = async (name, type, server) => {
    loaded ??= import('./dns.ts').then(({ NodeDnsResolver }) => new NodeDnsResolver({ servers }));
    return (await loaded).query(name, type, server);
  };
  return {
    resolver: { canTargetServers: true, query },
    servers: servers.length > 0 ? servers.map((server) => ({ canTargetServers: false, query: (name, type) => query(name, type, server) })) : undefined,
    ...DNS_PROPAGATION,
  };
}

export function nodeRfc2136Client(): Rfc2136Client {
  const tsigOf = (t: Rfc2136Target) => ({ name: t.tsig.name, algorithm: tsigAlgorithm(t.tsig.algorithm), secret: t.tsig.secret });
  return {
    async add(target, record) {
      const { rfc2136Update } = await import('./dns.ts');
      await rfc2136Update({ server: target.server, zone: target.zone, tsig: tsigOf(target), add: { name: record.fqdn, value: record.value, ttl: record.ttl } });
    },
    async delete(target, record) {
      const { rfc2136Update } = await import('./dns.ts');
      await rfc2136Update({ server: target.server, zone: target.zone, tsig: tsigOf(target), delete: { name: record.fqdn, value: record.value } });
    },
  };
}

/**
 * Tracking scans (tls-scan.ts), loaded with the first scan. Names are resolved through
 * CERTKEEP_DNS_SERVERS when it is set, else the system's resolver; every address is checked
 * against CERTKEEP_ALLOW_PRIVATE_TARGETS.
 */
export function nodeTlsScanner(settings: Pick<Settings, 'allowPrivateTargets' | 'dnsServers'>, dns: DnsPropagation): TlsScan {
  let loaded: Promise<TlsScan> | undefined;
  return async (request) => {
    loaded ??= import('./tls-scan.ts').then(({ nodeTlsScan, readExtraCaCerts, resolverLookup }) =>
      nodeTlsScan({
        allow: settings.allowPrivateTargets,
        resolve: settings.dnsServers.length > 0 ? resolverLookup(dns.resolver) : undefined,
        extraCaPem: readExtraCaCerts(),
      }),
    );
    return (await loaded)(request);
  };
}

/** dns-01 script hooks; child_process loads with the first one run. */
const runScript: RunScript = async (command, args, opts) => (await import('./scripts.ts')).runScript(command, args, opts);

/** Writes a log line to stdout; under systemd each starts with its syslog priority, which journald takes off and keeps. */
export function stdoutSink(): (line: string, level: LogLevel) => void {
  const priority = journalPriorities(process.env, () => fstatSync(1));
  return priority ? (line, lvl) => process.stdout.write(priority[lvl] + line + '\n') : (line) => process.stdout.write(line + '\n');
}

export function stdoutLogger(level: Settings['logLevel'] | (() => Settings['logLevel'])): Logger {
  return createLogger(level, stdoutSink());
}

/**
 * `migrated`: another thread of this process has opened (and migrated) the database already;
 * `writeThrough`: see openDatabase.
 */
export async function createNodeCore(settings: Settings, log = stdoutLogger(settings.logLevel), opts: { migrated?: boolean; writeThrough?: OpenOptions['writeThrough'] } = {}): Promise<NodeCore> {
  // Migrations go forward only: a backup of the database as it was comes first.
  if (!opts.migrated) await (await import('./backup/pre-migration.ts')).backupBeforeMigrating(settings, log);
  const db = await openDatabase(settings.databaseUrl, settings.databaseAuthToken, { migrate: !opts.migrated, writeThrough: opts.writeThrough });
  const dns = nodeDnsPropagation(settings.dnsServers);
  const deps: Deps = {
    db: db.database,
    masterKey: await importMasterKey(settings.masterKey),
    outbound: nodeOutbound(settings.allowPrivateTargets),
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    log,
    runtime: 'node',
    hostId: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    sha256Hex,
    allowAdmin: settings.allowAdmin,
    allowApi: settings.allowApi,
    concurrency: settings.concurrency,
    tickSeconds: settings.tickSeconds,
    httpsListenPort: settings.httpsPort === 0 ? undefined : settings.httpsPort,
    caches: newCaches(),
    dns,
    runScript,
    tlsScan: nodeTlsScanner(settings, dns),
    rfc2136: nodeRfc2136Client(),
    ...(settings.smtp ? { mailer: smtpMailer(settings.smtp) } : {}),
  };
  return { deps, db, log };
}
