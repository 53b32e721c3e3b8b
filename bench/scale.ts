// Scale and memory: N two-name certificates (100, then 1,000) obtained by Certkeep's scheduler,
// beside the bare ACME client (bench/bare-client.ts) doing the same against the same Pebble.
//
// Certkeep: a node host on the settings `npm start` has (CERTKEEP_TICK_SECONDS=60,
// CERTKEEP_CONCURRENCY=8, log level info). After setup it is left idle for a moment (its idle RSS
// is sampled), then the N certificates are created through the admin API by a script that keeps
// CREATES_IN_FLIGHT requests going at once (as `xargs -P 4 curl …` or an automation tool's few
// parallel workers would: a script creating a thousand certificates does not wait for each answer
// before sending the next), and the list is polled (one page of the certificates
// still waiting) until none is left: the time runs from the first create to the poll that sees
// the last one valid (so the time is known to within POLL_MS), and the RSS peak is taken over the
// same span. Nobody calls `issue`: each created certificate wakes the scheduler, which starts it
// when one of the 8 slots is free and refills every slot as its order ends.
//
// The bare client runs the same N orders with the same 8 in flight in its own process, sampled
// the same way. The two phases take turns on Pebble's httpPort.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess } from '../test/harness/processes.ts';
import { cpuMs, sampleRss } from './rss.ts';
import { sleep, startSetUpHost, twoNames, withFreshPebble, type Lab } from './lab.ts';
import type { HostUnderTest } from '../test/harness/hosts.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const IDLE_SETTLE_MS = 1000;
const IDLE_SAMPLE_MS = 2000;
const POLL_MS = 200;
/** Create requests the script keeps in flight: a few, as a real script would. */
const CREATES_IN_FLIGHT = 4;
/** Per certificate, on top of a minute: a stuck run ends rather than hangs. */
const TIMEOUT_MS_PER_CERTIFICATE = 300;
const timeoutMs = (count: number) => 60_000 + count * TIMEOUT_MS_PER_CERTIFICATE;

export interface BatchRun {
  /** Wall-clock ms from the first order (or create) until all certificates were obtained. */
  ms: number;
  count: number;
  /** VmRSS (MiB) while idle: the largest sample. */
  idleRssMiB: number;
  /** VmRSS (MiB) during the batch: the largest sample. */
  peakRssMiB: number;
  /** CPU time the process used during the batch (ms), its own threads included. */
  cpuMs: number;
  /**
   * One order's time on average (ms), from placing it to storing its certificate: where a side's
   * extra time goes, since a run of N takes about N / in-flight of them.
   */
  orderMs: number;
}

export interface ScaleRun {
  certkeep: BatchRun & { createsMs: number };
  bare: BatchRun;
}

export interface ScaleResult {
  count: number;
  inFlight: number;
  /** The runs that completed, Certkeep and the bare client in turn each time. */
  runs: ScaleRun[];
  /** Runs that Pebble spoiled (it answered nothing for 30 s), with what was seen. */
  spoiled: string[];
}

/**
 * Pebble 2.4.0 deadlocks now and then under this load, more often the more orders it holds
 * (seen at 300 to 1,000 here; goroutine dumps in December 2026). Its newOrder scans every
 * authorization it holds under its store's read lock, locking each authorization in turn
 * (FindValidAuthorization); the authorization handler locks its authorization and then asks
 * the store for the account; a second newOrder waits for the store's write lock
 * (AddChallenge), and Go's RWMutex then makes the handler's read wait behind that writer. The
 * three wait for each other for good, and every later request that needs the store waits too.
 * Either side's client then gets no answer, and the run is not a measure of either side. Such a
 * failure is recognised by the outgoing deadline's words (src/net/outbound.ts, whatever the
 * deadline) on a request to Pebble; the side is run again with a fresh Pebble, up to
 * SPOILED_ATTEMPTS times, and every spoiled attempt is reported. Any other failure ends the
 * benchmark.
 */
function spoiledByPebble(err: unknown, lab: Lab): boolean {
  const text = String((err as Error)?.message ?? err);
  return text.includes(new URL(lab.pebble.directoryUrl).origin) && text.includes('no complete answer within');
}

/** Attempts per side and run before the run is given up (each spoiled one is reported). */
const SPOILED_ATTEMPTS = 3;

export async function runScale(lab: Lab, opts: { count: number; inFlight: number; runs: number }): Promise<ScaleResult> {
  const result: ScaleResult = { count: opts.count, inFlight: opts.inFlight, runs: [], spoiled: [] };
  for (let i = 1; i <= opts.runs; i++) {
    // Each side with a fresh Pebble of the same settings: Pebble slows down as orders pile up in
    // its memory (at 1,000 the second side's newOrder calls timed out on a shared one).
    const side = async <T>(name: string, batch: (l: Lab, attempt: number) => Promise<T>): Promise<T | undefined> => {
      for (let attempt = 1; attempt <= SPOILED_ATTEMPTS; attempt++) {
        const outcome = await withFreshPebble(lab, async (fresh) => {
          try {
            return { value: await batch(fresh, attempt) };
          } catch (err) {
            if (!spoiledByPebble(err, fresh)) throw err;
            result.spoiled.push(`run ${i}, ${name}, attempt ${attempt}: ${String((err as Error).message).split('\n')[0]}`);
            console.log(`  run ${i}: ${name} spoiled by Pebble (no answer in time), attempt ${attempt} of ${SPOILED_ATTEMPTS}`);
            return undefined;
          }
        });
        if (outcome) return outcome.value;
      }
      return undefined;
    };
    const certkeep = await side('certkeep', (l, attempt) => certkeepBatch(l, opts.count, opts.inFlight, attempt === 1 ? String(i) : `${i}-${attempt}`));
    if (certkeep) console.log(`  run ${i}: certkeep ${opts.count}: ${(certkeep.ms / 1000).toFixed(2)} s (creates ${(certkeep.createsMs / 1000).toFixed(2)} s)`);
    const bare = await side('bare client', (l) => bareBatch(l, opts.count, opts.inFlight));
    if (bare) console.log(`  run ${i}: bare client ${opts.count}: ${(bare.ms / 1000).toFixed(2)} s`);
    if (certkeep && bare) result.runs.push({ certkeep, bare });
  }
  return result;
}

/** The scale benchmark at each N in turn (each run with a fresh node host and data directory). */
export async function runScales(lab: Lab, opts: { counts: number[]; inFlight: number; runs: number }): Promise<ScaleResult[]> {
  const results: ScaleResult[] = [];
  for (const count of opts.counts) {
    console.log(`scale ${count}…`);
    results.push(await runScale(lab, { count, inFlight: opts.inFlight, runs: opts.runs }));
  }
  return results;
}

export async function certkeepBatch(lab: Lab, count: number, inFlight: number, run = '1'): Promise<BatchRun & { createsMs: number }> {
  // The settings of `npm start` (the tick and the log level at their defaults).
  const { host, api } = await startSetUpHost(lab, `scale-${count}-${run}`, { CERTKEEP_TICK_SECONDS: '60', CERTKEEP_CONCURRENCY: String(inFlight), CERTKEEP_LOG_LEVEL: 'info' });
  try {
    await sleep(IDLE_SETTLE_MS);
    const idle = sampleRss(host.process.pid);
    await sleep(IDLE_SAMPLE_MS);
    const idleRssMiB = Math.max(...idle.stop());

    const busy = sampleRss(host.process.pid);
    const cpuBefore = cpuMs(host.process.pid) ?? NaN;
    const started = performance.now();
    let createsMs = 0;
    let next = 0;
    const creator = async () => {
      while (next < count) {
        const i = next++;
        const res = await api.post('/api/v1/certificates', { name: `scale-${i}`, domains: twoNames() });
        if (res.status !== 201) throw new Error(`create scale-${i}: ${res.status} ${res.text}`);
      }
    };
    const creating = (async () => {
      await Promise.all(Array.from({ length: Math.min(CREATES_IN_FLIGHT, count) }, creator));
      createsMs = performance.now() - started;
    })();
    let done = false;
    const deadline = started + timeoutMs(count);
    let failure: unknown;
    let created = false;
    creating.then(() => (created = true), (err) => (failure = err));
    type Listed = { items: Array<{ name: string; status: string; lastError: unknown }> };
    while (!done && failure === undefined) {
      await sleep(POLL_MS);
      const failed = (await api.get<Listed>('/api/v1/certificates?status=invalid&limit=1')).body.items;
      if (failed.length) throw new Error(`certificate ${failed[0].name} failed: ${JSON.stringify(failed[0].lastError)}`);
      done = created && (await api.get<Listed>('/api/v1/certificates?status=new,pending&limit=1')).body.items.length === 0;
      if (performance.now() > deadline) throw new Error(`not all ${count} certificates valid after ${timeoutMs(count)} ms`);
    }
    if (failure !== undefined) throw failure;
    const ms = performance.now() - started;
    const cpu = (cpuMs(host.process.pid) ?? NaN) - cpuBefore;
    await creating;
    return { ms, count, createsMs, idleRssMiB, peakRssMiB: Math.max(...busy.stop()), cpuMs: cpu, orderMs: await meanOrderMs(host) };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- node host log (tail) ---\n${host.logs().slice(-3000)}`);
  } finally {
    await host.stop();
  }
}

export async function bareBatch(lab: Lab, count: number, inFlight: number): Promise<BatchRun> {
  const logFile = join(lab.work, 'bare-client.log');
  const proc = await startProcess(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/bare-client.ts'), lab.pebble.directoryUrl, String(lab.httpPort), String(count), String(inFlight), `bare${count}`],
    {
      cwd: ROOT,
      env: { NODE_EXTRA_CA_CERTS: lab.ca.caCertPath },
      logFile,
      readyWhen: async () => readFileSync(logFile, 'utf8').includes('"ready":true'),
    },
  );
  try {
    await sleep(IDLE_SETTLE_MS);
    const idle = sampleRss(proc.pid);
    await sleep(IDLE_SAMPLE_MS);
    const idleRssMiB = Math.max(...idle.stop());
    const busy = sampleRss(proc.pid);
    process.kill(proc.pid, 'SIGUSR2');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs(count))));
    const code = await Promise.race([proc.exited, timedOut]);
    clearTimeout(timer);
    const peakRssMiB = Math.max(...busy.stop());
    if (code !== 0) throw new Error(`bare client ended with ${code}:\n${proc.output().slice(-3000)}`);
    const line = proc.output().split('\n').find((l) => l.startsWith('{"ms"'));
    if (!line) throw new Error(`bare client printed no result:\n${proc.output().slice(-3000)}`);
    const { ms, cpuMs, orderMs } = JSON.parse(line) as { ms: number; cpuMs: number; orderMs: number };
    return { ms, count, idleRssMiB, peakRssMiB, cpuMs, orderMs };
  } finally {
    await proc.stop();
  }
}

/** The node host's orders, from the row written before the CA is asked to the commit that stores the certificate. */
async function meanOrderMs(host: { sql: HostUnderTest['sql'] }): Promise<number> {
  const [row] = await host.sql("SELECT avg(finished_at - created_at) AS ms FROM orders WHERE state = 'done'");
  return Number(row.ms);
}
