// The scheduler: one implementation for both hosts, a work queue rather than a poll.
//
// A certificate is due when it was never issued, its renewal time has come, or an order of it is
// unfinished — its back-off passed, its account usable and not held back by the CA (domain/
// ca-pace.ts), and no host holding its lease. Orders start:
//   - at once when something becomes due: the domain functions call `deps.wake()` (a certificate
//     created, its names changed, an admin's retry), which the host wires to `notify()`;
//   - whenever an order ends: its slot is refilled from the due list straight away;
//   - at the next known due time (a renewal time, a back-off, a pause's end, an ARI check), when
//     the host asks for that timer (the node host does);
//   - at every tick, the safety net (the node host's CERTKEEP_TICK_SECONDS, the Worker's cron).
// At most `deps.concurrency` orders run at once on this host; each runs under the certificate's
// lease (domain/orders.ts), so two hosts on one database never run the same certificate.
// The due list is ordered: renewals the CA's ARI window asked for first, then other renewals,
// the certificate closest to expiry first, then certificates never issued, the longest waiting
// first.
import { and, eq, gt, isNotNull, isNull, lte, min, ne, or, sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { certificates, leases, orders } from '../db/schema.ts';
import { issue, recordCrash, type OrderReason } from '../domain/orders.ts';
import { refreshRenewalInfo } from '../domain/renewal.ts';
import { purgeSessions } from '../domain/sessions.ts';
import { purgeRateLimits } from '../domain/throttle.ts';
import { auditTick } from '../domain/audit-chain.ts';
import { nextAccountOpening, orderableAccounts } from '../domain/ca-pace.ts';
import { checkExpiring } from '../domain/notifications/expiry.ts';
import { purgeNotifications } from '../domain/notifications/outbox.ts';
import { Notifier } from './notifier.ts';
import { trackingTick } from '../domain/tracking/scan.ts';
import { raiseStaleConsumers } from '../domain/consumers.ts';

export interface TickResult {
  started: number;
  succeeded: number;
  failed: number;
  skipped: number;
  /** Certificates whose renewalInfo (ARI) was asked. */
  renewalInfoChecked: number;
  /** Notification deliveries sent by this tick's runs of the notifier (when it waited for them). */
  notificationsSent: number;
  /** Consumers found stale (consumer.stale raised) at this tick. */
  staleConsumers: number;
}

/** renewalInfo requests per tick: cheap GETs, but a tick must stay bounded. */
const ARI_CHECKS_PER_TICK = 50;

/** Due certificates read beyond the free slots, to start as slots free up. */
const READ_AHEAD = 64;

/**
 * What one run may spend (the Worker's invocation limits). A run starts no order once `mayStart`
 * says no; orders already started run to their end.
 */
export interface RunBudget {
  /** Asked before each start, with the number of this run's orders still in flight. */
  mayStart(inFlight: number): boolean;
}

const UNLIMITED: RunBudget = { mayStart: () => true };

interface Run {
  budget: RunBudget;
  result: TickResult;
  /** This run's orders in flight. */
  pending: Set<Promise<void>>;
}

export interface SchedulerOptions {
  /**
   * Node host: keep a timer for the next known due time (renewal, back-off, pause, ARI check)
   * and run a tick then, instead of waiting for the next periodic tick. At most this far ahead
   * (the periodic tick covers what lies further).
   */
  wakeTimerMaxMs?: number;
  /** The host's notifier (the node host shares it with deps.onEvents); one of its own otherwise. */
  notifier?: Notifier;
}

export class Scheduler {
  private readonly inFlight = new Map<string, Promise<void>>();
  /** The run that notify() and the wake-up timer feed (no budget: the node host). */
  private background: Run | undefined;
  private filling: Promise<void> | undefined;
  /** Runs waiting for the due list to be read for them. */
  private readonly wanting = new Set<Run>();
  /**
   * The due list as last read, in order, at most READ_AHEAD beyond the free slots. Read again when
   * it runs short, at every tick (work found by time may come first), after a failed order (the CA
   * may have paused the account) and after one that found nothing to do (its pace full). A new
   * certificate comes after every one already due, so a wake-up needs no fresh read while entries
   * are left.
   */
  private queue: Array<{ id: string; issued: boolean }> = [];
  /** After an order crashed (not a failure the order recorded), no refill until the next tick. */
  private crashed = false;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt: number | undefined;
  readonly notifier: Notifier;

  private tracking: Promise<void> | undefined;

  constructor(
    private readonly deps: Deps,
    private readonly opts: SchedulerOptions = {},
  ) {
    this.notifier = opts.notifier ?? new Notifier(deps);
  }

  /**
   * Something may have become due (a certificate created, edited, forced): start orders now if a
   * slot is free. Returns at once; the orders run in the background.
   */
  notify(): void {
    if (this.stopped) return;
    this.background ??= newRun(UNLIMITED);
    void this.fill(this.background).catch((err) => this.deps.log.error('scheduler fill failed', { err }));
  }

  /**
   * The periodic safety net: asks the CA's renewalInfo where due, starts due work up to the free
   * slots, refills them as orders end, and resolves when this run's orders (and their refills)
   * have ended or the budget stops new ones — or, with `settle: false` (the node host's timer),
   * once they are started.
   */
  async tick(opts: { budget?: RunBudget; settle?: boolean } = {}): Promise<TickResult> {
    const run = newRun(opts.budget ?? UNLIMITED);
    this.crashed = false;
    this.queue = [];
    // ARI first: a window that moved into the past makes its certificate due in this same tick.
    await this.checkRenewalInfo(run.result);
    await purgeSessions(this.deps);
    await purgeRateLimits(this.deps);
    await purgeNotifications(this.deps).catch((err) => this.deps.log.error('notification log purge failed', { err }));
    // Expiry thresholds crossed since the last tick become events; the notifier sends what is
    // due beside the orders (a slow receiver holds back no order).
    await checkExpiring(this.deps).catch((err) => this.deps.log.error('expiry check failed', { err }));
    const budget = opts.budget;
    const notify = () =>
      this.notifier.run(budget ? { mayContinue: () => budget.mayStart(0) } : undefined).then(
        (r) => void (run.result.notificationsSent += r.sent),
        (err) => this.deps.log.error('notifications failed', { err }),
      );
    const notifying = notify();
    // Tracking (issued rows, expiry notices, due scans) runs beside the orders, one run at a time.
    const tracking = this.runTracking();
    run.result.staleConsumers = await raiseStaleConsumers(this.deps).catch((err) => {
      this.deps.log.error('stale consumer check failed', { err });
      return 0;
    });
    await this.fill(run);
    if (opts.settle !== false) {
      await Promise.all([settle(run), tracking]);
      await notifying;
      // What this tick's orders reported (a failure, a renewal) goes out in the same run.
      await notify();
    }
    // Download counts written, records sealed into the chain, old ones purged (all bounded): after
    // the orders have started, so that a Worker's budget goes to them first.
    await auditTick(this.deps).catch((err) => this.deps.log.error('audit housekeeping failed', { err }));
    await this.armTimer();
    return run.result;
  }

  /** Orders that became due by the clock are found by the tick; this one is for a bounded run only. */
  async runDue(budget: RunBudget): Promise<TickResult> {
    const run = newRun(budget);
    await this.fill(run);
    await settle(run);
    return run.result;
  }

  /** Resolves when every order this scheduler started has ended (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight.values());
    await this.tracking;
  }

  /** No more orders start (running ones go on; see drain) and the timer goes. */
  stop(): void {
    this.stopped = true;
    this.notifier.stop();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Orders running on this host now. */
  get running(): number {
    return this.inFlight.size;
  }

  /**
   * Starts due certificates into the free slots, for this run. Calls that arrive while the due
   * list is being read wait for that read and are served right after it, so no wake-up is lost
   * and no two reads overlap.
   */
  private fill(run: Run): Promise<void> {
    this.wanting.add(run);
    if (this.filling) return this.filling;
    this.filling = (async () => {
      try {
        while (this.wanting.size > 0 && !this.stopped) {
          const runs = [...this.wanting];
          this.wanting.clear();
          for (const r of runs) await this.fillOnce(r);
        }
      } finally {
        this.wanting.clear();
        this.filling = undefined;
      }
    })();
    return this.filling;
  }

  private async fillOnce(run: Run): Promise<void> {
    const free = this.deps.concurrency - this.inFlight.size;
    if (free <= 0 || this.stopped || !run.budget.mayStart(run.pending.size)) return;
    this.queue = this.queue.filter((c) => !this.inFlight.has(c.id));
    if (this.queue.length < free) {
      // Read ahead, so that a backlog of thousands is not sorted again for every slot that frees
      // up; those in flight here may not hold their lease yet: ask for enough to skip them.
      const due = await dueCertificates(this.deps, free + this.inFlight.size + READ_AHEAD);
      this.queue = due.filter((c) => !this.inFlight.has(c.id));
    }
    let started = 0;
    while (this.queue.length > 0 && started < free && !this.stopped && run.budget.mayStart(run.pending.size)) {
      const cert = this.queue.shift()!;
      this.start(run, cert.id, cert.issued ? 'renewal' : 'new');
      started++;
    }
    if (started < free && this.inFlight.size === 0) void this.armTimer();
  }

  private start(run: Run, certificateId: string, reason: OrderReason): void {
    run.result.started++;
    // The promise removes itself from the run when it ends: a slot, assigned before it can end.
    const self: { order?: Promise<void> } = {};
    const order: Promise<void> = (async () => {
      try {
        await this.runOne(certificateId, reason, run.result);
      } finally {
        this.inFlight.delete(certificateId);
        // The slot is free: refill it at once (not after a crash: the next tick retries). The
        // order leaves its run only after the refill, so the run's end waits for what it started.
        if (!this.crashed && !this.stopped) await this.fill(run).catch((err) => this.deps.log.error('scheduler fill failed', { err }));
        run.pending.delete(self.order!);
      }
    })();
    self.order = order;
    this.inFlight.set(certificateId, order);
    run.pending.add(order);
  }

  /** Tracking's share of the tick (domain/tracking/scan.ts); a run still going is not started again. */
  private runTracking(): Promise<void> {
    this.tracking ??= trackingTick(this.deps, () => this.stopped)
      .then(
        (r) => void ((r.scanned || r.notices || r.backfilled) && this.deps.log.debug('tracking', { ...r })),
        (err) => this.deps.log.error('tracking tick failed', { err }),
      )
      .finally(() => {
        this.tracking = undefined;
      });
    return this.tracking;
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

  /** The wake-up timer: a tick at the next known due time, if that comes before the periodic one. */
  private async armTimer(): Promise<void> {
    const maxMs = this.opts.wakeTimerMaxMs;
    if (maxMs === undefined || this.stopped) return;
    const now = this.deps.now();
    const at = await nextDueTime(this.deps, now).catch(() => null);
    if (at === null || at - now > maxMs) return;
    if (this.timer && this.timerAt !== undefined && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = undefined;
      if (!this.stopped) void this.tick({ settle: false }).catch((err) => this.deps.log.error('scheduler tick failed', { err }));
    }, Math.max(0, at - now) + 5);
  }

  private async runOne(certificateId: string, reason: OrderReason, result: TickResult): Promise<void> {
    try {
      const outcome = await issue(this.deps, certificateId, reason, { stillDue: () => isDue(this.deps, certificateId), paced: true });
      if (outcome.ok === 'not-due') {
        // Done elsewhere, or its account's pace is full: what was read ahead may be stale too.
        result.skipped++;
        this.queue = [];
      } else if (outcome.ok) result.succeeded++;
      else {
        result.failed++;
        this.queue = [];
      }
      this.deps.log.debug('scheduled order ended', { certificateId, reason, outcome: outcome.ok === 'not-due' ? 'not due' : outcome.ok ? 'obtained' : 'failed' });
    } catch (err) {
      if (err instanceof CertkeepError && err.code === 'LEASE_BUSY') {
        result.skipped++;
        return;
      }
      result.failed++;
      this.crashed = true;
      this.deps.log.error('scheduled order crashed', { certificateId, err });
      // Recorded like a failed attempt (a back-off, and someone hears of it), if the database lets it.
      await recordCrash(this.deps, certificateId);
    }
  }
}

function newRun(budget: RunBudget): Run {
  return { budget, result: { started: 0, succeeded: 0, failed: 0, skipped: 0, renewalInfoChecked: 0, notificationsSent: 0, staleConsumers: 0 }, pending: new Set() };
}

/** Waits until the run has nothing in flight (refills join the run while it waits). */
async function settle(run: Run): Promise<void> {
  while (run.pending.size > 0) await Promise.allSettled([...run.pending]);
}

/** How the due list is ordered: ARI-driven renewals, renewals (closest to expiry first), new ones (oldest first). */
const PRIORITY = sql`case when ${certificates.pem} is null then 2 when ${certificates.ariWindowStart} is not null then 0 else 1 end`;
const WITHIN_PRIORITY = sql`case when ${certificates.pem} is null then ${certificates.createdAt} else ${certificates.notAfter} end`;

/**
 * Certificates with work to do now, in the order they should be started. The candidates come from
 * three indexes (never issued, renewal time reached, an order unfinished), so the cost follows the
 * number of due certificates, not of all certificates.
 */
export async function dueCertificates(deps: Deps, limit: number): Promise<Array<{ id: string; issued: boolean }>> {
  const now = deps.now();
  const accounts = await orderableAccounts(deps, now);
  if (accounts.length === 0 || limit <= 0) return [];
  const rows = await deps.db.db
    .select({ id: certificates.id, issued: sql<number>`${certificates.pem} is not null` })
    .from(certificates)
    .where(and(dueNow(now), ofAccounts(accounts)))
    .orderBy(PRIORITY, WITHIN_PRIORITY, certificates.id)
    .limit(limit);
  return rows.map((r) => ({ id: r.id, issued: !!r.issued }));
}

/** Whether this certificate has work to do now (the same rule as dueCertificates, read afresh). */
export async function isDue(deps: Deps, certificateId: string): Promise<boolean> {
  const now = deps.now();
  const accounts = await orderableAccounts(deps, now);
  if (accounts.length === 0) return false;
  const open = sql`exists (select 1 from ${orders} where ${orders.certificateId} = ${certificates.id} and ${orders.finishedAt} is null)`;
  const [row] = await deps.db.db
    .select({ id: certificates.id })
    .from(certificates)
    .where(
      and(
        eq(certificates.id, certificateId),
        ne(certificates.status, 'revoked'),
        or(isNull(certificates.nextAttemptAt), lte(certificates.nextAttemptAt, now)),
        or(isNull(certificates.pem), lte(certificates.renewAt, now), open),
        ofAccounts(accounts),
      ),
    )
    .limit(1);
  return row !== undefined;
}

/**
 * Certificates of these accounts. The `+` keeps SQLite from reading every certificate of the
 * account through its index: the due candidates (dueNow) are the few rows to start from.
 */
function ofAccounts(accountIds: string[]) {
  return sql`+${certificates.accountId} in (${sql.join(accountIds.map((id) => sql`${id}`), sql`, `)})`;
}

/**
 * Not revoked, its back-off passed, no lease held on it, and either never issued, its renewal time
 * reached, or an order left unfinished. (Whose account may order is decided by the caller.)
 * isDue asks the same of one certificate (without the lease: its caller holds it).
 */
function dueNow(now: number) {
  const candidates = sql`${certificates.id} in (
    select ${certificates.id} from ${certificates} where ${certificates.pem} is null
    union all select ${certificates.id} from ${certificates} where ${certificates.renewAt} <= ${now}
    union all select ${orders.certificateId} from ${orders} where ${orders.finishedAt} is null)`;
  const leased = sql`exists (select 1 from ${leases} where ${leases.name} = 'certificate:' || ${certificates.id} and ${leases.expiresAt} >= ${now})`;
  return and(
    candidates,
    ne(certificates.status, 'revoked'),
    or(isNull(certificates.nextAttemptAt), lte(certificates.nextAttemptAt, now)),
    sql`not ${leased}`,
  );
}

/**
 * The next time something may come due by the clock alone: a renewal time, the end of a
 * back-off, an ARI check, an account's pause or pacing. Each is the least value of an index.
 */
export async function nextDueTime(deps: Deps, now: number): Promise<number | null> {
  const db = deps.db.db;
  const [renew, retry, ari, opening] = await Promise.all([
    db.select({ t: min(certificates.renewAt) }).from(certificates).where(gt(certificates.renewAt, now)),
    db.select({ t: min(certificates.nextAttemptAt) }).from(certificates).where(and(isNotNull(certificates.nextAttemptAt), gt(certificates.nextAttemptAt, now))),
    db.select({ t: min(certificates.ariCheckAt) }).from(certificates).where(gt(certificates.ariCheckAt, now)),
    nextAccountOpening(deps, now),
  ]);
  const times = [renew[0]?.t, retry[0]?.t, ari[0]?.t, opening].filter((t): t is number => typeof t === 'number');
  return times.length ? Math.min(...times) : null;
}

/**
 * The work waiting (/metrics): how many certificates are due now and since when the one waiting
 * longest has been due (its creation when never issued, its renewal time, or the end of its
 * back-off, whichever is later). Unlike dueCertificates it counts certificates whose account the
 * CA paused or whose pace is reached: they are overdue all the same. One aggregate over the due
 * candidates' indexes.
 */
export async function dueSummary(deps: Deps): Promise<{ due: number; oldestDueAt: number | null }> {
  const now = deps.now();
  const since = sql`max(case when ${certificates.pem} is null then ${certificates.createdAt} when ${certificates.renewAt} <= ${now} then ${certificates.renewAt} else ${now} end, coalesce(${certificates.nextAttemptAt}, 0))`;
  const [row] = await deps.db.db
    .select({ due: sql<number>`count(*)`, oldest: sql<number | null>`min(${since})` })
    .from(certificates)
    .where(dueNow(now));
  return { due: Number(row?.due ?? 0), oldestDueAt: row?.oldest === null || row?.oldest === undefined ? null : Number(row.oldest) };
}
