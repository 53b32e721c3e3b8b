// The dashboard's first parts through the real app on a libSQL file, signed in: the attention list
// (each count what its linked list holds), the expiry timeline as SVG (parsed: one group per week
// of the next 90 days, the numbers of each week right, bar heights in proportion, no inline style)
// and its table, GET /api/v1/dashboard with the same numbers; the staleHours setting (page and
// API) and the consumers page it links to.
import { BY_CLI } from '../../domain/audit.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { acmeAccounts, certificates, consumers, trackingTargets } from '../../db/schema.ts';
import { createCertificate } from '../../domain/certificates.ts';
import { createAdminToken } from '../../domain/tokens.ts';
import { newId } from '../../domain/secrets.ts';
import { TIMELINE_DAYS, WEEK, weekStart } from '../../domain/dashboard.ts';
import { CHART, barHeight, weekWords } from '../../../templates/dashboard.ts';
import { signedInPageApp, type PageApp } from '../../../test/harness/page-app.ts';
import { decode, fieldErrorText, unlabelledControls } from '../../../test/harness/markup.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;

let f: PageApp;
let now: number;
beforeEach(async () => {
  f = await signedInPageApp('dashboard');
  // The clock stands still for the test (the weeks must not move under it).
  now = Date.now();
  f.deps.now = () => now;
});
afterEach(() => f.close());

interface Seed {
  name: string;
  notAfter: number;
  lifetime?: number;
  /** Renewal planned this long before expiry (null: none planned). */
  renewBefore?: number | null;
  failing?: boolean;
  account?: string;
  status?: 'valid' | 'revoked';
}

async function seed(list: Seed[]) {
  await f.deps.db.db.insert(acmeAccounts).values({
    id: 'paused-acct', name: 'paused', directoryUrl: 'https://ca.example/dir', email: null, staging: false, termsOfServiceAgreed: true,
    accountUrl: 'https://ca.example/acct/2', status: 'valid', keyType: 'ec-p256', keySealed: 'unused', nextKeySealed: null, eabKid: null,
    pausedUntil: now + DAY, pauseProblem: JSON.stringify({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many' }), createdAt: now, updatedAt: now,
  });
  for (const s of list) {
    await createCertificate(f.deps, BY_CLI, { name: s.name, domains: [`${s.name}.example.com`], challenge: 'http-01', account: s.account });
    const lifetime = s.lifetime ?? 90 * DAY;
    await f.deps.db.db
      .update(certificates)
      .set({
        status: s.status ?? 'valid',
        pem: 'PEM',
        serial: 'aa01',
        notBefore: s.notAfter - lifetime,
        notAfter: s.notAfter,
        renewAt: s.renewBefore === null ? null : s.notAfter - (s.renewBefore ?? lifetime / 3),
        ...(s.failing ? { lastError: JSON.stringify({ type: 'urn:ietf:params:acme:error:connection', detail: 'refused' }), failureCount: 1 } : {}),
      })
      .where(eq(certificates.name, s.name));
  }
}

/** The middle of week `i` of the timeline (week 0: halfway between now and its end). */
const inWeek = (i: number) => (i === 0 ? now + (weekStart(now) + WEEK - now) / 2 : weekStart(now) + i * WEEK + 3.5 * DAY);

describe('the dashboard', () => {
  it('puts what needs attention first, each count linked to the list that holds it', async () => {
    await seed([
      { name: 'fails', notAfter: inWeek(2), failing: true },
      { name: 'soon', notAfter: now + 10 * DAY },
      { name: 'later', notAfter: now + 40 * DAY },
    ]);
    await createCertificate(f.deps, BY_CLI, { name: 'never', domains: ['never.example.com'], challenge: 'http-01' });
    await f.deps.db.db.update(certificates).set({ lastError: '{"type":"about:blank"}' }).where(eq(certificates.name, 'never'));
    const [cert] = await f.deps.db.db.select().from(certificates).where(eq(certificates.name, 'soon'));
    const consumer = (ip: string, fields: Partial<typeof consumers.$inferInsert>) => ({ id: newId(), certificateId: cert.id, apiKeySlot: 1, clientIp: ip, createdAt: now, updatedAt: now, ...fields });
    await f.deps.db.db.insert(consumers).values([
      consumer('192.0.2.1', { fetchedSerial: 'aa00', behindSince: now - 25 * HOUR }),
      consumer('192.0.2.2', { fetchedSerial: 'aa00', behindSince: now - HOUR }),
      consumer('192.0.2.3', { fetchedSerial: 'aa01', reportedSerial: 'aa01', reportedAt: now, installed: false, reload: 'skipped' }),
      consumer('192.0.2.4', { fetchedSerial: 'aa01' }),
    ]);

    const res = await f.call('/');
    expect(res.status).toBe(200);
    const items = [...res.text.matchAll(/<li class="attention-item( attention-bad)?"><a href="([^"]+)"><strong class="attention-count">(\d+)<\/strong> ([^<]+)<\/a>/g)].map((m) => [
      decode(m[2]),
      Number(m[3]),
      m[4],
      !!m[1],
    ]);
    expect(items).toEqual([
      ['/certificates?status=failing', 2, 'failing renewals', true],
      ['/certificates?status=expiring&days=14', 1, 'certificate expiring within 14 days', true],
      ['/consumers?status=stale', 1, 'stale consumer', true],
      ['/consumers?status=failed', 1, 'failed install', true],
      ['/tracking?status=problems', 0, 'tracked servers with a problem', false],
    ]);
    // Attention comes before everything else but a CA's pause (none here).
    expect(res.text.indexOf('id="attention"')).toBeLessThan(res.text.indexOf('id="timeline"'));
    expect(res.text.indexOf('id="timeline"')).toBeLessThan(res.text.indexOf('id="by-state"'));

    // Each link leads to a list holding as many.
    const listed = async (path: string, row: RegExp) => [...(await f.call(path)).text.matchAll(row)].length;
    expect(await listed('/certificates?status=failing', /<td data-label="Certificate">/g)).toBe(2);
    expect(await listed('/certificates?status=expiring&days=14', /<td data-label="Certificate">/g)).toBe(1);
    const stale = await f.call('/consumers?status=stale');
    expect(stale.status).toBe(200);
    expect([...stale.text.matchAll(/<code>(192\.0\.2\.\d)<\/code>/g)].map((m) => m[1])).toEqual(['192.0.2.1']);
    expect((await f.call('/consumers?status=failed')).text).toContain('<code>192.0.2.3</code>');
    expect([...(await f.call('/consumers')).text.matchAll(/<code>(192\.0\.2\.\d)<\/code>/g)]).toHaveLength(4);
    expect((await f.call('/consumers?status=lost')).status).toBe(400);
    // The certificate's page says who is stale.
    const page = await f.call('/certificates/soon');
    expect(decode(page.text.replace(/<[^>]+>/g, ''))).toContain('1 stale: it has not fetched the current serial 24 hours or more after the renewal');
  });

  it('says plainly when nothing needs attention', async () => {
    const res = await f.call('/');
    expect(res.text).toContain('<p class="muted" id="attention-summary">Nothing needs attention.</p>');
    expect([...res.text.matchAll(/class="attention-item attention-bad"/g)]).toHaveLength(0);
  });

  it('draws the expiry timeline as SVG: a group per week of the next 90 days, the numbers of each week, bars in proportion, no inline style', async () => {
    const seeds: Seed[] = [
      { name: 'w0-due', notAfter: inWeek(0), renewBefore: 30 * DAY },
      { name: 'w0-short', notAfter: inWeek(0) - HOUR, lifetime: 6 * DAY, renewBefore: 2 * DAY }, // a sixth of 6 days is 1 day: planned
      { name: 'w2-a', notAfter: inWeek(2) },
      { name: 'w2-b', notAfter: inWeek(2) + HOUR },
      { name: 'w2-failing', notAfter: inWeek(2) + 2 * HOUR, failing: true },
      { name: 'w2-c', notAfter: inWeek(2) + 3 * HOUR },
      { name: 'w5-late', notAfter: inWeek(5), renewBefore: 3 * DAY },
      { name: 'w5-paused', notAfter: inWeek(5) + HOUR, account: 'paused' },
      { name: 'w5-unplanned', notAfter: inWeek(5) + 2 * HOUR, renewBefore: null },
      { name: 'w9', notAfter: inWeek(9) },
      { name: 'beyond', notAfter: now + 130 * DAY },
      { name: 'expired', notAfter: now - DAY },
      { name: 'revoked', notAfter: inWeek(3), status: 'revoked' },
    ];
    await seed(seeds);
    await createCertificate(f.deps, BY_CLI, { name: 'never', domains: ['never.example.com'], challenge: 'http-01' });

    const weeks = Math.floor((now + TIMELINE_DAYS * DAY - weekStart(now)) / WEEK) + 1;
    expect(weeks === 13 || weeks === 14).toBe(true);
    const expected = Array.from({ length: weeks }, () => ({ expiring: 0, atRisk: 0 }));
    const add = (week: number, atRisk: boolean) => {
      expected[week].expiring++;
      if (atRisk) expected[week].atRisk++;
    };
    [[0, false], [0, false], [2, false], [2, false], [2, true], [2, false], [5, true], [5, true], [5, true], [9, false]].forEach(([w, r]) => add(w as number, r as boolean));

    const res = await f.call('/');
    expect(res.status).toBe(200);
    expect(res.text).not.toMatch(/\sstyle=|<style|<script(?! src)/);
    const svg = /<svg class="timeline-chart"[\s\S]*?<\/svg>/.exec(res.text)![0];
    expect(svg).toMatch(/^<svg class="timeline-chart" role="img" aria-labelledby="timeline-title timeline-desc" viewBox="0 0 \d+ \d+"/);
    expect(decode(/<desc id="timeline-desc">([^<]*)<\/desc>/.exec(svg)![1])).toBe(
      `10 certificates expire in the ${weeks} weeks shown; 4 of them at risk. The busiest week is the week of ${new Date(weekStart(now) + 2 * WEEK).getUTCDate()} ${new Date(weekStart(now) + 2 * WEEK).toUTCString().slice(8, 11)}, with 4.`,
    );

    const groups = [...svg.matchAll(/<g class="week" data-start="([\d-]+)" data-expiring="(\d+)" data-planned="(\d+)" data-at-risk="(\d+)" data-tracked="0"><title>([^<]*)<\/title>([\s\S]*?)<\/g>/g)];
    expect(groups).toHaveLength(weeks);
    const max = Math.max(...expected.map((w) => w.expiring));
    groups.forEach((g, i) => {
      const start = weekStart(now) + i * WEEK;
      const want = expected[i];
      expect(g[1], `week ${i}`).toBe(new Date(start).toISOString().slice(0, 10));
      expect([Number(g[2]), Number(g[3]), Number(g[4])], `week ${i}`).toEqual([want.expiring, want.expiring - want.atRisk, want.atRisk]);
      expect(decode(g[5])).toBe(weekWords({ start, expiring: want.expiring, planned: want.expiring - want.atRisk, atRisk: want.atRisk, tracked: 0 }));
      const height = (cls: string) => Number(new RegExp(`<rect class="${cls}" x="[\\d.]+" y="[\\d.]+" width="\\d+" height="(\\d+)"/>`).exec(g[6])?.[1] ?? 0);
      expect(height('bar-planned') + height('bar-risk'), `week ${i}`).toBe(barHeight(want.expiring, max));
      expect(height('bar-risk') > 0, `week ${i}`).toBe(want.atRisk > 0);
      expect(/<text class="bar-count"[^>]*>(\d+)<\/text>/.exec(g[6])![1]).toBe(String(want.expiring));
    });
    expect(Math.max(...groups.map((g) => Number(/class="bar-(?:planned|risk)"[^>]*height="(\d+)"/.exec(g[6])?.[1] ?? 0)))).toBeLessThanOrEqual(CHART.height);

    // The same numbers as a table, and through the API.
    const tableRows = [...res.text.matchAll(/<tr><td data-label="Week of">([\d-]+)<\/td><td class="numeric" data-label="Expiring">(\d+)<\/td><td class="numeric" data-label="Renewal planned">(\d+)<\/td><td class="numeric" data-label="At risk">(\d+)<\/td><td class="numeric" data-label="Tracked">0<\/td><\/tr>/g)];
    expect(tableRows.map((m) => [Number(m[2]), Number(m[4])])).toEqual(expected.map((w) => [w.expiring, w.atRisk]));
    const token = await createAdminToken(f.deps, BY_CLI, 'dashboard');
    const api = await f.call('/api/v1/dashboard', { headers: { authorization: `Bearer ${token}` } }, false);
    expect(api.status).toBe(200);
    const body = JSON.parse(api.text);
    expect(body.timeline.weeks.map((w: any) => [w.expiring, w.planned, w.atRisk])).toEqual(expected.map((w) => [w.expiring, w.expiring - w.atRisk, w.atRisk]));
    expect(body.timeline.weeks[0].start).toBe(new Date(weekStart(now)).toISOString());
    expect(body.attention).toMatchObject({ failing: 1, staleConsumers: 0, failedInstalls: 0, trackedProblems: 0, staleHours: 24 });
  });
});

describe('tracked certificates on the dashboard', () => {
  it('counts tracked servers with a problem and draws tracked expiries beside each week (servers and uploads; issued ones are the certificates themselves)', async () => {
    const inWeek3 = weekStart(now) + 3 * WEEK + 2 * DAY;
    const target = (source: 'url' | 'upload' | 'issued', notAfter: number, problem = false) => ({
      id: newId(), source, expiryKey: notAfter, notAfter, subjectKey: `${source}.example.com`, problems: problem ? 'unreachable' : null, problemRank: problem ? 0 : 1, createdAt: now, updatedAt: now,
      ...(source === 'url' ? { target: `${problem ? 'down' : 'up'}.example.com:443` } : {}),
    });
    await f.deps.db.db.insert(trackingTargets).values([
      target('url', inWeek3, true),
      target('upload', inWeek3 + HOUR),
      target('issued', inWeek3 + 2 * HOUR),
      target('upload', now - DAY),
      target('url', now + 200 * DAY),
    ]);
    const token = await createAdminToken(f.deps, BY_CLI, 'tracked');
    const api = JSON.parse((await f.call('/api/v1/dashboard', { headers: { authorization: `Bearer ${token}` } }, false)).text);
    expect(api.attention.trackedProblems).toBe(1);
    expect(api.timeline.weeks.map((w: any) => w.tracked)).toEqual(api.timeline.weeks.map((_: unknown, i: number) => (i === 3 ? 2 : 0)));

    const res = await f.call('/');
    expect(res.text).toContain('<a href="/tracking?status=problems"><strong class="attention-count">1</strong> tracked server with a problem</a>');
    const problems = (await f.call('/tracking?status=problems')).text;
    expect([problems.includes('down.example.com:443'), problems.includes('up.example.com:443')]).toEqual([true, false]);
    const week3 = [...res.text.matchAll(/<g class="week"[^>]*data-tracked="(\d+)"><title>([^<]*)<\/title>([\s\S]*?)<\/g>/g)][3];
    expect(week3[1]).toBe('2');
    expect(decode(week3[2])).toMatch(/no certificate expires; 2 tracked on servers or uploaded$/);
    expect(week3[3]).toMatch(new RegExp(`<rect class="bar-tracked" x="[\\d.]+" y="[\\d.]+" width="${CHART.tracked}" height="${CHART.height}"/>`));
  });
});

describe('the staleHours setting', () => {
  const post = (path: string, form: Record<string, string>) =>
    f.call(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...form, _csrf: f.csrf }).toString() });

  it('is set on the settings page and through the API, refused out of range with the field named', async () => {
    const page = await f.call('/settings');
    expect(page.text).toMatch(/<input[^>]*name="staleHours"[^>]*value="24"/);
    expect(unlabelledControls(page.text)).toEqual([]);
    const bad = await post('/settings/consumers', { staleHours: '0' });
    expect(bad.status).toBe(400);
    expect(fieldErrorText(bad.text, 'field-staleHours')).toBe('Enter a whole number of hours from 1 to 720.');
    const saved = await post('/settings/consumers', { staleHours: '6' });
    expect(saved.status).toBe(303);
    expect((await f.call('/settings')).text).toMatch(/<input[^>]*name="staleHours"[^>]*value="6"/);

    const token = await createAdminToken(f.deps, BY_CLI, 'settings');
    const api = (method: string, body?: unknown) =>
      f.call('/api/v1/settings', { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined }, false);
    expect(JSON.parse((await api('GET')).text).staleHours).toBe(6);
    const refused = await api('PUT', { staleHours: 721 });
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.text).field).toBe('staleHours');
    expect(JSON.parse((await api('PUT', { staleHours: 48 })).text).staleHours).toBe(48);
    expect(JSON.parse((await api('PUT', { staleHours: null })).text).staleHours).toBe(24);
  });
});
