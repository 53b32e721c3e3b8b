// PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) that gives the same bytes on every host.
//
// WebCrypto does the work where it can. Cloudflare's production Workers refuse PBKDF2 above
// 100 000 iterations (a NotSupportedError, "Pbkdf2 failed: iteration counts above 100000 are not
// supported (requested 600000)."), while local workerd and Node accept any count. Rather than
// weaken the hash, or give each host its own format, a refused call is redone here in plain
// TypeScript. The refusal is remembered, so later calls at that count skip the doomed attempt.
//
// The fallback is written for speed, since it runs 600 000 iterations inside a request: SHA-256's
// compression function on Int32 words, the HMAC key's inner and outer pad blocks compressed once,
// and then every iteration is exactly two compressions over preallocated words, with nothing
// allocated in the loop.
import { bufferSource } from './bytes.ts';

/**
 * PBKDF2-HMAC-SHA256 of `password` and `salt`, `bytes` long. `iterations` and `bytes` must be
 * positive integers (RangeError otherwise, on every host alike).
 */
export async function pbkdf2Sha256(password: Uint8Array, salt: Uint8Array, iterations: number, bytes: number): Promise<Uint8Array> {
  checkParameters(iterations, bytes);
  if (refusedFrom !== undefined && iterations >= refusedFrom) return pbkdf2Sha256Portable(password, salt, iterations, bytes);
  try {
    return await webCryptoPbkdf2(password, salt, iterations, bytes);
  } catch (error) {
    if (!isIterationRefusal(error)) throw error;
    refusedFrom = Math.min(refusedFrom ?? Infinity, iterations);
    return pbkdf2Sha256Portable(password, salt, iterations, bytes);
  }
}

/** The lowest iteration count this runtime's WebCrypto has refused, once one has been. */
let refusedFrom: number | undefined;

async function webCryptoPbkdf2(password: Uint8Array, salt: Uint8Array, iterations: number, bytes: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', bufferSource(password), 'PBKDF2', false, ['deriveBits']);
  const params = { name: 'PBKDF2', hash: 'SHA-256', salt: bufferSource(salt), iterations };
  return new Uint8Array(await crypto.subtle.deriveBits(params, key, bytes * 8));
}

/**
 * Whether deriveBits said "not that many iterations". WebCrypto's word for a parameter the
 * implementation does not support is NotSupportedError, and the only unusual parameter we pass is
 * the count; the message test covers a runtime that words it under another name. Anything else
 * (OperationError, TypeError, …) is a real failure and is not hidden by recomputing.
 */
function isIterationRefusal(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, message } = error as { name?: unknown; message?: unknown };
  return name === 'NotSupportedError' || (typeof message === 'string' && /iteration counts? above/i.test(message));
}

function checkParameters(iterations: number, bytes: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError(`PBKDF2 iterations must be a positive integer, not ${iterations}`);
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new RangeError(`PBKDF2 output length must be a positive integer, not ${bytes}`);
}

// ---- The portable fallback ---------------------------------------------------------------------

/** PBKDF2-HMAC-SHA256 in plain TypeScript: what runs when WebCrypto refuses the count. */
export function pbkdf2Sha256Portable(password: Uint8Array, salt: Uint8Array, iterations: number, bytes: number): Uint8Array {
  checkParameters(iterations, bytes);
  const { inner, outer } = hmacPadStates(password);
  // One schedule buffer for the whole derivation. Words 0..7 carry the 32-byte message, and words
  // 8..15 the padding of a 96-byte message (pad block + digest), identical in every iteration
  // of both the inner and the outer hash; compress() only ever writes words 16..63 and 0..7.
  const w = new Int32Array(64);
  w[8] = 0x80000000;
  w[15] = (BLOCK_BYTES + DIGEST_BYTES) * 8;
  const u = new Int32Array(8);
  const t = new Int32Array(8);
  const out = new Uint8Array(bytes);
  const blockIndex = new Uint8Array(4);

  for (let block = 1, offset = 0; offset < bytes; block++, offset += DIGEST_BYTES) {
    // U1 = HMAC(P, S || INT(block)): the only message of arbitrary length.
    blockIndex[0] = block >>> 24;
    blockIndex[1] = block >>> 16;
    blockIndex[2] = block >>> 8;
    blockIndex[3] = block;
    finishHash(inner, BLOCK_BYTES, [salt, blockIndex], u);
    w.set(u);
    compress(outer, w, u);
    t.set(u);
    // U2 … Uc: HMAC of the previous 32 bytes, each exactly two compressions.
    for (let i = 1; i < iterations; i++) {
      w.set(u);
      compress(inner, w, w); // the inner digest lands straight in the outer hash's message words
      compress(outer, w, u);
      for (let j = 0; j < 8; j++) t[j] ^= u[j];
    }
    writeWords(t, out, offset);
  }
  return out;
}

const BLOCK_BYTES = 64;
const DIGEST_BYTES = 32;

/** FIPS 180-4 §5.3.3. */
const INITIAL_STATE = Int32Array.of(
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
);

/** FIPS 180-4 §4.2.2. */
const K = Int32Array.of(
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
);

/**
 * One SHA-256 compression (FIPS 180-4 §6.2.2): `out` = `state` after absorbing the block in
 * w[0..15]. Expands the schedule into w[16..63]; `out` may be `w` itself (its first 8 words are
 * written only after the last round), but not `state`.
 */
function compress(state: Int32Array, w: Int32Array, out: Int32Array): void {
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i++) {
    let wi: number;
    if (i < 16) wi = w[i];
    else {
      const x = w[i - 15];
      const y = w[i - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      wi = w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + (g ^ (e & (f ^ g))) + K[i] + wi) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) | (c & (a | b)))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  out[0] = (state[0] + a) | 0;
  out[1] = (state[1] + b) | 0;
  out[2] = (state[2] + c) | 0;
  out[3] = (state[3] + d) | 0;
  out[4] = (state[4] + e) | 0;
  out[5] = (state[5] + f) | 0;
  out[6] = (state[6] + g) | 0;
  out[7] = (state[7] + h) | 0;
}

/**
 * Finishes a SHA-256 whose state has already absorbed `absorbed` bytes (a multiple of 64): feeds
 * `parts` in order, pads (FIPS 180-4 §5.1.1) and leaves the digest words in `out`.
 */
function finishHash(state: Int32Array, absorbed: number, parts: Uint8Array[], out: Int32Array): void {
  const length = parts.reduce((n, p) => n + p.length, 0);
  // Message, 0x80, zeros, then the 64-bit big-endian bit length, to a whole number of blocks.
  const tail = new Uint8Array(Math.ceil((length + 9) / BLOCK_BYTES) * BLOCK_BYTES);
  let at = 0;
  for (const part of parts) {
    tail.set(part, at);
    at += part.length;
  }
  tail[length] = 0x80;
  const bits = (absorbed + length) * 8;
  const view = new DataView(tail.buffer);
  view.setUint32(tail.length - 8, Math.floor(bits / 0x1_0000_0000));
  view.setUint32(tail.length - 4, bits >>> 0);

  const w = new Int32Array(64);
  const next = new Int32Array(8); // compress() may not write over the state it reads
  out.set(state);
  for (let offset = 0; offset < tail.length; offset += BLOCK_BYTES) {
    for (let i = 0; i < 16; i++) w[i] = view.getInt32(offset + i * 4);
    compress(out, w, next);
    out.set(next);
  }
}

/**
 * HMAC's two fixed prefixes (RFC 2104 §2): the SHA-256 states after (K xor ipad) and
 * (K xor opad), where K is the password, hashed first when longer than a block.
 */
function hmacPadStates(password: Uint8Array): { inner: Int32Array; outer: Int32Array } {
  let key = password;
  if (key.length > BLOCK_BYTES) {
    const digest = new Int32Array(8);
    finishHash(INITIAL_STATE, 0, [key], digest);
    key = new Uint8Array(DIGEST_BYTES);
    writeWords(digest, key, 0);
  }
  const padded = new Uint8Array(BLOCK_BYTES);
  padded.set(key);
  const padState = (pad: number) => {
    const w = new Int32Array(64);
    for (let i = 0; i < 16; i++) {
      const j = i * 4;
      w[i] = ((padded[j] ^ pad) << 24) | ((padded[j + 1] ^ pad) << 16) | ((padded[j + 2] ^ pad) << 8) | (padded[j + 3] ^ pad);
    }
    const state = new Int32Array(8);
    compress(INITIAL_STATE, w, state);
    return state;
  };
  return { inner: padState(0x36), outer: padState(0x5c) };
}

/** Big-endian bytes of `words` into `out` from `offset`, cut off at the end of `out`. */
function writeWords(words: Int32Array, out: Uint8Array, offset: number): void {
  for (let i = 0; i < words.length && offset < out.length; i++) {
    const word = words[i];
    for (let shift = 24; shift >= 0 && offset < out.length; shift -= 8) out[offset++] = word >>> shift;
  }
}
