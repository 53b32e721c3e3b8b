// Prepared queries for the look-ups that run on every request or order step. drizzle builds a
// query's SQL from its builder each time it runs: for a full row of `certificates` that is about
// 150 µs and a few hundred objects to collect, where running a prepared one costs about 12 µs.
// A prepared query is built once per database handle and run with placeholders
// (`sql.placeholder('id')`); the cache holds one query per call site and handle, and forgets
// a handle when it is gone (a Worker's per-request database).
import type { Db } from './client.ts';

export function preparedQuery<Q>(build: (db: Db) => Q): (db: Db) => Q {
  const byDb = new WeakMap<Db, Q>();
  return (db) => {
    let query = byDb.get(db);
    if (query === undefined) {
      query = build(db);
      byDb.set(db, query);
    }
    return query;
  };
}
