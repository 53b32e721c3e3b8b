// A real Prometheus (Debian `prometheus`, 2.42) and its promtool, for the /metrics tests: start a
// server scraping given targets on a loopback port, ask its HTTP API, check an exposition or a
// rule file with promtool. And a small reader of the text exposition for assertions.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gatedDescribe, requirePrograms } from './skip.ts';
import { startProcess } from './processes.ts';
import { freePort } from './ports.ts';
import { makeTempDir } from './tmp.ts';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';

/** A describe that needs Pebble and Prometheus (SPEC §8: skipped with a notice, failed in CI). */
export const describePrometheus: typeof import('vitest').describe = gatedDescribe(
  requirePrograms(['/usr/bin/pebble', '/usr/bin/pebble-challtestsrv', PROMETHEUS_BIN, PROMTOOL_BIN], 'apt-get install pebble prometheus'),
);

/** Runs promtool; resolves with its exit code and output (never rejects for a non-zero exit). */
export function promtool(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(PROMTOOL_BIN, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

export interface ScrapeTarget {
  job: string;
  /** http://127.0.0.1:port — /metrics is scraped there. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` (from a credentials file, as a deployment would). */
  bearerToken?: string;
}

export interface PrometheusServer {
  url: string;
  /** An instant query: the result vector as [labels, value] pairs. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: number }>>;
  /** Polls `query(expr)` until `accept` holds for its result (each scrape is an event we cannot subscribe to). */
  waitFor(expr: string, accept: (result: Array<{ metric: Record<string, string>; value: number }>) => boolean, timeoutMs?: number): Promise<Array<{ metric: Record<string, string>; value: number }>>;
  logs(): string;
  stop(): Promise<void>;
}

/** Prometheus on a free loopback port, scraping the targets every `intervalSeconds`. */
export async function startPrometheus(targets: ScrapeTarget[], opts: { intervalSeconds?: number; ruleFiles?: string[] } = {}): Promise<PrometheusServer> {
  const dir = makeTempDir('prometheus-');
  const interval = `${opts.intervalSeconds ?? 1}s`;
  const jobs = targets.map((t, i) => {
    const url = new URL(t.baseUrl);
    const lines = [`  - job_name: ${JSON.stringify(t.job)}`, `    scrape_interval: ${interval}`, `    scrape_timeout: ${interval}`, `    metrics_path: /metrics`];
    if (t.bearerToken) {
      const file = join(dir, `token-${i}`);
      writeFileSync(file, t.bearerToken, { mode: 0o600 });
      lines.push('    authorization:', '      type: Bearer', `      credentials_file: ${JSON.stringify(file)}`);
    }
    lines.push('    static_configs:', `      - targets: [${JSON.stringify(url.host)}]`);
    return lines.join('\n');
  });
  const rules = opts.ruleFiles?.length ? `rule_files:\n${opts.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`).join('\n')}\n` : '';
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, `global:\n  scrape_interval: ${interval}\n  evaluation_interval: ${interval}\n${rules}scrape_configs:\n${jobs.join('\n')}\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = await startProcess(
    PROMETHEUS_BIN,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { readyWhen: async () => (await fetch(`${url}/-/ready`)).ok, readyTimeoutMs: 20_000, logFile: join(dir, 'prometheus.log') },
  );
  const query: PrometheusServer['query'] = async (expr) => {
    const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };
  return {
    url,
    query,
    async waitFor(expr, accept, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      let last: Awaited<ReturnType<typeof query>> = [];
      while (Date.now() < deadline) {
        last = await query(expr);
        if (accept(last)) return last;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`Prometheus: ${expr} never matched within ${timeoutMs} ms; last result ${JSON.stringify(last)}\n${proc.output().slice(-2000)}`);
    },
    logs: () => proc.output(),
    stop: () => proc.stop(),
  };
}

/** Series → value of a text exposition, keyed `name{a="x",b="y"}` with the labels sorted (`name` alone without labels). */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels = match[2] ? [...match[2].slice(1, -1).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]] as const) : [];
    out.set(seriesKey(match[1], Object.fromEntries(labels)), Number(match[3]));
  }
  return out;
}

/** The key parseExposition files a series under (label values as they are written, escaped). */
export function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const names = Object.keys(labels).sort();
  return names.length ? `${name}{${names.map((n) => `${n}="${labels[n]}"`).join(',')}}` : name;
}
