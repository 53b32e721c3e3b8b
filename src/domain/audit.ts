// The audit log (SPEC §4.4): who did what to which object, from which address, with what outcome.
// A record is written as a statement in the same batch as the change it records: an action whose
// record cannot be written is not carried out ("fail closed"). Records hold no secret: no key
// material, no API key, no password, no token.
//
// Domain functions that change something take `by` (who acts, from where) and put `audit(deps,
// by, …)` into their batch. Actions that reach a CA (an account's key rollover or deactivation, a
// revocation) are recorded before the CA is asked, so that none happens unrecorded; when the CA
// refuses, a second record with the outcome `failed` says so.
import type { SQL } from 'drizzle-orm';
import { sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import type { Statement } from '../db/client.ts';
import { auditLog } from '../db/schema.ts';

/** Who acts. */
export type Actor =
  /** Someone signed in to the pages: `name` is their email. */
  | { kind: 'user'; id: string; name: string }
  /** An admin API token: `name` is the token's name. */
  | { kind: 'token'; id: string; name: string }
  /** A download API key: `id` is its owner's id, `name` says whose and which slot (`certificate www, API key 1`). */
  | { kind: 'api-key'; id: string | null; name: string }
  /** Someone not (yet) known: a failed sign-in names the email typed. */
  | { kind: 'anonymous'; name: string }
  /** `certkeep …` on the server itself. */
  | { kind: 'cli'; name: string }
  /** Certkeep on its own (the scheduler). */
  | { kind: 'system'; name: string };

export const CLI_ACTOR: Actor = { kind: 'cli', name: 'certkeep CLI' };
export const SYSTEM_ACTOR: Actor = { kind: 'system', name: 'Certkeep' };

export type AuditOutcome = 'ok' | 'refused' | 'failed';
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['ok', 'refused', 'failed'];

export interface AuditEntry {
  /** `certificate.create`, `key.download`, `account.delete`, … (AUDIT_ACTIONS) */
  action: string;
  object?: { kind: string; name: string };
  outcome?: AuditOutcome;
  /** The client's address, when a request did it. */
  clientIp?: string | null;
  /** Further facts, never a secret. */
  detail?: Record<string, unknown>;
}

/** Who acts and from where: what every domain function that changes something is given. */
export interface By {
  actor: Actor;
  /** The client's address, when a request did it. */
  clientIp?: string | null;
}

/** The CLI on this machine. */
export const BY_CLI: By = { actor: CLI_ACTOR };
/** Certkeep on its own. */
export const BY_SYSTEM: By = { actor: SYSTEM_ACTOR };

/** Every action recorded, and what it means (the audit page offers them as a filter). */
export const AUDIT_ACTIONS = {
  'setup.admin': 'the setup wizard created (or changed) the administrator',
  'setup.account': "the setup wizard registered the ACME account",
  'setup.complete': 'setup was completed',
  'token.create': 'an admin API token was made',
  'settings.update': 'settings were changed',
  'metrics-token.create': 'a metrics token was made (replacing the one before)',
  'metrics-token.delete': 'the metrics token was removed',
  'account.create': 'an ACME account was registered',
  'account.pace': "an ACME account's pace of new orders was changed",
  'account.key-rollover': "an ACME account's key was replaced at the CA",
  'account.deactivate': 'an ACME account was deactivated at the CA',
  'account.delete': 'an ACME account was removed',
  'key.create': 'a key was generated',
  'key.import': 'a key was imported',
  'key.api-key': "one of a key's API keys was replaced",
  'key.delete': 'a key was deleted',
  'key.download': 'a private key was downloaded (counted per hour)',
  'certificate.create': 'a certificate was created',
  'certificate.edit': "a certificate's names, challenge, DNS provider or preferred chain was changed",
  'certificate.issue': 'an order was asked for now',
  'certificate.revoke': 'a certificate was revoked',
  'certificate.api-key': "one of a certificate's API keys was replaced",
  'certificate.key': 'a certificate was moved to another key',
  'certificate.delete': 'a certificate was deleted',
  'certificate.download': 'a certificate was downloaded (counted per hour)',
  'dns-provider.create': 'a DNS provider was created',
  'dns-provider.delete': 'a DNS provider was deleted',
  'tracking.create': 'a server or an uploaded certificate was added to tracking',
  'tracking.delete': 'a server or an uploaded certificate was no longer tracked',
  'tracking.scan': 'a tracked server was scanned on request',
  'notification-channel.create': 'a notification channel was added',
  'notification-channel.update': 'a notification channel was changed',
  'notification-channel.delete': 'a notification channel was removed',
  'notification-channel.test': 'a test message was sent over a notification channel',
  'user.sign-in': 'someone signed in, or failed to',
  'user.sign-out': 'someone signed out',
  'user.password': 'a password was changed',
  'user.two-factor-on': 'two-factor sign-in was switched on',
  'user.two-factor-off': 'two-factor sign-in was switched off',
  'user.recovery-codes': 'new recovery codes were made',
  'user.unlock': 'an account locked after failed sign-ins was unlocked',
  'backup.download': 'a backup was downloaded',
  'import.certera': 'a Certera database was imported',
  'audit.purge': 'records older than the retention were removed',
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;

export function isAuditAction(value: string): value is AuditAction {
  return Object.hasOwn(AUDIT_ACTIONS, value);
}

/** The row `entry` makes (the insert's values). */
export function auditRow(deps: Deps, actor: Actor, entry: AuditEntry) {
  return {
    at: deps.now(),
    actorKind: actor.kind,
    actorId: 'id' in actor ? actor.id : null,
    actorName: actor.name.slice(0, 320),
    action: entry.action,
    objectKind: entry.object?.kind ?? null,
    objectName: entry.object?.name ?? null,
    clientIp: entry.clientIp ?? null,
    outcome: entry.outcome ?? 'ok',
    detail: entry.detail ? JSON.stringify(entry.detail) : null,
  } satisfies typeof auditLog.$inferInsert;
}

/** The statement that records `entry`, for the batch of the change it records. */
export function auditStatement(deps: Deps, actor: Actor, entry: AuditEntry): Statement {
  return deps.db.db.insert(auditLog).values(auditRow(deps, actor, entry));
}

/** The statement that records `entry` done `by` someone, for the batch of the change. */
export function audit(deps: Deps, by: By, entry: Omit<AuditEntry, 'clientIp'>): Statement {
  return auditStatement(deps, by.actor, { ...entry, clientIp: by.clientIp ?? null });
}

/**
 * The same, written only when `condition` holds once the statements before it in the batch have
 * run: for a change made by a conditional UPDATE, which may change nothing.
 */
export function auditIf(deps: Deps, by: By, entry: Omit<AuditEntry, 'clientIp'>, condition: SQL): Statement {
  const r = auditRow(deps, by.actor, { ...entry, clientIp: by.clientIp ?? null });
  // Every column in the table's order (drizzle inserts into all of them): id null is the next id.
  return deps.db.db.insert(auditLog).select(
    sql`select null as id, ${r.at} as at, ${r.actorKind} as actor_kind, ${r.actorId} as actor_id, ${r.actorName} as actor_name, ${r.action} as action,
      ${r.objectKind} as object_kind, ${r.objectName} as object_name, ${r.clientIp} as client_ip, ${r.outcome} as outcome, ${r.detail} as detail,
      1 as count, null as last_at, null as aggregate_key, null as seq, null as hash
      where ${condition}`,
  );
}

/** Writes one record on its own: for what is not a change of stored data (a download, a failed sign-in, a request to the CA). */
export async function record(deps: Deps, by: By, entry: Omit<AuditEntry, 'clientIp'>): Promise<void> {
  await deps.db.batch([audit(deps, by, entry)]);
}

/** Who acts, as an admin API request or a page knows it. */
export function byOf(actor: Actor, clientIp: string | null | undefined): By {
  return { actor, clientIp: clientIp ?? null };
}
