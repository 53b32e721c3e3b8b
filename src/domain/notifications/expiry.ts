// `certificate.expiring` at 30, 14, 7, 3 and 1 days left (SPEC §4.3), found by time. Each served
// certificate carries the time it crosses its next threshold (`expiry_check_at`); a tick reads
// the certificates whose time has come along that index (and, once, those never looked at),
// fires the tightest threshold crossed — a certificate first seen with 5 days left fires the
// 7-day threshold, not all five — and moves the time to the next threshold. The event's dedupe
// key (certificate, serial, threshold) makes each happen once even if two hosts look at once.
import { and, eq, gte, isNotNull, isNull, lte } from 'drizzle-orm';
import type { Deps } from '../../deps.ts';
import { certificates } from '../../db/schema.ts';
import type { Statement } from '../../db/client.ts';
import { eventStatement, eventsWritten } from '../events.ts';
import { EXPIRY_THRESHOLDS } from './channels.ts';
import { expiringEvent } from './certificate-events.ts';

const DAY = 86_400_000;
/** `expiry_check_at` of a certificate with no threshold left (expired, revoked). */
export const EXPIRY_DONE = -1;
/** Certificates looked at per tick. */
const PER_TICK = 100;

/** When a newly served certificate first needs looking at: 30 days before it expires. */
export function firstExpiryCheck(notAfter: number): number {
  return notAfter - EXPIRY_THRESHOLDS[0] * DAY;
}

/** The tightest threshold crossed at `now` (5 days left → 7), or null (more than 30 days left, or expired). */
export function thresholdAt(notAfter: number, now: number): number | null {
  const left = notAfter - now;
  if (left <= 0 || left > EXPIRY_THRESHOLDS[0] * DAY) return null;
  let crossed: number | null = null;
  for (const t of EXPIRY_THRESHOLDS) if (left <= t * DAY) crossed = t;
  return crossed;
}

/** When to look again after `now`: the next threshold's time, or EXPIRY_DONE when none is left. */
export function nextExpiryCheck(notAfter: number, now: number): number {
  if (notAfter <= now) return EXPIRY_DONE;
  for (const t of EXPIRY_THRESHOLDS) if (notAfter - t * DAY > now) return notAfter - t * DAY;
  return EXPIRY_DONE;
}

/** Looks at the certificates whose next threshold has come; returns how many events it wrote. */
export async function checkExpiring(deps: Deps): Promise<number> {
  const now = deps.now();
  const c = certificates;
  const due = await deps.db.db
    .select()
    .from(c)
    .where(and(gte(c.expiryCheckAt, 0), lte(c.expiryCheckAt, now)))
    .orderBy(c.expiryCheckAt)
    .limit(PER_TICK);
  const unchecked =
    due.length < PER_TICK
      ? await deps.db.db
          .select()
          .from(c)
          .where(and(isNull(c.expiryCheckAt), isNotNull(c.pem)))
          .limit(PER_TICK - due.length)
      : [];
  const statements: Statement[] = [];
  let fired = 0;
  for (const cert of [...due, ...unchecked]) {
    const served = cert.pem !== null && cert.notAfter !== null && cert.status !== 'revoked';
    const threshold = served ? thresholdAt(cert.notAfter!, now) : null;
    const next = served ? nextExpiryCheck(cert.notAfter!, now) : EXPIRY_DONE;
    // Only if no one else moved it meanwhile (another host, a renewal).
    const unchanged = cert.expiryCheckAt === null ? isNull(c.expiryCheckAt) : eq(c.expiryCheckAt, cert.expiryCheckAt);
    statements.push(deps.db.db.update(c).set({ expiryCheckAt: next }).where(and(eq(c.id, cert.id), unchanged)));
    if (threshold !== null) {
      statements.push(eventStatement(deps, expiringEvent(cert, threshold, now)));
      fired++;
    }
  }
  if (statements.length === 0) return 0;
  await deps.db.batch(statements);
  if (fired > 0) eventsWritten(deps);
  return fired;
}
