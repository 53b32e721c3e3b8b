// No way in through sign-in, setup or a URL (issue 10), tried as an attacker would, on both hosts:
//  - cross-site posts (Origin of another site or `null`, Sec-Fetch-Site cross-site/same-site) to
//    the wizard's every step, its sign-in, /login, /logout and a page form are refused with 403
//    before anything is counted or changed, while curl-like clients (no Origin) and our own pages
//    keep working; the JSON admin API takes no text/plain or form body (a no-cors fetch's only kinds);
//  - `next` after sign-in never leads to another site (the tab trick and its cousins);
//  - 30 parallel wrong passwords, or wrong TOTP codes, lock the account after 5 and only those 5
//    are checked (counted from the host's own log lines);
//  - one address gets a bounded number of sign-in attempts, API keys and admin tokens, then 429
//    with Retry-After, while a valid key or token from that address still works.
// Clients on distinct loopback addresses: on the node host the connection's source address
// (127.0.0.0/8 is all loopback on Linux), on the Worker CF-Connecting-IP.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS, TEST_SETUP_TOKEN } from '../harness/hosts.ts';
import { setupBody, startWorld, type World } from '../harness/world.ts';
import { totpCode } from '../../src/auth/totp.ts';
import { THROTTLES } from '../../src/domain/throttle.ts';

const PASSWORD = 'correct horse battery staple';
const ADMIN = 'admin@example.com';
const EVIL = 'https://evil.example';

interface Sent {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Sends one request from `from` (a loopback address), without following redirects. */
function send(world: World, method: string, path: string, o: { from?: string; headers?: Record<string, string>; form?: Record<string, string>; body?: string } = {}): Promise<Sent> {
  const from = o.from ?? '127.0.0.1';
  const body = o.form ? new URLSearchParams(o.form).toString() : o.body;
  const headers: Record<string, string> = {
    ...(o.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    ...(world.kind === 'worker' ? { 'cf-connecting-ip': from } : {}),
    ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
    ...o.headers,
  };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: world.host.httpPort, localAddress: from, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const cookieOf = (res: Sent) => String(res.headers['set-cookie'] ?? '').split(';')[0];
const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1];
const count = async (world: World, query: string) => Number(Object.values((await world.host.sql(query))[0])[0]);

/** The cross-site shapes a browser gives a form post from another page. */
const CROSS_SITE: Array<Record<string, string>> = [
  { origin: EVIL },
  { origin: EVIL, 'sec-fetch-site': 'cross-site' },
  { origin: 'null' },
  { 'sec-fetch-site': 'same-site' },
  { 'sec-fetch-site': 'cross-site' },
];

/** The sign-in log lines written after `offset` (the host's own words for each attempt). */
function signInOutcomes(world: World, offset: number): string[] {
  return world.host
    .logs()
    .slice(offset)
    .split('\n')
    .filter((line) => line.includes('"msg":"sign-in attempt"'))
    .map((line) => JSON.parse(line.slice(line.indexOf('{'))).outcome as string);
}

/** Waits until `n` sign-in attempts after `offset` are in the log (the Worker's arrive a moment after its answers). */
async function outcomesOf(world: World, offset: number, n: number): Promise<string[]> {
  await expect.poll(() => signInOutcomes(world, offset).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(n);
  return signInOutcomes(world, offset);
}

/** The attempts the host really checked: a password (or decoy) derived, or a code compared. */
const checked = (outcomes: string[]) => outcomes.filter((o) => /^(wrong|unknown email)/.test(o));

const statuses = (all: Sent[]) => all.map((r) => r.status).sort();

for (const kind of HOST_KINDS) {
  describePebble(`no way in on the ${kind} host`, () => {
    let world: World;
    const step1 = (extra: Record<string, string> = {}) => ({
      step: 'admin',
      adminEmail: ADMIN,
      adminPassword: PASSWORD,
      adminPassword2: PASSWORD,
      ...(kind === 'worker' ? { setupToken: TEST_SETUP_TOKEN } : {}),
      ...extra,
    });

    beforeAll(async () => {
      world = await startWorld(kind, { setup: false });
    });
    afterAll(async () => world?.stop());

    describe('a fresh install', () => {
      it('refuses a cross-site step 1 and a text/plain or untyped /api/v1/setup: no administrator is made', async () => {
        for (const headers of [...CROSS_SITE, { origin: `http://127.0.0.1:${world.host.httpPort + 1}` }]) {
          const res = await send(world, 'POST', '/setup', { form: step1(), headers });
          expect(res.status, JSON.stringify(headers)).toBe(403);
          expect(res.headers['set-cookie']).toBeUndefined();
        }
        // What a cross-site fetch(…, {mode: 'no-cors'}) can send: text/plain, or no type at all.
        const json = JSON.stringify(setupBody(world.pebble));
        for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
          const res = await send(world, 'POST', '/api/v1/setup', { body: json, headers: { ...world.host.setupHeaders, ...(type ? { 'content-type': type } : {}) } });
          expect(res.status, String(type)).toBe(415);
          expect(res.headers['content-type']).toBe('application/problem+json');
        }
        expect(await count(world, 'SELECT count(*) FROM users')).toBe(0);
        expect(await count(world, 'SELECT count(*) FROM acme_accounts')).toBe(0);
        expect((await send(world, 'GET', '/setup')).text).toContain('Step 1 of 3: Administrator');
      });

      it("refuses cross-site posts to the wizard's later steps and its sign-in, counting nothing", async () => {
        // Our own page's post (Origin ours) makes the administrator and signs them in.
        const made = await send(world, 'POST', '/setup', { form: step1(), headers: { origin: world.host.baseUrl, 'sec-fetch-site': 'same-origin' } });
        expect(made.status).toBe(303);
        const cookie = cookieOf(made);
        const csrf = csrfOf((await send(world, 'GET', '/setup', { headers: { cookie } })).text);

        for (const headers of CROSS_SITE) {
          const h = { ...headers, cookie };
          const acme = await send(world, 'POST', '/setup', { form: { step: 'acme', _csrf: csrf, ca: 'other', directoryUrl: world.pebble.directoryUrl, acceptTos: 'on', termsFor: world.pebble.directoryUrl }, headers: h });
          expect(acme.status).toBe(403);
          expect((await send(world, 'POST', '/setup/ca', { form: { _csrf: csrf, ca: 'other', directoryUrl: 'http://127.0.0.1:1/' }, headers: h })).status).toBe(403);
          expect((await send(world, 'POST', '/setup', { form: { step: 'admin', _csrf: csrf, adminEmail: 'evil@example.com' }, headers: h })).status).toBe(403);
          expect((await send(world, 'POST', '/setup', { form: { step: 'signin', email: ADMIN, password: 'a guess' }, headers })).status).toBe(403);
        }
        expect(await count(world, 'SELECT count(*) FROM acme_accounts')).toBe(0);
        expect(await world.host.sql('SELECT email, failed_logins FROM users')).toEqual([{ email: ADMIN, failed_logins: 0 }]);
        expect(await count(world, 'SELECT coalesce(sum(hits), 0) FROM rate_limits')).toBe(0);
        expect((await send(world, 'GET', '/setup', { headers: { cookie } })).text).toContain('Step 2 of 3: ACME account');
      });
    });

    describe('once set up', () => {
      let token: string;
      beforeAll(async () => {
        const res = await world.api.post('/api/v1/setup', setupBody(world.pebble), world.host.setupHeaders);
        expect(res.status).toBe(201);
        token = res.body.token;
        world.api.token = token;
      });
      // Each test starts with the account open and no address counted.
      beforeEach(async () => {
        await world.host.sql('UPDATE users SET failed_logins = 0, locked_until = NULL, totp_secret_sealed = NULL, totp_last_step = NULL, recovery_codes = NULL');
        await world.host.sql('DELETE FROM rate_limits');
      });

      const login = (password: string, o: { from?: string; headers?: Record<string, string>; code?: string; next?: string; email?: string } = {}) =>
        send(world, 'POST', '/login', { from: o.from, headers: o.headers, form: { email: o.email ?? ADMIN, password, ...(o.code ? { code: o.code } : {}), ...(o.next !== undefined ? { next: o.next } : {}) } });

      it('/login, /logout and a page form refuse cross-site posts before anything is counted or changed', async () => {
        // curl (no Origin, no Sec-Fetch-Site) and our own page (Origin ours) sign in.
        expect((await login(PASSWORD)).status).toBe(303);
        const signedIn = await login(PASSWORD, { headers: { origin: world.host.baseUrl, 'sec-fetch-site': 'same-origin' } });
        expect(signedIn.status).toBe(303);
        const cookie = cookieOf(signedIn);
        const csrf = csrfOf((await send(world, 'GET', '/', { headers: { cookie } })).text);
        const sessions = await count(world, 'SELECT count(*) FROM sessions');

        for (const headers of CROSS_SITE) {
          const wrong = await login('a wrong guess', { headers });
          expect(wrong.status).toBe(403);
          const right = await login(PASSWORD, { headers });
          expect(right.status).toBe(403);
          expect(right.headers['set-cookie']).toBeUndefined();
          const key = await send(world, 'POST', '/keys', { form: { _csrf: csrf, name: 'planted', type: 'ec-p256' }, headers: { ...headers, cookie } });
          expect(key.status).toBe(403);
          expect((await send(world, 'POST', '/logout', { form: { _csrf: csrf }, headers: { ...headers, cookie } })).status).toBe(403);
        }
        expect(await world.host.sql('SELECT failed_logins, locked_until FROM users')).toEqual([{ failed_logins: 0, locked_until: null }]);
        expect(await count(world, 'SELECT count(*) FROM sessions')).toBe(sessions);
        expect(await count(world, 'SELECT coalesce(sum(hits), 0) FROM rate_limits')).toBe(0);
        expect((await world.api.get('/api/v1/keys/planted')).status).toBe(404);
        expect((await send(world, 'GET', '/', { headers: { cookie } })).status).toBe(200); // still signed in

        // The same form from our own page goes through.
        const own = await send(world, 'POST', '/keys', { form: { _csrf: csrf, name: 'own', type: 'ec-p256' }, headers: { origin: world.host.baseUrl, cookie } });
        expect(own.status).toBe(201);
        expect((await world.api.get('/api/v1/keys/own')).status).toBe(200);
      });

      it('/api/v1 takes JSON bodies only; a body-less POST and the download form body still work', async () => {
        const auth = { authorization: `Bearer ${token}` };
        const body = JSON.stringify({ name: 'by-text', type: 'ec-p256' });
        for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
          const res = await send(world, 'POST', '/api/v1/keys', { body, headers: { ...auth, ...(type ? { 'content-type': type } : {}) } });
          expect(res.status, String(type)).toBe(415);
          expect(JSON.parse(res.text)).toMatchObject({ status: 415 });
        }
        expect((await world.api.get('/api/v1/keys/by-text')).status).toBe(404);
        expect((await send(world, 'POST', '/api/v1/keys', { body, headers: { ...auth, 'content-type': 'application/json' } })).status).toBe(201);
        // A POST without a body is not a body of the wrong type.
        expect((await send(world, 'POST', '/api/v1/certificates/no-such-certificate/issue', { headers: auth })).status).toBe(404);
        // The download API still reads `curl -d` form bodies (SPEC §5): the bad format is named.
        const made = await world.api.post('/api/v1/certificates', { name: 'formed', domains: [world.domain()] });
        expect(made.status).toBe(201);
        const res = await send(world, 'POST', '/api/certificate/formed', { form: { format: 'zip' }, headers: { apikey: made.body.apiKeys[0] } });
        expect(res.status).toBe(400);
        expect(JSON.parse(res.text).field).toBe('format');
      });

      it('sends nobody to another site after sign-in (next=…)', async () => {
        // Every variant is in src/http/pages/guard.test.ts; here the link and a few of its
        // cousins go through the real sign-in: the hidden field, then the redirect.
        for (const query of ['/%09/evil.example', '/%5Cevil.example', '/%0D%0A/evil.example', '%2F%2Fevil.example']) {
          const page = await send(world, 'GET', `/login?next=${query}`);
          expect(/name="next" value="([^"]*)"/.exec(page.text)![1], query).toBe('/');
        }
        for (const next of ['/\t/evil.example', '/\\evil.example', '/.//evil.example']) {
          const res = await login(PASSWORD, { next });
          expect([res.status, res.headers.location], next).toEqual([303, '/']);
        }
        expect((await login(PASSWORD, { next: '/certificates?q=www#list' })).headers.location).toBe('/certificates?q=www#list');
      });

      it('locks the account after 5 of 30 parallel wrong passwords, and checks only those 5', async () => {
        const offset = world.host.logs().length;
        const all = await Promise.all(Array.from({ length: 30 }, (_, i) => login(`wrong guess ${i}`, { from: `127.0.1.${i + 1}` })));
        const outcomes = await outcomesOf(world, offset, 30);
        expect(checked(outcomes)).toHaveLength(5);
        expect(statuses(all)).toEqual([...Array(4).fill(401), ...Array(26).fill(429)]);
        for (const r of all.filter((r) => r.status === 429)) expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
        // Locked: the right password is refused too, without being checked.
        const locked = await login(PASSWORD, { from: '127.0.1.99' });
        expect(locked.status).toBe(429);
        expect(locked.text).toContain('locked');
        expect((await outcomesOf(world, offset, 31)).at(-1)).toBe('locked');
      });

      it('locks the account after 5 of 30 parallel wrong TOTP codes, and checks only those 5', async () => {
        // Two-factor sign-in switched on through the pages, as an admin does.
        const cookie = cookieOf(await login(PASSWORD));
        const enrol = (await send(world, 'GET', '/account/two-factor', { headers: { cookie } })).text;
        const secret = /<code id="totp-secret">([^<]+)<\/code>/.exec(enrol)![1].replace(/\s+/g, '');
        const enrolment = /name="enrolment" value="([^"]+)"/.exec(enrol)![1];
        const on = await send(world, 'POST', '/account/two-factor', { form: { _csrf: csrfOf(enrol), enrolment, code: await totpCode(secret, Date.now()), currentPassword: PASSWORD }, headers: { cookie } });
        expect(on.text).toContain('Your recovery codes');

        const near = await Promise.all([-30_000, 0, 30_000].map((d) => totpCode(secret, Date.now() + d)));
        const wrong = Array.from({ length: 30 }, (_, i) => String(100_000 + i)).filter((c) => !near.includes(c)).slice(0, 30);
        const offset = world.host.logs().length;
        const all = await Promise.all(wrong.map((code, i) => login(PASSWORD, { code, from: `127.0.2.${i + 1}` })));
        const outcomes = await outcomesOf(world, offset, wrong.length);
        expect(checked(outcomes)).toHaveLength(5);
        expect(checked(outcomes).every((o) => o.startsWith('wrong second factor'))).toBe(true);
        expect(all.filter((r) => r.status === 401)).toHaveLength(4);
        expect(all.filter((r) => r.status === 429)).toHaveLength(wrong.length - 4);
        // The right password with the current code is refused now.
        expect((await login(PASSWORD, { code: await totpCode(secret, Date.now()), from: '127.0.2.99' })).status).toBe(429);
      });

      it(`gives one address ${THROTTLES['sign-in'].max} sign-in attempts per window, then 429 with Retry-After; others still sign in`, async () => {
        const { max, windowMs } = THROTTLES['sign-in'];
        const offset = world.host.logs().length;
        // Unknown emails: no account lock in the way, each one a full (decoy) derivation.
        const all = await Promise.all(Array.from({ length: 30 }, (_, i) => login('a guess', { email: `nobody${i}@example.com`, from: '127.0.3.1' })));
        const outcomes = await outcomesOf(world, offset, 30);
        expect(checked(outcomes)).toHaveLength(max);
        expect(statuses(all)).toEqual([...Array(max).fill(401), ...Array(30 - max).fill(429)]);
        for (const r of all.filter((r) => r.status === 429)) {
          expect(r.headers['content-type']).toBe('application/problem+json');
          expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
          expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(windowMs / 1000);
        }
        // The wizard's sign-in and the right password from that address wait too; from another they work.
        expect((await login(PASSWORD, { from: '127.0.3.1' })).status).toBe(429);
        expect((await login(PASSWORD, { from: '127.0.3.2' })).status).toBe(303);
        expect(await world.host.sql('SELECT failed_logins FROM users')).toEqual([{ failed_logins: 0 }]);
      });

      it(`backs off wrong API keys and admin tokens from one address after ${THROTTLES['api-key'].max}, visibly; valid ones from it still work`, async () => {
        const made = await world.api.post('/api/v1/certificates', { name: 'polled', domains: [world.domain()] });
        expect(made.status).toBe(201);
        const from = '127.0.4.1';
        const offset = world.host.logs().length;

        const keys: number[] = [];
        for (let i = 0; i < THROTTLES['api-key'].max + 3; i++) {
          keys.push((await send(world, 'GET', '/api/certificate/polled', { from, headers: { apikey: `cka_${'A'.repeat(31)}${i % 10}` } })).status);
        }
        expect(keys).toEqual([...Array(THROTTLES['api-key'].max).fill(401), 429, 429, 429]);
        const refused = await send(world, 'GET', '/api/key/polled', { from, headers: { apikey: 'cka_nope' } });
        expect(refused.status).toBe(429);
        expect(refused.headers['content-type']).toBe('application/problem+json');
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
        // A valid key from the same address is answered as ever (404: not issued yet, or 200).
        expect([200, 404]).toContain((await send(world, 'GET', '/api/certificate/polled', { from, headers: { apikey: made.body.apiKeys[0] } })).status);

        const tokens: number[] = [];
        for (let i = 0; i < THROTTLES['admin-token'].max + 3; i++) {
          tokens.push((await send(world, 'GET', '/api/v1/certificates', { from, headers: { authorization: `Bearer ckt_${'x'.repeat(32)}` } })).status);
        }
        expect(tokens).toEqual([...Array(THROTTLES['admin-token'].max).fill(401), 429, 429, 429]);
        expect((await send(world, 'GET', '/api/v1/certificates', { from, headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
        // Another address is not held back.
        expect((await send(world, 'GET', '/api/v1/certificates', { from: '127.0.4.2', headers: { authorization: 'Bearer ckt_wrong' } })).status).toBe(401);

        // The guessing is in the log, with the address.
        await expect.poll(() => world.host.logs().slice(offset)).toMatch(/"msg":"too many failed attempts".*"purpose":"api-key".*"clientIp":"127\.0\.4\.1"/);
        await expect.poll(() => world.host.logs().slice(offset)).toMatch(/"msg":"too many failed attempts".*"purpose":"admin-token".*"clientIp":"127\.0\.4\.1"/);
      });
    });
  });
}
