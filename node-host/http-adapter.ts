// The bridge from node:http/https to the portable app: IncomingMessage → Request, the app's
// Response → ServerResponse. It sits on the hot path of certificate downloads, so it does as
// little as it can per request:
//  - the Request is a lazy stand-in (see IncomingRequest): method, url and headers are plain
//    values, and undici's Request (about 4 µs, or 13 µs with a signal) is built only if the app
//    asks for something else, such as the body;
//  - a body the app built from a string or bytes is written with one res.end(), with its
//    Content-Length, instead of being pumped through a ReadableStream;
//  - response headers go to writeHead() as one flat array (which also keeps every Set-Cookie);
//  - useFastResponses() (opt-in, process-wide) lets the app's `new Response(text)` skip the
//    ReadableStream that undici would build and the adapter would never read (fast-response.ts);
//  - with `replay`, an answer the app marked replayable (a certificate download) is written
//    again for the same request without running the app while the database is unchanged
//    (replay-cache.ts); replayFor() offers the same answers to the replay lane (replay-lane.ts),
//    which writes them without node:http.
// The request body is read whole (up to maxBodyBytes) before the app runs, so an oversized
// body is always a clean 413 and never a half-read stream inside a handler.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App, RequestContext } from '../src/http/context.ts';
import type { IpList } from '../src/http/ip.ts';
import { normalizeIp } from '../src/http/ip.ts';
import { replayableVersion } from '../src/http/download-cache.ts';
import { NativeResponse, plainBodyOf } from './fast-response.ts';
import { ReplayCache, type Replay, type ReplayOptions } from './replay-cache.ts';

export { FastResponse, useFastResponses } from './fast-response.ts';

export interface RequestListenerOptions {
  /** Whether this listener terminates TLS itself. */
  secure: boolean;
  /** Peers whose X-Forwarded-For / X-Forwarded-Proto are believed; an empty list believes nobody. */
  trustProxy: IpList;
  /** Told about app failures (answered with 500) and failed waitUntil() work. */
  onError?(err: unknown): void;
  /** Largest request body accepted; larger ones get 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Replay answers the app marked replayable (certificate downloads) while the database is unchanged. */
  replay?: ReplayOptions;
}

export interface NodeRequestHandler {
  /** For http.createServer / https.createServer. */
  listener(req: IncomingMessage, res: ServerResponse): void;
  /** Resolves once every request in flight and every waitUntil() promise has settled. */
  drain(): Promise<void>;
  /**
   * The answer the listener would replay for a GET without a body and without X-Forwarded-*
   * headers, from `peer` (the socket's remote address), if `usable` takes it; told to onReplay
   * then, like a replay of the listener's own. Undefined without the `replay` option. For the
   * replay lane (replay-lane.ts), which reads such requests straight from the socket.
   */
  replayFor(peer: string | undefined, host: string, target: string, apiKey: string | undefined, ifNoneMatch: string | undefined, usable: (replay: Replay) => boolean): Replay | undefined;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export function createRequestListener(app: App, opts: RequestListenerOptions): NodeRequestHandler {
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const reportError = (err: unknown) => {
    try {
      opts.onError?.(err);
    } catch {
      // a failing error reporter must not take the server down
    }
  };
  const work = new PendingWork(reportError);
  const waitUntil = (promise: Promise<unknown>) => work.add(promise);
  const replays = opts.replay ? new ReplayCache(opts.replay) : undefined;

  async function handle(req: IncomingMessage, res: ServerResponse, head: HeadFields, client: Client, replayKey: string | undefined): Promise<void> {
    try {
      await respond(req, res, head, client, replayKey);
    } finally {
      work.requestEnded();
    }
  }

  /** The client address and scheme, believing X-Forwarded-* only from trusted proxies. */
  function clientOf(req: IncomingMessage, head: HeadFields): Client {
    const peer = req.socket.remoteAddress ?? '';
    let clientIp = peerAddress(peer);
    let secure = opts.secure;
    if (!opts.trustProxy.isEmpty && opts.trustProxy.allows(peer)) {
      clientIp = forwardedClient(head.forwardedFor, opts.trustProxy) ?? clientIp;
      if (!secure && head.forwardedProto !== undefined) secure = lastListItem(head.forwardedProto).toLowerCase() === 'https';
    }
    return { clientIp, secure };
  }

  async function respond(req: IncomingMessage, res: ServerResponse, head: HeadFields, { clientIp, secure }: Client, replayKey: string | undefined): Promise<void> {
    let response: Response;
    try {
      const method = req.method ?? 'GET';
      const url = requestUrl(req, head.host, secure);
      if (url === undefined) return writeProblem(res, 400, 'Bad request', 'the request target or Host header is not valid');

      let body: Uint8Array | null = null;
      if (method !== 'GET' && method !== 'HEAD' && (head.contentLength !== undefined || head.chunked)) {
        if (head.contentLength !== undefined && head.contentLength > maxBodyBytes) return refuseBody(res, maxBodyBytes);
        body = await readBody(req, maxBodyBytes);
        if (body === TOO_LARGE) return refuseBody(res, maxBodyBytes);
      }

      const closed = new CloseWatch(res);
      const request = new IncomingRequest(method, url, req.rawHeaders, body, closed) as unknown as Request;
      const ctx: RequestContext = { clientIp, secure, waitUntil };
      response = await app.fetch(request, ctx);
      if (!(response instanceof NativeResponse)) throw new TypeError(`app.fetch resolved to ${Object.prototype.toString.call(response)}, not a Response`);
    } catch (err) {
      if (err === CLIENT_GONE) return;
      reportError(err);
      return writeProblem(res, 500, 'Internal server error');
    }
    try {
      const version = replayKey === undefined ? undefined : replayableVersion(response);
      const written = await writeResponse(response, req.method === 'HEAD', res);
      if (version !== undefined && written) replays!.store(replayKey!, { version, ...written });
    } catch (err) {
      reportError(err);
      if (!res.headersSent) writeProblem(res, 500, 'Internal server error');
      else res.destroy(); // the client must not mistake a cut-off body for a whole one
    }
  }

  return {
    listener(req, res) {
      work.requestStarted();
      let head: HeadFields;
      let client: Client;
      let replayKey: string | undefined;
      try {
        head = scanHeaders(req.rawHeaders);
        client = clientOf(req, head);
        // A GET without a body whose answer the app marked replayable, with the database
        // unchanged since: written again as it was, synchronously, before anything is built.
        if (replays && req.method === 'GET' && head.contentLength === undefined && !head.chunked) {
          replayKey = replays.keyOf(client.secure, client.clientIp, head.host, req.url ?? '/', head.apiKey, head.ifNoneMatch);
          const hit = replayKey === undefined ? undefined : replays.find(replayKey);
          if (hit) {
            writeReplay(res, hit);
            work.requestEnded();
            replays.options.onReplay?.(pathOf(req.url ?? '/'), hit.status, client.clientIp);
            return;
          }
        }
      } catch (err) {
        reportError(err);
        writeProblem(res, 500, 'Internal server error');
        work.requestEnded();
        return;
      }
      handle(req, res, head, client, replayKey).catch(reportError);
    },
    drain: () => work.settled(),
    replayFor(peer, host, target, apiKey, ifNoneMatch, usable) {
      if (!replays || peer === undefined) return undefined;
      // Without X-Forwarded-* headers, clientOf() names the peer and this listener's scheme.
      const clientIp = peerAddress(peer);
      const key = replays.keyOf(opts.secure, clientIp, host, target, apiKey, ifNoneMatch);
      const hit = key === undefined ? undefined : replays.find(key);
      if (hit === undefined || !usable(hit)) return undefined;
      replays.options.onReplay?.(pathOf(target), hit.status, clientIp);
      return hit;
    },
  };
}

// ---- the request -----------------------------------------------------------------------------

/** An IPv4 peer on a dual-stack socket (`::ffff:1.2.3.4`) as the IPv4 address it is. */
function peerAddress(peer: string): string {
  return peer.startsWith('::ffff:') && peer.indexOf('.') > 0 ? peer.slice(7) : peer;
}

interface Client {
  clientIp: string;
  secure: boolean;
}

interface HeadFields {
  host: string | undefined;
  apiKey: string | undefined;
  ifNoneMatch: string | undefined;
  contentLength: number | undefined;
  chunked: boolean;
  forwardedFor: string | undefined;
  forwardedProto: string | undefined;
}

/** One pass over the raw headers for the few the adapter itself needs. */
function scanHeaders(raw: string[]): HeadFields {
  const fields: HeadFields = { host: undefined, apiKey: undefined, ifNoneMatch: undefined, contentLength: undefined, chunked: false, forwardedFor: undefined, forwardedProto: undefined };
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    // Cheap length switch first: most headers are none of these.
    switch (name.length) {
      case 4:
        if (fields.host === undefined && name.toLowerCase() === 'host') fields.host = raw[i + 1];
        break;
      // Repeated apikey and If-None-Match headers are joined as Headers.get() joins them.
      case 6:
        if (name.toLowerCase() === 'apikey') fields.apiKey = fields.apiKey === undefined ? raw[i + 1] : `${fields.apiKey}, ${raw[i + 1]}`;
        break;
      case 13:
        if (name.toLowerCase() === 'if-none-match') fields.ifNoneMatch = fields.ifNoneMatch === undefined ? raw[i + 1] : `${fields.ifNoneMatch}, ${raw[i + 1]}`;
        break;
      case 14:
        // Node already refuses conflicting or malformed Content-Length values.
        if (name.toLowerCase() === 'content-length') fields.contentLength = Number(raw[i + 1]);
        break;
      case 15:
        if (name.toLowerCase() === 'x-forwarded-for') fields.forwardedFor = fields.forwardedFor === undefined ? raw[i + 1] : `${fields.forwardedFor},${raw[i + 1]}`;
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') fields.chunked = true;
        else if (name.toLowerCase() === 'x-forwarded-proto') fields.forwardedProto = fields.forwardedProto === undefined ? raw[i + 1] : `${fields.forwardedProto},${raw[i + 1]}`;
        break;
    }
  }
  return fields;
}

/**
 * The client behind trusted proxies: walking X-Forwarded-For from the right (the entry our
 * peer added), the first address that is not itself a trusted proxy. Entries left of it were
 * written by whoever that client is, so they prove nothing. Undefined when there is no header;
 * 'unknown' when the deciding entry is not an address, so that no allow-list matches it.
 */
function forwardedClient(header: string | undefined, trusted: IpList): string | undefined {
  if (header === undefined) return undefined;
  const entries = header.split(',');
  let client: string | undefined;
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i].trim();
    if (entry === '') continue;
    const ip = normalizeIp(stripPort(entry));
    if (ip === undefined) return 'unknown';
    client = ip;
    if (!trusted.allows(ip)) break;
  }
  return client;
}

/** `1.2.3.4:5678` → `1.2.3.4`, `[::1]:5678` and `[::1]` → `::1`; bare IPv6 stays as it is. */
function stripPort(entry: string): string {
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    return close > 0 ? entry.slice(1, close) : entry;
  }
  const colon = entry.indexOf(':');
  return colon > 0 && entry.indexOf(':', colon + 1) < 0 ? entry.slice(0, colon) : entry;
}

function lastListItem(value: string): string {
  const comma = value.lastIndexOf(',');
  return (comma < 0 ? value : value.slice(comma + 1)).trim();
}

// Characters a Host header may hold (RFC 9110 §7.2: uri-host [":" port]); anything else,
// such as "/" or "@", would let the header rewrite the path or smuggle userinfo into the URL.
const HOST_CHARS = /^[A-Za-z0-9.\-_~%!$&'()*+,;=:[\]]+$/;

/** The absolute URL of the request, serialized as WHATWG URL does; undefined when unusable. */
function requestUrl(req: IncomingMessage, hostHeader: string | undefined, secure: boolean): string | undefined {
  const target = req.url ?? '/';
  try {
    if (target.charCodeAt(0) !== 47 /* / */) {
      // absolute-form (RFC 9112 §3.2.2): its authority replaces the Host header.
      const absolute = new URL(target);
      if (absolute.protocol !== 'http:' && absolute.protocol !== 'https:') return undefined;
      return new URL(`${absolute.pathname}${absolute.search}`, `${secure ? 'https' : 'http'}://${absolute.host}`).href;
    }
    let host = hostHeader;
    if (host === undefined || host === '') {
      // HTTP/1.0 without Host: name the address the client reached.
      const local = req.socket.localAddress ?? '127.0.0.1';
      host = `${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort}`;
    } else if (!HOST_CHARS.test(host)) {
      return undefined;
    }
    return new URL(`${secure ? 'https' : 'http'}://${host}${target}`).href;
  } catch {
    return undefined;
  }
}

const TOO_LARGE = new Uint8Array(0);
const CLIENT_GONE = Symbol('client gone');

/** The whole body, TOO_LARGE past `limit`, or a CLIENT_GONE rejection when the client leaves. */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      // One chunk (the usual case for small bodies) is handed over without a copy.
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onGone = () => {
      cleanup();
      reject(CLIENT_GONE);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
  });
}

/**
 * request.signal: aborts when the client goes away before the response is complete. Made on
 * first use, since most handlers never look at it and a listener per request is not free.
 */
class CloseWatch {
  private controller: AbortController | undefined;

  constructor(private readonly res: ServerResponse) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = new AbortController();
      const res = this.res;
      const onClose = () => {
        if (!res.writableFinished) controller.abort(new DOMException('the client closed the connection', 'AbortError'));
      };
      if (res.closed) onClose();
      else res.once('close', onClose);
      this.controller = controller;
    }
    return this.controller.signal;
  }
}

const realRequest = Symbol('realRequest');

/**
 * A Request that is cheap to make. method, url, headers and signal are its own; everything
 * else (body readers, clone, cache, …, and undici's internal symbols, so that fetch(request)
 * and new Request(request) work) is forwarded to a real Request built on first use.
 */
class IncomingRequest {
  readonly method: string;
  readonly url: string;
  private builtHeaders: Headers | undefined;
  private [realRequest]: Request | undefined;

  constructor(
    method: string,
    url: string,
    private readonly rawHeaders: string[],
    private readonly rawBody: Uint8Array | null,
    private readonly closeWatch: CloseWatch,
  ) {
    this.method = method;
    this.url = url;
  }

  get headers(): Headers {
    if (this.builtHeaders === undefined) {
      const headers = new Headers();
      const raw = this.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
      this.builtHeaders = headers;
    }
    return this.builtHeaders;
  }

  get signal(): AbortSignal {
    return this.closeWatch.signal;
  }

  /** The real thing, made once. */
  real(): Request {
    let request = this[realRequest];
    if (request === undefined) {
      request = new Request(this.url, { method: this.method, headers: this.headers, body: this.rawBody as BodyInit | null, signal: this.signal });
      this[realRequest] = request;
    }
    return request;
  }
}

// Forward every other Request member to the real Request, and make instanceof Request hold.
{
  const own = new Set(['constructor', 'method', 'url', 'headers', 'signal']);
  const proto = IncomingRequest.prototype as unknown as Record<PropertyKey, unknown> & { real(): Request };
  for (const key of Object.getOwnPropertyNames(Request.prototype)) {
    if (own.has(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(Request.prototype, key)!;
    if (typeof descriptor.value === 'function') {
      const method = descriptor.value as (...args: unknown[]) => unknown;
      Object.defineProperty(proto, key, {
        configurable: true,
        value(this: IncomingRequest, ...args: unknown[]) {
          return method.apply(this.real(), args);
        },
      });
    } else if (descriptor.get) {
      const getter = descriptor.get;
      Object.defineProperty(proto, key, {
        configurable: true,
        get(this: IncomingRequest) {
          return getter.call(this.real());
        },
      });
    }
  }
  for (const key of Object.getOwnPropertySymbols(new Request('http://localhost/'))) {
    Object.defineProperty(proto, key, {
      configurable: true,
      get(this: IncomingRequest) {
        return (this.real() as unknown as Record<symbol, unknown>)[key];
      },
    });
  }
  Object.setPrototypeOf(IncomingRequest.prototype, Request.prototype);
}

// ---- the response ----------------------------------------------------------------------------

// undici keeps what a Response was built from (a string or bytes) beside its stream; reading
// it saves a trip through the stream. Found by description, and optional: if a Node version
// names it differently, such bodies simply take the stream path.
const undiciState = Object.getOwnPropertySymbols(new NativeResponse('')).find((symbol) => symbol.description === 'state');

/** The body as one string or byte array when the app made it from one; undefined otherwise. */
function knownBody(response: Response): string | Uint8Array | undefined {
  if (response.bodyUsed) return undefined;
  const plain = plainBodyOf(response);
  if (plain !== undefined) return plain;
  if (undiciState === undefined) return undefined;
  const source = (response as unknown as Record<symbol, { body?: { source?: unknown } } | undefined>)[undiciState]?.body?.source;
  if (typeof source === 'string') return source;
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  return undefined;
}

/** Writes the response; returns what was written when the body was whole (not streamed), for a replay. */
async function writeResponse(response: Response, isHead: boolean, res: ServerResponse): Promise<Omit<Replay, 'version'> | undefined> {
  // Known bodies first: asking a FastResponse for .body would make the stream it avoids.
  const known = knownBody(response);
  const stream = known === undefined ? response.body : null;
  const knownLength = known === undefined ? -1 : typeof known === 'string' ? Buffer.byteLength(known) : known.byteLength;

  // A flat [name, value, …] list: Headers iteration yields each Set-Cookie on its own
  // (Fetch "sort and combine" never joins them), and writeHead sends each pair as a line.
  const head: string[] = [];
  response.headers.forEach((value, name) => {
    if (knownLength >= 0 && name === 'content-length') return; // ours is exact
    head.push(name, value);
  });
  if (knownLength >= 0) head.push('content-length', String(knownLength));
  const statusText = response.statusText || undefined;
  res.writeHead(response.status, statusText, head);

  if (stream === null || isHead) {
    // Node itself drops bodies of HEAD, 204 and 304 responses.
    res.end(known);
    stream?.cancel().catch(() => {});
    return stream === null ? { status: response.status, statusText, head, body: known ?? '' } : undefined;
  }
  await pipeStream(stream, res);
  return undefined;
}

function writeReplay(res: ServerResponse, replay: Replay): void {
  res.writeHead(replay.status, replay.statusText, replay.head);
  res.end(replay.body);
}

/** The path of a request target, without its query (which may hold secrets such as pfxPassword). */
function pathOf(target: string): string {
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}

/** Streams a body with backpressure; stops reading when the client goes away. */
async function pipeStream(stream: ReadableStream<Uint8Array>, res: ServerResponse): Promise<void> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      if (!res.write(value)) await drainedOrClosed(res);
    }
    res.end();
  } finally {
    if (!res.writableEnded) reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** RFC 9457 problem document written straight to the socket; never says why it failed. */
function writeProblem(res: ServerResponse, status: number, title: string, detail?: string, headers: string[] = []): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(JSON.stringify(detail === undefined ? { type: 'about:blank', title, status } : { type: 'about:blank', title, status, detail }));
  res.writeHead(status, [
    'content-type',
    'application/problem+json',
    'cache-control',
    'no-store',
    'content-length',
    String(body.length),
    ...headers,
  ]);
  res.end(body);
}

/** 413, and the connection is closed rather than drained of a body we will not read. */
function refuseBody(res: ServerResponse, limit: number): void {
  writeProblem(res, 413, 'Payload too large', `the request body is larger than ${limit} bytes`, ['connection', 'close']);
}

// ---- work to wait for at shutdown ------------------------------------------------------------

/** Requests in flight and waitUntil() promises, so that shutdown can wait for them. */
class PendingWork {
  private readonly promises = new Set<Promise<unknown>>();
  private requests = 0;
  private waiters: Array<() => void> = [];

  constructor(private readonly reportError: (err: unknown) => void) {}

  requestStarted(): void {
    this.requests++;
  }

  requestEnded(): void {
    this.requests--;
    this.wakeIfIdle();
  }

  add(promise: Promise<unknown>): void {
    this.promises.add(promise);
    promise.then(
      () => this.forget(promise),
      (err: unknown) => {
        this.forget(promise);
        this.reportError(err);
      },
    );
  }

  /** Resolves when nothing is pending, including work that starts while waiting. */
  settled(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private forget(promise: Promise<unknown>): void {
    this.promises.delete(promise);
    this.wakeIfIdle();
  }

  private isIdle(): boolean {
    return this.requests === 0 && this.promises.size === 0;
  }

  private wakeIfIdle(): void {
    if (this.waiters.length === 0 || !this.isIdle()) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
