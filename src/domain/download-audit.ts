// Downloads in the audit log (SPEC §4.4), aggregated: one record per certificate or key, API key
// slot, client address, outcome and hour, with a count — not one per request. Servers poll every
// few minutes, and a record per request would be most of what the database ever writes; on the
// node host every write also empties the download memory (http/download-cache.ts).
//
// The first download of a consumer in an hour (or with another outcome) writes its record before
// the download is answered — a download whose record cannot be written is not served. The
// downloads after it in the same hour are counted in this host's memory and written when the hour
// or the outcome changes, at the scheduler's tick once the hour has ended, and when the node host
// stops. The memory is bounded: past MAX_ENTRIES the oldest consumer's count is written and it is
// forgotten. (A Worker isolate that is evicted loses the counts it had not written: the first
// download of each consumer and hour is always recorded, the count may then fall short.)
//
// Requests without a valid key are recorded the same way; those refused because their address
// sent too many wrong keys (429) are recorded per address and hour only, without the name they
// asked for, so that a flood of made-up names cannot fill the log.
import { eq, sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import type { Statement } from '../db/client.ts';
import { auditLog, certificates, keys } from '../db/schema.ts';
import { auditRow, type Actor, type AuditOutcome } from './audit.ts';
import { findApiKeyOwner } from './apikeys.ts';

const HOUR = 3_600_000;
/** Consumers remembered per host (a few hundred bytes each). */
export const MAX_ENTRIES = 10_000;
/** Aggregates written per flush batch. */
const FLUSH_BATCH = 500;

export interface DownloadAttempt {
  kind: 'certificate' | 'key';
  /** The name in the request's path. */
  name: string;
  /** The `apikey` header as presented, or null. Never stored. */
  presented: string | null;
  /** A hash of it, to tell consumers apart in memory (never the key itself); null without one. */
  keyHash: string | null;
  clientIp: string;
  /** The status the request was answered with. */
  status: number;
}

type Row = ReturnType<typeof auditRow> & { count: number; lastAt: number; aggregateKey: string };

interface Entry {
  hour: number;
  outcome: string;
  /** The record this consumer's downloads of this hour go to. */
  row: Row;
  /** Downloads counted here and not written yet, since `pendingSince`. */
  pending: number;
  pendingSince: number;
  lastAt: number;
}

const memories = new WeakMap<Deps, Map<string, Entry>>();

function memoryOf(deps: Deps): Map<string, Entry> {
  let memory = memories.get(deps);
  if (!memory) memories.set(deps, (memory = new Map()));
  return memory;
}

function outcomeOf(status: number): { outcome: AuditOutcome; key: string } {
  if (status < 400) return { outcome: 'ok', key: 'ok' };
  if (status === 401 || status === 403 || status === 429) return { outcome: 'refused', key: `refused:${status}` };
  return { outcome: 'failed', key: `failed:${status}` };
}

/** Records a download (or a refused one): a write only when this consumer's hour or outcome is new here. */
export async function recordDownload(deps: Deps, attempt: DownloadAttempt): Promise<void> {
  const now = deps.now();
  const hour = Math.floor(now / HOUR);
  const { outcome, key: outcomeKey } = outcomeOf(attempt.status);
  // Past the address's limit of wrong keys: one record per address and hour, whatever was asked.
  const flood = attempt.status === 429;
  const name = flood ? '' : attempt.name.slice(0, 255);
  const memoryKey = [attempt.kind, name, flood ? '' : (attempt.keyHash ?? ''), attempt.clientIp].join('\n');
  const memory = memoryOf(deps);
  const known = memory.get(memoryKey);
  if (known && known.hour === hour && known.outcome === outcomeKey) {
    if (known.pending === 0) known.pendingSince = now;
    known.pending++;
    known.lastAt = now;
    return;
  }

  const actor: Extract<Actor, { kind: 'api-key' }> & { slot?: number } = flood
    ? { kind: 'api-key', id: null, name: 'too many wrong API keys from this address' }
    : await actorOf(deps, attempt);
  const aggregateKey = [hour, attempt.kind, name, actor.id ?? '-', actor.slot ?? '-', attempt.clientIp, outcomeKey].join('|');
  const row: Row = {
    ...auditRow(deps, actor, {
      action: `${attempt.kind}.download`,
      object: name ? { kind: attempt.kind, name } : undefined,
      outcome,
      clientIp: attempt.clientIp,
      detail: outcome === 'ok' ? undefined : { status: attempt.status },
    }),
    count: 1,
    lastAt: now,
    aggregateKey,
  };
  const statements: Statement[] = [];
  // The consumer's earlier hour (or outcome) is done: its count goes out with this write.
  if (known && known.pending > 0) statements.push(upsert(deps, known));
  if (!known && memory.size >= MAX_ENTRIES) {
    const [oldestKey, oldest] = memory.entries().next().value!;
    memory.delete(oldestKey);
    if (oldest.pending > 0) statements.push(upsert(deps, oldest));
  }
  statements.push(upsert(deps, { row, pending: 1, pendingSince: now, lastAt: now }));
  await deps.db.batch(statements);
  memory.delete(memoryKey);
  memory.set(memoryKey, { hour, outcome: outcomeKey, row, pending: 0, pendingSince: now, lastAt: now });
}

/** Adds a count to the aggregate's open record, or opens one (the old one was sealed meanwhile). */
function upsert(deps: Deps, e: Pick<Entry, 'row' | 'pending' | 'pendingSince' | 'lastAt'>): Statement {
  return deps.db.db
    .insert(auditLog)
    .values({ ...e.row, at: e.pendingSince, count: e.pending, lastAt: e.lastAt })
    .onConflictDoUpdate({
      target: auditLog.aggregateKey,
      targetWhere: sql`${auditLog.seq} is null`,
      set: { count: sql`${auditLog.count} + excluded.count`, lastAt: sql`max(coalesce(${auditLog.lastAt}, 0), excluded.last_at)` },
    });
}

/** Who downloads: the API key's owner and slot, as people know them. */
async function actorOf(deps: Deps, attempt: DownloadAttempt): Promise<Extract<Actor, { kind: 'api-key' }> & { slot?: number }> {
  const owner = attempt.presented ? await findApiKeyOwner(deps, attempt.presented) : null;
  if (!owner) return { kind: 'api-key', id: null, name: attempt.presented ? 'an unknown API key' : 'no API key' };
  const table = owner.ownerKind === 'certificate' ? certificates : keys;
  const [named] = await deps.db.db.select({ name: table.name }).from(table).where(eq(table.id, owner.ownerId)).limit(1);
  return { kind: 'api-key', id: owner.ownerId, name: `${owner.ownerKind} ${named?.name ?? owner.ownerId}, API key ${owner.slot}`, slot: owner.slot };
}

/**
 * Writes the counts kept in memory: those of hours that have ended, or all of them (`all`, when
 * the host stops). Returns how many aggregates were written.
 */
export async function flushDownloadAudit(deps: Deps, opts: { all?: boolean } = {}): Promise<number> {
  const memory = memories.get(deps);
  if (!memory) return 0;
  const hour = Math.floor(deps.now() / HOUR);
  let written = 0;
  let batch: Entry[] = [];
  const write = async () => {
    if (batch.length === 0) return;
    const entries = batch;
    batch = [];
    // Taken out of memory first: a download meanwhile counts anew; a failed write puts them back.
    const counts = entries.map((e) => e.pending);
    for (const e of entries) e.pending = 0;
    try {
      await deps.db.batch(entries.map((e, i) => upsert(deps, { ...e, pending: counts[i] })));
    } catch (err) {
      entries.forEach((e, i) => (e.pending += counts[i]));
      throw err;
    }
    written += entries.length;
  };
  for (const [key, e] of memory) {
    if (e.pending > 0 && (opts.all || e.hour < hour)) batch.push(e);
    // An ended hour's consumer is forgotten once written: its next download starts a new hour anyway.
    if (e.hour < hour && e.pending === 0) memory.delete(key);
    if (batch.length >= FLUSH_BATCH) await write();
  }
  await write();
  return written;
}
