// The orders thread. `certkeep serve` runs its background work (orders.ts: the scheduler and the
// notifier) in a worker thread of its own, so that the thread answering requests does not also
// carry every order's JWS signing, TLS, parsing and commits: with 8 orders in flight on the main
// thread, each of those waited for the other (bench scale). The two threads share nothing but
// the database: the orders thread opens its own connection to the same file, under its own host
// id, as a second host on one database would (leases keep them from running the same order). It
// reads through that connection; with an embedded file its write batches are committed by the
// serving thread's (forwarded-writes.ts), so that it does not wait for the disk. They talk by
// messages:
//
//   serving thread → orders thread   wake (something became due), events (notifications to
//                                    send), settings (a reload: log level, concurrency), stop,
//                                    written (a forwarded batch's results, after its commit)
//   orders thread → serving thread   log (a line for stdout), issued (a certificate was
//                                    obtained: the HTTPS listener looks for its site certificate
//                                    before the order goes on), write (a batch to commit)
//
// The thread runs the same file as the serving thread (the launcher, node-host/bin/certkeep.mjs,
// told what to load), and from it only this module and what it imports.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Client } from '@libsql/core/api';
import type { Logger, LogLevel } from '../src/log.ts';
import { createLogger } from '../src/log.ts';
import { forwardingClient, runForwardedWrite, type WriteReply, type WriteRequest } from './forwarded-writes.ts';

/** What the launcher records for the orders thread (node-host/bin/certkeep.mjs). */
export interface Launch {
  /** The launcher's own file URL: the thread's entry. */
  launcher: string;
  /** The bundle the process runs (the thread loads the same one); null: the sources through tsx. */
  bundle: string | null;
}

const LAUNCH = Symbol.for('certkeep.launch');
const ROLE = 'certkeep-orders';

/** How this process was launched; undefined when serve() runs inside another program (tests). */
export const launchInfo = (): Launch | undefined => (globalThis as { [LAUNCH]?: Launch })[LAUNCH];

interface ThreadData {
  role: typeof ROLE;
  launch: Launch;
  logLevel: LogLevel;
  concurrency: number;
  /** The serving thread commits this thread's write batches (an embedded database file). */
  forwardWrites: boolean;
}

type ToOrders = { kind: 'wake' } | { kind: 'events' } | { kind: 'settings'; logLevel: LogLevel; concurrency: number } | { kind: 'stop' } | { kind: 'refreshed'; id: number } | WriteReply;
type FromOrders = { kind: 'log'; line: string; level: LogLevel } | { kind: 'issued'; id: number; certificateId: string } | WriteRequest;

/** True in the orders thread: the launcher then runs runOrdersThread() instead of the command line. */
export const isOrdersThread = (): boolean => !isMainThread && (workerData as ThreadData | undefined)?.role === ROLE;

export interface OrdersThreadOptions {
  launch: Launch;
  logLevel: LogLevel;
  concurrency: number;
  /** Where the thread's log lines are written (the serving thread's stdout sink). */
  write(line: string, level: LogLevel): void;
  log: Logger;
  /** A certificate was obtained (the site certificate may have changed). */
  onIssued(certificateId: string): Promise<void> | void;
  /** The thread ended without being asked to, or failed: the process cannot go on as it was. */
  onFailure(err: unknown): void;
  /** The serving thread's connection to an embedded database file: it commits the thread's write batches. */
  database?: Client;
}

/** The serving thread's handle on the orders thread. */
export class OrdersThread {
  private readonly worker: Worker;
  private stopping = false;
  private readonly exited: Promise<void>;

  constructor(private readonly opts: OrdersThreadOptions) {
    const data: ThreadData = { role: ROLE, launch: opts.launch, logLevel: opts.logLevel, concurrency: opts.concurrency, forwardWrites: opts.database !== undefined };
    // The thread's stdout and stderr go to the process's own; its log lines come as messages.
    this.worker = new Worker(new URL(opts.launch.launcher), { workerData: data });
    this.worker.on('message', (message: FromOrders) => this.receive(message));
    this.worker.on('error', (err) => {
      opts.log.error('the orders thread failed', { err });
      this.failed(err);
    });
    // After an error the thread exits too: the failure is reported once.
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        this.failed(new Error(`the orders thread exited (code ${code})`));
        resolve();
      }),
    );
  }

  private failed(err: unknown): void {
    if (this.stopping) return;
    this.stopping = true;
    this.opts.onFailure(err);
  }

  wake(): void {
    this.post({ kind: 'wake' });
  }

  events(): void {
    this.post({ kind: 'events' });
  }

  settings(logLevel: LogLevel, concurrency: number): void {
    this.post({ kind: 'settings', logLevel, concurrency });
  }

  /**
   * Asks the thread to stop starting work and to end when its orders have; after `graceMs` it is
   * terminated (an order cut off is resumed at the next start). Resolves true when it ended by
   * itself.
   */
  async stop(graceMs: number): Promise<boolean> {
    if (this.stopping) return true;
    this.stopping = true;
    this.post({ kind: 'stop' });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settled = await Promise.race([this.exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)))]);
    clearTimeout(timer);
    if (!settled) await this.worker.terminate();
    return settled;
  }

  private post(message: ToOrders): void {
    this.worker.postMessage(message);
  }

  private receive(message: FromOrders): void {
    if (message.kind === 'log') this.opts.write(message.line, message.level);
    else if (message.kind === 'write') {
      // In the order sent: the batch runs synchronously inside, so replies keep that order too.
      void runForwardedWrite(this.opts.database!, message).then((reply) => this.post(reply));
    } else if (message.kind === 'issued') {
      void Promise.resolve()
        .then(() => this.opts.onIssued(message.certificateId))
        .catch((err) => this.opts.log.error('site certificate refresh failed', { err }))
        .finally(() => this.post({ kind: 'refreshed', id: message.id }));
    }
  }
}

/** The orders thread's body: its own core on the same settings, the background work, the messages. */
export async function runOrdersThread(): Promise<void> {
  const data = workerData as ThreadData;
  const port = parentPort!;
  const send = (message: FromOrders) => port.postMessage(message);
  let level = data.logLevel;
  const log = createLogger(
    () => level,
    (line, lvl) => send({ kind: 'log', line, level: lvl }),
  );
  // The same environment and config.json as the serving thread, which has read them (and made
  // the data directory and master key) already: read only.
  const { readSettings } = await import('./settings.ts');
  const { createNodeCore } = await import('./core.ts');
  const { startBackgroundWork } = await import('./orders.ts');
  const settings = await readSettings();
  if (!settings.masterKey) throw new Error('the orders thread found no master key');
  let written: ((reply: WriteReply) => void) | undefined;
  const writeThrough = data.forwardWrites
    ? (local: Client) => {
        const forwarding = forwardingClient(local, port);
        written = forwarding.receive;
        return forwarding.client;
      }
    : undefined;
  const core = await createNodeCore({ ...settings, masterKey: settings.masterKey, masterKeySource: settings.masterKeySource! }, log, { migrated: true, writeThrough });
  const { deps } = core;
  deps.concurrency = data.concurrency;
  // The serving thread's HTTPS listener (none when CERTKEEP_HTTPS_PORT is 0) refreshes its site
  // certificate; the order waits for that, as it would on one thread (the certificate is served
  // before the order's caller hears of it).
  let nextId = 0;
  const refreshing = new Map<number, () => void>();
  if (settings.httpsPort !== 0) {
    deps.onCertificateIssued = (certificateId) =>
      new Promise<void>((resolve) => {
        const id = nextId++;
        refreshing.set(id, resolve);
        send({ kind: 'issued', id, certificateId });
      });
  }
  const work = startBackgroundWork(deps, settings.tickSeconds);
  log.debug('orders thread started', { hostId: deps.hostId, concurrency: deps.concurrency });
  port.on('message', (message: ToOrders) => {
    switch (message.kind) {
      case 'wake':
        return work.wake();
      case 'events':
        return work.events();
      case 'settings':
        level = message.logLevel;
        deps.concurrency = message.concurrency;
        return work.wake();
      case 'written':
        return written?.(message);
      case 'refreshed':
        refreshing.get(message.id)?.();
        refreshing.delete(message.id);
        return;
      case 'stop':
        for (const resolve of refreshing.values()) resolve();
        refreshing.clear();
        void work
          .stop()
          .catch((err) => log.error('stopping the orders thread failed', { err }))
          .finally(() => {
            // Closed, the port lets the thread end: the serving thread sees its exit.
            core.db.close();
            port.close();
          });
        return;
    }
  });
}
