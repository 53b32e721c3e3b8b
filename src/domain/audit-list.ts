// The audit log as a list (SPEC §4.1, §4.4): newest first, a keyset page at a time along an
// index, filtered by who (`actor`), what (`action`), which object (`object`), the outcome and a
// time range (`since`, `until`); and the same as JSON lines, streamed page by page.
import { and, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { auditLog } from '../db/schema.ts';
import { AUDIT_OUTCOMES, type AuditOutcome } from './audit.ts';
import { badCursor, decodeCursor, pageOf, parseListQuery, type Page } from './paging.ts';
import { utf8 } from '../util/encoding.ts';

export type AuditRow = typeof auditLog.$inferSelect;

/** The one order: newest first. */
const SORT = '-at';

export interface AuditQuery {
  limit: number;
  cursor?: string;
  /** As the record names them: an email, a token's name, `certificate www, API key 1`. */
  actor?: string;
  action?: string;
  /** The object's name: a certificate's, a key's, an account's, an email… */
  object?: string;
  outcome?: AuditOutcome;
  /** ms since the epoch: from (inclusive) and until (exclusive). */
  since?: number;
  until?: number;
}

export const AUDIT_FILTERS = ['actor', 'action', 'object', 'outcome', 'since', 'until'] as const;

function bad(name: string, detail: string): CertkeepError {
  return new CertkeepError('BAD_REQUEST', `${name}: ${detail}`, { field: name });
}

/** A time as given, in UTC: an ISO 8601 date (`2026-05-01`, midnight) or date and time (a zone is optional). */
function timeParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/.exec(value.trim());
  const t = m ? Date.parse(`${m[1]}T${m[2] ?? '00:00'}${m[3] ?? 'Z'}`) : NaN;
  if (!Number.isFinite(t)) throw bad(name, 'expected a date (2026-05-01) or a date and time (2026-05-01T12:00Z), in UTC unless a zone is given');
  return t;
}

/**
 * The list's parameters: `limit`, `cursor`, and the filters. An unknown parameter or a malformed
 * value is a 400 naming it. `ignore` lists parameters that belong to someone else (`format`).
 */
export function parseAuditQuery(params: URLSearchParams, opts: { defaultLimit?: number; ignore?: readonly string[] } = {}): AuditQuery {
  const base = parseListQuery(params, { sorts: [SORT], defaultSort: SORT, extra: AUDIT_FILTERS, defaultLimit: opts.defaultLimit }, opts.ignore);
  const { actor, action, object, outcome, since, until } = base.extra;
  for (const [name, value, max] of [['actor', actor, 320], ['object', object, 255]] as const) {
    if (value !== undefined && value.length > max) throw bad(name, `longer than ${max} characters`);
  }
  if (action !== undefined && !/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(action)) throw bad('action', 'expected an action such as certificate.create');
  if (outcome !== undefined && !(AUDIT_OUTCOMES as readonly string[]).includes(outcome)) throw bad('outcome', `expected one of ${AUDIT_OUTCOMES.join(', ')}`);
  const from = timeParam(since, 'since');
  const to = timeParam(until, 'until');
  if (from !== undefined && to !== undefined && to <= from) throw bad('until', 'must come after since');
  return { limit: base.limit, cursor: base.cursor, actor, action, object, outcome: outcome as AuditOutcome | undefined, since: from, until: to };
}

function conditions(query: AuditQuery): SQL[] {
  const conds: SQL[] = [];
  if (query.cursor) {
    const [at, id] = decodeCursor(query.cursor, SORT, 2);
    if (typeof at !== 'number' || typeof id !== 'number') throw badCursor();
    // Row values: read along (at, id) — and along (filter, at, id) with a filter — from the cursor on.
    conds.push(sql`(${auditLog.at}, ${auditLog.id}) < (${at}, ${id})`);
  }
  if (query.actor !== undefined) conds.push(eq(auditLog.actorName, query.actor));
  if (query.action !== undefined) conds.push(eq(auditLog.action, query.action));
  if (query.object !== undefined) conds.push(eq(auditLog.objectName, query.object));
  if (query.outcome !== undefined) conds.push(eq(auditLog.outcome, query.outcome));
  if (query.since !== undefined) conds.push(gte(auditLog.at, query.since));
  if (query.until !== undefined) conds.push(lt(auditLog.at, query.until));
  return conds;
}

async function rows(deps: Deps, query: AuditQuery): Promise<AuditRow[]> {
  return deps.db.db
    .select()
    .from(auditLog)
    .where(and(...conditions(query)))
    .orderBy(desc(auditLog.at), desc(auditLog.id))
    .limit(query.limit + 1);
}

/** One page, newest first. */
export async function pageAudit(deps: Deps, query: AuditQuery): Promise<Page<AuditRow>> {
  return pageOf(await rows(deps, query), query.limit, SORT, (r) => [r.at, r.id], (r) => r);
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A record as the API shows it. */
export function auditView(row: AuditRow) {
  return {
    id: row.id,
    at: iso(row.at),
    actor: { kind: row.actorKind, id: row.actorId, name: row.actorName },
    action: row.action,
    object: row.objectKind !== null || row.objectName !== null ? { kind: row.objectKind, name: row.objectName } : null,
    clientIp: row.clientIp,
    outcome: row.outcome,
    /** How many times: 1, or the downloads an aggregated record stands for (from `at` to `lastAt`). */
    count: row.count,
    lastAt: iso(row.lastAt),
    detail: row.detail === null ? null : (JSON.parse(row.detail) as unknown),
    /** Whether the record is in the chain yet (the tick seals records; downloads once their hour has ended). */
    sealed: row.seq !== null,
    seq: row.seq,
  };
}

/** Records read per step of an export: what the export holds in memory at most. */
const EXPORT_PAGE = 500;

/**
 * The records the query selects, newest first, as JSON lines (one auditView per line), read a
 * page at a time as the client takes them: memory stays bounded whatever the log's size.
 */
export function exportAudit(deps: Deps, query: Omit<AuditQuery, 'limit'>): ReadableStream<Uint8Array> {
  let cursor = query.cursor;
  let done = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (done) return;
        const page = await pageAudit(deps, { ...query, limit: EXPORT_PAGE, cursor });
        if (page.items.length > 0) controller.enqueue(utf8(page.items.map((r) => JSON.stringify(auditView(r)) + '\n').join('')));
        cursor = page.next ?? undefined;
        if (!page.next) {
          done = true;
          controller.close();
        }
      },
    },
    { highWaterMark: 1 },
  );
}
