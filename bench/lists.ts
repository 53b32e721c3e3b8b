// Lists at scale: what a user waits for on the API and the pages with 100 certificates beside the
// same with 10,000: one node host per size (default settings, log level info), both running, the
// requests sent to them in turn.
//
// Each size has its own data directory, set up at the lab's Pebble with one real certificate. The
// other certificates are made through the domain layer (createCertificate: a key and API keys
// each, as the admin API would) by this process while its host is stopped, then given the states
// a fleet has: most issued (the real certificate's PEM, copied, with expiries spread over 31–120
// days so that no renewal is due), 2% failing, 1% waiting to be obtained (with a retry time far
// off, so the scheduler stays quiet and only the lists are measured); two consumers for each
// issued one, 1% of them stale, 0.5% with a failed install (the dashboard counts them). Then both hosts are started,
// signed in, and each request is sent WARMUP times and then SAMPLES times to each host in turn;
// the median per host is reported. The RSS (process and children, largest of a second of
// samples) is taken after the timed requests.
import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { startNodeHost, type NodeHostUnderTest } from '../test/harness/hosts.ts';
import { loadSettings } from '../node-host/settings.ts';
import { createNodeCore } from '../node-host/core.ts';
import { createCertificate } from '../src/domain/certificates.ts';
import { certificates, consumers } from '../src/db/schema.ts';
import { encodeCursor } from '../src/domain/paging.ts';
import { silentLogger } from '../src/log.ts';
import { sampleRss } from './rss.ts';
import { fmtMs, median, sleep, startSetUpHost, type Lab } from './lab.ts';
import type { SummaryRow } from './report.ts';
import { BY_CLI } from '../src/domain/audit.ts';

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
  'API: dashboard (attention, expiry timeline)',
  // Every series, one per certificate among them: its cost follows the number of certificates.
  'metrics: a scrape',
] as const;
export type ListRequest = (typeof LIST_REQUESTS)[number];

export interface ListsAt {
  count: number;
  /** Median latency (ms) of each request. */
  medianMs: Record<ListRequest, number>;
  rssMiB: number;
  /** How long making the certificates of this step took (domain layer, host stopped). */
  insertMs: number;
  /** The size of a /metrics answer, in bytes. */
  scrapeBytes: number;
}

export interface ListsResult {
  samples: number;
  runs: ListsAt[];
}

const nameOf = (i: number) => `bench-${String(i).padStart(5, '0')}`;

export async function runLists(lab: Lab, opts: { counts: number[]; samples: number }): Promise<ListsResult> {
  const env = { CERTKEEP_TICK_SECONDS: '60', CERTKEEP_LOG_LEVEL: 'info' };
  const counts = [...opts.counts].sort((a, b) => a - b);
  // One data directory per size, each set up and holding one real certificate (obtained on the
  // lab's httpPort, one host at a time), then filled through the domain layer.
  const sites: Array<{ count: number; dataDir: string; token: string; insertMs: number }> = [];
  for (const count of counts) {
    const { host, api } = await startSetUpHost(lab, `lists-${count}`, env);
    try {
      const created = await api.post('/api/v1/certificates', { name: REAL, domains: [`${REAL}-${randomBytes(4).toString('hex')}.example.com`] });
      if (created.status !== 201) throw new Error(`create: ${created.status} ${created.text}`);
      const issued = await api.post(`/api/v1/certificates/${REAL}/issue?wait=true`);
      if (issued.status !== 200) throw new Error(`issue: ${issued.status} ${issued.text}`);
    } finally {
      await host.stop();
    }
    const started = performance.now();
    await makeCertificates(host.dataDir, 0, count, REAL);
    sites.push({ count, dataDir: host.dataDir, token: api.token!, insertMs: performance.now() - started });
  }
  // Then every size served at once, and the requests sent to them in turn, so that whatever else
  // the machine does meanwhile weighs on each size alike.
  const hosts: NodeHostUnderTest[] = [];
  try {
    for (const site of sites) hosts.push(await startNodeHost({ dataDir: site.dataDir, env: { ...env, NODE_EXTRA_CA_CERTS: lab.ca.caCertPath } }));
    const clients = await Promise.all(hosts.map((host, i) => requestsOf(host, sites[i].token, sites[i].count)));
    const medianMs = await timeSideBySide(clients, opts.samples);
    const runs: ListsAt[] = [];
    for (const [i, site] of sites.entries()) {
      const rss = sampleRss(hosts[i].process.pid);
      await sleep(1000);
      runs.push({ count: site.count, medianMs: medianMs[i], rssMiB: Math.max(...rss.stop()), insertMs: site.insertMs, scrapeBytes: scrapeBytes.get(clients[i])?.['metrics: a scrape'] ?? 0 });
    }
    return { samples: opts.samples, runs };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- node host logs (tail) ---\n${hosts.map((h) => h.logs().slice(-1500)).join('\n')}`);
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }
}

const REAL = 'real';

/** Certificates `from`…`to - 1`, through the domain layer, then put in a fleet's states. */
async function makeCertificates(dataDir: string, from: number, to: number, realName: string): Promise<void> {
  const settings = await loadSettings({ CERTKEEP_DATA_DIR: dataDir });
  const core = await createNodeCore(settings, silentLogger);
  try {
    const { deps } = core;
    for (let i = from; i < to; i++) {
      await createCertificate(deps, BY_CLI, { name: nameOf(i), domains: [`www-${String(i).padStart(5, '0')}.bench.example.com`, `api-${String(i).padStart(5, '0')}.bench.example.com`], challenge: 'http-01' });
    }
    const [real] = await deps.db.db.select({ pem: certificates.pem, serial: certificates.serial }).from(certificates).where(eq(certificates.name, realName));
    if (!real?.pem) throw new Error(`no issued certificate named ${realName}`);
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
    // Two consumers for each issued one (two servers fetching it); 1% of them stale (behind a
    // renewal for two days, already told), 0.5% with a failed install.
    for (const [ip, slot] of [['192.0.2.1', 1], ['192.0.2.2', 2]] as const) {
      await deps.db.db.run(sql`insert into ${consumers} (id, certificate_id, api_key_slot, client_ip, fetched_serial, fetched_at, behind_since, stale_serial, installed, reload, reported_serial, reported_at, created_at, updated_at)
        select lower(hex(randomblob(12))), ${certificates.id}, ${slot}, ${ip}, ${certificates.serial}, ${now},
          case when ${i} % 100 = 21 then ${now - 2 * DAY} end, case when ${i} % 100 = 21 then ${certificates.serial} end,
          case when ${i} % 200 = 42 then 0 end, case when ${i} % 200 = 42 then 'skipped' end,
          case when ${i} % 200 = 42 then ${certificates.serial} end, case when ${i} % 200 = 42 then ${now} end, ${now}, ${now}
        from ${certificates} where ${range} and ${certificates.pem} is not null`);
    }
  } finally {
    core.db.close();
  }
}

type Requests = Record<ListRequest, () => Promise<number>>;

/** The size of the last answer of each request, per site. */
const scrapeBytes = new WeakMap<Requests, Partial<Record<ListRequest, number>>>();

/** Each request as a function that sends it once and answers its time in ms (checking the answer). */
async function requestsOf(host: NodeHostUnderTest, token: string, count: number): Promise<Requests> {
  const base = host.baseUrl;
  const login = await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ ...ADMIN, next: '/' }), redirect: 'manual' });
  const cookie = login.headers.get('set-cookie')?.split(';')[0];
  if (login.status !== 303 || !cookie) throw new Error(`sign-in failed: ${login.status}`);
  const middle = encodeURIComponent(encodeCursor('name', [nameOf(Math.floor(count / 2))]));
  // The last certificate's name: a search that reads the whole index to find its one match.
  const needle = `www-${String(count - 1).padStart(5, '0')}.bench`;
  const bearer = { authorization: `Bearer ${token}` };
  const page = { cookie };
  const paths: Record<ListRequest, [string, Record<string, string>]> = {
    'API: first page': ['/api/v1/certificates', bearer],
    'API: a middle page': [`/api/v1/certificates?cursor=${middle}`, bearer],
    'API: a search': [`/api/v1/certificates?q=${needle}`, bearer],
    'certificates page': ['/certificates', page],
    'certificates page: a middle page': [`/certificates?cursor=${middle}`, page],
    'certificates page: a search': [`/certificates?q=${needle}`, page],
    dashboard: ['/', page],
    'API: dashboard (attention, expiry timeline)': ['/api/v1/dashboard', bearer],
    // From the allow-list (loopback), as a Prometheus on the same machine scrapes.
    'metrics: a scrape': ['/metrics', {}],
  };
  const requests = {} as Requests;
  const bytes: Partial<Record<ListRequest, number>> = {};
  scrapeBytes.set(requests, bytes);
  for (const label of LIST_REQUESTS) {
    const [path, headers] = paths[label];
    requests[label] = async () => {
      const started = performance.now();
      const res = await fetch(base + path, { headers });
      const body = await res.text();
      const ms = performance.now() - started;
      if (res.status !== 200) throw new Error(`${label}: ${res.status} ${body.slice(0, 300)}`);
      if (label.includes('search') && !body.includes(needle)) throw new Error(`${label}: ${needle} not found`);
      if (label.startsWith('metrics') && !body.includes(`certkeep_certificate_expires_in_seconds{certificate="${nameOf(count - 1)}"}`)) throw new Error(`${label}: ${nameOf(count - 1)} not in the scrape`);
      bytes[label] = body.length;
      return ms;
    };
  }
  return requests;
}

/** Every request, WARMUP then `samples` times, alternating between the sizes; medians per size. */
async function timeSideBySide(sites: Requests[], samples: number): Promise<Array<Record<ListRequest, number>>> {
  const medians = sites.map(() => ({}) as Record<ListRequest, number>);
  for (const label of LIST_REQUESTS) {
    for (let i = 0; i < WARMUP; i++) for (const site of sites) await site[label]();
    const times = sites.map(() => [] as number[]);
    for (let i = 0; i < samples; i++) for (const [s, site] of sites.entries()) times[s].push(await site[label]());
    for (const [s] of sites.entries()) medians[s][label] = median(times[s]);
  }
  return medians;
}

export function printLists(result: ListsResult): void {
  console.log(`\nLists: median of ${result.samples} requests each (after ${WARMUP} to warm up), node host, default settings\n`);
  const header = ['request', ...result.runs.map((r) => `${r.count.toLocaleString('en-US')} certificates`)];
  const rows = LIST_REQUESTS.map((label) => [label, ...result.runs.map((r) => fmtMs(r.medianMs[label]))]);
  rows.push(['RSS after the requests', ...result.runs.map((r) => `${r.rssMiB.toFixed(1)} MiB`)]);
  rows.push(['making the certificates', ...result.runs.map((r) => fmtMs(r.insertMs))]);
  rows.push(['size of a /metrics answer', ...result.runs.map((r) => `${((r.scrapeBytes ?? 0) / 1024).toFixed(0)} KiB`)]);
  const widths = header.map((_, i) => Math.max(header[i].length, ...rows.map((row) => row[i].length)));
  for (const row of [header, ...rows]) console.log(row.map((c, i) => c.padEnd(widths[i])).join('  '));
}

/** Per request: ≤ 25 ms at the largest size and ≤ 2× the smallest; RSS ≤ +25 MiB. */
export function listRows(result: ListsResult): SummaryRow[] {
  const small = result.runs[0];
  const large = result.runs[result.runs.length - 1];
  if (!small || !large || small === large) return [];
  const rows: SummaryRow[] = LIST_REQUESTS.filter((label) => !label.startsWith('metrics')).map((label) => {
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
  // A scrape lists every certificate: it grows with them by nature; the target is an absolute one.
  const scrape = 'metrics: a scrape';
  rows.push({
    benchmark: `lists: /metrics scrape at ${large.count.toLocaleString('en-US')}`,
    certkeep: fmtMs(large.medianMs[scrape]),
    anchor: `at ${small.count}: ${fmtMs(small.medianMs[scrape])}`,
    ratio: `${(large.medianMs[scrape] / small.medianMs[scrape]).toFixed(2)}×`,
    target: '≤ 250 ms',
    met: large.medianMs[scrape] <= 250,
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
