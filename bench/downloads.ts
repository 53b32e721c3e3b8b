// Downloads: authenticated certificate downloads per second (`GET /api/certificate/{name}` with
// an `apikey` header) from the node host, beside nginx serving the same PEM as a static file.
// wrk drives both with the same threads and connections; the runs alternate (Certkeep, nginx,
// then nginx, Certkeep, …) so that a slow phase of the machine does not favour one side.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
}

const NAME = 'download-bench';

export async function runDownloads(lab: Lab, opts: DownloadsOptions): Promise<DownloadsResult> {
  const { host, api } = await startSetUpHost(lab, 'downloads');
  try {
    const created = await api.post('/api/v1/certificates', { name: NAME, domains: twoNames() });
    if (created.status !== 201) throw new Error(`create: ${created.status} ${created.text}`);
    const issued = await api.post(`/api/v1/certificates/${NAME}/issue?wait=true`);
    if (issued.status !== 200) throw new Error(`issue: ${issued.status} ${issued.text}`);
    const apiKey: string = created.body.apiKeys[0];
    const certkeepUrl = `${host.baseUrl}/api/certificate/${NAME}`;
    const pem = await fetchBody(certkeepUrl, { apikey: apiKey });

    // nginx serves the very same bytes from <root>/api/certificate/<name>.
    const root = join(lab.work, 'nginx-root');
    mkdirSync(join(root, 'api/certificate'), { recursive: true });
    writeFileSync(join(root, 'api/certificate', NAME), pem);
    // nginx's worker runs as the same user, but the scratch directory is private (0700).
    chmodSync(lab.work, 0o755);
    const nginx = await startNginx(join(lab.work, 'nginx'), root);
    try {
      const nginxUrl = `${nginx.baseUrl}/api/certificate/${NAME}`;
      if ((await fetchBody(nginxUrl, {})) !== pem) throw new Error('nginx serves other bytes than Certkeep');

      const sides = {
        certkeep: (seconds: number) => checked('certkeep', wrk({ url: certkeepUrl, headers: { apikey: apiKey }, seconds, threads: opts.threads, connections: opts.connections })),
        nginx: (seconds: number) => checked('nginx', wrk({ url: nginxUrl, seconds, threads: opts.threads, connections: opts.connections })),
      };
      // Warm-up: the JIT, connection set-up, page cache.
      await sides.certkeep(opts.warmupSeconds);
      await sides.nginx(opts.warmupSeconds);
      const result: DownloadsResult = { ...opts, bodyBytes: Buffer.byteLength(pem), certkeep: [], nginx: [] };
      for (let round = 0; round < opts.rounds; round++) {
        const order = round % 2 === 0 ? (['certkeep', 'nginx'] as const) : (['nginx', 'certkeep'] as const);
        for (const side of order) result[side].push(await sides[side](opts.seconds));
      }
      return result;
    } finally {
      await nginx.stop();
    }
  } finally {
    await host.stop();
  }
}

async function fetchBody(url: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(url, { headers });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${body}`);
  return body;
}

async function checked(label: string, run: Promise<WrkResult>): Promise<WrkResult> {
  const result = await run;
  if (result.non2xx > 0 || result.socketErrors > 0) {
    throw new Error(`${label}: ${result.non2xx} non-2xx answers and ${result.socketErrors} socket errors under load`);
  }
  return result;
}
