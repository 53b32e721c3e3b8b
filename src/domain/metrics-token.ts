// The metrics token: a bearer token that opens GET /metrics and nothing else, for a Prometheus
// outside CERTKEEP_ALLOW_ADMIN. Least privilege: a scraper's configuration holds its token in
// clear, so it must not be an admin token. One at a time: making a new one replaces the old
// (that is the rotation), deleting it closes /metrics to every address not on the admin list.
// Shown once (`ckm_…`); only its SHA-256 is stored, in the settings table.
import { eq } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { settings } from '../db/schema.ts';
import { audit, type By } from './audit.ts';
import { hashSecret, hashesEqual, looksLikeSecret, newSecret } from './secrets.ts';

const SETTING = 'metricsToken';
const OBJECT = { kind: 'metrics-token', name: 'metrics' };

interface Stored {
  hash: string;
  createdAt: number;
}

async function stored(deps: Deps): Promise<Stored | null> {
  const [row] = await deps.db.db.select({ value: settings.value }).from(settings).where(eq(settings.key, SETTING)).limit(1);
  if (!row) return null;
  try {
    const value = JSON.parse(row.value) as Partial<Stored>;
    return typeof value.hash === 'string' && typeof value.createdAt === 'number' ? { hash: value.hash, createdAt: value.createdAt } : null;
  } catch {
    return null;
  }
}

/** When the current metrics token was made, or null when there is none. */
export async function metricsTokenCreatedAt(deps: Deps): Promise<number | null> {
  return (await stored(deps))?.createdAt ?? null;
}

/** A new metrics token, replacing the one before; recorded in the audit log in the same batch. */
export async function createMetricsToken(deps: Deps, by: By): Promise<string> {
  const token = newSecret('ckm');
  const now = deps.now();
  const replaced = (await stored(deps)) !== null;
  const value = JSON.stringify({ hash: await hashSecret(deps, token), createdAt: now } satisfies Stored);
  await deps.db.batch([
    deps.db.db.insert(settings).values({ key: SETTING, value, updatedAt: now }).onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: now } }),
    audit(deps, by, { action: 'metrics-token.create', object: OBJECT, detail: { replaced } }),
  ]);
  deps.log.info('metrics token created', { replaced });
  return token;
}

/** Removes the metrics token; false when there was none (nothing is written then). */
export async function deleteMetricsToken(deps: Deps, by: By): Promise<boolean> {
  if ((await stored(deps)) === null) return false;
  await deps.db.batch([
    deps.db.db.delete(settings).where(eq(settings.key, SETTING)),
    audit(deps, by, { action: 'metrics-token.delete', object: OBJECT }),
  ]);
  deps.log.info('metrics token deleted');
  return true;
}

/** Whether `presented` is the current metrics token. */
export async function isMetricsToken(deps: Deps, presented: string | null): Promise<boolean> {
  if (!looksLikeSecret(presented) || !presented.startsWith('ckm_')) return false;
  const current = await stored(deps);
  return current !== null && hashesEqual(current.hash, await hashSecret(deps, presented));
}
