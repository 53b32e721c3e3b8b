// Random identifiers and bearer secrets. Secrets carry ≥128 random bits, are shown once, and
// only their SHA-256 is stored; a presented secret is hashed and looked up by its hash, then the
// hashes are compared in constant time.
import type { Deps } from '../deps.ts';
import { randomBytes, sha256, toBase64Url, toHex, fromHex, timingSafeEqual } from '../util/encoding.ts';

/** Row ids: 128 random bits, URL-safe. Known before the row is written (bound into sealing). */
export function newId(): string {
  return toBase64Url(randomBytes(16));
}

/**
 * Admin tokens and download API keys: 192 random bits, prefixed so they are recognisable in leaks
 * and to people: `ckt_` an admin token, `ckc_` a certificate's API key, `ckk_` a key's, `ckm_` the
 * metrics token (opens /metrics only). (`cka_` API keys, made before the two kinds had their own
 * prefixes, keep working; none are made now.)
 */
export type SecretPrefix = 'ckt' | 'ckc' | 'ckk' | 'ckm';
export function newSecret(prefix: SecretPrefix): string {
  return `${prefix}_${toBase64Url(randomBytes(24))}`;
}

export async function hashSecret(deps: Pick<Deps, 'sha256Hex'>, secret: string): Promise<string> {
  return deps.sha256Hex ? deps.sha256Hex(secret) : toHex(await sha256(secret));
}

export function hashesEqual(a: string, b: string): boolean {
  try {
    return timingSafeEqual(fromHex(a), fromHex(b));
  } catch {
    return false;
  }
}

/** Well-formed secrets only: rejects empty, short, long or foreign-looking values before hashing. */
export function looksLikeSecret(value: string | null | undefined): value is string {
  return typeof value === 'string' && /^ck[tackm]_[A-Za-z0-9_-]{32}$/.test(value);
}
