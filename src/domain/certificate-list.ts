// The certificate list (API and page) and the dashboard's figures, in SQL: every page is one keyset
// read along an index (domain/paging.ts), every count an aggregate the database computes. Nothing
// here reads all certificates, and no row's PEM is read for a list.
//
// Sorts: `name` / `-name` (index on name), `expiry` / `-expiry` (index on not_after, name; the
// certificates never issued come last either way). Filters (`status`, comma-separated): the
// statuses of a certificate (new, pending, valid, invalid, expired, revoked), `failing` (the last
// attempt failed: lastError set) and `expiring` (valid and expiring within `days`, default 30).
// `q`: a substring of the name or of a domain name, read from a narrow index (name, domains).
import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { acmeAccounts, certificates, keys } from '../db/schema.ts';
import type { AcmeProblem } from '../acme/index.ts';
import { activePause } from './ca-pace.ts';
import type { CertificateStatus } from './certificates.ts';
import { badCursor, decodeCursor, integerParam, likeSubstring, pageOf, parseListQuery, type KeyValue, type ListQuery, type Page } from './paging.ts';

export const CERTIFICATE_SORTS = ['name', '-name', 'expiry', '-expiry'] as const;
export type CertificateSort = (typeof CERTIFICATE_SORTS)[number];
export const CERTIFICATE_FILTERS = ['new', 'pending', 'valid', 'invalid', 'expired', 'revoked', 'failing', 'expiring'] as const;
export type CertificateFilter = (typeof CERTIFICATE_FILTERS)[number];

/** `expiring`: within this many days unless `days` says otherwise. */
export const DEFAULT_EXPIRING_DAYS = 30;
export const MAX_EXPIRING_DAYS = 3650;
const DAY = 86_400_000;

export const CERTIFICATE_LIST = {
  sorts: CERTIFICATE_SORTS,
  defaultSort: 'name' as CertificateSort,
  statuses: CERTIFICATE_FILTERS,
  search: true,
  extra: ['days'],
} as const;

export interface CertificateListQuery extends ListQuery<CertificateSort, CertificateFilter> {
  days: number;
}

/** Reads and checks the list parameters (400 naming the parameter on a bad one). */
export function parseCertificateListQuery(params: URLSearchParams, opts: { defaultLimit?: number; ignore?: readonly string[] } = {}): CertificateListQuery {
  const query = parseListQuery(params, { ...CERTIFICATE_LIST, defaultLimit: opts.defaultLimit }, opts.ignore);
  return { ...query, days: integerParam(query.extra.days, 'days', 1, MAX_EXPIRING_DAYS, DEFAULT_EXPIRING_DAYS) };
}

/** What a list shows of a certificate: its columns but the PEM, with its account and key. */
export interface ListedCertificate {
  id: string;
  name: string;
  domains: string[];
  challenge: 'http-01' | 'dns-01';
  status: CertificateStatus;
  serial: string | null;
  notBefore: number | null;
  notAfter: number | null;
  renewAt: number | null;
  nextAttemptAt: number | null;
  failureCount: number;
  lastError: AcmeProblem | null;
  revokedAt: number | null;
  createdAt: number;
  updatedAt: number;
  account: string | null;
  staging: boolean;
  /** The CA asked to pause this certificate's account until then. */
  caPause: { until: number; problem: AcmeProblem | null } | null;
  keyName: string | null;
}

const c = certificates;

const LISTED = {
  id: c.id,
  name: c.name,
  domains: c.domains,
  challenge: c.challenge,
  storedStatus: c.status,
  issued: sql<number>`${c.pem} is not null`,
  serial: c.serial,
  notBefore: c.notBefore,
  notAfter: c.notAfter,
  renewAt: c.renewAt,
  nextAttemptAt: c.nextAttemptAt,
  failureCount: c.failureCount,
  lastError: c.lastError,
  revokedAt: c.revokedAt,
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
  account: acmeAccounts.name,
  staging: acmeAccounts.staging,
  pausedUntil: acmeAccounts.pausedUntil,
  pauseProblem: acmeAccounts.pauseProblem,
  keyName: keys.name,
};

type Row = Awaited<ReturnType<ReturnType<typeof select>['limit']>>[number];

/** The status a user sees (domain/certificates.ts certificateStatus, without reading the PEM). */
function statusOf(row: { storedStatus: string; issued: number | boolean; notAfter: number | null }, now: number): CertificateStatus {
  if (row.storedStatus === 'revoked') return 'revoked';
  if (row.issued && row.notAfter !== null && row.notAfter <= now) return 'expired';
  if (row.issued) return 'valid';
  return row.storedStatus as CertificateStatus;
}

function listed(row: Row, now: number): ListedCertificate {
  return {
    id: row.id,
    name: row.name,
    domains: JSON.parse(row.domains) as string[],
    challenge: row.challenge,
    status: statusOf(row, now),
    serial: row.serial,
    notBefore: row.notBefore,
    notAfter: row.notAfter,
    renewAt: row.renewAt,
    nextAttemptAt: row.nextAttemptAt,
    failureCount: row.failureCount,
    lastError: row.lastError ? (JSON.parse(row.lastError) as AcmeProblem) : null,
    revokedAt: row.revokedAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    account: row.account,
    staging: !!row.staging,
    caPause: activePause({ pausedUntil: row.pausedUntil, pauseProblem: row.pauseProblem }, now),
    keyName: row.keyName,
  };
}

/**
 * The SQL condition of one filter. Stored `valid` always has a PEM and an expiry (domain/orders.ts
 * download). `byExpiry` words the expiry-based filters as a range of the expiry index (for the
 * expiry sorts and for counts): the `+` before status keeps SQLite from picking the status index
 * instead, whose rows it would then have to sort or look up one by one.
 */
function filterCondition(filter: CertificateFilter, now: number, days: number, byExpiry = false): SQL {
  const valid = byExpiry ? sql`+${c.status} = 'valid'` : eq(c.status, 'valid');
  switch (filter) {
    case 'new':
    case 'pending':
    case 'invalid':
    case 'revoked':
      return eq(c.status, filter);
    case 'valid':
      return and(valid, gt(c.notAfter, now))!;
    case 'expired':
      return and(valid, lte(c.notAfter, now))!;
    case 'expiring':
      return and(valid, gt(c.notAfter, now), lte(c.notAfter, now + days * DAY))!;
    case 'failing':
      return isNotNull(c.lastError);
  }
}

function searchCondition(q: string): SQL {
  const pattern = likeSubstring(q);
  return sql`(${c.name} like ${pattern} escape '\\' or ${c.domains} like ${pattern} escape '\\')`;
}

/** The conditions every page of this query shares (filters, search). */
function commonConditions(query: CertificateListQuery, now: number, byExpiry = query.sort === 'expiry' || query.sort === '-expiry'): SQL[] {
  const conds: SQL[] = [];
  if (query.status.length === 1) conds.push(filterCondition(query.status[0], now, query.days, byExpiry));
  else if (query.status.length > 1) conds.push(or(...query.status.map((f) => filterCondition(f, now, query.days, byExpiry)))!);
  if (query.q) conds.push(searchCondition(query.q));
  return conds;
}

function select(deps: Deps) {
  return deps.db.db.select(LISTED).from(c).leftJoin(acmeAccounts, eq(acmeAccounts.id, c.accountId)).leftJoin(keys, eq(keys.id, c.keyId));
}

/** One page of certificates, as the list API and the certificates page show them. */
export async function pageCertificates(deps: Deps, query: CertificateListQuery): Promise<Page<ListedCertificate>> {
  const now = deps.now();
  const want = query.limit + 1;
  const common = commonConditions(query, now);
  const descending = query.sort.startsWith('-');
  let rows: Row[];
  if (query.sort === 'name' || query.sort === '-name') {
    const conds = [...common];
    if (query.cursor) {
      const [name] = decodeCursor(query.cursor, query.sort, 1);
      if (typeof name !== 'string') throw badCursor();
      conds.push(descending ? lt(c.name, name) : gt(c.name, name));
    }
    rows = query.q ? await searchByName(deps, conds, descending, want) : await select(deps).where(and(...conds)).orderBy(descending ? desc(c.name) : asc(c.name)).limit(want);
  } else {
    // Expiry: the issued ones in expiry order, then those never issued (no expiry) by name.
    let after: KeyValue[] | undefined;
    if (query.cursor) {
      after = decodeCursor(query.cursor, query.sort, 2);
      if ((after[0] !== null && typeof after[0] !== 'number') || typeof after[1] !== 'string') throw badCursor();
    }
    const dir = descending ? desc : asc;
    const cmp = descending ? sql`<` : sql`>`;
    rows = [];
    if (!after || after[0] !== null) {
      const conds = [...common, isNotNull(c.notAfter)];
      if (after) conds.push(sql`(${c.notAfter}, ${c.name}) ${cmp} (${after[0]}, ${after[1]})`);
      rows = await select(deps).where(and(...conds)).orderBy(dir(c.notAfter), dir(c.name)).limit(want);
    }
    if (rows.length < want) {
      const conds = [...common, isNull(c.notAfter)];
      if (after && after[0] === null) conds.push(descending ? lt(c.name, after[1] as string) : gt(c.name, after[1] as string));
      rows = rows.concat(await select(deps).where(and(...conds)).orderBy(dir(c.name)).limit(want - rows.length));
    }
  }
  const keyOf = (r: Row): KeyValue[] => (query.sort === 'name' || query.sort === '-name' ? [r.name] : [r.notAfter, r.name]);
  return pageOf(rows, query.limit, query.sort, keyOf, (r) => listed(r, now));
}

/**
 * Search in name order: the names are found in the narrow index (name, domains) — the rows
 * themselves, which carry the PEM, are read only for the page found.
 */
async function searchByName(deps: Deps, conds: SQL[], descending: boolean, want: number): Promise<Row[]> {
  const names = await deps.db.db
    .select({ name: c.name })
    .from(c)
    .where(and(...conds))
    .orderBy(descending ? desc(c.name) : asc(c.name))
    .limit(want);
  if (names.length === 0) return [];
  return select(deps)
    .where(inArray(c.name, names.map((n) => n.name)))
    .orderBy(descending ? desc(c.name) : asc(c.name));
}

/**
 * How many certificates match the filters (no search: a substring count would read every name).
 * An aggregate over an index.
 */
export async function countCertificates(deps: Deps, query: Pick<CertificateListQuery, 'status' | 'days'>): Promise<number> {
  const conds = commonConditions({ ...query, q: undefined } as CertificateListQuery, deps.now(), true);
  const [row] = await deps.db.db.select({ n: sql<number>`count(*)` }).from(c).where(and(...conds));
  return row?.n ?? 0;
}

export interface DashboardFigures {
  /** How many certificates are in each status. */
  counts: Record<CertificateStatus, number>;
  failing: number;
  expiringSoon: number;
  /** The soonest to expire (issued, not revoked). */
  expiring: ListedCertificate[];
  /** The most recent failures. */
  failures: ListedCertificate[];
  /** Accounts the CA asked to pause. */
  pausedAccounts: Array<{ name: string; until: number; problem: AcmeProblem | null }>;
}

/** Everything the dashboard shows, in aggregates and short index walks. */
export async function dashboardFigures(deps: Deps, opts: { listed?: number; expiringDays?: number } = {}): Promise<DashboardFigures> {
  const now = deps.now();
  const listedCount = opts.listed ?? 10;
  const days = opts.expiringDays ?? DEFAULT_EXPIRING_DAYS;
  const db = deps.db.db;
  const [byStatus, expired, failing, expiringSoon, expiring, failures, paused] = await Promise.all([
    // Per stored status: a walk of the (status, name) index.
    db.select({ status: c.status, n: sql<number>`count(*)` }).from(c).groupBy(c.status),
    // Expired: stored valid with not_after passed — a range of the expiry index.
    db.select({ n: sql<number>`count(*)` }).from(c).where(filterCondition('expired', now, days, true)),
    db.select({ n: sql<number>`count(*)` }).from(c).where(isNotNull(c.lastError)),
    db.select({ n: sql<number>`count(*)` }).from(c).where(filterCondition('expiring', now, days, true)),
    select(deps)
      .where(and(isNotNull(c.notAfter), sql`${c.status} <> 'revoked'`))
      .orderBy(asc(c.notAfter), asc(c.name))
      .limit(listedCount),
    // The most recent failures: along the partial index of failing certificates by update time.
    select(deps).where(isNotNull(c.lastError)).orderBy(desc(c.updatedAt)).limit(listedCount),
    db
      .select({ name: acmeAccounts.name, pausedUntil: acmeAccounts.pausedUntil, pauseProblem: acmeAccounts.pauseProblem })
      .from(acmeAccounts)
      .where(gt(acmeAccounts.pausedUntil, now))
      .orderBy(acmeAccounts.name),
  ]);
  const counts: Record<CertificateStatus, number> = { new: 0, pending: 0, valid: 0, invalid: 0, expired: 0, revoked: 0 };
  for (const row of byStatus) counts[row.status as CertificateStatus] = row.n;
  counts.expired = expired[0]?.n ?? 0;
  counts.valid -= counts.expired;
  return {
    counts,
    failing: failing[0]?.n ?? 0,
    expiringSoon: expiringSoon[0]?.n ?? 0,
    expiring: expiring.map((r) => listed(r, now)),
    failures: failures.map((r) => listed(r, now)),
    pausedAccounts: paused.map((a) => ({ name: a.name, until: a.pausedUntil!, problem: a.pauseProblem ? (JSON.parse(a.pauseProblem) as AcmeProblem) : null })),
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A listed certificate as the admin API shows it: the same fields as GET /api/v1/certificates/{name}. */
export function certificateApiView(l: ListedCertificate) {
  return {
    name: l.name,
    domains: l.domains,
    challenge: l.challenge,
    account: l.account,
    staging: l.staging,
    status: l.status,
    serial: l.serial,
    notBefore: iso(l.notBefore),
    notAfter: iso(l.notAfter),
    renewAt: iso(l.renewAt),
    nextAttemptAt: iso(l.nextAttemptAt),
    failureCount: l.failureCount,
    lastError: l.lastError,
    revokedAt: iso(l.revokedAt),
    createdAt: iso(l.createdAt),
    caPause: l.caPause ? { until: iso(l.caPause.until), problem: l.caPause.problem } : null,
  };
}
