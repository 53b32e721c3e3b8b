// What an admin types to track a server: `[https://]host[:port]` (Certera's form), a DNS name or
// an IP address (IPv6 in brackets: `[2001:db8::1]:8443`), and optionally `starttls` for a mail
// server that starts in plain text. Every refusal is a 400 naming `url`, `port` (inside url) or
// `starttls`.
//
// Ports when none is given: 443; with STARTTLS the protocol's own port — SMTP 25 (where mail
// servers receive mail; give :587 for submission), IMAP 143, POP3 110. Implicit-TLS mail ports
// (465, 993, 995) are tracked without `starttls`: `mail.example.com:993`.
import ipaddr from 'ipaddr.js';
import { CertkeepError } from '../../errors.ts';
import type { StartTls } from './scan-types.ts';

export const STARTTLS_PROTOCOLS: readonly StartTls[] = ['smtp', 'imap', 'pop3'];

/** The port a target uses when none is given. */
export const DEFAULT_PORTS: Record<'tls' | StartTls, number> = { tls: 443, smtp: 25, imap: 143, pop3: 110 };

export const STARTTLS_LABELS: Record<StartTls, string> = { smtp: 'SMTP', imap: 'IMAP', pop3: 'POP3' };

export interface TrackingTarget {
  /** Lower-case DNS name (A-labels) or an IP address without brackets. */
  host: string;
  port: number;
  starttls: StartTls | null;
  /** `host:port`, `[2001:db8::1]:8443`: as shown. */
  target: string;
  /** Unique per target: `smtp mail.example.com:25`. */
  key: string;
  /** The host without its first label (null for an address): where a wildcard name meets it. */
  hostParent: string | null;
  /** Whether the host is an IP address (no SNI is sent). */
  isAddress: boolean;
}

function bad(field: string, detail: string): CertkeepError {
  return new CertkeepError('BAD_REQUEST', `${field}: ${detail}`, { field });
}

export function isStartTls(value: unknown): value is StartTls {
  return typeof value === 'string' && (STARTTLS_PROTOCOLS as readonly string[]).includes(value);
}

/** `host:port` with brackets around an IPv6 address. */
export function formatTarget(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Reads `[https://]host[:port]` (a trailing `/` is allowed, nothing else after the port) and the
 * optional STARTTLS protocol. Throws a 400 naming the field at fault.
 */
export function parseTrackingTarget(input: unknown, starttlsInput?: unknown, field = 'url'): TrackingTarget {
  if (typeof input !== 'string' || input.trim() === '') throw bad(field, 'required: [https://]host[:port]');
  if (input.length > 300) throw bad(field, 'longer than 300 characters');
  let starttls: StartTls | null = null;
  if (starttlsInput !== undefined && starttlsInput !== null && starttlsInput !== '') {
    if (!isStartTls(starttlsInput)) throw bad('starttls', `expected one of ${STARTTLS_PROTOCOLS.join(', ')}`);
    starttls = starttlsInput;
  }
  let rest = input.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (scheme) {
    if (scheme[1].toLowerCase() !== 'https') {
      throw bad(field, `only https:// (or no scheme) is taken: ${scheme[1]}:// is not a TLS server address${starttls ? '' : '; for a mail server give host:port and starttls'}`);
    }
    rest = rest.slice(scheme[0].length);
  }
  rest = rest.replace(/\/$/, '');
  if (/[/?#@\s]/.test(rest)) throw bad(field, 'expected host[:port] only: no path, query, user name or spaces');
  const parts = /^(\[[^\]]*\]|[^:[\]]+)(?::(\d*))?$/.exec(rest);
  if (!parts) {
    if (ipaddr.IPv6.isValid(rest)) throw bad(field, `write an IPv6 address in brackets: [${rest}]:443`);
    throw bad(field, `"${input.trim()}" is not host[:port]`);
  }
  const [, hostText, portText] = parts;
  let port = DEFAULT_PORTS[starttls ?? 'tls'];
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw bad(field, `port out of range: "${portText}" (1 to 65535)`);
    port = Number(portText);
  }
  const host = normalizeHost(hostText, field);
  const isAddress = hostText.startsWith('[') || ipaddr.IPv4.isValidFourPartDecimal(host);
  const target = formatTarget(host, port);
  const dot = host.indexOf('.');
  return { host, port, starttls, target, key: `${starttls ?? 'tls'} ${target}`, hostParent: isAddress || dot < 0 ? null : host.slice(dot + 1), isAddress };
}

function normalizeHost(text: string, field: string): string {
  if (text.startsWith('[')) {
    const inner = text.slice(1, -1);
    if (!ipaddr.IPv6.isValid(inner) || inner.includes('%')) throw bad(field, `"${inner}" is not an IPv6 address`);
    return ipaddr.IPv6.parse(inner).toString();
  }
  if (text.includes('*')) throw bad(field, 'a wildcard is not a server: give one host name');
  // The URL parser turns IDNs into A-labels and 0x7f.1-style numbers into dotted quads.
  let hostname: string;
  try {
    hostname = new URL(`https://${text}/`).hostname;
  } catch {
    throw bad(field, `"${text}" is not a host name or an IP address`);
  }
  if (ipaddr.IPv4.isValidFourPartDecimal(hostname)) return hostname;
  const name = hostname.replace(/\.$/, '');
  if (name.length > 253 || !name.split('.').every((label) => DNS_LABEL.test(label))) throw bad(field, `"${text}" is not a host name or an IP address`);
  return name;
}
