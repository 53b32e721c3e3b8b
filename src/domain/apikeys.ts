// Download API keys: each key and certificate has two slots, so one can be rotated while clients
// still use the other. Only hashes are stored. The prefix tells people which kind a key is:
// `ckc_` opens a certificate (/api/certificate/…), `ckk_` a private key (/api/key/…); keys made
// before that distinction start with `cka_` and keep working for the object they belong to.
import { and, eq } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { apiKeys } from '../db/schema.ts';
import { hashSecret, hashesEqual, looksLikeSecret, newId, newSecret, type SecretPrefix } from './secrets.ts';
import { audit, type By } from './audit.ts';

export type ApiKeyOwnerKind = 'key' | 'certificate';

/** The prefix of the API keys made for each kind of object. */
export const API_KEY_PREFIX: Record<ApiKeyOwnerKind, SecretPrefix> = { certificate: 'ckc', key: 'ckk' };

/** Makes two fresh API keys and the insert statements for them (to run in the caller's batch). */
export async function newApiKeyPair(deps: Deps, ownerKind: ApiKeyOwnerKind, ownerId: string) {
  const now = deps.now();
  const plain = [newSecret(API_KEY_PREFIX[ownerKind]), newSecret(API_KEY_PREFIX[ownerKind])] as const;
  const rows = await Promise.all(
    plain.map(async (k, i) => ({ id: newId(), ownerKind, ownerId, slot: i + 1, keyHash: await hashSecret(deps, k), createdAt: now })),
  );
  return { plain: [...plain], insert: deps.db.db.insert(apiKeys).values(rows) };
}

/** Replaces the key in one slot; the other slot keeps working. Returns the new key, shown once. */
export async function rotateApiKey(deps: Deps, by: By, ownerKind: ApiKeyOwnerKind, owner: { id: string; name: string }, slot: 1 | 2): Promise<string> {
  const plain = newSecret(API_KEY_PREFIX[ownerKind]);
  await deps.db.batch([
    deps.db.db
      .update(apiKeys)
      .set({ keyHash: await hashSecret(deps, plain), createdAt: deps.now() })
      .where(and(eq(apiKeys.ownerKind, ownerKind), eq(apiKeys.ownerId, owner.id), eq(apiKeys.slot, slot))),
    audit(deps, by, { action: `${ownerKind}.api-key`, object: { kind: ownerKind, name: owner.name }, detail: { slot } }),
  ]);
  return plain;
}

export function deleteApiKeysOf(deps: Deps, ownerKind: ApiKeyOwnerKind, ownerId: string) {
  return deps.db.db.delete(apiKeys).where(and(eq(apiKeys.ownerKind, ownerKind), eq(apiKeys.ownerId, ownerId)));
}

export interface ApiKeyOwner {
  ownerKind: ApiKeyOwnerKind;
  ownerId: string;
  /** Which of the owner's two API keys it is (1 or 2). */
  slot: number;
}

/**
 * API keys brought over from Certera as they were (`certkeep import certera`): 256 random bits
 * in base 36, lower case, which Certera wrote without leading zeros (about 50 characters). Fewer
 * than 40 characters would mean fewer than about 206 bits, which no key Certera made has in
 * practice: such a value is refused, at import and when presented.
 */
const CERTERA_API_KEY = /^[0-9a-z]{40,50}$/;

export function isCerteraApiKey(value: string | null | undefined): value is string {
  return typeof value === 'string' && CERTERA_API_KEY.test(value);
}

/** Download API keys as newApiKeyPair makes them (or made them, `cka_`), or as Certera made them; anything else never reaches hashing or the database. */
export function isApiKey(presented: string | null | undefined): presented is string {
  return (looksLikeSecret(presented) && /^ck[cka]_/.test(presented)) || isCerteraApiKey(presented);
}

/** Who a presented API key belongs to, or null. Malformed keys never reach the database. */
export async function findApiKeyOwner(deps: Deps, presented: string | null): Promise<ApiKeyOwner | null> {
  if (!isApiKey(presented)) return null;
  return findApiKeyOwnerByHash(deps, await hashSecret(deps, presented));
}

/** Who the API key with this hash (hashSecret of the presented key) belongs to, or null. */
export async function findApiKeyOwnerByHash(deps: Deps, hash: string): Promise<ApiKeyOwner | null> {
  const [row] = await deps.db.db
    .select({ keyHash: apiKeys.keyHash, ownerKind: apiKeys.ownerKind, ownerId: apiKeys.ownerId, slot: apiKeys.slot })
    .from(apiKeys)
    .where(eq(apiKeys.keyHash, hash))
    .limit(1);
  if (!row || !hashesEqual(row.keyHash, hash)) return null;
  return { ownerKind: row.ownerKind, ownerId: row.ownerId, slot: row.slot };
}
