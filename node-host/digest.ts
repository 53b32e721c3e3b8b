// SHA-256 the node host's way: node:crypto, synchronous (deps.sha256Hex: API keys and tokens,
// the download cache's look-up of a presented API key among them). WebCrypto's digest, which
// the Worker uses, is an asynchronous job that costs the main thread about 70 µs a call, many
// times the hashing of a key itself.
import * as nodeCrypto from 'node:crypto';

// crypto.hash (Node 20.12+, one call) is about twice as fast as createHash for short inputs.
const oneShot = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** SHA-256 of a string (UTF-8), as lower-case hex. */
export function sha256Hex(text: string): string {
  return oneShot ? oneShot('sha256', text, 'hex') : nodeCrypto.createHash('sha256').update(text).digest('hex');
}
