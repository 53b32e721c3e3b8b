// The one way out: every outgoing HTTP request of the core (ACME, DNS provider APIs, DoH, CRL and
// OCSP, later webhooks, chat channels and tracking) goes through `Outbound.request`, which
//   - refuses a URL whose scheme the caller did not accept (https only, unless it says otherwise)
//     and a target the private-address policy refuses (targets.ts), at every hop;
//   - follows no redirect unless the caller names how many it accepts, each hop checked again;
//   - bounds the whole exchange, body included, by a deadline;
//   - reads the body chunk by chunk and cancels it at the caller's byte cap, so a 200 MB answer
//     costs no more memory than the cap;
//   - turns a failure into an OutboundError that says what happened in words (an untrusted TLS
//     certificate, a refused connection, a name not in DNS, a deadline), never "fetch failed".
// The host supplies the transport: on the node host a fetch whose connections go only to
// addresses it resolved and checked; on the Worker the runtime's fetch (names cannot be resolved
// there, so literal addresses and loopback names are what the core can check).
import { CertkeepError } from '../errors.ts';
import type { IpList } from '../http/ip.ts';
import { fromUtf8 } from '../util/encoding.ts';
import { readCapped } from '../util/read-capped.ts';
import { isAllowedPrivateHost, refusedHost, type TargetRefusal } from './targets.ts';

/** Which schemes a caller accepts: https only (the default), http too but only to an allowed private address, or both anywhere. */
export type Schemes = 'https' | 'https+private-http' | 'http+https';

export interface OutboundOptions {
  method?: string;
  headers?: HeadersInit;
  body?: string | Uint8Array<ArrayBuffer>;
  /** The whole exchange, every hop and the body included, must end within this. */
  timeoutMs: number;
  /** The body is not read past this many bytes; a longer one fails with reason 'too-large'. */
  maxBytes: number;
  schemes?: Schemes;
  /** Redirects followed for GET and HEAD (default 0: a 3xx fails with reason 'redirect'). */
  maxRedirects?: number;
  /** Strings never to repeat in an error (tokens, passwords). */
  secrets?: readonly string[];
}

export interface OutboundResponse {
  /** The URL that answered (after the redirects followed). */
  url: string;
  status: number;
  statusText: string;
  ok: boolean;
  headers: Headers;
  /** The body, at most `maxBytes`. */
  body: Uint8Array;
  text(): string;
}

/** Why an outgoing request failed; `reason` is stable, the message is for people. */
export type OutboundFailure =
  | 'target-refused'
  | 'scheme-refused'
  | 'tls-untrusted'
  | 'tls-expired'
  | 'tls-hostname'
  | 'tls'
  | 'connection-refused'
  | 'unreachable'
  | 'dns'
  | 'timeout'
  | 'reset'
  | 'too-large'
  | 'redirect'
  | 'network';

/**
 * An outgoing request failed: TARGET_REFUSED when the policy refused the URL (scheme or address),
 * OUTBOUND_FAILED otherwise. `words` is the reason without the URL, to go after a caller's own
 * subject ("The directory at … could not be read: <words>").
 */
export class OutboundError extends CertkeepError {
  readonly reason: OutboundFailure;
  readonly url: string;
  readonly words: string;

  constructor(reason: OutboundFailure, url: string, words: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    const refused = reason === 'target-refused' || reason === 'scheme-refused';
    super(refused ? 'TARGET_REFUSED' : 'OUTBOUND_FAILED', `request to ${url} failed: ${words}`, { url, reason, ...options?.details }, { cause: options?.cause });
    this.name = 'OutboundError';
    this.reason = reason;
    this.url = url;
    this.words = words;
  }
}

/**
 * The error a host's transport throws (or puts in a fetch error's `cause`) when a name resolved to
 * an address the policy refuses: the core reports it as reason 'target-refused'.
 */
export class RefusedTargetError extends Error {
  readonly code = 'CERTKEEP_TARGET_REFUSED';
  constructor(
    readonly hostname: string,
    readonly refusal: TargetRefusal,
  ) {
    super(`${hostname} resolves to ${refusal.address}, a ${refusal.kind} address`);
    this.name = 'RefusedTargetError';
  }
}

export interface OutboundConfig {
  /** The host's transport (see the file comment). */
  fetch: typeof fetch;
  /** CERTKEEP_ALLOW_PRIVATE_TARGETS (the Worker's ALLOW_PRIVATE_TARGETS). */
  allowPrivateTargets: IpList;
  /** 'node' or 'worker': which setting and which trust store to name in messages. */
  runtime: 'node' | 'worker';
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** How much of a remote body an error may quote. */
const EXCERPT_CHARS = 200;

export class Outbound {
  readonly #config: OutboundConfig;

  constructor(config: OutboundConfig) {
    this.#config = config;
  }

  /** The setting that allows private targets on this host, for messages. */
  get setting(): string {
    return this.#config.runtime === 'worker' ? 'ALLOW_PRIVATE_TARGETS' : 'CERTKEEP_ALLOW_PRIVATE_TARGETS';
  }

  /**
   * Checks a URL an admin typed before anything is stored: a BAD_REQUEST naming `field` when its
   * scheme or its host is refused. (A name that resolves to a refused address is caught when the
   * request is made, on the host that resolves it.)
   */
  checkUrl(url: string | URL, field: string, schemes: Schemes = 'https'): URL {
    try {
      return this.#check(String(url), schemes);
    } catch (err) {
      if (err instanceof OutboundError) throw new CertkeepError('BAD_REQUEST', `${field}: ${err.words}`, { field });
      throw err;
    }
  }

  async request(url: string | URL, opts: OutboundOptions): Promise<OutboundResponse> {
    const signal = AbortSignal.timeout(opts.timeoutMs);
    const schemes = opts.schemes ?? 'https';
    const method = (opts.method ?? 'GET').toUpperCase();
    let current = this.#check(String(url), schemes);
    let headers = new Headers(opts.headers);
    for (let hops = 0; ; hops++) {
      let response: Response;
      try {
        response = await this.#config.fetch(current.href, { method, headers, body: opts.body, redirect: 'manual', signal });
      } catch (err) {
        throw this.#failure(err, current.href, opts, signal);
      }
      const location = response.headers.get('location');
      if (REDIRECTS.has(response.status) && location !== null) {
        await response.body?.cancel().catch(() => {});
        const next = safeUrl(location, current);
        const followable = (method === 'GET' || method === 'HEAD') && hops < (opts.maxRedirects ?? 0);
        if (!followable || !next) {
          const to = next ? shortUrl(next) : excerpt(location, opts.secrets ?? []);
          throw new OutboundError('redirect', current.href, `it redirects (HTTP ${response.status}) to ${to}; redirects are not followed here: use the final URL`);
        }
        // Each hop is a new target: the scheme and the address are checked again.
        const checked = this.#check(next.href, schemes);
        if (checked.origin !== current.origin) {
          headers = new Headers(headers);
          headers.delete('authorization');
          headers.delete('cookie');
        }
        current = checked;
        continue;
      }
      let body: Uint8Array;
      try {
        body = await readBody(response, opts.maxBytes, current.href);
      } catch (err) {
        throw err instanceof OutboundError ? err : this.#failure(err, current.href, opts, signal);
      }
      return {
        url: current.href,
        status: response.status,
        statusText: response.statusText,
        ok: response.ok,
        headers: response.headers,
        body,
        text: () => fromUtf8(body),
      };
    }
  }

  /** The URL, if its scheme is accepted and its host is not refused; else TARGET_REFUSED. */
  #check(text: string, schemes: Schemes): URL {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new OutboundError('scheme-refused', text, 'not an absolute URL');
    }
    const allow = this.#config.allowPrivateTargets;
    if (url.username || url.password) throw new OutboundError('scheme-refused', shortUrl(url), 'a URL must not carry a user name or password');
    if (url.protocol === 'http:') {
      if (schemes === 'https') throw new OutboundError('scheme-refused', url.href, 'only https URLs are accepted here');
      if (schemes === 'https+private-http' && !isAllowedPrivateHost(url.hostname, allow)) {
        throw new OutboundError('scheme-refused', url.href, `plain http goes only to an address ${this.setting} lists, and ${url.hostname} is not one; use https`);
      }
    } else if (url.protocol !== 'https:') {
      throw new OutboundError('scheme-refused', url.href, `${url.protocol.replace(/:$/, '')} URLs are not accepted here; use https`);
    }
    const refused = refusedHost(url.hostname, allow);
    if (refused) throw new OutboundError('target-refused', url.href, this.#refusedWords(refused));
    return url;
  }

  #refusedWords(r: TargetRefusal, hostname?: string): string {
    const address = r.carries ? `${r.address} (that is ${r.carries})` : r.address;
    const a = /^(?:[aeio]|u(?!ni))/i.test(r.kind) ? 'an' : 'a';
    const what = hostname && hostname !== r.address ? `${hostname} resolves to ${address}, ${a} ${r.kind} address` : `${address} is ${a} ${r.kind} address`;
    return `${what}; outgoing requests go there only when ${this.setting} lists it`;
  }

  /** A fetch failure in words (the cause's code, not "fetch failed"). */
  #failure(err: unknown, url: string, opts: OutboundOptions, signal: AbortSignal): OutboundError {
    const secrets = opts.secrets ?? [];
    const refused = findInCauses(err, (e): e is RefusedTargetError => (e as { code?: unknown }).code === 'CERTKEEP_TARGET_REFUSED');
    if (refused) return new OutboundError('target-refused', url, this.#refusedWords(refused.refusal, refused.hostname), { cause: err });
    if (signal.aborted || isNamed(err, 'TimeoutError')) {
      return new OutboundError('timeout', url, `no complete answer within ${seconds(opts.timeoutMs)}`, { cause: err });
    }
    const code = codeIn(err);
    const host = hostOf(url);
    const [reason, words] = describeCode(code, host, this.#config.runtime) ?? describeMessage(err, host, this.#config.runtime);
    return new OutboundError(reason, url, redact(words, secrets), { cause: err, ...(code ? { details: { errorCode: code } } : {}) });
  }
}

// ---- reading ----------------------------------------------------------------------------------

/** The body, chunk by chunk, cancelled as soon as it grows past `maxBytes`. */
function readBody(response: Response, maxBytes: number, url: string): Promise<Uint8Array> {
  const tooLarge = () => new OutboundError('too-large', url, `the answer is larger than ${bytes(maxBytes)}; it was not read further`);
  return readCapped(response.body, maxBytes, tooLarge, response.headers.get('content-length'));
}

// ---- errors in words --------------------------------------------------------------------------

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'ENODATA', 'ESERVFAIL']);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ERR_STREAM_PREMATURE_CLOSE']);

function untrustedWords(host: string, code: string, runtime: 'node' | 'worker'): string {
  const hint =
    runtime === 'worker'
      ? 'a Worker trusts only publicly trusted certificates'
      : 'if a private CA issued it, start Certkeep with NODE_EXTRA_CA_CERTS=/path/to/ca.pem';
  return `the TLS certificate of ${host} is not trusted (${code}); ${hint}`;
}

function describeCode(code: string | undefined, host: string, runtime: 'node' | 'worker'): [OutboundFailure, string] | undefined {
  if (!code) return undefined;
  if (UNTRUSTED.has(code)) return ['tls-untrusted', untrustedWords(host, code, runtime)];
  if (code === 'CERT_HAS_EXPIRED') return ['tls-expired', `the TLS certificate of ${host} has expired (${code})`];
  if (EXPIRED.has(code)) return ['tls-expired', `the TLS certificate of ${host} is not valid yet (${code})`];
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    return ['tls-hostname', `the TLS certificate of ${host} is not issued for that name (${code})`];
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO') return ['tls', `the TLS handshake with ${host} failed (${code})`];
  if (code === 'ECONNREFUSED') return ['connection-refused', `nothing accepts connections at ${host} (connection refused, ${code})`];
  if (DNS.has(code)) {
    return ['dns', code === 'EAI_AGAIN' ? `DNS could not resolve ${hostname(host)} right now (${code})` : `the name ${hostname(host)} was not found in DNS (${code})`];
  }
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return ['timeout', `connecting to ${host} timed out (${code})`];
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return ['unreachable', `${host} cannot be reached from here (${code})`];
  if (RESET.has(code)) return ['reset', `the connection to ${host} broke off before the answer was complete (${code})`];
  return undefined;
}

/** Without a code (workerd says it in words): the message, classified as well as it can be. */
function describeMessage(err: unknown, host: string, runtime: 'node' | 'worker'): [OutboundFailure, string] {
  const messages = causes(err)
    .map((e) => (e instanceof Error ? e.message : String(e)))
    .filter((m) => m && m !== 'fetch failed');
  const message = messages[0] ?? (err instanceof Error ? err.message : String(err));
  if (runtime === 'worker' && /^internal error/i.test(message)) {
    // workerd gives no reason for a failed TLS handshake, only an error reference.
    return ['network', `the Workers runtime refused the connection to ${host} without saying why; the usual cause is a TLS certificate that is not publicly trusted, as a Worker trusts no other (${message})`];
  }
  if (/certificate|TLS|SSL/i.test(message)) return ['tls', `the TLS handshake with ${host} failed (${message})`];
  if (/refused/i.test(message)) return ['connection-refused', `nothing accepts connections at ${host} (${message})`];
  return ['network', `${message} (${host})`];
}

/** The error and its causes, outermost first (AggregateError members included). */
function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  const walk = (e: unknown, depth: number) => {
    if (e === undefined || e === null || depth > 5 || out.includes(e)) return;
    out.push(e);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const inner of errors) walk(inner, depth + 1);
    walk((e as { cause?: unknown }).cause, depth + 1);
  };
  walk(err, 0);
  return out;
}

function findInCauses<T>(err: unknown, test: (e: unknown) => e is T): T | undefined {
  return causes(err).find((e): e is T => typeof e === 'object' && e !== null && test(e));
}

/** The first system or TLS code along the causes (`ECONNREFUSED`, `SELF_SIGNED_CERT_IN_CHAIN`, …). */
function codeIn(err: unknown): string | undefined {
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR' && /^[A-Z0-9_]+$/.test(code)) return code;
  }
  return undefined;
}

function isNamed(err: unknown, name: string): boolean {
  return causes(err).some((e) => (e as { name?: unknown }).name === name);
}

// ---- small helpers ----------------------------------------------------------------------------

function safeUrl(location: string, base: URL): URL | undefined {
  try {
    return new URL(location, base);
  } catch {
    return undefined;
  }
}

/** A URL for messages: origin and path, without the query (which may carry a token). */
function shortUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function hostname(host: string): string {
  return host.replace(/:\d+$/, '');
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function bytes(n: number): string {
  return n >= 1024 * 1024 && n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}

/** Replaces every occurrence of each secret (the longest first, so one inside another is still cut). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join('[redacted]');
  }
  return out;
}

/** One line of at most a few hundred printable characters of a remote body, secrets replaced. */
export function excerpt(text: string, secrets: readonly string[], max = EXCERPT_CHARS): string {
  // eslint-disable-next-line no-control-regex
  const line = redact(text, secrets).replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
