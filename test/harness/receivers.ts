// What notifications are sent to, in tests: an HTTPS receiver on 127.0.0.1 with a certificate
// from the run's test CA (Slack, Teams, Discord, ntfy and webhook payloads land here, each
// request kept with its headers and exact body bytes), and an SMTP server in this process
// (smtp-server) that keeps every mail, parsed with mailparser. Waiting is on events: a test
// awaits the n-th request or mail, never a fixed sleep.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { testCa } from './ca.ts';

export interface Received {
  path: string;
  method: string;
  headers: IncomingMessage['headers'];
  /** The body exactly as sent. */
  body: string;
  /** Whether the receiver answered (a request held and cut off by the sender's death is not). */
  answered: boolean;
  /** Resolves once the exchange is over: true when the answer went out, false when the sender went away first. */
  done: Promise<boolean>;
}

/** How the receiver answers a request to a path; the default is 200 `ok`. */
export type Responder = (req: IncomingMessage, res: ServerResponse, body: string) => void;

export interface Receiver {
  /** `https://127.0.0.1:<port>` */
  origin: string;
  port: number;
  requests: Received[];
  /** Answers requests to `path` with `responder` from now on. */
  on(path: string, responder: Responder): void;
  /** Resolves with the requests to `path` once there are `count` of them. */
  waitFor(path: string, count?: number, timeoutMs?: number): Promise<Received[]>;
  /** The requests to `path`. */
  to(path: string): Received[];
  stop(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const ca = testCa();
  const requests: Received[] = [];
  const responders = new Map<string, Responder>();
  const waiters: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer({ cert: readFileSync(ca.leafCertPath), key: readFileSync(ca.leafKeyPath) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      let settle!: (answered: boolean) => void;
      const done = new Promise<boolean>((resolve) => (settle = resolve));
      const entry: Received = { path, method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered: false, done };
      requests.push(entry);
      res.on('finish', () => {
        entry.answered = true;
        settle(true);
      });
      res.on('close', () => settle(entry.answered));
      for (const w of waiters.splice(0)) w();
      const responder = responders.get(path);
      if (responder) responder(req, res, entry.body);
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const to = (path: string) => requests.filter((r) => r.path === path);
  return {
    origin: `https://127.0.0.1:${port}`,
    port,
    requests,
    on: (path, responder) => void responders.set(path, responder),
    to,
    waitFor(path, count = 1, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`receiver: ${to(path).length} of ${count} requests to ${path} after ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          if (to(path).length >= count) {
            clearTimeout(timer);
            resolve(to(path));
          } else waiters.push(check);
        };
        check();
      });
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface SmtpSink {
  /** `smtp://127.0.0.1:<port>` */
  url: string;
  mails: Array<ParsedMail & { envelopeTo: string[] }>;
  waitFor(count: number, timeoutMs?: number): Promise<SmtpSink['mails']>;
  /** Refuse the next messages with this SMTP reply code (e.g. 550), or accept again (null). */
  refuseWith(code: number | null): void;
  stop(): Promise<void>;
}

/** A mail server on 127.0.0.1 that takes every message (no TLS, no authentication). */
export async function startSmtpSink(): Promise<SmtpSink> {
  const mails: SmtpSink['mails'] = [];
  const waiters: Array<() => void> = [];
  let refuse: number | null = null;
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      if (refuse !== null) {
        stream.resume();
        stream.on('end', () => callback(Object.assign(new Error('mailbox unavailable'), { responseCode: refuse! })));
        return;
      }
      simpleParser(stream).then(
        (mail) => {
          mails.push(Object.assign(mail, { envelopeTo: session.envelope.rcptTo.map((r) => r.address) }));
          for (const w of waiters.splice(0)) w();
          callback();
        },
        (err) => callback(err),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    refuseWith: (code) => void (refuse = code),
    waitFor(count, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`smtp sink: ${mails.length} of ${count} mails after ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          if (mails.length >= count) {
            clearTimeout(timer);
            resolve(mails);
          } else waiters.push(check);
        };
        check();
      });
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
