// Runtime settings kept in the database (changed from the admin UI/API), as opposed to the host
// settings that come from the environment.
import type { Deps } from '../deps.ts';
import { settings } from '../db/schema.ts';

export interface AppSettings {
  /** Renew this many days before expiry instead of at a third of the lifetime; null = default rule. */
  renewDays: number | null;
  /** Name of the certificate the node host serves on its HTTPS listener. */
  siteCertificate: string | null;
  /** Set once setup has completed. */
  setupCompletedAt: number | null;
  /**
   * Hours after a renewal before a consumer that has not fetched the new serial is stale and
   * `consumer.stale` is raised (SPEC §4.5; domain/consumers.ts).
   */
  staleHours: number;
}

export const DEFAULT_STALE_HOURS = 24;
export const STALE_HOURS_MIN = 1;
/** Thirty days: a consumer that waits longer than that for a renewal is lost anyway. */
export const STALE_HOURS_MAX = 720;

const DEFAULTS: AppSettings = { renewDays: null, siteCertificate: null, setupCompletedAt: null, staleHours: DEFAULT_STALE_HOURS };

export async function getSettings(deps: Deps): Promise<AppSettings> {
  const rows = await deps.db.db.select().from(settings);
  const out: AppSettings = { ...DEFAULTS };
  for (const row of rows) {
    if (row.key in DEFAULTS) (out as unknown as Record<string, unknown>)[row.key] = JSON.parse(row.value);
  }
  return out;
}

/** Statement that sets one setting (run it alone or in a batch). */
export function settingStatement<K extends keyof AppSettings>(deps: Deps, key: K, value: AppSettings[K]) {
  const now = deps.now();
  return deps.db.db
    .insert(settings)
    .values({ key, value: JSON.stringify(value), updatedAt: now })
    .onConflictDoUpdate({ target: settings.key, set: { value: JSON.stringify(value), updatedAt: now } });
}

export async function setSetting<K extends keyof AppSettings>(deps: Deps, key: K, value: AppSettings[K]): Promise<void> {
  await settingStatement(deps, key, value);
}
