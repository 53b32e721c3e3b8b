// The setup wizard's pages through the app's fetch in this process, without a CA: who may take
// which step (the session step 1 makes, its CSRF token, the setup token on the Worker, no
// cross-site form), where GET /setup lands, every control labelled, errors next to their fields,
// nothing secret sent back. The flows against Pebble, in Chromium on both hosts, are in
// test/browser/wizard.test.ts; the domain steps in test/domain/setup-wizard.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type OpenedDatabase } from '../../../node-host/db.ts';
import { makeTempDir } from '../../../test/harness/tmp.ts';
import { offlineDeps } from '../../../test/harness/deps.ts';
import { createApp } from '../../app.ts';
import type { Deps, Runtime } from '../../deps.ts';
import { users } from '../../db/schema.ts';
import { isSetupDone, setupState } from '../../domain/setup.ts';
import { signIn } from '../../domain/sessions.ts';
import { THROTTLES } from '../../domain/throttle.ts';
import { unlabelledControls } from '../../../test/harness/markup.ts';

const PASSWORD = 'correct horse battery staple';
const SETUP_TOKEN = 'the-setup-token-of-this-worker';

interface Fixture {
  deps: Deps;
  db: OpenedDatabase;
  send(method: string, path: string, o?: { form?: Record<string, string>; cookie?: string; headers?: Record<string, string> }): Promise<Response>;
}

let f: Fixture;
afterEach(() => f?.db.close());

async function fixture(runtime: Runtime = 'node'): Promise<Fixture> {
  const db = await openDatabase(`file:${makeTempDir('setup-pages-')}/certkeep.db`);
  const deps = await offlineDeps(db.database, { runtime, setupToken: runtime === 'worker' ? SETUP_TOKEN : undefined });
  const app = createApp(deps);
  const ctx = { clientIp: '127.0.0.1', secure: false, waitUntil: () => {} };
  return {
    deps,
    db,
    send: (method, path, o = {}) =>
      app.fetch(
        new Request(`http://127.0.0.1${path}`, {
          method,
          headers: { ...(o.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...(o.cookie ? { cookie: o.cookie } : {}), ...o.headers },
          body: o.form ? new URLSearchParams(o.form).toString() : undefined,
        }),
        ctx,
      ),
  };
}

const admin = (extra: Record<string, string> = {}) => ({ step: 'admin', adminEmail: 'admin@example.com', adminPassword: PASSWORD, adminPassword2: PASSWORD, ...extra });
const cookieOf = (res: Response) => res.headers.get('set-cookie')!.split(';')[0];
const csrfOf = (body: string) => /name="_csrf" value="([^"]+)"/.exec(body)![1];
const stepOf = (body: string) => /<h2 class="wizard-step">([^<]*)<\/h2>/.exec(body)?.[1];
const fieldError = (body: string, name: string) => new RegExp(`<p class="error" id="field-${name}-error">([^<]*)</p>`).exec(body)?.[1];


/** Step 1 done: the administrator's cookie and the page it leads to (step 2). */
async function pastStepOne(): Promise<{ cookie: string; body: string }> {
  const res = await f.send('POST', '/setup', { form: admin() });
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('/setup');
  const cookie = cookieOf(res);
  const body = await (await f.send('GET', '/setup', { cookie })).text();
  return { cookie, body };
}

describe('the setup wizard pages', () => {
  it('start at step 1, labelled, and lead every page and sign-in there', async () => {
    f = await fixture();
    const res = await f.send('GET', '/setup');
    const body = await res.text();
    expect(res.status).toBe(200);
    expect(stepOf(body)).toBe('Step 1 of 3: Administrator');
    expect(body).toContain('<li aria-current="step">Administrator</li>');
    expect(unlabelledControls(body)).toEqual([]);
    expect(body).not.toContain('Setup token'); // the node host has none
    for (const path of ['/', '/login', '/certificates']) {
      const r = await f.send('GET', path);
      expect([r.status, r.headers.get('location')], path).toEqual([303, '/setup']);
    }
  });

  it('refuse a step-1 form from another site, and differing passwords (the email kept, no password)', async () => {
    f = await fixture();
    const crossSite = await f.send('POST', '/setup', { form: admin(), headers: { 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.status).toBe(403);
    const res = await f.send('POST', '/setup', { form: admin({ adminPassword2: 'something else entirely' }) });
    const body = await res.text();
    expect(res.status).toBe(400);
    expect(fieldError(body, 'adminPassword2')).toBe('The two passwords differ.');
    expect(body).toContain('value="admin@example.com"');
    expect(body).not.toContain(PASSWORD);
    expect(body).not.toContain('something else entirely');
    expect(await f.deps.db.db.select().from(users)).toHaveLength(0);
    expect((await setupState(f.deps)).step).toBe('admin');
  });

  it('sign the administrator in at step 1; step 2 then needs that session, and its CSRF token', async () => {
    f = await fixture();
    const { cookie, body } = await pastStepOne();
    expect(stepOf(body)).toBe('Step 2 of 3: ACME account');
    expect(body).toContain('<li class="done"><span class="visually-hidden">Done: </span>Administrator</li>');
    expect(unlabelledControls(body)).toEqual([]);
    expect(body).toContain('href="https://letsencrypt.org/repository/"'); // Let's Encrypt's terms, linked without asking it
    const csrf = csrfOf(body);

    // The directory look-up (it fetches a URL) and the step's form want the session and its token.
    const form = { ca: 'letsencrypt-staging', directoryUrl: '' };
    expect((await f.send('POST', '/setup/ca', { form })).status).toBe(403);
    expect((await f.send('POST', '/setup/ca', { form, cookie })).status).toBe(403);
    const part = await f.send('POST', '/setup/ca', { form: { ...form, _csrf: csrf }, cookie });
    expect(part.status).toBe(200);
    expect(await part.text()).toMatch(/^<div id="ca-terms"[^]*name="termsFor" value="https:\/\/acme-staging-v02\.api\.letsencrypt\.org\/directory"/);
    expect((await f.send('POST', '/setup', { form: { step: 'acme', ca: 'letsencrypt', acceptTos: 'on' }, cookie })).status).toBe(403);

    // Step 3 cannot be taken before step 2: nothing is finished.
    const early = await f.send('POST', '/setup', { form: { step: 'server', action: 'skip', _csrf: csrf }, cookie });
    expect([early.status, early.headers.get('location')]).toEqual([303, '/setup']);
    expect(await isSetupDone(f.deps)).toBe(false);

    // A reload stays at step 2; no second administrator can be made meanwhile.
    expect(stepOf(await (await f.send('GET', '/setup', { cookie })).text())).toBe('Step 2 of 3: ACME account');
    const again = await f.send('POST', '/setup', { form: admin({ adminEmail: 'intruder@example.com' }) });
    expect([again.status, again.headers.get('location')]).toEqual([303, '/setup']);
    expect(await f.deps.db.db.select().from(users)).toHaveLength(1);
  });

  it('ask another browser to sign in, then resume at the step that is next', async () => {
    f = await fixture();
    await pastStepOne();
    const page = await (await f.send('GET', '/setup')).text();
    expect(page).toContain('<h1>Continue setting up Certkeep</h1>');
    expect(unlabelledControls(page)).toEqual([]);
    const wrong = await f.send('POST', '/setup', { form: { step: 'signin', email: 'admin@example.com', password: 'not the password' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('The email or password is not right.');
    const right = await f.send('POST', '/setup', { form: { step: 'signin', email: 'admin@example.com', password: PASSWORD } });
    expect([right.status, right.headers.get('location')]).toEqual([303, '/setup']);
    expect(stepOf(await (await f.send('GET', '/setup', { cookie: cookieOf(right) })).text())).toBe('Step 2 of 3: ACME account');
  });

  it('go back to step 1 to change the email, keeping the password when none is given', async () => {
    f = await fixture();
    const { cookie, body } = await pastStepOne();
    expect(body).toContain('href="/setup?step=admin"');
    const back = await (await f.send('GET', '/setup?step=admin', { cookie })).text();
    expect(stepOf(back)).toBe('Step 1 of 3: Administrator');
    expect(back).toContain('value="admin@example.com"');
    const res = await f.send('POST', '/setup', { form: { step: 'admin', adminEmail: 'root@example.com', adminPassword: '', adminPassword2: '', _csrf: csrfOf(back) }, cookie });
    expect([res.status, res.headers.get('location')]).toEqual([303, '/setup']);
    expect((await signIn(f.deps, { email: 'root@example.com', password: PASSWORD, clientIp: '127.0.0.1' })).ok).toBe(true);
  });

  it('ask for the setup token first on the Worker', async () => {
    f = await fixture('worker');
    const body = await (await f.send('GET', '/setup')).text();
    expect(body.indexOf('Setup token')).toBeGreaterThan(0);
    expect(body.indexOf('Setup token')).toBeLessThan(body.indexOf('>Email<'));
    const wrong = await f.send('POST', '/setup', { form: admin({ setupToken: 'guess' }) });
    const wrongBody = await wrong.text();
    expect(wrong.status).toBe(400);
    expect(fieldError(wrongBody, 'setupToken')).toBe('This is not the setup token.');
    expect(wrongBody).not.toContain('guess');
    expect(await f.deps.db.db.select().from(users)).toHaveLength(0);
    const right = await f.send('POST', '/setup', { form: admin({ setupToken: SETUP_TOKEN }) });
    expect(right.status).toBe(303);
    const step3 = await (await f.send('GET', '/setup', { cookie: cookieOf(right) })).text();
    expect(stepOf(step3)).toBe('Step 2 of 3: ACME account');
  });

  it('count wrong setup tokens like wrong admin tokens: past the limit 429, while the right one still works', async () => {
    f = await fixture('worker');
    for (let i = 0; i < THROTTLES['admin-token'].max; i++) expect((await f.send('POST', '/setup', { form: admin({ setupToken: `guess ${i}` }) })).status).toBe(400);
    const refused = await f.send('POST', '/setup', { form: admin({ setupToken: 'one more guess' }) });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await f.deps.db.db.select().from(users)).toHaveLength(0);
    expect((await f.send('POST', '/setup', { form: admin({ setupToken: SETUP_TOKEN }) })).status).toBe(303);
  });
});

describe('the site certificate progress page', () => {
  it('says the HTTPS port serves the certificate only once it does', async () => {
    const { signedInPageApp } = await import('../../../test/harness/page-app.ts');
    const { prepareKey } = await import('../../domain/keys.ts');
    const { newCertificateRow } = await import('../../domain/certificates.ts');
    const { certificates, settings } = await import('../../db/schema.ts');
    const pages = await signedInPageApp('site-progress');
    try {
      const { deps } = pages;
      const key = await prepareKey(deps, 'site', { type: 'ec-p256' });
      const row = newCertificateRow(deps, 'c-site', { name: 'site', domains: ['certkeep.example.com'], challenge: 'http-01', accountId: 'acct', keyId: key.row.id });
      const issued: typeof row = { ...row, status: 'valid', pem: '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n', servedKeyId: key.row.id, serial: 'abc123', notBefore: Date.now(), notAfter: Date.now() + 86_400_000 };
      await deps.db.batch([...key.statements, deps.db.db.insert(certificates).values(issued), deps.db.db.insert(settings).values({ key: 'siteCertificate', value: '"site"', updatedAt: Date.now() })]);
      const progress = async () => (await pages.call('/setup/progress')).text;

      // Issued, but the HTTPS listener has not swapped it in yet: still obtaining.
      deps.httpsPort = () => null;
      const before = await progress();
      expect(before).toContain('Obtaining a certificate for');
      expect(before).not.toContain('is ready');

      deps.httpsPort = () => 8443;
      expect(await progress()).toContain('is ready (serial <code>abc123</code>); the HTTPS port now serves it.');

      // No HTTPS listener (CERTKEEP_HTTPS_PORT=0, or the Worker): ready, and no word about a port.
      deps.httpsPort = undefined;
      const without = await progress();
      expect(without).toContain('is ready (serial <code>abc123</code>).');
      expect(without).not.toContain('HTTPS port');
    } finally {
      pages.close();
    }
  });
});
