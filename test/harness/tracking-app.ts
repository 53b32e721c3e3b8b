// The app in this process on a fresh libSQL file, set up, with an admin token, for the tracking
// tests: the node host's real TLS scanner (node-host/tls-scan.ts) under a private-address policy
// that allows loopback only, with names resolved by `resolve` (by default every name is
// 127.0.0.1, as challtestsrv answers for the hosts under test), so that a scan never leaves this
// machine. `worker: true` gives the Worker's deps instead: no scanner.
import { BY_CLI } from '../../src/domain/audit.ts';
import { drizzle } from 'drizzle-orm/libsql/sqlite3';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import { nodeTlsScan } from '../../node-host/tls-scan.ts';
import type { ResolveAll } from '../../node-host/outbound.ts';
import { createApp, type App } from '../../src/app.ts';
import * as schema from '../../src/db/schema.ts';
import { acmeAccounts, settings } from '../../src/db/schema.ts';
import { wrapDatabase, type Db } from '../../src/db/client.ts';
import type { Deps } from '../../src/deps.ts';
import { parseIpList } from '../../src/http/ip.ts';
import { createAdminToken } from '../../src/domain/tokens.ts';
import { offlineDeps } from './deps.ts';
import { testOutbound } from './outbound.ts';
import { makeTempDir } from './tmp.ts';

/** The loopback addresses the tracking tests' policy allows. */
export const LOOPBACK_TARGETS = '127.0.0.1/32,::1/128';

/** Every name resolves to 127.0.0.1. */
export const toLoopback: ResolveAll = (_name, _options, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]);

export interface TrackingApp {
  opened: OpenedDatabase;
  deps: Deps;
  app: App;
  clock: { now: number };
  /** Every SQL statement sent since the last `sent.length = 0`. */
  sent: Array<{ sql: string; params: unknown[] }>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; type: string | null; body: any }>;
  /** Waits for the work requests left running after their answer (ctx.waitUntil: a first scan). */
  settled(): Promise<void>;
  close(): void;
}

export async function trackingApp(opts: { worker?: boolean; resolve?: ResolveAll; allow?: string } = {}): Promise<TrackingApp> {
  const opened = await openDatabase(`file:${makeTempDir('tracking-')}/certkeep.db`);
  const sent: TrackingApp['sent'] = [];
  const recording = drizzle(opened.client, { schema, logger: { logQuery: (query, params) => void sent.push({ sql: query, params }) } });
  const clock = { now: Date.now() };
  const allow = opts.allow ?? LOOPBACK_TARGETS;
  const deps = await offlineDeps(wrapDatabase(recording as unknown as Db & { batch(s: unknown[]): Promise<unknown[]> }), {
    now: () => clock.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    // The same policy as the scanner's, for the check when a target is added.
    outbound: testOutbound(async () => {
      throw new Error('no HTTP in this test');
    }, allow),
    ...(opts.worker ? { runtime: 'worker' as const } : { tlsScan: nodeTlsScan({ allow: parseIpList(allow, { defaultLoopback: false }), resolve: opts.resolve ?? toLoopback }) }),
  });
  await deps.db.db.insert(settings).values({ key: 'setupCompletedAt', value: String(clock.now), updatedAt: clock.now });
  await deps.db.db.insert(acmeAccounts).values({
    id: 'acct', name: 'default', directoryUrl: 'https://ca.example/dir', email: null, staging: false, termsOfServiceAgreed: true,
    accountUrl: 'https://ca.example/acct/1', status: 'valid', keyType: 'ec-p256', keySealed: 'unused', nextKeySealed: null, eabKid: null, createdAt: clock.now, updatedAt: clock.now,
  });
  const token = await createAdminToken(deps, BY_CLI, 'tracking');
  const app = createApp(deps);
  const background: Array<Promise<unknown>> = [];
  return {
    opened,
    deps,
    app,
    clock,
    sent,
    async api(method, path, body) {
      const res = await app.fetch(
        new Request(`http://127.0.0.1${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
        { clientIp: '127.0.0.1', secure: false, waitUntil: (promise) => void background.push(promise) },
      );
      const text = await res.text();
      return { status: res.status, type: res.headers.get('content-type'), body: text ? JSON.parse(text) : null };
    },
    async settled() {
      while (background.length) await Promise.allSettled(background.splice(0));
    },
    close: () => opened.close(),
  };
}
