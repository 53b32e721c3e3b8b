// Everything the core needs from its host, passed in explicitly. The core asks `deps`, never a
// global: the node host and the Worker each build one of these.
import type { Database } from './db/client.ts';
import type { Logger } from './log.ts';
import type { IpList } from './http/ip.ts';
import type { AcmeClient } from './acme/index.ts';
import type { DnsResolver } from './dns/index.ts';
import type { Rfc2136Client, RunScript } from './domain/dns/types.ts';
import type { Outbound } from './net/outbound.ts';
import type { TlsScan } from './domain/tracking/scan-types.ts';
import type { HostMetrics } from './metrics/host.ts';

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

/** One of the node host's scheduled backups (a file in `<data dir>/backups`). */
export interface BackupEntry {
  name: string;
  /** When it was taken, ms since the epoch. */
  createdAt: number;
  bytes: number;
}

/**
 * Node host only: the scheduled backups, for the backups page and its API twin. The Worker has
 * none (D1 keeps its own history: Time Travel).
 */
export interface Backups {
  /** Where they are written. */
  readonly directory: string;
  /** The schedule in force, or why there is none. */
  schedule(): { everyHours: number; keep: number } | { off: string };
  /** Newest first. */
  list(): Promise<BackupEntry[]>;
  /** The file's bytes, or null when there is no such backup (any other name is refused). */
  open(name: string): Promise<{ body: ReadableStream<Uint8Array>; bytes: number } | null>;
}

/** A mail to send: plain text, and simple HTML beside it if the sender likes. */
export interface MailMessage {
  to: readonly string[];
  subject: string;
  text: string;
  html?: string;
}

/**
 * Node host only (nodemailer over CERTKEEP_SMTP_URL): sends notification mail. Throws when the
 * mail server does not take the message; the error's message says why (the server's answer).
 */
export interface Mailer {
  /** The sender address (CERTKEEP_SMTP_FROM). */
  readonly from: string;
  send(message: MailMessage): Promise<{ accepted: string[]; rejected: string[]; response: string }>;
}

export interface Deps {
  db: Database;
  /** AES-256-GCM key that seals every private key at rest. */
  masterKey: CryptoKey;
  /**
   * Every outgoing HTTP request (ACME CAs, DNS provider APIs, DoH, CRL/OCSP): deadline, byte cap,
   * redirects only when asked, and the private-address policy (CERTKEEP_ALLOW_PRIVATE_TARGETS).
   */
  outbound: Outbound;
  now(): number;
  sleep(ms: number): Promise<void>;
  log: Logger;
  runtime: Runtime;
  /** Identity of this host process in leases. */
  hostId: string;
  /**
   * Node host: SHA-256 of a string as hex, synchronous (node:crypto). The core hashes every API
   * key and token it makes or is shown (domain/secrets.ts); WebCrypto's digest, used when this is
   * absent (the Worker), is an asynchronous job that costs the node host's main thread about
   * 70 µs a call, many times the hashing itself.
   */
  sha256Hex?: (text: string) => string;
  allowAdmin: IpList;
  allowApi: IpList;
  /** Worker only: POST /api/v1/setup must carry this in `Setup-Token`. */
  setupToken?: string;
  /** ACME orders in flight at once on this host. */
  concurrency: number;
  /** Node host: seconds between scheduler ticks (CERTKEEP_TICK_SECONDS), shown on the settings page. */
  tickSeconds?: number;
  /**
   * Something became due for issuance (a certificate created, its names changed, a retry asked
   * for, a pacing limit raised): the host starts orders for it now if a slot is free
   * (jobs/scheduler.ts). Returns at once. Absent: the next scheduler tick finds the work.
   */
  wake?: () => void;
  /**
   * Events were committed (domain/events.ts): the host starts their notifications now. Returns at
   * once. Absent: the next scheduler tick finds them.
   */
  onEvents?: () => void;
  /**
   * Node host: the HTTPS port once the site certificate is served there, else null. While it
   * returns a port, plain HTTP is redirected to HTTPS (SPEC §7). Absent on the Worker, where
   * Cloudflare terminates TLS.
   */
  httpsPort?: () => number | null;
  /**
   * Told when an order has stored a newly issued certificate, before the order's caller hears of
   * it (the node host serves a new site certificate at once). A failure here is logged; the
   * certificate stays issued.
   */
  onCertificateIssued?(certificateId: string): Promise<void> | void;
  /**
   * Node host: the port its HTTPS listener is configured on (CERTKEEP_HTTPS_PORT), whether or not
   * the site certificate is served yet; absent when HTTPS is off and on the Worker. Pages use it
   * to write the address other machines reach this server by.
   */
  httpsListenPort?: number;
  /** DNS look-ups for dns-01 propagation checks (node: UDP/TCP; Worker: DNS over HTTPS). */
  dns: DnsPropagation;
  /** Node host only: runs dns-01 scripts (argv, never a shell). */
  runScript?: RunScript;
  /** Node host only: RFC 2136 dynamic updates. */
  rfc2136?: Rfc2136Client;
  /**
   * Node host with CERTKEEP_SMTP_URL: sends the mail of email notification channels. Absent on
   * the Worker (which cannot send mail to any recipient) and on a node host without SMTP settings.
   */
  mailer?: Mailer;
  /**
   * Node host only: raw TLS connections to tracked servers (SNI, STARTTLS), under the same
   * private-address policy as `outbound` (domain/tracking). Absent: URLs cannot be tracked here.
   */
  tlsScan?: TlsScan;
  /** Node host only: scheduled backups to list and download. */
  backups?: Backups;
  /**
   * Node host only: its process's figures and download counts for /metrics (src/metrics). Absent
   * on the Worker, whose /metrics holds the database's figures only.
   */
  hostMetrics?: HostMetrics;
  /** Per-host caches (ACME clients keep their directory and nonces warm between orders). */
  caches: {
    acmeClients: Map<string, AcmeClient>;
  };
}

export function newCaches(): Deps['caches'] {
  return { acmeClients: new Map() };
}
