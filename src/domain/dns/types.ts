// The contract between dns-01 orders and the DNS providers that publish their TXT records.
//
// A provider publishes and removes one TXT value at a time. Removal is by value: a wildcard and
// its apex share one record name (`_acme-challenge.example.com`) with two values, and clearing
// one must leave the other.

/** One TXT record to publish for a dns-01 challenge (RFC 8555 §8.4). */
export interface DnsChallengeRecord {
  /** `_acme-challenge.<name>` without a trailing dot, e.g. `_acme-challenge.www.example.com`. */
  fqdn: string;
  /** base64url(SHA-256(key authorization)). */
  value: string;
  /** The name being validated (wildcards without their `*.`), e.g. `www.example.com`. */
  name: string;
}

/** What a provider did, for the order's history (never secrets). */
export interface DnsProviderLog {
  level: 'info' | 'warn' | 'error';
  message: string;
}

export interface DnsProviderDriver {
  /** Publishes the record; throws CertkeepError with a readable message on failure. */
  set(record: DnsChallengeRecord, log: (entry: DnsProviderLog) => void): Promise<void>;
  /** Removes exactly this value (other values of the same name stay); a missing record is fine. */
  clear(record: DnsChallengeRecord, log: (entry: DnsProviderLog) => void): Promise<void>;
}

export const DNS_PROVIDER_TYPES = ['script', 'webhook', 'acme-dns', 'rfc2136', 'cloudflare'] as const;
export type DnsProviderType = (typeof DNS_PROVIDER_TYPES)[number];

/** Provider types that need a capability only the node host has. */
export const NODE_ONLY_PROVIDER_TYPES: readonly DnsProviderType[] = ['script', 'rfc2136'];

// ---- host capabilities (injected through Deps; see src/deps.ts) ----------------------------------

export interface ScriptResult {
  /** Exit code; null when killed (timeout or signal). */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs an executable directly with an argv array — never through a shell (node host). */
export type RunScript = (command: string, args: string[], opts: { env: Record<string, string>; timeoutMs: number }) => Promise<ScriptResult>;

export interface Rfc2136Target {
  /** `host:port` of the primary authoritative server. */
  server: string;
  /** The zone to update; found by SOA look-up when absent. */
  zone?: string;
  tsig: { name: string; algorithm: string; secret: string };
}

/** Adds or deletes one TXT value with a TSIG-signed DNS UPDATE (node host). */
export interface Rfc2136Client {
  add(target: Rfc2136Target, record: { fqdn: string; value: string; ttl: number }): Promise<void>;
  delete(target: Rfc2136Target, record: { fqdn: string; value: string }): Promise<void>;
}
