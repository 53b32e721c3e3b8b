// RFC 8555 §7.2: anti-replay nonces. Every CA response may carry a fresh `Replay-Nonce`; keeping
// them saves a HEAD newNonce round trip on nearly every request. Nonces are single-use, so
// concurrent requests each take their own; an empty pool fetches one from newNonce.

/** RFC 8555 §6.5.1: a nonce is base64url, nothing else. */
const NONCE_SYNTAX = /^[A-Za-z0-9_-]+$/;

/** Enough for the requests of several orders in flight; older nonces are the likelier to be stale. */
const MAX_POOLED = 32;

export class NoncePool {
  #nonces: string[] = [];
  readonly #fetchNonce: () => Promise<string>;

  /** `fetchNonce` asks the CA's newNonce resource for one (HEAD, §7.2). */
  constructor(fetchNonce: () => Promise<string>) {
    this.#fetchNonce = fetchNonce;
  }

  /** The freshest pooled nonce, or a new one from the CA. */
  take(): Promise<string> {
    const nonce = this.#nonces.pop();
    return nonce !== undefined ? Promise.resolve(nonce) : this.#fetchNonce();
  }

  /** Keeps a nonce for a later request; ignores anything that is not one. */
  put(nonce: string | null | undefined): void {
    if (!nonce || !NONCE_SYNTAX.test(nonce)) return;
    this.#nonces.push(nonce);
    if (this.#nonces.length > MAX_POOLED) this.#nonces.shift();
  }

  get size(): number {
    return this.#nonces.length;
  }
}

/** A response's `Replay-Nonce` header when it is a well-formed nonce. */
export function replayNonce(headers: Headers): string | undefined {
  const nonce = headers.get('replay-nonce')?.trim();
  return nonce && NONCE_SYNTAX.test(nonce) ? nonce : undefined;
}
