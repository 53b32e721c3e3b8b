// `certkeep serve`: the node host. HTTP and HTTPS listeners hand every request to the same app
// the Worker runs; a timer runs the same scheduler as the Worker's cron.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createApp } from '../src/app.ts';
import { Scheduler } from '../src/jobs/scheduler.ts';
import type { Settings } from './settings.ts';
import { createNodeCore } from './core.ts';
import { createRequestListener } from './http-adapter.ts';
import { SiteTls } from './site-tls.ts';

export interface RunningServer {
  httpPort: number;
  httpsPort: number | undefined;
  stop(): Promise<void>;
}

export async function serve(settings: Settings): Promise<RunningServer> {
  const core = await createNodeCore(settings);
  const { deps, log } = core;
  for (const warning of settings.warnings) log.warn(warning);
  const app = createApp(deps);
  const onError = (err: unknown) => log.error('request failed', { err });

  const plain = createRequestListener(app, { secure: false, trustProxy: settings.trustProxy, onError });
  const httpServer = http.createServer({ keepAliveTimeout: 65_000 }, plain.listener);
  const httpPort = await listen(httpServer, settings.httpPort, settings.bind, 'CERTKEEP_HTTP_PORT');

  const siteTls = new SiteTls(deps);
  let httpsServer: https.Server | undefined;
  let httpsPort: number | undefined;
  let secure: ReturnType<typeof createRequestListener> | undefined;
  if (settings.httpsPort !== 0) {
    await siteTls.refresh();
    secure = createRequestListener(app, { secure: true, trustProxy: settings.trustProxy, onError });
    httpsServer = https.createServer({ SNICallback: (_name, cb) => cb(null, siteTls.secureContext), keepAliveTimeout: 65_000 }, secure.listener);
    httpsPort = await listen(httpsServer, settings.httpsPort, settings.bind, 'CERTKEEP_HTTPS_PORT');
    const port = httpsPort;
    deps.httpsPort = () => (siteTls.servingSiteCertificate ? port : null);
  }

  const scheduler = new Scheduler(deps);
  let ticking = true;
  const tick = async () => {
    try {
      await scheduler.tick();
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
