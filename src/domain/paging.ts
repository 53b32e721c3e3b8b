// Lists (SPEC §4.1): `{"items":[…],"next":"<cursor>"|null}`, `limit` 1–500 (default 100), an
// opaque `cursor`, and where it makes sense `q`, `status` and `sort`. Pages are keyset pages: the
// cursor carries the sort order and the sort key of the last item shown, and the next page is
// "the rows after that key" read in index order — so a page costs the same whether it is the
// first or the thousandth, at 100 rows or at 100,000.
import { CertkeepError } from '../errors.ts';
import { fromBase64Url, fromUtf8, toBase64Url } from '../util/encoding.ts';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 500;
export const MAX_QUERY = 253;

/** One value of the sort key: a name, a time, or null (a certificate never issued has no expiry). */
export type KeyValue = string | number | null;

export interface Page<T> {
  items: T[];
  /** The cursor of the page after this one, or null on the last page. */
  next: string | null;
}

function badParam(name: string, detail: string): CertkeepError {
  return new CertkeepError('BAD_REQUEST', `${name}: ${detail}`, { field: name });
}

/** A 400 naming `cursor`: it is not one this list gave out. */
export function badCursor(): CertkeepError {
  return badParam('cursor', 'not a cursor this list gave out');
}

/** A cursor: the sort order it was made for, and the key of the last item of its page. */
export function encodeCursor(sort: string, key: KeyValue[]): string {
  return toBase64Url(JSON.stringify({ s: sort, k: key }));
}

/**
 * The key in a cursor made for `sort` with `arity` key values. A cursor that is not one of ours,
 * or one made for another sort order, is a 400 naming `cursor`.
 */
export function decodeCursor(cursor: string, sort: string, arity: number): KeyValue[] {
  let parsed: unknown;
  try {
    if (cursor.length > 2048) throw new Error('too long');
    parsed = JSON.parse(fromUtf8(fromBase64Url(cursor)));
  } catch {
    throw badCursor();
  }
  const { s, k } = (parsed ?? {}) as { s?: unknown; k?: unknown };
  const valid = (v: unknown) => v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
  if (typeof s !== 'string' || !Array.isArray(k) || k.length !== arity || !k.every(valid)) throw badCursor();
  if (s !== sort) throw badParam('cursor', `made for sort "${s}", not "${sort}": start again without a cursor`);
  return k as KeyValue[];
}

export interface ListQuery<S extends string, F extends string> {
  limit: number;
  cursor?: string;
  /** Substring to look for (names, domains); trimmed, never empty. */
  q?: string;
  /** Zero or more of the list's status filters (`status=a,b`). */
  status: F[];
  sort: S;
  /** Other parameters the list declared, as given. */
  extra: Record<string, string>;
}

export interface ListSpec<S extends string, F extends string> {
  sorts: readonly S[];
  defaultSort: S;
  statuses?: readonly F[];
  /** Whether `q` is offered. */
  search?: boolean;
  /** Further parameter names this list reads itself (e.g. `days`). */
  extra?: readonly string[];
  /** Page size when none is asked for (pages show fewer than the API's 100). */
  defaultLimit?: number;
}

/**
 * Reads the list parameters of a URL. An unknown parameter, a `limit` outside 1–500, an unknown
 * `status` or `sort` is a 400 naming the parameter. `ignore` lists parameters that belong to
 * someone else (a page's `notice`).
 */
export function parseListQuery<S extends string, F extends string>(params: URLSearchParams, spec: ListSpec<S, F>, ignore: readonly string[] = []): ListQuery<S, F> {
  const known = new Set(['limit', 'cursor', 'sort', ...(spec.statuses ? ['status'] : []), ...(spec.search ? ['q'] : []), ...(spec.extra ?? []), ...ignore]);
  for (const name of params.keys()) if (!known.has(name)) throw badParam(name, 'unknown parameter');
  const one = (name: string) => {
    const values = params.getAll(name);
    if (values.length > 1) throw badParam(name, 'given more than once');
    return values[0];
  };

  const limitText = one('limit');
  let limit = spec.defaultLimit ?? DEFAULT_LIMIT;
  if (limitText !== undefined && limitText !== '') {
    if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIMIT) throw badParam('limit', `expected an integer from 1 to ${MAX_LIMIT}`);
    limit = Number(limitText);
  }

  const sortText = one('sort') || spec.defaultSort;
  if (!(spec.sorts as readonly string[]).includes(sortText)) throw badParam('sort', `expected one of ${spec.sorts.join(', ')}`);

  const status: F[] = [];
  const statusText = one('status');
  if (spec.statuses && statusText) {
    for (const part of statusText.split(',')) {
      const value = part.trim();
      if (!(spec.statuses as readonly string[]).includes(value)) throw badParam('status', `expected one or more of ${spec.statuses.join(', ')}, separated by commas`);
      if (!status.includes(value as F)) status.push(value as F);
    }
  }

  const qText = spec.search ? (one('q') ?? '').trim() : '';
  if (qText.length > MAX_QUERY) throw badParam('q', `longer than ${MAX_QUERY} characters`);

  const extra: Record<string, string> = {};
  for (const name of spec.extra ?? []) {
    const value = one(name);
    if (value !== undefined && value !== '') extra[name] = value;
  }
  const cursor = one('cursor') || undefined;
  return { limit, cursor, q: qText || undefined, status, sort: sortText as S, extra };
}

/** An optional integer parameter in a range, or a 400 naming it. */
export function integerParam(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) throw badParam(name, `expected an integer from ${min} to ${max}`);
  return Number(value);
}

/** `LIKE` pattern for a substring, with the wildcards in it taken literally (`escape '\'`). */
export function likeSubstring(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * A page from rows read with one extra: that extra says a next page exists, and the last row
 * shown gives the next cursor.
 */
export function pageOf<R, T>(rows: R[], limit: number, sort: string, keyOf: (row: R) => KeyValue[], view: (row: R) => T): Page<T> {
  const shown = rows.slice(0, limit);
  const next = rows.length > limit ? encodeCursor(sort, keyOf(shown[shown.length - 1])) : null;
  return { items: shown.map(view), next };
}
