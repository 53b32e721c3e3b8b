// Lists (SPEC §4.1) through the real app on a libSQL file: pages followed by their cursor cover
// every row once in each sort order; a bad `limit`, a cursor not ours or made for another sort, an
// unknown parameter are 400 problem documents naming the parameter; and every query the lists,
// the dashboard and the scheduler's due list send reads along an index — checked with EXPLAIN
// QUERY PLAN: no full scan of the certificates, no sort of all of them.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { drizzle } from 'drizzle-orm/libsql/sqlite3';
import { eq } from 'drizzle-orm';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import { createApp } from '../app.ts';
import * as schema from '../db/schema.ts';
import { acmeAccounts, certificates, settings } from '../db/schema.ts';
import { wrapDatabase, type Db } from '../db/client.ts';
import type { Deps } from '../deps.ts';
import { createCertificate } from './certificates.ts';
import { createAdminToken } from './tokens.ts';
import { createKey } from './keys.ts';
import { dashboardFigures, pageCertificates, parseCertificateListQuery } from './certificate-list.ts';
import { keyUsage, pageKeys, parseNameListQuery } from './lists.ts';
import { dueCertificates, nextDueTime } from '../jobs/scheduler.ts';
import { attention, expiryTimeline } from './dashboard.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';
import { BY_CLI } from './audit.ts';

const DAY = 86_400_000;

interface Fixture {
  opened: OpenedDatabase;
  deps: Deps;
  /** Every SQL statement sent since the last `sent.length = 0`. */
  sent: Array<{ sql: string; params: unknown[] }>;
  api(path: string): Promise<{ status: number; type: string | null; body: any }>;
}

async function fixture(): Promise<Fixture> {
  const opened = await openDatabase(`file:${makeTempDir('lists-')}/certkeep.db`);
  const sent: Fixture['sent'] = [];
  // The same database through a drizzle instance that records what it sends.
  const recording = drizzle(opened.client, { schema, logger: { logQuery: (query, params) => void sent.push({ sql: query, params }) } });
  const deps = await offlineDeps(wrapDatabase(recording as unknown as Db & { batch(s: unknown[]): Promise<unknown[]> }));
  const now = Date.now();
  await deps.db.db.insert(settings).values({ key: 'setupCompletedAt', value: String(now), updatedAt: now });
  await deps.db.db.insert(acmeAccounts).values({
    id: 'acct', name: 'default', directoryUrl: 'https://ca.example/dir', email: null, staging: false, termsOfServiceAgreed: true,
    accountUrl: 'https://ca.example/acct/1', status: 'valid', keyType: 'ec-p256', keySealed: 'unused', nextKeySealed: null, eabKid: null, createdAt: now, updatedAt: now,
  });
  const token = await createAdminToken(deps, BY_CLI, 'lists');
  const app = createApp(deps);
  return {
    opened,
    deps,
    sent,
    async api(path) {
      const res = await app.fetch(new Request(`http://127.0.0.1${path}`, { headers: { authorization: `Bearer ${token}` } }), { clientIp: '127.0.0.1', secure: false, waitUntil: () => {} });
      const text = await res.text();
      return { status: res.status, type: res.headers.get('content-type'), body: text ? JSON.parse(text) : null };
    },
  };
}

let f: Fixture;
beforeEach(async () => {
  f = await fixture();
});
afterEach(() => f.opened.close());

/** Certificates in several states: issued (expiring at different times), failing, never issued. */
async function seed(count: number): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const name = `c${String(i).padStart(3, '0')}`;
    await createCertificate(f.deps, BY_CLI, { name, domains: [`${name}.example.com`, `www.${name}.example.org`], challenge: 'http-01' });
    if (i % 4 === 3) continue; // never issued
    const notAfter = now + ((i * 7) % 90) * DAY;
    await f.deps.db.db
      .update(certificates)
      .set({ status: 'valid', pem: 'PEM', serial: String(i), notBefore: notAfter - 90 * DAY, notAfter, renewAt: notAfter - 30 * DAY, ...(i % 5 === 0 ? { lastError: '{"type":"about:blank"}', nextAttemptAt: now + DAY } : {}) })
      .where(eq(certificates.name, name));
  }
}

async function allPages(path: string): Promise<string[]> {
  const names: string[] = [];
  let next: string | null = null;
  for (let guard = 0; guard < 100; guard++) {
    const res = await f.api(`${path}${next ? `&cursor=${encodeURIComponent(next)}` : ''}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['items', 'next']);
    names.push(...res.body.items.map((c: { name: string }) => c.name));
    next = res.body.next;
    if (!next) return names;
  }
  throw new Error('no end of pages');
}

describe('list API', () => {
  it('pages through every certificate once, in each sort order', async () => {
    await seed(11);
    const byName = await allPages('/api/v1/certificates?limit=3');
    expect(byName).toEqual([...byName].sort());
    expect(byName).toHaveLength(11);
    expect(await allPages('/api/v1/certificates?limit=4&sort=-name')).toEqual([...byName].reverse());
    const all = (await f.api('/api/v1/certificates?limit=500')).body.items as Array<{ name: string; notAfter: string | null }>;
    const issued = all.filter((c) => c.notAfter).sort((a, b) => Date.parse(a.notAfter!) - Date.parse(b.notAfter!) || a.name.localeCompare(b.name));
    const never = all.filter((c) => !c.notAfter).map((c) => c.name).sort();
    expect(await allPages('/api/v1/certificates?limit=2&sort=expiry')).toEqual([...issued.map((c) => c.name), ...never]);
    expect(await allPages('/api/v1/certificates?limit=3&sort=-expiry')).toEqual([...issued.map((c) => c.name).reverse(), ...[...never].reverse()]);
    expect(await allPages('/api/v1/certificates?limit=2&q=WWW.C00')).toEqual(['c000', 'c001', 'c002', 'c003', 'c004', 'c005', 'c006', 'c007', 'c008', 'c009']);
    expect(await allPages('/api/v1/certificates?limit=1&status=failing')).toEqual(['c000', 'c005', 'c010']);
    // What is typed is looked for as it is: LIKE's wildcards are escaped.
    expect(await allPages('/api/v1/certificates?q=_')).toEqual([]);
    expect(await allPages('/api/v1/certificates?q=%25')).toEqual([]);
    // What is typed is looked for as it is: no wildcards.
    expect(await allPages('/api/v1/certificates?q=_')).toEqual([]);
    expect(await allPages('/api/v1/certificates?q=%25')).toEqual([]);
    // Every list answers the same shape.
    for (const path of ['/api/v1/keys?limit=2', '/api/v1/accounts?limit=1', '/api/v1/dns-providers?limit=1', '/api/v1/certificates/c001/orders?limit=1']) {
      const res = await f.api(path);
      expect(res.status, path).toBe(200);
      expect(Object.keys(res.body).sort(), path).toEqual(['items', 'next']);
    }
    expect(await allPages('/api/v1/keys?limit=4')).toHaveLength(11);
  });

  it('answers a bad limit, cursor, sort, status or an unknown parameter with a 400 naming it', async () => {
    await seed(3);
    const byName = (await f.api('/api/v1/certificates?limit=1')).body.next as string;
    const cases: Array<[string, string]> = [
      ['/api/v1/certificates?limit=0', 'limit'],
      ['/api/v1/certificates?limit=501', 'limit'],
      ['/api/v1/certificates?limit=ten', 'limit'],
      ['/api/v1/certificates?cursor=not-ours', 'cursor'],
      ['/api/v1/certificates?cursor=eyJzIjoibmFtZSJ9', 'cursor'],
      [`/api/v1/certificates?sort=expiry&cursor=${encodeURIComponent(byName)}`, 'cursor'],
      ['/api/v1/certificates?sort=size', 'sort'],
      ['/api/v1/certificates?status=valid,lost', 'status'],
      ['/api/v1/certificates?status=expiring&days=0', 'days'],
      ['/api/v1/certificates?page=2', 'page'],
      ['/api/v1/certificates?limit=1&limit=2', 'limit'],
      ['/api/v1/keys?limit=1000', 'limit'],
      ['/api/v1/keys?status=valid', 'status'],
      ['/api/v1/accounts?cursor=x', 'cursor'],
      ['/api/v1/dns-providers?sort=expiry', 'sort'],
      ['/api/v1/certificates/c001/orders?limit=-1', 'limit'],
    ];
    for (const [path, field] of cases) {
      const res = await f.api(path);
      expect(res.status, path).toBe(400);
      expect(res.type, path).toBe('application/problem+json');
      expect(res.body.field, path).toBe(field);
    }
  });

  it('shows key usage as one count per key, and the dashboard as aggregates', async () => {
    await seed(9);
    await createKey(f.deps, BY_CLI, 'spare', { type: 'ec-p256' });
    const keys = await pageKeys(f.deps, parseNameListQuery(new URLSearchParams('limit=500')));
    const usage = await keyUsage(f.deps, keys.items.map((k) => k.id));
    expect(usage.get(keys.items.find((k) => k.name === 'c004')!.id)).toEqual({ count: 1, first: 'c004' });
    expect(usage.get(keys.items.find((k) => k.name === 'spare')!.id)).toBeUndefined();
    const figures = await dashboardFigures(f.deps);
    expect(figures.counts).toMatchObject({ new: 2, valid: 6, expired: 1 }); // c000 expires as it is made
    expect(figures.failing).toBe(2);
    expect(figures.expiring.map((c) => c.notAfter)).toEqual([...figures.expiring.map((c) => c.notAfter)].sort((a, b) => a! - b!));
  });
});

describe('the due list', () => {
  it('puts ARI renewals first, then renewals closest to expiry, then new certificates, the oldest first', async () => {
    const now = Date.now();
    for (const name of ['new-old', 'new-young', 'renew-late', 'renew-soon', 'ari', 'not-due']) {
      await createCertificate(f.deps, BY_CLI, { name, domains: [`${name}.example.com`], challenge: 'http-01' });
    }
    const set = (name: string, values: Partial<typeof certificates.$inferInsert>) => f.deps.db.db.update(certificates).set(values).where(eq(certificates.name, name));
    await set('new-old', { createdAt: now - 60_000 });
    const issued = (notAfter: number, renewAt: number) => ({ status: 'valid' as const, pem: 'PEM', notBefore: notAfter - 90 * DAY, notAfter, renewAt });
    await set('renew-late', issued(now + 20 * DAY, now - DAY));
    await set('renew-soon', issued(now + 5 * DAY, now - 1000));
    await set('ari', { ...issued(now + 40 * DAY, now - 1000), ariWindowStart: now - DAY, ariWindowEnd: now + DAY });
    await set('not-due', issued(now + 60 * DAY, now + DAY));
    const names = new Map((await f.deps.db.db.select({ id: certificates.id, name: certificates.name }).from(certificates)).map((r) => [r.id, r.name]));
    expect((await dueCertificates(f.deps, 10)).map((c) => names.get(c.id))).toEqual(['ari', 'renew-soon', 'renew-late', 'new-old', 'new-young']);
  });
});

describe('query plans', () => {
  /** The plan of every statement sent by `run`, as EXPLAIN QUERY PLAN words it. */
  async function plansOf(run: () => Promise<unknown>): Promise<Array<{ sql: string; plan: string[] }>> {
    f.sent.length = 0;
    await run();
    const plans = [];
    for (const { sql, params } of f.sent.filter((s) => /^\s*(select|with)\b/i.test(s.sql))) {
      const rows = (await f.opened.client.execute({ sql: `explain query plan ${sql}`, args: params as never })).rows;
      plans.push({ sql, plan: rows.map((r) => String(r.detail)) });
    }
    return plans;
  }

  const fullScan = (line: string) => /^SCAN certificates$/.test(line) || /^SCAN (c|certificates) (?!USING)/.test(line);

  it('read lists, dashboard and due list along indexes, never all certificates', async () => {
    await seed(40);
    const queries: Array<[string, () => Promise<unknown>, { sorted?: boolean }]> = [
      ['first page by name', () => pageCertificates(f.deps, parseCertificateListQuery(new URLSearchParams('limit=10'))), { sorted: false }],
      ['a later page by name', async () => {
        const first = await pageCertificates(f.deps, parseCertificateListQuery(new URLSearchParams('limit=10')));
        return pageCertificates(f.deps, parseCertificateListQuery(new URLSearchParams({ limit: '10', cursor: first.next! })));
      }, { sorted: false }],
      ['by expiry', () => pageCertificates(f.deps, parseCertificateListQuery(new URLSearchParams('limit=10&sort=expiry'))), { sorted: false }],
      ['latest expiry first', () => pageCertificates(f.deps, parseCertificateListQuery(new URLSearchParams('limit=10&sort=-expiry'))), { sorted: false }],
      ['failing', () => pageCertificates(f.deps, parseCertificateListQuery(new URLSearchParams('limit=10&status=failing'))), { sorted: false }],
      ['new', () => pageCertificates(f.deps, parseCertificateListQuery(new URLSearchParams('limit=10&status=new'))), { sorted: false }],
      ['expiring, soonest first', () => pageCertificates(f.deps, parseCertificateListQuery(new URLSearchParams('limit=10&status=expiring&sort=expiry'))), { sorted: false }],
      ['search', () => pageCertificates(f.deps, parseCertificateListQuery(new URLSearchParams('limit=10&q=c01'))), {}],
      ['dashboard', () => dashboardFigures(f.deps), { sorted: false }],
      ['due list', () => dueCertificates(f.deps, 8), {}],
      ['next due time', () => nextDueTime(f.deps, Date.now()), {}],
    ];
    for (const [label, run, opts] of queries) {
      for (const { sql, plan } of await plansOf(run)) {
        if (!/"certificates"/.test(sql)) continue;
        const where = `${label}: ${sql}\n${plan.join('\n')}`;
        if (process.env.SHOW_PLANS) console.log(`${label}\n  ${plan.join('\n  ')}`);
        expect(plan.some(fullScan), where).toBe(false);
        if (opts.sorted === false) expect(plan.some((l) => l.includes('TEMP B-TREE')), where).toBe(false);
      }
    }
    // The due list starts from its candidates, not from every certificate of the account.
    for (const { plan } of await plansOf(() => dueCertificates(f.deps, 8))) expect(plan.join('\n')).not.toMatch(/certificates_account|SCAN certificates\n/);
    // The dashboard's attention counts and expiry timeline: index ranges, the timeline one per
    // week of the covering index (no row with its PEM read, no sort).
    const timeline = await plansOf(() => expiryTimeline(f.deps));
    const weeks = timeline.find((p) => /with recursive weeks/.test(p.sql))!;
    expect(weeks.plan.filter((l) => /SEARCH certificates USING COVERING INDEX certificates_timeline \(status=\? AND not_after>\? AND not_after<\?\)/.test(l))).toHaveLength(1);
    expect(weeks.plan.join('\n')).not.toMatch(/TEMP B-TREE|SCAN certificates/);
    for (const { sql, plan } of await plansOf(() => attention(f.deps))) {
      if (/"certificates"/.test(sql)) expect(plan.some(fullScan), `${sql}\n${plan.join('\n')}`).toBe(false);
    }
    // The search walks the narrow (name, domains) index, not the rows with their PEM.
    const search = await plansOf(() => pageCertificates(f.deps, parseCertificateListQuery(new URLSearchParams('limit=10&q=c01'))));
    expect(search[0].plan.join('\n')).toMatch(/COVERING INDEX certificates_search/);
  });
});
