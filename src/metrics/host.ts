// What a host adds to /metrics from its own process. The node host has one (process and Node.js
// figures, download counts); the Worker has none: an isolate is not a process one can scrape (a
// scrape reaches whichever isolate Cloudflare picks), so it exposes the database's figures only.
import type { DownloadCounts } from './downloads.ts';
import type { MetricFamily } from './exposition.ts';

export interface HostMetrics {
  /** Download API requests answered by this process. */
  readonly downloads: DownloadCounts;
  /** The process's own families (`process_*`, `nodejs_*`), read at scrape time. */
  collect(): Promise<MetricFamily[]>;
}
