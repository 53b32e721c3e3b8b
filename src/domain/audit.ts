// The audit log (SPEC §4.4): who did what to which object, from which address, with what outcome.
// A record is written as a statement in the same batch as the change it records: an action whose
// record cannot be written is not carried out ("fail closed"). Records hold no secret: no key
// material, no API key, no password, no token.
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
  | { kind: 'api-key'; id: string; name: string }
  /** `certkeep …` on the server itself. */
  | { kind: 'cli'; name: string }
  /** Certkeep on its own (the scheduler). */
  | { kind: 'system'; name: string };

export const CLI_ACTOR: Actor = { kind: 'cli', name: 'certkeep CLI' };
export const SYSTEM_ACTOR: Actor = { kind: 'system', name: 'Certkeep' };

export interface AuditEntry {
  /** `certificate.create`, `key.download`, `account.delete`, … */
  action: string;
  object?: { kind: string; name: string };
  outcome?: 'ok' | 'refused' | 'failed';
  /** The client's address, when a request did it. */
  clientIp?: string | null;
  /** Further facts, never a secret. */
  detail?: Record<string, unknown>;
}

/** The statement that records `entry`, for the batch of the change it records. */
export function auditStatement(deps: Deps, actor: Actor, entry: AuditEntry): Statement {
  return deps.db.db.insert(auditLog).values({
    at: deps.now(),
    actorKind: actor.kind,
    actorId: 'id' in actor ? actor.id : null,
    actorName: actor.name,
    action: entry.action,
    objectKind: entry.object?.kind ?? null,
    objectName: entry.object?.name ?? null,
    clientIp: entry.clientIp ?? null,
    outcome: entry.outcome ?? 'ok',
    detail: entry.detail ? JSON.stringify(entry.detail) : null,
  });
}
