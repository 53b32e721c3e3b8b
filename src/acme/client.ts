// AcmeClient: the ACME flows (RFC 8555 §7) over one account key. Each method is one protocol
// step the caller can persist between (the orders state machine resumes after a crash), and
// the steps of one order may run concurrently: nonces come from a shared pool.

import { toBase64Url } from '../util/encoding.ts';
import * as api from './api.ts';
import { certificateIdentifier, parseRenewalInfo, renewalInfoUrl, type RenewalInfo } from './ari.ts';
import { chainIssuer, findPreferredChain } from './chains.ts';
import { dns01TxtValue, keyAuthorization } from './challenges.ts';
import { AcmeOrderInvalidError, AcmeProblemError, AcmeTimeoutError, AcmeUnsupportedError } from './errors.ts';
import { accountKeyAlg, jwkSigner, kidSigner, signExternalAccountBinding, signKeyChange, type RequestSigner } from './jws.ts';
import { AcmeTransport, type AcmeResponse } from './transport.ts';
import type { Outbound } from '../net/outbound.ts';
import type {
  AcmeAccount,
  AcmeAuthorization,
  AcmeChallenge,
  AcmeDirectory,
  AcmeIdentifier,
  AcmeOrder,
  AcmeProblem,
  NewAccountPayload,
  NewOrderPayload,
} from './types.ts';

export interface AcmeClientOptions {
  directoryUrl: string;
  /** ES256, ES384 or RS256 key pair; the public key must be extractable, the private need not be. */
  accountKey: CryptoKeyPair;
  /** The account URL (`kid`) once known; looked up with onlyReturnExisting when missing. */
  accountUrl?: string;
  /** The outgoing-request path (src/net/outbound.ts) every request of this client takes. */
  outbound: Outbound;
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch; Retry-After dates and polling deadlines are measured with it. */
  now?: () => number;
  /** 429 / 503 retries of one request (default 5). */
  maxRetries?: number;
  /** badNonce retries of one request (default 25: they cost a round trip, no waiting). */
  maxBadNonceRetries?: number;
  /** Longest Retry-After slept through inside a call (default 60 s); longer ones throw with `retryAfterMs`. */
  maxRetryAfterMs?: number;
  userAgent?: string;
  /** Aborts one HTTP exchange after this long (default 30 s). */
  requestTimeoutMs?: number;
  /** Polling without Retry-After: first delay, doubled each time up to `max` (default 25 ms … 3 s). */
  pollDelayMs?: { initial: number; max: number };
  /** Polling deadline of waitForAuthorization / waitForOrder when the call names none (default 5 min). */
  pollTimeoutMs?: number;
}

export interface NewAccountRequest {
  contact?: string[];
  termsOfServiceAgreed?: boolean;
  onlyReturnExisting?: boolean;
  /** RFC 8555 §7.3.4: the CA-issued key id and base64url HMAC key. */
  externalAccountBinding?: { kid: string; hmacKey: string };
}

export interface NewOrderRequest {
  identifiers: AcmeIdentifier[];
  notBefore?: string;
  notAfter?: string;
  /** draft-ietf-acme-profiles: must be one the directory lists in `meta.profiles`. */
  profile?: string;
  /** RFC 9773 §5: certificate identifier of the certificate this order renews; sent only to CAs with ARI. */
  replaces?: string;
}

export interface DownloadedCertificate {
  /** Leaf then chain, as the CA sent it. */
  pem: string;
  /** URLs of the alternate chains the CA offered (Link rel="alternate", RFC 8555 §7.4.2). */
  alternates: string[];
  /** Issuer CN of the topmost certificate of the returned chain. */
  chainIssuer?: string;
}

const DEFAULTS = {
  maxRetries: 5,
  maxBadNonceRetries: 25,
  maxRetryAfterMs: 60_000,
  userAgent: 'certkeep-acme/0.1',
  requestTimeoutMs: 30_000,
  /** Directories, orders, chains: kilobytes. A megabyte is plenty and bounds what a CA can make us hold. */
  maxBodyBytes: 1024 * 1024,
  pollDelayMs: { initial: 25, max: 3_000 },
  pollTimeoutMs: 300_000,
};

export class AcmeClient {
  readonly #directoryUrl: string;
  readonly #transport: AcmeTransport;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => number;
  readonly #pollDelayMs: { initial: number; max: number };
  readonly #pollTimeoutMs: number;
  #accountKey: CryptoKeyPair;
  #accountUrl: string | undefined;
  #directory: Promise<AcmeDirectory> | undefined;
  #accountLookup: Promise<string> | undefined;

  constructor(opts: AcmeClientOptions) {
    accountKeyAlg(opts.accountKey.privateKey); // refuse an unusable key now, not at the first request
    this.#directoryUrl = opts.directoryUrl;
    this.#accountKey = opts.accountKey;
    this.#accountUrl = opts.accountUrl;
    this.#sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#now = opts.now ?? Date.now;
    this.#pollDelayMs = opts.pollDelayMs ?? DEFAULTS.pollDelayMs;
    this.#pollTimeoutMs = opts.pollTimeoutMs ?? DEFAULTS.pollTimeoutMs;
    this.#transport = new AcmeTransport(
      {
        outbound: opts.outbound,
        sleep: this.#sleep,
        now: this.#now,
        maxRetries: opts.maxRetries ?? DEFAULTS.maxRetries,
        maxBadNonceRetries: opts.maxBadNonceRetries ?? DEFAULTS.maxBadNonceRetries,
        maxRetryAfterMs: opts.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs,
        userAgent: opts.userAgent ?? DEFAULTS.userAgent,
        requestTimeoutMs: opts.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
        maxBodyBytes: DEFAULTS.maxBodyBytes,
      },
      async () => (await this.directory()).newNonce,
    );
  }

  /** The account URL (`kid`), once created or found. */
  get accountUrl(): string | undefined {
    return this.#accountUrl;
  }

  /** The key the client signs with now (the new one after keyRollover). */
  get accountKey(): CryptoKeyPair {
    return this.#accountKey;
  }

  /** RFC 8555 §7.1.1: the directory, fetched once per client (again only after a failure). */
  directory(): Promise<AcmeDirectory> {
    if (!this.#directory) {
      const pending = api.getDirectory(this.#transport, this.#directoryUrl);
      this.#directory = pending;
      pending.catch(() => {
        if (this.#directory === pending) this.#directory = undefined;
      });
    }
    return this.#directory;
  }

  /** RFC 8555 §7.3: create the account, or find it (`onlyReturnExisting`, §7.3.1). */
  async newAccount(req: NewAccountRequest): Promise<{ url: string; account: AcmeAccount; created: boolean }> {
    const dir = await this.directory();
    const payload: NewAccountPayload = {};
    if (req.contact) payload.contact = req.contact;
    if (req.termsOfServiceAgreed !== undefined) payload.termsOfServiceAgreed = req.termsOfServiceAgreed;
    if (req.onlyReturnExisting) payload.onlyReturnExisting = true;
    if (req.externalAccountBinding) {
      payload.externalAccountBinding = await signExternalAccountBinding({
        ...req.externalAccountBinding,
        url: dir.newAccount,
        accountPublicKey: this.#accountKey.publicKey,
      });
    }
    const result = await api.newAccount(this.#transport, dir.newAccount, payload, jwkSigner(this.#accountKey));
    this.#accountUrl = result.url;
    return result;
  }

  /** RFC 8555 §7.3.2: replace the contact list. */
  async updateAccount(req: { contact?: string[] }): Promise<AcmeAccount> {
    const [url, signer] = await this.#account();
    return api.postAccount(this.#transport, url, { contact: req.contact ?? [] }, signer);
  }

  /** RFC 8555 §7.3.6: deactivate the account for good. */
  async deactivateAccount(): Promise<AcmeAccount> {
    const [url, signer] = await this.#account();
    return api.postAccount(this.#transport, url, { status: 'deactivated' }, signer);
  }

  /**
   * RFC 8555 §7.3.5: replace the account key. The inner JWS (new key, `jwk`) goes inside the
   * outer one (old key, `kid`); once the CA accepts, this client signs with `newKey`.
   */
  async keyRollover(newKey: CryptoKeyPair): Promise<void> {
    const dir = await this.directory();
    const [accountUrl, signer] = await this.#account();
    const inner = await signKeyChange(newKey, { url: dir.keyChange, accountUrl, oldPublicKey: this.#accountKey.publicKey });
    await api.keyChange(this.#transport, dir.keyChange, inner, signer);
    this.#accountKey = newKey;
  }

  /** RFC 8555 §7.4: a new order. An unknown profile is refused before anything is sent. */
  async newOrder(req: NewOrderRequest): Promise<{ url: string; order: AcmeOrder }> {
    const dir = await this.directory();
    if (req.profile !== undefined) checkProfile(dir, req.profile);
    const payload: NewOrderPayload = { identifiers: req.identifiers };
    if (req.notBefore) payload.notBefore = req.notBefore;
    if (req.notAfter) payload.notAfter = req.notAfter;
    if (req.profile !== undefined) payload.profile = req.profile;
    // RFC 9773 §5: `replaces` means something only to a CA that offers renewalInfo.
    if (req.replaces && dir.renewalInfo) payload.replaces = req.replaces;
    const [, signer] = await this.#account();
    return api.newOrder(this.#transport, dir.newOrder, payload, signer);
  }

  /**
   * RFC 8555 §7.1.2.1: the URLs of the account's orders (pending ones at least; CAs may leave
   * out finished ones), following `next` links up to `maxPages`. Null when the CA offers no
   * orders list (Boulder does not).
   */
  async listOrders(opts: { maxPages?: number } = {}): Promise<string[] | null> {
    const [url, signer] = await this.#account();
    const account = await api.postAccount(this.#transport, url, undefined, signer);
    if (!account.orders) return null;
    const out: string[] = [];
    let page: string | undefined = account.orders;
    for (let i = 0; page && i < (opts.maxPages ?? 10); i++) {
      const { orders, next } = await api.getOrdersPage(this.#transport, page, signer);
      out.push(...orders);
      page = next;
    }
    return out;
  }

  async getOrder(url: string): Promise<AcmeOrder> {
    const [, signer] = await this.#account();
    return (await api.getOrder(this.#transport, url, signer)).body;
  }

  async getAuthorization(url: string): Promise<AcmeAuthorization> {
    const [, signer] = await this.#account();
    return (await api.getAuthorization(this.#transport, url, signer)).body;
  }

  /** RFC 8555 §7.5.1: the challenge is ready to be validated. */
  async respondToChallenge(url: string): Promise<AcmeChallenge> {
    const [, signer] = await this.#account();
    return api.respondToChallenge(this.#transport, url, signer);
  }

  /**
   * Polls an authorization until it leaves `pending`. Resolves when `valid`; otherwise throws
   * AcmeProblemError with the failed challenge's problem document (its identifier added).
   */
  async waitForAuthorization(url: string, opts: { timeoutMs?: number } = {}): Promise<AcmeAuthorization> {
    const [, signer] = await this.#account();
    const authz = await this.#poll(
      url,
      () => api.getAuthorization(this.#transport, url, signer),
      (a) => a.status !== 'pending',
      opts.timeoutMs,
    );
    if (authz.status === 'valid') return authz;
    throw new AcmeProblemError(authorizationProblem(authz), { url });
  }

  /** RFC 8555 §7.4: finalize with a CSR (DER). The answer is usually `processing`: poll the order. */
  async finalizeOrder(finalizeUrl: string, csrDer: Uint8Array): Promise<AcmeOrder> {
    const [, signer] = await this.#account();
    return (await api.finalizeOrder(this.#transport, finalizeUrl, csrDer, signer)).body;
  }

  /**
   * Polls an order until its status is one of `until` (`valid` also satisfies `ready`).
   * An `invalid` order throws AcmeOrderInvalidError with the order's and the challenges' problems.
   */
  async waitForOrder(url: string, until: Array<'ready' | 'valid'>, opts: { timeoutMs?: number } = {}): Promise<AcmeOrder> {
    const [, signer] = await this.#account();
    const order = await this.#poll(
      url,
      () => api.getOrder(this.#transport, url, signer),
      (o) => o.status === 'invalid' || o.status === 'valid' || (until as string[]).includes(o.status),
      opts.timeoutMs,
    );
    if (order.status !== 'invalid') return order;
    throw new AcmeOrderInvalidError(order, await this.#failedAuthorizations(order, signer), url);
  }

  /**
   * RFC 8555 §7.4.2: download the certificate. With `preferredChain`, the first chain (default
   * first, then alternates) whose topmost certificate's issuer CN equals it is returned; when
   * none does, the default chain is.
   */
  async downloadCertificate(url: string, opts: { preferredChain?: string } = {}): Promise<DownloadedCertificate> {
    const [, signer] = await this.#account();
    const main = await api.getCertificate(this.#transport, url, signer);
    let pem = main.pem;
    let issuer = chainIssuer(pem);
    if (opts.preferredChain !== undefined && issuer !== opts.preferredChain.trim() && main.alternates.length > 0) {
      const settled = await Promise.allSettled(
        main.alternates.map((alt) => api.getCertificate(this.#transport, alt, signer)),
      );
      // An alternate that cannot be fetched is not a reason to fail: the default chain still works.
      const chains = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.pem] : []));
      const index = findPreferredChain(chains, opts.preferredChain);
      if (index >= 0) {
        pem = chains[index];
        issuer = chainIssuer(pem);
      }
    }
    return { pem, alternates: main.alternates, ...(issuer !== undefined && { chainIssuer: issuer }) };
  }

  /**
   * RFC 8555 §7.6: revoke, signed by the account (`kid`) or, with `certificateKey`, by the
   * certificate's own key (`jwk`). `reason` is an RFC 5280 §5.3.1 CRLReason code.
   */
  async revokeCertificate(certDer: Uint8Array, opts: { reason?: number; certificateKey?: CryptoKeyPair } = {}): Promise<void> {
    const dir = await this.directory();
    const signer = opts.certificateKey ? jwkSigner(opts.certificateKey) : (await this.#account())[1];
    const payload = { certificate: toBase64Url(certDer), ...(opts.reason !== undefined && { reason: opts.reason }) };
    await api.revokeCert(this.#transport, dir.revokeCert, payload, signer);
  }

  /** RFC 9773 §4.2: the CA's suggested renewal window, or null when the CA has no renewalInfo. */
  async renewalInfo(certPem: string): Promise<RenewalInfo | null> {
    const dir = await this.directory();
    if (!dir.renewalInfo) return null;
    const url = renewalInfoUrl(dir.renewalInfo, certificateIdentifier(certPem));
    const res = await api.getRenewalInfo(this.#transport, url);
    return parseRenewalInfo(res.body, url, res.retryAfterMs);
  }

  /** RFC 8555 §8.1, for the current account key. */
  keyAuthorization(token: string): Promise<string> {
    return keyAuthorization(token, this.#accountKey);
  }

  /** RFC 8555 §8.4: the dns-01 TXT value for `token`. */
  async dns01Value(token: string): Promise<string> {
    return dns01TxtValue(await this.keyAuthorization(token));
  }

  /** The account URL and a `kid` signer; finds the account by its key when the URL is unknown. */
  async #account(): Promise<[string, RequestSigner]> {
    let url = this.#accountUrl;
    if (!url) {
      this.#accountLookup ??= this.newAccount({ onlyReturnExisting: true }).then(
        (r) => r.url,
        (err) => {
          this.#accountLookup = undefined;
          throw err;
        },
      );
      url = await this.#accountLookup;
    }
    return [url, kidSigner(this.#accountKey.privateKey, url)];
  }

  /**
   * Fetches until `done`, sleeping the CA's Retry-After when it sends one and otherwise a
   * doubling delay (fast at first: a CA like Pebble validates in milliseconds). Elapsed time is
   * the larger of the clock and the time slept, so an injected sleep still reaches the deadline.
   */
  async #poll<T extends { status: string }>(
    url: string,
    fetchOnce: () => Promise<AcmeResponse<T>>,
    done: (body: T) => boolean,
    timeoutMs = this.#pollTimeoutMs,
  ): Promise<T> {
    const start = this.#now();
    let slept = 0;
    let delay = this.#pollDelayMs.initial;
    for (;;) {
      const res = await fetchOnce();
      if (done(res.body)) return res.body;
      const remaining = timeoutMs - Math.max(this.#now() - start, slept);
      const wait = res.retryAfterMs ?? delay;
      // Polling before the CA's Retry-After would disobey it; past the deadline is a timeout.
      if (remaining <= 0 || (res.retryAfterMs !== undefined && wait > remaining)) {
        throw new AcmeTimeoutError(url, timeoutMs, res.body.status);
      }
      const sleepMs = Math.min(wait, remaining);
      await this.#sleep(sleepMs);
      slept += sleepMs;
      delay = Math.min(delay * 2, this.#pollDelayMs.max);
    }
  }

  /** The problems of an invalid order's failed authorizations, fetched concurrently. */
  async #failedAuthorizations(order: AcmeOrder, signer: RequestSigner): Promise<AcmeProblem[]> {
    const settled = await Promise.allSettled(
      order.authorizations.map((url) => api.getAuthorization(this.#transport, url, signer)),
    );
    return settled.flatMap((s) =>
      s.status === 'fulfilled' && s.value.body.status !== 'valid' && s.value.body.status !== 'pending'
        ? [authorizationProblem(s.value.body)]
        : [],
    );
  }
}

/** draft-ietf-acme-profiles §3/§4: only a profile the directory advertises may be asked for. */
function checkProfile(dir: AcmeDirectory, profile: string): void {
  const profiles = dir.meta?.profiles;
  if (!profiles) throw new AcmeUnsupportedError('the CA offers no certificate profiles', { profile });
  if (!Object.hasOwn(profiles, profile)) {
    throw new AcmeUnsupportedError(`the CA does not offer the profile "${profile}"`, {
      profile,
      available: Object.keys(profiles),
    });
  }
}

/**
 * Why an authorization is not valid: the failed challenge's problem document, with the
 * authorization's identifier added when the CA left it out. An authorization that ended without
 * a challenge error (expired, deactivated, revoked) gets an RFC 9457 `about:blank` problem.
 */
function authorizationProblem(authz: AcmeAuthorization): AcmeProblem {
  const failed = authz.challenges.find((c) => c.status === 'invalid' && c.error) ?? authz.challenges.find((c) => c.error);
  if (failed?.error) return { ...failed.error, identifier: failed.error.identifier ?? authz.identifier };
  return { type: 'about:blank', detail: `authorization for ${authz.identifier.value} is ${authz.status}`, identifier: authz.identifier };
}
