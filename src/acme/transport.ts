// The HTTP layer of the ACME client: signed POSTs and POST-as-GET (RFC 8555 §6.2, §6.3),
// plain GET/HEAD for the unauthenticated resources, and the retries the protocol expects:
//   - badNonce (§6.5): sign again with the nonce from the error response's Replay-Nonce;
//   - 429 rateLimited (§6.6) and 503: wait for Retry-After (delta-seconds or HTTP-date), a
//     bounded number of times and never longer than a cap — a longer wait is the caller's to
//     schedule, so it surfaces as an error that carries `retryAfterMs`.
// Every error response becomes an AcmeProblemError with the problem document kept whole.

import { utf8 } from '../util/encoding.ts';
import { OutboundError, type Outbound, type OutboundResponse } from '../net/outbound.ts';
import { AcmeBadResponseError, AcmeNetworkError, AcmeProblemError, acmeErrorType } from './errors.ts';
import { parseLinks, retryAfterMs, type LinkRelation } from './headers.ts';
import type { RequestSigner } from './jws.ts';
import { NoncePool, replayNonce } from './nonce.ts';
import type { AcmeProblem } from './types.ts';

export interface TransportOptions {
  /** Every request goes through it: https only, no redirects, the private-address policy. */
  outbound: Outbound;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  /** Retries of one request after 429 or 503 (each one waits). */
  maxRetries: number;
  /**
   * Retries of one request after badNonce. They cost one round trip and no waiting (the error
   * carries the next nonce), so the budget is larger: a CA that rejects most nonces — Pebble's
   * PEBBLE_WFE_NONCEREJECT — must not fail an order.
   */
  maxBadNonceRetries: number;
  /** The longest Retry-After honoured by sleeping inside a call. */
  maxRetryAfterMs: number;
  userAgent: string;
  /** Aborts one HTTP exchange that takes longer than this. */
  requestTimeoutMs: number;
  /** A body longer than this is not read (no ACME resource comes near it). */
  maxBodyBytes: number;
}

export interface AcmeResponse<T> {
  url: string;
  status: number;
  headers: Headers;
  body: T;
  /** Absolute `Location` (RFC 8555 §7.3, §7.4: the URL of a created resource). */
  location?: string;
  links: LinkRelation[];
  /** Retry-After of a successful response (polling hints, RFC 8555 §7.4; ARI, RFC 9773 §4.3). */
  retryAfterMs?: number;
}

/** How to read a successful body: JSON (resources), text (PEM chains), or not at all (HEAD). */
export type BodyKind = 'json' | 'text' | 'none';

const JOSE_JSON = 'application/jose+json';
const BAD_NONCE = acmeErrorType('badNonce');

/** Backoff for a 429/503 that names no Retry-After: 1 s, 2 s, 4 s, … */
const FALLBACK_BACKOFF_MS = 1000;

export class AcmeTransport {
  readonly nonces: NoncePool;
  readonly #opts: TransportOptions;

  /** `newNonceUrl` resolves the directory's newNonce; it is asked only when the pool is empty. */
  constructor(opts: TransportOptions, newNonceUrl: () => Promise<string>) {
    this.#opts = opts;
    this.nonces = new NoncePool(async () => this.newNonce(await newNonceUrl()));
  }

  /** RFC 8555 §7.2: HEAD newNonce; the nonce is returned, not pooled. */
  async newNonce(url: string): Promise<string> {
    const res = await this.#exchange(url, () => ({ method: 'HEAD' }), 'none', { poolNonce: false });
    const nonce = replayNonce(res.headers);
    if (!nonce) throw new AcmeBadResponseError('newNonce answered without a Replay-Nonce', { url, status: res.status });
    return nonce;
  }

  /** Unauthenticated GET (directory §7.1.1, renewalInfo RFC 9773 §4.2). */
  get<T>(url: string, bodyKind: BodyKind = 'json'): Promise<AcmeResponse<T>> {
    return this.#exchange(url, () => ({ method: 'GET', headers: { accept: 'application/json' } }), bodyKind, {
      poolNonce: true,
    }) as Promise<AcmeResponse<T>>;
  }

  /**
   * Signed POST of `payload` (JSON), or POST-as-GET when `payload` is undefined (RFC 8555 §6.3).
   * The JWS is made again for every attempt, each with its own nonce.
   */
  async post<T>(
    url: string,
    payload: unknown,
    signer: RequestSigner,
    opts: { bodyKind?: BodyKind; accept?: string } = {},
  ): Promise<AcmeResponse<T>> {
    const bytes = payload === undefined ? new Uint8Array(0) : utf8(JSON.stringify(payload));
    let nonce: string | undefined;
    const request = async (retryNonce: string | undefined): Promise<RequestInit> => {
      nonce = retryNonce ?? (await this.nonces.take());
      const jws = await signer.sign(url, nonce, bytes);
      const headers: Record<string, string> = { 'content-type': JOSE_JSON };
      if (opts.accept) headers.accept = opts.accept;
      return { method: 'POST', headers, body: JSON.stringify(jws) };
    };
    return this.#exchange(url, request, opts.bodyKind ?? 'json', { poolNonce: true, signed: true }) as Promise<
      AcmeResponse<T>
    >;
  }

  /**
   * One request with its retries. `makeRequest` gets the nonce from a badNonce error response
   * when it is retried for that reason (signed requests only), else undefined.
   */
  async #exchange(
    url: string,
    makeRequest: (retryNonce: string | undefined) => RequestInit | Promise<RequestInit>,
    bodyKind: BodyKind,
    mode: { poolNonce: boolean; signed?: boolean },
  ): Promise<AcmeResponse<unknown>> {
    const { maxRetries, maxBadNonceRetries, maxRetryAfterMs } = this.#opts;
    let retryNonce: string | undefined;
    let badNonces = 0;
    for (let attempt = 0; ; attempt++) {
      const init = await makeRequest(retryNonce);
      retryNonce = undefined;
      const res = await this.#send(url, init);
      const nonce = replayNonce(res.headers);
      const wait = retryAfterMs(res.headers.get('retry-after'), this.#opts.now());

      if (res.ok) {
        if (mode.poolNonce) this.nonces.put(nonce);
        return {
          url,
          status: res.status,
          headers: res.headers,
          body: this.#readBody(res, url, bodyKind),
          location: location(res, url),
          links: parseLinks(res.headers.get('link'), url),
          retryAfterMs: wait,
        };
      }

      const problem = this.#readProblem(res);

      if (mode.signed && problem.type === BAD_NONCE && badNonces < maxBadNonceRetries) {
        // §6.5: the error carries a fresh nonce; using exactly it avoids another round trip.
        badNonces++;
        attempt--;
        retryNonce = nonce;
        continue;
      }
      const retriesLeft = attempt < maxRetries;
      if (mode.poolNonce) this.nonces.put(nonce);

      if (res.status === 429 || res.status === 503) {
        const delay = wait ?? FALLBACK_BACKOFF_MS * 2 ** attempt;
        if (retriesLeft && delay <= maxRetryAfterMs) {
          await this.#opts.sleep(delay);
          continue;
        }
      }
      throw new AcmeProblemError(problem, { status: res.status, url, retryAfterMs: wait });
    }
  }

  /**
   * One HTTP exchange through the outbound path: https only, no redirect followed (an ACME server
   * has no reason to send one), a deadline and a byte cap. A URL the private-address policy
   * refuses keeps its own error (TARGET_REFUSED: retrying will not help); every other failure
   * becomes ACME_NETWORK, in words.
   */
  async #send(url: string, init: RequestInit): Promise<OutboundResponse> {
    const headers = new Headers(init.headers);
    headers.set('user-agent', this.#opts.userAgent);
    try {
      return await this.#opts.outbound.request(url, {
        method: init.method,
        headers,
        body: init.body as string | undefined,
        timeoutMs: this.#opts.requestTimeoutMs,
        maxBytes: this.#opts.maxBodyBytes,
      });
    } catch (cause) {
      if (cause instanceof OutboundError && cause.code === 'TARGET_REFUSED') throw cause;
      throw new AcmeNetworkError(url, cause);
    }
  }

  #readBody(res: OutboundResponse, url: string, kind: BodyKind): unknown {
    if (kind === 'none') return undefined;
    const text = res.text();
    if (kind === 'text') return text;
    try {
      return JSON.parse(text);
    } catch {
      throw new AcmeBadResponseError(`${url} answered ${res.status} with a body that is not JSON`, {
        url,
        status: res.status,
      });
    }
  }

  /**
   * The problem document of an error response (RFC 8555 §6.7). A body that is not one (a proxy's
   * HTML page, an empty 503) becomes an RFC 9457 `about:blank` problem: "no more than the status".
   */
  #readProblem(res: OutboundResponse): AcmeProblem {
    const text = res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const doc = parsed as Record<string, unknown>;
      return {
        ...doc,
        type: typeof doc.type === 'string' && doc.type ? doc.type : 'about:blank',
        status: typeof doc.status === 'number' ? doc.status : res.status,
      } as AcmeProblem;
    }
    return { type: 'about:blank', status: res.status, title: res.statusText || `HTTP ${res.status}` };
  }
}

function location(res: OutboundResponse, url: string): string | undefined {
  const value = res.headers.get('location');
  if (!value) return undefined;
  try {
    return new URL(value, url).href;
  } catch {
    return undefined;
  }
}
