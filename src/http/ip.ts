// IP addresses and allow-lists (IPv4, IPv6, CIDRs), used for CERTKEEP_ALLOW_ADMIN,
// CERTKEEP_ALLOW_API and CERTKEEP_TRUST_PROXY on every request, so matching is allocation-light.
//
// Every address lives in one 128-bit space: IPv4 a.b.c.d is the IPv4-mapped IPv6 address
// ::ffff:a.b.c.d (RFC 4291 §2.5.5.2) and an IPv4 /n is a /(96+n). That is exactly how a
// dual-stack socket reports IPv4 peers, so "10.0.0.0/8" matches "::ffff:10.0.0.1" without any
// special case. Textual forms follow RFC 4291 §2.2 (parsing) and RFC 5952 (canonical output).

import { CertkeepError } from '../errors.ts';

/** A set of networks that a client address may or may not belong to. */
export interface IpList {
  /** Whether `ip` (an address, never a CIDR) is in the list. Garbage is never allowed. */
  allows(ip: string): boolean;
  /** Human-readable summary for logs and `--help`, e.g. `loopback only (127.0.0.0/8, ::1)`. */
  describe(): string;
  /** True when the list allows nothing (e.g. CERTKEEP_TRUST_PROXY unset). */
  readonly isEmpty: boolean;
  /** True when the list allows every address (`*`). */
  readonly isAny: boolean;
}

/** An address as four 32-bit words, most significant first. */
type Words = [number, number, number, number];

interface Network {
  readonly words: Words; // already masked
  readonly masks: Words;
  readonly prefix: number; // 0..128
}

const IPV4_MAPPED_PREFIX = 96;
const LOOPBACK_ENTRIES = ['127.0.0.0/8', '::1'];

/**
 * Parses a list of IPs/CIDRs separated by commas, semicolons or whitespace.
 * `*` allows any address; `loopback` stands for 127.0.0.0/8 and ::1. An empty or missing text
 * means loopback only, or nothing when `opts.defaultLoopback` is false (trusted proxies).
 * Throws CertkeepError('BAD_REQUEST') naming the first entry that is neither.
 */
export function parseIpList(text: string | undefined, opts: { defaultLoopback: boolean } = { defaultLoopback: true }): IpList {
  const entries = (text ?? '').split(/[\s,;]+/).filter((entry) => entry !== '');
  if (entries.length === 0) {
    return opts.defaultLoopback ? new NetworkList(LOOPBACK_ENTRIES.map(parseNetworkOrThrow), 'loopback only') : new NetworkList([], 'none');
  }
  const networks: Network[] = [];
  let any = false;
  for (const entry of entries) {
    if (entry === '*') any = true;
    else if (entry.toLowerCase() === 'loopback') networks.push(...LOOPBACK_ENTRIES.map(parseNetworkOrThrow));
    else networks.push(parseNetworkOrThrow(entry));
  }
  return any ? ANY : new NetworkList(dedupe(networks));
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.x.y.z). False for garbage. */
export function isLoopback(ip: string): boolean {
  const words = parseAddress(ip);
  if (!words) return false;
  return isIpv4Mapped(words) ? words[3] >>> 24 === 127 : words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 1;
}

/**
 * The canonical text of an address: dotted quad for IPv4 and IPv4-mapped IPv6, RFC 5952 form
 * (lower case, shortest, `::` for the longest zero run) for IPv6, zone id dropped.
 * Undefined when `ip` is not an address (CIDRs included).
 */
export function normalizeIp(ip: string): string | undefined {
  const words = parseAddress(ip);
  return words ? formatAddress(words) : undefined;
}

class NetworkList implements IpList {
  readonly isAny = false;
  readonly isEmpty: boolean;

  constructor(
    private readonly networks: readonly Network[],
    private readonly label?: string,
  ) {
    this.isEmpty = networks.length === 0;
  }

  allows(ip: string): boolean {
    if (this.isEmpty) return false;
    const words = parseAddress(ip);
    if (!words) return false;
    for (const net of this.networks) {
      if (
        (words[0] & net.masks[0]) >>> 0 === net.words[0] &&
        (words[1] & net.masks[1]) >>> 0 === net.words[1] &&
        (words[2] & net.masks[2]) >>> 0 === net.words[2] &&
        (words[3] & net.masks[3]) >>> 0 === net.words[3]
      ) {
        return true;
      }
    }
    return false;
  }

  describe(): string {
    const list = this.networks.map(formatNetwork).join(', ');
    if (this.label === 'none') return 'none';
    return this.label ? `${this.label} (${list})` : list;
  }
}

const ANY: IpList = Object.freeze({
  isAny: true,
  isEmpty: false,
  allows: (ip: string) => parseAddress(ip) !== undefined,
  describe: () => 'any (*)',
});

function parseNetworkOrThrow(entry: string): Network {
  const network = parseNetwork(entry);
  if (!network) {
    throw new CertkeepError('BAD_REQUEST', `invalid IP address or CIDR "${entry}" (expected e.g. 10.0.0.0/8, 192.0.2.7, 2001:db8::/32 or *)`, {
      entry,
    });
  }
  return network;
}

/** `address` or `address/prefix`; a prefix longer than the family allows is refused. */
function parseNetwork(entry: string): Network | undefined {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const words = parseAddress(address);
  if (!words) return undefined;
  const isV4Text = address.indexOf(':') < 0;
  let prefix = 128;
  if (slash >= 0) {
    const digits = entry.slice(slash + 1);
    // No sign, no leading zeros ("/08" is more likely a typo than a prefix), at most 3 digits.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(digits)) return undefined;
    const bits = Number(digits);
    if (bits > (isV4Text ? 32 : 128)) return undefined;
    prefix = isV4Text ? IPV4_MAPPED_PREFIX + bits : bits;
  }
  const masks = prefixMasks(prefix);
  // Host bits are tolerated and cleared (10.1.2.3/8 means 10.0.0.0/8), as most tools do.
  const masked: Words = [
    (words[0] & masks[0]) >>> 0,
    (words[1] & masks[1]) >>> 0,
    (words[2] & masks[2]) >>> 0,
    (words[3] & masks[3]) >>> 0,
  ];
  return { words: masked, masks, prefix };
}

function prefixMasks(prefix: number): Words {
  const mask = (i: number) => {
    const bits = Math.min(32, Math.max(0, prefix - 32 * i));
    return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  };
  return [mask(0), mask(1), mask(2), mask(3)];
}

function dedupe(networks: Network[]): Network[] {
  const seen = new Set<string>();
  return networks.filter((net) => {
    const key = formatNetwork(net);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---- parsing ---------------------------------------------------------------------------------

/** Parses an IPv4 or IPv6 address (optionally with a zone id) into words, or undefined. */
function parseAddress(text: string): Words | undefined {
  if (text.indexOf(':') < 0) {
    const v4 = parseIpv4(text, 0, text.length);
    return v4 < 0 ? undefined : [0, 0, 0xffff, v4];
  }
  return parseIpv6(text);
}

/**
 * Strict dotted quad: four decimal octets 0-255, no leading zeros (which some resolvers
 * read as octal), no shorthand forms like "10.1". Returns the 32-bit value or -1.
 */
function parseIpv4(text: string, start: number, end: number): number {
  let value = 0;
  let octets = 0;
  let i = start;
  while (i <= end) {
    let octet = 0;
    let digits = 0;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      if (digits === 1 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - 48);
      digits++;
      i++;
    }
    if (digits === 0 || digits > 3 || octet > 255) return -1;
    value = value * 256 + octet;
    octets++;
    if (i === end) break;
    if (text.charCodeAt(i) !== 46 /* . */ || octets === 4) return -1;
    i++;
  }
  return octets === 4 ? value >>> 0 : -1;
}

/** RFC 4291 §2.2 text forms, including `::` compression, a trailing dotted quad and `%zone`. */
function parseIpv6(text: string): Words | undefined {
  let end = text.length;
  const percent = text.indexOf('%');
  if (percent >= 0) {
    // The zone id (RFC 4007 §11) only says which interface; it plays no part in matching.
    if (percent === end - 1 || /[\s/%,;]/.test(text.slice(percent + 1))) return undefined;
    end = percent;
  }
  const groups: number[] = [];
  let gap = -1; // index in `groups` where "::" stands
  let i = 0;
  if (text.startsWith('::')) {
    gap = 0;
    i = 2;
    if (i === end) return wordsFromGroups(groups, gap);
  } else if (text.charCodeAt(0) === 58 /* : */) {
    return undefined;
  }
  while (i < end) {
    // One group: up to 4 hex digits, or a dotted quad when it is the last thing.
    let value = 0;
    let digits = 0;
    const groupStart = i;
    while (i < end) {
      const c = text.charCodeAt(i);
      const hex = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (hex < 0) break;
      value = value * 16 + hex;
      digits++;
      i++;
    }
    if (i < end && text.charCodeAt(i) === 46 /* . */) {
      const v4 = parseIpv4(text, groupStart, end);
      if (v4 < 0 || groups.length > 6) return undefined;
      groups.push(v4 >>> 16, v4 & 0xffff);
      i = end;
      break;
    }
    if (digits === 0 || digits > 4) return undefined;
    groups.push(value);
    if (i === end) break;
    if (text.charCodeAt(i) !== 58 /* : */) return undefined;
    i++;
    if (text.charCodeAt(i) === 58 /* : */) {
      if (gap >= 0) return undefined; // only one "::"
      gap = groups.length;
      i++;
      if (i === end) break;
    } else if (i === end) {
      return undefined; // trailing single colon
    }
  }
  return wordsFromGroups(groups, gap);
}

function wordsFromGroups(groups: number[], gap: number): Words | undefined {
  if (gap < 0 ? groups.length !== 8 : groups.length > 7) return undefined;
  const full = gap < 0 ? groups : [...groups.slice(0, gap), ...new Array<number>(8 - groups.length).fill(0), ...groups.slice(gap)];
  return [
    ((full[0] << 16) | full[1]) >>> 0,
    ((full[2] << 16) | full[3]) >>> 0,
    ((full[4] << 16) | full[5]) >>> 0,
    ((full[6] << 16) | full[7]) >>> 0,
  ];
}

// ---- formatting ------------------------------------------------------------------------------

function isIpv4Mapped(words: Words): boolean {
  return words[0] === 0 && words[1] === 0 && words[2] === 0xffff;
}

function formatAddress(words: Words): string {
  return isIpv4Mapped(words) ? formatIpv4(words[3]) : formatIpv6(words);
}

function formatIpv6(words: Words): string {
  if (isIpv4Mapped(words)) return `::ffff:${formatIpv4(words[3])}`; // RFC 5952 §5
  const groups = words.flatMap((w) => [w >>> 16, w & 0xffff]);
  // RFC 5952 §4.2: compress the longest run (the first on a tie) of two or more zero groups.
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; ) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
    start += length + 1;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

function formatNetwork(net: Network): string {
  if (isIpv4Mapped(net.words) && net.prefix >= IPV4_MAPPED_PREFIX) {
    const bits = net.prefix - IPV4_MAPPED_PREFIX;
    return bits === 32 ? formatIpv4(net.words[3]) : `${formatIpv4(net.words[3])}/${bits}`;
  }
  const address = formatIpv6(net.words);
  return net.prefix === 128 ? address : `${address}/${net.prefix}`;
}
