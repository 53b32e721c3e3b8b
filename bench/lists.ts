// Lists at scale: what a user waits for on the API and the pages with 100 certificates, and again
// with 10,000, on one node host and its data directory (default settings, log level info).
//
// The certificates are made through the domain layer (createCertificate: a key and API keys
// each, as the admin API would) by this process while the host is stopped, then given the states
// a fleet has: most issued (one real certificate from Pebble, copied, with expiries spread over
// 31–120 days so that no renewal is due), 2% failing, 1% waiting to be obtained (with a retry time
// far off, so the scheduler stays quiet and only the lists are measured). The host is started
// again on the same data for each size, signed in, warmed up (WARMUP requests each), and then
// each request is timed SAMPLES times, one after another; the median is reported. The RSS
// (process and children, largest of a second of samples) is taken after the timed requests.
import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { startNodeHost, type NodeHostUnderTest } from '../test/harness/hosts.ts';
import { loadSettings } from '../node-host/settings.ts';
import { createNodeCore } from '../node-host/core.ts';
import { createCertificate } from '../src/domain/certificates.ts';
import { certificates } from '../src/db/schema.ts';
import { encodeCursor } from '../src/domain/paging.ts';
import { silentLogger } from '../src/log.ts';
import { sampleRss } from './rss.ts';
import { fmtMs, median, sleep, startSetUpHost, type Lab } from './lab.ts';
import type { SummaryRow } from './report.ts';

const WARMUP = 5;
const DAY = 86_400_000;
const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple' };

export const LIST_REQUESTS = [
  'API: first page',
  'API: a middle page',
  'API: a search',
  'certificates page',
  'certificates page: a middle page',
  'certificates page: a search',
  'dashboard',
] as const;
export type ListRequest = (typeof LIST_REQUESTS)[number];

export interface ListsAt {
  count: number;
  /** Median latency (ms) of each request. */
  medianMs: Record<ListRequest, number>;
  rssMiB: number;
  /** How long making the certificates of this step took (domain layer, host stopped). */
  insertMs: number;
}

export interface ListsResult {
  samples: number;
  runs: ListsAt[];
}

const nameOf = (i: number) => `bench-${String(i).padStart(5, '0')}`;

export async function runLists(lab: Lab, opts: { counts: number[]; samples: number }): Promise<ListsResult> {
  const env = { CERTKEEP_TICK_SECONDS: '60', CERTKEEP_LOG_LEVEL: 'info' };
  const first = await startSetUpHost(lab, 'lists', env);
  let host: NodeHostUnderTest = first.host;
  const api = first.api;
  const runs: ListsAt[] = [];
  try {
    // One real certificate: its PEM is what every issued row carries (a list never reads it, but
    // the rows are as large as real ones).
    const real = `real-${randomBytes(4).toString('hex')}`;
    const created = await api.post('/api/v1/certificates', { name: real, domains: [`${real}.example.com`] });
    if (created.status !== 201) throw new Error(`create: ${created.status} ${created.text}`);
    const issued = await api.post(`/api/v1/certificates/${real}/issue?wait=true`);
    if (issued.status !== 200) throw new Error(`issue: ${issued.status} ${issued.text}`);

    let made = 0;
    for (const count of [...opts.counts].sort((a, b) => a - b)) {
      await host.stop();
      const started = performance.now();
      await makeCertificates(host.dataDir, made, count, real);
      const insertMs = performance.now() - started;
      made = count;
      host = await startNodeHost({ httpPort: lab.httpPort, dataDir: host.dataDir, env: { ...env, NODE_EXTRA_CA_CERTS: lab.ca.caCertPath } });
      const medianMs = await timeRequests(host, api.token!, count, opts.samples);
      const rss = sampleRss(host.process.pid);
      await sleep(1000);
      runs.push({ count, medianMs, rssMiB: Math.max(...rss.stop()), insertMs });
    }
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- node host log (tail) ---\n${host.logs().slice(-3000)}`);
  } finally {
    await host.stop();
  }
  return { samples: opts.samples, runs };
}

/** Certificates `from`…`to - 1`, through the domain layer, then put in a fleet's states. */
async function makeCertificates(dataDir: string, from: number, to: number, realName: string): Promise<void> {
  const settings = await loadSettings({ CERTKEEP_DATA_DIR: dataDir });
  const core = await createNodeCore(settings, silentLogger);
  try {
    const { deps } = core;
    for (let i = from; i < to; i++) {
      await createCertificate(deps, { name: nameOf(i), domains: [`www-${String(i).padStart(5, '0')}.bench.example.com`, `api-${String(i).padStart(5, '0')}.bench.example.com`], challenge: 'http-01' });
    }
    const [real] = await deps.db.db.select({ pem: certificates.pem, serial: certificates.serial }).from(certificates).where(eq(certificates.name, realName));
    const now = Date.now();
    const i = sql`cast(substr(${certificates.name}, 7) as integer)`;
    const range = sql`${certificates.name} like 'bench-%' and ${i} >= ${from} and ${i} < ${to}`;
    // Issued, expiring 31–120 days from now (renewal 30 days before: none due).
    const notAfter = sql`${now} + (31 + (${i} * 37) % 90) * ${DAY}`;
    await deps.db.db
      .update(certificates)
      .set({ status: 'valid', pem: real.pem, serial: real.serial, notBefore: sql`${notAfter} - ${90 * DAY}`, notAfter, renewAt: sql`${notAfter} - ${30 * DAY}` })
      .where(sql`${range} and ${i} % 100 <> 13`);
    // 2% failing: the last renewal attempt failed, the next one tomorrow.
    await deps.db.db
      .update(certificates)
      .set({ lastError: JSON.stringify({ type: 'urn:ietf:params:acme:error:connection', detail: 'Fetching http://…/.well-known/acme-challenge/…: Connection refused' }), failureCount: 1, nextAttemptAt: now + DAY })
      .where(sql`${range} and ${i} % 50 = 7`);
    // 1% waiting to be obtained, with a retry time far off (so no order runs meanwhile).
    await deps.db.db.update(certificates).set({ nextAttemptAt: now + 30 * DAY }).where(sql`${range} and ${i} % 100 = 13`);
  } finally {
    core.db.close();
  }
}

async function timeRequests(host: NodeHostUnderTest, token: string, count: number, samples: number): Promise<Record<ListRequest, number>> {
  const base = host.baseUrl;
  const login = await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ ...ADMIN, next: '/' }), redirect: 'manual' });
  const cookie = login.headers.get('set-cookie')?.split(';')[0];
  if (login.status !== 303 || !cookie) throw new Error(`sign-in failed: ${login.status}`);
  const middle = encodeURIComponent(encodeCursor('name', [nameOf(Math.floor(count / 2))]));
  const needle = `www-${String(count - 1).padStart(5, '0')}.bench`;
  const bearer = { authorization: `Bearer ${token}` };
  const page = { cookie };
  const requests: Record<ListRequest, [string, Record<string, string>]> = {
    'API: first page': ['/api/v1/certificates', bearer],
    'API: a middle page': [`/api/v1/certificates?cursor=${middle}`, bearer],
    'API: a search': [`/api/v1/certificates?q=${needle}`, bearer],
    'certificates page': ['/certificates', page],
    'certificates page: a middle page': [`/certificates?cursor=${middle}`, page],
    'certificates page: a search': [`/certificates?q=${needle}`, page],
    dashboard: ['/', page],
  };
  const medianMs = {} as Record<ListRequest, number>;
  for (const label of LIST_REQUESTS) {
    const [path, headers] = requests[label];
    const once = async () => {
      const started = performance.now();
      const res = await fetch(base + path, { headers });
      const body = await res.text();
      const ms = performance.now() - started;
      if (res.status !== 200) throw new Error(`${label}: ${res.status} ${body.slice(0, 300)}`);
      if (label.includes('search') && !body.includes(needle)) throw new Error(`${label}: ${needle} not found`);
      return ms;
    };
    for (let i = 0; i < WARMUP; i++) await once();
    const times: number[] = [];
    for (let i = 0; i < samples; i++) times.push(await once());
    medianMs[label] = median(times);
  }
  return medianMs;
}

export function printLists(result: ListsResult): void {
  console.log(`\nLists: median of ${result.samples} requests each (after ${WARMUP} to warm up), node host, default settings\n`);
  const header = ['request', ...result.runs.map((r) => `${r.count.toLocaleString('en-US')} certificates`)];
  const rows = LIST_REQUESTS.map((label) => [label, ...result.runs.map((r) => fmtMs(r.medianMs[label]))]);
  rows.push(['RSS after the requests', ...result.runs.map((r) => `${r.rssMiB.toFixed(1)} MiB`)]);
  rows.push(['making the certificates', ...result.runs.map((r) => fmtMs(r.insertMs))]);
  const widths = header.map((_, i) => Math.max(header[i].length, ...rows.map((row) => row[i].length)));
  for (const row of [header, ...rows]) console.log(row.map((c, i) => c.padEnd(widths[i])).join('  '));
}

/** Per request: ≤ 25 ms at the largest size and ≤ 2× the smallest; RSS ≤ +25 MiB. */
export function listRows(result: ListsResult): SummaryRow[] {
  const small = result.runs[0];
  const large = result.runs[result.runs.length - 1];
  if (!small || !large || small === large) return [];
  const rows: SummaryRow[] = LIST_REQUESTS.map((label) => {
    const ratio = large.medianMs[label] / small.medianMs[label];
    return {
      benchmark: `lists: ${label} at ${large.count.toLocaleString('en-US')}`,
      certkeep: fmtMs(large.medianMs[label]),
      anchor: `at ${small.count}: ${fmtMs(small.medianMs[label])}`,
      ratio: `${ratio.toFixed(2)}×`,
      target: '≤ 25 ms and ≤ 2×',
      met: large.medianMs[label] <= 25 && ratio <= 2,
    };
  });
  const grown = large.rssMiB - small.rssMiB;
  rows.push({
    benchmark: `lists: RSS at ${large.count.toLocaleString('en-US')}`,
    certkeep: `${large.rssMiB.toFixed(1)} MiB`,
    anchor: `at ${small.count}: ${small.rssMiB.toFixed(1)} MiB`,
    ratio: `${grown >= 0 ? '+' : ''}${grown.toFixed(1)} MiB`,
    target: '≤ +25 MiB',
    met: grown <= 25,
  });
  return rows;
}
