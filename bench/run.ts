// `npm run bench [issuance|scale|downloads|memory|all]…` (default all): each benchmark beside its
// anchor, in one run against one local Pebble, then a summary of the targets and the raw numbers
// in bench/.results/.
//
//   issuance   one 2-name certificate through the node host's admin API, beside certbot and lego
//   scale      100 and 1,000 certificates created through the API and obtained by the scheduler on
//              the default settings, beside the bare ACME client with as many in flight
//   memory     the node host's RSS idle and during the scale batch (runs the first scale batch)
//   downloads  authenticated certificate downloads per second, beside nginx serving the file
//   lists      list and page latencies and RSS at 100 and 10,000 certificates
//   worker     how many orders one cron run of the Worker starts under Miniflare, and its subrequests
//
// Knobs (environment): BENCH_ROUNDS (30), BENCH_CERTBOT (5), BENCH_LEGO (3), BENCH_SCALE_COUNTS
// (100,1000), BENCH_SCALE_RUNS (3), BENCH_SCALE_IN_FLIGHT (8), BENCH_WRK_SECONDS (5), BENCH_WRK_ROUNDS (3),
// BENCH_LISTS_COUNTS (100,10000), BENCH_LISTS_SAMPLES (60), BENCH_WORKER_CERTIFICATES (120),
// BENCH_NODE_OPTIONS (passed to the node host, e.g. for profiling).
import { runDownloads } from './downloads.ts';
import { runIssuance } from './issuance.ts';
import { startLab } from './lab.ts';
import { currentLoad, printDetails, printSummary, summarize, writeResults, type Results } from './report.ts';
import { runScales } from './scale.ts';
import { runLists } from './lists.ts';
import { runWorker } from './worker.ts';

const BENCHMARKS = ['issuance', 'scale', 'downloads', 'memory', 'lists', 'worker'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const nums = (name: string, fallback: number[]) => {
  const values = (process.env[name] ?? fallback.join(',')).split(',').map(Number);
  if (values.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`${name}: expected whole numbers separated by commas`);
  return values;
};

const num = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}: expected a number`);
  return value;
};

function selected(args: string[]): Set<Benchmark> {
  if (args.length === 0 || args.includes('all')) return new Set(BENCHMARKS);
  const unknown = args.filter((a) => !(BENCHMARKS as readonly string[]).includes(a));
  if (unknown.length) {
    console.error(`unknown benchmark ${unknown.join(', ')}; usage: npm run bench [${[...BENCHMARKS, 'all'].join('|')}]…`);
    process.exit(2);
  }
  return new Set(args as Benchmark[]);
}

async function main(): Promise<void> {
  const which = selected(process.argv.slice(2));
  const startedAt = new Date();
  const load = { start: currentLoad(), end: [] as number[] };
  const results: Results = { selected: [...which] };
  const lab = await startLab();
  try {
    if (which.has('issuance')) {
      console.log('issuance…');
      results.issuance = await runIssuance(lab, {
        rounds: num('BENCH_ROUNDS', 30),
        warmup: 3,
        certbotRounds: num('BENCH_CERTBOT', 5),
        legoRounds: num('BENCH_LEGO', 3),
      });
    }
    if (which.has('scale') || which.has('memory')) {
      console.log('scale…');
      // The memory rows come from the first of these runs; the bare client is the anchor of both.
      const counts = which.has('scale') ? nums('BENCH_SCALE_COUNTS', [100, 1000]) : nums('BENCH_SCALE_COUNTS', [100]).slice(0, 1);
      // Each N three times, Certkeep and the bare client in turn: one run moves by ±15% here.
      const runs = which.has('scale') ? num('BENCH_SCALE_RUNS', 3) : 1;
      results.scale = await runScales(lab, { counts, inFlight: num('BENCH_SCALE_IN_FLIGHT', 8), runs });
    }
    if (which.has('lists')) {
      console.log('lists…');
      results.lists = await runLists(lab, { counts: nums('BENCH_LISTS_COUNTS', [100, 10_000]), samples: num('BENCH_LISTS_SAMPLES', 60) });
    }
    if (which.has('worker')) {
      console.log('worker…');
      results.worker = await runWorker(lab, { certificates: num('BENCH_WORKER_CERTIFICATES', 120) });
    }
    if (which.has('downloads')) {
      console.log('downloads…');
      results.downloads = await runDownloads(lab, { rounds: num('BENCH_WRK_ROUNDS', 3), seconds: num('BENCH_WRK_SECONDS', 5), warmupSeconds: 2, threads: 2, connections: 32 });
    }
  } finally {
    await lab.stop();
  }
  load.end = currentLoad();

  printDetails(results);
  const rows = summarize(results);
  printSummary(rows, load);
  console.log(`raw results: ${writeResults(results, rows, { startedAt, load })}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
