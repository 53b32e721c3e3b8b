// `npm run bench`: time to obtain a 2-name certificate through the running node host, beside
// certbot and lego against the same Pebble in the same run. Prints medians and ratios.
//
// One Pebble (PEBBLE_VA_NOSLEEP=1) validates http-01 on one port. The phases take turns on it:
// first the node host listens there and obtains certificates through its admin API
// (create + issue?wait=true, the way an operator would), then it stops and certbot's and lego's
// standalone servers bind the same port. Set BENCH_ROUNDS / BENCH_CERTBOT / BENCH_LEGO to change
// how many certificates each phase obtains.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { createTestCa } from '../test/harness/ca.ts';
import { startPebble } from '../test/harness/pebble.ts';
import { freePort } from '../test/harness/ports.ts';
import { startNodeHost } from '../test/harness/hosts.ts';
import { AdminClient, setupBody } from '../test/harness/world.ts';
import { runCertbot, runLego } from './anchors.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const WARMUP = 3;
const CERTBOT_ROUNDS = Number(process.env.BENCH_CERTBOT ?? 5);
const LEGO_ROUNDS = Number(process.env.BENCH_LEGO ?? 3);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
const names = () => {
  const id = randomBytes(5).toString('hex');
  return [`www-${id}.example.com`, `api-${id}.example.com`];
};

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'certkeep-bench-'));
  process.env.CERTKEEP_TEST_RUN_DIR = work;
  const ca = await createTestCa(join(work, 'ca'));
  // The node host (a child process) trusts Pebble through this; so does this process's fetch.
  process.env.NODE_EXTRA_CA_CERTS = ca.caCertPath;
  const httpPort = await freePort();
  const pebble = await startPebble({ httpPort, ca });
  const results: Record<string, number[]> = {};
  try {
    // ---- Certkeep: the running node host ----
    const host = await startNodeHost({
      httpPort,
      dataDir: join(work, 'certkeep'),
      env: { CERTKEEP_LOG_LEVEL: 'warn', CERTKEEP_TICK_SECONDS: '3600', NODE_EXTRA_CA_CERTS: ca.caCertPath },
    });
    try {
      const api = new AdminClient(host.baseUrl);
      const setup = await api.post('/api/v1/setup', setupBody(pebble));
      if (setup.status !== 201) throw new Error(`setup failed: ${setup.text}`);
      api.token = setup.body.token;
      const times: number[] = [];
      for (let i = 0; i < WARMUP + ROUNDS; i++) {
        const name = `bench-${i}`;
        const started = performance.now();
        const created = await api.post('/api/v1/certificates', { name, domains: names() });
        const issued = await api.post(`/api/v1/certificates/${name}/issue?wait=true`);
        const elapsed = performance.now() - started;
        if (created.status !== 201 || issued.status !== 200) throw new Error(`certkeep round ${i} failed: ${issued.text}`);
        if (i >= WARMUP) times.push(elapsed);
      }
      results.certkeep = times;
    } finally {
      await host.stop();
    }

    // ---- Anchors: certbot and lego on the same Pebble and port ----
    for (const [label, run, rounds] of [
      ['certbot', runCertbot, CERTBOT_ROUNDS],
      ['lego', runLego, LEGO_ROUNDS],
    ] as const) {
      const times: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const dir = join(work, `${label}-${i}`);
        mkdirSync(dir, { recursive: true });
        try {
          times.push(await run({ directoryUrl: pebble.directoryUrl, httpPort, domains: names(), workDir: dir, caBundle: ca.caCertPath }));
        } catch (err) {
          console.error(`${label} round ${i} failed: ${(err as Error).message.split('\n')[0]}`);
        }
      }
      if (times.length) results[label] = times;
    }
  } finally {
    await pebble.stop();
    rmSync(work, { recursive: true, force: true });
  }

  const ours = median(results.certkeep);
  console.log(`\nTime to obtain a 2-name certificate (http-01, local Pebble 2.4.0, PEBBLE_VA_NOSLEEP=1)\n`);
  console.log(`${'client'.padEnd(10)} ${'runs'.padStart(5)} ${'median'.padStart(10)} ${'min'.padStart(10)} ${'max'.padStart(10)}   ratio`);
  for (const [label, times] of Object.entries(results)) {
    const m = median(times);
    const ratio = label === 'certkeep' ? '1.0×' : `${(m / ours).toFixed(1)}× slower than Certkeep`;
    console.log(`${label.padEnd(10)} ${String(times.length).padStart(5)} ${fmt(m).padStart(10)} ${fmt(Math.min(...times)).padStart(10)} ${fmt(Math.max(...times)).padStart(10)}   ${ratio}`);
  }
  const certbot = results.certbot ? median(results.certbot) / ours : NaN;
  console.log(`\ntarget: Certkeep median under 150 ms (${ours < 150 ? 'met' : 'MISSED'}: ${fmt(ours)}) and at least 20× faster than certbot (${certbot >= 20 ? 'met' : 'MISSED'}: ${Number.isNaN(certbot) ? 'certbot not run' : certbot.toFixed(1) + '×'})`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
