// The audit log's tamper evidence: a hash chain, made after commit by one sealer.
//
// Records are written by many requests at once, each in the batch of its change, so a record
// cannot know its predecessor when it is written. Instead the scheduler's tick seals them
// afterwards, under a lease (one sealer at a time, also with several hosts on one database):
// each unsealed record, in id order, gets the next place in the chain (`seq`) and
// `hash = HMAC-SHA-256(chain key, previous hash ‖ the record)`. The chain key is derived from the
// master key, which is not in the database: someone who can write the database but has no master
// key can edit, remove or insert a record, but cannot make the chain agree again.
// `certkeep audit verify` (verifyAudit) walks the chain and names the first record that breaks it.
//
// Aggregated downloads (domain/download-audit.ts) keep counting while their hour runs, so they
// are sealed once their hour has ended (and a grace for late counts); a count that arrives after
// that opens a new record for the hour. Retention's purge (purgeAudit) removes the oldest sealed
// records and leaves an anchor — the place and hash the chain continues from, authenticated with
// the chain key — so that what remains still verifies, and a removal beyond the anchor does not.
import { and, asc, desc, eq, gt, isNotNull, isNull, lt, lte, sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import type { Statement } from '../db/client.ts';
import { auditLog, settings } from '../db/schema.ts';
import { tryAcquireLease } from '../db/lease.ts';
import { deriveFromMasterKey } from '../crypto/index.ts';
import { toHex, utf8 } from '../util/encoding.ts';
import { bufferSource } from '../crypto/bytes.ts';
import { audit, BY_SYSTEM } from './audit.ts';
import { getSettings } from './settings.ts';
import { newId } from './secrets.ts';
import { flushDownloadAudit } from './download-audit.ts';

export type AuditRow = typeof auditLog.$inferSelect;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** An aggregated download record is sealed this long after its hour ended: late counts still go into it. */
export const SEAL_GRACE_MS = 10 * 60_000;
/**
 * Records sealed, or purged, per tick: a tick stays bounded; a backlog takes a few ticks. On the
 * Worker the cron run's budget counts each statement of a batch as a subrequest (src/jobs/budget.ts),
 * so fewer are sealed per run there, leaving the budget to orders.
 */
export const SEAL_PER_TICK = 500;
export const WORKER_SEAL_PER_TICK = 200;
export const PURGE_PER_TICK = 500;
const LEASE = 'audit-chain';
const LEASE_TTL_MS = 60_000;
/** The settings row where retention's purge leaves the chain's anchor. */
export const AUDIT_ANCHOR = 'auditAnchor';

export interface Anchor {
  /** The place and hash of the last record removed: the chain goes on from there. */
  seq: number;
  hash: string;
  /** When that record was written. */
  at: number;
  /** HMAC of the three under the chain key: an anchor cannot be moved without the master key. */
  mac: string;
}

const keys = new WeakMap<CryptoKey, Promise<CryptoKey>>();

/** The chain key: HMAC-SHA-256 under 32 bytes derived from the master key. */
function chainKey(deps: Deps): Promise<CryptoKey> {
  let key = keys.get(deps.masterKey);
  if (!key) {
    key = deriveFromMasterKey(deps.masterKey, 'audit chain').then((raw) => crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']));
    keys.set(deps.masterKey, key);
  }
  return key;
}

async function hmacHex(key: CryptoKey, text: string): Promise<string> {
  return toHex(await crypto.subtle.sign('HMAC', key, bufferSource(utf8(text))));
}

/** What the chain covers of a record: every column but the hash itself. */
export function recordContent(row: Omit<AuditRow, 'hash'>, seq: number): string {
  return JSON.stringify([
    seq,
    row.id,
    row.at,
    row.actorKind,
    row.actorId,
    row.actorName,
    row.action,
    row.objectKind,
    row.objectName,
    row.clientIp,
    row.outcome,
    row.detail,
    row.count,
    row.lastAt,
    row.aggregateKey,
  ]);
}

const linkHash = (key: CryptoKey, previous: string, row: Omit<AuditRow, 'hash'>, seq: number) => hmacHex(key, `${previous}\n${recordContent(row, seq)}`);
const anchorMac = (key: CryptoKey, a: Omit<Anchor, 'mac'>) => hmacHex(key, `anchor\n${a.seq}\n${a.hash}\n${a.at}`);

async function readAnchor(deps: Deps): Promise<Anchor | null> {
  const [row] = await deps.db.db.select({ value: settings.value }).from(settings).where(eq(settings.key, AUDIT_ANCHOR)).limit(1);
  return row ? (JSON.parse(row.value) as Anchor) : null;
}

/** Where an aggregated download record counts as final: its hour ended at least SEAL_GRACE_MS ago. */
export function sealableBefore(now: number): number {
  return Math.floor((now - SEAL_GRACE_MS) / HOUR) * HOUR;
}

/**
 * Seals up to `limit` records in id order (downloads of an hour still open wait). Returns how many.
 * The caller holds the lease (auditHousekeeping).
 */
async function sealUnderLease(deps: Deps, limit: number): Promise<number> {
  const db = deps.db.db;
  const [head] = await db.select({ seq: auditLog.seq, hash: auditLog.hash }).from(auditLog).where(isNotNull(auditLog.seq)).orderBy(desc(auditLog.seq)).limit(1);
  const start = head ? { seq: head.seq!, hash: head.hash! } : ((await readAnchor(deps)) ?? { seq: 0, hash: '' });
  const [records, downloads] = await Promise.all([
    db.select().from(auditLog).where(and(isNull(auditLog.seq), isNull(auditLog.aggregateKey))).orderBy(asc(auditLog.id)).limit(limit),
    db
      .select()
      .from(auditLog)
      .where(and(isNull(auditLog.seq), isNotNull(auditLog.aggregateKey), lt(auditLog.at, sealableBefore(deps.now()))))
      .orderBy(asc(auditLog.at))
      .limit(limit),
  ]);
  const rows = [...records, ...downloads].sort((a, b) => a.id - b.id).slice(0, limit);
  if (rows.length === 0) return 0;
  const key = await chainKey(deps);
  const statements: Statement[] = [];
  let { seq, hash } = start;
  for (const row of rows) {
    seq++;
    hash = await linkHash(key, hash, row, seq);
    // Only as read: a download counted meanwhile changes the row, and the check below undoes the batch.
    statements.push(
      db
        .update(auditLog)
        .set({ seq, hash })
        .where(and(eq(auditLog.id, row.id), isNull(auditLog.seq), eq(auditLog.count, row.count), sql`${auditLog.lastAt} is ${row.lastAt}`)),
    );
  }
  // Every record must have been sealed as read; otherwise a NOT NULL failure undoes the batch, and
  // the next tick seals them as they are then.
  statements.push(
    db.insert(settings).select(
      sql`select 'audit-seal-check', null, 0 where (select count(*) from ${auditLog} where ${auditLog.seq} > ${start.seq} and ${auditLog.seq} <= ${seq}) != ${rows.length}`,
    ),
  );
  try {
    await deps.db.batch(statements);
  } catch (err) {
    deps.log.info('audit records changed while being sealed; sealed at the next tick', { err });
    return 0;
  }
  return rows.length;
}

/**
 * Removes sealed records older than the retention (up to `limit`), oldest first, and moves the
 * anchor to the last one removed; records its own work. Returns how many were removed.
 */
async function purgeUnderLease(deps: Deps, limit: number): Promise<number> {
  const { auditRetentionDays } = await getSettings(deps);
  const cutoff = deps.now() - auditRetentionDays * DAY;
  const oldest = await deps.db.db
    .select({ seq: auditLog.seq, hash: auditLog.hash, at: auditLog.at })
    .from(auditLog)
    .where(isNotNull(auditLog.seq))
    .orderBy(asc(auditLog.seq))
    .limit(limit);
  let n = 0;
  while (n < oldest.length && oldest[n].at < cutoff) n++;
  if (n === 0) return 0;
  const last = oldest[n - 1];
  const anchor = { seq: last.seq!, hash: last.hash!, at: last.at };
  const value = JSON.stringify({ ...anchor, mac: await anchorMac(await chainKey(deps), anchor) } satisfies Anchor);
  const now = deps.now();
  await deps.db.batch([
    deps.db.db.delete(auditLog).where(and(isNotNull(auditLog.seq), lte(auditLog.seq, anchor.seq))),
    deps.db.db.insert(settings).values({ key: AUDIT_ANCHOR, value, updatedAt: now }).onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: now } }),
    audit(deps, BY_SYSTEM, {
      action: 'audit.purge',
      detail: { records: n, throughSeq: anchor.seq, olderThan: new Date(cutoff).toISOString(), retentionDays: auditRetentionDays },
    }),
  ]);
  deps.log.info('audit records purged', { records: n, retentionDays: auditRetentionDays });
  return n;
}

/** Seals what is ready and purges what is past the retention, under the chain's lease. */
export async function sealAndPurge(deps: Deps, opts: { seal?: number; purge?: number } = {}): Promise<{ sealed: number; purged: number } | null> {
  const lease = await tryAcquireLease(deps.db, LEASE, `${deps.hostId}:${newId()}`, LEASE_TTL_MS, deps.now);
  if (!lease) return null;
  try {
    const sealed = await sealUnderLease(deps, opts.seal ?? (deps.runtime === 'worker' ? WORKER_SEAL_PER_TICK : SEAL_PER_TICK));
    const purged = await purgeUnderLease(deps, opts.purge ?? PURGE_PER_TICK);
    return { sealed, purged };
  } finally {
    await lease.release().catch(() => {});
  }
}

// ---- verification --------------------------------------------------------------------------------

export type VerifyResult =
  | {
      ok: true;
      /** Sealed records checked. */
      records: number;
      /** The chain's last place and hash: note them elsewhere to tell later that nothing was cut off the end. */
      head: { seq: number; hash: string; id: number; at: number } | null;
      /** Where retention's purge left off, when it has removed records. */
      anchor: { seq: number; at: number } | null;
      /** Records not sealed yet (the next tick seals them; downloads once their hour has ended). */
      unsealed: number;
    }
  | {
      ok: false;
      records: number;
      /** The first record that breaks the chain (null: the anchor itself). */
      broken: { id: number; seq: number | null; at: number; action: string; actorName: string } | null;
      problem: string;
    };

const PAGE = 1000;

/**
 * Walks the chain from its anchor (or its start) and stops at the first record that does not
 * follow: edited, with a record removed or inserted before it. Reads a page at a time.
 */
export async function verifyAudit(deps: Deps): Promise<VerifyResult> {
  const key = await chainKey(deps);
  const anchor = await readAnchor(deps);
  let records = 0;
  const fail = (row: AuditRow | null, problem: string): VerifyResult => ({
    ok: false,
    records,
    broken: row ? { id: row.id, seq: row.seq, at: row.at, action: row.action, actorName: row.actorName } : null,
    problem,
  });
  if (anchor && (typeof anchor.seq !== 'number' || anchor.mac !== (await anchorMac(key, anchor)))) {
    return fail(null, 'the anchor that retention left (where the chain starts) was changed: it was not written by Certkeep with this master key');
  }
  let previous = anchor ? { seq: anchor.seq, hash: anchor.hash } : { seq: 0, hash: '' };
  let last: AuditRow | undefined;
  let maxRecordId = 0;
  for (;;) {
    const page = await deps.db.db.select().from(auditLog).where(gt(auditLog.seq, previous.seq)).orderBy(asc(auditLog.seq)).limit(PAGE);
    for (const row of page) {
      if (row.seq !== previous.seq + 1) {
        const missing = row.seq! - previous.seq - 1;
        return fail(row, `${missing} record${missing === 1 ? ' was' : 's were'} removed just before this one (the chain jumps from place ${previous.seq} to ${row.seq})`);
      }
      if (row.hash !== (await linkHash(key, previous.hash, row, row.seq))) {
        return fail(row, 'this record was changed, or a record was inserted or removed before it: its hash does not follow from the record before it');
      }
      previous = { seq: row.seq, hash: row.hash };
      if (row.aggregateKey === null) maxRecordId = Math.max(maxRecordId, row.id);
      last = row;
      records++;
    }
    if (page.length < PAGE) break;
  }
  // Records other than downloads are sealed in id order: an unsealed one below a sealed one was
  // put there afterwards, or had its place in the chain taken away.
  const [stray] = await deps.db.db
    .select()
    .from(auditLog)
    .where(and(isNull(auditLog.seq), isNull(auditLog.aggregateKey), lt(auditLog.id, maxRecordId)))
    .orderBy(asc(auditLog.id))
    .limit(1);
  if (stray) return fail(stray, 'this record is not in the chain although later ones are: it was inserted afterwards, or its place in the chain was removed');
  const [{ n: unsealed }] = await deps.db.db.select({ n: sql<number>`count(*)` }).from(auditLog).where(isNull(auditLog.seq));
  return {
    ok: true,
    records,
    head: last ? { seq: last.seq!, hash: last.hash!, id: last.id, at: last.at } : null,
    anchor: anchor ? { seq: anchor.seq, at: anchor.at } : null,
    unsealed,
  };
}

/**
 * The scheduler's share of the audit log, each tick: the download counts of hours that ended are
 * written, then what is ready is sealed and what is past the retention purged (bounded).
 */
export async function auditTick(deps: Deps): Promise<void> {
  await flushDownloadAudit(deps);
  await sealAndPurge(deps);
}
