// The scheduler: one implementation for both hosts. A tick finds the certificates that are due
// (never issued, renewal time reached, or an unfinished order) and whose back-off has passed,
// and runs them with at most `concurrency` orders in flight on this host. Each order runs under
// the certificate's lease (domain/orders.ts), so two hosts on one database never run the same
// order; a certificate whose lease is held elsewhere is simply skipped.
import { and, eq, isNotNull, isNull, lte, ne, or, sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { acmeAccounts, certificates, orders } from '../db/schema.ts';
import { issue, type OrderReason } from '../domain/orders.ts';
import { refreshRenewalInfo } from '../domain/renewal.ts';
import { purgeSessions } from '../domain/sessions.ts';
import { purgeRateLimits } from '../domain/throttle.ts';

export interface TickResult {
  started: number;
  succeeded: number;
  failed: number;
  skipped: number;
  /** Certificates whose renewalInfo (ARI) was asked. */
  renewalInfoChecked: number;
}

/** renewalInfo requests per tick: cheap GETs, but a tick must stay bounded. */
const ARI_CHECKS_PER_TICK = 50;

export class Scheduler {
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly deps: Deps) {}

  /**
   * Starts due work up to the concurrency limit and waits for what it started. On the node host
   * ticks overlap (a long order does not hold back the next tick); on the Worker each cron
   * invocation awaits its own bounded batch.
   */
  async tick(opts: { limit?: number } = {}): Promise<TickResult> {
    const result: TickResult = { started: 0, succeeded: 0, failed: 0, skipped: 0, renewalInfoChecked: 0 };
    // ARI first: a window that moved into the past makes its certificate due in this same tick.
    await this.checkRenewalInfo(result);
    await purgeSessions(this.deps);
    await purgeRateLimits(this.deps);
    const free = Math.max(0, this.deps.concurrency - this.inFlight.size);
    const budget = Math.min(free, opts.limit ?? Infinity);
    if (budget === 0) return result;
    const due = await dueCertificates(this.deps, budget + this.inFlight.size);
    const runs: Promise<void>[] = [];
    for (const cert of due) {
      if (runs.length >= budget) break;
      if (this.inFlight.has(cert.id)) continue;
      const run = this.runOne(cert.id, cert.pem ? 'renewal' : 'new', result).finally(() => this.inFlight.delete(cert.id));
      this.inFlight.set(cert.id, run);
      runs.push(run);
      result.started++;
    }
    await Promise.all(runs);
    return result;
  }

  /** RFC 9773: asks renewalInfo for the served certificates whose check is due. */
  private async checkRenewalInfo(result: TickResult): Promise<void> {
    const now = this.deps.now();
    const due = await this.deps.db.db
      .select()
      .from(certificates)
      .where(and(isNotNull(certificates.pem), ne(certificates.status, 'revoked'), isNotNull(certificates.ariCheckAt), lte(certificates.ariCheckAt, now)))
      .orderBy(certificates.ariCheckAt)
      .limit(ARI_CHECKS_PER_TICK);
    for (const cert of due) {
      if (this.inFlight.has(cert.id)) continue;
      await refreshRenewalInfo(this.deps, cert);
      result.renewalInfoChecked++;
    }
  }

  /** Resolves when every order this scheduler started has ended (graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight.values());
  }

  private async runOne(certificateId: string, reason: OrderReason, result: TickResult): Promise<void> {
    try {
      const outcome = await issue(this.deps, certificateId, reason, { stillDue: () => isDue(this.deps, certificateId) });
      if (outcome.ok === 'not-due') result.skipped++;
      else if (outcome.ok) result.succeeded++;
      else result.failed++;
    } catch (err) {
      if (err instanceof CertkeepError && err.code === 'LEASE_BUSY') {
        result.skipped++;
        return;
      }
      result.failed++;
      this.deps.log.error('scheduled order crashed', { certificateId, err });
    }
  }
}

/** Certificates with work to do now, most overdue first. */
export async function dueCertificates(deps: Deps, limit: number) {
  return deps.db.db
    .select({ id: certificates.id, pem: certificates.pem })
    .from(certificates)
    .where(dueNow(deps.now()))
    .orderBy(sql`coalesce(${certificates.renewAt}, ${certificates.createdAt})`)
    .limit(limit);
}

/** Whether this certificate has work to do now (the same rule as dueCertificates, read afresh). */
export async function isDue(deps: Deps, certificateId: string): Promise<boolean> {
  const [row] = await deps.db.db
    .select({ id: certificates.id })
    .from(certificates)
    .where(and(eq(certificates.id, certificateId), dueNow(deps.now())))
    .limit(1);
  return row !== undefined;
}

/**
 * Not revoked, its account usable, its back-off passed, and either never issued, its renewal time
 * reached, or an order left unfinished.
 */
function dueNow(now: number) {
  const hasOpenOrder = sql`exists (select 1 from ${orders} where ${orders.certificateId} = ${certificates.id} and ${orders.finishedAt} is null)`;
  // A deactivated account can order nothing; its certificates wait for an admin's decision.
  const accountUsable = sql`exists (select 1 from ${acmeAccounts} where ${acmeAccounts.id} = ${certificates.accountId} and ${acmeAccounts.status} = 'valid')`;
  return and(
    ne(certificates.status, 'revoked'),
    accountUsable,
    or(isNull(certificates.nextAttemptAt), lte(certificates.nextAttemptAt, now)),
    or(isNull(certificates.pem), and(isNotNull(certificates.renewAt), lte(certificates.renewAt, now)), hasOpenOrder),
  );
}
