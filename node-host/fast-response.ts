// FastResponse: a Response for string and byte bodies that skips the ReadableStream undici
// would build at once, and useFastResponses(), which makes the node host's app build them.
// The adapter (http-adapter.ts) writes such bodies straight to the socket.

/** undici's Response, whatever useFastResponses() later puts in globalThis. */
export const NativeResponse = globalThis.Response;

const plainBody = Symbol('plainBody');
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A Response that keeps a string or byte body as it was given, instead of turning it into a
 * ReadableStream at once. undici's constructor spends most of its time (about 8 µs, half the
 * throughput of a download) on that stream, which the adapter never reads for such bodies. It
 * is a real Response (super(null, init) validates status, statusText and headers); reading the
 * body in any way (.body, .text(), …) hands the work to a native Response made on first use.
 * Other kinds of body (streams, Blob, FormData, …) are passed to undici untouched.
 */
export class FastResponse extends NativeResponse {
  declare [plainBody]: string | Uint8Array<ArrayBuffer> | undefined;
  private declare reader: Response | undefined;

  /** instanceof keeps answering for every Response, including fetch()'s native ones. */
  static [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof NativeResponse;
  }

  static override json(data: unknown, init: ResponseInit = {}): Response {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError('Value is not JSON serializable');
    const headers = new Headers(init.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new FastResponse(text, { status: init.status, statusText: init.statusText, headers });
  }

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    const plain = asPlainBody(body);
    if (plain === undefined) {
      super(body, init);
      return;
    }
    super(null, init);
    if (NULL_BODY_STATUSES.has(this.status)) throw new TypeError(`Response constructor: Invalid response status code ${this.status}`);
    // What the Fetch standard's body extraction would add (only strings have a type here).
    if (typeof plain === 'string' && !this.headers.has('content-type')) this.headers.set('content-type', 'text/plain;charset=UTF-8');
    this[plainBody] = plain;
  }

  override get body(): Response['body'] {
    return this[plainBody] === undefined ? super.body : this.nativeBody().body;
  }

  override get bodyUsed(): boolean {
    return this[plainBody] === undefined ? super.bodyUsed : (this.reader?.bodyUsed ?? false);
  }

  override clone(): Response {
    const plain = this[plainBody];
    if (plain === undefined) return super.clone();
    if (this.reader && (this.reader.bodyUsed || this.reader.body?.locked)) throw new TypeError('Response.clone: Body has already been consumed.');
    const copy = new FastResponse(plain, { status: this.status, statusText: this.statusText, headers: this.headers });
    if (!this.headers.has('content-type')) copy.headers.delete('content-type');
    return copy;
  }

  /** The same body in a native Response, with the headers as they are now (for blob().type, formData()). */
  private nativeBody(): Response {
    this.reader ??= new NativeResponse(this[plainBody], { headers: this.headers });
    return this.reader;
  }
}

// text(), json(), arrayBuffer(), blob(), bytes(), formData(): native code on the native body.
for (const name of ['arrayBuffer', 'blob', 'bytes', 'formData', 'json', 'text']) {
  const native = (NativeResponse.prototype as unknown as Record<string, unknown>)[name];
  if (typeof native !== 'function') continue;
  Object.defineProperty(FastResponse.prototype, name, {
    configurable: true,
    writable: true,
    value(this: FastResponse, ...args: unknown[]) {
      const target = this[plainBody] === undefined ? this : (this as unknown as { nativeBody(): Response }).nativeBody();
      return (native as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
}

/** Strings and bytes (copied, as body extraction does); undefined for every other body. */
function asPlainBody(body: unknown): string | Uint8Array<ArrayBuffer> | undefined {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return body.slice();
  if (body instanceof ArrayBuffer) return new Uint8Array(body.slice(0));
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength).slice();
  return undefined;
}

/**
 * Makes `new Response(...)` and `Response.json(...)` build FastResponses, process-wide. For the
 * node host's start-up, before the app handles requests; returns a function that undoes it.
 */
export function useFastResponses(): () => void {
  const previous = globalThis.Response;
  globalThis.Response = FastResponse as typeof Response;
  return () => {
    globalThis.Response = previous;
  };
}

/** The body a FastResponse was made from, or undefined (another kind of Response or body). */
export function plainBodyOf(response: Response): string | Uint8Array | undefined {
  return (response as Partial<FastResponse>)[plainBody];
}
