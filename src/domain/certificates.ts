// Certificates: what to obtain (names, challenge, account, key) and what is being served.
import { asc, desc, eq, sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { certificates, orders, orderEvents, challenges, acmeAccounts } from '../db/schema.ts';
import { pemDecode, type CsrSubject, type KeyType } from '../crypto/index.ts';
import type { Statement } from '../db/client.ts';
import { preparedQuery } from '../db/prepared.ts';
import { newApiKeyPair, deleteApiKeysOf } from './apikeys.ts';
import { deleteConsumersOf } from './consumers.ts';
import { assertKeyNameFree, findKeyByName, prepareKey } from './keys.ts';
import { acmeClientFor, findAccountById, findAccountByName, DEFAULT_ACCOUNT } from './accounts.ts';
import { newId } from './secrets.ts';
import { activePause } from './ca-pace.ts';
import { ensureAcmeDnsRegistrations, findDnsProvider, type DnsProviderRow } from './dns/providers.ts';
import { audit, record, type By } from './audit.ts';
import { eventStatement, eventsWritten } from './events.ts';
import { revokedEvent } from './notifications/certificate-events.ts';
import { EXPIRY_DONE } from './notifications/expiry.ts';
import { deleteIssuedStatements } from './tracking/tracking.ts';

export type { CsrSubject };

export type CertificateRow = typeof certificates.$inferSelect;
export type CertificateStatus = 'new' | 'pending' | 'valid' | 'invalid' | 'expired' | 'revoked';

export interface NewCertificateInput {
  name: string;
  domains: string[];
  challenge: 'http-01' | 'dns-01';
  account?: string;
  key?: string;
  keyType?: KeyType;
  dnsProvider?: string;
  preferredChain?: string;
  profile?: string;
  subject?: CsrSubject;
}

export async function createCertificate(deps: Deps, by: By, input: NewCertificateInput) {
  if (await findCertificateByName(deps, input.name)) {
    throw new CertkeepError('CONFLICT', `name: a certificate named "${input.name}" already exists`, { field: 'name' });
  }
  const account = await findAccountByName(deps, input.account ?? DEFAULT_ACCOUNT);
  if (!account) throw new CertkeepError('BAD_REQUEST', `account: no ACME account named "${input.account ?? DEFAULT_ACCOUNT}"`, { field: 'account' });
  if (account.status !== 'valid') throw new CertkeepError('BAD_REQUEST', `account: "${account.name}" is ${account.status}`, { field: 'account' });
  let dnsProvider: DnsProviderRow | undefined;
  if (input.challenge === 'dns-01') {
    if (!input.dnsProvider) throw new CertkeepError('BAD_REQUEST', 'dnsProvider: required for dns-01', { field: 'dnsProvider' });
    dnsProvider = await findDnsProvider(deps, input.dnsProvider);
    if (!dnsProvider) throw new CertkeepError('BAD_REQUEST', `dnsProvider: no DNS provider named "${input.dnsProvider}"`, { field: 'dnsProvider' });
  } else if (input.dnsProvider) {
    throw new CertkeepError('BAD_REQUEST', 'dnsProvider: only used with "challenge": "dns-01"', { field: 'dnsProvider' });
  }

  const statements: Statement[] = [];
  let keyId: string;
  let newKey: { name: string; apiKeys: string[] } | undefined;
  const id = newId();
  // The certificate's API keys are made while its key is (independent WebCrypto jobs).
  const makingApiKeys = newApiKeyPair(deps, 'certificate', id);
  makingApiKeys.catch(() => {}); // awaited below; a refusal in between must not leave it unhandled
  if (input.key) {
    const key = await findKeyByName(deps, input.key);
    if (!key) throw new CertkeepError('BAD_REQUEST', `key: no key named "${input.key}"`, { field: 'key' });
    keyId = key.id;
  } else {
    await assertKeyNameFree(deps, input.name);
    const prepared = await prepareKey(deps, input.name, { type: input.keyType ?? 'ec-p256' });
    statements.push(...prepared.statements);
    keyId = prepared.row.id;
    newKey = { name: input.name, apiKeys: prepared.apiKeys };
  }
  const apiKeyPair = await makingApiKeys;
  // acme-dns: each name needs an account there and a CNAME to it; registering first lets the
  // answer tell the admin which CNAMEs to create.
  const cnames = dnsProvider?.type === 'acme-dns' ? await ensureAcmeDnsRegistrations(deps, dnsProvider, input.domains) : undefined;
  const row = newCertificateRow(deps, id, {
    name: input.name,
    domains: input.domains,
    challenge: input.challenge,
    accountId: account.id,
    keyId,
    dnsProviderId: dnsProvider?.id,
    preferredChain: input.preferredChain,
    profile: input.profile,
    subject: input.subject,
  });
  // One batch: the key (when made here), the certificate and both API key pairs, or nothing.
  await deps.db.batch([
    ...statements,
    deps.db.db.insert(certificates).values(row),
    apiKeyPair.insert,
    audit(deps, by, {
      action: 'certificate.create',
      object: { kind: 'certificate', name: input.name },
      detail: { domains: input.domains, challenge: input.challenge, account: account.name, key: newKey ? { name: newKey.name, created: true } : { name: input.key } },
    }),
  ]);
  deps.log.info('certificate created', { certificate: input.name, domains: input.domains.length });
  // Never issued: due now (SPEC §7: its order starts within a second when a slot is free).
  deps.wake?.();
  return { row, apiKeys: apiKeyPair.plain, key: newKey ?? { name: input.key! }, ...(cnames ? { dns: { cnames } } : {}) };
}

/** A certificate row that has never been issued: due at once for the scheduler. */
export function newCertificateRow(
  deps: Deps,
  id: string,
  f: {
    name: string;
    domains: string[];
    challenge: 'http-01' | 'dns-01';
    accountId: string;
    keyId: string;
    dnsProviderId?: string;
    preferredChain?: string;
    profile?: string;
    subject?: CsrSubject;
  },
): CertificateRow {
  const now = deps.now();
  return {
    id,
    name: f.name,
    domains: JSON.stringify(f.domains),
    challenge: f.challenge,
    accountId: f.accountId,
    keyId: f.keyId,
    dnsProviderId: f.dnsProviderId ?? null,
    preferredChain: f.preferredChain ?? null,
    profile: f.profile ?? null,
    subject: f.subject ? JSON.stringify(f.subject) : null,
    status: 'new',
    pem: null,
    servedKeyId: null,
    serial: null,
    notBefore: null,
    notAfter: null,
    renewAt: null,
    ariWindowStart: null,
    ariWindowEnd: null,
    ariCheckAt: null,
    lastError: null,
    failureCount: 0,
    nextAttemptAt: null,
    failingSince: null,
    expiryCheckAt: null,
    revokedAt: null,
    revocationReason: null,
    createdAt: now,
    updatedAt: now,
  };
}

const byName = preparedQuery((db) => db.select().from(certificates).where(eq(certificates.name, sql.placeholder('name'))).limit(1).prepare());
const byId = preparedQuery((db) => db.select().from(certificates).where(eq(certificates.id, sql.placeholder('id'))).limit(1).prepare());

export async function findCertificateByName(deps: Deps, name: string): Promise<CertificateRow | undefined> {
  const [row] = await byName(deps.db.db).all({ name });
  return row;
}

/** A certificate's subject: the first of its names (what Certera called the subject). */
export const certificateSubject = sql<string>`${certificates.domains} ->> '$[0]'`;

/**
 * The certificate whose subject (first name) is `subject`, through the certificates_subject
 * index. Several may share a subject: `preferId`'s wins when it is one of them (the download API
 * passes the certificate its API key opens), then the oldest, then by id.
 */
export async function findCertificateBySubject(deps: Deps, subject: string, preferId: string | null): Promise<CertificateRow | undefined> {
  const [row] = await deps.db.db
    .select()
    .from(certificates)
    .where(eq(certificateSubject, subject))
    .orderBy(desc(eq(certificates.id, preferId ?? '')), asc(certificates.createdAt), asc(certificates.id))
    .limit(1);
  return row;
}

export async function findCertificateById(deps: Deps, id: string): Promise<CertificateRow | undefined> {
  const [row] = await byId(deps.db.db).all({ id });
  return row;
}

export async function requireCertificate(deps: Deps, name: string): Promise<CertificateRow> {
  const row = await findCertificateByName(deps, name);
  if (!row) throw new CertkeepError('NOT_FOUND', `no certificate named "${name}"`);
  return row;
}

/** The status a user sees: stored status, with `expired` derived from the served certificate. */
export function certificateStatus(row: CertificateRow, now: number): CertificateStatus {
  if (row.status === 'revoked') return 'revoked';
  if (row.pem && row.notAfter !== null && row.notAfter <= now) return 'expired';
  if (row.pem) return 'valid';
  return row.status;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export async function certificateView(deps: Deps, row: CertificateRow) {
  const [account] = await deps.db.db
    .select({ name: acmeAccounts.name, staging: acmeAccounts.staging, pausedUntil: acmeAccounts.pausedUntil, pauseProblem: acmeAccounts.pauseProblem })
    .from(acmeAccounts)
    .where(eq(acmeAccounts.id, row.accountId));
  const pause = account ? activePause(account, deps.now()) : null;
  return {
    name: row.name,
    domains: JSON.parse(row.domains) as string[],
    challenge: row.challenge,
    account: account?.name ?? null,
    staging: account?.staging ?? false,
    status: certificateStatus(row, deps.now()),
    serial: row.serial,
    notBefore: iso(row.notBefore),
    notAfter: iso(row.notAfter),
    renewAt: iso(row.renewAt),
    nextAttemptAt: iso(row.nextAttemptAt),
    failureCount: row.failureCount,
    lastError: row.lastError ? JSON.parse(row.lastError) : null,
    revokedAt: iso(row.revokedAt),
    createdAt: iso(row.createdAt),
    /** The CA asked to pause new orders of this certificate's account until `until` (domain/ca-pace.ts). */
    caPause: pause ? { until: iso(pause.until), problem: pause.problem } : null,
  };
}

export async function orderEventsOf(deps: Deps, orderId: string) {
  return deps.db.db.select().from(orderEvents).where(eq(orderEvents.orderId, orderId)).orderBy(orderEvents.id);
}

/** Deletes a certificate with its history; refused while an order for it runs. */
export async function deleteCertificate(deps: Deps, by: By, name: string): Promise<void> {
  const row = await requireCertificate(deps, name);
  const running = await deps.db.db
    .select({ n: sql<number>`count(*)` })
    .from(orders)
    .where(sql`${orders.certificateId} = ${row.id} and ${orders.finishedAt} is null`);
  if (running[0].n > 0) throw new CertkeepError('CONFLICT', `certificate "${name}" has an order in progress`);
  const orderIds = deps.db.db.select({ id: orders.id }).from(orders).where(eq(orders.certificateId, row.id));
  await deps.db.batch([
    deps.db.db.delete(challenges).where(sql`${challenges.orderId} in ${orderIds}`),
    deps.db.db.delete(orderEvents).where(sql`${orderEvents.orderId} in ${orderIds}`),
    deps.db.db.delete(orders).where(eq(orders.certificateId, row.id)),
    deleteApiKeysOf(deps, 'certificate', row.id),
    deleteConsumersOf(deps, row.id),
    ...deleteIssuedStatements(deps, row.id),
    deps.db.db.delete(certificates).where(eq(certificates.id, row.id)),
    audit(deps, by, { action: 'certificate.delete', object: { kind: 'certificate', name }, detail: { serial: row.serial } }),
  ]);
}

/** "Issue now" (the admin API's issue, the page's "Request now"): recorded before the order starts. */
export async function recordIssueRequest(deps: Deps, by: By, cert: CertificateRow): Promise<void> {
  await record(deps, by, { action: 'certificate.issue', object: { kind: 'certificate', name: cert.name } });
}

/** RFC 8555 §7.6 revocation with the account key; the certificate stops being renewed. */
export async function revokeCertificate(deps: Deps, by: By, name: string, reason: number): Promise<CertificateRow> {
  const row = await requireCertificate(deps, name);
  if (!row.pem) throw new CertkeepError('CONFLICT', `certificate "${name}" has not been issued`);
  if (row.status === 'revoked') throw new CertkeepError('CONFLICT', `certificate "${name}" is already revoked`);
  const account = await findAccountById(deps, row.accountId);
  if (!account) throw new CertkeepError('INTERNAL', "the certificate's ACME account is missing");
  const client = await acmeClientFor(deps, account);
  // Recorded before the CA is asked: a revocation cannot be undone.
  const object = { kind: 'certificate', name };
  await record(deps, by, { action: 'certificate.revoke', object, detail: { serial: row.serial, reason } });
  try {
    await client.revokeCertificate(pemDecode(row.pem)[0].der, { reason });
  } catch (err) {
    const problem = err instanceof CertkeepError ? (err.details?.problem as { type?: string; detail?: string } | undefined) : undefined;
    await record(deps, by, { action: 'certificate.revoke', object, outcome: 'failed', detail: { serial: row.serial, problem: { type: problem?.type, detail: problem?.detail ?? (err as Error).message } } }).catch(
      (e) => deps.log.error('audit record of a failure not written', { err: e }),
    );
    throw err;
  }
  const now = deps.now();
  await deps.db.batch([
    deps.db.db
      .update(certificates)
      .set({ status: 'revoked', revokedAt: now, revocationReason: reason, renewAt: null, expiryCheckAt: EXPIRY_DONE, updatedAt: now })
      .where(eq(certificates.id, row.id)),
    eventStatement(deps, revokedEvent(row, reason, now)),
  ]);
  eventsWritten(deps);
  deps.log.info('certificate revoked', { certificate: name, serial: row.serial, reason });
  return (await findCertificateById(deps, row.id))!;
}

/**
 * Points a certificate at another key — an existing one, or a new one of `keyType` — so that
 * its next issuance uses it. The certificate being served, and its key, stay as they are until
 * that issuance succeeds.
 */
export async function rotateCertificateKey(deps: Deps, by: By, name: string, to: { key: string } | { keyType: KeyType; keyName?: string }) {
  const cert = await requireCertificate(deps, name);
  let keyId: string;
  let created: { name: string; type: string; apiKeys: string[] } | undefined;
  const statements: Statement[] = [];
  if ('key' in to) {
    const key = await findKeyByName(deps, to.key);
    if (!key) throw new CertkeepError('BAD_REQUEST', `key: no key named "${to.key}"`, { field: 'key' });
    if (key.id === cert.keyId) throw new CertkeepError('CONFLICT', `key: certificate "${name}" already uses key "${to.key}"`, { field: 'key' });
    keyId = key.id;
  } else {
    const keyName = to.keyName ?? (await freeKeyName(deps, cert.name));
    await assertKeyNameFree(deps, keyName);
    const prepared = await prepareKey(deps, keyName, { type: to.keyType });
    statements.push(...prepared.statements);
    keyId = prepared.row.id;
    created = { name: keyName, type: prepared.row.type, apiKeys: prepared.apiKeys };
  }
  statements.push(
    deps.db.db.update(certificates).set({ keyId, updatedAt: deps.now() }).where(eq(certificates.id, cert.id)),
    audit(deps, by, {
      action: 'certificate.key',
      object: { kind: 'certificate', name },
      detail: { key: created ? { name: created.name, type: created.type, created: true } : { name: (to as { key: string }).key } },
    }),
  );
  await deps.db.batch(statements);
  deps.log.info('certificate key rotated', { certificate: name });
  return created ?? { name: (to as { key: string }).key };
}

/** `<base>-2`, `<base>-3`, … : the first key name not taken. */
async function freeKeyName(deps: Deps, base: string): Promise<string> {
  for (let n = 2; n < 1000; n++) {
    const candidate = `${base.slice(0, 60)}-${n}`;
    if (!(await findKeyByName(deps, candidate))) return candidate;
  }
  throw new CertkeepError('CONFLICT', 'keyName: no free key name; give one');
}
