// What the dashboard puts first (issue 12 item 4): what needs attention — failing renewals,
// certificates expiring soon, stale consumers, failed installs, tracked problems — and the expiry
// timeline: the certificates served, by the week they expire in over the next 90 days, each
// either with its renewal planned in time or at risk. Every figure is an aggregate the database
// computes along an index (the timeline: counts per week over ranges of the covering index
// certificates_timeline), so the page costs about the same at 10,000 certificates as at 100.
//
// At risk, for a certificate expiring in the timeline's range (RISK_RULE says it in words):
//   - its last attempt failed (lastError set: failing), or
//   - the CA asked Certkeep to pause its ACME account (no new order until the pause ends), or
//   - its renewal is not planned before notAfter minus a margin: renewAt is null, or later than
//     notAfter − min(7 days, a sixth of its lifetime). The default plan (a third of the lifetime
//     left), renewDays (10 days or more) and the CA's ARI window all come well before that; a
//     renewal planned later leaves no time to notice and fix a failure.
import { gt, isNotNull, sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { acmeAccounts, certificates, trackingTargets } from '../db/schema.ts';
import { consumerCounts, staleRule } from './consumers.ts';
import { countCertificates } from './certificate-list.ts';
import { countTrackingProblems } from './tracking/list.ts';

const DAY = 86_400_000;
export const WEEK = 7 * DAY;
/** The timeline covers the weeks of the next this many days. */
export const TIMELINE_DAYS = 90;
/** A renewal planned later than this before expiry (at most; a sixth of the lifetime for short-lived certificates) is at risk. */
export const RISK_MARGIN_MS = 7 * DAY;
/** "Expiring soon" on the attention list: certificates served that expire within this many days. */
export const ATTENTION_EXPIRING_DAYS = 14;

export const RISK_RULE =
  'at risk: the last attempt failed, the CA paused the ACME account, or the renewal is not planned at least 7 days (a sixth of the lifetime for shorter certificates) before expiry';

export interface Attention {
  /** Certificates whose last attempt failed. */
  failing: number;
  /** Served certificates expiring within ATTENTION_EXPIRING_DAYS. */
  expiringSoon: number;
  expiringDays: number;
  /** Consumers behind the current serial for `staleHours` or more. */
  staleConsumers: number;
  staleHours: number;
  /** Consumers whose latest agent report says the install failed. */
  failedInstalls: number;
  /** Tracked targets with a problem (unreachable, untrusted chain, name mismatch). */
  trackedProblems: number;
}

/** The counts of the attention list: a handful of index counts. */
export async function attention(deps: Deps): Promise<Attention> {
  const c = certificates;
  const db = deps.db.db;
  const rule = await staleRule(deps);
  const [[failing], expiring, consumersNow, tracked] = await Promise.all([
    db.select({ n: sql<number>`count(*)` }).from(c).where(isNotNull(c.lastError)),
    // What /certificates?status=expiring&days=14 lists: a range of the expiry index.
    countCertificates(deps, { status: ['expiring'], days: ATTENTION_EXPIRING_DAYS }),
    consumerCounts(deps, rule),
    countTrackingProblems(deps),
  ]);
  return {
    failing: failing?.n ?? 0,
    expiringSoon: expiring,
    expiringDays: ATTENTION_EXPIRING_DAYS,
    staleConsumers: consumersNow.stale,
    staleHours: rule.staleHours,
    failedInstalls: consumersNow.failed,
    trackedProblems: tracked,
  };
}


export interface TimelineWeek {
  /** Monday 00:00 UTC of the week, ms. */
  start: number;
  /** Issued certificates expiring in the week. */
  expiring: number;
  /** Of those, the ones whose renewal is planned in time. */
  planned: number;
  /** Of those, the ones at risk (RISK_RULE). */
  atRisk: number;
  /** Tracked certificates (servers, uploads) expiring in the week. */
  tracked: number;
}

export interface Timeline {
  /** From now… */
  from: number;
  /** …to the end of the last week shown. */
  until: number;
  weeks: TimelineWeek[];
}

/** Monday 00:00 UTC of the week `t` falls in. */
export function weekStart(t: number): number {
  const d = new Date(t);
  const midnight = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return midnight - ((d.getUTCDay() + 6) % 7) * DAY;
}

/**
 * The expiry timeline: from this week to the week TIMELINE_DAYS from now, how many served
 * certificates expire in each (already expired ones are not in it), split into renewal planned
 * and at risk. One statement: the weeks as a recursive CTE, and for each week both counts from
 * one walk over that week's range of the covering index certificates_timeline (status,
 * not_after, …). Not a GROUP BY: SQLite sorts every row of the range first, which at 10,000
 * certificates measured 9.3 ms against 1.4 ms for week ranges (side by side, loaded machine);
 * and not a UNION of week SELECTs, of which D1 refuses more than five.
 */
export async function expiryTimeline(deps: Deps): Promise<Timeline> {
  const now = deps.now();
  const first = weekStart(now);
  const count = Math.floor((now + TIMELINE_DAYS * DAY - first) / WEEK) + 1;
  const until = first + count * WEEK;
  const c = certificates;
  const paused = await deps.db.db.select({ id: acmeAccounts.id }).from(acmeAccounts).where(gt(acmeAccounts.pausedUntil, now));
  const margin = sql`min(${RISK_MARGIN_MS}, (${c.notAfter} - ${c.notBefore}) / 6)`;
  const pausedTerm = paused.length ? sql` or ${c.accountId} in (${sql.join(paused.map((a) => sql`${a.id}`), sql`, `)})` : sql``;
  const risk = sql`${c.lastError} is not null or ${c.renewAt} is null or ${c.renewAt} > ${c.notAfter} - ${margin}${pausedTerm}`;
  const inWeek = sql`${c.status} = 'valid' and ${c.notAfter} >= weeks.lo and ${c.notAfter} < weeks.hi`;
  // Both counts from one walk of the week's range: json_array carries the pair out of the subquery.
  const rows = await deps.db.db.all<{ week: number; counts: string }>(sql`
    with recursive weeks(week, lo, hi) as (
      select 0, ${now + 1}, ${first + WEEK}
      union all select week + 1, hi, hi + ${WEEK} from weeks where week < ${count - 1}
    )
    select week, (select json_array(count(*), coalesce(sum(case when ${risk} then 1 else 0 end), 0)) from ${c} where ${inWeek}) as counts
    from weeks`);
  const tracked = await trackedExpiriesByWeek(deps, now, first, count);
  const weeks: TimelineWeek[] = Array.from({ length: count }, (_, i) => ({ start: first + i * WEEK, expiring: 0, planned: 0, atRisk: 0, tracked: tracked[i] }));
  for (const r of rows) {
    const w = weeks[r.week];
    if (!w) continue;
    [w.expiring, w.atRisk] = JSON.parse(r.counts) as [number, number];
    w.planned = w.expiring - w.atRisk;
  }
  return { from: now, until, weeks };
}

/**
 * Tracked certificates (servers and uploads; an issued one is the certificate itself, counted
 * above) expiring per week, the same weeks as the timeline: one statement, each week one range
 * of the tracking_expiry index.
 */
export async function trackedExpiriesByWeek(deps: Deps, now: number, firstWeek: number, weeks: number): Promise<number[]> {
  const t = trackingTargets;
  const rows = await deps.db.db.all<{ week: number; n: number }>(sql`
    with recursive weeks(week, lo, hi) as (
      select 0, ${now + 1}, ${firstWeek + WEEK}
      union all select week + 1, hi, hi + ${WEEK} from weeks where week < ${weeks - 1}
    )
    select week, (select count(*) from ${t} where ${t.expiryKey} >= weeks.lo and ${t.expiryKey} < weeks.hi and ${t.source} <> 'issued') as n
    from weeks`);
  const counts = new Array<number>(weeks).fill(0);
  for (const r of rows) if (r.week < weeks) counts[r.week] = Number(r.n);
  return counts;
}

/** The API twin of the dashboard's first parts (GET /api/v1/dashboard). */
export function dashboardApiView(a: Attention, t: Timeline) {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    attention: a,
    timeline: {
      from: iso(t.from),
      until: iso(t.until),
      atRisk: RISK_RULE,
      weeks: t.weeks.map((w) => ({ start: iso(w.start), expiring: w.expiring, planned: w.planned, atRisk: w.atRisk, tracked: w.tracked })),
    },
  };
}

