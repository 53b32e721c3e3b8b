// The merged tracking list (API and page), a keyset page at a time along an index (domain/
// paging.ts). An issued certificate that a tracked server or an upload presents too is shown once,
// as that server's row (Certera deduplicated by thumbprint the same way).
//
// Sorts: `expiry` (soonest first; not scanned yet last), `-expiry` (latest first; not scanned yet
// last), `subject`, `-subject`, `source` (url, upload, issued; then subject), `problems` (those
// with a problem first, then by expiry). Filters (`status`, comma-separated, any of them):
// `expired`, `expiring` (within `days`, default 30), `problems` (any), `unreachable`, `untrusted`,
// `mismatch`; `source` (url, upload, issued; comma-separated). `q`: part of the subject, the
// target or an alternative name.
import { and, asc, desc, eq, getTableColumns, gt, inArray, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Deps } from '../../deps.ts';
import { trackingTargets } from '../../db/schema.ts';
import { CertkeepError } from '../../errors.ts';
import { badCursor, decodeCursor, integerParam, likeSubstring, pageOf, parseListQuery, type KeyValue, type ListQuery, type Page } from '../paging.ts';
import { DAY_MS, UNKNOWN_EXPIRY, type TrackedRow, type TrackingSource } from './tracking.ts';

export const TRACKING_SORTS = ['expiry', '-expiry', 'subject', '-subject', 'source', 'problems'] as const;
export type TrackingSort = (typeof TRACKING_SORTS)[number];
export const TRACKING_FILTERS = ['expired', 'expiring', 'problems', 'unreachable', 'untrusted', 'mismatch'] as const;
export type TrackingFilter = (typeof TRACKING_FILTERS)[number];
export const TRACKING_SOURCES: readonly TrackingSource[] = ['url', 'upload', 'issued'];

export const DEFAULT_EXPIRING_DAYS = 30;

export interface TrackingListQuery extends ListQuery<TrackingSort, TrackingFilter> {
  days: number;
  sources: TrackingSource[];
}

export function parseTrackingListQuery(params: URLSearchParams, opts: { defaultLimit?: number; ignore?: readonly string[] } = {}): TrackingListQuery {
  const query = parseListQuery<TrackingSort, TrackingFilter>(
    params,
    { sorts: TRACKING_SORTS, defaultSort: 'expiry', statuses: TRACKING_FILTERS, search: true, extra: ['days', 'source'], defaultLimit: opts.defaultLimit },
    opts.ignore,
  );
  const sources: TrackingSource[] = [];
  for (const part of (query.extra.source ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(TRACKING_SOURCES as readonly string[]).includes(part)) throw new CertkeepError('BAD_REQUEST', `source: expected one or more of ${TRACKING_SOURCES.join(', ')}`, { field: 'source' });
    if (!sources.includes(part as TrackingSource)) sources.push(part as TrackingSource);
  }
  return { ...query, days: integerParam(query.extra.days, 'days', 1, 3650, DEFAULT_EXPIRING_DAYS), sources };
}

const t = trackingTargets;

/** Every column but the chain (a list never shows it). */
const { chainPem: _chain, ...LISTED } = getTableColumns(t);
export type ListedTarget = Omit<TrackedRow, 'chainPem'>;

/**
 * Issued rows that a server or an upload presents too are left out: that row stands for them.
 * A look-up along (sha256, source) per row.
 */
const notShadowed = sql`not (${t.source} = 'issued' and exists (select 1 from ${t} as d where d.sha256 = ${t.sha256} and d.source <> 'issued'))`;

function filterCondition(f: TrackingFilter, now: number, days: number): SQL {
  switch (f) {
    case 'expired':
      return lte(t.expiryKey, now);
    case 'expiring':
      return and(gt(t.expiryKey, now), lte(t.expiryKey, now + days * DAY_MS))!;
    case 'problems':
      return eq(t.problemRank, 0);
    case 'unreachable':
      return and(eq(t.problemRank, 0), sql`${t.problems} like '%unreachable%'`)!;
    case 'untrusted':
      return and(eq(t.problemRank, 0), eq(t.chainValid, false))!;
    case 'mismatch':
      return and(eq(t.problemRank, 0), eq(t.nameMatches, false))!;
  }
}

function commonConditions(query: Pick<TrackingListQuery, 'status' | 'days' | 'sources' | 'q'>, now: number): SQL[] {
  const conds: SQL[] = [notShadowed];
  if (query.status.length) conds.push(or(...query.status.map((f) => filterCondition(f, now, query.days)))!);
  if (query.sources.length) conds.push(inArray(t.source, query.sources));
  if (query.q) {
    const pattern = likeSubstring(query.q.toLowerCase());
    conds.push(sql`(${t.subjectKey} like ${pattern} escape '\\' or ${t.target} like ${pattern} escape '\\' or lower(${t.sans}) like ${pattern} escape '\\')`);
  }
  return conds;
}

/** The sort key columns of each order, in index order. */
const KEYS: Record<TrackingSort, { cols: SQL[]; desc: boolean; of: (r: ListedTarget) => KeyValue[] }> = {
  expiry: { cols: [sql`${t.expiryKey}`, sql`${t.id}`], desc: false, of: (r) => [r.expiryKey, r.id] },
  '-expiry': { cols: [sql`${t.expiryKey}`, sql`${t.id}`], desc: true, of: (r) => [r.expiryKey, r.id] },
  subject: { cols: [sql`${t.subjectKey}`, sql`${t.id}`], desc: false, of: (r) => [r.subjectKey, r.id] },
  '-subject': { cols: [sql`${t.subjectKey}`, sql`${t.id}`], desc: true, of: (r) => [r.subjectKey, r.id] },
  source: { cols: [sql`${t.source}`, sql`${t.subjectKey}`, sql`${t.id}`], desc: false, of: (r) => [r.source, r.subjectKey, r.id] },
  problems: { cols: [sql`${t.problemRank}`, sql`${t.expiryKey}`, sql`${t.id}`], desc: false, of: (r) => [r.problemRank, r.expiryKey, r.id] },
};

/** `(a, b) > (x, y)` (or `<`): the rows after a cursor, along the index. */
function after(cols: SQL[], values: KeyValue[], descending: boolean): SQL {
  return sql`(${sql.join(cols, sql`, `)}) ${descending ? sql`<` : sql`>`} (${sql.join(values.map((v) => sql`${v}`), sql`, `)})`;
}

function select(deps: Deps) {
  return deps.db.db.select(LISTED).from(t);
}

/** One page of the merged list. */
export async function pageTracking(deps: Deps, query: TrackingListQuery): Promise<Page<ListedTarget>> {
  const now = deps.now();
  const want = query.limit + 1;
  const common = commonConditions(query, now);
  const key = KEYS[query.sort];
  let cursor: KeyValue[] | undefined;
  if (query.cursor) {
    cursor = decodeCursor(query.cursor, query.sort, key.cols.length);
    const types = key.of({ expiryKey: 0, id: '', subjectKey: '', source: 'url', problemRank: 0 } as ListedTarget).map((v) => typeof v);
    if (cursor.some((v, i) => typeof v !== types[i])) throw badCursor();
  }
  const order = key.cols.map((c) => (key.desc ? desc(c) : asc(c)));
  let rows: ListedTarget[];
  if (query.sort === '-expiry') {
    // Latest expiry first, and those not scanned yet (no expiry) after them, not before.
    rows = [];
    if (!cursor || cursor[0] !== UNKNOWN_EXPIRY) {
      const conds = [...common, lt(t.expiryKey, UNKNOWN_EXPIRY), ...(cursor ? [after(key.cols, cursor, true)] : [])];
      rows = (await select(deps).where(and(...conds)).orderBy(...order).limit(want)) as ListedTarget[];
    }
    if (rows.length < want) {
      const conds = [...common, eq(t.expiryKey, UNKNOWN_EXPIRY), ...(cursor && cursor[0] === UNKNOWN_EXPIRY ? [lt(t.id, cursor[1] as string)] : [])];
      rows = rows.concat((await select(deps).where(and(...conds)).orderBy(desc(t.expiryKey), desc(t.id)).limit(want - rows.length)) as ListedTarget[]);
    }
  } else {
    const conds = [...common, ...(cursor ? [after(key.cols, cursor, key.desc)] : [])];
    rows = (await select(deps).where(and(...conds)).orderBy(...order).limit(want)) as ListedTarget[];
  }
  return pageOf(rows, query.limit, query.sort, key.of, (r) => r);
}

export interface TrackingCounts {
  expired: number;
  /** Expiring within 21 days (Certera's amber), not expired. */
  expiringSoon: number;
  problems: number;
}

/**
 * The list page's summary: counts along the expiry index (a range) and the problem index; no
 * count of everything, which would read every row.
 */
export async function trackingCounts(deps: Deps): Promise<TrackingCounts> {
  const now = deps.now();
  const [expired, expiringSoon, problems] = await Promise.all([
    countTracked(deps, lte(t.expiryKey, now)),
    countTracked(deps, and(gt(t.expiryKey, now), lte(t.expiryKey, now + 21 * DAY_MS))!),
    countTrackingProblems(deps),
  ]);
  return { expired, expiringSoon, problems };
}

/** Targets with a problem now (unreachable, untrusted chain, name mismatch): a range of the problem index. */
export function countTrackingProblems(deps: Deps): Promise<number> {
  return countTracked(deps, eq(t.problemRank, 0));
}

async function countTracked(deps: Deps, cond: SQL): Promise<number> {
  return (await deps.db.db.select({ n: sql<number>`count(*)` }).from(t).where(and(notShadowed, cond)))[0]?.n ?? 0;
}
