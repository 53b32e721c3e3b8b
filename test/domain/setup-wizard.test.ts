// The setup wizard's steps in the domain, in process on a libSQL file against Pebble: what each
// step stores, where setupState resumes, that setup counts as done only at the end, that a wizard
// cannot write after setup ended (the batch guard), and that API/CLI setup replaces a wizard left
// half-way — so POST /api/v1/setup and `certkeep setup` behave as before.
import { afterEach, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { describePebble } from '../harness/pebble.ts';
import { startInProcess, type InProcess } from '../harness/inprocess.ts';
import {
  changeSetupAdmin,
  finishSetup,
  isSetupDone,
  registerSetupAccount,
  retrySiteCertificate,
  runSetup,
  setupState,
  siteCertificateProgress,
  startSetup,
} from '../../src/domain/setup.ts';
import { acmeAccounts, adminTokens, certificates, sessions, users } from '../../src/db/schema.ts';
import { createSession, signIn } from '../../src/domain/sessions.ts';
import { CertkeepError } from '../../src/errors.ts';
import { BY_CLI } from '../../src/domain/audit.ts';

const PASSWORD = 'correct horse battery staple';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof CertkeepError) return err.code;
    throw err;
  }
  return 'no error';
}

describePebble('setup wizard steps', () => {
  let world: InProcess | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it('stores each step as it goes, resumes at the next one, and is done only at the end', async () => {
    world = await startInProcess({ setup: false });
    const { deps, pebble } = world;
    expect(await setupState(deps)).toEqual({ step: 'admin' });

    // Step 1: the administrator; only one.
    expect(await codeOf(startSetup(deps, {}, { email: 'not an email', password: PASSWORD }))).toBe('BAD_REQUEST');
    expect(await codeOf(startSetup(deps, {}, { email: 'admin@example.com', password: 'short' }))).toBe('BAD_REQUEST');
    const admin = await startSetup(deps, {}, { email: 'Admin@Example.com', password: PASSWORD });
    expect(admin.email).toBe('admin@example.com');
    expect(await codeOf(startSetup(deps, {}, { email: 'other@example.com', password: PASSWORD }))).toBe('CONFLICT');
    expect(await deps.db.db.select().from(users)).toHaveLength(1);
    let state = await setupState(deps);
    expect(state.step).toBe('acme');
    expect(state.admin?.id).toBe(admin.id);
    expect(await isSetupDone(deps)).toBe(false);

    // Back at step 1: another email, the password kept.
    await changeSetupAdmin(deps, BY_CLI, admin.id, { email: 'root@example.com' });
    expect((await signIn(deps, { email: 'root@example.com', password: PASSWORD, clientIp: '127.0.0.1' })).ok).toBe(true);

    // Step 2: nothing is stored when the terms are not accepted or the CA refuses.
    expect(await codeOf(registerSetupAccount(deps, BY_CLI, { directoryUrl: pebble.directoryUrl, termsOfServiceAgreed: false }))).toBe('BAD_REQUEST');
    expect(await codeOf(registerSetupAccount(deps, BY_CLI, { directoryUrl: pebble.directoryUrl, email: 'ops?x@example.com', termsOfServiceAgreed: true }))).toBe('ACME_PROBLEM');
    expect(await deps.db.db.select().from(acmeAccounts)).toHaveLength(0);
    const first = await registerSetupAccount(deps, BY_CLI, { directoryUrl: pebble.directoryUrl, termsOfServiceAgreed: true });
    state = await setupState(deps);
    expect(state.step).toBe('server');
    expect(state.account?.id).toBe(first.id);
    // Registering again (back at step 2) replaces the stored account.
    const second = await registerSetupAccount(deps, BY_CLI, { directoryUrl: pebble.directoryUrl, email: 'ops@example.com', termsOfServiceAgreed: true, keyType: 'ec-p384' });
    const accounts = await deps.db.db.select().from(acmeAccounts);
    expect(accounts.map((a) => [a.id, a.name, a.keyType, a.email])).toEqual([[second.id, 'default', 'ec-p384', 'ops@example.com']]);
    expect(await isSetupDone(deps)).toBe(false);

    // Step 3: a wildcard is refused; a hostname makes the site certificate; then setup is done.
    expect(await codeOf(finishSetup(deps, BY_CLI, { hostname: '*.example.com' }))).toBe('BAD_REQUEST');
    expect(await isSetupDone(deps)).toBe(false);
    await finishSetup(deps, BY_CLI, { hostname: 'Site.Example.com' });
    expect(await isSetupDone(deps)).toBe(true);
    expect(await setupState(deps)).toEqual({ step: 'done' });
    const [site] = await deps.db.db.select().from(certificates).where(eq(certificates.name, 'site'));
    expect(JSON.parse(site.domains)).toEqual(['site.example.com']);
    expect(site.accountId).toBe(second.id);
    expect((await siteCertificateProgress(deps))?.state).toBe('running');
    // The wizard makes no admin API token (the API and CLI do: they print it).
    expect(await deps.db.db.select().from(adminTokens)).toHaveLength(0);

    // Nothing of the wizard writes once setup is done.
    expect(await codeOf(finishSetup(deps, BY_CLI, {}))).toBe('CONFLICT');
    expect(await codeOf(startSetup(deps, {}, { email: 'late@example.com', password: PASSWORD }))).toBe('CONFLICT');
    expect(await codeOf(changeSetupAdmin(deps, BY_CLI, admin.id, { email: 'late@example.com' }))).toBe('CONFLICT');
    expect((await deps.db.db.select().from(users))[0].email).toBe('root@example.com');
    expect(await codeOf(registerSetupAccount(deps, BY_CLI, { directoryUrl: pebble.directoryUrl, termsOfServiceAgreed: true }))).toBe('CONFLICT');
    expect((await deps.db.db.select().from(acmeAccounts)).map((a) => a.id)).toEqual([second.id]);
    expect(await codeOf(runSetup(deps, {}, { adminEmail: 'api@example.com', adminPassword: PASSWORD, acme: { directoryUrl: pebble.directoryUrl, termsOfServiceAgreed: true } }))).toBe('CONFLICT');
  });

  it('lets API/CLI setup replace a wizard left half-way, its administrator, sessions and account', async () => {
    world = await startInProcess({ setup: false });
    const { deps, pebble } = world;
    const admin = await startSetup(deps, {}, { email: 'admin@example.com', password: PASSWORD });
    await createSession(deps, BY_CLI, admin);
    await registerSetupAccount(deps, BY_CLI, { directoryUrl: pebble.directoryUrl, termsOfServiceAgreed: true });

    // Same email as the wizard's administrator: replaced, not refused as a duplicate.
    const { token } = await runSetup(deps, {}, { adminEmail: 'admin@example.com', adminPassword: 'another long password', acme: { directoryUrl: pebble.directoryUrl, termsOfServiceAgreed: true } });
    expect(token).toMatch(/^ckt_/);
    expect(await isSetupDone(deps)).toBe(true);
    const [user] = await deps.db.db.select().from(users);
    expect(user.id).not.toBe(admin.id);
    expect(await deps.db.db.select().from(sessions).where(eq(sessions.userId, admin.id))).toHaveLength(0);
    expect(await deps.db.db.select().from(acmeAccounts)).toHaveLength(1);
    expect((await signIn(deps, { email: 'admin@example.com', password: PASSWORD, clientIp: '127.0.0.1' })).ok).toBe(false);
    expect((await signIn(deps, { email: 'admin@example.com', password: 'another long password', clientIp: '127.0.0.1' })).ok).toBe(true);
  });

  it('obtains the site certificate after a failure once the hostname is corrected', async () => {
    world = await startInProcess({ setup: false, pebble: { config: { domainBlocklist: ['blocked.example.com'] } } });
    const { deps, pebble } = world;
    await startSetup(deps, {}, { email: 'admin@example.com', password: PASSWORD });
    await registerSetupAccount(deps, BY_CLI, { directoryUrl: pebble.directoryUrl, termsOfServiceAgreed: true });
    await finishSetup(deps, BY_CLI, { hostname: 'blocked.example.com' });
    const { issue } = await import('../../src/domain/orders.ts');
    const site = (await siteCertificateProgress(deps))!;
    expect((await issue(deps, site.id, 'new')).ok).toBe(false);
    const failed = (await siteCertificateProgress(deps))!;
    expect(failed.state).toBe('failed');
    expect(failed.problem?.type).toBe('urn:ietf:params:acme:error:rejectedIdentifier');

    expect(await codeOf(retrySiteCertificate(deps, BY_CLI, '*.example.com'))).toBe('BAD_REQUEST');
    const retried = await retrySiteCertificate(deps, BY_CLI, 'good.example.com');
    expect(retried).toMatchObject({ hostname: 'good.example.com', state: 'running' });
    expect((await issue(deps, site.id, 'new')).ok).toBe(true);
    expect((await siteCertificateProgress(deps))?.state).toBe('valid');
    expect(await codeOf(retrySiteCertificate(deps, BY_CLI, 'good.example.com'))).toBe('CONFLICT');
  });
});
