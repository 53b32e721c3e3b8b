// `certkeep serve`: the node host. HTTP and HTTPS listeners hand every request to the same app
// the Worker runs; a timer runs the same scheduler as the Worker's cron.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createApp } from '../src/app.ts';
import type { Settings } from './settings.ts';
import { createNodeCore, stdoutLogger, stdoutSink } from './core.ts';
import { launchInfo, OrdersThread } from './orders-thread.ts';
import { startBackgroundWork } from './orders.ts';
import { LiveSettings } from './reload.ts';
import { ScheduledBackups } from './backup/schedule.ts';
import { createRequestListener } from './http-adapter.ts';
import { SiteTls } from './site-tls.ts';
import { NodeHostMetrics } from './metrics.ts';
import { enableDownloadCache } from '../src/http/download-cache.ts';
import { flushDownloadAudit } from '../src/domain/download-audit.ts';
import { databaseFilePath, walVersion } from './db-version.ts';
import type { Deps } from '../src/deps.ts';

export interface RunningServer {
  httpPort: number;
  httpsPort: number | undefined;
  stop(): Promise<void>;
  /** SIGHUP: reads the settings again and applies those that may change while running (reload.ts). */
  reload(): Promise<unknown>;
}

/** How long shutdown waits for requests and orders in flight (an order cut off is resumed at the next start). */
const SHUTDOWN_GRACE_MS = 5_000;

/** How often the HTTPS listener looks for a site certificate issued by another process on the same database. */
const SITE_CERTIFICATE_CHECK_MS = 500;

export async function serve(settings: Settings): Promise<RunningServer> {
  const live = new LiveSettings(settings);
  const core = await createNodeCore(settings, stdoutLogger(live.logLevel));
  const { deps, log } = core;
  try {
    const backups = new ScheduledBackups({ dataDir: settings.dataDir, databaseUrl: settings.databaseUrl, deps, hours: settings.backupHours, keep: settings.backupKeep });
    deps.backups = backups;
    live.attach(deps, backups);
    const hostMetrics = new NodeHostMetrics();
    deps.hostMetrics = hostMetrics;
    for (const warning of settings.warnings) log.warn(warning);
    enableDownloadMemory(settings, deps);
    const onError = (err: unknown) => log.error('request failed', { err });

    const siteTls = settings.httpsPort === 0 ? undefined : new SiteTls(deps);
    await siteTls?.refresh();
    // An order that obtained a certificate tells the listener at once (the site certificate is
    // then served before the order's caller hears of it).
    if (siteTls) deps.onCertificateIssued = () => siteTls.refresh();

    const app = createApp(deps);
    const plain = createRequestListener(app, { secure: false, trustProxy: live.trustProxy, onError });
    const secure = siteTls && createRequestListener(app, { secure: true, trustProxy: live.trustProxy, onError });
    const httpServer = http.createServer({ keepAliveTimeout: 65_000 }, plain.listener);
    const httpsServer = siteTls && https.createServer({ SNICallback: (_name, cb) => cb(null, siteTls.secureContext), keepAliveTimeout: 65_000 }, secure!.listener);
    const [httpPort, httpsPort] = await listenAll(settings.bind, [
      { server: httpServer, port: settings.httpPort, setting: 'CERTKEEP_HTTP_PORT' },
      ...(httpsServer ? [{ server: httpsServer, port: settings.httpsPort, setting: 'CERTKEEP_HTTPS_PORT' }] : []),
    ]);
    if (siteTls) deps.httpsPort = () => (siteTls.servingSiteCertificate ? httpsPort : null);

    // The scheduler and the notifier: in the orders thread (orders-thread.ts), or here when
    // serve() runs inside another program.
    const launch = launchInfo();
    const thread =
      launch &&
      new OrdersThread({
        launch,
        logLevel: live.logLevel(),
        concurrency: deps.concurrency,
        write: stdoutSink(),
        log,
        onIssued: () => siteTls?.refresh(),
        // An embedded file: this thread's connection commits the orders thread's writes too.
        database: settings.databaseUrl.startsWith('file:') ? core.db.client : undefined,
        // Without it nothing would be renewed: stop, and let the service manager start again.
        onFailure: (err) => {
          log.error('stopping: the orders thread is gone', { err });
          void running.stop().finally(() => process.exit(1));
        },
      });
    const background = thread ? undefined : startBackgroundWork(deps, settings.tickSeconds);
    if (thread) {
      deps.wake = () => thread.wake();
      deps.onEvents = () => thread.events();
    }
    // A certificate issued by another process (the CLI, another host on the same database).
    const siteCheck = siteTls && setInterval(() => void siteTls.refresh().catch((err) => log.error('site certificate check failed', { err })), SITE_CERTIFICATE_CHECK_MS);
    backups.start();
    let stopped = false;
    log.info('certkeep is listening', { httpPort, httpsPort: httpsPort ?? null, database: settings.databaseUrl.startsWith('file:') ? 'file' : 'remote' });

    const running: RunningServer = {
      httpPort,
      httpsPort,
      async stop() {
        if (stopped) return;
        stopped = true;
        clearInterval(siteCheck);
        hostMetrics.stop();
        const stoppingBackups = backups.stop();
        const servers = httpsServer ? [httpServer, httpsServer] : [httpServer];
        const closing = servers.map(close);
        for (const server of servers) server.closeIdleConnections();
        const settled = await Promise.race([
          Promise.all([thread?.stop(SHUTDOWN_GRACE_MS) ?? true, background?.stop(), plain.drain(), secure?.drain()]).then(([ended]) => ended),
          delay(SHUTDOWN_GRACE_MS + 100, false),
        ]);
        if (!settled) log.warn('stopping with work in flight; unfinished orders resume at the next start');
        for (const server of servers) server.closeAllConnections();
        await Promise.all([...closing, stoppingBackups]);
        // The download counts still in memory go into the audit log.
        await flushDownloadAudit(deps, { all: true }).catch((err) => log.error('download counts not written to the audit log', { err }));
        await core.db.checkpoint().catch((err) => log.error('database checkpoint failed', { err }));
        core.db.close();
        log.info('certkeep stopped');
      },
      async reload() {
        const outcome = await live.reload();
        // The orders thread follows: the log level, and the concurrency at its next start.
        thread?.settings(live.logLevel(), deps.concurrency);
        return outcome;
      },
    };
    return running;
  } catch (err) {
    core.db.close();
    throw err;
  }
}

/**
 * Downloads from memory while the database is unchanged (src/http/download-cache.ts): for an
 * embedded file only, whose write-ahead log tells cheaply whether anyone wrote (db-version.ts);
 * a remote libSQL server offers no such signal.
 */
function enableDownloadMemory(settings: Settings, deps: Deps): void {
  const file = databaseFilePath(settings.databaseUrl);
  if (!file) return;
  enableDownloadCache(deps, { version: walVersion(file) });
}

interface Listener {
  server: http.Server | https.Server;
  port: number;
  setting: string;
}

/**
 * Binds every listener, or none: when a port cannot be bound, the ones that were are closed
 * again and one error names every port that failed, so a service manager sees the start fail
 * and nothing keeps answering.
 */
async function listenAll(host: string | undefined, listeners: Listener[]): Promise<number[]> {
  const results = await Promise.allSettled(listeners.map((l) => listen(l, host)));
  const problems = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  if (problems.length === 0) return results.map((r) => (r as PromiseFulfilledResult<number>).value);
  await Promise.all(listeners.filter((l) => l.server.listening).map((l) => close(l.server)));
  throw new Error(problems.join('; '));
}

function listen({ server, port, setting }: Listener, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = `port ${port} (${setting})`;
      if (err.code === 'EACCES') {
        reject(new Error(`cannot listen on ${where}: permission denied. Ports below 1024 need privileges: run "sudo setcap cap_net_bind_service=+ep $(readlink -f $(which node))", or set ${setting} to a port above 1023`));
      } else if (err.code === 'EADDRINUSE') {
        reject(new Error(`cannot listen on ${where}: it is already in use. Stop the other program or set ${setting} to a free port`));
      } else if (err.code === 'EADDRNOTAVAIL') {
        reject(new Error(`cannot listen on ${host}:${port} (${setting}): no such local address (CERTKEEP_BIND)`));
      } else reject(new Error(`cannot listen on ${where}: ${err.message}`));
    });
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: http.Server | https.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

const delay = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms).unref());
