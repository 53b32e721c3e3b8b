// Reading a body with a byte cap: chunk by chunk, cancelled as soon as it grows past the cap, so
// that a large or endless body is never read (nor held) past it. Every body Certkeep reads —
// a CA's or a receiver's answer, a JSON request, a download form, an agent's report — goes
// through here.
import { concatBytes } from './encoding.ts';

/**
 * The stream's bytes, at most `maxBytes`; `tooLarge()` is thrown (after cancelling the stream)
 * when it has more. A `declared` length (Content-Length) past the cap is refused before reading.
 */
export async function readCapped(
  stream: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  tooLarge: () => Error,
  declared?: string | null,
): Promise<Uint8Array> {
  if (!stream) return new Uint8Array(0);
  if (declared && Number(declared) > maxBytes) {
    await stream.cancel().catch(() => {});
    throw tooLarge();
  }
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0] : concatBytes(...chunks);
}
