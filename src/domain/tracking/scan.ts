// Scanning tracked servers (node host) and the events of tracking (SPEC §4.3):
//   - a scan connects (deps.tlsScan), records what the server presents, and stores a history row
//     only when that changed (Certera's habit) — with a `tracking.changed` event in the same batch;
//   - its problems (unreachable, untrusted chain, name mismatch) raise `tracking.problem` once
//     when each starts, not at every scan while it lasts;
//   - `tracking.expiring` fires at 30, 14, 7, 3 and 1 days left, once per target, certificate and
//     threshold, found by time at the scheduler's tick along an index (issued certificates have
//     `certificate.expiring` instead);
//   - every `scanHours` (app settings, default 4) the tick scans what is due, a few at a time,
//     each target under a lease so that one host scans it.
import { and, asc, eq, isNotNull, lte, sql } from 'drizzle-orm';
import type { Deps } from '../../deps.ts';
import type { Statement } from '../../db/client.ts';
import { trackingTargets } from '../../db/schema.ts';
import { CertkeepError } from '../../errors.ts';
import { isLeaseHeld, tryAcquireLease } from '../../db/lease.ts';
import { parseCertificate, type ParsedCertificate } from '../../crypto/index.ts';
import { audit, type By } from '../audit.ts';
import { eventStatement, eventsWritten } from '../events.ts';
import { getSettings, settingStatement } from '../settings.ts';
import { certificateNames, nameMatches } from './names.ts';
import { TlsScanError } from './scan-types.ts';
import { STARTTLS_LABELS } from './targets.ts';
import {
  DAY_MS,
  EXPIRY_THRESHOLDS,
  backfillIssued,
  findTarget,
  firstExpiryNotice,
  historyStatement,
  presentedColumns,
  presentedOf,
  targetName,
  trimHistoryStatement,
  trustAnchors,
  type Presented,
  type ProblemKind,
  type TrackedRow,
} from './tracking.ts';

/** Connect, STARTTLS and handshake of one scan must end within this. */
export const SCAN_TIMEOUT_MS = 15_000;
/** Scans at once on one host. */
export const SCAN_PARALLELISM = 4;
/** Due targets one tick takes on (the rest wait for the next tick). */
export const SCANS_PER_TICK = 40;
/** Expiry notices one tick writes. */
export const NOTICES_PER_TICK = 50;
/** A scan's lease outlives its deadline a little. */
const LEASE_MS = SCAN_TIMEOUT_MS + 30_000;

export const DEFAULT_SCAN_HOURS = 4;
export const SCAN_HOURS_MIN = 1;
export const SCAN_HOURS_MAX = 168;

/** Chain errors that are about dates only: the chain itself leads to a trusted root. */
const DATE_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

export const PROBLEM_WORDS: Record<ProblemKind, string> = {
  unreachable: 'cannot be reached',
  untrusted: 'presents a chain that does not lead to a trusted root',
  'name-mismatch': 'presents a certificate for other names',
};

export function leaseName(id: string): string {
  return `tracking:${id}`;
}

export function problemsOf(row: Pick<TrackedRow, 'problems'>): ProblemKind[] {
  return row.problems ? (row.problems.split(',') as ProblemKind[]) : [];
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function describe(p: Pick<Presented, 'subject' | 'serial' | 'issuer' | 'notAfter'>): string {
  return `the certificate for ${p.subject} (serial ${p.serial}, issued by ${p.issuer}, valid until ${day(p.notAfter)})`;
}

/** What one scan found: the certificate, or why there is none. */
type Outcome =
  | { ok: true; presented: Presented; chainValid: boolean; chainError: string | null; nameMatches: boolean }
  | { ok: false; error: string };

async function connect(deps: Deps, row: TrackedRow): Promise<Outcome> {
  try {
    const result = await deps.tlsScan!({
      host: row.host!,
      port: row.port!,
      starttls: row.starttls ?? undefined,
      trustAnchors: await trustAnchors(deps),
      timeoutMs: SCAN_TIMEOUT_MS,
    });
    if (result.chain.length === 0) return { ok: false, error: `${row.target} completed the handshake without a certificate` };
    let chain: ParsedCertificate[];
    try {
      chain = await Promise.all(result.chain.map((der) => parseCertificate(der)));
    } catch {
      return { ok: false, error: `${row.target} presents a certificate that cannot be read` };
    }
    const [leaf, ...rest] = chain;
    const chainValid = result.trusted || (result.trustError !== null && DATE_ERRORS.has(result.trustError));
    return {
      ok: true,
      presented: presentedOf(leaf, rest),
      chainValid,
      chainError: result.trusted ? null : result.trustError,
      nameMatches: nameMatches(certificateNames(leaf.der), row.host!),
    };
  } catch (err) {
    if (err instanceof TlsScanError) return { ok: false, error: err.message };
    deps.log.error('tracking scan failed', { target: row.target, err });
    return { ok: false, error: `the scan failed: ${(err as Error)?.message ?? String(err)}` };
  }
}

/**
 * Scans one URL target now and stores what it found. `by` (an admin's "Scan now") is recorded in
 * the audit log. When another scan of it runs (another host, the tick), waits for that one and
 * returns its result instead.
 */
export async function scanTarget(deps: Deps, row: TrackedRow, by?: By): Promise<TrackedRow> {
  if (row.source !== 'url') throw new CertkeepError('CONFLICT', 'only tracked URLs are scanned: an upload or an issued certificate has no server to ask');
  if (!deps.tlsScan) throw new CertkeepError('CONFLICT', 'scanning servers needs raw TLS connections, which only the node host has');
  // One scan of a target at a time on this host (the lease is this host's already), one across hosts (the lease).
  let running = scansInFlight.get(deps);
  if (!running) scansInFlight.set(deps, (running = new Map()));
  const current = running.get(row.id);
  if (current) return current;
  const scan = scanUnderLease(deps, row, by).finally(() => running.delete(row.id));
  running.set(row.id, scan);
  return scan;
}

/** The scans running on this host, per Deps (one per host process). */
const scansInFlight = new WeakMap<Deps, Map<string, Promise<TrackedRow>>>();

async function scanUnderLease(deps: Deps, row: TrackedRow, by?: By): Promise<TrackedRow> {
  const lease = await tryAcquireLease(deps.db, leaseName(row.id), deps.hostId, LEASE_MS, deps.now);
  if (!lease) {
    const deadline = deps.now() + LEASE_MS;
    while (deps.now() < deadline && (await isLeaseHeld(deps.db, leaseName(row.id), deps.now()))) await deps.sleep(100);
    return (await findTarget(deps, row.id)) ?? row;
  }
  try {
    // Read again under the lease: another host may have scanned it a moment ago.
    const fresh = (await findTarget(deps, row.id)) ?? null;
    if (!fresh) return row;
    const outcome = await connect(deps, fresh);
    const { statements, events } = await scanStatements(deps, fresh, outcome);
    if (by) statements.push(audit(deps, by, { action: 'tracking.scan', object: { kind: 'tracking', name: targetName(fresh) }, outcome: outcome.ok ? 'ok' : 'failed' }));
    await deps.db.batch(statements);
    if (events > 0) eventsWritten(deps);
    return (await findTarget(deps, row.id)) ?? fresh;
  } finally {
    await lease.release().catch(() => {});
  }
}

/** The batch that records one scan's outcome, and how many events it may write. */
async function scanStatements(deps: Deps, row: TrackedRow, outcome: Outcome): Promise<{ statements: Statement[]; events: number }> {
  const now = deps.now();
  const { scanHours } = await getSettings(deps);
  const name = targetName(row);
  const link = `/tracking/${row.id}`;
  const statements: Statement[] = [];
  let events = 0;
  const before = problemsOf(row);
  const since = row.problemSince ? (JSON.parse(row.problemSince) as Partial<Record<ProblemKind, number>>) : {};
  let problems: ProblemKind[];
  let set: Partial<TrackedRow>;
  if (outcome.ok) {
    const p = outcome.presented;
    problems = [...(outcome.chainValid ? [] : (['untrusted'] as const)), ...(outcome.nameMatches ? [] : (['name-mismatch'] as const))];
    set = { chainValid: outcome.chainValid, chainError: outcome.chainError, nameMatches: outcome.nameMatches, lastError: null };
    if (p.sha256 !== row.sha256) {
      Object.assign(set, presentedColumns(p), { changedAt: now, expiryNoticeAt: firstExpiryNotice(p.notAfter) });
      statements.push(historyStatement(deps, row.id, p, now), trimHistoryStatement(deps, row.id));
      if (row.sha256 !== null) {
        const old = { subject: row.subject!, serial: row.serial!, issuer: row.issuer!, notAfter: row.notAfter! };
        statements.push(
          eventStatement(deps, {
            type: 'tracking.changed',
            dedupeKey: `tracking.changed:${row.id}:${p.sha256}:${now}`,
            subject: { kind: 'tracking', id: row.id, name },
            title: `${name} presents another certificate`,
            body: `${name} now presents ${describe(p)}. Before, it presented ${describe(old)}.`,
            link,
            data: { target: row.target, starttls: row.starttls, old: { ...old, sha256: row.sha256, notAfter: new Date(old.notAfter).toISOString() }, new: { subject: p.subject, serial: p.serial, issuer: p.issuer, sha256: p.sha256, notAfter: new Date(p.notAfter).toISOString() } },
          }),
        );
        events++;
      }
    }
  } else {
    // Unreachable: what it presented before stays on record, and so do the problems seen then
    // (they are not over just because they cannot be seen now).
    problems = [...new Set<ProblemKind>([...before.filter((k) => k !== 'unreachable'), 'unreachable'])];
    set = { lastError: outcome.error };
  }
  const nextSince: Partial<Record<ProblemKind, number>> = {};
  for (const kind of problems) {
    const started = before.includes(kind) && since[kind] !== undefined ? since[kind]! : now;
    nextSince[kind] = started;
    if (started !== now) continue;
    statements.push(
      eventStatement(deps, {
        type: 'tracking.problem',
        dedupeKey: `tracking.problem:${row.id}:${kind}:${started}`,
        subject: { kind: 'tracking', id: row.id, name },
        title: `${name} ${PROBLEM_WORDS[kind]}`,
        body: problemBody(kind, name, row, outcome),
        link,
        data: { target: row.target, starttls: row.starttls, problem: kind, detail: outcome.ok ? outcome.chainError : outcome.error },
      }),
    );
    events++;
  }
  statements.unshift(
    deps.db.db
      .update(trackingTargets)
      .set({
        ...set,
        problems: problems.length ? problems.join(',') : null,
        problemSince: problems.length ? JSON.stringify(nextSince) : null,
        problemRank: problems.length ? 0 : 1,
        lastScanAt: now,
        nextScanAt: now + scanHours * 3_600_000,
        updatedAt: now,
      })
      .where(eq(trackingTargets.id, row.id)),
  );
  return { statements, events };
}

function problemBody(kind: ProblemKind, name: string, row: TrackedRow, outcome: Outcome): string {
  const via = row.starttls ? ` (over ${STARTTLS_LABELS[row.starttls]} STARTTLS)` : '';
  if (!outcome.ok) return `${name}${via} could not be scanned: ${outcome.error}.`;
  const p = outcome.presented;
  if (kind === 'untrusted') {
    return `${name}${via} presents ${describe(p)}, whose chain does not lead to a trusted root (${outcome.chainError ?? 'not verified'}): clients will refuse it.`;
  }
  return `${name}${via} presents ${describe(p)}, which is not valid for ${row.host} (it names ${p.sans.length ? p.sans.join(', ') : p.subject}): clients will refuse it.`;
}

// ---- at the tick ---------------------------------------------------------------------------------

/** The URL targets whose scan is due, oldest due first (an index range). */
export async function dueTargets(deps: Deps, limit: number): Promise<TrackedRow[]> {
  return deps.db.db
    .select()
    .from(trackingTargets)
    .where(and(isNotNull(trackingTargets.nextScanAt), lte(trackingTargets.nextScanAt, deps.now())))
    .orderBy(asc(trackingTargets.nextScanAt))
    .limit(limit);
}

/** Scans what is due, SCAN_PARALLELISM at a time; a target another host scans is skipped. */
export async function runDueScans(deps: Deps, limit = SCANS_PER_TICK, stopped: () => boolean = () => false): Promise<number> {
  if (!deps.tlsScan) return 0;
  const due = await dueTargets(deps, limit);
  let next = 0;
  let scanned = 0;
  const worker = async () => {
    while (next < due.length && !stopped()) {
      const row = due[next++];
      if (await isLeaseHeld(deps.db, leaseName(row.id), deps.now())) continue;
      await scanTarget(deps, row).catch((err) => deps.log.error('tracking scan failed', { target: row.target, err }));
      scanned++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(SCAN_PARALLELISM, due.length) }, worker));
  return scanned;
}

/**
 * The threshold to announce for a certificate with `left` ms to live (the smallest threshold it
 * has crossed), and when the next one is due; null threshold once expired.
 */
export function expiryStep(notAfter: number, now: number): { threshold: number | null; next: number | null } {
  const left = notAfter - now;
  if (left <= 0) return { threshold: null, next: null };
  const crossed = EXPIRY_THRESHOLDS.filter((t) => left <= t * DAY_MS);
  const threshold = crossed.length ? crossed[crossed.length - 1] : null;
  const later = EXPIRY_THRESHOLDS.filter((t) => (threshold === null ? true : t < threshold) && left > t * DAY_MS);
  return { threshold, next: later.length ? notAfter - later[0] * DAY_MS : null };
}

/** `tracking.expiring` for the targets whose next notice is due (an index range, bounded). */
export async function expiryNotices(deps: Deps, limit = deps.runtime === 'worker' ? 20 : NOTICES_PER_TICK): Promise<number> {
  const now = deps.now();
  const due = await deps.db.db
    .select()
    .from(trackingTargets)
    .where(and(isNotNull(trackingTargets.expiryNoticeAt), lte(trackingTargets.expiryNoticeAt, now)))
    .orderBy(asc(trackingTargets.expiryNoticeAt))
    .limit(limit);
  const statements: Statement[] = [];
  let written = 0;
  for (const row of due) {
    const { threshold, next } = row.notAfter === null ? { threshold: null, next: null } : expiryStep(row.notAfter, now);
    // Conditional: a host that got here first has moved the notice on already.
    statements.push(
      deps.db.db
        .update(trackingTargets)
        .set({ expiryNoticeAt: next })
        .where(and(eq(trackingTargets.id, row.id), eq(trackingTargets.expiryNoticeAt, row.expiryNoticeAt!))),
    );
    if (threshold === null || row.sha256 === null || row.notAfter === null) continue;
    const name = targetName(row);
    const days = Math.max(1, Math.ceil((row.notAfter - now) / DAY_MS));
    const what = row.source === 'url' ? `${name} presents the certificate for ${row.subject}, which` : `The uploaded certificate for ${row.subject}`;
    statements.push(
      eventStatement(deps, {
        type: 'tracking.expiring',
        dedupeKey: `tracking.expiring:${row.id}:${row.sha256}:${threshold}`,
        subject: { kind: 'tracking', id: row.id, name },
        title: `${row.source === 'url' ? name : row.subject} expires in ${days} day${days === 1 ? '' : 's'}`,
        body: `${what} expires on ${new Date(row.notAfter).toISOString().replace('T', ' ').slice(0, 16)} UTC (serial ${row.serial}, issued by ${row.issuer}).${row.source === 'url' ? ' Certkeep does not renew it: whoever runs that server must.' : ''}`,
        link: `/tracking/${row.id}`,
        data: { target: row.target, source: row.source, subject: row.subject, serial: row.serial, sha256: row.sha256, notAfter: new Date(row.notAfter).toISOString(), threshold },
      }),
    );
    written++;
  }
  if (statements.length) await deps.db.batch(statements);
  if (written > 0) eventsWritten(deps);
  return written;
}

export interface TrackingTickResult {
  backfilled: number;
  notices: number;
  scanned: number;
}

/** Tracking's share of a scheduler tick: issued rows filled in, expiry notices, due scans. */
export async function trackingTick(deps: Deps, stopped: () => boolean = () => false): Promise<TrackingTickResult> {
  // A Worker's invocation has a small subrequest budget (50 on Workers Free): fewer per run there.
  const backfilled = await backfillIssued(deps, deps.runtime === 'worker' ? 5 : 20);
  const notices = await expiryNotices(deps);
  const scanned = await runDueScans(deps, SCANS_PER_TICK, stopped);
  return { backfilled, notices, scanned };
}

/**
 * Hours between two scans of a tracked server (1–168): applies to the next scan of every target,
 * which is moved to its last scan plus the new interval.
 */
export async function setScanHours(deps: Deps, by: By, hours: number): Promise<void> {
  const t = trackingTargets;
  await deps.db.batch([
    settingStatement(deps, 'scanHours', hours),
    deps.db.db
      .update(t)
      .set({ nextScanAt: sql`coalesce(${t.lastScanAt}, ${deps.now()}) + ${hours * 3_600_000}` })
      .where(and(isNotNull(t.nextScanAt), isNotNull(t.lastScanAt))),
    audit(deps, by, { action: 'settings.update', object: { kind: 'settings', name: 'scanHours' }, detail: { scanHours: hours } }),
  ]);
}
