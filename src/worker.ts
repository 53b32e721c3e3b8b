// The Workers host: `fetch` → the app, `scheduled` → the scheduler, D1 through drizzle.
import { drizzle } from 'drizzle-orm/d1';
import type { D1Database, ExecutionContext, ScheduledController } from '@cloudflare/workers-types';
import * as schema from './db/schema.ts';
import { wrapDatabase, type Db } from './db/client.ts';
import { createApp, type App } from './app.ts';
import { newCaches, type Deps } from './deps.ts';
import { createLogger, LOG_LEVELS, type LogLevel } from './log.ts';
import { parseIpList } from './http/ip.ts';
import { importMasterKey } from './crypto/index.ts';
import { Scheduler } from './jobs/scheduler.ts';
import { Notifier } from './jobs/notifier.ts';
import { invocationBudget } from './jobs/budget.ts';
import { newId } from './domain/secrets.ts';
import { problemResponse } from './http/problem.ts';
import { DohResolver } from './dns/index.ts';
import { DNS_PROPAGATION } from './domain/dns/visibility.ts';
import { Outbound } from './net/outbound.ts';

export interface Env {
  DB: D1Database;
  /** base64 of 32 bytes (wrangler secret put MASTER_KEY). */
  MASTER_KEY: string;
  /** Required in the Setup-Token header of POST /api/v1/setup (wrangler secret put SETUP_TOKEN). */
  SETUP_TOKEN?: string;
  ALLOW_ADMIN?: string;
  ALLOW_API?: string;
  LOG_LEVEL?: string;
  /** DNS-over-HTTPS endpoint for dns-01 propagation checks (default Cloudflare's). */
  DOH_URL?: string;
  CONCURRENCY?: string;
  /** CIDRs of private/loopback addresses outgoing requests may reach (CERTKEEP_ALLOW_PRIVATE_TARGETS on the node host). */
  ALLOW_PRIVATE_TARGETS?: string;
  /**
   * Subrequests one invocation may make (fetches and D1 queries both count). Cloudflare
   * documents 50 on Workers Free and 1,000 or more on Workers Paid; default 1000.
   */
  SUBREQUESTS?: string;
}

const DEFAULT_CONCURRENCY = 8;
const DEFAULT_SUBREQUESTS = 1000;

/**
 * Budgets of one invocation (README, "Deploying to Cloudflare Workers"). A cron run (every minute)
 * starts orders for up to 45 s and refills every slot that frees up meanwhile; a request that
 * made a certificate due starts orders in its waitUntil, which Cloudflare keeps alive for 30 s
 * after the response, for up to 15 s. An order already started is not counted in the time: it
 * ends on its own (a cut-off order resumes at the next run).
 */
const CRON_BUDGET_MS = 45_000;
const WAIT_UNTIL_BUDGET_MS = 15_000;
interface Runtime {
  env: Env;
  deps: Deps;
  app: App;
  /** Fetches and D1 queries made by this isolate so far (subrequests). */
  subrequests: number;
  fetches: number;
  queries: number;
  /** Set by deps.wake during a request: its waitUntil then starts the due orders. */
  woken: boolean;
  /** Set by deps.onEvents: events were committed, their notifications go out in a waitUntil. */
  eventsWritten: boolean;
}

// One isolate serves many requests: build the deps once per isolate and env.
let cached: Runtime | undefined;

async function runtimeFor(env: Env): Promise<Runtime> {
  if (cached && cached.env === env) return cached;
  if (!env.MASTER_KEY) throw new Error('MASTER_KEY is not set: run "wrangler secret put MASTER_KEY" with base64 of 32 random bytes');
  const level = (LOG_LEVELS as readonly string[]).includes(env.LOG_LEVEL ?? '') ? (env.LOG_LEVEL as LogLevel) : 'info';
  const counted = { fetches: 0, queries: 0 };
  // Every query is a subrequest to D1: drizzle's logger sees each one (a batch's statements one by
  // one, so a batch counts as more than the one subrequest it is: on the safe side).
  const countQueries = { logQuery: () => void counted.queries++ };
  const outbound = new Outbound({
    fetch: (input, init) => {
      counted.fetches++;
      return fetch(input, init);
    },
    allowPrivateTargets: parseIpList(env.ALLOW_PRIVATE_TARGETS, { defaultLoopback: false }),
    runtime: 'worker',
  });
  const deps: Deps = {
    db: wrapDatabase(drizzle(env.DB as never, { schema, logger: countQueries }) as unknown as Db & { batch(s: unknown[]): Promise<unknown[]> }),
    masterKey: await importMasterKey(env.MASTER_KEY),
    outbound,
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    log: createLogger(level, (line) => console.log(line)),
    runtime: 'worker',
    hostId: `worker:${newId()}`,
    allowAdmin: parseIpList(env.ALLOW_ADMIN),
    allowApi: parseIpList(env.ALLOW_API),
    setupToken: env.SETUP_TOKEN,
    concurrency: Math.max(1, Number(env.CONCURRENCY) || DEFAULT_CONCURRENCY),
    dns: { resolver: new DohResolver({ url: env.DOH_URL || undefined, outbound }), ...DNS_PROPAGATION },
    caches: newCaches(),
  };
  const rt: Runtime = {
    env,
    deps,
    app: createApp(deps),
    get subrequests() {
      return counted.fetches + counted.queries;
    },
    get fetches() {
      return counted.fetches;
    },
    get queries() {
      return counted.queries;
    },
    woken: false,
    eventsWritten: false,
  };
  deps.wake = () => {
    rt.woken = true;
  };
  deps.onEvents = () => {
    rt.eventsWritten = true;
  };
  cached = rt;
  return rt;
}

const subrequestLimit = (env: Env) => Math.max(1, Number(env.SUBREQUESTS) || DEFAULT_SUBREQUESTS);

/**
 * A request's waitUntil: the orders it made due start now (if a slot is free), then the events it
 * (or they, or what it left running) committed are sent — a scheduler and a notifier of this
 * invocation's own, as workerd ties I/O to the invocation that started it.
 */
async function afterResponse(rt: Runtime, env: Env, background: Promise<unknown>[]): Promise<void> {
  const budget = invocationBudget(rt, WAIT_UNTIL_BUDGET_MS, subrequestLimit(env));
  if (rt.woken) {
    // A certificate became due: its order starts now, if a slot is free.
    rt.woken = false;
    await new Scheduler(rt.deps).runDue(budget).then(
      (r) => r.started > 0 && rt.deps.log.info('orders started by a request', { ...r }),
      (err) => rt.deps.log.error('orders started by a request failed', { err }),
    );
  }
  await Promise.allSettled(background);
  if (!rt.eventsWritten) return;
  rt.eventsWritten = false;
  await new Notifier(rt.deps).run({ mayContinue: () => budget.mayStart(0) }).then(
    (r) => rt.deps.log.info('notifications sent after a request', { ...r }),
    (err) => rt.deps.log.error('notifications after a request failed', { err }),
  );
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    let rt: Runtime;
    try {
      rt = await runtimeFor(env);
    } catch (err) {
      // A configuration mistake (secret missing, malformed allow-list): say which, to whoever asks.
      console.error(JSON.stringify({ level: 'error', msg: 'worker misconfigured', detail: (err as Error).message }));
      return problemResponse(500, `misconfigured: ${(err as Error).message}`);
    }
    const url = new URL(request.url);
    // What the request left running (an order started without ?wait): its events are sent after it.
    const background: Promise<unknown>[] = [];
    const response = await rt.app.fetch(request, {
      // Cloudflare (and Miniflare) always set it; without it nobody is on any allow-list.
      clientIp: request.headers.get('cf-connecting-ip') ?? '',
      secure: url.protocol === 'https:',
      waitUntil: (promise) => {
        background.push(promise);
        ctx.waitUntil(promise);
      },
    });
    if (rt.woken || rt.eventsWritten || background.length > 0) ctx.waitUntil(afterResponse(rt, env, background));
    return response;
  },

  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    const rt = await runtimeFor(env);
    const budget = invocationBudget(rt, CRON_BUDGET_MS, subrequestLimit(env));
    const before = { fetches: rt.fetches, queries: rt.queries, at: Date.now() };
    ctx.waitUntil(
      new Scheduler(rt.deps).tick({ budget }).then((r) =>
        // What the run spent (the isolate's count: requests served meanwhile are in it too).
        rt.deps.log.info('tick', { ...r, fetches: rt.fetches - before.fetches, queries: rt.queries - before.queries, ms: Date.now() - before.at }),
      ),
    );
  },
};
