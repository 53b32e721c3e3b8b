// `certkeep serve`: the node host. HTTP and HTTPS listeners hand every request to the same app
// the Worker runs; a timer runs the same scheduler as the Worker's cron.
import * as nodeCrypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createApp } from '../src/app.ts';
import { Scheduler } from '../src/jobs/scheduler.ts';
import type { Settings } from './settings.ts';
import { createNodeCore } from './core.ts';
import { createRequestListener, useFastResponses, type NodeRequestHandler } from './http-adapter.ts';
import { installReplayLane } from './replay-lane.ts';
import { SiteTls } from './site-tls.ts';
import { enableDownloadCache } from '../src/http/download-cache.ts';
import { databaseFilePath, walVersion } from './db-version.ts';
import type { ReplayOptions } from './replay-cache.ts';
import type { Deps } from '../src/deps.ts';

export interface RunningServer {
  httpPort: number;
  httpsPort: number | undefined;
  stop(): Promise<void>;
}

export async function serve(settings: Settings): Promise<RunningServer> {
  const core = await createNodeCore(settings);
  const { deps, log } = core;
  for (const warning of settings.warnings) log.warn(warning);
  // String and byte bodies skip undici's ReadableStream: about twice the downloads per second.
  useFastResponses();
  const app = createApp(deps);
  const onError = (err: unknown) => log.error('request failed', { err });
  // The lane takes over node:http's connection listener; should a Node version wire its servers
  // otherwise, downloads go through node:http alone (slower, the same answers) rather than fail.
  const withReplayLane = (server: http.Server | https.Server, handler: NodeRequestHandler) => {
    try {
      installReplayLane(server, handler, { onError });
    } catch (err) {
      log.warn('replay lane not installed; downloads go through node:http', { err });
    }
  };
  const replay = downloadReplay(settings, deps);

  const plain = createRequestListener(app, { secure: false, trustProxy: settings.trustProxy, onError, replay });
  const httpServer = http.createServer({ keepAliveTimeout: 65_000 }, plain.listener);
  if (replay) withReplayLane(httpServer, plain);
  const httpPort = await listen(httpServer, settings.httpPort, settings.bind, 'CERTKEEP_HTTP_PORT');

  const siteTls = new SiteTls(deps);
  let httpsServer: https.Server | undefined;
  let httpsPort: number | undefined;
  let secure: ReturnType<typeof createRequestListener> | undefined;
  if (settings.httpsPort !== 0) {
    await siteTls.refresh();
    secure = createRequestListener(app, { secure: true, trustProxy: settings.trustProxy, onError, replay });
    httpsServer = https.createServer({ SNICallback: (_name, cb) => cb(null, siteTls.secureContext), keepAliveTimeout: 65_000 }, secure.listener);
    if (replay) withReplayLane(httpsServer, secure);
    httpsPort = await listen(httpsServer, settings.httpsPort, settings.bind, 'CERTKEEP_HTTPS_PORT');
    const port = httpsPort;
    deps.httpsPort = () => (siteTls.servingSiteCertificate ? port : null);
  }

  // A work queue: orders start when a certificate becomes due (deps.wake), when a slot frees up,
  // and at the next known due time; the periodic tick is the safety net.
  const scheduler = new Scheduler(deps, { wakeTimerMaxMs: settings.tickSeconds * 1000 });
  deps.wake = () => scheduler.notify();
  let ticking = true;
  const tick = async () => {
    try {
      await scheduler.tick({ settle: false });
      if (httpsServer) await siteTls.refresh();
    } catch (err) {
      log.error('scheduler tick failed', { err });
    }
  };
  // Ticks overlap on purpose: a slow order must not hold back other due certificates.
  const timer = setInterval(() => void tick(), settings.tickSeconds * 1000);
  void tick();
  log.info('certkeep is listening', { httpPort, httpsPort: httpsPort ?? null, database: settings.databaseUrl.startsWith('file:') ? 'file' : 'remote' });

  return {
    httpPort,
    httpsPort,
    async stop() {
      if (!ticking) return;
      ticking = false;
      clearInterval(timer);
      scheduler.stop();
      const closing = [close(httpServer), httpsServer ? close(httpsServer) : Promise.resolve()];
      await Promise.race([Promise.all([scheduler.drain(), plain.drain(), secure?.drain()]), delay(20_000)]);
      httpServer.closeAllConnections();
      httpsServer?.closeAllConnections();
      await Promise.all(closing);
      core.db.close();
      log.info('certkeep stopped');
    },
  };
}

/**
 * Downloads from memory while the database is unchanged (src/http/download-cache.ts and
 * replay-cache.ts): for an embedded file only, whose write-ahead log tells cheaply whether anyone
 * wrote (db-version.ts); a remote libSQL server offers no such signal. The version also names the
 * HTTPS port, since serving the site certificate changes what plain HTTP may answer (SPEC §7).
 */
function downloadReplay(settings: Settings, deps: Deps): ReplayOptions | undefined {
  const file = databaseFilePath(settings.databaseUrl);
  if (!file) return undefined;
  const wal = walVersion(file);
  // Composed once per change, so that an unchanged version is the same string (compared with ===).
  let last: { wal: string; port: number | null; version: string } | undefined;
  const version = () => {
    const v = wal();
    if (v === null) return null;
    const port = deps.httpsPort?.() ?? null;
    if (last?.wal !== v || last.port !== port) last = { wal: v, port, version: `${v}|https:${port ?? '-'}` };
    return last.version;
  };
  const sha256Hex = sha256HexOf();
  enableDownloadCache(deps, { version, sha256Hex });
  return {
    version,
    hash: sha256Hex,
    onReplay: deps.log.debugEnabled ? (path, status, clientIp) => deps.log.debug('request', { method: 'GET', path, status, clientIp, ms: 0, replayed: true }) : undefined,
  };
}

/** SHA-256 hex, one-shot: crypto.hash (Node 20.12+) is about twice as fast as createHash for a key. */
function sha256HexOf(): (text: string) => string {
  const oneShot = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
  return oneShot ? (text) => oneShot('sha256', text, 'hex') : (text) => nodeCrypto.createHash('sha256').update(text).digest('hex');
}

function listen(server: http.Server | https.Server, port: number, host: string | undefined, setting: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EACCES') {
        reject(new Error(`cannot listen on port ${port}: permission denied. Ports below 1024 need privileges: run "sudo setcap cap_net_bind_service=+ep $(readlink -f $(which node))", or set ${setting} to a port above 1023`));
      } else if (err.code === 'EADDRINUSE') {
        reject(new Error(`cannot listen on port ${port}: it is already in use. Stop the other program or set ${setting} to a free port`));
      } else if (err.code === 'EADDRNOTAVAIL') {
        reject(new Error(`cannot listen on ${host}:${port}: no such local address (CERTKEEP_BIND)`));
      } else reject(err);
    });
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: http.Server | https.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
