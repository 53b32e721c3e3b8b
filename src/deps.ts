// Everything the core needs from its host, passed in explicitly. The core asks `deps`, never a
// global: the node host and the Worker each build one of these.
import type { Database } from './db/client.ts';
import type { Logger } from './log.ts';
import type { IpList } from './http/ip.ts';
import type { AcmeClient } from './acme/index.ts';
import type { DnsResolver } from './dns/index.ts';
import type { Rfc2136Client, RunScript } from './domain/dns/types.ts';

/**
 * Where the dns-01 propagation check looks: `servers` given (CERTKEEP_DNS_SERVERS) means "these
 * servers must all show the value"; otherwise the zone's authoritative servers are found through
 * `resolver` and asked directly (or, for a DoH resolver, the resolver itself is asked).
 */
export interface DnsPropagation {
  resolver: DnsResolver;
  /** One resolver per configured server, each asked directly. */
  servers?: DnsResolver[];
  timeoutMs: number;
  intervalMs: number;
}

export type Runtime = 'node' | 'worker';

export interface Deps {
  db: Database;
  /** AES-256-GCM key that seals every private key at rest. */
  masterKey: CryptoKey;
  /** Outbound fetch (ACME CAs). */
  fetch: typeof fetch;
  now(): number;
  sleep(ms: number): Promise<void>;
  log: Logger;
  runtime: Runtime;
  /** Identity of this host process in leases. */
  hostId: string;
  allowAdmin: IpList;
  allowApi: IpList;
  /** Worker only: POST /api/v1/setup must carry this in `Setup-Token`. */
  setupToken?: string;
  /** ACME orders in flight at once on this host. */
  concurrency: number;
  /**
   * Something became due for issuance (a certificate created, its names changed, a retry asked
   * for, a pacing limit raised): the host starts orders for it now if a slot is free
   * (jobs/scheduler.ts). Returns at once. Absent: the next scheduler tick finds the work.
   */
  wake?: () => void;
  /**
   * Node host: the HTTPS port once the site certificate is served there, else null. While it
   * returns a port, plain HTTP is redirected to HTTPS (SPEC §7). Absent on the Worker, where
   * Cloudflare terminates TLS.
   */
  httpsPort?: () => number | null;
  /** DNS look-ups for dns-01 propagation checks (node: UDP/TCP; Worker: DNS over HTTPS). */
  dns: DnsPropagation;
  /** Node host only: runs dns-01 scripts (argv, never a shell). */
  runScript?: RunScript;
  /** Node host only: RFC 2136 dynamic updates. */
  rfc2136?: Rfc2136Client;
  /** Per-host caches (ACME clients keep their directory and nonces warm between orders). */
  caches: {
    acmeClients: Map<string, AcmeClient>;
  };
}

export function newCaches(): Deps['caches'] {
  return { acmeClients: new Map() };
}
