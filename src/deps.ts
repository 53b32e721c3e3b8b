// Everything the core needs from its host, passed in explicitly. The core asks `deps`, never a
// global: the node host and the Worker each build one of these.
import type { Database } from './db/client.ts';
import type { Logger } from './log.ts';
import type { IpList } from './http/ip.ts';
import type { AcmeClient } from './acme/index.ts';

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
   * Node host: the HTTPS port once the site certificate is served there, else null. While it
   * returns a port, plain HTTP is redirected to HTTPS (SPEC §7). Absent on the Worker, where
   * Cloudflare terminates TLS.
   */
  httpsPort?: () => number | null;
  /** Per-host caches (ACME clients keep their directory and nonces warm between orders). */
  caches: {
    acmeClients: Map<string, AcmeClient>;
  };
}

export function newCaches(): Deps['caches'] {
  return { acmeClients: new Map() };
}
