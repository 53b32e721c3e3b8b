// DNS for the node host: questions over UDP (TCP when the answer is truncated) to
// CERTKEEP_DNS_SERVERS or the system's resolvers, and RFC 2136 updates signed with TSIG.
// The wire format, TSIG and the update logic are the portable ones in src/dns; this file only
// moves bytes.

import { createSocket } from 'node:dgram';
// The default export, not the named one: dns.setServers() replaces the default resolver, and an
// ESM named import would keep calling the old one.
import dns from 'node:dns';
import { isIP, connect } from 'node:net';
import { CertkeepError } from '../src/errors.ts';
import {
  decodeAnswer,
  encodeQuery,
  findZone,
  formatServer,
  parseServer,
  randomId,
  sendUpdate,
  type DnsResolver,
  type DnsResponse,
  type RecordType,
  type TsigKey,
  type TxtUpdate,
} from '../src/dns/index.ts';

const DEFAULT_TIMEOUT_MS = 3000;

export interface NodeDnsResolverOptions {
  /** `host:port` list (the form node-host/settings.ts gives for CERTKEEP_DNS_SERVERS); empty or absent: the system's resolvers. */
  servers?: readonly string[];
  /** Per attempt (default 3 s). */
  timeoutMs?: number;
  /** Attempts per server before moving to the next (default 2). */
  tries?: number;
}

export class NodeDnsResolver implements DnsResolver {
  readonly canTargetServers = true;
  readonly #servers: readonly string[];
  readonly #timeoutMs: number;
  readonly #tries: number;

  constructor(opts: NodeDnsResolverOptions = {}) {
    this.#servers = opts.servers ?? [];
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#tries = opts.tries ?? 2;
  }

  /**
   * Without `server`, the configured servers are tried in order: one that fails to answer, or
   * answers SERVFAIL or REFUSED, hands the question to the next (as a stub resolver does).
   */
  async query(name: string, type: RecordType, server?: string): Promise<DnsResponse> {
    const servers = server !== undefined ? [server] : this.#servers.length > 0 ? this.#servers : systemDnsServers();
    let lastAnswer: DnsResponse | undefined;
    let lastError: unknown;
    for (const target of servers) {
      for (let attempt = 0; attempt < this.#tries; attempt++) {
        try {
          const res = await this.#ask(target, name, type);
          if (res.rcode === 'SERVFAIL' || res.rcode === 'REFUSED') {
            lastAnswer = res;
            break;
          }
          return res;
        } catch (err) {
          if (!(err instanceof CertkeepError)) throw err;
          lastError = err;
          if (err.code === 'BAD_REQUEST') throw err;
        }
      }
    }
    if (lastAnswer) return lastAnswer;
    throw lastError;
  }

  /** RFC 1035 §4.2.1: UDP first; RFC 7766 §5: TCP again when the answer came back truncated. */
  async #ask(server: string, name: string, type: RecordType): Promise<DnsResponse> {
    const id = randomId();
    const query = encodeQuery({ id, name, type });
    const res = decodeAnswer(await exchangeUdp(server, query, this.#timeoutMs), { id, name, type }, server);
    if (!res.flags.tc) return res;
    return decodeAnswer(await exchangeTcp(server, query, this.#timeoutMs), { id, name, type }, server);
  }
}

/** The system's resolvers as `host:port` (Node reads /etc/resolv.conf). Throws DNS_LOOKUP_FAILED when there are none. */
export function systemDnsServers(): string[] {
  const servers = dns.getServers().map((entry) => {
    const { host, port } = parseServer(entry);
    return formatServer(host, port);
  });
  if (servers.length === 0) {
    throw new CertkeepError('DNS_LOOKUP_FAILED', 'this system has no DNS resolver configured: set CERTKEEP_DNS_SERVERS');
  }
  return servers;
}

/**
 * One message over UDP to `server`; resolves with the first datagram from that address that
 * carries our message ID (others — late answers, spoofing attempts — are ignored).
 */
export function exchangeUdp(server: string, message: Uint8Array, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Uint8Array> {
  const { host, port } = parseServer(server);
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  return new Promise<Uint8Array>((resolve, reject) => {
    let finished = false;
    const done = (err: CertkeepError | undefined, answer?: Uint8Array): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => done(timeout(server, 'UDP', timeoutMs)), timeoutMs);
    socket.on('error', (err) => done(network(server, 'UDP', err)));
    socket.on('message', (answer, from) => {
      const fromServer = isIP(host) === 0 || (from.address === host && from.port === port);
      if (fromServer && answer.length >= 2 && answer[0] === message[0] && answer[1] === message[1]) {
        done(undefined, new Uint8Array(answer));
      }
    });
    socket.send(message, port, host, (err) => {
      if (err) done(network(server, 'UDP', err));
    });
  });
}

/** One message over TCP (RFC 1035 §4.2.2: each message prefixed with its two-octet length). */
export function exchangeTcp(server: string, message: Uint8Array, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Uint8Array> {
  const { host, port } = parseServer(server);
  return new Promise<Uint8Array>((resolve, reject) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    const done = (err: CertkeepError | undefined, answer?: Uint8Array): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => done(timeout(server, 'TCP', timeoutMs)), timeoutMs);
    socket.on('error', (err) => done(network(server, 'TCP', err)));
    socket.on('connect', () => {
      const length = Buffer.from([message.length >> 8, message.length & 0xff]);
      // Not end(): some servers drop a half-closed connection before answering.
      socket.write(Buffer.concat([length, message]));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const length = received.readUInt16BE(0);
      if (received.length >= 2 + length) done(undefined, new Uint8Array(received.subarray(2, 2 + length)));
    });
    socket.on('end', () => done(network(server, 'TCP', new Error('connection closed before a whole answer arrived'))));
  });
}

export interface Rfc2136UpdateOptions {
  /** The zone's primary server, `host:port`. */
  server: string;
  /** The zone to update; found with an SOA question (to `server` first) when absent. */
  zone?: string;
  tsig: TsigKey;
  /** Adds one TXT record (other values at the name stay). */
  add?: { name: string; value: string; ttl: number };
  /** Deletes the TXT record with this value, or with no `value` every TXT record at the name. */
  delete?: { name: string; value?: string };
  /** Default TCP: no size limit, no truncation, and a spoofed answer needs the connection. */
  transport?: 'tcp' | 'udp';
  /** Per exchange (default 3 s). */
  timeoutMs?: number;
  /** For finding the zone when `server` does not answer SOA questions (default: the system's resolvers). */
  resolver?: DnsResolver;
}

/**
 * Adds and/or deletes TXT records with one signed RFC 2136 UPDATE (a delete goes first, so both
 * together replace a value). Resolves with the zone it updated. Throws DNS_TSIG_FAILED
 * (BADKEY, BADSIG, BADTIME, or an answer that does not verify), DNS_UPDATE_FAILED (REFUSED,
 * NOTAUTH, …), DNS_TIMEOUT, DNS_NETWORK or DNS_LOOKUP_FAILED (zone not found).
 */
export async function rfc2136Update(opts: Rfc2136UpdateOptions): Promise<{ zone: string }> {
  const updates: TxtUpdate[] = [];
  if (opts.delete) {
    updates.push(
      opts.delete.value === undefined
        ? { op: 'deleteAll', name: opts.delete.name }
        : { op: 'delete', name: opts.delete.name, value: opts.delete.value },
    );
  }
  if (opts.add) updates.push({ op: 'add', ...opts.add });
  if (updates.length === 0) throw new CertkeepError('BAD_REQUEST', 'rfc2136Update needs something to add or delete');

  const zone = opts.zone ?? (await zoneOf(updates[0].name, opts));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const exchange = opts.transport === 'udp' ? exchangeUdp : exchangeTcp;
  await sendUpdate({
    exchange: (message) => exchange(opts.server, message, timeoutMs),
    server: opts.server,
    zone,
    tsig: opts.tsig,
    updates,
  });
  return { zone };
}

/** The zone of `name` as the primary itself sees it; the resolvers when the primary will not say. */
async function zoneOf(name: string, opts: Rfc2136UpdateOptions): Promise<string> {
  const resolver = opts.resolver ?? new NodeDnsResolver({ timeoutMs: opts.timeoutMs });
  try {
    return (await findZone(resolver, name, { server: opts.server, followCnames: false })).zone;
  } catch (err) {
    if (!(err instanceof CertkeepError) || !err.code.startsWith('DNS_')) throw err;
    return (await findZone(resolver, name, { followCnames: false })).zone;
  }
}

function timeout(server: string, transport: string, ms: number): CertkeepError {
  return new CertkeepError('DNS_TIMEOUT', `${server} did not answer over ${transport} within ${ms} ms`, { server });
}

function network(server: string, transport: string, err: Error): CertkeepError {
  return new CertkeepError('DNS_NETWORK', `cannot reach ${server} over ${transport}: ${err.message}`, { server }, { cause: err });
}
