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
}

/** Orders one cron invocation may run; the rest wait for the next tick. */
const ORDERS_PER_TICK = 8;

// One isolate serves many requests: build the deps once per isolate and env.
let cached: { env: Env; deps: Deps; app: App } | undefined;

async function runtimeFor(env: Env) {
  if (cached && cached.env === env) return cached;
  if (!env.MASTER_KEY) throw new Error('MASTER_KEY is not set: run "wrangler secret put MASTER_KEY" with base64 of 32 random bytes');
  const level = (LOG_LEVELS as readonly string[]).includes(env.LOG_LEVEL ?? '') ? (env.LOG_LEVEL as LogLevel) : 'info';
  const outbound = new Outbound({
    fetch: (input, init) => fetch(input, init),
    allowPrivateTargets: parseIpList(env.ALLOW_PRIVATE_TARGETS, { defaultLoopback: false }),
    runtime: 'worker',
  });
  const deps: Deps = {
    db: wrapDatabase(drizzle(env.DB as never, { schema }) as unknown as Db & { batch(s: unknown[]): Promise<unknown[]> }),
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
    concurrency: Math.max(1, Number(env.CONCURRENCY) || ORDERS_PER_TICK),
    dns: { resolver: new DohResolver({ url: env.DOH_URL || undefined, outbound }), ...DNS_PROPAGATION },
    caches: newCaches(),
  };
  cached = { env, deps, app: createApp(deps) };
  return cached;
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    let app: App;
    try {
      ({ app } = await runtimeFor(env));
    } catch (err) {
      // A configuration mistake (secret missing, malformed allow-list): say which, to whoever asks.
      console.error(JSON.stringify({ level: 'error', msg: 'worker misconfigured', detail: (err as Error).message }));
      return problemResponse(500, `misconfigured: ${(err as Error).message}`);
    }
    const url = new URL(request.url);
    return app.fetch(request, {
      // Cloudflare (and Miniflare) always set it; without it nobody is on any allow-list.
      clientIp: request.headers.get('cf-connecting-ip') ?? '',
      secure: url.protocol === 'https:',
      waitUntil: (promise) => ctx.waitUntil(promise),
    });
  },

  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    const { deps } = await runtimeFor(env);
    ctx.waitUntil(new Scheduler(deps).tick({ limit: ORDERS_PER_TICK }).then((r) => deps.log.info('tick', { ...r })));
  },
};
