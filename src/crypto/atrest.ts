// Private keys at rest: AES-256-GCM (NIST SP 800-38D) under the master key. The row's identity
// (`key:<id>`, `account:<id>`) is the associated data, so a sealed value copied into another
// row fails to open instead of silently becoming that row's key.
//
// Sealed form: `v1.<base64url IV>.<base64url ciphertext‖tag>` — text, so it fits any column,
// and versioned, so the scheme can change without guessing what old values are.

import { CertkeepError } from '../errors.ts';
import { fromBase64, fromBase64Url, randomBytes, toBase64Url, utf8 } from '../util/encoding.ts';
import { bufferSource } from './bytes.ts';

const VERSION = 'v1';
const MASTER_KEY_BYTES = 32;
/** 96-bit IVs, random per seal: SP 800-38D §8.2.2 bounds this to 2^32 seals per key, far beyond ours. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A fresh random master key (32 bytes; store it base64). */
export function generateMasterKey(): Uint8Array {
  return randomBytes(MASTER_KEY_BYTES);
}

/** The master key as a non-extractable AES-GCM key, from 32 raw bytes or their base64. */
export async function importMasterKey(raw: Uint8Array | string): Promise<CryptoKey> {
  let bytes: Uint8Array;
  try {
    bytes = typeof raw === 'string' ? fromBase64(raw) : raw;
  } catch {
    throw new CertkeepError('BAD_REQUEST', 'the master key must be base64 of 32 random bytes; it is not valid base64');
  }
  if (bytes.length !== MASTER_KEY_BYTES) {
    throw new CertkeepError('BAD_REQUEST', `the master key must be base64 of 32 random bytes; it decodes to ${bytes.length} bytes`);
  }
  return crypto.subtle.importKey('raw', bufferSource(bytes), 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/**
 * Domain separation: the scheme and version are authenticated along with the caller's label,
 * so these ciphertexts can never be mistaken for any other use of the master key.
 */
function associatedData(aad: string): Uint8Array<ArrayBuffer> {
  return bufferSource(utf8(`certkeep-at-rest/${VERSION}\n${aad}`));
}

/** Encrypts `plaintext` for the row named by `aad`; each call uses a fresh IV. */
export async function sealSecret(masterKey: CryptoKey, plaintext: Uint8Array, aad: string): Promise<string> {
  const iv = randomBytes(IV_BYTES);
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: bufferSource(iv), additionalData: associatedData(aad), tagLength: TAG_BYTES * 8 },
    masterKey,
    bufferSource(plaintext),
  );
  return `${VERSION}.${toBase64Url(iv)}.${toBase64Url(sealed)}`;
}

/**
 * 32 bytes derived from the master key for another use, named by `label` (the audit log's chain
 * key): AES-GCM of 32 zero bytes under an all-zero IV, with the label as associated data. It is
 * deterministic on purpose (the same key every time), and distinct from every sealed value,
 * whose IVs are random and whose associated data starts with `certkeep-at-rest/`.
 */
export async function deriveFromMasterKey(masterKey: CryptoKey, label: string): Promise<Uint8Array<ArrayBuffer>> {
  const out = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: new Uint8Array(IV_BYTES), additionalData: bufferSource(utf8(`certkeep-derive/${VERSION}\n${label}`)), tagLength: TAG_BYTES * 8 },
    masterKey,
    new Uint8Array(32),
  );
  // The ciphertext is the keystream (the plaintext is zeros); the tag adds nothing to a key.
  return new Uint8Array(out).slice(0, 32);
}

/**
 * Decrypts a value from sealSecret. Any failure — another master key, another row's `aad`,
 * a changed byte, a malformed value — is the same DECRYPT_FAILED: telling them apart would
 * help nobody but someone probing.
 */
export async function openSecret(masterKey: CryptoKey, sealed: string, aad: string): Promise<Uint8Array> {
  const parts = sealed.split('.');
  try {
    if (parts.length !== 3 || parts[0] !== VERSION) throw new Error('unknown sealed format');
    const iv = fromBase64Url(parts[1]);
    const ciphertext = fromBase64Url(parts[2]);
    if (iv.length !== IV_BYTES || ciphertext.length < TAG_BYTES) throw new Error('truncated sealed value');
    const plaintext = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bufferSource(iv), additionalData: associatedData(aad), tagLength: TAG_BYTES * 8 },
      masterKey,
      bufferSource(ciphertext),
    );
    return new Uint8Array(plaintext);
  } catch (cause) {
    throw new CertkeepError('DECRYPT_FAILED', 'a stored secret could not be decrypted (wrong master key or damaged data)', undefined, { cause });
  }
}
