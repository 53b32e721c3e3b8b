// First-run setup: the admin user, the ACME account named `default`, and — with a hostname — the
// site certificate. Two ways in:
//
// - runSetup (POST /api/v1/setup, `certkeep setup`) does it all at once and also makes the first
//   admin token. The CA is asked first; then everything is written in one batch whose first
//   statement fails if setup already happened, so two concurrent setups cannot both succeed and
//   a refused registration leaves nothing behind.
// - The wizard (/setup) does it in steps, each written as it is submitted: startSetup creates
//   the administrator (who is then signed in, and later steps ask for that session),
//   registerSetupAccount the ACME account, finishSetup the site certificate and the mark that
//   setup is done. Until that mark exists, every admin page leads back to the wizard, and
//   setupProgress says which step is next, so a reload or a new browser lands where it left off.
//
// Setup counts as done only once the `setupCompletedAt` setting exists (isSetupDone), and it is
// written only where the ACME account exists: runSetup's batch, or finishSetup after the account
// step. A runSetup while a wizard is half-way replaces the wizard's rows.
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import type { Statement } from '../db/client.ts';
import { CertkeepError } from '../errors.ts';
import { acmeAccounts, certificates, orders, sessions, settings, users } from '../db/schema.ts';
import type { KeyType } from '../crypto/index.ts';
import { DEFAULT_ACCOUNT, findAccountByName, registerAccount, type AccountRow } from './accounts.ts';
import { hashPassword } from './passwords.ts';
import { prepareAdminToken } from './tokens.ts';
import { assertKeyNameFree, prepareKey } from './keys.ts';
import { newApiKeyPair } from './apikeys.ts';
import { newId } from './secrets.ts';
import { settingStatement } from './settings.ts';
import { certificateStatus, findCertificateByName, newCertificateRow } from './certificates.ts';
import { updateCertificate } from './certificate-edit.ts';
import { normalizeDomain } from './names.ts';
import { audit, type Actor, type By } from './audit.ts';

export const SITE_CERTIFICATE = 'site';

type UserRow = typeof users.$inferSelect;

/** Settings rows of their own (not AppSettings: nothing outside setup reads them). */
export const SETUP_COMPLETED = 'setupCompletedAt';
/** The user id of the administrator the wizard created; from its first step until setup is done. */
const WIZARD_ADMIN = 'setupAdmin';

export const MIN_PASSWORD = 10;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface AcmeAccountInput {
  directoryUrl: string;
  email?: string;
  termsOfServiceAgreed: boolean;
  eab?: { kid: string; hmacKey: string };
  /** The wizard only: an account key brought as PEM, or the type of a new one (default EC P-256). */
  keyPem?: string;
  keyType?: KeyType;
}

export interface SetupInput {
  adminEmail: string;
  adminPassword: string;
  acme: AcmeAccountInput;
  hostname?: string;
}

export async function isSetupDone(deps: Deps): Promise<boolean> {
  const [row] = await deps.db.db.select({ key: settings.key }).from(settings).where(eq(settings.key, SETUP_COMPLETED)).limit(1);
  return !!row;
}

function alreadyDone(): CertkeepError {
  return new CertkeepError('CONFLICT', 'setup has already been completed');
}

function invalid(field: string, detail: string): CertkeepError {
  return new CertkeepError('BAD_REQUEST', `${field}: ${detail}`, { field });
}

/**
 * A statement that makes its batch fail once setup is done, and does nothing before: it copies
 * the completion row onto itself, a primary-key conflict exactly when that row exists. A wizard
 * step that raced with the end of setup is thereby refused whole, never half-written.
 */
function unlessSetupDone(deps: Deps): Statement {
  return deps.db.db
    .insert(settings)
    .select(deps.db.db.select({ key: settings.key, value: settings.value, updatedAt: settings.updatedAt }).from(settings).where(eq(settings.key, SETUP_COMPLETED)));
}

/** Runs a wizard step's batch; a failure because setup ended meanwhile becomes CONFLICT. */
async function wizardBatch(deps: Deps, statements: Statement[]): Promise<void> {
  try {
    await deps.db.batch([unlessSetupDone(deps), ...statements]);
  } catch (err) {
    if (await isSetupDone(deps)) throw alreadyDone();
    throw err;
  }
}

// ---- where the wizard stands --------------------------------------------------------------------

export type SetupStep = 'admin' | 'acme' | 'server' | 'done';

export interface SetupState {
  step: SetupStep;
  /** The wizard's administrator, once created (and until setup is done). */
  admin?: UserRow;
  /** The `default` ACME account the wizard registered (steps 'server' and 'done'). */
  account?: AccountRow;
}

/** The next step of the wizard, from what is stored: a reload or another browser resumes there. */
export async function setupState(deps: Deps): Promise<SetupState> {
  const rows = await deps.db.db.select().from(settings).where(inArray(settings.key, [SETUP_COMPLETED, WIZARD_ADMIN]));
  if (rows.some((r) => r.key === SETUP_COMPLETED)) return { step: 'done' };
  const adminRow = rows.find((r) => r.key === WIZARD_ADMIN);
  const [admin] = adminRow ? await deps.db.db.select().from(users).where(eq(users.id, JSON.parse(adminRow.value) as string)).limit(1) : [];
  if (!admin) return { step: 'admin' };
  const account = await findAccountByName(deps, DEFAULT_ACCOUNT);
  return account ? { step: 'server', admin, account } : { step: 'acme', admin };
}

// ---- step 1: the administrator ------------------------------------------------------------------

function checkAdmin(input: { email: string; password?: string }): { email: string } {
  const email = input.email.trim().toLowerCase();
  if (!EMAIL.test(email) || email.length > 254) throw invalid('adminEmail', 'expected an email address');
  if (input.password !== undefined && input.password.length < MIN_PASSWORD) throw invalid('adminPassword', `at least ${MIN_PASSWORD} characters`);
  if (input.password !== undefined && input.password.length > 1024) throw invalid('adminPassword', 'at most 1024 characters');
  return { email };
}

/**
 * The wizard's first step: creates the administrator. Only one: the WIZARD_ADMIN row is inserted
 * plainly in the same batch, so a second browser's attempt fails (CONFLICT: sign in instead). A
 * WIZARD_ADMIN row left pointing at no user (its user replaced by runSetup) does not block.
 */
export async function startSetup(deps: Deps, from: { clientIp?: string | null }, input: { email: string; password: string }): Promise<UserRow> {
  const { email } = checkAdmin(input);
  if (await isSetupDone(deps)) throw alreadyDone();
  const now = deps.now();
  const user: UserRow = {
    id: newId(),
    email,
    passwordHash: await hashPassword(input.password),
    failedLogins: 0,
    lockedUntil: null,
    totpSecretSealed: null,
    totpLastStep: null,
    recoveryCodes: null,
    createdAt: now,
    updatedAt: now,
  };
  try {
    await wizardBatch(deps, [
      deps.db.db.delete(settings).where(and(eq(settings.key, WIZARD_ADMIN), sql`${settings.value} not in (select json_quote(${users.id}) from ${users})`)),
      deps.db.db.insert(settings).values({ key: WIZARD_ADMIN, value: JSON.stringify(user.id), updatedAt: now }),
      deps.db.db.insert(users).values(user),
      // Who acts is the administrator being created.
      audit(deps, { actor: { kind: 'user', id: user.id, name: email }, clientIp: from.clientIp }, { action: 'setup.admin', object: { kind: 'user', name: email } }),
    ]);
  } catch (err) {
    if (err instanceof CertkeepError || (await setupState(deps)).step === 'admin') throw err;
    throw new CertkeepError('CONFLICT', 'setup was already started: sign in with the administrator account to continue', { cause: err });
  }
  deps.log.info('setup: administrator created', { email });
  return user;
}

/** Back at step 1: another email, and a new password when one is given. */
export async function changeSetupAdmin(deps: Deps, by: By, adminId: string, input: { email: string; password?: string }): Promise<void> {
  const { email } = checkAdmin(input);
  const now = deps.now();
  await wizardBatch(deps, [
    deps.db.db
      .update(users)
      .set({ email, ...(input.password !== undefined ? { passwordHash: await hashPassword(input.password) } : {}), updatedAt: now })
      .where(eq(users.id, adminId)),
    audit(deps, by, { action: 'setup.admin', object: { kind: 'user', name: email }, detail: { passwordChanged: input.password !== undefined } }),
  ]);
}

// ---- step 2: the ACME account -------------------------------------------------------------------

/**
 * The wizard's second step: registers the `default` account at the CA, then stores it. Going back
 * to this step and registering again replaces the stored account (the CA keeps the old one, which
 * nothing uses). Nothing is stored when the CA refuses.
 */
export async function registerSetupAccount(deps: Deps, by: By, acme: AcmeAccountInput): Promise<AccountRow> {
  if (!acme.termsOfServiceAgreed) throw invalid('acme.termsOfServiceAgreed', "the CA's terms of service must be accepted");
  if (await isSetupDone(deps)) throw alreadyDone();
  const account = await registerAccount(deps, { name: DEFAULT_ACCOUNT, ...acme, termsOfServiceAgreed: true });
  await wizardBatch(deps, [
    deps.db.db.delete(acmeAccounts).where(eq(acmeAccounts.name, DEFAULT_ACCOUNT)),
    deps.db.db.insert(acmeAccounts).values(account),
    audit(deps, by, { action: 'setup.account', object: { kind: 'account', name: DEFAULT_ACCOUNT }, detail: { directoryUrl: account.directoryUrl, keyType: account.keyType } }),
  ]);
  return account;
}

// ---- step 3: the server, and done ---------------------------------------------------------------

/** A site hostname as typed: one DNS name, no wildcard (http-01 cannot validate one). */
export function siteHostname(input: string): string {
  if (/[/:]/.test(input.trim())) throw invalid('hostname', 'only the name, without https:// or a port or a path: for example certkeep.example.com');
  const name = normalizeDomain(input, 'hostname');
  if (name.startsWith('*.')) throw invalid('hostname', 'the site hostname cannot be a wildcard');
  return name;
}

/**
 * The wizard's last step: with a hostname, the site certificate (obtained from then on like any
 * other); then setup is done. Needs the account of step 2.
 */
export async function finishSetup(deps: Deps, by: By, input: { hostname?: string }): Promise<void> {
  const account = await findAccountByName(deps, DEFAULT_ACCOUNT);
  if (!account) throw new CertkeepError('CONFLICT', 'the ACME account is missing: register it first');
  const hostname = input.hostname === undefined ? undefined : siteHostname(input.hostname);
  const now = deps.now();
  const statements: Statement[] = [
    // Plain insert: it fails once setup is done, and the whole batch with it.
    deps.db.db.insert(settings).values({ key: SETUP_COMPLETED, value: JSON.stringify(now), updatedAt: now }),
    deps.db.db.delete(settings).where(eq(settings.key, WIZARD_ADMIN)),
    audit(deps, by, { action: 'setup.complete', detail: { hostname: hostname ?? null, by: 'wizard' } }),
  ];
  if (hostname) statements.push(...(await siteCertificateStatements(deps, hostname, account.id)));
  try {
    await deps.db.batch(statements);
  } catch (err) {
    if (await isSetupDone(deps)) throw alreadyDone();
    throw err;
  }
  deps.log.info('setup completed', { hostname: hostname ?? null, by: 'wizard' });
}

// ---- all at once --------------------------------------------------------------------------------

/**
 * `by.actor`: who runs it (the CLI); absent for POST /api/v1/setup, where the administrator being
 * created is who acts.
 */
export async function runSetup(deps: Deps, by: { actor?: Actor; clientIp?: string | null }, input: SetupInput): Promise<{ token: string }> {
  if (await isSetupDone(deps)) throw alreadyDone();
  if (!input.acme.termsOfServiceAgreed) {
    throw invalid('acme.termsOfServiceAgreed', "the CA's terms of service must be accepted");
  }
  const account = await registerAccount(deps, {
    name: DEFAULT_ACCOUNT,
    directoryUrl: input.acme.directoryUrl,
    email: input.acme.email ?? input.adminEmail,
    termsOfServiceAgreed: true,
    eab: input.acme.eab,
    keyPem: input.acme.keyPem,
    keyType: input.acme.keyType,
  });
  const now = deps.now();
  const { token, statement: tokenInsert } = await prepareAdminToken(deps, 'setup');
  const adminId = newId();
  const adminEmail = input.adminEmail.toLowerCase();
  const actor: Actor = by.actor ?? { kind: 'user', id: adminId, name: adminEmail };
  const statements: Statement[] = [
    // Plain insert: a second setup fails here, and the whole batch with it.
    deps.db.db.insert(settings).values({ key: SETUP_COMPLETED, value: JSON.stringify(now), updatedAt: now }),
    // A wizard left half-way is replaced: before setup, every user and the `default` account are its.
    ...(await abandonedWizardStatements(deps)),
    deps.db.db.insert(users).values({
      id: adminId,
      email: adminEmail,
      passwordHash: await hashPassword(input.adminPassword),
      failedLogins: 0,
      lockedUntil: null,
      createdAt: now,
      updatedAt: now,
    }),
    deps.db.db.insert(acmeAccounts).values(account),
    tokenInsert,
    audit(deps, { actor, clientIp: by.clientIp }, {
      action: 'setup.complete',
      detail: { admin: adminEmail, directoryUrl: account.directoryUrl, hostname: input.hostname ?? null, token: 'setup' },
    }),
  ];
  if (input.hostname) statements.push(...(await siteCertificateStatements(deps, input.hostname, account.id)));
  try {
    await deps.db.batch(statements);
  } catch (err) {
    if (await isSetupDone(deps)) throw alreadyDone();
    throw err;
  }
  deps.log.info('setup completed', { hostname: input.hostname ?? null });
  return { token };
}

async function abandonedWizardStatements(deps: Deps): Promise<Statement[]> {
  const ids = (await deps.db.db.select({ id: users.id }).from(users)).map((u) => u.id);
  return [
    deps.db.db.delete(settings).where(eq(settings.key, WIZARD_ADMIN)),
    deps.db.db.delete(acmeAccounts).where(eq(acmeAccounts.name, DEFAULT_ACCOUNT)),
    ...(ids.length ? [deps.db.db.delete(sessions).where(inArray(sessions.userId, ids)), deps.db.db.delete(users).where(inArray(users.id, ids))] : []),
  ];
}

async function siteCertificateStatements(deps: Deps, hostname: string, accountId: string) {
  const key = await prepareKey(deps, SITE_CERTIFICATE, { type: 'ec-p256' });
  const id = newId();
  const apiKeyPair = await newApiKeyPair(deps, 'certificate', id);
  const row = newCertificateRow(deps, id, { name: SITE_CERTIFICATE, domains: [hostname], challenge: 'http-01', accountId, keyId: key.row.id });
  return [...key.statements, deps.db.db.insert(certificates).values(row), apiKeyPair.insert, settingStatement(deps, 'siteCertificate', SITE_CERTIFICATE)];
}

// ---- after the wizard: the site certificate ----------------------------------------------------

export interface SiteCertificateProgress {
  id: string;
  hostname: string;
  /** `running` until the certificate is served or the last attempt failed and none runs. */
  state: 'running' | 'valid' | 'failed';
  serial: string | null;
  /** The CA's problem document (or Certkeep's) of the failed attempt. */
  problem?: { type: string; detail?: string; subproblems?: unknown[] };
}

export async function siteCertificateProgress(deps: Deps): Promise<SiteCertificateProgress | undefined> {
  const cert = await findCertificateByName(deps, SITE_CERTIFICATE);
  if (!cert) return undefined;
  const hostname = (JSON.parse(cert.domains) as string[])[0];
  const base = { id: cert.id, hostname, serial: cert.serial };
  if (certificateStatus(cert, deps.now()) === 'valid') return { ...base, state: 'valid' };
  if (!cert.lastError) return { ...base, state: 'running' };
  const [open] = await deps.db.db.select({ id: orders.id }).from(orders).where(and(eq(orders.certificateId, cert.id), isNull(orders.finishedAt))).limit(1);
  return open ? { ...base, state: 'running' } : { ...base, state: 'failed', problem: JSON.parse(cert.lastError) };
}

/**
 * "Fix and try again" after the site certificate failed: another hostname if one is given, and a
 * fresh attempt (the failure is the previous attempt's, kept in the order history). The caller
 * starts the attempt; the scheduler would anyway, as the certificate is due at once.
 */
export async function retrySiteCertificate(deps: Deps, by: By, hostname: string): Promise<SiteCertificateProgress> {
  const name = siteHostname(hostname);
  const current = await siteCertificateProgress(deps);
  if (!current) throw new CertkeepError('NOT_FOUND', 'there is no site certificate');
  if (current.state === 'valid') throw new CertkeepError('CONFLICT', 'the site certificate has been issued');
  if (name !== current.hostname) await updateCertificate(deps, by, SITE_CERTIFICATE, { domains: [name] });
  await deps.db.batch([
    deps.db.db.update(certificates).set({ lastError: null, nextAttemptAt: null, updatedAt: deps.now() }).where(eq(certificates.id, current.id)),
    audit(deps, by, { action: 'certificate.issue', object: { kind: 'certificate', name: SITE_CERTIFICATE } }),
  ]);
  return (await siteCertificateProgress(deps))!;
}

// ---- the site hostname, after setup ------------------------------------------------------------

/**
 * The hostname other machines reach this server by: the name of the site certificate (given at
 * setup or later in Settings), or null when none was given.
 */
export async function siteHostnameOf(deps: Deps): Promise<string | null> {
  const cert = await findCertificateByName(deps, SITE_CERTIFICATE);
  if (!cert) return null;
  const [name] = JSON.parse(cert.domains) as string[];
  return name ?? null;
}

/**
 * Sets the site hostname after setup (node host): makes the site certificate for it, obtained
 * like any other and then served on the HTTPS port, or moves the existing one to the new name
 * (the certificate being served stays until the new one is issued).
 */
export async function setSiteHostname(deps: Deps, by: By, hostname: string): Promise<void> {
  const name = siteHostname(hostname);
  const current = await findCertificateByName(deps, SITE_CERTIFICATE);
  if (current) {
    if ((JSON.parse(current.domains) as string[])[0] !== name) await updateCertificate(deps, by, SITE_CERTIFICATE, { domains: [name] });
  } else {
    if (!(await isSetupDone(deps))) throw new CertkeepError('CONFLICT', 'setup is not done: the hostname is its last step');
    const account = await findAccountByName(deps, DEFAULT_ACCOUNT);
    if (!account || account.status !== 'valid') throw new CertkeepError('CONFLICT', `the ACME account "${DEFAULT_ACCOUNT}" is missing or not valid`);
    await assertKeyNameFree(deps, SITE_CERTIFICATE);
    await deps.db.batch([
      ...(await siteCertificateStatements(deps, name, account.id)),
      audit(deps, by, { action: 'settings.update', object: { kind: 'settings', name: 'hostname' }, detail: { hostname: name } }),
    ]);
  }
  deps.log.info('site hostname set', { hostname: name });
}
