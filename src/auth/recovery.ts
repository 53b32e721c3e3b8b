// One-time recovery codes: what an admin types instead of a TOTP code after losing the phone.
// Shown once when generated; the caller stores only their hashes and deletes a hash when its
// code is used, which is what makes each code single-use.
//
// A code is ten characters of Crockford's base32 alphabet (digits and lower-case letters
// without i, l, o and u), shown as two groups of five: `7hq2x-m0c9k`, 50 random bits. Typing
// is forgiving the same way Crockford's decoding is: any case, dashes and spaces anywhere,
// and o/i/l read as 0/1/1.

import { randomBytes, sha256, toHex } from '../util/encoding.ts';

/** 32 symbols, so one random byte masked to 5 bits picks a symbol without bias. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const GROUP = 5;
const GROUPS = 2;

/** `n` distinct new codes, `xxxxx-xxxxx`, each carrying 50 random bits. */
export function generateRecoveryCodes(n: number = 10): string[] {
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new RangeError('recovery code count must be 1..100');
  const codes = new Set<string>();
  while (codes.size < n) codes.add(generateOne());
  return [...codes];
}

/**
 * The canonical form that is hashed: lower case, no separators, look-alikes mapped to the
 * symbols they stand for. Input that is not a code normalises to something no code hashes to.
 */
export function normalizeRecoveryCode(input: string): string {
  return input
    .toLowerCase()
    .replace(/[\s\-‐‑‒–—_.]+/g, '') // separators, including the dashes word processors substitute
    .replace(/o/g, '0')
    .replace(/[il]/g, '1');
}

/** Hex SHA-256 of the normalised code: the value stored and looked up. */
export async function hashRecoveryCode(code: string): Promise<string> {
  return toHex(await sha256(normalizeRecoveryCode(code)));
}

function generateOne(): string {
  const bytes = randomBytes(GROUP * GROUPS);
  const symbols = Array.from(bytes, (b) => ALPHABET[b & 31]).join('');
  const groups: string[] = [];
  for (let i = 0; i < symbols.length; i += GROUP) groups.push(symbols.slice(i, i + GROUP));
  return groups.join('-');
}
