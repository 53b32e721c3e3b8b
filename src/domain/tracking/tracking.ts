// Tracking (SPEC §4.2, Certera's tracking page): certificates seen on servers, uploaded, or served
// by Certkeep, in one list. This module holds the objects: adding a URL or an upload, deleting,
// reading one with its history, and the rows of the issued certificates, which are kept in step
// with the certificates table in the same batches (orders.ts, certificates.ts, the Certera import)
// and, for certificates issued before tracking existed, filled in once by the scheduler's tick.
//
// Scans (what a URL presents, its problems, the events) are in scan.ts; the list in list.ts.
import { and, desc, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Deps } from '../../deps.ts';
import type { Statement } from '../../db/client.ts';
import { certificates, settings, trackingAnchors, trackingHistory, trackingTargets } from '../../db/schema.ts';
import { CertkeepError } from '../../errors.ts';
import { pemEncode, parseChain, splitCertificates, type ParsedCertificate } from '../../crypto/index.ts';
import { audit, type By } from '../audit.ts';
import { newId } from '../secrets.ts';
import type { TrackingTarget } from './targets.ts';
import { parseUpload, type UploadedCertificate } from './upload.ts';

export type TrackedRow = typeof trackingTargets.$inferSelect;
export type TrackingSource = TrackedRow['source'];
export type HistoryRow = typeof trackingHistory.$inferSelect;

/** A time after every certificate's expiry: the expiry sorts' key while it is unknown. */
export const UNKNOWN_EXPIRY = 8_640_000_000_000_000;
/** Changes kept per target (the oldest go). */
export const HISTORY_KEPT = 20;
/** Expiry notices: days left (SPEC §4.3), largest first. */
export const EXPIRY_THRESHOLDS = [30, 14, 7, 3, 1] as const;
export const DAY_MS = 86_400_000;

/** Problems a tracked server can have, in words. */
export const PROBLEM_KINDS = ['unreachable', 'untrusted', 'name-mismatch'] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

/** The certificate a target presents, as stored beside it. */
export interface Presented {
  subject: string;
  sans: string[];
  issuer: string;
  serial: string;
  sha256: string;
  notBefore: number;
  notAfter: number;
  chainPem: string;
}

/** What a person calls a certificate: its common name, else its first alternative name, else its DN. */
export function subjectOf(c: ParsedCertificate): string {
  return c.subjectCN || c.sans[0] || c.subject || '(no subject)';
}

export function issuerOf(c: ParsedCertificate): string {
  return c.issuerCN || c.issuer || '(no issuer)';
}

/** The stored description of a leaf and its chain. */
export function presentedOf(leaf: ParsedCertificate, chain: readonly ParsedCertificate[]): Presented {
  return {
    subject: subjectOf(leaf),
    sans: leaf.sans,
    issuer: issuerOf(leaf),
    serial: leaf.serialNumber,
    sha256: leaf.sha256Thumbprint,
    notBefore: leaf.notBefore.getTime(),
    notAfter: leaf.notAfter.getTime(),
    chainPem: [leaf, ...chain].map((c) => c.pem).join(''),
  };
}

/** The columns that describe a presented certificate (and its sort keys). */
export function presentedColumns(p: Presented) {
  return {
    subject: p.subject,
    sans: JSON.stringify(p.sans),
    issuer: p.issuer,
    serial: p.serial,
    sha256: p.sha256,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    chainPem: p.chainPem,
    expiryKey: p.notAfter,
    subjectKey: p.subject.toLowerCase(),
  };
}

/** The first expiry notice of a certificate (url and upload): when 30 days are left. */
export function firstExpiryNotice(notAfter: number): number {
  return notAfter - EXPIRY_THRESHOLDS[0] * DAY_MS;
}

export function historyStatement(deps: Deps, targetId: string, p: Presented, seenAt: number): Statement {
  return deps.db.db.insert(trackingHistory).values({ targetId, sha256: p.sha256, serial: p.serial, subject: p.subject, issuer: p.issuer, notAfter: p.notAfter, seenAt });
}

/** Drops all but the last HISTORY_KEPT changes of a target (runs after the insert, in its batch). */
export function trimHistoryStatement(deps: Deps, targetId: string): Statement {
  const h = trackingHistory;
  return deps.db.db
    .delete(h)
    .where(and(eq(h.targetId, targetId), sql`${h.id} not in (select ${h.id} from ${h} where ${h.targetId} = ${targetId} order by ${h.id} desc limit ${HISTORY_KEPT})`));
}

// ---- reading ------------------------------------------------------------------------------------

export async function findTarget(deps: Deps, id: string): Promise<TrackedRow | undefined> {
  const [row] = await deps.db.db.select().from(trackingTargets).where(eq(trackingTargets.id, id)).limit(1);
  return row;
}

export async function requireTarget(deps: Deps, id: string): Promise<TrackedRow> {
  const row = id.length <= 64 ? await findTarget(deps, id) : undefined;
  if (!row) throw new CertkeepError('NOT_FOUND', `no tracked certificate with id "${id}"`);
  return row;
}

/** A target's history, newest first. */
export async function historyOf(deps: Deps, targetId: string): Promise<HistoryRow[]> {
  return deps.db.db.select().from(trackingHistory).where(eq(trackingHistory.targetId, targetId)).orderBy(desc(trackingHistory.id)).limit(HISTORY_KEPT);
}

/** The histories of a page of targets, newest first each: one query along (target, id). */
export async function historiesOf(deps: Deps, targetIds: string[]): Promise<Map<string, HistoryRow[]>> {
  const out = new Map<string, HistoryRow[]>();
  if (targetIds.length === 0) return out;
  const rows = await deps.db.db.select().from(trackingHistory).where(inArray(trackingHistory.targetId, targetIds)).orderBy(trackingHistory.targetId, desc(trackingHistory.id));
  for (const r of rows) {
    const list = out.get(r.targetId);
    if (list) {
      if (list.length < HISTORY_KEPT) list.push(r);
    } else out.set(r.targetId, [r]);
  }
  return out;
}

/** The names of the Certkeep certificates these SHA-256s are (a URL presenting one, an issued row). */
export async function certificatesPresented(deps: Deps, sha256s: string[]): Promise<Map<string, string>> {
  const wanted = [...new Set(sha256s.filter(Boolean))];
  if (wanted.length === 0) return new Map();
  const rows = await deps.db.db
    .select({ sha256: trackingTargets.sha256, name: certificates.name })
    .from(trackingTargets)
    .innerJoin(certificates, eq(certificates.id, trackingTargets.certificateId))
    .where(and(inArray(trackingTargets.sha256, wanted), eq(trackingTargets.source, 'issued')));
  return new Map(rows.map((r) => [r.sha256!, r.name]));
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Days left until `notAfter`, whole days, negative once expired. */
export function daysLeft(notAfter: number | null, now: number): number | null {
  return notAfter === null ? null : Math.floor((notAfter - now) / DAY_MS);
}

/**
 * An item as the API shows it (SPEC §4.2), plus `starttls` (url targets scanned over STARTTLS)
 * and `certificate` (the Certkeep certificate it is or presents, by name).
 */
export function trackingView(row: TrackedRow, history: readonly HistoryRow[], now: number, certificate: string | null = null) {
  return {
    id: row.id,
    source: row.source,
    ...(row.source === 'url' ? { target: row.target } : {}),
    subject: row.subject,
    sans: row.sans ? (JSON.parse(row.sans) as string[]) : [],
    issuer: row.issuer,
    serial: row.serial,
    sha256: row.sha256,
    notBefore: iso(row.notBefore),
    notAfter: iso(row.notAfter),
    daysLeft: daysLeft(row.notAfter, now),
    chainValid: row.chainValid,
    nameMatches: row.nameMatches,
    lastScanAt: iso(row.lastScanAt),
    lastError: row.lastError,
    changedAt: iso(row.changedAt),
    history: history.map((h) => ({ sha256: h.sha256, seenAt: iso(h.seenAt) })),
    starttls: row.starttls,
    certificate,
  };
}

// ---- adding and deleting ------------------------------------------------------------------------

/** Which name the audit log and the events know a target by. */
export function targetName(row: Pick<TrackedRow, 'source' | 'target' | 'subject' | 'starttls' | 'id'>): string {
  if (row.source === 'url') return row.starttls ? `${row.target} (${row.starttls.toUpperCase()} STARTTLS)` : row.target!;
  return row.subject ?? row.id;
}

/**
 * Tracks a TLS server (node host only). The address policy is applied to a literal address now
 * and to every resolved address at each scan. The first scan is due at once.
 */
export async function addUrlTarget(deps: Deps, by: By, t: TrackingTarget): Promise<TrackedRow> {
  if (!deps.tlsScan) {
    throw new CertkeepError('BAD_REQUEST', 'url: scanning servers needs raw TLS connections, which only the node host has; on a Worker, upload the certificate instead ({"pem": …})', { field: 'url' });
  }
  // A literal address (or a loopback name) the private-address policy refuses: 400 naming url.
  deps.outbound.checkUrl(`https://${t.target}/`, 'url');
  const [existing] = await deps.db.db.select({ id: trackingTargets.id }).from(trackingTargets).where(eq(trackingTargets.targetKey, t.key)).limit(1);
  if (existing) throw duplicateUrl(t);
  const row = urlTargetRow(t, deps.now());
  try {
    await deps.db.batch([
      deps.db.db.insert(trackingTargets).values(row),
      audit(deps, by, { action: 'tracking.create', object: { kind: 'tracking', name: targetName(row) }, detail: { source: 'url', starttls: t.starttls } }),
    ]);
  } catch (err) {
    // Added at the same moment by someone else: the unique index says so.
    if (/UNIQUE/i.test(String((err as Error)?.message ?? '') + String((err as { cause?: Error })?.cause?.message ?? ''))) throw duplicateUrl(t);
    throw err;
  }
  return row;
}

/** A new URL target's row: not scanned yet, its first scan due at once. */
export function urlTargetRow(t: TrackingTarget, now: number): TrackedRow {
  return {
    ...emptyRow(newId(), 'url', now),
    target: t.target,
    targetKey: t.key,
    host: t.host,
    hostParent: t.hostParent,
    port: t.port,
    starttls: t.starttls,
    subjectKey: t.host,
    nextScanAt: now,
  };
}

/** The statements that track uploaded certificates (rows and their first history entries). */
export function uploadStatements(deps: Deps, uploaded: readonly UploadedCertificate[], now: number): { rows: TrackedRow[]; statements: Statement[] } {
  const rows: TrackedRow[] = [];
  const statements: Statement[] = [];
  for (const u of uploaded) {
    const p = presentedOf(u.leaf, u.chain);
    const row: TrackedRow = { ...emptyRow(newId(), 'upload', now), ...presentedColumns(p), changedAt: now, expiryNoticeAt: firstExpiryNotice(p.notAfter) };
    rows.push(row);
    statements.push(deps.db.db.insert(trackingTargets).values(row), historyStatement(deps, row.id, p, now));
  }
  return { rows, statements };
}

function duplicateUrl(t: TrackingTarget): CertkeepError {
  return new CertkeepError('CONFLICT', `url: ${t.target}${t.starttls ? ` (${t.starttls} STARTTLS)` : ''} is tracked already`, { field: 'url' });
}

function emptyRow(id: string, source: TrackingSource, now: number): TrackedRow {
  return {
    id,
    source,
    target: null,
    targetKey: null,
    host: null,
    hostParent: null,
    port: null,
    starttls: null,
    certificateId: null,
    subject: null,
    sans: null,
    issuer: null,
    serial: null,
    sha256: null,
    notBefore: null,
    notAfter: null,
    chainPem: null,
    chainValid: null,
    chainError: null,
    nameMatches: null,
    lastScanAt: null,
    lastError: null,
    changedAt: null,
    nextScanAt: null,
    problems: null,
    problemSince: null,
    problemRank: 1,
    expiryKey: UNKNOWN_EXPIRY,
    subjectKey: '',
    expiryNoticeAt: null,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * Tracks the public certificates of an upload (PEM or DER; both hosts). Refused as a whole — a
 * 400 or 409 naming `field`, nothing stored — when it holds a private key or anything that is not
 * a certificate, or a certificate tracked already (uploaded before, or issued by Certkeep).
 */
export async function addUpload(deps: Deps, by: By, input: string | Uint8Array, field = 'pem'): Promise<TrackedRow[]> {
  const uploaded = await parseUpload(input, field);
  const sha256s = uploaded.map((u) => u.leaf.sha256Thumbprint);
  const known = await deps.db.db
    .select({ sha256: trackingTargets.sha256, source: trackingTargets.source, subject: trackingTargets.subject })
    .from(trackingTargets)
    .where(and(inArray(trackingTargets.sha256, sha256s), ne(trackingTargets.source, 'url')));
  if (known.length > 0) {
    const k = known[0];
    throw new CertkeepError(
      'CONFLICT',
      `${field}: the certificate for ${k.subject} (SHA-256 ${k.sha256!.slice(0, 16)}…) is tracked already${k.source === 'issued' ? ': Certkeep serves it' : ''}; nothing was stored`,
      { field },
    );
  }
  const { rows, statements } = uploadStatements(deps, uploaded, deps.now());
  statements.push(
    audit(deps, by, {
      action: 'tracking.create',
      object: { kind: 'tracking', name: rows.map((r) => r.subject).join(', ').slice(0, 200) },
      detail: { source: 'upload', certificates: rows.length, sha256: rows.map((r) => r.sha256) },
    }),
  );
  await deps.db.batch(statements);
  return rows;
}

/** Stops tracking a URL or an upload. An issued certificate is tracked while it exists (409). */
export async function deleteTarget(deps: Deps, by: By, id: string): Promise<TrackedRow> {
  const row = await requireTarget(deps, id);
  if (row.source === 'issued') {
    const [cert] = await deps.db.db.select({ name: certificates.name }).from(certificates).where(eq(certificates.id, row.certificateId!)).limit(1);
    throw new CertkeepError('CONFLICT', `this is the certificate ${cert?.name ?? ''} Certkeep serves: it is tracked as long as it exists (delete the certificate to remove it)`);
  }
  await deps.db.batch([
    deps.db.db.delete(trackingHistory).where(eq(trackingHistory.targetId, row.id)),
    deps.db.db.delete(trackingTargets).where(eq(trackingTargets.id, row.id)),
    audit(deps, by, { action: 'tracking.delete', object: { kind: 'tracking', name: targetName(row) } }),
  ]);
  return row;
}

// ---- issued certificates ------------------------------------------------------------------------

/**
 * The statements that keep the issued certificate's row in step with a newly stored chain (for the
 * batch that stores it): the row created or updated, a history entry when the certificate
 * changed, and the top of the chain recorded as one of Certkeep's own CAs.
 */
export async function issuedStatements(deps: Deps, certificateId: string, chainPem: string | readonly ParsedCertificate[]): Promise<Statement[]> {
  // Parsed already when the caller had to parse it anyway (an order's download).
  const chain = typeof chainPem === 'string' ? await parseChain(chainPem) : chainPem;
  if (chain.length === 0) return [];
  const [leaf, ...rest] = chain;
  const p = presentedOf(leaf, rest);
  const now = deps.now();
  const [existing] = await deps.db.db
    .select({ id: trackingTargets.id, sha256: trackingTargets.sha256 })
    .from(trackingTargets)
    .where(eq(trackingTargets.certificateId, certificateId))
    .limit(1);
  const statements: Statement[] = [];
  const id = existing?.id ?? newId();
  if (existing && existing.sha256 === p.sha256) return anchorStatements(deps, rest, now);
  if (existing) {
    statements.push(deps.db.db.update(trackingTargets).set({ ...presentedColumns(p), changedAt: now, updatedAt: now }).where(eq(trackingTargets.id, id)));
  } else {
    statements.push(deps.db.db.insert(trackingTargets).values({ ...emptyRow(id, 'issued', now), certificateId, ...presentedColumns(p), changedAt: now }));
  }
  statements.push(historyStatement(deps, id, p, now), trimHistoryStatement(deps, id), ...anchorStatements(deps, rest, now));
  return statements;
}

/** Certkeep's own CAs: the top of an obtained chain, when it is a CA certificate. */
function anchorStatements(deps: Deps, chain: readonly ParsedCertificate[], now: number): Statement[] {
  const top = chain.at(-1);
  if (!top || !top.isCA) return [];
  return [deps.db.db.insert(trackingAnchors).values({ sha256: top.sha256Thumbprint, subject: top.subject, pem: pemEncode('CERTIFICATE', top.der), createdAt: now }).onConflictDoNothing()];
}

/** The statements that remove an issued certificate's row with its history (for the certificate's delete batch). */
export function deleteIssuedStatements(deps: Deps, certificateId: string): Statement[] {
  const ids = deps.db.db.select({ id: trackingTargets.id }).from(trackingTargets).where(eq(trackingTargets.certificateId, certificateId));
  return [deps.db.db.delete(trackingHistory).where(sql`${trackingHistory.targetId} in ${ids}`), deps.db.db.delete(trackingTargets).where(eq(trackingTargets.certificateId, certificateId))];
}

/** Most of Certkeep's own CAs handed to a scan (there are a handful: one per CA and chain). */
const MAX_ANCHORS = 100;

export async function trustAnchors(deps: Deps): Promise<string[]> {
  const rows = await deps.db.db.select({ pem: trackingAnchors.pem }).from(trackingAnchors).orderBy(trackingAnchors.createdAt).limit(MAX_ANCHORS);
  return rows.map((r) => r.pem);
}

/** The settings row where the one-time fill of issued rows keeps its place. */
const BACKFILL_KEY = 'trackingIssuedBackfill';
const BACKFILL_DONE = 'done';

/**
 * Certificates issued before tracking existed get their rows here, a few per tick, walking the
 * certificates by id once (its place is kept in the settings table); afterwards this is one read
 * of one settings row.
 */
export async function backfillIssued(deps: Deps, limit = 20): Promise<number> {
  const [state] = await deps.db.db.select({ value: settings.value }).from(settings).where(eq(settings.key, BACKFILL_KEY)).limit(1);
  const after = state ? (JSON.parse(state.value) as string) : '';
  if (after === BACKFILL_DONE) return 0;
  const rows = await deps.db.db
    .select({ id: certificates.id, pem: certificates.pem })
    .from(certificates)
    .where(sql`${certificates.id} > ${after}`)
    .orderBy(certificates.id)
    .limit(limit);
  const statements: Statement[] = [];
  for (const r of rows) {
    if (!r.pem || splitCertificates(r.pem).length === 0) continue;
    try {
      statements.push(...(await issuedStatements(deps, r.id, r.pem)));
    } catch (err) {
      deps.log.warn('tracking: an issued certificate cannot be read', { certificateId: r.id, err });
    }
  }
  const next = rows.length < limit ? BACKFILL_DONE : rows[rows.length - 1].id;
  const now = deps.now();
  statements.push(
    deps.db.db
      .insert(settings)
      .values({ key: BACKFILL_KEY, value: JSON.stringify(next), updatedAt: now })
      .onConflictDoUpdate({ target: settings.key, set: { value: JSON.stringify(next), updatedAt: now } }),
  );
  await deps.db.batch(statements);
  return rows.length;
}
