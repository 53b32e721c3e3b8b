// When a certificate is due again (SPEC §7). With ARI (RFC 9773): a random point inside the
// CA's suggested window, the window asked for again at least twice a day. Without it: when a
// third of the lifetime is left, or `renewDays` before expiry when that setting is given.
import { and, eq, isNotNull, isNull, ne, sql } from 'drizzle-orm';
import { CertkeepError } from '../errors.ts';
import { settingStatement } from './settings.ts';
import { audit, type By } from './audit.ts';
import type { Deps } from '../deps.ts';
import { certificates } from '../db/schema.ts';
import { certificateIdentifier, type RenewalInfo } from '../acme/index.ts';
import { acmeClientFor, findAccountById } from './accounts.ts';
import type { CertificateRow } from './certificates.ts';
import { eventStatement, eventsWritten } from './events.ts';
import { replaceEarlyEvent } from './notifications/certificate-events.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** ARI is asked again after the CA's Retry-After, but never later than this (twice a day). */
export const ARI_MAX_RECHECK_MS = 12 * HOUR;
/** …and never sooner than this, whatever the CA says. */
export const ARI_MIN_RECHECK_MS = MINUTE;
/** After a failed renewalInfo request. */
export const ARI_RETRY_AFTER_ERROR_MS = HOUR;

export function renewalTime(notBefore: number, notAfter: number, renewDays?: number | null): number {
  if (renewDays && renewDays > 0) {
    const lifetime = notAfter - notBefore;
    // Never earlier than half-way through a short-lived certificate's life.
    return Math.max(notAfter - renewDays * DAY, notBefore + lifetime / 2);
  }
  return notAfter - (notAfter - notBefore) / 3;
}

/**
 * How much earlier than `renewalTime` a certificate is renewed: a random share of at most 5% of
 * its lifetime and at most 3 days. Certificates obtained in the same minute (an import, a bulk
 * creation) so come due spread over days instead of all at once a third of a lifetime later.
 * (With ARI the CA's window does the spreading: renewalTimeInWindow.)
 */
export const RENEWAL_JITTER_SHARE = 0.05;
export const RENEWAL_JITTER_MAX_MS = 3 * DAY;

export function renewalJitterMs(notBefore: number, notAfter: number, random: () => number = Math.random): number {
  const span = Math.min((notAfter - notBefore) * RENEWAL_JITTER_SHARE, RENEWAL_JITTER_MAX_MS);
  return Math.floor(Math.max(0, span) * random());
}

/** Back-off after consecutive failures: about 1 min, 10 min, 100 min, then daily. */
export function backoffMs(failures: number): number {
  const steps = [MINUTE, 10 * MINUTE, 100 * MINUTE, DAY];
  return steps[Math.min(Math.max(failures, 1), steps.length) - 1];
}

/**
 * The renewal time inside an ARI window: kept when the window is the one it was drawn from,
 * else a uniformly random point in it (RFC 9773 §4.2), or now when the window has passed.
 */
export function renewalTimeInWindow(
  window: { start: number; end: number },
  previous: { start: number | null; end: number | null; renewAt: number | null },
  now: number,
  random: () => number = Math.random,
): number {
  if (window.end <= now) return now;
  const same = previous.start === window.start && previous.end === window.end;
  if (same && previous.renewAt !== null && previous.renewAt >= window.start && previous.renewAt <= window.end) return previous.renewAt;
  const from = Math.max(window.start, now);
  return Math.floor(from + random() * (window.end - from));
}

export function nextAriCheck(now: number, retryAfterMs: number | undefined): number {
  return now + Math.min(ARI_MAX_RECHECK_MS, Math.max(ARI_MIN_RECHECK_MS, retryAfterMs ?? ARI_MAX_RECHECK_MS / 2));
}

/**
 * Asks the CA's renewalInfo for one served certificate and moves its renewal time into the
 * window. A CA without ARI leaves the lifetime rule in charge (and is asked again after the next
 * issuance); a failing request is retried after an hour and changes nothing.
 */
export async function refreshRenewalInfo(deps: Deps, cert: CertificateRow): Promise<void> {
  if (!cert.pem) return;
  const now = deps.now();
  let info: RenewalInfo | null;
  try {
    const account = await findAccountById(deps, cert.accountId);
    if (!account) return;
    info = await (await acmeClientFor(deps, account)).renewalInfo(cert.pem);
  } catch (err) {
    deps.log.warn('renewalInfo request failed', { certificate: cert.name, err });
    await deps.db.db.update(certificates).set({ ariCheckAt: now + ARI_RETRY_AFTER_ERROR_MS }).where(eq(certificates.id, cert.id));
    return;
  }
  if (!info) {
    await deps.db.db.update(certificates).set({ ariCheckAt: null, ariWindowStart: null, ariWindowEnd: null }).where(eq(certificates.id, cert.id));
    return;
  }
  const window = { start: info.suggestedWindow.start.getTime(), end: info.suggestedWindow.end.getTime() };
  const renewAt = renewalTimeInWindow(window, { start: cert.ariWindowStart, end: cert.ariWindowEnd, renewAt: cert.renewAt }, now);
  const early = movedEarly(cert, window, renewAt, now);
  await deps.db.batch([
    deps.db.db
      .update(certificates)
      .set({ renewAt, ariWindowStart: window.start, ariWindowEnd: window.end, ariCheckAt: nextAriCheck(now, info.retryAfterMs) })
      .where(eq(certificates.id, cert.id)),
    ...(early ? [eventStatement(deps, replaceEarlyEvent(cert, { ...window, renewAt, explanationURL: info.explanationURL, now }))] : []),
  ]);
  if (early) {
    eventsWritten(deps);
    deps.log.warn('the CA asks for an early replacement', { certificate: cert.name, windowStart: new Date(window.start).toISOString(), windowEnd: new Date(window.end).toISOString() });
  }
  if (renewAt !== cert.renewAt) {
    deps.log.info('renewal time from ARI', { certificate: cert.name, renewAt: new Date(renewAt).toISOString(), explanationURL: info.explanationURL ?? null });
  }
}

/**
 * Whether the CA's window moved before the planned renewal so that the certificate is replaced
 * now (SPEC §4.3 `certificate.replace_early`): the whole window lies before the renewal planned
 * so far, and the renewal drawn from it is due within a day. A first window that merely refines
 * a renewal months away is not news.
 */
export function movedEarly(cert: Pick<CertificateRow, 'renewAt'>, window: { start: number; end: number }, renewAt: number, now: number): boolean {
  return cert.renewAt !== null && window.end < cert.renewAt && renewAt <= now + DAY;
}

/** Renewal days outside this range are refused (as Certera: 10–45). */
export const RENEW_DAYS_MIN = 10;
export const RENEW_DAYS_MAX = 45;

/**
 * Sets the renewal-days rule (null: a third of the lifetime) and moves the renewal time of every
 * served certificate whose CA gave no ARI window, so the change applies now rather than at each
 * certificate's next issuance.
 */
export async function setRenewDays(deps: Deps, by: By, renewDays: number | null): Promise<void> {
  if (renewDays !== null && (!Number.isInteger(renewDays) || renewDays < RENEW_DAYS_MIN || renewDays > RENEW_DAYS_MAX)) {
    throw new CertkeepError('BAD_REQUEST', `renewDays: expected an integer from ${RENEW_DAYS_MIN} to ${RENEW_DAYS_MAX}, or null`, { field: 'renewDays' });
  }
  // One statement, whatever the number of certificates: the same rule as renewalTime, and the
  // same spread as renewalJitterMs, computed by the database.
  const lifetime = sql`(${certificates.notAfter} - ${certificates.notBefore})`;
  const base =
    renewDays === null
      ? sql`${certificates.notAfter} - ${lifetime} / 3`
      : sql`max(${certificates.notAfter} - ${renewDays * DAY}, ${certificates.notBefore} + ${lifetime} / 2)`;
  const spread = sql`max(1, min(${lifetime} * ${RENEWAL_JITTER_SHARE}, ${RENEWAL_JITTER_MAX_MS}))`;
  // The setting, every renewal time it moves and the record: one batch.
  await deps.db.batch([
    settingStatement(deps, 'renewDays', renewDays),
    deps.db.db
      .update(certificates)
      .set({ renewAt: sql`cast(${base} - abs(random() % ${spread}) as integer)` })
      .where(and(isNotNull(certificates.notAfter), isNotNull(certificates.notBefore), isNull(certificates.ariWindowStart), ne(certificates.status, 'revoked'))),
    audit(deps, by, { action: 'settings.update', object: { kind: 'settings', name: 'renewDays' }, detail: { renewDays } }),
  ]);
  deps.log.info('setting changed', { renewDays });
  // Renewal times that moved into the past are due now.
  deps.wake?.();
}

/** The ARI identifier of the served certificate, for newOrder's `replaces`; null when unreadable. */
export function replacesIdentifier(pem: string | null): string | null {
  if (!pem) return null;
  try {
    return certificateIdentifier(pem);
  } catch {
    return null;
  }
}
