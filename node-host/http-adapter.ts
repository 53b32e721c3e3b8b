// The bridge from node:http/https to the portable app: node:http parses the request, this file
// turns it into a Fetch API Request, calls the app, and writes the app's Response back. Nothing
// else: no parsing of its own, no shortcuts past node:http or undici.
//
// Two rules a host must apply before the app sees a request live here: the client address and
// scheme come from X-Forwarded-* only when the peer is a trusted proxy, and the request body is
// read whole (up to maxBodyBytes) before the app runs, so an oversized body is always a clean
// 413 and never a half-read stream inside a handler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App, RequestContext } from '../src/http/context.ts';
import type { IpList } from '../src/http/ip.ts';
import { normalizeIp } from '../src/http/ip.ts';

export interface RequestListenerOptions {
  /** Whether this listener terminates TLS itself. */
  secure: boolean;
  /** Peers whose X-Forwarded-For / X-Forwarded-Proto are believed; an empty list believes nobody. */
  trustProxy: IpList;
  /** Told about app failures (answered with 500) and failed waitUntil() work. */
  onError?(err: unknown): void;
  /** Largest request body accepted; larger ones get 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

export interface NodeRequestHandler {
  /** For http.createServer / https.createServer. */
  listener(req: IncomingMessage, res: ServerResponse): void;
  /** Resolves once every request in flight and every waitUntil() promise has settled. */
  drain(): Promise<void>;
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

  async function respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let response: Response;
    try {
      const ctx: RequestContext = { ...clientOf(req, opts), waitUntil };
      const url = requestUrl(req, ctx.secure);
      if (url === undefined) return writeProblem(res, 400, 'Bad request', 'the request target or Host header is not valid');

      const method = req.method ?? 'GET';
      let body: Uint8Array | null = null;
      // A GET may have a body too (Certera's clients send form parameters so), under the same cap.
      if ((method !== 'GET' && method !== 'HEAD') || (method === 'GET' && declaresBody(req))) {
        const declared = req.headers['content-length'];
        if (declared !== undefined && Number(declared) > maxBodyBytes) return refuseBody(res, maxBodyBytes);
        body = await readBody(req, maxBodyBytes);
        if (body === TOO_LARGE) return refuseBody(res, maxBodyBytes);
      }
      // The Fetch API forbids a body on GET: the app gets that one beside the Request.
      if (method === 'GET' && body !== null) {
        ctx.getBody = body;
        body = null;
      }
      const headers = new Headers();
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
      const request = new Request(url, { method, headers, body: body as BodyInit | null, signal: abortedWhenGone(res) });
      response = await app.fetch(request, ctx);
      if (!(response instanceof Response)) throw new TypeError(`app.fetch resolved to ${Object.prototype.toString.call(response)}, not a Response`);
    } catch (err) {
      if (err === CLIENT_GONE) return;
      reportError(err);
      return writeProblem(res, 500, 'Internal server error');
    }
    try {
      await writeResponse(response, req.method === 'HEAD', res);
    } catch (err) {
      reportError(err);
      if (!res.headersSent) writeProblem(res, 500, 'Internal server error');
      else res.destroy(); // the client must not mistake a cut-off body for a whole one
    }
  }

  return {
    listener(req, res) {
      work.requestStarted();
      respond(req, res)
        .catch(reportError)
        .finally(() => work.requestEnded());
    },
    drain: () => work.settled(),
  };
}

// ---- the request -----------------------------------------------------------------------------

/** The client address and scheme, believing X-Forwarded-* only from trusted proxies. */
function clientOf(req: IncomingMessage, opts: RequestListenerOptions): { clientIp: string; secure: boolean } {
  const peer = req.socket.remoteAddress ?? '';
  // An IPv4 peer on a dual-stack socket (`::ffff:1.2.3.4`) is the IPv4 address it is.
  let clientIp = peer.startsWith('::ffff:') && peer.includes('.') ? peer.slice(7) : peer;
  let secure = opts.secure;
  if (!opts.trustProxy.isEmpty && opts.trustProxy.allows(peer)) {
    // node:http joins repeated X-Forwarded-* lines with ", ", as one list in order.
    clientIp = forwardedClient(headerValue(req, 'x-forwarded-for'), opts.trustProxy) ?? clientIp;
    const proto = headerValue(req, 'x-forwarded-proto');
    if (!secure && proto !== undefined) secure = lastListItem(proto).toLowerCase() === 'https';
  }
  return { clientIp, secure };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
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
function requestUrl(req: IncomingMessage, secure: boolean): string | undefined {
  const target = req.url ?? '/';
  const scheme = secure ? 'https' : 'http';
  try {
    if (!target.startsWith('/')) {
      // absolute-form (RFC 9112 §3.2.2): its authority replaces the Host header.
      const absolute = new URL(target);
      if (absolute.protocol !== 'http:' && absolute.protocol !== 'https:') return undefined;
      return new URL(`${absolute.pathname}${absolute.search}`, `${scheme}://${absolute.host}`).href;
    }
    let host = req.headers.host;
    if (host === undefined || host === '') {
      // HTTP/1.0 without Host: name the address the client reached.
      const local = req.socket.localAddress ?? '127.0.0.1';
      host = `${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort}`;
    } else if (!HOST_CHARS.test(host)) {
      return undefined;
    }
    return new URL(`${scheme}://${host}${target}`).href;
  } catch {
    return undefined;
  }
}

const TOO_LARGE = new Uint8Array(0);
const CLIENT_GONE = Symbol('client gone');

/** Whether node:http will deliver a body: its framing headers say so (a GET usually has none). */
function declaresBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length.trim() !== '0';
}

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
      resolve(Buffer.concat(chunks, size));
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

/** request.signal: aborted when the client goes away before the response is complete. */
function abortedWhenGone(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new DOMException('the client closed the connection', 'AbortError'));
  });
  return controller.signal;
}

// ---- the response ----------------------------------------------------------------------------

/**
 * Writes the response. A body that arrives as one chunk (what the app makes from a string or
 * bytes) is sent with its Content-Length in one write; a longer stream is sent chunked, with
 * backpressure, and cancelled when the client goes away.
 */
async function writeResponse(response: Response, isHead: boolean, res: ServerResponse): Promise<void> {
  // A flat [name, value, …] list: Headers iteration yields each Set-Cookie on its own
  // (Fetch "sort and combine" never joins them), and writeHead sends each pair as a line.
  const head: string[] = [];
  response.headers.forEach((value, name) => {
    if (name !== 'content-length') head.push(name, value);
  });
  const statusText = response.statusText || undefined;
  if (response.body === null) {
    res.writeHead(response.status, statusText, head);
    res.end();
    return;
  }
  const reader = response.body.getReader();
  let readToEnd = false;
  try {
    const first = await reader.read();
    const second = first.done ? first : await reader.read();
    if (second.done) {
      readToEnd = true;
      const body = first.value ?? new Uint8Array(0);
      res.writeHead(response.status, statusText, [...head, 'content-length', String(body.byteLength)]);
      // Node itself drops the body of HEAD, 204 and 304 responses.
      res.end(body);
      return;
    }
    res.writeHead(response.status, statusText, head);
    if (isHead) {
      res.end();
      return;
    }
    if (!res.write(first.value!)) await drainedOrClosed(res);
    for (let chunk: ReadableStreamReadResult<Uint8Array> = second; !chunk.done; chunk = await reader.read()) {
      if (res.destroyed) return;
      if (!res.write(chunk.value)) await drainedOrClosed(res);
    }
    readToEnd = true;
    res.end();
  } finally {
    // A client that went away, a HEAD or a failure: the rest of the body is not wanted.
    if (!readToEnd) reader.cancel().catch(() => {});
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
  res.writeHead(status, ['content-type', 'application/problem+json', 'cache-control', 'no-store', 'content-length', String(body.length), ...headers]);
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
