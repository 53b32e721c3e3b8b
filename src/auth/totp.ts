// Time-based one-time passwords for the admin's second factor: RFC 6238 TOTP on top of
// RFC 4226 HOTP, with the parameters every authenticator app assumes (HMAC-SHA-1, 6 digits,
// 30-second steps), and the RFC 4648 base32 that carries the shared secret in otpauth URIs.
// WebCrypto only, so the same code runs on workerd and Node.

import { CertkeepError } from '../errors.ts';
import { randomBytes, timingSafeEqual, utf8 } from '../util/encoding.ts';

/** RFC 6238 §4.1: X, the step size, in seconds. */
const STEP_SECONDS = 30;
/** Digits shown by authenticator apps (RFC 4226 §5.3 allows 6 to 8). */
const DIGITS = 6;
/** Steps accepted on either side of the current one, for clock drift and typing time (RFC 6238 §5.2). */
const DRIFT_STEPS = 1;
/** RFC 4226 §4 R6 asks for at least 128 bits and recommends 160, the size of an HMAC-SHA-1 output. */
const SECRET_BYTES = 20;

/** A new random shared secret, base32 without padding (what otpauth URIs and manual entry use). */
export function generateTotpSecret(): string {
  return toBase32(randomBytes(SECRET_BYTES));
}

/** The 6-digit code for the step that contains `timeMs` (milliseconds since the epoch). */
export async function totpCode(secretBase32: string, timeMs: number): Promise<string> {
  return hotp(fromBase32(secretBase32), stepAt(timeMs), DIGITS);
}

export type TotpVerification = { ok: true; step: number } | { ok: false };

/**
 * Checks a code typed by the user. Accepts the current step and one step either side, never a
 * step at or before `lastUsedStep` (RFC 6238 §5.2: a verifier must not accept the second
 * attempt of a code it already accepted). On success the caller stores the returned `step` as
 * the new `lastUsedStep`. Spaces are ignored ("123 456", as apps display it); anything that is
 * not then exactly 6 digits is refused.
 */
export async function verifyTotp(input: {
  secret: string;
  code: string;
  nowMs: number;
  lastUsedStep?: number | null;
}): Promise<TotpVerification> {
  const code = input.code.replace(/\s+/g, '');
  if (!/^[0-9]{6}$/.test(code)) return { ok: false };
  const key = fromBase32(input.secret);
  const typed = utf8(code);
  const now = stepAt(input.nowMs);
  const lastUsed = input.lastUsedStep ?? -1;

  // Every candidate is computed and compared, so the time taken does not tell which step matched.
  let accepted: number | null = null;
  for (let step = now - DRIFT_STEPS; step <= now + DRIFT_STEPS; step++) {
    if (step < 0) continue;
    const matches = timingSafeEqual(typed, utf8(await hotp(key, step, DIGITS)));
    if (matches && step > lastUsed && accepted === null) accepted = step;
  }
  return accepted === null ? { ok: false } : { ok: true, step: accepted };
}

/**
 * The Key Uri Format that authenticator apps scan:
 * `otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
 * Issuer and account are percent-encoded; neither may contain a colon, which separates them
 * in the label.
 */
export function otpauthUri(input: { secret: string; account: string; issuer: string }): string {
  for (const [field, value] of [['issuer', input.issuer], ['account', input.account]] as const) {
    if (value.length === 0 || value.includes(':')) {
      throw new CertkeepError('BAD_REQUEST', `otpauth ${field} must be non-empty and contain no colon`, { field });
    }
  }
  const secret = toBase32(fromBase32(input.secret)); // canonical: upper case, no padding or spaces
  const label = `${encodeURIComponent(input.issuer)}:${encodeURIComponent(input.account)}`;
  const query = [
    `secret=${secret}`,
    `issuer=${encodeURIComponent(input.issuer)}`,
    'algorithm=SHA1',
    `digits=${DIGITS}`,
    `period=${STEP_SECONDS}`,
  ].join('&');
  return `otpauth://totp/${label}?${query}`;
}

/** RFC 6238 §4.2: T = floor((now - T0) / X) with T0 = 0. */
function stepAt(timeMs: number): number {
  if (!Number.isFinite(timeMs) || timeMs < 0) throw new RangeError('time must be a non-negative number of milliseconds');
  return Math.floor(timeMs / 1000 / STEP_SECONDS);
}

/**
 * RFC 4226 §5.3: HOTP(K, C) = Truncate(HMAC-SHA-1(K, C)) mod 10^digits, with C the 8-byte
 * big-endian counter (for TOTP, the time step). `digits` is a parameter so the 8-digit test
 * vectors of RFC 6238 Appendix B can be checked as printed.
 */
export async function hotp(key: Uint8Array, counter: number, digits: number = DIGITS): Promise<string> {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError('HOTP counter must be a non-negative safe integer');
  if (!Number.isInteger(digits) || digits < 6 || digits > 8) throw new RangeError('HOTP digits must be 6, 7 or 8');
  const message = new Uint8Array(8);
  const view = new DataView(message.buffer);
  view.setUint32(0, Math.floor(counter / 2 ** 32));
  view.setUint32(4, counter >>> 0);
  const hmacKey = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', hmacKey, message));
  // Dynamic truncation (§5.3): the low nibble of the last byte picks 4 bytes; drop their top bit.
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = new DataView(mac.buffer).getUint32(offset) & 0x7fffffff;
  return (binary % 10 ** digits).toString().padStart(digits, '0');
}

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 §6 base32, upper case, without the `=` padding (authenticator apps omit it). */
export function toBase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * RFC 4648 §6 base32 as people and apps write it: any case, spaces or dashes between groups,
 * optional trailing padding. Throws TypeError on anything else, including a length no encoder
 * produces or non-zero bits after the last byte.
 */
export function fromBase32(text: string): Uint8Array<ArrayBuffer> {
  const clean = text.replace(/[\s-]+/g, '').toUpperCase().replace(/=+$/, '');
  // Lengths mod 8 that an encoding of whole bytes can end with: 0, 2, 4, 5, 7 characters.
  if (!/^[A-Z2-7]*$/.test(clean) || [1, 3, 6].includes(clean.length % 8)) throw new TypeError('invalid base32');
  const out = new Uint8Array(Math.floor((clean.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const char of clean) {
    buffer = ((buffer << 5) | BASE32_ALPHABET.indexOf(char)) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (buffer >>> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) throw new TypeError('invalid base32');
  return out;
}
