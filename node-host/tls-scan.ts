// The node host's TLS scans of tracked servers (src/domain/tracking): resolve the name (through
// CERTKEEP_DNS_SERVERS when set, else the system's resolver), check every address against the
// private-address policy (CERTKEEP_ALLOW_PRIVATE_TARGETS) and connect to an address that passed;
// for a mail server speak just enough SMTP, IMAP or POP3 to ask for STARTTLS, reading lines of a
// bounded length; then a TLS handshake with SNI (none for an IP address) that accepts whatever
// certificate is presented, and report the chain and whether it verifies against the system's
// roots, NODE_EXTRA_CA_CERTS and Certkeep's own CAs. Everything within one deadline.
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { IpList } from '../src/http/ip.ts';
import { literalAddress, refusedAddress } from '../src/net/targets.ts';
import { TlsScanError, type StartTls, type TlsScan, type TlsScanRequest, type TlsScanResult } from '../src/domain/tracking/scan-types.ts';
import { checkedLookup, type ResolveAll } from './outbound.ts';
import type { DnsResolver } from '../src/dns/index.ts';

/** Longest line a STARTTLS dialogue may send (SMTP allows 512; greetings and capability lists are short). */
const MAX_LINE = 2048;
/** Most bytes a STARTTLS dialogue may send before TLS starts. */
const MAX_DIALOGUE = 32 * 1024;
/** Connecting to one address may take at most this much of the deadline. */
const CONNECT_MS = 5_000;

export interface NodeTlsScanOptions {
  allow: IpList;
  /** The resolver names go through (default the system's, as dns.lookup). */
  resolve?: ResolveAll;
  /** PEM of NODE_EXTRA_CA_CERTS (read once at start); trusted like the system's roots. */
  extraCaPem?: string;
}

/** A ResolveAll over CERTKEEP_DNS_SERVERS (A and AAAA questions), for the checked lookup. */
export function resolverLookup(resolver: DnsResolver): ResolveAll {
  return (hostname, options, callback) => {
    const family = (options as { family?: number | string }).family;
    const types = family === 4 || family === 'IPv4' ? (['A'] as const) : family === 6 || family === 'IPv6' ? (['AAAA'] as const) : (['A', 'AAAA'] as const);
    Promise.all(types.map((type) => resolver.query(hostname, type).catch(() => null)))
      .then((answers) => {
        const addresses = answers.flatMap((a) =>
          a === null ? [] : a.answers.flatMap((r) => (r.type === 'A' || r.type === 'AAAA' ? [{ address: r.address, family: r.type === 'A' ? 4 : 6 }] : [])),
        );
        if (addresses.length === 0) {
          const err = Object.assign(new Error(`queryA ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
          return callback(err, []);
        }
        callback(null, addresses);
      })
      .catch((err) => callback(err as NodeJS.ErrnoException, []));
  };
}

/** NODE_EXTRA_CA_CERTS as Node itself reads it (a PEM file), or undefined. */
export function readExtraCaCerts(path = process.env.NODE_EXTRA_CA_CERTS): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function nodeTlsScan(opts: NodeTlsScanOptions): TlsScan {
  const lookup = checkedLookup(opts.allow, opts.resolve);
  // One secure context per set of trust anchors: building one reads ~150 roots.
  let cached: { key: string; context: tls.SecureContext } | undefined;
  const contextFor = (anchors: readonly string[]) => {
    const key = anchors.join('');
    if (cached?.key !== key) {
      const ca = [...tls.rootCertificates, ...(opts.extraCaPem ? [opts.extraCaPem] : []), ...anchors];
      // Partial chains: a chain that reaches one of Certkeep's CAs (often an intermediate) verifies.
      cached = { key, context: tls.createSecureContext({ ca, allowPartialTrustChain: true } as tls.SecureContextOptions) };
    }
    return cached.context;
  };
  return (request) => scan(request, lookup, opts.allow, contextFor(request.trustAnchors));
}

type Lookup = ReturnType<typeof checkedLookup>;

const where = (r: TlsScanRequest) => (r.host.includes(':') ? `[${r.host}]:${r.port}` : `${r.host}:${r.port}`);

async function scan(request: TlsScanRequest, lookup: Lookup, allow: IpList, context: tls.SecureContext): Promise<TlsScanResult> {
  const deadline = Date.now() + request.timeoutMs;
  const addresses = await addressesOf(request, lookup, allow);
  let lastError: TlsScanError | undefined;
  for (const address of addresses.slice(0, 3)) {
    let socket: net.Socket;
    try {
      socket = await connectTo(request, address, deadline);
    } catch (err) {
      lastError = err as TlsScanError;
      if (lastError.reason === 'timeout' && Date.now() >= deadline) break;
      continue;
    }
    try {
      if (request.starttls) await startTls(socket, request.starttls, deadline, request);
      return await handshake(socket, request, address, context, deadline);
    } finally {
      socket.destroy();
    }
  }
  throw lastError ?? new TlsScanError('unreachable', `${where(request)} cannot be reached`);
}

/** The addresses to try: a literal checked here, a name resolved and checked by the lookup. */
function addressesOf(request: TlsScanRequest, lookup: Lookup, allow: IpList): Promise<string[]> {
  const literal = literalAddress(request.host);
  if (literal !== undefined) {
    const refusal = refusedAddress(literal, allow);
    if (refusal) throw new TlsScanError('target-refused', `${literal} is a ${refusal.kind} address; tracking targets go there only when CERTKEEP_ALLOW_PRIVATE_TARGETS lists it`);
    return Promise.resolve([literal]);
  }
  return new Promise((resolve, reject) => {
    lookup(request.host, { all: true }, (err, addresses) => {
      if (!err) return resolve((addresses as Array<{ address: string }>).map((a) => a.address));
      if ((err as { code?: string }).code === 'CERTKEEP_TARGET_REFUSED') {
        return reject(new TlsScanError('target-refused', `${err.message}; tracking targets go there only when CERTKEEP_ALLOW_PRIVATE_TARGETS lists it`));
      }
      const code = (err as NodeJS.ErrnoException).code ?? '';
      reject(new TlsScanError('dns', code === 'EAI_AGAIN' ? `DNS could not resolve ${request.host} right now (${code})` : `the name ${request.host} was not found in DNS${code ? ` (${code})` : ''}`));
    });
  });
}

function connectTo(request: TlsScanRequest, address: string, deadline: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port: request.port });
    const ms = Math.max(1, Math.min(CONNECT_MS, deadline - Date.now()));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TlsScanError('timeout', `connecting to ${where(request)} (${address}) timed out after ${ms / 1000} s`));
    }, ms);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(socketError(err, request, address));
    });
  });
}

function socketError(err: NodeJS.ErrnoException, request: TlsScanRequest, address: string): TlsScanError {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return new TlsScanError('connection-refused', `nothing accepts connections at ${where(request)} (${address}: connection refused)`);
  if (code === 'ETIMEDOUT') return new TlsScanError('timeout', `connecting to ${where(request)} (${address}) timed out (${code})`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return new TlsScanError('unreachable', `${where(request)} (${address}) cannot be reached from here (${code})`);
  if (code === 'ECONNRESET' || code === 'EPIPE') return new TlsScanError('reset', `${where(request)} closed the connection (${code})`);
  return new TlsScanError('unreachable', `${where(request)} (${address}): ${err.message}`);
}

/**
 * Reads the server's lines until `done` says a reply is complete; at most MAX_LINE per line and
 * MAX_DIALOGUE in all, within the deadline.
 */
function lineReader(socket: net.Socket, request: TlsScanRequest, deadline: number) {
  let buffer = '';
  let total = 0;
  return (done: (line: string) => boolean): Promise<string[]> =>
    new Promise((resolve, reject) => {
      const lines: string[] = [];
      const ms = Math.max(1, deadline - Date.now());
      const finish = (err?: TlsScanError) => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
        if (err) reject(err);
        else resolve(lines);
      };
      const timer = setTimeout(() => finish(new TlsScanError('timeout', `${where(request)} did not answer the ${request.starttls!.toUpperCase()} dialogue within ${Math.round(ms / 100) / 10} s`)), ms);
      const take = (): boolean => {
        for (let at = buffer.indexOf('\n'); at >= 0; at = buffer.indexOf('\n')) {
          const line = buffer.slice(0, at).replace(/\r$/, '');
          buffer = buffer.slice(at + 1);
          lines.push(line);
          if (done(line)) return true;
        }
        if (buffer.length > MAX_LINE) {
          finish(new TlsScanError('starttls', `${where(request)} sent a line longer than ${MAX_LINE} bytes in the ${request.starttls!.toUpperCase()} dialogue`));
          return false;
        }
        return false;
      };
      const onData = (chunk: Buffer) => {
        total += chunk.length;
        if (total > MAX_DIALOGUE) return finish(new TlsScanError('starttls', `${where(request)} sent more than ${MAX_DIALOGUE / 1024} KiB before TLS`));
        buffer += chunk.toString('latin1');
        if (take()) finish();
      };
      const onError = (err: NodeJS.ErrnoException) => finish(socketError(err, request, socket.remoteAddress ?? ''));
      const onClose = () => finish(new TlsScanError('starttls', `${where(request)} closed the connection during the ${request.starttls!.toUpperCase()} dialogue`));
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
      if (take()) finish();
    });
}

/** SMTP (RFC 3207), IMAP (RFC 3501 §6.2.1) or POP3 (RFC 2595 §4): up to the server's "go ahead". */
async function startTls(socket: net.Socket, protocol: StartTls, deadline: number, request: TlsScanRequest): Promise<void> {
  const read = lineReader(socket, request, deadline);
  const refuse = (what: string, lines: string[]) => new TlsScanError('starttls', `${where(request)} ${what}: "${(lines.at(-1) ?? '').slice(0, 200)}"`);
  if (protocol === 'smtp') {
    // Replies are `NNN-text` lines ending with `NNN text`.
    const reply = () => read((line) => /^\d{3}(?: |$)/.test(line));
    const greeting = await reply();
    if (!greeting.at(-1)!.startsWith('220')) throw refuse('did not greet as an SMTP server', greeting);
    socket.write('EHLO certkeep.invalid\r\n');
    const ehlo = await reply();
    if (!ehlo.at(-1)!.startsWith('250')) throw refuse('refused EHLO', ehlo);
    if (!ehlo.some((l) => /^250[- ]STARTTLS\b/i.test(l))) throw new TlsScanError('starttls', `${where(request)} does not offer STARTTLS (not in its EHLO answer)`);
    socket.write('STARTTLS\r\n');
    const go = await reply();
    if (!go.at(-1)!.startsWith('220')) throw refuse('refused STARTTLS', go);
  } else if (protocol === 'imap') {
    const greeting = await read((line) => line.startsWith('* '));
    if (!/^\* (OK|PREAUTH)\b/i.test(greeting.at(-1)!)) throw refuse('did not greet as an IMAP server', greeting);
    socket.write('a001 STARTTLS\r\n');
    const go = await read((line) => line.startsWith('a001 '));
    if (!/^a001 OK\b/i.test(go.at(-1)!)) throw refuse('refused STARTTLS', go);
  } else {
    const greeting = await read(() => true);
    if (!greeting.at(-1)!.startsWith('+OK')) throw refuse('did not greet as a POP3 server', greeting);
    socket.write('STLS\r\n');
    const go = await read(() => true);
    if (!go.at(-1)!.startsWith('+OK')) throw refuse('refused STLS', go);
  }
}

function handshake(socket: net.Socket, request: TlsScanRequest, address: string, context: tls.SecureContext, deadline: number): Promise<TlsScanResult> {
  return new Promise((resolve, reject) => {
    const ms = Math.max(1, deadline - Date.now());
    const secure = tls.connect({
      socket,
      secureContext: context,
      // No SNI for an address (RFC 6066 §3: literal addresses are not permitted in it).
      servername: literalAddress(request.host) === undefined ? request.host : undefined,
      rejectUnauthorized: false,
      // The name is judged by the core (RFC 6125); here only the chain.
      checkServerIdentity: () => undefined,
    });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new TlsScanError('timeout', `the TLS handshake with ${where(request)} did not end within ${Math.round(ms / 100) / 10} s`));
    }, ms);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      const chain: Uint8Array[] = [];
      let cert = secure.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
      const seen = new Set<string>();
      while (cert && cert.raw && !seen.has(cert.fingerprint256) && chain.length < 10) {
        seen.add(cert.fingerprint256);
        chain.push(new Uint8Array(cert.raw));
        cert = cert.issuerCertificate;
      }
      const error = secure.authorizationError as unknown as Error | string | null;
      resolve({
        chain,
        trusted: secure.authorized,
        trustError: secure.authorized ? null : typeof error === 'string' ? error : ((error as { code?: string } | null)?.code ?? error?.message ?? 'not verified'),
        address,
        protocol: secure.getProtocol(),
      });
      secure.destroy();
    });
    secure.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      secure.destroy();
      const code = err.code ?? '';
      if (code === 'ECONNRESET' || code === 'EPIPE') return reject(new TlsScanError('reset', `${where(request)} closed the connection during the TLS handshake (${code}); is it a TLS port${request.starttls ? '' : ' (for a mail server in plain text, give starttls)'}?`));
      reject(new TlsScanError('tls', `the TLS handshake with ${where(request)} failed (${code || err.message})`));
    });
  });
}
