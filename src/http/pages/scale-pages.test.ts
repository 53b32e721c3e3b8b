// What the pages show of the CA's pace and of large lists, through the real app on a libSQL file,
// signed in: the CA's pause on the dashboard, the certificate and the account (and "Request now"
// refused in words meanwhile), the account's pacing form, the dashboard's counts, and the keys
// list paged with each key's use counted.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { acmeAccounts, certificates } from '../../db/schema.ts';
import { createCertificate } from '../../domain/certificates.ts';
import { createKey } from '../../domain/keys.ts';
import { signedInPageApp, type PageApp } from '../../../test/harness/page-app.ts';
import { decode, fieldErrorText, unlabelledControls } from '../../../test/harness/markup.ts';
import { BY_CLI } from '../../domain/audit.ts';

let f: PageApp;
beforeEach(async () => {
  f = await signedInPageApp('scale-pages');
});
afterEach(() => f.close());

const post = (path: string, form: Record<string, string>) =>
  f.call(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...form, _csrf: f.csrf }).toString() });

describe('the CA asked to wait', () => {
  it('shows the pause on the dashboard, the certificate and the account, and refuses "Request now" in words', async () => {
    await createCertificate(f.deps, BY_CLI, { name: 'www', domains: ['www.example.com'], challenge: 'http-01' });
    const until = Date.now() + 3_600_000;
    const problem = { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new orders for <this> account', status: 429 };
    await f.deps.db.db.update(acmeAccounts).set({ pausedUntil: until, pauseProblem: JSON.stringify(problem) }).where(eq(acmeAccounts.name, 'default'));
    const when = new Date(until).toISOString().slice(0, 16).replace('T', ' ');

    const dashboard = (await f.call('/')).text;
    expect(dashboard).toContain('The CA asked to wait');
    expect(dashboard).toContain(`paused until ${when} UTC`);
    expect(dashboard).toContain('too many new orders for &lt;this&gt; account');

    const detail = (await f.call('/certificates/www')).text;
    expect(detail).toContain('<strong>The CA asked Certkeep to wait.</strong>');
    expect(detail).toContain(`paused until ${when} UTC`);
    const forced = await post('/certificates/www/issue', {});
    expect(forced.status).toBe(409);
    expect(forced.text).toContain('Not now: the CA asked to pause new orders of account');

    const account = (await f.call('/accounts/default')).text;
    expect(account).toContain(`no new order with this account until ${when} UTC`);
    expect((await f.call('/accounts')).text).toContain(`paused by the CA until ${when} UTC`);
  });
});

describe('the pace of an account', () => {
  it('saves a limit of new orders per hour, refuses a bad one next to its field, and clears it', async () => {
    const page = (await f.call('/accounts/default')).text;
    expect(unlabelledControls(page)).toEqual([]);
    expect(page).toContain('<form method="post" action="/accounts/default/pace" novalidate>');
    const bad = await post('/accounts/default/pace', { maxOrdersPerHour: '0' });
    expect(bad.status).toBe(400);
    expect(fieldErrorText(bad.text, 'field-maxOrdersPerHour')).toMatch(/from 1 to/);
    const saved = await post('/accounts/default/pace', { maxOrdersPerHour: '300' });
    expect(saved.status).toBe(303);
    expect(saved.headers.get('location')).toBe('/accounts/default?done=paced');
    expect((await f.call('/accounts')).text).toMatch(/<td class="numeric" data-label="New orders per hour">300<\/td>/);
    expect((await f.deps.db.db.select().from(acmeAccounts).where(eq(acmeAccounts.name, 'default')))[0].maxOrdersPerHour).toBe(300);
    expect((await post('/accounts/default/pace', { maxOrdersPerHour: '' })).status).toBe(303);
    expect((await f.deps.db.db.select().from(acmeAccounts).where(eq(acmeAccounts.name, 'default')))[0].maxOrdersPerHour).toBeNull();
  });
});

describe('large lists', () => {
  it('count certificates by state on the dashboard and link the filters', async () => {
    for (const name of ['a', 'b', 'c']) await createCertificate(f.deps, BY_CLI, { name, domains: [`${name}.example.com`], challenge: 'http-01' });
    await f.deps.db.db.update(certificates).set({ lastError: '{"type":"about:blank","detail":"boom"}' }).where(eq(certificates.name, 'b'));
    const text = (await f.call('/')).text;
    expect(text).toMatch(/<span class="badge new">New<\/span> <strong>3<\/strong>/);
    expect(text).toContain('<a href="/certificates?status=failing">1 failing</a>');
    expect(text).toContain('<a href="/certificates?status=expiring">0 expiring within 30 days</a>');
  });

  it('page the keys with each key’s use counted', async () => {
    await createKey(f.deps, BY_CLI, 'shared', { type: 'ec-p256' });
    for (let i = 0; i < 3; i++) await createCertificate(f.deps, BY_CLI, { name: `s${i}`, domains: [`s${i}.example.com`], challenge: 'http-01', key: 'shared' });
    for (let i = 0; i < 26; i++) await createKey(f.deps, BY_CLI, `k${String(i).padStart(2, '0')}`, { type: 'ec-p256' });
    const first = (await f.call('/keys')).text;
    expect(first.match(/<tr><td data-label="Name"><a href="\/keys\/k\d\d">/g)).toHaveLength(25);
    const next = decode(/<a href="([^"]+)" rel="next">Next page<\/a>/.exec(first)![1]);
    const second = (await f.call(next)).text;
    expect(second).toContain('<a href="/certificates/s0">s0</a> and 2 more');
    expect(second).toContain('<a href="/keys" rel="first">First page</a>');
    expect((await f.call('/keys?q=shar')).text.match(/<tr><td data-label="Name"><a href="\/keys\/[^"]+">/g)).toEqual(['<tr><td data-label="Name"><a href="/keys/shared">']);
  });
});

describe('the lists\' live search forms', () => {
  // The search box answers to typing only; its `change` (fired as it loses focus, when a click on
  // a result begins) would swap the results, and the link under the button, away mid-click.
  for (const path of ['/certificates', '/tracking']) {
    it(`${path}: every filter of the form is live as it changes, and the search box while typing only`, async () => {
      const page = (await f.call(path)).text;
      const [, formAttributes, formBody] = /<form method="get"([^>]*)>([\s\S]*?)<\/form>/.exec(page) ?? [];
      const trigger = decode(/ hx-trigger="([^"]*)"/.exec(formAttributes ?? '')?.[1] ?? '');
      const specs = trigger.split(',').map((s) => s.trim());
      expect(specs[0]).toBe('input changed delay:300ms from:#field-q');
      expect(specs.at(-1)).toBe('submit');
      const changes = specs.slice(1, -1);
      for (const spec of changes) expect(spec).toMatch(/^change from:#[\w-]+$/);
      const controls = [...(formBody ?? '').matchAll(/<(?:select|input)[^>]* id="([^"]+)"/g)].map((m) => m[1]);
      expect(controls).toContain('field-q');
      expect(changes.map((spec) => spec.slice('change from:#'.length)).sort()).toEqual(controls.filter((id) => id !== 'field-q').sort());
    });
  }
});
