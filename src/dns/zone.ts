// Which zone holds a name, and which servers are authoritative for it.
//
// dns-01 records may be delegated with a CNAME (`_acme-challenge.a.example` → a name in a zone
// made for ACME): CAs follow it (RFC 8555 §8.4 reads TXT through CNAMEs), so we follow it too and
// report the zone of the name the record really lives at.

import { CertkeepError } from '../errors.ts';
import type { DnsRecord, DnsResponse } from './message.ts';
import { isInZone, parentName, sameName } from './names.ts';
import { formatServer, type DnsResolver } from './resolver.ts';

/** RFC 1034 §3.6.2 loops are possible; resolvers give up after a handful of hops, and so do we. */
const MAX_CNAME_HOPS = 8;

export interface ZoneOf {
  /** The zone's apex, e.g. `example.test`. */
  zone: string;
  /** The name the record lives at: the one asked for, or the end of its CNAME chain. */
  name: string;
}

export interface FindZoneOptions {
  /** Sends every question to this `host:port` instead of the resolver's own servers. */
  server?: string;
  /** Follow a CNAME at `name` to the zone of its target (default true). An UPDATE must not. */
  followCnames?: boolean;
}

/**
 * Finds the zone of `name` with SOA questions: the answer names the SOA when `name` is the apex,
 * otherwise the authority section carries the zone's SOA (RFC 2308 §2). A server that gives
 * neither is asked again one label up.
 * Throws DNS_LOOKUP_FAILED when no zone is found or an answer is an error.
 */
export async function findZone(resolver: DnsResolver, name: string, opts: FindZoneOptions = {}): Promise<ZoneOf> {
  const { server, followCnames: follow = true } = opts;
  let target = name;
  let candidate = name;
  for (let hops = 0; ; ) {
    const res = await resolver.query(candidate, 'SOA', server);
    if (res.rcode !== 'NOERROR' && res.rcode !== 'NXDOMAIN') {
      throw lookupFailed(`the SOA question for ${candidate} got ${res.rcode}${server ? ` from ${server}` : ''}`, { name: candidate, rcode: res.rcode });
    }
    if (follow && candidate === target) {
      const end = followCnames(res.answers, target);
      if (!sameName(end, target)) {
        hops += 1;
        if (hops > MAX_CNAME_HOPS) throw lookupFailed(`${name} has a CNAME chain longer than ${MAX_CNAME_HOPS}`, { name });
        target = candidate = end;
        continue;
      }
    }
    if (res.answers.some((rr) => rr.type === 'SOA' && sameName(rr.name, candidate))) return { zone: candidate, name: target };
    const soa = res.authority.find((rr) => rr.type === 'SOA' && isInZone(candidate, rr.name));
    if (soa) return { zone: soa.name, name: target };
    const parent = parentName(candidate);
    if (parent === undefined) throw lookupFailed(`no zone found for ${name}: no server named an SOA for it or any parent`, { name });
    candidate = parent;
  }
}

/** One authoritative server of a zone, by its NS name, with every address it has. */
export interface NameServer {
  name: string;
  /** `host:port`, IPv4 addresses first. Empty when the name has no A or AAAA record. */
  addresses: string[];
}

/**
 * The zone's NS names and their addresses, asked of `resolver`. Glue in the additional section
 * is used when present; other names are resolved with A and AAAA questions.
 * `port` is where the servers answer (53, unless a test runs them elsewhere).
 */
export async function nameServers(resolver: DnsResolver, zone: string, port = 53): Promise<NameServer[]> {
  const res = await resolver.query(zone, 'NS');
  if (res.rcode !== 'NOERROR') throw lookupFailed(`the NS question for ${zone} got ${res.rcode}`, { zone, rcode: res.rcode });
  const names = res.answers.flatMap((rr) => (rr.type === 'NS' && sameName(rr.name, zone) ? [rr.target] : []));
  if (names.length === 0) throw lookupFailed(`${zone} has no NS records`, { zone });
  return Promise.all(
    unique(names).map(async (ns) => {
      let addresses = addressesOf(res.additional, ns);
      if (addresses.length === 0) {
        // A failed question leaves that family out; a name with no address at all is reported by the caller.
        const answers = await Promise.allSettled([resolver.query(ns, 'A'), resolver.query(ns, 'AAAA')]);
        addresses = answers.flatMap((a) => (a.status === 'fulfilled' ? addressesOf(a.value.answers, ns) : []));
      }
      return { name: ns, addresses: unique(addresses).map((ip) => formatServer(ip, port)) };
    }),
  );
}

/** The name at the end of the CNAME chain that starts at `name` within `records`. */
export function followCnames(records: DnsRecord[], name: string): string {
  let current = name;
  for (let hops = 0; hops <= MAX_CNAME_HOPS; hops++) {
    const cname = records.find((rr) => rr.type === 'CNAME' && sameName(rr.name, current));
    if (!cname || cname.type !== 'CNAME') return current;
    current = cname.target;
  }
  throw lookupFailed(`${name} has a CNAME chain longer than ${MAX_CNAME_HOPS}`, { name });
}

/** TXT values of `name` in an answer, CNAMEs followed. */
export function txtValues(res: DnsResponse, name: string): string[] {
  const owner = followCnames(res.answers, name);
  return res.answers.flatMap((rr) => (rr.type === 'TXT' && sameName(rr.name, owner) ? [rr.value] : []));
}

/** A (first) and AAAA addresses of `name` among `records`, CNAMEs followed. */
function addressesOf(records: DnsRecord[], name: string): string[] {
  const owner = followCnames(records, name);
  const of = (type: 'A' | 'AAAA'): string[] =>
    records.flatMap((rr) => (rr.type === type && sameName(rr.name, owner) ? [rr.address] : []));
  return [...of('A'), ...of('AAAA')];
}

function unique(items: string[]): string[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = item.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function lookupFailed(message: string, details: Record<string, unknown>): CertkeepError {
  return new CertkeepError('DNS_LOOKUP_FAILED', message, details);
}
