// The budget of one Worker invocation for starting orders (src/worker.ts): Cloudflare limits each
// invocation's subrequests (fetches and D1 queries alike) and, for a cron run, its duration.
import type { RunBudget } from './scheduler.ts';

/**
 * Subrequests set aside for each order that may still start or is still running: a 2-name http-01
 * order measured 33 under Miniflare against Pebble (14 fetches to the CA, 20 D1 queries; `npm run
 * bench worker`), with room for a few retries (badNonce, a polled resource not ready yet).
 */
export const SUBREQUESTS_PER_ORDER = 45;
/** Kept free for the run's own bookkeeping (the due list, ARI checks, sessions): 30, less on a small plan. */
const reserveFor = (limit: number) => Math.min(30, Math.floor(limit / 10));

/**
 * What a run may spend. The subrequest count is the isolate's, so requests served beside the run
 * count against it too: the run stops early rather than late.
 */
export function invocationBudget(rt: { subrequests: number }, limitMs: number, subrequestLimit: number, now = () => Date.now()): RunBudget {
  const started = now();
  const base = rt.subrequests;
  return {
    mayStart(inFlight: number): boolean {
      if (now() - started >= limitMs) return false;
      const used = rt.subrequests - base;
      return used + (inFlight + 1) * SUBREQUESTS_PER_ORDER + reserveFor(subrequestLimit) <= subrequestLimit;
    },
  };
}

