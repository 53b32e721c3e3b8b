// The node host's own part of /metrics: the process (the `process_*` names every Prometheus
// client library uses, read from Node and /proc), the event loop's delay, and the download
// counts of this process.
import { readdir, readFile } from 'node:fs/promises';
import { monitorEventLoopDelay, performance, type ELDHistogram } from 'node:perf_hooks';
import { DownloadCounts } from '../src/metrics/downloads.ts';
import type { MetricFamily } from '../src/metrics/exposition.ts';
import type { HostMetrics } from '../src/metrics/host.ts';

/** How finely the event loop's delay is sampled (ms): one timer of this period while serving. */
const LOOP_RESOLUTION_MS = 10;

export class NodeHostMetrics implements HostMetrics {
  readonly downloads = new DownloadCounts();
  private readonly loop: ELDHistogram;

  constructor() {
    this.loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.loop.enable();
  }

  stop(): void {
    this.loop.disable();
  }

  async collect(): Promise<MetricFamily[]> {
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    const [openFds, maxFds, lagNow] = await Promise.all([openFileDescriptors(), maxFileDescriptors(), eventLoopLag()]);
    // The delay histogram covers the time since the previous scrape, then starts again (as
    // prom-client does); it reports nanoseconds, with the timer's own period added in.
    const loop = this.loop;
    const over = (ns: number) => (loop.count > 0 ? Math.max(0, ns / 1e9 - LOOP_RESOLUTION_MS / 1000) : 0);
    const p99 = over(loop.percentile(99));
    const max = over(loop.max);
    loop.reset();
    const gauge = (name: string, help: string, value: number | undefined): MetricFamily => ({ name, help, type: 'gauge', samples: value === undefined ? [] : [{ value }] });
    const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'counter', samples: [{ value }] });
    return [
      counter('process_cpu_user_seconds_total', 'User CPU time spent in seconds.', cpu.user / 1e6),
      counter('process_cpu_system_seconds_total', 'System CPU time spent in seconds.', cpu.system / 1e6),
      counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', (cpu.user + cpu.system) / 1e6),
      gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', Math.round(performance.timeOrigin) / 1000),
      gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', memory.rss),
      gauge('process_open_fds', 'Number of open file descriptors.', openFds),
      gauge('process_max_fds', 'Maximum number of open file descriptors.', maxFds),
      gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', memory.heapTotal),
      gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', memory.heapUsed),
      gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', memory.external),
      gauge('nodejs_eventloop_lag_seconds', 'Lag of the event loop in seconds: how late a callback queued at scrape time ran.', lagNow),
      gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the event loop delay since the previous scrape, in seconds.', p99),
      gauge('nodejs_eventloop_lag_max_seconds', 'The largest event loop delay since the previous scrape, in seconds.', max),
    ];
  }
}

/** Open descriptors (Linux: the entries of /proc/self/fd, less the one reading it); undefined elsewhere. */
async function openFileDescriptors(): Promise<number | undefined> {
  try {
    return (await readdir('/proc/self/fd')).length - 1;
  } catch {
    return undefined;
  }
}

/** The soft limit on open descriptors (Linux: /proc/self/limits); undefined elsewhere or when unlimited. */
async function maxFileDescriptors(): Promise<number | undefined> {
  try {
    const line = (await readFile('/proc/self/limits', 'utf8')).split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

/** How long a callback queued now waits for its turn, in seconds. */
function eventLoopLag(): Promise<number> {
  const queued = performance.now();
  return new Promise((resolve) => setImmediate(() => resolve((performance.now() - queued) / 1000)));
}
