// Which addresses an outgoing request may reach (SPEC §1 CERTKEEP_ALLOW_PRIVATE_TARGETS).
//
// Every URL an admin or a remote document supplies (an ACME directory and every URL it names, DNS
// provider APIs, acme-dns, CRL and OCSP responders, later notification and tracking targets) may
// point inside the network Certkeep runs in. Public unicast addresses are fine; everything else
// — loopback, RFC 1918, unique local, link-local (with the cloud metadata service), carrier-grade
// NAT, unspecified, multicast, reserved — is refused unless the admin lists it in the allow-list.
// IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are judged by
// the IPv4 address inside, so ::ffff:127.0.0.1 and 64:ff9b::a9fe:a9fe are what they point at.
//
// The core sees only URLs: it judges literal addresses and the names that mean loopback by
// definition (localhost, RFC 6761). A host that resolves names (the node host) checks every
// resolved address with `refusedAddress` as well, and connects only to an address it checked.
import ipaddr from 'ipaddr.js';
import type { IpList } from '../http/ip.ts';

/** Why an address is not an allowed target, in words ('loopback', 'private (RFC 1918)', …). */
export type AddressKind = string;

const RANGE_WORDS: Record<string, string> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT (100.64.0.0/10)',
  private: 'private (RFC 1918)',
  uniqueLocal: 'unique local (fc00::/7)',
  reserved: 'reserved',
  benchmarking: 'benchmarking',
  amt: 'reserved',
  as112: 'reserved',
  as112v6: 'reserved',
  teredo: 'Teredo',
  orchid2: 'reserved',
  droneRemoteIdProtocolEntityTags: 'reserved',
  deprecatedSiteLocal: 'site-local',
  discard: 'discard-only',
  segmentRouting: 'reserved',
  deprecatedOrchid: 'reserved',
};

/** The cloud providers' instance metadata services: worth their own words. */
const METADATA = new Set(['169.254.169.254', 'fd00:ec2::254']);

/**
 * What kind of non-public address `address` is, or undefined for a public unicast address (and
 * for text that is no address at all: callers parse first).
 */
export function nonPublicKind(address: string): AddressKind | undefined {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(stripBrackets(address));
  } catch {
    return undefined;
  }
  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    v6.zoneId = undefined;
    if (METADATA.has(v6.toRFC5952String())) return 'cloud metadata';
    const inner = embeddedIpv4(v6);
    if (inner) return nonPublicKind(inner.toString());
  } else if (METADATA.has(ip.toString())) {
    return 'cloud metadata';
  }
  const range = ip.range();
  return range === 'unicast' ? undefined : (RANGE_WORDS[range] ?? range);
}

/** The IPv4 address an IPv6 address carries: IPv4-mapped/-compatible/-translated, NAT64, 6to4. */
function embeddedIpv4(ip: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = ip.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const zeros = (from: number, to: number) => p.slice(from, to).every((x) => x === 0);
  // ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (RFC 6145), ::a.b.c.d (compatible; not :: and ::1)
  if (zeros(0, 5) && p[5] === 0xffff) return v4(p[6], p[7]);
  if (zeros(0, 4) && p[4] === 0xffff && p[5] === 0) return v4(p[6], p[7]);
  if (zeros(0, 6) && (p[6] !== 0 || p[7] > 1)) return v4(p[6], p[7]);
  // 64:ff9b::/96 (RFC 6052) and 64:ff9b:1::/48 (RFC 8215, local NAT64): the address is the last 32 bits.
  if (p[0] === 0x64 && p[1] === 0xff9b && (zeros(2, 6) || p[2] === 1)) return v4(p[6], p[7]);
  // 2002:a.b.c.d::/48 (6to4)
  if (p[0] === 0x2002) return v4(p[1], p[2]);
  return undefined;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** The literal address a URL's hostname is, if it is one (brackets removed). */
export function literalAddress(hostname: string): string | undefined {
  const bare = stripBrackets(hostname);
  // The URL parser already turned 0x7f.1, 2130706433 and friends into dotted quads.
  return ipaddr.IPv4.isValidFourPartDecimal(bare) || (bare.includes(':') && ipaddr.IPv6.isValid(bare)) ? bare : undefined;
}

/** Names that are loopback by definition (RFC 6761 §6.3), whatever a resolver would say. */
export function isLoopbackName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || name === 'localhost.localdomain';
}

export interface TargetRefusal {
  /** The address (or name) refused. */
  address: string;
  kind: AddressKind;
  /** The IPv4 address an IPv6 form carries (::ffff:7f00:1 → 127.0.0.1), when that is what was judged. */
  carries?: string;
}

/**
 * Whether an address (one a URL names, or one a name resolved to) may be connected to: undefined
 * when it may, else what it is. `allow` is CERTKEEP_ALLOW_PRIVATE_TARGETS.
 */
export function refusedAddress(address: string, allow: IpList): TargetRefusal | undefined {
  const kind = nonPublicKind(address);
  const bare = stripBrackets(address);
  if (kind === undefined || allow.allows(bare)) return undefined;
  const inner = bare.includes(':') && ipaddr.IPv6.isValid(bare) ? embeddedIpv4(ipaddr.IPv6.parse(bare.replace(/%.*$/, ''))) : undefined;
  return inner ? { address: bare, kind, carries: inner.toString() } : { address: bare, kind };
}

/**
 * What the core can tell from a URL's host alone: a literal address judged as above, a loopback
 * name judged as 127.0.0.1 and ::1 (allowed when either is). Names are left to the host's resolver.
 */
export function refusedHost(hostname: string, allow: IpList): TargetRefusal | undefined {
  if (isLoopbackName(hostname)) {
    return allow.allows('127.0.0.1') || allow.allows('::1') ? undefined : { address: hostname, kind: 'loopback' };
  }
  const literal = literalAddress(hostname);
  return literal === undefined ? undefined : refusedAddress(literal, allow);
}

/** Whether the host is an address (or loopback name) that the allow-list names: plain http may go there. */
export function isAllowedPrivateHost(hostname: string, allow: IpList): boolean {
  if (isLoopbackName(hostname)) return allow.allows('127.0.0.1') || allow.allows('::1');
  const literal = literalAddress(hostname);
  return literal !== undefined && nonPublicKind(literal) !== undefined && allow.allows(literal);
}
