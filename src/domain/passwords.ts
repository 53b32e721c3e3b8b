// Password hashing with PBKDF2-HMAC-SHA256, one format on both hosts.
// Stored form: `pbkdf2-sha256$<iterations>$<b64url salt>$<b64url hash>`. The count travels with
// the hash, so hashes made at another count keep verifying. On Cloudflare, where WebCrypto
// refuses counts this high, pbkdf2Sha256 computes the same bytes in TypeScript.
import { pbkdf2Sha256 } from '../crypto/pbkdf2.ts';
import { fromBase64Url, randomBytes, timingSafeEqual, toBase64Url, utf8 } from '../util/encoding.ts';

export const PBKDF2_ITERATIONS = 600_000;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  return pbkdf2Sha256(utf8(password.normalize('NFKC')), salt, iterations, HASH_BYTES);
}

const format = (iterations: number, salt: Uint8Array, hash: Uint8Array) => `pbkdf2-sha256$${iterations}$${toBase64Url(salt)}$${toBase64Url(hash)}`;

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  return format(iterations, salt, await derive(password, salt, iterations));
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, iter, salt, hash] = stored.split('$');
  const iterations = Number(iter);
  if (scheme !== 'pbkdf2-sha256' || !Number.isSafeInteger(iterations) || iterations < 1 || !salt || !hash) return false;
  const actual = await derive(password, fromBase64Url(salt), iterations);
  return timingSafeEqual(actual, fromBase64Url(hash));
}

/**
 * A well-formed hash that no password matches (its hash bytes are random, not derived), for
 * sign-in to verify against when the email is unknown: the same work as a real account's hash,
 * and nothing to compute to make it.
 */
export function decoyPasswordHash(): string {
  return format(PBKDF2_ITERATIONS, randomBytes(SALT_BYTES), randomBytes(HASH_BYTES));
}
