// The notifier: turns events into deliveries and sends what is due (domain/notifications/outbox.ts),
// one run at a time per host. It runs
//   - when events were committed (`deps.onEvents`, which the node host wires to notify()): at once
//     after a quiet spell, else at most once per NOTIFY_INTERVAL_MS, so that a burst of events (a
//     bulk import being issued) is dispatched in a few runs rather than one run per event;
//   - at every scheduler tick (both hosts; the Worker's cron within its budget);
//   - on the node host, at the time the next retry is due (a timer, like the scheduler's).
// A call that comes while a run is going makes that run go round once more, so nothing committed
// meanwhile waits for the next tick. Each run is bounded: at most MAX_PER_RUN deliveries.
import type { Deps } from '../deps.ts';
import { DISPATCH_BATCH, dispatchEvents, eventsWaiting, nextDeliveryTime, sendDueDeliveries, type SendRunResult } from '../domain/notifications/outbox.ts';

/** Deliveries attempted per run; the next run (a wake-up, the tick) takes the rest. */
export const MAX_PER_RUN = 50;
/** Deliveries in flight at once. */
const CONCURRENCY = 4;
/**
 * Runs started by notify() are at least this far apart: the events committed meanwhile wait for
 * the next one and go together (one dispatch, one commit), instead of a run per event.
 */
export const NOTIFY_INTERVAL_MS = 1000;

export interface NotifierOptions {
  /** Node host: a timer for the next retry, at most this far ahead (the tick covers the rest). */
  timerMaxMs?: number;
  /** Each message's deadline (default 10 s). */
  timeoutMs?: number;
}

export interface NotifyBudget {
  /** False once the run must stop starting sends (a Worker invocation's time and subrequests). */
  mayContinue(): boolean;
}

export class Notifier {
  private running: Promise<SendRunResult> | undefined;
  private again = false;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt: number | undefined;
  /** When notify() last started a run (performance.now()). */
  private notifiedAt = -Infinity;
  /** The run notify() has asked for since, waiting for its interval to pass. */
  private notifyTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly deps: Deps,
    private readonly opts: NotifierOptions = {},
  ) {}

  /**
   * Events were committed: a run starts in the background, now if notify() started none in the
   * last NOTIFY_INTERVAL_MS, else when that much time has passed (one run for all that came).
   */
  notify(): void {
    if (this.stopped || this.notifyTimer) return;
    const start = () => {
      this.notifyTimer = undefined;
      this.notifiedAt = performance.now();
      void this.run().catch((err) => this.deps.log.error('notifications failed', { err }));
    };
    const waitMs = this.notifiedAt + NOTIFY_INTERVAL_MS - performance.now();
    if (waitMs <= 0) return start();
    this.notifyTimer = setTimeout(start, waitMs);
    // Like the retry timer: it does not keep the process alive (shutdown stops it anyway).
    (this.notifyTimer as { unref?: () => void }).unref?.();
  }

  /** One run (or joins the one going, which then goes round again); resolves with what it did. */
  run(budget?: NotifyBudget): Promise<SendRunResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      const total: SendRunResult = { sent: 0, retried: 0, failed: 0 };
      try {
        let rounds = 0;
        do {
          this.again = false;
          // Every undispatched event of this round first, then the sends. A call that took less
          // than a full batch took every event there was (one committed since wakes another round).
          while ((await dispatchEvents(this.deps)) >= DISPATCH_BATCH && (budget?.mayContinue() ?? true)) {
            if (++rounds > 20) break;
          }
          const result = await sendDueDeliveries(this.deps, {
            max: MAX_PER_RUN,
            concurrency: CONCURRENCY,
            mayContinue: budget ? () => budget.mayContinue() : undefined,
            timeoutMs: this.opts.timeoutMs,
          });
          total.sent += result.sent;
          total.retried += result.retried;
          total.failed += result.failed;
        } while (this.again && !this.stopped && (budget?.mayContinue() ?? true) && ++rounds <= 20);
      } finally {
        this.running = undefined;
      }
      await this.armTimer();
      return total;
    })();
    return this.running;
  }

  /** No more runs start, and the timer goes. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.notifyTimer) clearTimeout(this.notifyTimer);
    this.notifyTimer = undefined;
  }

  /** Resolves when the run going (if any) has ended. */
  async drain(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async armTimer(): Promise<void> {
    const maxMs = this.opts.timerMaxMs;
    if (maxMs === undefined || this.stopped) return;
    const now = this.deps.now();
    const at = (await eventsWaiting(this.deps).catch(() => false)) ? now : await nextDeliveryTime(this.deps).catch(() => null);
    if (at === null || at - now > maxMs) return;
    if (this.timer && this.timerAt !== undefined && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = undefined;
        this.notify();
      },
      // Never a busy loop: at least a quarter of a second between runs the timer starts.
      Math.max(250, at - now + 5),
    );
    // A timer alone does not keep the process alive (shutdown stops it anyway).
    (this.timer as { unref?: () => void }).unref?.();
  }
}
