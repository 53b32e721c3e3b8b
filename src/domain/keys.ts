// Private keys for certificates. Generated or imported, sealed under the master key with the
// row id as associated data, never shown in the UI; served only to holders of the key's API keys.
import { eq, or, sql } from 'drizzle-orm';
import { preparedQuery } from '../db/prepared.ts';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { certificates, keys } from '../db/schema.ts';
import {
  type KeyType,
  KEY_TYPES,
  generateKeyPair,
  exportPkcs8,
  importPrivateKey,
  keyFromPkcs8,
  exportPublicSpki,
  sealSecret,
  openSecret,
} from '../crypto/index.ts';
import { sha256, toHex } from '../util/encoding.ts';
import { newApiKeyPair, deleteApiKeysOf } from './apikeys.ts';
import { newId } from './secrets.ts';
import { audit, type By } from './audit.ts';

export type KeyRow = typeof keys.$inferSelect;

export const keyAad = (id: string) => `key:${id}`;

export function isKeyType(value: string): value is KeyType {
  return (KEY_TYPES as readonly string[]).includes(value);
}

/**
 * Builds (but does not run) everything needed to store a key: the caller puts the statements in
 * its own batch, so a key made for a new certificate is written together with it or not at all.
 */
export async function prepareKey(deps: Deps, name: string, source: { type: KeyType } | { pem: string | Uint8Array }) {
  const id = newId();
  let type: KeyType;
  let pkcs8: Uint8Array;
  let publicKey: CryptoKey;
  if ('type' in source) {
    const pair = await generateKeyPair(source.type);
    type = source.type;
    pkcs8 = await exportPkcs8(pair.privateKey);
    publicKey = pair.publicKey;
  } else {
    const imported = await importPrivateKey(source.pem);
    type = imported.type;
    pkcs8 = imported.pkcs8;
    publicKey = imported.keyPair.publicKey;
  }
  const now = deps.now();
  // Independent WebCrypto jobs, run side by side rather than one after another.
  const [keySealed, spkiSha256, apiKeyPair] = await Promise.all([
    sealSecret(deps.masterKey, pkcs8, keyAad(id)),
    exportPublicSpki(publicKey).then(sha256).then(toHex),
    newApiKeyPair(deps, 'key', id),
  ]);
  const row: KeyRow = { id, name, type, keySealed, spkiSha256, createdAt: now, updatedAt: now };
  return {
    row,
    apiKeys: apiKeyPair.plain,
    statements: [deps.db.db.insert(keys).values(row), apiKeyPair.insert] as const,
  };
}

export async function createKey(deps: Deps, by: By, name: string, source: { type: KeyType } | { pem: string | Uint8Array }) {
  await assertKeyNameFree(deps, name);
  const prepared = await prepareKey(deps, name, source);
  await deps.db.batch([
    ...prepared.statements,
    audit(deps, by, { action: 'type' in source ? 'key.create' : 'key.import', object: { kind: 'key', name }, detail: { type: prepared.row.type } }),
  ]);
  deps.log.info('key created', { key: name, type: prepared.row.type });
  return { name, type: prepared.row.type, apiKeys: prepared.apiKeys };
}

const idByName = preparedQuery((db) => db.select({ id: keys.id }).from(keys).where(eq(keys.name, sql.placeholder('name'))).limit(1).prepare());
const byName = preparedQuery((db) => db.select().from(keys).where(eq(keys.name, sql.placeholder('name'))).limit(1).prepare());
const byId = preparedQuery((db) => db.select().from(keys).where(eq(keys.id, sql.placeholder('id'))).limit(1).prepare());

export async function assertKeyNameFree(deps: Deps, name: string): Promise<void> {
  const [existing] = await idByName(deps.db.db).all({ name });
  if (existing) throw new CertkeepError('CONFLICT', `name: a key named "${name}" already exists`, { field: 'name' });
}

export async function findKeyByName(deps: Deps, name: string): Promise<KeyRow | undefined> {
  const [row] = await byName(deps.db.db).all({ name });
  return row;
}

export async function findKeyById(deps: Deps, id: string): Promise<KeyRow | undefined> {
  const [row] = await byId(deps.db.db).all({ id });
  return row;
}

/** The key's PKCS#8 bytes, unsealed. */
export async function keyPkcs8(deps: Deps, row: KeyRow): Promise<Uint8Array> {
  return openSecret(deps.masterKey, row.keySealed, keyAad(row.id));
}

export async function keyPair(deps: Deps, row: KeyRow): Promise<CryptoKeyPair> {
  return keyFromPkcs8(await keyPkcs8(deps, row), row.type as KeyType);
}

/** Deletes a key that no certificate uses (409 otherwise). */
export async function deleteKey(deps: Deps, by: By, name: string): Promise<void> {
  const row = await findKeyByName(deps, name);
  if (!row) throw new CertkeepError('NOT_FOUND', `no key named "${name}"`);
  const [user] = await deps.db.db
    .select({ name: certificates.name })
    .from(certificates)
    .where(or(eq(certificates.keyId, row.id), eq(certificates.servedKeyId, row.id)))
    .limit(1);
  if (user) throw new CertkeepError('CONFLICT', `key "${name}" is used by certificate "${user.name}"`);
  await deps.db.batch([
    deps.db.db.delete(keys).where(eq(keys.id, row.id)),
    deleteApiKeysOf(deps, 'key', row.id),
    audit(deps, by, { action: 'key.delete', object: { kind: 'key', name } }),
  ]);
}

export function keyView(row: KeyRow) {
  return { name: row.name, type: row.type, createdAt: new Date(row.createdAt).toISOString() };
}
