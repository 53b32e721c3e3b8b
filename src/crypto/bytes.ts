// WebCrypto's TypeScript types (TS 5.7+) take only ArrayBuffer-backed views, while a plain
// `Uint8Array` may in principle sit on a SharedArrayBuffer. This is the one crossing point.

/** `bytes` as an ArrayBuffer-backed view: the same view when it already is one, else a copy. */
export function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}
