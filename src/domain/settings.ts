// Runtime settings kept in the database (changed from the admin UI/API), as opposed to the host
// settings that come from the environment.
import type { Deps } from '../deps.ts';
import { settings } from '../db/schema.ts';
import { preparedQuery } from '../db/prepared.ts';
import { CertkeepError } from '../errors.ts';
import { audit, type By } from './audit.ts';

export interface AppSettings {
  /** Renew this many days before expiry instead of at a third of the lifetime; null = default rule. */
  renewDays: number | null;
  /** Name of the certificate the node host serves on its HTTPS listener. */
  siteCertificate: string | null;
  /** Set once setup has completed. */
  setupCompletedAt: number | null;
  /** Audit records older than this many days are removed (domain/audit-chain.ts). */
  auditRetentionDays: number;
  /** Tracking (node host): hours between two scans of a tracked server. */
  scanHours: number;
  /**
   * Hours after a renewal before a consumer that has not fetched the new serial is stale and
   * `consumer.stale` is raised (SPEC §4.5; domain/consumers.ts).
   */
  staleHours: number;
}

/** The audit log's retention: the default, and what may be set. */
export const AUDIT_RETENTION = { default: 365, min: 7, max: 3650 } as const;

export const DEFAULT_STALE_HOURS = 24;
export const STALE_HOURS_MIN = 1;
/** Thirty days: a consumer that waits longer than that for a renewal is lost anyway. */
export const STALE_HOURS_MAX = 720;

const DEFAULTS: AppSettings = {
  renewDays: null,
  siteCertificate: null,
  setupCompletedAt: null,
  auditRetentionDays: AUDIT_RETENTION.default,
  scanHours: 4,
  staleHours: DEFAULT_STALE_HOURS,
};

const allSettings = preparedQuery((db) => db.select().from(settings).prepare());

export async function getSettings(deps: Deps): Promise<AppSettings> {
  const rows = await allSettings(deps.db.db).all();
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

/** How many days audit records are kept (AUDIT_RETENTION); the tick purges older ones. */
export async function setAuditRetention(deps: Deps, by: By, days: number): Promise<void> {
  if (!Number.isInteger(days) || days < AUDIT_RETENTION.min || days > AUDIT_RETENTION.max) {
    throw new CertkeepError('BAD_REQUEST', `auditRetentionDays: expected an integer from ${AUDIT_RETENTION.min} to ${AUDIT_RETENTION.max}`, { field: 'auditRetentionDays' });
  }
  await deps.db.batch([
    settingStatement(deps, 'auditRetentionDays', days),
    audit(deps, by, { action: 'settings.update', object: { kind: 'settings', name: 'auditRetentionDays' }, detail: { auditRetentionDays: days } }),
  ]);
  deps.log.info('setting changed', { auditRetentionDays: days });
}
