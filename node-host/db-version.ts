// A cheap answer to "may the database have changed?" for an embedded libSQL file, without a
// query: the database runs in WAL mode (node-host/db.ts), so every commit, by this process or
// any other on the same file, appends to `<file>-wal`, which moves its modification time (and
// usually its size). One fstat() is under a microsecond; a query is tens.
//
// The kernel stamps files from a coarse clock (one tick, 1–10 ms), so two writes in one tick can
// leave the same time behind. Hence the quiet period: while the log was written less than
// QUIET_MS ago the answer is "cannot tell" (null), and a version is handed out only for a log
// that has been still for longer than a tick; any later write then stamps a later time.
import { closeSync, fstatSync, openSync, type Stats } from 'node:fs';

export const QUIET_MS = 50;

/** The path of a `file:` libSQL URL, or undefined for a remote database (or an unusual URL). */
export function databaseFilePath(url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  let rest = url.slice('file:'.length);
  const query = rest.indexOf('?');
  if (query >= 0) rest = rest.slice(0, query);
  if (rest.startsWith('//')) {
    // file://host/path: only an empty host (file:///path) names a local file.
    if (rest.indexOf('/', 2) !== 2) return undefined;
    rest = rest.slice(2);
  }
  if (rest === '' || rest === ':memory:') return undefined;
  try {
    return decodeURIComponent(rest);
  } catch {
    return undefined;
  }
}

/**
 * A function that returns a token which changes whenever the database file at `path` may have
 * changed, or null when it cannot tell: no write-ahead log (not in WAL mode, or not open yet), or
 * a log written within the last QUIET_MS. The same token is returned (the same string) for as
 * long as nothing changed, so callers may compare with ===.
 */
export function walVersion(path: string, now: () => number = Date.now): () => string | null {
  const walPath = `${path}-wal`;
  let fd: number | undefined;
  let last: { size: number; mtimeMs: number; ctimeMs: number; ino: number; token: string } | undefined;
  let serial = 0;

  const stat = (): Stats | undefined => {
    if (fd !== undefined) {
      const st = fstatSync(fd);
      // The log was deleted (every connection closed): it is a new file from now on.
      if (st.nlink > 0) return st;
      closeSync(fd);
      fd = undefined;
      last = undefined; // whatever the new file looks like, it is not the old one
    }
    try {
      fd = openSync(walPath, 'r');
    } catch {
      return undefined;
    }
    return fstatSync(fd);
  };

  return () => {
    const st = stat();
    if (!st || now() - st.mtimeMs < QUIET_MS) return null;
    if (last && last.size === st.size && last.mtimeMs === st.mtimeMs && last.ctimeMs === st.ctimeMs && last.ino === st.ino) return last.token;
    last = { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, token: `wal:${st.ino}:${++serial}` };
    return last.token;
  };
}
