// The other lists of SPEC §4.1 — keys, ACME accounts, DNS providers, a certificate's orders — as
// keyset pages (domain/paging.ts) along their indexes, and what the pages show beside each item
// (which certificates use a key or a provider) as one aggregate per page.
import { and, asc, desc, eq, gt, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { acmeAccounts, certificates, dnsProviders, keys, orderEvents, orders } from '../db/schema.ts';
import type { AccountRow } from './accounts.ts';
import type { KeyRow } from './keys.ts';
import type { DnsProviderRow } from './dns/providers.ts';
import type { OrderRow } from './orders.ts';
import { badCursor, decodeCursor, likeSubstring, pageOf, parseListQuery, type ListQuery, type Page } from './paging.ts';

export const NAME_SORTS = ['name', '-name'] as const;
export type NameSort = (typeof NAME_SORTS)[number];

/** The parameters of a list sorted by name and searched by name. */
export function parseNameListQuery(params: URLSearchParams, opts: { defaultLimit?: number; ignore?: readonly string[] } = {}): ListQuery<NameSort, never> {
  return parseListQuery(params, { sorts: NAME_SORTS, defaultSort: 'name', search: true, defaultLimit: opts.defaultLimit }, opts.ignore);
}

type NamedTable = typeof keys | typeof acmeAccounts | typeof dnsProviders;

/** A page of a table with a unique `name`, in name order, optionally only names containing `q`. */
async function pageByName<T extends NamedTable, R>(deps: Deps, table: T, query: ListQuery<NameSort, never>): Promise<Page<R>> {
  const descending = query.sort === '-name';
  const conds: SQL[] = [];
  if (query.cursor) {
    const [name] = decodeCursor(query.cursor, query.sort, 1);
    if (typeof name !== 'string') throw badCursor();
    conds.push(descending ? lt(table.name, name) : gt(table.name, name));
  }
  if (query.q) conds.push(sql`${table.name} like ${likeSubstring(query.q)} escape '\\'`);
  const rows = (await deps.db.db
    .select()
    .from(table as typeof keys)
    .where(and(...conds))
    .orderBy(descending ? desc(table.name) : asc(table.name))
    .limit(query.limit + 1)) as unknown as Array<R & { name: string }>;
  return pageOf(rows, query.limit, query.sort, (r) => [r.name], (r) => r as R);
}

export const pageKeys = (deps: Deps, query: ListQuery<NameSort, never>) => pageByName<typeof keys, KeyRow>(deps, keys, query);
export const pageAccounts = (deps: Deps, query: ListQuery<NameSort, never>) => pageByName<typeof acmeAccounts, AccountRow>(deps, acmeAccounts, query);
export const pageDnsProviders = (deps: Deps, query: ListQuery<NameSort, never>) => pageByName<typeof dnsProviders, DnsProviderRow>(deps, dnsProviders, query);

/** How many certificates use something, and the first of them by name. */
export interface Usage {
  count: number;
  first: string;
}

/**
 * Which certificates use each of these keys, for the next issuance or as the served key: one
 * aggregate over the key indexes, whatever the number of certificates.
 */
export async function keyUsage(deps: Deps, keyIds: string[]): Promise<Map<string, Usage>> {
  if (keyIds.length === 0) return new Map();
  const c = certificates;
  const rows = await deps.db.db.all<{ k: string; n: number; first: string }>(sql`
    select k, count(*) as n, min(name) as first from (
      select ${c.keyId} as k, ${c.name} as name from ${c} where ${inArray(c.keyId, keyIds)}
      union
      select ${c.servedKeyId} as k, ${c.name} as name from ${c} where ${inArray(c.servedKeyId, keyIds)}
    ) group by k`);
  return new Map(rows.map((r) => [r.k, { count: r.n, first: r.first }]));
}

/** How many certificates each of these DNS providers serves, and the first of them. */
export async function dnsProviderUsage(deps: Deps, providerIds: string[]): Promise<Map<string, Usage>> {
  if (providerIds.length === 0) return new Map();
  const rows = await deps.db.db
    .select({ id: certificates.dnsProviderId, n: sql<number>`count(*)`, first: sql<string>`min(${certificates.name})` })
    .from(certificates)
    .where(inArray(certificates.dnsProviderId, providerIds))
    .groupBy(certificates.dnsProviderId);
  return new Map(rows.map((r) => [r.id!, { count: r.n, first: r.first }]));
}

/** The certificates using an account, a key or a DNS provider: the first `limit` by name and how many in all. */
export async function certificatesUsing(
  deps: Deps,
  what: { accountId: string } | { keyId: string } | { dnsProviderId: string },
  limit = 50,
): Promise<{ total: number; items: Array<{ name: string; roles: Array<'next' | 'served'> }> }> {
  const c = certificates;
  const where =
    'accountId' in what ? eq(c.accountId, what.accountId) : 'keyId' in what ? or(eq(c.keyId, what.keyId), eq(c.servedKeyId, what.keyId))! : eq(c.dnsProviderId, what.dnsProviderId);
  const [rows, [count]] = await Promise.all([
    deps.db.db.select({ name: c.name, keyId: c.keyId, servedKeyId: c.servedKeyId }).from(c).where(where).orderBy(asc(c.name)).limit(limit),
    deps.db.db.select({ n: sql<number>`count(*)` }).from(c).where(where),
  ]);
  const keyId = 'keyId' in what ? what.keyId : undefined;
  return {
    total: count?.n ?? 0,
    items: rows.map((r) => ({
      name: r.name,
      roles: keyId ? [...(r.keyId === keyId ? (['next'] as const) : []), ...(r.servedKeyId === keyId ? (['served'] as const) : [])] : [],
    })),
  };
}

// ---- a certificate's orders --------------------------------------------------------------------

export const ORDER_SORTS = ['-created'] as const;

export function parseOrderListQuery(params: URLSearchParams, opts: { defaultLimit?: number; ignore?: readonly string[] } = {}): ListQuery<(typeof ORDER_SORTS)[number], never> {
  return parseListQuery<(typeof ORDER_SORTS)[number], never>(params, { sorts: ORDER_SORTS, defaultSort: '-created', defaultLimit: opts.defaultLimit }, opts.ignore);
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Most events of one order shown in a list; the rest are counted (a script may print much). */
export const EVENTS_PER_ORDER = 200;

/**
 * A page of a certificate's orders, newest first, each with its log: the orders along the index
 * (certificate, created), their events along (order, id) — one query each.
 */
export async function pageOrders(deps: Deps, certificateId: string, query: ListQuery<(typeof ORDER_SORTS)[number], never>) {
  const conds: SQL[] = [eq(orders.certificateId, certificateId)];
  if (query.cursor) {
    const [createdAt, id] = decodeCursor(query.cursor, query.sort, 2);
    if (typeof createdAt !== 'number' || typeof id !== 'string') throw badCursor();
    conds.push(sql`(${orders.createdAt}, ${orders.id}) < (${createdAt}, ${id})`);
  }
  const rows = await deps.db.db
    .select()
    .from(orders)
    .where(and(...conds))
    .orderBy(desc(orders.createdAt), desc(orders.id))
    .limit(query.limit + 1);
  const shown = rows.slice(0, query.limit);
  const events = shown.length
    ? await deps.db.db.all<{ orderId: string; at: number; level: 'info' | 'warn' | 'error'; message: string }>(sql`
        select order_id as orderId, at, level, message from (
          select ${orderEvents.orderId} as order_id, ${orderEvents.at} as at, ${orderEvents.level} as level, ${orderEvents.message} as message,
                 row_number() over (partition by ${orderEvents.orderId} order by ${orderEvents.id}) as n
          from ${orderEvents} where ${inArray(orderEvents.orderId, shown.map((o) => o.id))}
        ) where n <= ${EVENTS_PER_ORDER} order by order_id, n`)
    : [];
  const byOrder = new Map<string, typeof events>();
  for (const e of events) {
    const list = byOrder.get(e.orderId);
    if (list) list.push(e);
    else byOrder.set(e.orderId, [e]);
  }
  return pageOf(rows, query.limit, query.sort, (o) => [o.createdAt, o.id], (o) => orderView(o, byOrder.get(o.id) ?? []));
}

export function orderView(o: OrderRow, events: Array<{ at: number; level: string; message: string }>) {
  return {
    id: o.id,
    state: o.state,
    reason: o.reason,
    domains: JSON.parse(o.domains) as string[],
    orderUrl: o.orderUrl,
    serial: o.serial,
    thumbprint: o.thumbprint,
    notBefore: iso(o.notBefore),
    notAfter: iso(o.notAfter),
    error: o.error ? JSON.parse(o.error) : null,
    createdAt: iso(o.createdAt),
    finishedAt: iso(o.finishedAt),
    /** What happened, in order: steps, provider and script output, failures. */
    log: events.map((e) => ({ at: iso(e.at), level: e.level, message: e.message })),
  };
}
