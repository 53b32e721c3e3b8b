// First-run setup: the admin user, the ACME account named `default`, the first admin token and,
// with a hostname, the site certificate. The CA is asked first; then everything is written in
// one batch whose first statement fails if setup already happened, so two concurrent setups
// cannot both succeed and a refused registration leaves nothing behind.
import { eq } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import type { Statement } from '../db/client.ts';
import { CertkeepError } from '../errors.ts';
import { acmeAccounts, certificates, settings, users } from '../db/schema.ts';
import { DEFAULT_ACCOUNT, registerAccount } from './accounts.ts';
import { hashPassword } from './passwords.ts';
import { prepareAdminToken } from './tokens.ts';
import { prepareKey } from './keys.ts';
import { newApiKeyPair } from './apikeys.ts';
import { newId } from './secrets.ts';
import { settingStatement } from './settings.ts';
import { newCertificateRow } from './certificates.ts';

export const SITE_CERTIFICATE = 'site';

export interface SetupInput {
  adminEmail: string;
  adminPassword: string;
  acme: { directoryUrl: string; email?: string; termsOfServiceAgreed: boolean; eab?: { kid: string; hmacKey: string } };
  hostname?: string;
}

export async function isSetupDone(deps: Deps): Promise<boolean> {
  const [row] = await deps.db.db.select({ key: settings.key }).from(settings).where(eq(settings.key, 'setupCompletedAt')).limit(1);
  return !!row;
}

export async function runSetup(deps: Deps, input: SetupInput): Promise<{ token: string }> {
  if (await isSetupDone(deps)) throw new CertkeepError('CONFLICT', 'setup has already been completed');
  if (!input.acme.termsOfServiceAgreed) {
    throw new CertkeepError('BAD_REQUEST', "acme.termsOfServiceAgreed: the CA's terms of service must be accepted", { field: 'acme.termsOfServiceAgreed' });
  }
  const account = await registerAccount(deps, {
    name: DEFAULT_ACCOUNT,
    directoryUrl: input.acme.directoryUrl,
    email: input.acme.email ?? input.adminEmail,
    termsOfServiceAgreed: true,
    eab: input.acme.eab,
  });
  const now = deps.now();
  const { token, statement: tokenInsert } = await prepareAdminToken(deps, 'setup');
  const statements: Statement[] = [
    // Plain insert: a second setup fails here, and the whole batch with it.
    deps.db.db.insert(settings).values({ key: 'setupCompletedAt', value: JSON.stringify(now), updatedAt: now }),
    deps.db.db.insert(users).values({
      id: newId(),
      email: input.adminEmail.toLowerCase(),
      passwordHash: await hashPassword(input.adminPassword),
      failedLogins: 0,
      lockedUntil: null,
      createdAt: now,
      updatedAt: now,
    }),
    deps.db.db.insert(acmeAccounts).values(account),
    tokenInsert,
  ];
  if (input.hostname) statements.push(...(await siteCertificateStatements(deps, input.hostname, account.id)));
  try {
    await deps.db.batch(statements);
  } catch (err) {
    if (await isSetupDone(deps)) throw new CertkeepError('CONFLICT', 'setup has already been completed');
    throw err;
  }
  deps.log.info('setup completed', { hostname: input.hostname ?? null });
  return { token };
}

async function siteCertificateStatements(deps: Deps, hostname: string, accountId: string) {
  const key = await prepareKey(deps, SITE_CERTIFICATE, { type: 'ec-p256' });
  const id = newId();
  const apiKeyPair = await newApiKeyPair(deps, 'certificate', id);
  const row = newCertificateRow(deps, id, { name: SITE_CERTIFICATE, domains: [hostname], challenge: 'http-01', accountId, keyId: key.row.id });
  return [...key.statements, deps.db.db.insert(certificates).values(row), apiKeyPair.insert, settingStatement(deps, 'siteCertificate', SITE_CERTIFICATE)];
}
