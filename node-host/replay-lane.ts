// The replay lane: certificate downloads answered straight from the socket, in front of node:http.
//
// A repeated download is already answered without running the app (replay-cache.ts), but
// node:http still builds an IncomingMessage, a ServerResponse, their headers objects, timers and
// listeners for it: through node:http the node host served about 0.43× nginx's downloads per
// second, through the lane about 0.67× (bench/downloads.ts). The lane takes each new connection
// first and reads its bytes with a strict, narrow reader (request-head.ts). While every request
// on it is a GET the listener would replay, the lane writes the stored answer itself — status
// line, headers and body as node:http would have written them, in one write — and node:http
// never sees the connection. At the first request it cannot answer (not a replayable GET,
// anything unusual, a miss, a partial head, the server closing), it hands the connection to
// node:http for good, with the unread bytes put back, exactly as if node:http had accepted it:
// node:http then parses, answers and times out everything from that request on. Responses stay
// in order because the lane has written its own before handing over.
//
// What the lane never does: read a body, keep a half-received request, answer anything but a
// GET over HTTP/1.1, or decide anything about a request. The answers it writes are ones the app
// gave (and the listener would replay) for the same scheme, client address, Host, target, API
// key and If-None-Match, under the same database version; allow-lists, HTTPS rules, API keys
// and the staging guard were applied by the app when it made them.
import { STATUS_CODES, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { NodeRequestHandler } from './http-adapter.ts';
import type { Replay } from './replay-cache.ts';
import { readReplayableHead } from './request-head.ts';

export interface ReplayLaneOptions {
  /** Told about unexpected failures inside the lane (the request then goes to node:http). */
  onError?(err: unknown): void;
}

/** node:http's keep-alive allowance beyond the advertised timeout (HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER). */
const KEEP_ALIVE_GRACE_MS = 1000;

/**
 * Puts the lane in front of `server`'s node:http connection handling, for the answers that
 * `handler` (the server's request listener) would replay. Idle lane connections are closed by
 * server.close() and closeIdleConnections(), all of them by closeAllConnections(), as node:http's are.
 */
export function installReplayLane(server: HttpServer | HttpsServer, handler: Pick<NodeRequestHandler, 'replayFor'>, opts: ReplayLaneOptions = {}): void {
  // node:http starts on 'connection' for plain HTTP, and on 'secureConnection' (after the TLS
  // handshake) for HTTPS.
  const event = server instanceof TlsServer ? 'secureConnection' : 'connection';
  const listeners = server.listeners(event);
  if (listeners.length !== 1) throw new Error(`installReplayLane: expected node:http's own ${event} listener alone, found ${listeners.length}`);
  const connectionListener = listeners[0] as (this: typeof server, socket: Socket) => void;
  server.removeListener(event, connectionListener);
  // As an event listener, node:http's takes the server as `this`.
  const nodeHttp = (socket: Socket) => connectionListener.call(server, socket);

  const lane = new Lane(server, nodeHttp, handler, opts);
  server.on(event, (socket: Socket) => lane.accept(socket));

  const closeIdle = server.closeIdleConnections;
  const closeAll = server.closeAllConnections;
  server.closeIdleConnections = function (this: typeof server) {
    lane.closeIdle();
    closeIdle.call(this);
  };
  server.closeAllConnections = function (this: typeof server) {
    lane.closeAll();
    closeAll.call(this);
  };
}

/** A stored answer as bytes on the wire, for the Date it was made with. */
interface Wire {
  date: string;
  bytes: Buffer;
}

class Lane {
  readonly #sockets = new Set<Socket>();
  /** Replay → its bytes; forgotten with the replay itself. */
  readonly #wires = new WeakMap<Replay, Wire>();
  #date = '';
  #dateExpires = 0;
  /** Whether the lane can write `replay` (as a field: made once, handed to replayFor each time). */
  private readonly canWrite = (replay: Replay) => this.wireOf(replay) !== undefined;

  constructor(
    private readonly server: HttpServer | HttpsServer,
    private readonly nodeHttp: (socket: Socket) => void,
    private readonly handler: Pick<NodeRequestHandler, 'replayFor'>,
    private readonly opts: ReplayLaneOptions,
  ) {}

  accept(socket: Socket): void {
    // Settings under which node:http would answer differently from the lane's fixed shape.
    if (this.server.maxRequestsPerSocket || this.server.timeout) return this.nodeHttp(socket);

    const onData = (chunk: Buffer) => this.read(socket, chunk, release);
    const onDrain = () => socket.resume();
    const onEnd = () => socket.end();
    const onTimeout = () => socket.destroy();
    const onError = () => socket.destroy();
    const onClose = () => this.#sockets.delete(socket);
    /** Undoes everything accept() did, for the hand-over to node:http. */
    const release = () => {
      socket.off('data', onData);
      socket.off('drain', onDrain);
      socket.off('end', onEnd);
      socket.off('timeout', onTimeout);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.setTimeout(0);
      this.#sockets.delete(socket);
    };
    this.#sockets.add(socket);
    socket.on('data', onData);
    socket.on('drain', onDrain);
    socket.on('end', onEnd);
    socket.on('timeout', onTimeout);
    socket.on('error', onError);
    socket.on('close', onClose);
    // Between requests a lane connection is an idle keep-alive connection, and times out as
    // one (never, as in node:http, when keepAliveTimeout is 0).
    if (this.server.keepAliveTimeout) socket.setTimeout(this.server.keepAliveTimeout + KEEP_ALIVE_GRACE_MS);
  }

  /** Answers the requests in `chunk` while it can, then hands the rest (if any) to node:http. */
  private read(socket: Socket, chunk: Buffer, release: () => void): void {
    const text = chunk.toString('latin1');
    const answers: Buffer[] = [];
    let offset = 0;
    try {
      if (this.server.listening) {
        while (offset < text.length) {
          const head = readReplayableHead(text, offset);
          if (head === undefined) break;
          const replay = this.handler.replayFor(socket.remoteAddress, head.host, head.target, head.apiKey, head.ifNoneMatch, this.canWrite);
          if (replay === undefined) break;
          answers.push(this.wireOf(replay)!);
          offset = head.end;
        }
      }
    } catch (err) {
      this.reportError(err);
    }
    if (answers.length === 1) {
      socket.write(answers[0]);
    } else if (answers.length > 1) {
      socket.cork();
      for (const answer of answers) socket.write(answer);
      socket.uncork();
    }
    if (socket.destroyed) return;
    if (offset < text.length) {
      release();
      this.handOver(socket, offset === 0 ? chunk : chunk.subarray(offset));
    } else if (socket.writableNeedDrain) {
      // A client that sends faster than it reads waits, as node:http makes it wait.
      socket.pause();
    }
  }

  /** The connection becomes node:http's, as if it had just been accepted with `unread` still to read. */
  private handOver(socket: Socket, unread: Buffer): void {
    // Paused, so that node:http's own 'data' listener does not start the flow before it is
    // ready; resumed after, which delivers `unread` to it first (on the next tick, before any
    // later bytes from the network).
    socket.pause();
    socket.unshift(unread);
    this.nodeHttp(socket);
    socket.resume();
  }

  /** The replay as bytes on the wire, or undefined when it is not of the shape the lane writes. */
  private wireOf(replay: Replay): Buffer | undefined {
    const date = this.currentDate();
    const known = this.#wires.get(replay);
    if (known?.date === date) return known.bytes;
    const bytes = wireBytes(replay, date, this.server.keepAliveTimeout);
    if (bytes !== undefined) this.#wires.set(replay, { date, bytes });
    return bytes;
  }

  /** The Date header's value, made once a second as node:http makes it. */
  private currentDate(): string {
    const now = Date.now();
    if (now >= this.#dateExpires) {
      this.#date = new Date(now).toUTCString();
      this.#dateExpires = now - (now % 1000) + 1000;
    }
    return this.#date;
  }

  closeIdle(): void {
    // Lane connections have no request in progress; one still sending an answer finishes it.
    for (const socket of this.#sockets) {
      if (socket.writableLength > 0) socket.end();
      else socket.destroy();
    }
  }

  closeAll(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  private reportError(err: unknown): void {
    try {
      this.opts.onError?.(err);
    } catch {
      // a failing error reporter must not take the server down
    }
  }
}

/** Response headers after which node:http writes something else than the lane's fixed trailer lines. */
const MANAGED_HEADERS = new Set(['connection', 'keep-alive', 'date', 'transfer-encoding', 'trailer', 'expect']);

/**
 * What node:http writes for `res.writeHead(status, statusText, head); res.end(body)` on a
 * keep-alive HTTP/1.1 connection (node:_http_outgoing's _storeHeader): the status line, the
 * headers as given, Date, Connection and Keep-Alive, a blank line, and the body (none for 204
 * and 304). Undefined for answers that would make node:http add or decide more than that.
 */
export function wireBytes(replay: Replay, date: string, keepAliveTimeoutMs: number): Buffer | undefined {
  const { status, head } = replay;
  const hasBody = status !== 204 && status !== 304;
  if (status < 200 || status > 399) return undefined;
  let lines = `HTTP/1.1 ${status} ${replay.statusText ?? STATUS_CODES[status] ?? 'unknown'}\r\n`;
  let contentLength = false;
  for (let i = 0; i < head.length; i += 2) {
    const name = head[i].toLowerCase();
    if (MANAGED_HEADERS.has(name)) return undefined;
    if (name === 'content-length') contentLength = true;
    lines += `${head[i]}: ${head[i + 1]}\r\n`;
  }
  // Without a length node:http would send the body chunked.
  if (hasBody && !contentLength) return undefined;
  lines += `Date: ${date}\r\nConnection: keep-alive\r\n`;
  if (keepAliveTimeoutMs) lines += `Keep-Alive: timeout=${Math.floor(keepAliveTimeoutMs / 1000)}\r\n`;
  lines += '\r\n';
  const headBytes = Buffer.from(lines, 'latin1');
  if (!hasBody) return headBytes;
  const body = typeof replay.body === 'string' ? Buffer.from(replay.body, 'utf8') : replay.body;
  return Buffer.concat([headBytes, body]);
}
