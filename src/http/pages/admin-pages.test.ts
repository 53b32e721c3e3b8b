// The admin pages of accounts, DNS providers, settings and the own account, driven through the
// app's fetch in this process (no browser, no CA): every control has a label, every POST wants
// the CSRF token, validation errors land next to their field, secrets never come back in a page,
// and the form → configuration mapping of DNS providers. The flows against a CA, in Chromium on
// both hosts, are in test/browser/admin-pages.test.ts and test/browser/account.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type OpenedDatabase } from '../../../node-host/db.ts';
import { makeTempDir } from '../../../test/harness/tmp.ts';
import { createApp } from '../../app.ts';
import { type Deps, type Runtime } from '../../deps.ts';
import { settings, users } from '../../db/schema.ts';
import { hashPassword } from '../../domain/passwords.ts';
import { newId } from '../../domain/secrets.ts';
import { getSettings } from '../../domain/settings.ts';
import { findDnsProvider } from '../../domain/dns/providers.ts';
import { CertkeepError } from '../../errors.ts';
import { fieldError } from '../validate.ts';
import { lines, offeredTypes, parseEnv, placeError, providerConfig } from './dns-providers.ts';
import { parseRenewDays } from './settings.ts';
import { offlineDeps } from '../../../test/harness/deps.ts';
import { unlabelledControls } from '../../../test/harness/markup.ts';

const PASSWORD = 'correct horse battery staple';

interface Fixture {
  deps: Deps;
  db: OpenedDatabase;
  /** A request through the app with the signed-in session's cookie. */
  request(method: string, path: string, form?: Record<string, string>): Promise<Response>;
  /** The session's CSRF token. */
  csrf: string;
}

async function fixture(runtime: Runtime = 'node', overrides: Partial<Deps> = {}): Promise<Fixture> {
  const db = await openDatabase(`file:${makeTempDir('admin-pages-')}/certkeep.db`);
  const now = Date.now();
  const deps: Deps = await offlineDeps(db.database, { runtime, concurrency: 3, ...overrides });
  await deps.db.db.insert(settings).values({ key: 'setupCompletedAt', value: JSON.stringify(now), updatedAt: now });
  await deps.db.db.insert(users).values({ id: newId(), email: 'admin@example.com', passwordHash: await hashPassword(PASSWORD, 1000), failedLogins: 0, createdAt: now, updatedAt: now });
  const app = createApp(deps);
  const ctx = { clientIp: '127.0.0.1', secure: false, waitUntil: () => {} };
  const send = (method: string, path: string, form?: Record<string, string>, cookie?: string) =>
    app.fetch(
      new Request(`http://127.0.0.1${path}`, {
        method,
        headers: { ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...(cookie ? { cookie } : {}) },
        body: form ? new URLSearchParams(form).toString() : undefined,
      }),
      ctx,
    );
  const login = await send('POST', '/login', { email: 'admin@example.com', password: PASSWORD, next: '/' });
  expect(login.status).toBe(303);
  const cookie = login.headers.get('set-cookie')!.split(';')[0];
  const home = await (await send('GET', '/account', undefined, cookie)).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(home)![1];
  return { deps, db, csrf, request: (method, path, form) => send(method, path, form, cookie) };
}


/** The error paragraph tied to a field by aria-describedby. */
function fieldErrorText(body: string, name: string): string | undefined {
  return new RegExp(`<p class="error" id="field-${name}-error">([^<]*)</p>`).exec(body)?.[1];
}

let f: Fixture;
afterEach(() => f?.db.close());

describe('every page', () => {
  for (const runtime of ['node', 'worker'] as const) {
    it(`labels every control and asks for the CSRF token on every POST (${runtime} host)`, async () => {
      f = await fixture(runtime);
      const pages = ['/accounts', '/accounts/new', '/dns-providers', '/dns-providers/new', ...offeredTypes(runtime).map((t) => `/dns-providers/new?type=${t}`), '/settings', '/account', '/account/two-factor'];
      for (const path of pages) {
        const res = await f.request('GET', path);
        expect(res.status, path).toBe(200);
        const body = await res.text();
        expect(unlabelledControls(body), path).toEqual([]);
        // Every form that posts carries the token.
        const forms = [...body.matchAll(/<form method="post"[^>]*>([\s\S]*?)<\/form>/g)];
        for (const form of forms) expect(form[1], `${path}: ${form[0].slice(0, 80)}`).toContain('name="_csrf"');
      }
      for (const path of ['/accounts', '/accounts/new/ca', '/accounts/default/deactivate', '/accounts/default/key-rollover', '/accounts/default/delete', '/dns-providers', '/dns-providers/x/delete', '/settings', '/account/password', '/account/two-factor', '/account/two-factor/disable', '/account/recovery-codes']) {
        const res = await f.request('POST', path, { _csrf: 'forged', renewDays: '20', confirm: 'yes' });
        expect(res.status, path).toBe(403);
      }
      expect((await getSettings(f.deps)).renewDays).toBeNull();
    });
  }

  it('sends a signed-out visitor to sign in, and back afterwards', async () => {
    f = await fixture();
    const app = createApp(f.deps);
    const res = await app.fetch(new Request('http://127.0.0.1/dns-providers/new?type=webhook'), { clientIp: '127.0.0.1', secure: false, waitUntil: () => {} });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/login?next=${encodeURIComponent('/dns-providers/new?type=webhook')}`);
  });
});

describe('DNS provider forms', () => {
  it('turn lines into arguments and NAME=VALUE lines into the environment', () => {
    expect(lines(' a\r\n\n {{Value}} \n')).toEqual(['a', '{{Value}}']);
    expect(parseEnv('TOKEN=abc=def\n\n  REGION = eu \n')).toEqual({ TOKEN: 'abc=def', REGION: ' eu ' });
    expect(parseEnv('  \n')).toBeUndefined();
    expect(() => parseEnv('A=1\nno equals sign')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST', message: 'env: line 2: expected NAME=VALUE' }));
    expect(() => parseEnv('A=1\nA=2')).toThrow(/line 2: A is set twice/);
    const form = new URLSearchParams({ setCommand: '/usr/local/bin/dns', setArgs: 'set\n{{FullRecord}}\n{{Value}}', clearCommand: 'dns', clearArgs: '', env: 'K=v', timeoutSeconds: '' });
    expect(providerConfig('script', form)).toEqual({ set: { command: '/usr/local/bin/dns', args: ['set', '{{FullRecord}}', '{{Value}}'] }, clear: { command: 'dns', args: [] }, env: { K: 'v' } });
    const rfc = new URLSearchParams({ server: 'ns1.example.com:53', zone: '', tsigName: 'k', tsigAlgorithm: 'hmac-sha512', tsigSecret: ' c2VjcmV0 ', ttl: '120' });
    expect(providerConfig('rfc2136', rfc)).toEqual({ server: 'ns1.example.com:53', tsig: { name: 'k', algorithm: 'hmac-sha512', secret: 'c2VjcmV0' }, ttl: 120 });
  });

  it('place a validator’s error on the field that holds it', () => {
    expect(placeError('script', fieldError('set.args[1]', 'unknown placeholder {{value}}'))).toEqual({ field: 'setArgs', message: 'Line 2: unknown placeholder {{value}}' });
    expect(placeError('script', fieldError('env.1BAD', 'a variable name is letters'))).toEqual({ field: 'env', message: '1BAD: a variable name is letters' });
    expect(placeError('rfc2136', fieldError('tsig.secret', 'expected base64'))).toEqual({ field: 'tsigSecret', message: 'Expected base64' });
    expect(placeError('acme-dns', fieldError('allowFrom[0]', 'not a CIDR'))).toEqual({ field: 'allowFrom', message: 'Line 1: not a CIDR' });
    expect(placeError('webhook', new CertkeepError('CONFLICT', 'name: a DNS provider named "x" already exists', { field: 'name' }))).toEqual({ field: 'name', message: 'A DNS provider named "x" already exists' });
    expect(placeError('webhook', new CertkeepError('BAD_REQUEST', 'something general'))).toEqual({ message: 'Something general' });
  });

  it('offer script and rfc2136 on the node host only', async () => {
    expect(offeredTypes('node')).toEqual(['script', 'webhook', 'acme-dns', 'rfc2136', 'cloudflare']);
    expect(offeredTypes('worker')).toEqual(['webhook', 'acme-dns', 'cloudflare']);
    f = await fixture('worker');
    expect((await f.request('GET', '/dns-providers/new?type=script')).status).toBe(404);
    const res = await f.request('POST', '/dns-providers', { _csrf: f.csrf, type: 'script', name: 's', setCommand: 'true', clearCommand: 'true' });
    expect(res.status).toBe(400);
    expect(await findDnsProvider(f.deps, 's')).toBeUndefined();
  });

  it('show errors next to fields, never echo a secret, and save a valid provider', async () => {
    f = await fixture();
    const secret = 'a-very-secret-webhook-key';
    let res = await f.request('POST', '/dns-providers', { _csrf: f.csrf, type: 'webhook', name: 'hook', url: 'http://dns.example.com/acme', secret });
    expect(res.status).toBe(400);
    let body = await res.text();
    expect(fieldErrorText(body, 'url')).toBe('Plain http goes only to an address CERTKEEP_ALLOW_PRIVATE_TARGETS lists, and dns.example.com is not one; use https');
    expect(body).toContain('value="hook"');
    expect(body).not.toContain(secret);

    res = await f.request('POST', '/dns-providers', { _csrf: f.csrf, type: 'script', name: 'sh', setCommand: 'dns', setArgs: 'a\n{{value}}', clearCommand: 'dns', env: 'TOKEN=hunter2hunter2' });
    body = await res.text();
    expect(res.status).toBe(400);
    expect(fieldErrorText(body, 'setArgs')).toMatch(/^Line 2: unknown placeholder \{\{value\}\}/);
    expect(body).not.toContain('hunter2hunter2');

    res = await f.request('POST', '/dns-providers', { _csrf: f.csrf, type: 'webhook', name: 'hook', url: 'https://dns.example.com/acme', secret });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dns-providers/hook?done=created');
    body = (await (await f.request('GET', '/dns-providers/hook?done=created')).text()).replaceAll('<wbr>', '');
    expect(body).toContain('https://dns.example.com/acme');
    expect(body).toContain('The DNS provider was saved.');
    expect(body).not.toContain(secret);

    res = await f.request('POST', '/dns-providers', { _csrf: f.csrf, type: 'webhook', name: 'hook', url: 'https://dns.example.com/acme', secret });
    expect(res.status).toBe(409);
    expect(fieldErrorText(await res.text(), 'name')).toBe('A DNS provider named &quot;hook&quot; already exists');

    // Removal wants the box ticked.
    expect((await f.request('POST', '/dns-providers/hook/delete', { _csrf: f.csrf })).status).toBe(400);
    expect(await findDnsProvider(f.deps, 'hook')).toBeDefined();
    res = await f.request('POST', '/dns-providers/hook/delete', { _csrf: f.csrf, confirm: 'yes' });
    expect(res.status).toBe(303);
    expect(await findDnsProvider(f.deps, 'hook')).toBeUndefined();
  });

  it('keep script environment values out of the provider page', async () => {
    f = await fixture();
    const res = await f.request('POST', '/dns-providers', {
      _csrf: f.csrf, type: 'script', name: 'sh', setCommand: '/usr/bin/dns-set', setArgs: '{{FullRecord}}\n{{Value}}', clearCommand: '/usr/bin/dns-clear', clearArgs: '{{FullRecord}}', env: 'API_TOKEN=s3cr3t-value-123\nZONE=example.com', timeoutSeconds: '30',
    });
    expect(res.status).toBe(303);
    const body = (await (await f.request('GET', '/dns-providers/sh')).text()).replaceAll('<wbr>', '');
    expect(body).toContain('/usr/bin/dns-set');
    expect(body).toContain('<code>API_TOKEN</code>');
    expect(body).toContain('30 seconds');
    expect(body).not.toContain('s3cr3t-value-123');
  });

  it('answer 404 in words for an unknown provider', async () => {
    f = await fixture();
    const res = await f.request('GET', '/dns-providers/nope');
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('There is no DNS provider named <strong>nope</strong>');
  });
});

describe('settings', () => {
  it('parse renewal days: empty is the default rule, 10 to 45 otherwise', () => {
    expect(parseRenewDays('')).toEqual({ value: null });
    expect(parseRenewDays(' 30 ')).toEqual({ value: 30 });
    expect(parseRenewDays('10')).toEqual({ value: 10 });
    expect(parseRenewDays('45')).toEqual({ value: 45 });
    for (const bad of ['9', '46', '2.5', '-1', 'thirty']) expect(parseRenewDays(bad), bad).toHaveProperty('error');
  });

  it('save renewal days, refuse a bad value next to the field, and clear it again', async () => {
    f = await fixture();
    let res = await f.request('POST', '/settings', { _csrf: f.csrf, renewDays: '60' });
    expect(res.status).toBe(400);
    expect(fieldErrorText(await res.text(), 'renewDays')).toMatch(/^Between 10 and 45 days/);
    expect((await getSettings(f.deps)).renewDays).toBeNull();
    res = await f.request('POST', '/settings', { _csrf: f.csrf, renewDays: '21' });
    expect(res.headers.get('location')).toBe('/settings?done=saved');
    expect((await getSettings(f.deps)).renewDays).toBe(21);
    const body = await (await f.request('GET', '/settings?done=saved')).text();
    expect(body).toContain('value="21"');
    expect(body).toContain('CERTKEEP_CONCURRENCY');
    expect(body).toMatch(/Orders in flight at once<\/th><td>3 /);
    await f.request('POST', '/settings', { _csrf: f.csrf, renewDays: '' });
    expect((await getSettings(f.deps)).renewDays).toBeNull();
  });

  it("show the scheduler's tick as its value, with the setting that changes it", async () => {
    f = await fixture('node', { tickSeconds: 17 });
    const body = await (await f.request('GET', '/settings')).text();
    expect(body).toMatch(/Looks for due work<\/th><td>every 17 seconds <span class="hint">\(set by <code>CERTKEEP_TICK_SECONDS<\/code>, default 60\)<\/span>/);
  });
});

describe('own account', () => {
  it('checks the new password before the current one, and the current one before changing', async () => {
    f = await fixture();
    let res = await f.request('POST', '/account/password', { _csrf: f.csrf, currentPassword: PASSWORD, newPassword: 'short', newPassword2: 'short' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<p class="error" id="pw-new-error">At least 10 characters.</p>');
    res = await f.request('POST', '/account/password', { _csrf: f.csrf, currentPassword: PASSWORD, newPassword: 'a new long password', newPassword2: 'another one' });
    expect(await res.text()).toContain('The two new passwords differ.');
    res = await f.request('POST', '/account/password', { _csrf: f.csrf, currentPassword: 'not it at all', newPassword: 'a new long password', newPassword2: 'a new long password' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('This is not your current password.');
    res = await f.request('POST', '/account/password', { _csrf: f.csrf, currentPassword: PASSWORD, newPassword: 'a new long password', newPassword2: 'a new long password' });
    expect(res.headers.get('location')).toBe('/account?done=password');
    // This session lives on.
    expect((await f.request('GET', '/account')).status).toBe(200);
  });

  it('draws the enrolment QR code as inline SVG with the key beside it', async () => {
    f = await fixture();
    const body = await (await f.request('GET', '/account/two-factor')).text();
    expect(body).toMatch(/<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*role="img"><title>QR code of the key/);
    expect(body).toMatch(/<code id="totp-secret">([A-Z2-7]{4} ){7}[A-Z2-7]{4}<\/code>/);
    // A fresh key each time the page is opened: nothing is stored until it is confirmed.
    const again = await (await f.request('GET', '/account/two-factor')).text();
    expect(/id="totp-secret">([^<]+)/.exec(again)![1]).not.toBe(/id="totp-secret">([^<]+)/.exec(body)![1]);
  });
});
