// What the core asks of DNS, and the checks every transport makes on an answer.
//
// Two hosts, two transports: the node host speaks UDP/TCP to any server (node-host/dns.ts); the
// Worker has only fetch, so it asks a DNS-over-HTTPS resolver (doh.ts), which cannot be told to
// ask one particular server.

import { CertkeepError } from '../errors.ts';
import { decodeMessage, type DnsResponse, type RecordType } from './message.ts';
import { sameName } from './names.ts';

export interface DnsResolver {
  /**
   * Asks `type` records of `name`. With `server` (`host:port`, IPv6 as `[addr]:port`) the question
   * goes to that server; without it, to the resolver's own servers. Resolves with the answer
   * whatever its rcode (NXDOMAIN is an answer); rejects with DNS_NETWORK, DNS_TIMEOUT or
   * DNS_BAD_RESPONSE when there is no usable answer.
   */
  query(name: string, type: RecordType, server?: string): Promise<DnsResponse>;
  /**
   * False when `server` cannot be honoured: a DNS-over-HTTPS resolver only ever asks its own
   * upstream. Absent means true.
   */
  readonly canTargetServers?: boolean;
}

/** A DNS message ID: 16 random bits, so that off-path spoofing has to guess (RFC 5452 §4.3). */
export function randomId(): number {
  return crypto.getRandomValues(new Uint16Array(1))[0];
}

/**
 * Decodes `bytes` and checks that it answers our question: a response (QR set) with our ID and
 * the same question (names compared without case: a server may echo 0x20-mixed case).
 * Throws DNS_BAD_RESPONSE otherwise.
 */
export function decodeAnswer(bytes: Uint8Array, asked: { id: number; name: string; type: RecordType }, from: string): DnsResponse {
  const response = decodeMessage(bytes);
  const question = response.questions[0];
  const matches =
    response.flags.qr &&
    response.id === asked.id &&
    response.questions.length === 1 &&
    question.type === asked.type &&
    sameName(question.name, asked.name);
  if (!matches) {
    throw new CertkeepError('DNS_BAD_RESPONSE', `${from} answered a different question than ${asked.name} ${asked.type}`, {
      server: from,
    });
  }
  return response;
}

/** `host:port` → its parts; a bare host gets `defaultPort`. IPv6 literals are written `[addr]:port` or bare. */
export function parseServer(text: string, defaultPort = 53): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const hostPort = /^([^:[\]]+):(\d+)$/.exec(text);
  let host = text;
  let port = defaultPort;
  if (bracketed) {
    host = bracketed[1];
    port = bracketed[2] === undefined ? defaultPort : Number(bracketed[2]);
  } else if (hostPort) {
    host = hostPort[1];
    port = Number(hostPort[2]);
  }
  if (host === '' || /[\s[\]]/.test(host) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CertkeepError('BAD_REQUEST', `"${text}" is not a DNS server address (host, host:port or [ipv6]:port)`);
  }
  return { host, port };
}

/** The inverse of `parseServer`: `1.2.3.4:53`, `[2001:db8::1]:53`. */
export function formatServer(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
