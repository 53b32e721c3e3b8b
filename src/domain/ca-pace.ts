// The CA's pace (SPEC §7: "the CA's rate limits pace the orders of that CA; nothing is retried in
// a tight loop"). Two rules, both per ACME account — an account is one directory URL and one
// account at that CA:
//   - a pause: the CA answered `rateLimited`, or 429/503 with Retry-After; no new order for that
//     account until then (stored on the account, so every host on the database honours it);
//   - pacing (optional): at most `maxOrdersPerHour` orders placed in any hour, so that a large
//     import drains at the CA's pace instead of failing en masse.
// The scheduler starts orders only for the accounts `orderableAccounts` returns, and a scheduled
// order's row is written only under the same condition (`mayOrderNow`, in recordPlacing).
import { and, eq, gt, isNotNull, isNull, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { acmeAccounts, orders } from '../db/schema.ts';
import { AcmeProblemError, type AcmeProblem } from '../acme/index.ts';

const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

/** A `rateLimited` problem that names no Retry-After pauses the account this long. */
export const DEFAULT_RATE_LIMIT_PAUSE_MS = 10 * MINUTE;
/** …and a Retry-After beyond this is capped (a CA's typo must not stop renewals for a month). */
export const MAX_PAUSE_MS = 7 * 24 * HOUR;

/** The largest maxOrdersPerHour accepted. */
export const MAX_ORDERS_PER_HOUR = 100_000;

export interface CaPause {
  until: number;
  problem: AcmeProblem | null;
}

/**
 * Whether this failure means "the CA asks us to slow down", and until when: a `rateLimited`
 * problem (with or without Retry-After), or a 429/503 that names a Retry-After.
 */
export function pauseOf(err: unknown, now: number): { until: number; problem: AcmeProblem } | null {
  if (!(err instanceof AcmeProblemError)) return null;
  const rateLimited = err.is('rateLimited');
  const status = err.status ?? err.problem.status;
  const retryAfter = err.retryAfterMs;
  if (!rateLimited && !((status === 429 || status === 503) && retryAfter !== undefined)) return null;
  const wait = Math.min(MAX_PAUSE_MS, Math.max(0, retryAfter ?? DEFAULT_RATE_LIMIT_PAUSE_MS));
  return { until: now + wait, problem: err.problem };
}

/** Stores a pause on the account (a later end already stored stays); returns the pause's end. */
export async function pauseAccount(deps: Deps, accountId: string, pause: { until: number; problem: AcmeProblem }): Promise<number> {
  await deps.db.db
    .update(acmeAccounts)
    .set({ pausedUntil: pause.until, pauseProblem: JSON.stringify(pause.problem), updatedAt: deps.now() })
    .where(and(eq(acmeAccounts.id, accountId), or(isNull(acmeAccounts.pausedUntil), lte(acmeAccounts.pausedUntil, pause.until))));
  const [row] = await deps.db.db.select({ until: acmeAccounts.pausedUntil }).from(acmeAccounts).where(eq(acmeAccounts.id, accountId)).limit(1);
  const until = Math.max(pause.until, row?.until ?? 0);
  deps.log.warn('the CA asked to pause new orders', { accountId, until: new Date(until).toISOString(), problemType: pause.problem.type });
  return until;
}

/** The account's pause while it lasts, else null. */
export function activePause(row: { pausedUntil: number | null; pauseProblem: string | null }, now: number): CaPause | null {
  if (row.pausedUntil === null || row.pausedUntil <= now) return null;
  return { until: row.pausedUntil, problem: row.pauseProblem ? (JSON.parse(row.pauseProblem) as AcmeProblem) : null };
}

/** Refuses a forced order while its account is paused (the admin API's and the page's "issue now"). */
export async function assertNotPaused(deps: Deps, accountId: string): Promise<void> {
  const [row] = await deps.db.db
    .select({ name: acmeAccounts.name, pausedUntil: acmeAccounts.pausedUntil, pauseProblem: acmeAccounts.pauseProblem })
    .from(acmeAccounts)
    .where(eq(acmeAccounts.id, accountId))
    .limit(1);
  const pause = row ? activePause(row, deps.now()) : null;
  if (pause) {
    throw new CertkeepError('CONFLICT', `the CA asked to pause new orders of account "${row!.name}" until ${new Date(pause.until).toISOString()}`, {
      pausedUntil: new Date(pause.until).toISOString(),
      retryAfterSeconds: Math.ceil((pause.until - deps.now()) / 1000),
    });
  }
}

/**
 * Whether an account (a row of acme_accounts in the statement) may place an order now: valid, not
 * paused, and under its pacing limit. The count is one range of the index orders_account_created.
 * Also the condition under which a scheduled order's row is written (recordPlacing), so that
 * orders starting together, on this host or another, cannot place more than the limit between them.
 */
export function mayOrderNow(now: number): SQL {
  const placed = sql`(select count(*) from ${orders} where ${orders.accountId} = ${acmeAccounts.id} and ${orders.createdAt} > ${now - HOUR})`;
  return and(
    eq(acmeAccounts.status, 'valid'),
    or(isNull(acmeAccounts.pausedUntil), lte(acmeAccounts.pausedUntil, now)),
    or(isNull(acmeAccounts.maxOrdersPerHour), sql`${placed} < ${acmeAccounts.maxOrdersPerHour}`),
  )!;
}

/** The accounts that may place an order now (accounts are few: an admin creates each one). */
export async function orderableAccounts(deps: Deps, now: number): Promise<string[]> {
  const rows = await deps.db.db.select({ id: acmeAccounts.id }).from(acmeAccounts).where(mayOrderNow(now));
  return rows.map((r) => r.id);
}

/**
 * When a paused or paced account may order again next (for the scheduler's wake-up timer), or
 * null when none waits.
 */
export async function nextAccountOpening(deps: Deps, now: number): Promise<number | null> {
  const rows = await deps.db.db
    .select({ id: acmeAccounts.id, max: acmeAccounts.maxOrdersPerHour, pausedUntil: acmeAccounts.pausedUntil })
    .from(acmeAccounts)
    .where(and(eq(acmeAccounts.status, 'valid'), or(gt(acmeAccounts.pausedUntil, now), isNotNull(acmeAccounts.maxOrdersPerHour))));
  let next: number | null = null;
  const earliest = (t: number) => (next = next === null ? t : Math.min(next, t));
  for (const row of rows) {
    if (row.pausedUntil !== null && row.pausedUntil > now) {
      earliest(row.pausedUntil);
      continue;
    }
    if (row.max === null) continue;
    // Paced: a place frees up when the order that fills the hour's quota leaves the window.
    const recent = await deps.db.db
      .select({ at: orders.createdAt })
      .from(orders)
      .where(and(eq(orders.accountId, row.id), gt(orders.createdAt, now - HOUR)))
      .orderBy(sql`${orders.createdAt} desc`)
      .limit(1)
      .offset(Math.max(0, row.max - 1));
    if (recent[0]) earliest(recent[0].at + HOUR + 1);
  }
  return next;
}
