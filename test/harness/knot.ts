// Knot DNS (Debian `knot`, 3.2) as a real authoritative server for dns-01 tests: one zone on a
// free loopback port, a TSIG key that may add and delete TXT records below the apex (RFC 2136),
// and a wildcard A record so that every name also resolves to 127.0.0.1 — Pebble can then point
// its -dnsserver at this server and still reach the server under test for http-01.
// Its own temp dir, started and stopped by process id.
import { writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import type { TsigKey } from '../../src/dns/index.ts';
import { freePort } from './ports.ts';
import { startProcess } from './processes.ts';
import { gatedDescribe, requireProgram } from './skip.ts';
import { makeTempDir } from './tmp.ts';

export const KNOTD_BIN = '/usr/sbin/knotd';

/** `describe` for suites that need knotd: runs, skips with a notice, or fails in CI (SPEC §8). */
export const describeKnot: typeof import('vitest').describe = gatedDescribe(requireProgram(KNOTD_BIN, 'apt-get install knot'));

export interface KnotOptions {
  /** The zone served (default `example.test`). */
  zone?: string;
  /** Extra lines for the zone file, relative to the apex, e.g. `'ns2 A 127.0.0.2'`. */
  records?: string[];
  /** Extra NS names for the apex (their addresses go in `records`). `ns1` (127.0.0.1) is always there. */
  nameServers?: string[];
  /** The TSIG algorithm of the update key (default hmac-sha256). */
  algorithm?: TsigKey['algorithm'];
}

export interface Knot {
  /** `127.0.0.1:<port>`, UDP and TCP. */
  address: string;
  port: number;
  zone: string;
  /** The key allowed to update TXT records strictly below the apex. */
  tsig: TsigKey;
  pid: number;
  /** knotd's control socket, for `knotc -s <socket> zone-read …` as an independent view of the zone. */
  controlSocket: string;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * Starts knotd. The update ACL (Knot 3.2: `update-type`, `update-owner: zone`,
 * `update-owner-match: sub`) admits TXT records at any name below the apex — Knot 3.2 cannot
 * match a leading `_acme-challenge` label, so the type and the "below the apex" rule are the
 * narrowest it allows. Changes live in memory only (no journal, no zone file write-back).
 */
export async function startKnot(opts: KnotOptions = {}): Promise<Knot> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      lastError = err;
      if (!/address already in use|failed to bind/i.test(String(err))) throw err;
    }
  }
  throw lastError;
}

async function startOnce(opts: KnotOptions): Promise<Knot> {
  const zone = (opts.zone ?? 'example.test').replace(/\.$/, '');
  const dir = makeTempDir('knot-');
  const port = await freePort({ udp: true });
  const tsig: TsigKey = {
    name: 'certkeep-test.',
    algorithm: opts.algorithm ?? 'hmac-sha256',
    secret: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64'),
  };

  writeFileSync(
    join(dir, `${zone}.zone`),
    [
      `$ORIGIN ${zone}.`,
      '$TTL 60',
      // SOA minimum 1: a negative answer is cached for one second at most (RFC 2308 §5).
      '@ SOA ns1 hostmaster 1 3600 600 86400 1',
      '@ NS ns1',
      ...(opts.nameServers ?? []).map((ns) => `@ NS ${ns}`),
      'ns1 A 127.0.0.1',
      '* A 127.0.0.1',
      ...(opts.records ?? []),
      '',
    ].join('\n'),
  );
  const configPath = join(dir, 'knot.conf');
  writeFileSync(
    configPath,
    `server:
    rundir: "${dir}"
    listen: [ 127.0.0.1@${port} ]
log:
  - target: stderr
    any: info
database:
    storage: "${join(dir, 'db')}"
key:
  - id: ${tsig.name}
    algorithm: ${tsig.algorithm}
    secret: ${tsig.secret}
acl:
  - id: acme-update
    key: ${tsig.name}
    action: update
    update-type: [TXT]
    update-owner: zone
    update-owner-match: sub
zone:
  - domain: ${zone}.
    storage: "${dir}"
    file: "${zone}.zone"
    acl: acme-update
    zonefile-sync: -1
    journal-content: none
`,
  );

  const knot = await startProcess(KNOTD_BIN, ['-c', configPath], {
    logFile: join(dir, 'knotd.log'),
    readyWhen: () => servesSoa(port, zone),
    readyTimeoutMs: 15_000,
  });
  return {
    address: `127.0.0.1:${port}`,
    port,
    zone,
    tsig,
    pid: knot.pid,
    controlSocket: join(dir, 'knot.sock'),
    logs: () => knot.output(),
    stop: () => knot.stop(),
  };
}

/** True once knotd answers the zone's SOA (asked with Node's own resolver, not the code under test). */
async function servesSoa(port: number, zone: string): Promise<boolean> {
  const resolver = new Resolver({ timeout: 300, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const soa = await resolver.resolveSoa(zone);
  return soa.nsname === `ns1.${zone}`;
}
