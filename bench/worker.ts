// How many orders one cron run of the Worker starts, under Miniflare against the lab's Pebble:
// the subrequest budget (SUBREQUESTS, default 1000: fetches and D1 queries both count) and the
// time budget (45 s) stop it, not a fixed number. The certificates are created through the API
// while their account is paused (so no request starts them), the pause is lifted behind the
// Worker's back, and one cron run is triggered; its log line says what it started and spent.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startWorkerHost, TEST_SETUP_TOKEN } from '../test/harness/hosts.ts';
import { RUN_DIR_ENV } from '../test/harness/tmp.ts';
import { AdminClient, setupBody } from '../test/harness/world.ts';
import { sleep, twoNames, type Lab } from './lab.ts';

export interface WorkerResult {
  /** Certificates due when the cron run began. */
  due: number;
  concurrency: number;
  subrequestLimit: number;
  started: number;
  succeeded: number;
  ms: number;
  subrequests: number;
  perOrder: number;
  fetchesPerOrder: number;
  queriesPerOrder: number;
}

export async function runWorker(lab: Lab, opts: { certificates: number; concurrency?: number; subrequests?: number }): Promise<WorkerResult> {
  const concurrency = opts.concurrency ?? 8;
  const subrequestLimit = opts.subrequests ?? 1000;
  const lines: string[] = [];
  // workerd reads the bundle by a path relative to this directory: keep its scratch files inside
  // the repository (test/.tmp, git-ignored), as the test runs do.
  mkdirSync(join(ROOT, 'test/.tmp'), { recursive: true });
  const scratch = mkdtempSync(join(ROOT, 'test/.tmp/bench-worker-'));
  const saved = process.env[RUN_DIR_ENV];
  process.env[RUN_DIR_ENV] = scratch;
  const host = await startWorkerHost({ httpPort: lab.httpPort, env: { CONCURRENCY: String(concurrency), SUBREQUESTS: String(subrequestLimit), LOG_LEVEL: 'info' }, onLog: (line) => void lines.push(line) });
  try {
    const api = new AdminClient(host.baseUrl);
    const setup = await api.post('/api/v1/setup', setupBody(lab.pebble), { 'Setup-Token': TEST_SETUP_TOKEN });
    if (setup.status !== 201) throw new Error(`setup failed: ${setup.status} ${setup.text}`);
    api.token = setup.body.token;
    await host.sql('update acme_accounts set paused_until = ?', Date.now() + 3_600_000);
    for (let i = 0; i < opts.certificates; i++) {
      const res = await api.post('/api/v1/certificates', { name: `w-${i}`, domains: twoNames() });
      if (res.status !== 201) throw new Error(`create w-${i}: ${res.status} ${res.text}`);
    }
    await host.sql('update acme_accounts set paused_until = null');
    await host.tick();
    let tick: Record<string, number> | undefined;
    for (let i = 0; i < 100 && !tick; i++) {
      const line = lines.find((l) => l.includes('"msg":"tick"'));
      if (line) tick = JSON.parse(line.slice(line.indexOf('{')));
      else await sleep(100);
    }
    if (!tick) throw new Error(`no tick line in the Worker's log:\n${lines.slice(-20).join('\n')}`);
    const started = tick.started;
    return {
      due: opts.certificates,
      concurrency,
      subrequestLimit,
      started,
      succeeded: tick.succeeded,
      ms: tick.ms,
      subrequests: tick.fetches + tick.queries,
      perOrder: (tick.fetches + tick.queries) / Math.max(1, started),
      fetchesPerOrder: tick.fetches / Math.max(1, started),
      queriesPerOrder: tick.queries / Math.max(1, started),
    };
  } finally {
    await host.stop();
    process.env[RUN_DIR_ENV] = saved;
    rmSync(scratch, { recursive: true, force: true });
  }
}
