// What `npm run bench` prints and keeps: each benchmark's own table, then one summary row per
// target (Certkeep's number, the anchor's, the ratio, met or MISSED), and the raw numbers as JSON
// in bench/.results/ (git-ignored).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DownloadsResult } from './downloads.ts';
import type { IssuanceResult } from './issuance.ts';
import type { ScaleResult } from './scale.ts';
import { listRows, printLists, type ListsResult } from './lists.ts';
import type { WorkerResult } from './worker.ts';
import { fmtMs, median } from './lab.ts';

export interface Results {
  /** The benchmarks asked for; memory reuses the scale run, so `scale` may be there for it alone. */
  selected: string[];
  issuance?: IssuanceResult;
  /** One result per N, each with its runs (the first run of the first also gives the memory rows). */
  scale?: ScaleResult[];
  lists?: ListsResult;
  worker?: WorkerResult;
  downloads?: DownloadsResult;
}

export interface SummaryRow {
  benchmark: string;
  certkeep: string;
  anchor: string;
  ratio: string;
  target: string;
  /** undefined: the anchor did not run, so the target cannot be judged. */
  met: boolean | undefined;
}

const RESULTS_DIR = fileURLToPath(new URL('./.results/', import.meta.url));
const mib = (x: number) => `${x.toFixed(1)} MiB`;
const rate = (x: number) => `${Math.round(x).toLocaleString('en-US')}/s`;

export function printDetails(results: Results): void {
  const { issuance, downloads } = results;
  const scales = results.scale ?? [];
  const scale = scales[0]?.runs[0];
  const memory = results.selected.includes('memory');
  if (issuance) {
    console.log('\nIssuance: time to obtain a 2-name certificate (http-01, local Pebble 2.4.0, PEBBLE_VA_NOSLEEP=1)\n');
    console.log(`${'client'.padEnd(10)} ${'runs'.padStart(5)} ${'median'.padStart(10)} ${'min'.padStart(10)} ${'max'.padStart(10)}`);
    for (const label of ['certkeep', 'certbot', 'lego'] as const) {
      const times = issuance[label];
      if (times.length === 0) continue;
      console.log(`${label.padEnd(10)} ${String(times.length).padStart(5)} ${fmtMs(median(times)).padStart(10)} ${fmtMs(Math.min(...times)).padStart(10)} ${fmtMs(Math.max(...times)).padStart(10)}`);
    }
    for (const failure of issuance.failures) console.log(`  failed: ${failure}`);
  }
  if (results.selected.includes('scale')) {
    for (const scaled of scales) {
      console.log(`\nScale: ${scaled.count} 2-name certificates, ${scaled.inFlight} in flight (PEBBLE_AUTHZREUSE=0), ${scaled.runs.length} run(s), each side in turn\n`);
      scaled.runs.forEach(({ certkeep, bare }, i) => {
        console.log(`run ${i + 1}: certkeep (default settings: tick 60 s, concurrency ${scaled.inFlight}): ${fmtMs(certkeep.ms)} from the first create to all valid, ${fmtMs(certkeep.cpuMs)} of CPU (the ${scaled.count} creates took ${fmtMs(certkeep.createsMs)}), peak RSS ${mib(certkeep.peakRssMiB)}`);
        console.log(`       bare ACME client (no database): ${fmtMs(bare.ms)}, ${fmtMs(bare.cpuMs)} of CPU; ${(certkeep.ms / bare.ms).toFixed(2)}×`);
        console.log(`       one order on average, placed to stored: certkeep ${fmtMs(certkeep.orderMs)}, bare client ${fmtMs(bare.orderMs)}`);
      });
      for (const spoiled of scaled.spoiled) console.log(`spoiled, left out: ${spoiled}`);
    }
  }
  if (results.lists) printLists(results.lists);
  if (results.worker) {
    const w = results.worker;
    console.log(`\nWorker (Miniflare): one cron run with ${w.due} certificates due, CONCURRENCY ${w.concurrency}, SUBREQUESTS ${w.subrequestLimit}\n`);
    console.log(`started ${w.started} orders (${w.succeeded} obtained) in ${fmtMs(w.ms)}, ${w.subrequests} subrequests (${w.perOrder.toFixed(1)} per order: ${w.fetchesPerOrder.toFixed(1)} fetches, ${w.queriesPerOrder.toFixed(1)} D1 queries)`);
  }
  if (scale && memory) {
    console.log('\nMemory: VmRSS of the process and its children, sampled every 100 ms (largest sample)\n');
    console.log(`certkeep node host: idle ${mib(scale.certkeep.idleRssMiB)}, peak during the batch ${mib(scale.certkeep.peakRssMiB)}`);
    console.log(`bare client process: idle ${mib(scale.bare.idleRssMiB)}, peak during the batch ${mib(scale.bare.peakRssMiB)}`);
  }
  if (downloads) {
    console.log(`\nDownloads: GET /api/certificate/{name} with an apikey (${downloads.bodyBytes} bytes of PEM), wrk -t${downloads.threads} -c${downloads.connections} -d${downloads.seconds}s, alternating\n`);
    for (const [side, label] of [['certkeep', 'certkeep'], ['nginx', 'nginx'], ['bareNode', 'bare node:http']] as const) {
      const runs = downloads[side];
      if (!runs) continue;
      console.log(`${label.padEnd(14)} ${runs.map((r) => rate(r.requestsPerSecond).padStart(10)).join(' ')}   median ${rate(median(runs.map((r) => r.requestsPerSecond)))}, latency ${runs.map((r) => r.latencyAvg).join(' ')}`);
    }
    if (downloads.audit) {
      const { downloads: made, rows, counted } = downloads.audit;
      console.log(
        `audit log: ${made} downloads of Certkeep wrote ${rows} download record${rows === 1 ? '' : 's'} (${((rows * 1000) / made).toFixed(3)} per 1,000 downloads); after the host stopped they count ${counted}`,
      );
    }
  }
}

export function summarize(results: Results): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const { issuance, downloads } = results;
  const scale = results.scale?.[0]?.runs[0];
  if (issuance && issuance.certkeep.length > 0) {
    const ours = median(issuance.certkeep);
    const certbot = issuance.certbot.length ? median(issuance.certbot) : undefined;
    const faster = certbot === undefined ? undefined : certbot / ours;
    rows.push({
      benchmark: 'issuance: one 2-name certificate (median)',
      certkeep: fmtMs(ours),
      anchor: certbot === undefined ? 'certbot did not run' : `certbot ${fmtMs(certbot)}`,
      ratio: faster === undefined ? '-' : `${faster.toFixed(1)}× faster`,
      target: '< 150 ms and ≥ 20× faster than certbot',
      met: faster === undefined ? undefined : ours < 150 && faster >= 20,
    });
    if (issuance.lego.length) {
      const lego = median(issuance.lego);
      rows.push({ benchmark: 'issuance: beside lego (median)', certkeep: fmtMs(ours), anchor: `lego ${fmtMs(lego)}`, ratio: `${(lego / ours).toFixed(1)}× faster`, target: '(no target)', met: undefined });
    }
  }
  if (results.selected.includes('scale')) {
    for (const scaled of results.scale ?? []) {
      if (scaled.runs.length === 0) {
        rows.push({ benchmark: `scale: ${scaled.count} certificates, default settings`, certkeep: '-', anchor: 'no run completed', ratio: '-', target: '≤ 1.5× the bare client', met: undefined });
        continue;
      }
      // The median of the runs' ratios: each ratio compares two sides measured back to back.
      const ratio = median(scaled.runs.map((r) => r.certkeep.ms / r.bare.ms));
      const runs = scaled.runs.length > 1 ? ` (median of ${scaled.runs.length})` : '';
      rows.push({
        benchmark: `scale: ${scaled.count} certificates, default settings${runs}`,
        certkeep: fmtMs(median(scaled.runs.map((r) => r.certkeep.ms))),
        anchor: `bare client ${fmtMs(median(scaled.runs.map((r) => r.bare.ms)))}`,
        ratio: `${ratio.toFixed(2)}× the time`,
        target: '≤ 1.5× the bare client',
        met: ratio <= 1.5,
      });
      // CPU per certificate moves far less from run to run than the time does (the time also
      // follows what Pebble and the rest of the machine are doing): a steadier view of the work.
      const perCertificate = (cpuMs: number) => `${(cpuMs / scaled.count).toFixed(1)} ms`;
      rows.push({
        benchmark: `scale: ${scaled.count} certificates, CPU per certificate${runs}`,
        certkeep: perCertificate(median(scaled.runs.map((r) => r.certkeep.cpuMs))),
        anchor: `bare client ${perCertificate(median(scaled.runs.map((r) => r.bare.cpuMs)))}`,
        ratio: `${median(scaled.runs.map((r) => r.certkeep.cpuMs / r.bare.cpuMs)).toFixed(2)}× the CPU`,
        target: '(no target)',
        met: undefined,
      });
    }
  }
  if (results.lists) rows.push(...listRows(results.lists));
  if (scale && results.selected.includes('memory')) {
    rows.push({
      benchmark: 'memory: node host idle (VmRSS)',
      certkeep: mib(scale.certkeep.idleRssMiB),
      anchor: `bare client ${mib(scale.bare.idleRssMiB)}`,
      ratio: `${(scale.certkeep.idleRssMiB / scale.bare.idleRssMiB).toFixed(2)}×`,
      target: '< 80 MiB',
      met: scale.certkeep.idleRssMiB < 80,
    });
    rows.push({
      benchmark: `memory: node host peak, ${results.scale![0].count}-certificate batch`,
      certkeep: mib(scale.certkeep.peakRssMiB),
      anchor: `bare client ${mib(scale.bare.peakRssMiB)}`,
      ratio: `${(scale.certkeep.peakRssMiB / scale.bare.peakRssMiB).toFixed(2)}×`,
      target: '< 160 MiB',
      met: scale.certkeep.peakRssMiB < 160,
    });
  }
  if (downloads) {
    const ours = median(downloads.certkeep.map((r) => r.requestsPerSecond));
    const nginx = median(downloads.nginx.map((r) => r.requestsPerSecond));
    rows.push({
      benchmark: 'downloads: authenticated certificate GETs',
      certkeep: rate(ours),
      anchor: `nginx static ${rate(nginx)}`,
      ratio: `${(ours / nginx).toFixed(2)}× nginx`,
      target: '≥ 0.5× nginx',
      met: ours / nginx >= 0.5,
    });
    if (downloads.bareNode?.length) {
      const bare = median(downloads.bareNode.map((r) => r.requestsPerSecond));
      rows.push({
        benchmark: 'downloads: beside node:http alone',
        certkeep: rate(ours),
        anchor: `bare node:http ${rate(bare)}`,
        ratio: `${(ours / bare).toFixed(2)}× node:http`,
        target: '(a yardstick, no target)',
        met: undefined,
      });
    }
  }
  return rows;
}

export function printSummary(rows: SummaryRow[], load: { start: number[]; end: number[] }): void {
  const header: SummaryRow = { benchmark: 'benchmark', certkeep: 'Certkeep', anchor: 'anchor', ratio: 'ratio', target: 'target', met: undefined };
  const cells = (r: SummaryRow, isHeader = false) => [r.benchmark, r.certkeep, r.anchor, r.ratio, r.target, isHeader ? 'result' : r.met === undefined ? '-' : r.met ? 'met' : 'MISSED'];
  const table = [cells(header, true), ...rows.map((r) => cells(r))];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  console.log('\nSummary\n');
  for (const [i, row] of table.entries()) {
    console.log(row.map((c, j) => c.padEnd(widths[j])).join('  ').trimEnd());
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  console.log(`\nload average (1 min) at start ${load.start[0].toFixed(2)}, at end ${load.end[0].toFixed(2)} on ${cpus().length} CPUs: other work on the machine moves these numbers.`);
}

/** Writes the raw results and the summary; returns the file's path. */
export function writeResults(results: Results, rows: SummaryRow[], meta: { startedAt: Date; load: { start: number[]; end: number[] } }): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `bench-${meta.startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const doc = {
    startedAt: meta.startedAt.toISOString(),
    commit: gitHead(),
    node: process.version,
    cpus: cpus().length,
    loadavg: meta.load,
    results,
    summary: rows,
  };
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  writeFileSync(join(RESULTS_DIR, 'latest.json'), JSON.stringify(doc, null, 2) + '\n');
  return file;
}

export const currentLoad = (): number[] => loadavg();

function gitHead(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}
