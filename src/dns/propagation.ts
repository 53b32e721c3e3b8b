// Before telling the CA "the TXT record is there" (RFC 8555 §7.5.1), make sure it is: a CA asks
// one of the zone's authoritative servers, and a secondary that has not yet transferred the
// change would fail the challenge. So we find the zone's authoritative servers and ask each of
// them directly, bypassing every cache, until all of them serve the value.
//
// Where servers cannot be asked directly (the Worker: DNS over HTTPS only), the check falls back
// to asking the DoH resolver (with CD set, see doh.ts). That is weaker: the resolver answers from
// its cache, so a negative answer cached before the record was added hides it until the zone's
// negative TTL (SOA minimum, RFC 2308) runs out, and a positive answer from one server says
// nothing about the others. It still catches the common mistakes (wrong name, wrong zone, the
// update never applied), and waiting past a cached negative answer is only slower, not wrong.

import { CertkeepError } from '../errors.ts';
import type { DnsResolver } from './resolver.ts';
import { findZone, nameServers, txtValues, type NameServer } from './zone.ts';

export interface WaitForTxtOptions {
  /** The record's name, e.g. `_acme-challenge.www.example.test`. */
  fqdn: string;
  /** The value that must be visible (one of possibly several TXT records at that name). */
  value: string;
  resolver: DnsResolver;
  /** Give up after this long (default 120 s). */
  timeoutMs?: number;
  /** Pause between rounds of questions (default 2 s). */
  intervalMs?: number;
  /** Injectable clock and sleep, for tests (default Date.now and setTimeout). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** The port the authoritative servers answer on (53; tests run them elsewhere). */
  port?: number;
}

/** Why one server does not (yet) count as showing the value. */
export interface MissingAt {
  /** The NS name, or the resolver when servers cannot be asked directly. */
  server: string;
  reason: string;
}

/**
 * Resolves once every authoritative server of the zone holding `fqdn` serves `value` in a TXT
 * record at `fqdn` (CNAMEs followed). After `timeoutMs` it throws DNS_NOT_PROPAGATED, naming each
 * server that lacks it and why; when the servers could not even be found, DNS_LOOKUP_FAILED.
 */
export async function waitForTxt(opts: WaitForTxtOptions): Promise<void> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const intervalMs = opts.intervalMs ?? 2000;
  const deadline = now() + timeoutMs;
  const check = opts.resolver.canTargetServers === false ? viaResolver(opts) : viaAuthoritativeServers(opts);

  for (;;) {
    const missing = await check.round();
    if (missing.length === 0) return;
    const left = deadline - now();
    if (left <= 0) throw check.failure(missing, timeoutMs);
    await sleep(Math.min(intervalMs, left));
  }
}

interface Check {
  /** One round of questions: the servers still missing the value (none = done). */
  round(): Promise<MissingAt[]>;
  failure(missing: MissingAt[], timeoutMs: number): CertkeepError;
}

function viaAuthoritativeServers(opts: WaitForTxtOptions): Check {
  const { resolver, fqdn, value } = opts;
  let found: { zone: string; name: string; servers: NameServer[] } | undefined;
  let lookupError: CertkeepError | undefined;
  const shown = new Set<string>(); // NS names that served the value; records do not come back out

  return {
    async round() {
      if (!found) {
        try {
          const { zone, name } = await findZone(resolver, fqdn);
          found = { zone, name, servers: await nameServers(resolver, zone, opts.port) };
        } catch (err) {
          // A DNS failure may pass (a resolver restarting); bad input or a bug will not.
          if (!(err instanceof CertkeepError) || !err.code.startsWith('DNS_')) throw err;
          lookupError = err;
          return [{ server: 'lookup', reason: err.message }];
        }
      }
      const { name, servers } = found;
      const results = await Promise.all(
        servers.filter((ns) => !shown.has(ns.name)).map(async (ns) => ({ ns, reason: await askServer(ns) })),
      );
      const missing: MissingAt[] = [];
      for (const { ns, reason } of results) {
        if (reason === undefined) shown.add(ns.name);
        else missing.push({ server: ns.name, reason });
      }
      return missing;

      /** Undefined when the server serves the value; otherwise why not. The first address that answers decides. */
      async function askServer(ns: NameServer): Promise<string | undefined> {
        if (ns.addresses.length === 0) return 'it has no A or AAAA address';
        const failures: string[] = [];
        for (const address of ns.addresses) {
          try {
            const res = await resolver.query(name, 'TXT', address);
            if (txtValues(res, name).includes(value)) return undefined;
            return `${address} answered ${res.rcode} ${describeTxt(txtValues(res, name))}`;
          } catch (err) {
            if (!(err instanceof CertkeepError)) throw err;
            failures.push(err.message.includes(address) ? err.message : `${address}: ${err.message}`); // try its next address (e.g. no IPv6 route here)
          }
        }
        return failures.join('; ');
      }
    },
    failure(missing, timeoutMs) {
      if (!found && lookupError) {
        return new CertkeepError(
          'DNS_LOOKUP_FAILED',
          `cannot find the authoritative servers of ${fqdn} within ${seconds(timeoutMs)}: ${lookupError.message}`,
          { fqdn, ...lookupError.details },
          { cause: lookupError },
        );
      }
      const list = missing.map((m) => `${m.server} (${m.reason})`).join(', ');
      return new CertkeepError(
        'DNS_NOT_PROPAGATED',
        `TXT "${value}" at ${fqdn} is not served by every authoritative server of ${found?.zone} after ${seconds(timeoutMs)}; missing at: ${list}`,
        { fqdn, value, zone: found?.zone, missing },
      );
    },
  };
}

function viaResolver(opts: WaitForTxtOptions): Check {
  const { resolver, fqdn, value } = opts;
  return {
    async round() {
      try {
        const res = await resolver.query(fqdn, 'TXT');
        const values = txtValues(res, fqdn);
        return values.includes(value) ? [] : [{ server: 'resolver', reason: `answered ${res.rcode} ${describeTxt(values)}` }];
      } catch (err) {
        if (!(err instanceof CertkeepError) || !err.code.startsWith('DNS_')) throw err;
        return [{ server: 'resolver', reason: err.message }];
      }
    },
    failure(missing, timeoutMs) {
      return new CertkeepError(
        'DNS_NOT_PROPAGATED',
        `TXT "${value}" at ${fqdn} is not visible through the DNS-over-HTTPS resolver after ${seconds(timeoutMs)}: ${missing[0].reason}`,
        { fqdn, value, missing },
      );
    },
  };
}

function describeTxt(values: string[]): string {
  if (values.length === 0) return 'with no TXT record';
  const shown = values.slice(0, 3).map((v) => `"${v}"`).join(', ');
  return `with only ${shown}${values.length > 3 ? ` and ${values.length - 3} more` : ''}`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
