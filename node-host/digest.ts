// Digests the node host's way: node:crypto, synchronous. WebCrypto's digest is asynchronous, and
// each call goes through a job queue that costs the main thread more than hashing a key or a
// certificate does (about 70 µs against a few µs here). The core hashes through
// src/util/encoding.ts's digest(), which uses this once the host has registered it
// (node-host/core.ts); the Worker keeps WebCrypto's.
import * as nodeCrypto from 'node:crypto';
import type { DigestAlgorithm } from '../src/util/encoding.ts';

type OneShot = (algorithm: string, data: string | Uint8Array, encoding: 'hex' | 'buffer') => string | Buffer;
// crypto.hash (Node 20.12+, one call) is about twice as fast as createHash for short inputs.
const oneShot = (nodeCrypto as { hash?: OneShot }).hash;

const NODE_NAMES: Record<DigestAlgorithm, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

export function nodeDigest(algorithm: DigestAlgorithm, data: Uint8Array): Uint8Array<ArrayBuffer> {
  const name = NODE_NAMES[algorithm];
  const out = oneShot ? (oneShot(name, data, 'buffer') as Buffer) : nodeCrypto.createHash(name).update(data).digest();
  // Bytes of its own: a Buffer may be a view into a shared pool.
  return new Uint8Array(out);
}

/** SHA-256 of a string (UTF-8), as hex. */
export function sha256Hex(text: string): string {
  return oneShot ? (oneShot('sha256', text, 'hex') as string) : nodeCrypto.createHash('sha256').update(text).digest('hex');
}
