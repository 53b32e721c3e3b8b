// `npm run bench [issuance|scale|downloads|memory|all]…` (default all): each benchmark beside its
// anchor, in one run against one local Pebble, then a summary of the targets and the raw numbers
// in bench/.results/.
//
//   issuance   one 2-name certificate through the node host's admin API, beside certbot and lego
//   scale      100 certificates obtained by the scheduler, beside the bare ACME client
//   memory     the node host's RSS idle and during the scale batch (runs the scale batch)
//   downloads  authenticated certificate downloads per second, beside nginx serving the file
//
// Knobs (environment): BENCH_ROUNDS (30), BENCH_CERTBOT (5), BENCH_LEGO (3), BENCH_SCALE_COUNT
// (100), BENCH_SCALE_IN_FLIGHT (8), BENCH_WRK_SECONDS (5), BENCH_WRK_ROUNDS (3),
// BENCH_NODE_OPTIONS (passed to the node host, e.g. for profiling).
import { runDownloads } from './downloads.ts';
import { runIssuance } from './issuance.ts';
import { startLab } from './lab.ts';
import { currentLoad, printDetails, printSummary, summarize, writeResults, type Results } from './report.ts';
import { runScale } from './scale.ts';

const BENCHMARKS = ['issuance', 'scale', 'downloads', 'memory'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

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
      // The memory rows come from this run; the bare client is the anchor of both.
      results.scale = await runScale(lab, { count: num('BENCH_SCALE_COUNT', 100), inFlight: num('BENCH_SCALE_IN_FLIGHT', 8) });
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
