// ACME accounts: registered at their CA, key sealed at rest, one warm AcmeClient per account and
// host (its directory and nonces are reused by every order).
import { eq, sql } from 'drizzle-orm';
import { preparedQuery } from '../db/prepared.ts';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { acmeAccounts, certificates } from '../db/schema.ts';
import { AcmeClient } from '../acme/index.ts';
import { type KeyType, generateKeyPair, exportPkcs8, importPrivateKey, keyFromPkcs8, sealSecret, openSecret } from '../crypto/index.ts';
import { newId } from './secrets.ts';
import { activePause, MAX_ORDERS_PER_HOUR } from './ca-pace.ts';
import { audit, record, type By } from './audit.ts';

export type AccountRow = typeof acmeAccounts.$inferSelect;

export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';
export const DEFAULT_ACCOUNT = 'default';

export const accountAad = (id: string) => `account:${id}`;

/** `letsencrypt` / `letsencrypt-staging` shorthands, else the URL itself (https only). */
export function resolveDirectoryUrl(input: string): { url: string; staging: boolean } {
  if (input === 'letsencrypt') return { url: LETS_ENCRYPT, staging: false };
  if (input === 'letsencrypt-staging') return { url: LETS_ENCRYPT_STAGING, staging: true };
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new CertkeepError('BAD_REQUEST', `directoryUrl: not a URL: ${input}`, { field: 'directoryUrl' });
  }
  if (url.protocol !== 'https:') {
    throw new CertkeepError('BAD_REQUEST', 'directoryUrl: ACME directories are served over https', { field: 'directoryUrl' });
  }
  return { url: url.href, staging: url.href === LETS_ENCRYPT_STAGING };
}

export interface NewAccountInput {
  name: string;
  directoryUrl: string;
  email?: string;
  termsOfServiceAgreed: boolean;
  staging?: boolean;
  eab?: { kid: string; hmacKey: string };
  keyType?: KeyType;
  keyPem?: string;
  /** Pacing: at most this many new orders in any hour (domain/ca-pace.ts); absent: none. */
  maxOrdersPerHour?: number | null;
}

/**
 * Registers an account at its CA and returns the row to insert. Nothing is written here, so a
 * refusal by the CA leaves nothing behind, and setup can store the account with its other rows.
 */
export async function registerAccount(deps: Deps, input: NewAccountInput): Promise<AccountRow> {
  const { url, staging } = resolveDirectoryUrl(input.directoryUrl);
  // A loopback or private directory is refused here, naming the field, unless the admin allows it.
  deps.outbound.checkUrl(url, 'directoryUrl');
  const id = newId();
  let pair: CryptoKeyPair;
  let pkcs8: Uint8Array;
  let keyType: KeyType;
  if (input.keyPem) {
    const imported = await importPrivateKey(input.keyPem);
    pair = imported.keyPair;
    pkcs8 = imported.pkcs8;
    keyType = imported.type;
  } else {
    keyType = input.keyType ?? 'ec-p256';
    pair = await generateKeyPair(keyType);
    pkcs8 = await exportPkcs8(pair.privateKey);
  }
  const client = new AcmeClient({ directoryUrl: url, accountKey: pair, outbound: deps.outbound, sleep: deps.sleep, now: deps.now });
  const { url: accountUrl } = await client.newAccount({
    contact: input.email ? [`mailto:${input.email}`] : undefined,
    termsOfServiceAgreed: input.termsOfServiceAgreed,
    externalAccountBinding: input.eab,
  });
  const now = deps.now();
  deps.log.info('acme account registered', { account: input.name, directoryUrl: url });
  return {
    id,
    name: input.name,
    directoryUrl: url,
    email: input.email ?? null,
    staging: input.staging ?? staging,
    termsOfServiceAgreed: input.termsOfServiceAgreed,
    accountUrl,
    status: 'valid',
    keyType,
    keySealed: await sealSecret(deps.masterKey, pkcs8, accountAad(id)),
    nextKeySealed: null,
    eabKid: input.eab?.kid ?? null,
    maxOrdersPerHour: input.maxOrdersPerHour ?? null,
    pausedUntil: null,
    pauseProblem: null,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * Registers an account at its CA and stores it with its audit record. (An account the CA has
 * registered but Certkeep failed to store is one nothing uses.)
 */
export async function createAccount(deps: Deps, by: By, input: NewAccountInput): Promise<AccountRow> {
  if (await findAccountByName(deps, input.name)) {
    throw new CertkeepError('CONFLICT', `name: an account named "${input.name}" already exists`, { field: 'name' });
  }
  const row = await registerAccount(deps, input);
  await deps.db.batch([
    deps.db.db.insert(acmeAccounts).values(row),
    audit(deps, by, { action: 'account.create', object: { kind: 'account', name: row.name }, detail: { directoryUrl: row.directoryUrl, keyType: row.keyType } }),
  ]);
  return row;
}

/** A second record when the CA refused what was recorded before asking it. */
async function recordRefusal(deps: Deps, by: By, action: string, name: string, err: unknown): Promise<void> {
  const problem = err instanceof CertkeepError ? ((err.details?.problem as { type?: string; detail?: string } | undefined) ?? { detail: err.message }) : { detail: String(err) };
  await record(deps, by, { action, object: { kind: 'account', name }, outcome: 'failed', detail: { problem: { type: problem.type, detail: problem.detail } } }).catch((e) =>
    deps.log.error('audit record of a failure not written', { err: e }),
  );
}

const byName = preparedQuery((db) => db.select().from(acmeAccounts).where(eq(acmeAccounts.name, sql.placeholder('name'))).limit(1).prepare());
const byId = preparedQuery((db) => db.select().from(acmeAccounts).where(eq(acmeAccounts.id, sql.placeholder('id'))).limit(1).prepare());

export async function findAccountByName(deps: Deps, name: string): Promise<AccountRow | undefined> {
  const [row] = await byName(deps.db.db).all({ name });
  return row;
}

export async function findAccountById(deps: Deps, id: string): Promise<AccountRow | undefined> {
  const [row] = await byId(deps.db.db).all({ id });
  return row;
}

export async function requireAccount(deps: Deps, name: string): Promise<AccountRow> {
  const row = await findAccountByName(deps, name);
  if (!row) throw new CertkeepError('NOT_FOUND', `no ACME account named "${name}"`);
  return row;
}

export async function listAccounts(deps: Deps): Promise<AccountRow[]> {
  return deps.db.db.select().from(acmeAccounts).orderBy(acmeAccounts.name);
}

async function accountKeyPair(deps: Deps, row: AccountRow, sealed = row.keySealed): Promise<CryptoKeyPair> {
  const pkcs8 = await openSecret(deps.masterKey, sealed, accountAad(row.id));
  return keyFromPkcs8(pkcs8, row.keyType as KeyType);
}

/** The warm client for an account; rebuilt when the account's key changed. */
export async function acmeClientFor(deps: Deps, row: AccountRow): Promise<AcmeClient> {
  const cacheKey = `${row.id}:${row.keySealed}`;
  const cached = deps.caches.acmeClients.get(cacheKey);
  if (cached) return cached;
  if (!row.accountUrl) throw new CertkeepError('CONFLICT', `ACME account "${row.name}" is not registered`);
  const client = new AcmeClient({
    directoryUrl: row.directoryUrl,
    accountKey: await accountKeyPair(deps, row),
    accountUrl: row.accountUrl,
    outbound: deps.outbound,
    sleep: deps.sleep,
    now: deps.now,
  });
  for (const key of deps.caches.acmeClients.keys()) if (key.startsWith(`${row.id}:`)) deps.caches.acmeClients.delete(key);
  deps.caches.acmeClients.set(cacheKey, client);
  return client;
}

/**
 * RFC 8555 §7.3.5 key rollover. The new key is sealed into `nextKeySealed` before the CA is
 * asked; after the CA's answer it becomes the key. If we crashed in between, the next rollover
 * (or `recoverRollover`) finds out which key the CA knows and settles on it.
 */
export async function rolloverAccountKey(deps: Deps, by: By, name: string, keyType?: KeyType): Promise<AccountRow> {
  let row = await recoverRollover(deps, await requireAccount(deps, name));
  const type = keyType ?? (row.keyType as KeyType);
  const pair = await generateKeyPair(type);
  const nextSealed = await sealSecret(deps.masterKey, await exportPkcs8(pair.privateKey), accountAad(row.id));
  // Recorded with the new key, before the CA is asked.
  await deps.db.batch([
    deps.db.db.update(acmeAccounts).set({ nextKeySealed: nextSealed, updatedAt: deps.now() }).where(eq(acmeAccounts.id, row.id)),
    audit(deps, by, { action: 'account.key-rollover', object: { kind: 'account', name }, detail: { keyType: type } }),
  ]);
  const client = await acmeClientFor(deps, row);
  try {
    await client.keyRollover(pair);
  } catch (err) {
    await recordRefusal(deps, by, 'account.key-rollover', name, err);
    throw err;
  }
  await deps.db.db
    .update(acmeAccounts)
    .set({ keySealed: nextSealed, nextKeySealed: null, keyType: type, updatedAt: deps.now() })
    .where(eq(acmeAccounts.id, row.id));
  row = (await findAccountById(deps, row.id))!;
  deps.log.info('acme account key rolled over', { account: name, keyType: type });
  return row;
}

async function recoverRollover(deps: Deps, row: AccountRow): Promise<AccountRow> {
  if (!row.nextKeySealed) return row;
  const next = await accountKeyPair(deps, row, row.nextKeySealed);
  const probe = new AcmeClient({ directoryUrl: row.directoryUrl, accountKey: next, outbound: deps.outbound, sleep: deps.sleep, now: deps.now });
  let caHasNext = false;
  try {
    await probe.newAccount({ onlyReturnExisting: true });
    caHasNext = true;
  } catch (err) {
    if (!(err instanceof CertkeepError && err.code === 'ACME_PROBLEM')) throw err;
  }
  const set = caHasNext ? { keySealed: row.nextKeySealed, nextKeySealed: null } : { nextKeySealed: null };
  await deps.db.db.update(acmeAccounts).set({ ...set, updatedAt: deps.now() }).where(eq(acmeAccounts.id, row.id));
  return (await findAccountById(deps, row.id))!;
}

export async function deactivateAccount(deps: Deps, by: By, name: string): Promise<AccountRow> {
  const row = await requireAccount(deps, name);
  const client = await acmeClientFor(deps, row);
  // Recorded before the CA is asked: it cannot be undone.
  await record(deps, by, { action: 'account.deactivate', object: { kind: 'account', name } });
  try {
    await client.deactivateAccount();
  } catch (err) {
    await recordRefusal(deps, by, 'account.deactivate', name, err);
    throw err;
  }
  await deps.db.db.update(acmeAccounts).set({ status: 'deactivated', updatedAt: deps.now() }).where(eq(acmeAccounts.id, row.id));
  return (await findAccountById(deps, row.id))!;
}

export async function deleteAccount(deps: Deps, by: By, name: string): Promise<void> {
  const row = await requireAccount(deps, name);
  const [user] = await deps.db.db.select({ name: certificates.name }).from(certificates).where(eq(certificates.accountId, row.id)).limit(1);
  if (user) throw new CertkeepError('CONFLICT', `account "${name}" is used by certificate "${user.name}"`);
  await deps.db.batch([deps.db.db.delete(acmeAccounts).where(eq(acmeAccounts.id, row.id)), audit(deps, by, { action: 'account.delete', object: { kind: 'account', name } })]);
}

/**
 * Sets or clears (null) the account's pacing. Orders already placed count towards the hour, so
 * a lower limit takes effect at once.
 */
export async function setAccountPacing(deps: Deps, by: By, name: string, maxOrdersPerHour: number | null): Promise<AccountRow> {
  const row = await requireAccount(deps, name);
  if (maxOrdersPerHour !== null && (!Number.isInteger(maxOrdersPerHour) || maxOrdersPerHour < 1 || maxOrdersPerHour > MAX_ORDERS_PER_HOUR)) {
    throw new CertkeepError('BAD_REQUEST', `maxOrdersPerHour: expected an integer from 1 to ${MAX_ORDERS_PER_HOUR}, or null`, { field: 'maxOrdersPerHour' });
  }
  await deps.db.batch([
    deps.db.db.update(acmeAccounts).set({ maxOrdersPerHour, updatedAt: deps.now() }).where(eq(acmeAccounts.id, row.id)),
    audit(deps, by, { action: 'account.pace', object: { kind: 'account', name }, detail: { maxOrdersPerHour } }),
  ]);
  deps.log.info('account pacing changed', { account: name, maxOrdersPerHour });
  // A raised limit may let waiting certificates go now.
  deps.wake?.();
  return (await findAccountById(deps, row.id))!;
}

export function accountView(row: AccountRow, now = Date.now()) {
  const pause = activePause(row, now);
  return {
    name: row.name,
    directoryUrl: row.directoryUrl,
    email: row.email,
    staging: row.staging,
    termsOfServiceAgreed: row.termsOfServiceAgreed,
    status: row.status,
    accountUrl: row.accountUrl,
    keyType: row.keyType,
    maxOrdersPerHour: row.maxOrdersPerHour,
    /** The CA asked to wait: no new order for this account before `until`. */
    pause: pause ? { until: new Date(pause.until).toISOString(), problem: pause.problem } : null,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}
