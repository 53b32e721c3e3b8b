// The certificate pages through the real app on a libSQL file, signed in with a real session:
// forms, field errors, the API keys shown once (and working against the download API), CSRF,
// escaping, the running order's polling, the 409s in words. No CA here: issuance and revocation
// are exercised against Pebble in test/browser/certificates.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { certificates, orderEvents, orders } from '../../db/schema.ts';
import { createCertificate, findCertificateByName } from '../../domain/certificates.ts';
import { createKey, findKeyByName } from '../../domain/keys.ts';
import { createDnsProvider } from '../../domain/dns/providers.ts';
import { tryAcquireLease } from '../../db/lease.ts';
import { certificateLeaseName } from '../../domain/orders.ts';
import { certificateInputOf, splitDomains } from './certificates.ts';
import { PAGE_ORIGIN, signedInPageApp, type PageApp } from '../../../test/harness/page-app.ts';
import { decode, fieldErrorText, inputValue, unlabelledControls } from '../../../test/harness/markup.ts';
import { HOSTNAME_PLACEHOLDER } from '../../../templates/secrets.ts';
import { BY_CLI } from '../../domain/audit.ts';

interface Fixture extends PageApp {
  get(path: string): Promise<{ status: number; text: string; headers: Headers }>;
  post(path: string, form: Record<string, string>, csrf?: string | null): Promise<{ status: number; text: string; headers: Headers }>;
  download(path: string, apiKey: string): Promise<number>;
}

async function fixture(): Promise<Fixture> {
  const pages = await signedInPageApp('cert-pages');
  return {
    ...pages,
    get: (path) => pages.call(path),
    post: (path, form, csrf = pages.csrf) =>
      pages.call(path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form, ...(csrf === null ? {} : { _csrf: csrf }) }).toString(),
      }),
    download: async (path, apiKey) => (await pages.call(path, { headers: { apikey: apiKey } }, false)).status,
  };
}

/** The error message shown for the field with this id, and that the control points to it. */
function fieldError(markup: string, id: string): string | undefined {
  const message = fieldErrorText(markup, id);
  if (message !== undefined) expect(markup).toMatch(new RegExp(`id="${id}"[^>]*aria-describedby="[^"]*${id}-error"[^>]*aria-invalid="true"`));
  return message;
}

let f: Fixture;
beforeEach(async () => {
  f = await fixture();
});
afterEach(() => f.close());

describe('splitDomains', () => {
  it('splits on newlines, commas, semicolons and blanks, as Certera did', () => {
    expect(splitDomains('a.example.com\r\nb.example.com, c.example.com;d.example.com ; \n\n e.example.com')).toEqual([
      'a.example.com', 'b.example.com', 'c.example.com', 'd.example.com', 'e.example.com',
    ]);
    expect(splitDomains('  \n ')).toEqual([]);
  });
});

describe('certificateInputOf', () => {
  it('reads the key type only for a new key and the DNS provider only for dns-01', () => {
    const errors = {};
    const form = new URLSearchParams({ name: 'x', domains: 'x.example.com', challenge: 'http-01', key: 'k', keyType: 'rsa-2048', dnsProvider: 'hook', 'subject.C': 'de' });
    expect(certificateInputOf(form, errors)).toMatchObject({ name: 'x', key: 'k', keyType: undefined, dnsProvider: undefined, subject: { C: 'DE' } });
    expect(errors).toEqual({});
  });

  it('collects every field error at once, under the domain’s field names', () => {
    const errors: Record<string, string> = {};
    const form = new URLSearchParams({ name: '-bad', domains: '*.example.com', challenge: 'http-01', 'subject.C': 'Germany', profile: 'a b', keyType: 'dsa' });
    expect(certificateInputOf(form, errors)).toBeUndefined();
    expect(Object.keys(errors).sort()).toEqual(['domains', 'keyType', 'name', 'profile', 'subject.C']);
    expect(errors.domains).toMatch(/^Wildcard "\*\.example\.com" can only be validated with dns-01/);
  });
});

describe('certificate pages', () => {
  it('send a visitor without a session to sign in, keeping where they were going', async () => {
    const res = await f.app.fetch(new Request(`${PAGE_ORIGIN}/certificates?q=www`), { clientIp: '127.0.0.1', secure: false, waitUntil: () => {} });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/login?next=${encodeURIComponent('/certificates?q=www')}`);
  });

  it('list 25 per page with Next page / First page links, and search names and domains', async () => {
    for (let i = 0; i < 27; i++) {
      await createCertificate(f.deps, BY_CLI, { name: `c${String(i).padStart(2, '0')}`, domains: [`host${i}.example.com`, `alt${i}.example.org`], challenge: 'http-01' });
    }
    const first = await f.get('/certificates');
    expect(first.status).toBe(200);
    expect(first.text.match(/<tr>\s*<td data-label="Certificate"><a href="\/certificates\/c\d\d">/g)).toHaveLength(25);
    expect(first.text).toContain('27 certificates.');
    expect(first.text).not.toContain('rel="first"');
    const next = /<a href="([^"]+)" rel="next">Next page<\/a>/.exec(first.text)![1];
    const second = await f.get(decode(next));
    expect(second.text.match(/<a href="\/certificates\/c\d\d">/g)).toEqual(['<a href="/certificates/c25">', '<a href="/certificates/c26">']);
    expect(second.text).toContain('<a href="/certificates" rel="first">First page</a>');
    expect(second.text).not.toContain('rel="next"');
    // An old bookmark with a page number shows the first page rather than an error.
    expect((await f.get('/certificates?page=2')).status).toBe(200);

    const byDomain = await f.get('/certificates?q=ALT13.example');
    expect(byDomain.text.match(/<a href="\/certificates\/c\d\d">/g)).toEqual(['<a href="/certificates/c13">']);
    expect(byDomain.text).toContain('Certificates matching “ALT13.example”.');
    // A search that matches many pages them too, keeping the search in the link.
    const many = await f.get('/certificates?q=example&limit=10');
    expect(many.text.match(/<a href="\/certificates\/c\d\d">/g)).toHaveLength(10);
    expect(decode(/<a href="([^"]+)" rel="next">/.exec(many.text)![1])).toMatch(/^\/certificates\?q=example&limit=10&cursor=/);
    // The search box keeps the query, escaped.
    const xss = await f.get(`/certificates?q=${encodeURIComponent('"><script>x</script>')}`);
    expect(xss.text).not.toContain('<script>x');
    expect(inputValue(xss.text, 'field-q')).toBe('&quot;&gt;&lt;script&gt;x&lt;/script&gt;');
    expect(xss.text).toContain('No certificate matches');
  });

  it('filter failing, expiring within N days and waiting certificates, and sort by expiry, with a plain GET form', async () => {
    const DAY = 86_400_000;
    const now = Date.now();
    const make = async (name: string, set: Partial<typeof certificates.$inferInsert>) => {
      await createCertificate(f.deps, BY_CLI, { name, domains: [`${name}.example.com`], challenge: 'http-01' });
      if (Object.keys(set).length) await f.deps.db.db.update(certificates).set(set).where(eq(certificates.name, name));
    };
    const issued = (days: number) => ({ status: 'valid' as const, pem: 'PEM', serial: '01', notBefore: now - 10 * DAY, notAfter: now + days * DAY });
    await make('soon', issued(5));
    await make('later', issued(40));
    await make('gone', issued(-2));
    await make('failing', { ...issued(60), lastError: JSON.stringify({ type: 'urn:ietf:params:acme:error:connection', detail: 'no route' }), nextAttemptAt: now + 60_000 });
    await make('waiting', {});
    await make('never', { status: 'invalid', lastError: JSON.stringify({ type: 'urn:ietf:params:acme:error:dns', detail: 'NXDOMAIN' }) });
    const names = (text: string) => [...text.matchAll(/<tr>\s*<td data-label="Certificate"><a href="\/certificates\/([a-z]+)">/g)].map((m) => m[1]);

    const page = await f.get('/certificates');
    expect(page.text).toContain('<form method="get" action="/certificates" role="search"');
    expect(unlabelledControls(page.text)).toEqual([]);
    expect(names((await f.get('/certificates?status=failing')).text)).toEqual(['failing', 'never']);
    const expiring = await f.get('/certificates?status=expiring&days=10');
    expect(names(expiring.text)).toEqual(['soon']);
    expect(expiring.text).toContain('1 certificate (expiring within 10 days).');
    // Expiring soon reads soonest first.
    expect(names((await f.get('/certificates?status=expiring&days=45')).text)).toEqual(['soon', 'later']);
    expect(names((await f.get('/certificates?status=new%2Cpending')).text)).toEqual(['waiting']);
    expect(names((await f.get('/certificates?status=expired')).text)).toEqual(['gone']);
    // Expiry order: issued ones soonest first, then those never issued; the reverse puts the latest first.
    expect(names((await f.get('/certificates?sort=expiry')).text)).toEqual(['gone', 'soon', 'later', 'failing', 'never', 'waiting']);
    expect(names((await f.get('/certificates?sort=-expiry')).text)).toEqual(['failing', 'later', 'soon', 'gone', 'waiting', 'never']);
    // The form's empty fields (a plain GET without JavaScript) mean "no filter".
    expect(names((await f.get('/certificates?q=&status=&days=&sort=name')).text)).toHaveLength(6);

    const bad = await f.get('/certificates?status=bogus');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('status');
  });

  it('offer a new-certificate form where every control has a label', async () => {
    await createKey(f.deps, BY_CLI, 'spare', { type: 'ec-p256' });
    const res = await f.get('/certificates/-/new');
    expect(res.status).toBe(200);
    expect(unlabelledControls(res.text)).toEqual([]);
    expect(res.text).toContain('<option value="spare">spare (EC P-256)</option>');
    expect(res.text).toContain(`<input type="hidden" name="_csrf" value="${f.csrf}">`);
  });

  it('show every field error next to its field, keep the values, and create nothing', async () => {
    const res = await f.post('/certificates', { name: 'bad name', domains: 'ok.example.com\n*.example.com', challenge: 'http-01', 'subject.C': 'D1' });
    expect(res.status).toBe(400);
    expect(fieldError(res.text, 'field-name')).toMatch(/^Letters, digits/);
    expect(fieldError(res.text, 'field-domains')).toContain('can only be validated with dns-01');
    expect(fieldError(res.text, 'field-subject-C')).toBe('A two-letter country code');
    expect(res.text).toContain('<details open>'); // the subject field with its error is not hidden
    expect(inputValue(res.text, 'field-name')).toBe('bad name');
    expect(res.text).toContain('ok.example.com\n*.example.com</textarea>');
    expect(await findCertificateByName(f.deps, 'bad name')).toBeUndefined();

    // dns-01 without a provider: the domain's rule, on the provider's field.
    const dns = await f.post('/certificates', { name: 'wild', domains: '*.example.com', challenge: 'dns-01', dnsProvider: '' });
    expect(dns.status).toBe(400);
    expect(fieldError(dns.text, 'field-dnsProvider')).toBe('Required for dns-01');
    // A taken name: 409, on the name.
    await createCertificate(f.deps, BY_CLI, { name: 'taken', domains: ['t.example.com'], challenge: 'http-01' });
    const taken = await f.post('/certificates', { name: 'taken', domains: 'u.example.com' });
    expect(taken.status).toBe(409);
    expect(fieldError(taken.text, 'field-name')).toBe('A certificate named "taken" already exists');
  });

  it('show the new API keys once, in the answer to the POST, and they open the download API', async () => {
    const res = await f.post('/certificates', { name: 'www', domains: 'www.example.com, example.com', challenge: 'http-01', account: 'default', key: '', keyType: 'ec-p384', 'subject.O': 'Example Ltd' });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const certKeys = [inputValue(res.text, 'shown-certificate-1')!, inputValue(res.text, 'shown-certificate-2')!];
    const keyKeys = [inputValue(res.text, 'shown-key-1')!, inputValue(res.text, 'shown-key-2')!];
    for (const k of certKeys) expect(k).toMatch(/^ckc_/);
    for (const k of keyKeys) expect(k).toMatch(/^ckk_/);
    // No hostname is set here: the commands carry a placeholder, never the address being browsed.
    expect(decode(res.text)).toContain(`curl -s -H "apikey: ${certKeys[0]}" ${HOSTNAME_PLACEHOLDER}/api/certificate/www > www.pem`);
    expect(decode(res.text)).toContain(`(umask 077; curl -s -H "apikey: ${keyKeys[0]}" ${HOSTNAME_PLACEHOLDER}/api/key/www > www.key)`);
    expect(res.text).not.toContain(PAGE_ORIGIN);
    expect(unlabelledControls(res.text)).toEqual([]);

    // Real keys: the certificate is not issued yet (404), a made-up key is unknown (401).
    expect(await f.download('/api/certificate/www', certKeys[1])).toBe(404);
    expect(await f.download('/api/certificate/www', 'ckc_' + 'A'.repeat(32))).toBe(401);
    expect(await f.download('/api/key/www', keyKeys[1])).toBe(200);
    expect(await f.download('/api/key/www', certKeys[0])).toBe(403);

    const row = (await findCertificateByName(f.deps, 'www'))!;
    expect(JSON.parse(row.domains)).toEqual(['www.example.com', 'example.com']);
    expect(JSON.parse(row.subject!)).toEqual({ O: 'Example Ltd' });
    expect((await findKeyByName(f.deps, 'www'))!.type).toBe('ec-p384');

    // A later GET shows no API key, only the commands with placeholders.
    const detail = await f.get('/certificates/www');
    for (const k of [...certKeys, ...keyKeys]) expect(detail.text).not.toContain(k);
    expect(decode(detail.text)).toContain(`curl -s -H "apikey: <certificate API key>" ${HOSTNAME_PLACEHOLDER}/api/certificate/www`);
  });

  it('with an existing key, show only the certificate’s API keys and point to the key', async () => {
    await createKey(f.deps, BY_CLI, 'shared', { type: 'ec-p256' });
    const res = await f.post('/certificates', { name: 'two', domains: 'two.example.com', key: 'shared', keyType: 'rsa-4096' });
    expect(res.status).toBe(201);
    expect(inputValue(res.text, 'shown-key-1')).toBeUndefined();
    expect(res.text).toContain('the existing key <a href="/keys/shared">shared</a>');
    expect(decode(res.text)).toContain(`curl -s -H "apikey: <key API key>" ${HOSTNAME_PLACEHOLDER}/api/key/shared`);
  });

  it('refuse a POST without the session’s CSRF token, and change nothing', async () => {
    await createCertificate(f.deps, BY_CLI, { name: 'keep', domains: ['keep.example.com'], challenge: 'http-01' });
    for (const csrf of ['forged', '', null]) {
      expect((await f.post('/certificates', { name: 'sneaky', domains: 'sneaky.example.com' }, csrf)).status).toBe(403);
      expect((await f.post('/certificates/keep/delete', {}, csrf)).status).toBe(403);
      expect((await f.post('/certificates/keep/edit', { domains: 'evil.example.com', challenge: 'http-01' }, csrf)).status).toBe(403);
      expect((await f.post('/certificates/keep/api-keys/1', {}, csrf)).status).toBe(403);
    }
    expect(await findCertificateByName(f.deps, 'sneaky')).toBeUndefined();
    expect(JSON.parse((await findCertificateByName(f.deps, 'keep'))!.domains)).toEqual(['keep.example.com']);
  });

  it('explain the last problem in words, escape what the CA wrote, and show each order with its log', async () => {
    const { row } = await createCertificate(f.deps, BY_CLI, { name: 'broken', domains: ['broken.example.com'], challenge: 'http-01' });
    const problem = {
      type: 'urn:ietf:params:acme:error:compound',
      detail: 'Errors <b>during</b> validation',
      subproblems: [{ type: 'urn:ietf:params:acme:error:connection', detail: 'Connection refused', identifier: { type: 'dns', value: 'broken.example.com' } }],
    };
    const t = Date.UTC(2030, 0, 2, 3, 4);
    await f.deps.db.db.update(certificates).set({ status: 'invalid', lastError: JSON.stringify(problem), failureCount: 2, nextAttemptAt: t }).where(eq(certificates.id, row.id));
    await f.deps.db.db.insert(orders).values({
      id: 'o1', certificateId: row.id, accountId: 'acct', keyId: row.keyId, state: 'failed', reason: 'new', domains: row.domains,
      error: JSON.stringify(problem), attempts: 1, createdAt: t - 60_000, updatedAt: t, finishedAt: t,
    });
    await f.deps.db.db.insert(orderEvents).values([
      { orderId: 'o1', at: t - 60_000, level: 'info', message: 'order placed at the CA for broken.example.com' },
      { orderId: 'o1', at: t, level: 'error', message: 'failed: <script>alert(1)</script>' },
    ]);
    const res = await f.get('/certificates/broken');
    expect(res.status).toBe(200);
    expect(res.text).toContain('<span class="badge invalid">Failed</span>');
    expect(res.text).toContain('Several things went wrong; each name is listed below.');
    expect(res.text).toContain('The CA said: Errors &lt;b&gt;during&lt;/b&gt; validation');
    expect(res.text).toContain('<strong>broken.example.com</strong>: The CA could not connect');
    expect(res.text).toContain('2030-01-02 03:04 UTC');
    expect(res.text).toContain('after 2 failed attempts');
    expect(res.text).toContain('<summary>Log (2 lines)</summary>');
    expect(res.text).toContain('failed: &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(res.text).not.toContain('<script>alert');
    // Not running: no polling.
    expect(res.text).not.toContain('hx-trigger="every');
    expect(res.text).not.toContain('http-equiv="refresh"');
  });

  it('poll the live part while an order runs (htmx), or refresh the page without JavaScript', async () => {
    const { row } = await createCertificate(f.deps, BY_CLI, { name: 'busy', domains: ['busy.example.com'], challenge: 'http-01' });
    const lease = (await tryAcquireLease(f.deps.db, certificateLeaseName(row.id), 'someone', 30_000, f.deps.now))!;
    await f.deps.db.db.insert(orders).values({ id: 'o3', certificateId: row.id, accountId: 'acct', keyId: row.keyId, state: 'authorizing', reason: 'manual', domains: row.domains, attempts: 1, createdAt: 1, updatedAt: 1 });
    await f.deps.db.db.insert(orderEvents).values({ orderId: 'o3', at: Date.UTC(2030, 0, 1), level: 'info', message: 'answering 1 http-01 challenge(s)' });
    const res = await f.get('/certificates/busy');
    // The running order's log so far, as its progress.
    expect(res.text).toMatch(/<pre class="log" aria-label="Progress of the running order"><code>2030-01-01 00:00  info  answering 1 http-01 challenge\(s\)<\/code><\/pre>/);
    expect(res.text).toMatch(/<div id="certificate-live" hx-get="\/certificates\/busy" hx-trigger="every 1s" hx-select="#certificate-live" hx-swap="outerHTML"/);
    expect(res.text).toContain('<noscript><meta http-equiv="refresh" content="2"></noscript>');
    expect(res.text).toContain('An order is running.');
    await lease.release();
    expect((await f.get('/certificates/busy')).text).not.toContain('hx-trigger="every');
  });

  it('refuse to delete while an order is open, in words, and delete once it has ended', async () => {
    const { row } = await createCertificate(f.deps, BY_CLI, { name: 'open', domains: ['open.example.com'], challenge: 'http-01' });
    await f.deps.db.db.insert(orders).values({ id: 'o2', certificateId: row.id, accountId: 'acct', keyId: row.keyId, state: 'authorizing', reason: 'new', domains: row.domains, attempts: 1, createdAt: 1, updatedAt: 1 });
    const refused = await f.post('/certificates/open/delete', {});
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('An order for this certificate is still open');
    expect(await findCertificateByName(f.deps, 'open')).toBeDefined();

    await f.deps.db.db.update(orders).set({ finishedAt: 2, state: 'done' }).where(eq(orders.id, 'o2'));
    const done = await f.post('/certificates/open/delete', {});
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/certificates?notice=deleted');
    expect(await findCertificateByName(f.deps, 'open')).toBeUndefined();
    expect((await f.get('/certificates?notice=deleted')).text).toContain('The certificate was deleted.');
  });

  it('edit names, challenge and provider with the creation rules', async () => {
    await createDnsProvider(f.deps, BY_CLI, 'hook', 'webhook', { url: 'https://dns.example/hook', secret: 'a long enough shared secret' });
    await createCertificate(f.deps, BY_CLI, { name: 'ed', domains: ['ed.example.com'], challenge: 'http-01' });
    const form = await f.get('/certificates/ed/edit');
    expect(unlabelledControls(form.text)).toEqual([]);
    expect(form.text).toContain('ed.example.com</textarea>');

    const bad = await f.post('/certificates/ed/edit', { domains: '*.ed.example.com', challenge: 'http-01', dnsProvider: '', preferredChain: '' });
    expect(bad.status).toBe(400);
    expect(fieldError(bad.text, 'field-domains')).toContain('only be validated with dns-01');

    const ok = await f.post('/certificates/ed/edit', { domains: '*.ed.example.com\ned.example.com', challenge: 'dns-01', dnsProvider: 'hook', preferredChain: 'Root X2' });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/certificates/ed?notice=edited');
    const row = (await findCertificateByName(f.deps, 'ed'))!;
    expect([JSON.parse(row.domains), row.challenge, row.preferredChain]).toEqual([['*.ed.example.com', 'ed.example.com'], 'dns-01', 'Root X2']);
    const detail = await f.get('/certificates/ed?notice=edited');
    expect(detail.text).toContain('Saved.');
    expect(detail.text).toContain('hook <span class="muted">(webhook)</span>');
  });

  it('replace one API key: the new one is shown once and works, the old one stops, the other stays', async () => {
    const created = await createCertificate(f.deps, BY_CLI, { name: 'rot', domains: ['rot.example.com'], challenge: 'http-01' });
    const res = await f.post('/certificates/rot/api-keys/2', {});
    expect(res.status).toBe(200);
    const fresh = inputValue(res.text, 'shown-certificate-2')!;
    expect(fresh).toMatch(/^ckc_/);
    expect(await f.download('/api/certificate/rot', fresh)).toBe(404); // known key, not issued yet
    expect(await f.download('/api/certificate/rot', created.apiKeys[1])).toBe(401);
    expect(await f.download('/api/certificate/rot', created.apiKeys[0])).toBe(404);
    expect((await f.post('/certificates/rot/api-keys/3', {})).status).toBe(404);
  });

  it('move a certificate onto a new key (its API keys shown once) or an existing one', async () => {
    await createCertificate(f.deps, BY_CLI, { name: 'mv', domains: ['mv.example.com'], challenge: 'http-01' });
    const made = await f.post('/certificates/mv/key', { key: '', keyType: 'rsa-2048', keyName: '' });
    expect(made.status).toBe(200);
    expect(made.text).toContain('The key mv-2 was made');
    expect(inputValue(made.text, 'shown-key-1')).toMatch(/^ckk_/);
    expect((await findKeyByName(f.deps, 'mv-2'))!.type).toBe('rsa-2048');

    const same = await f.post('/certificates/mv/key', { key: 'mv-2' });
    expect(same.status).toBe(409);
    expect(fieldError(same.text, 'field-key')).toContain('already uses key "mv-2"');
    const taken = await f.post('/certificates/mv/key', { key: '', keyType: 'ec-p256', keyName: 'mv' });
    expect(taken.status).toBe(409);
    expect(fieldError(taken.text, 'field-keyName')).toBe('A key named "mv" already exists');

    const back = await f.post('/certificates/mv/key', { key: 'mv' });
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe('/certificates/mv?notice=key-changed');
  });

  it('confirm a revocation with a reason from RFC 5280 and refuse one of another kind', async () => {
    await createCertificate(f.deps, BY_CLI, { name: 'rv', domains: ['rv.example.com'], challenge: 'http-01' });
    const form = await f.get('/certificates/rv/revoke');
    expect(unlabelledControls(form.text)).toEqual([]);
    for (const reason of ['unspecified (0)', 'keyCompromise (1)', 'affiliationChanged (3)', 'superseded (4)', 'cessationOfOperation (5)']) expect(form.text).toContain(reason);
    const odd = await f.post('/certificates/rv/revoke', { reason: '7' });
    expect(odd.status).toBe(400);
    expect(fieldError(odd.text, 'field-reason')).toBe('Choose one of the reasons listed.');
    // Not issued yet: the domain's 409, in words.
    const early = await f.post('/certificates/rv/revoke', { reason: '4' });
    expect(early.status).toBe(409);
    expect(decode(early.text)).toContain('Certificate "rv" has not been issued');
  });

  it('answer an unknown certificate with a page that says so', async () => {
    for (const path of ['/certificates/nope', '/certificates/nope/edit', '/certificates/nope/revoke']) {
      const res = await f.get(path);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(res.text).toContain('There is no certificate named “nope”.');
    }
  });
});
