// Downloads: authenticated certificate downloads per second (`GET /api/certificate/{name}` with
// an `apikey` header) from the node host, beside nginx serving the same PEM as a static file.
// wrk drives both with the same threads and connections; the runs alternate (Certkeep, nginx,
// then nginx, Certkeep, …) so that a slow phase of the machine does not favour one side.
// A third side, a bare node:http server writing the same status, headers and bytes, shows how
// much of the gap is Node's HTTP stack itself rather than Certkeep (not a target, a yardstick).
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess } from '../test/harness/processes.ts';
import { freePort } from '../test/harness/ports.ts';
import { startNginx } from './nginx.ts';
import { wrk, type WrkResult } from './wrk.ts';
import { startSetUpHost, twoNames, type Lab } from './lab.ts';

export interface DownloadsOptions {
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  threads: number;
  connections: number;
}

export interface DownloadsResult extends DownloadsOptions {
  bodyBytes: number;
  certkeep: WrkResult[];
  nginx: WrkResult[];
  /** The bare node:http server; absent from results written before it was measured. */
  bareNode?: WrkResult[];
  /**
   * The audit log's share: downloads made of Certkeep (warm-up included), the download records
   * written while they ran, and the downloads those records count once the host has stopped
   * (it writes the counts it kept in memory). Absent from results written before the audit log.
   */
  audit?: { downloads: number; rows: number; counted: number };
}

const NAME = 'download-bench';

export async function runDownloads(lab: Lab, opts: DownloadsOptions): Promise<DownloadsResult> {
  const { host, api } = await startSetUpHost(lab, 'downloads');
  let stopped = false;
  try {
    const created = await api.post('/api/v1/certificates', { name: NAME, domains: twoNames() });
    if (created.status !== 201) throw new Error(`create: ${created.status} ${created.text}`);
    const issued = await api.post(`/api/v1/certificates/${NAME}/issue?wait=true`);
    if (issued.status !== 200) throw new Error(`issue: ${issued.status} ${issued.text}`);
    const apiKey: string = created.body.apiKeys[0];
    const certkeepUrl = `${host.baseUrl}/api/certificate/${NAME}`;
    const pem = await fetchBody(certkeepUrl, { apikey: apiKey });
    const certkeepHeaders = await fetchHeaders(certkeepUrl, { apikey: apiKey });
    let certkeepDownloads = 2;

    // nginx serves the very same bytes from <root>/api/certificate/<name>.
    const root = join(lab.work, 'nginx-root');
    mkdirSync(join(root, 'api/certificate'), { recursive: true });
    writeFileSync(join(root, 'api/certificate', NAME), pem);
    // nginx's worker runs as the same user, but the scratch directory is private (0700).
    chmodSync(lab.work, 0o755);
    const nginx = await startNginx(join(lab.work, 'nginx'), root);
    const bare = await startBareNode(join(lab.work, 'bare-node'), pem, certkeepHeaders);
    try {
      const nginxUrl = `${nginx.baseUrl}/api/certificate/${NAME}`;
      if ((await fetchBody(nginxUrl, {})) !== pem) throw new Error('nginx serves other bytes than Certkeep');
      if ((await fetchBody(bare.url, {})) !== pem) throw new Error('the bare node:http server serves other bytes than Certkeep');

      const load = (label: string, url: string, headers?: Record<string, string>) => async (seconds: number) => {
        const result = await checked(label, wrk({ url, headers, seconds, threads: opts.threads, connections: opts.connections }));
        if (label === 'certkeep') certkeepDownloads += result.requests;
        return result;
      };
      const sides = {
        certkeep: load('certkeep', certkeepUrl, { apikey: apiKey }),
        nginx: load('nginx', nginxUrl),
        bareNode: load('bare node:http', bare.url),
      };
      // Warm-up: the JIT, connection set-up, page cache.
      for (const run of Object.values(sides)) await run(opts.warmupSeconds);
      const result: DownloadsResult = { ...opts, bodyBytes: Buffer.byteLength(pem), certkeep: [], nginx: [], bareNode: [] };
      for (let round = 0; round < opts.rounds; round++) {
        const order = round % 2 === 0 ? (['certkeep', 'nginx', 'bareNode'] as const) : (['bareNode', 'nginx', 'certkeep'] as const);
        for (const side of order) result[side]!.push(await sides[side](opts.seconds));
      }
      const downloadRecords = `select count(*) as n, coalesce(sum(count), 0) as counted from audit_log where action = 'certificate.download'`;
      const [during] = await host.sql(downloadRecords);
      stopped = true;
      await host.stop();
      const [after] = await host.sql(downloadRecords);
      result.audit = { downloads: certkeepDownloads, rows: Number(during.n), counted: Number(after.counted) };
      return result;
    } finally {
      await Promise.all([nginx.stop(), bare.stop()]);
    }
  } finally {
    if (!stopped) await host.stop();
  }
}

async function fetchBody(url: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(url, { headers });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${body}`);
  return body;
}

/** The response headers Certkeep sends, minus the ones node:http writes itself. */
async function fetchHeaders(url: string, headers: Record<string, string>): Promise<Record<string, string>> {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  const own = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);
  return Object.fromEntries([...res.headers].filter(([name]) => !own.has(name)));
}

/**
 * The smallest node:http server that answers like Certkeep: one request listener writing a
 * constant status, header list and body, with the node host's keep-alive timeout. A child
 * process of the same Node, so that it pays what the node host pays and nothing more.
 */
async function startBareNode(dir: string, body: string, headers: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const script = `
    const http = require('node:http');
    const body = Buffer.from(process.env.BARE_BODY);
    const head = JSON.parse(process.env.BARE_HEADERS);
    http.createServer({ keepAliveTimeout: 65000 }, (req, res) => {
      res.writeHead(200, head);
      res.end(body);
    }).listen(${port}, '127.0.0.1');
  `;
  const url = `http://127.0.0.1:${port}/api/certificate/${NAME}`;
  const proc = await startProcess(process.execPath, ['-e', script], {
    env: { BARE_BODY: body, BARE_HEADERS: JSON.stringify(Object.entries(headers).flat()), NODE_OPTIONS: undefined },
    logFile: join(dir, 'out.log'),
    readyWhen: async () => (await fetch(url)).ok,
    readyTimeoutMs: 10_000,
  });
  return { url, stop: () => proc.stop() };
}

async function checked(label: string, run: Promise<WrkResult>): Promise<WrkResult> {
  const result = await run;
  if (result.non2xx > 0 || result.socketErrors > 0) {
    throw new Error(`${label}: ${result.non2xx} non-2xx answers and ${result.socketErrors} socket errors under load (${result.socketErrorKinds ?? 'none'})`);
  }
  return result;
}
