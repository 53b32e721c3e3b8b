// The node host's background work on one set of deps: the scheduler (orders and renewals, ARI,
// tracking scans, audit housekeeping) fed by its periodic tick, and the notifier. It runs in the
// orders thread (orders-thread.ts), or beside the listeners when serve() runs inside another
// program (tests) where no thread can be started.
import { Scheduler } from '../src/jobs/scheduler.ts';
import { Notifier } from '../src/jobs/notifier.ts';
import type { Deps } from '../src/deps.ts';

export interface BackgroundWork {
  /** Something may have become due: start orders now if a slot is free. */
  wake(): void;
  /** Events were committed: their notifications go out. */
  events(): void;
  /** No new work starts; resolves when what is running has ended. */
  stop(): Promise<void>;
}

export function startBackgroundWork(deps: Deps, tickSeconds: number): BackgroundWork {
  // A work queue: orders start when a certificate becomes due (deps.wake), when a slot frees up,
  // and at the next known due time; the periodic tick is the safety net.
  // Notifications go out as soon as their events are committed (deps.onEvents), at every tick,
  // and when a retry is due.
  const notifier = new Notifier(deps, { timerMaxMs: tickSeconds * 1000 });
  const scheduler = new Scheduler(deps, { wakeTimerMaxMs: tickSeconds * 1000, notifier });
  deps.wake = () => scheduler.notify();
  deps.onEvents = () => notifier.notify();
  let ticking = true;
  const tick = async () => {
    try {
      await scheduler.tick({ settle: false });
    } catch (err) {
      deps.log.error('scheduler tick failed', { err });
    }
  };
  // Ticks overlap on purpose: a slow order must not hold back other due certificates.
  const timer = setInterval(() => void tick(), tickSeconds * 1000);
  void tick();
  return {
    wake: () => scheduler.notify(),
    events: () => notifier.notify(),
    async stop() {
      if (!ticking) return;
      ticking = false;
      clearInterval(timer);
      scheduler.stop();
      await Promise.all([scheduler.drain(), notifier.drain()]);
    },
  };
}
