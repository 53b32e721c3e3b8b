// Password hashing with PBKDF2-HMAC-SHA256, one format on both hosts.
// Stored form: `pbkdf2-sha256$<iterations>$<b64url salt>$<b64url hash>`. The count travels with
// the hash, so hashes made at another count keep verifying. On Cloudflare, where WebCrypto
// refuses counts this high, pbkdf2Sha256 computes the same bytes in TypeScript.
//
// A second, foreign form exists only until its user's first sign-in: `aspnet-identity$<base64>`,
// an ASP.NET Core Identity hash brought over by `certkeep import certera` as Certera stored it.
// Sign-in verifies it and then replaces it with our own (needsRehash).
import { pbkdf2Sha256 } from '../crypto/pbkdf2.ts';
import { bufferSource } from '../crypto/bytes.ts';
import { fromBase64, fromBase64Url, randomBytes, timingSafeEqual, toBase64Url, utf8 } from '../util/encoding.ts';

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
  if (stored.startsWith(ASPNET_PREFIX)) return verifyAspNetIdentity(password, stored.slice(ASPNET_PREFIX.length));
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

/** Whether a stored hash is not in our own form: sign-in then stores a new one (hashPassword). */
export function needsRehash(stored: string): boolean {
  return !stored.startsWith('pbkdf2-sha256$');
}

// ---- ASP.NET Core Identity (Certera's hashes) ---------------------------------------------------

const ASPNET_PREFIX = 'aspnet-identity$';

/**
 * The two layouts of ASP.NET Core Identity's PasswordHasher, decoded from its base64:
 * - v2 (marker 0x00): PBKDF2-HMAC-SHA1, 1000 iterations, 16-byte salt, 32-byte subkey — 49 bytes;
 * - v3 (marker 0x01): then three unsigned 32-bit big-endian numbers — the PRF (0 HMAC-SHA1,
 *   1 HMAC-SHA256, 2 HMAC-SHA512), the iteration count and the salt length — then the salt,
 *   then the subkey (the rest). Certera (ASP.NET Core 3.1 and 5) wrote v3 with HMAC-SHA256,
 *   10 000 iterations, a 16-byte salt and a 32-byte subkey.
 */
interface AspNetHash {
  hash: 'SHA-1' | 'SHA-256' | 'SHA-512';
  iterations: number;
  salt: Uint8Array;
  subkey: Uint8Array;
}

const ASPNET_PRFS = ['SHA-1', 'SHA-256', 'SHA-512'] as const;
/** Far above what any ASP.NET version wrote (100 000 since .NET 7); a bound on the work a stored value can ask for. */
const ASPNET_MAX_ITERATIONS = 1_000_000;

function parseAspNetHash(base64: string): AspNetHash | null {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(base64);
  } catch {
    return null;
  }
  if (bytes.length === 49 && bytes[0] === 0x00) {
    return { hash: 'SHA-1', iterations: 1000, salt: bytes.slice(1, 17), subkey: bytes.slice(17) };
  }
  if (bytes.length < 13 || bytes[0] !== 0x01) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const prf = view.getUint32(1);
  const iterations = view.getUint32(5);
  const saltLength = view.getUint32(9);
  // ASP.NET itself refuses salts and subkeys under 128 bits.
  if (prf >= ASPNET_PRFS.length || iterations < 1 || iterations > ASPNET_MAX_ITERATIONS || saltLength < 16) return null;
  const salt = bytes.slice(13, 13 + saltLength);
  const subkey = bytes.slice(13 + saltLength);
  if (salt.length !== saltLength || subkey.length < 16) return null;
  return { hash: ASPNET_PRFS[prf], iterations, salt, subkey };
}

/**
 * The stored form of an ASP.NET Core Identity hash (`AspNetUsers.PasswordHash`), or null when it
 * is not one of the layouts above: the importer stores nothing it could not verify later.
 */
export function aspNetIdentityHash(base64: string): string | null {
  const clean = base64.trim();
  return parseAspNetHash(clean) ? ASPNET_PREFIX + clean : null;
}

/**
 * Verifies against an ASP.NET hash. Such a hash costs a fraction of ours (10 000 iterations), so
 * one derivation at the production count is added: an imported account answers a wrong password
 * in the time every other account does. The password is taken as typed (UTF-8, not normalised),
 * as ASP.NET did.
 */
async function verifyAspNetIdentity(password: string, base64: string): Promise<boolean> {
  const parsed = parseAspNetHash(base64);
  const [actual] = await Promise.all([
    parsed ? aspNetDerive(password, parsed) : Promise.resolve(null),
    derive(password, randomBytes(SALT_BYTES), PBKDF2_ITERATIONS),
  ]);
  return parsed !== null && actual !== null && timingSafeEqual(actual, parsed.subkey);
}

async function aspNetDerive(password: string, { hash, iterations, salt, subkey }: AspNetHash): Promise<Uint8Array> {
  if (hash === 'SHA-256') return pbkdf2Sha256(utf8(password), salt, iterations, subkey.length);
  const key = await crypto.subtle.importKey('raw', utf8(password), 'PBKDF2', false, ['deriveBits']);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash, salt: bufferSource(salt), iterations }, key, subkey.length * 8));
}
