// The download API answers Certera's clients as Certera (ASP.NET Core MVC) answered them (SPEC §5,
// issue 13), in the app in this process on a libSQL file: paths and parameter names in any case,
// the parameters from a form body (on a GET too, as the node host hands it over), a whitespace-only
// pfxPassword refused, GET /api/test open, a certificate found by its subject — along an index,
// and from memory on a host that keeps downloads in memory. The same behaviours on both real
// hosts, through curl: test/contract/certera-compat.test.ts.
import { BY_CLI } from '../domain/audit.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { drizzle } from 'drizzle-orm/libsql/sqlite3';
import { eq } from 'drizzle-orm';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import { createApp, type App } from '../app.ts';
import * as schema from '../db/schema.ts';
import { acmeAccounts, certificates, settings } from '../db/schema.ts';
import { wrapDatabase, type Db } from '../db/client.ts';
import type { Deps } from '../deps.ts';
import { createCertificate } from '../domain/certificates.ts';
import { parseIpList } from './ip.ts';
import type { RequestContext } from './context.ts';
import { enableDownloadCache } from './download-cache.ts';
import { MAX_FORM_BYTES } from './download-api.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';

interface Issued {
  name: string;
  apiKeys: string[];
  keyApiKeys: string[];
  /** The chain it serves: a leaf and an intermediate (stand-ins: the API serves bytes as stored). */
  pem: string;
  leaf: string;
}

let opened: OpenedDatabase;
let deps: Deps;
let app: App;
/** Every SQL statement sent since the last `sent.length = 0`. */
let sent: Array<{ sql: string; params: unknown[] }>;

beforeEach(async () => {
  opened = await openDatabase(`file:${makeTempDir('download-certera-')}/certkeep.db`);
  sent = [];
  const recording = drizzle(opened.client, { schema, logger: { logQuery: (query, params) => void sent.push({ sql: query, params }) } });
  deps = await offlineDeps(wrapDatabase(recording as unknown as Db & { batch(s: unknown[]): Promise<unknown[]> }));
  const now = Date.now();
  await deps.db.db.insert(settings).values({ key: 'setupCompletedAt', value: String(now), updatedAt: now });
  const account = { directoryUrl: 'https://ca.example/dir', email: null, termsOfServiceAgreed: true, status: 'valid' as const, keyType: 'ec-p256' as const, keySealed: 'unused', nextKeySealed: null, eabKid: null, createdAt: now, updatedAt: now };
  await deps.db.db.insert(acmeAccounts).values([
    { ...account, id: 'acct', name: 'default', staging: false, accountUrl: 'https://ca.example/acct/1' },
    { ...account, id: 'acct-staging', name: 'staging', staging: true, accountUrl: 'https://ca.example/acct/2' },
  ]);
  app = createApp(deps);
});
afterEach(() => opened.close());

const block = (text: string) => `-----BEGIN CERTIFICATE-----\n${btoa(text)}\n-----END CERTIFICATE-----\n`;

/** A certificate as if issued: its chain stored, served with its own key. */
async function issued(name: string, domains: string[], account?: string): Promise<Issued> {
  const made = await createCertificate(deps, BY_CLI, { name, domains, challenge: 'http-01', account });
  const leaf = block(`leaf of ${name}`);
  const pem = leaf + block('intermediate');
  await deps.db.db.update(certificates).set({ pem, status: 'valid', servedKeyId: made.row.keyId }).where(eq(certificates.id, made.row.id));
  return { name, apiKeys: made.apiKeys, keyApiKeys: (made.key as { apiKeys: string[] }).apiKeys, pem, leaf };
}

async function call(path: string, init: RequestInit = {}, ctx: Partial<RequestContext> = {}) {
  const res = await app.fetch(new Request(`http://127.0.0.1:8080${path}`, init), { clientIp: '127.0.0.1', secure: false, waitUntil: () => {}, ...ctx });
  const text = await res.text();
  const problem = res.headers.get('content-type') === 'application/problem+json' ? (JSON.parse(text) as { detail: string; field?: string }) : undefined;
  return { status: res.status, text, problem, headers: res.headers };
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const utf8 = (text: string) => new TextEncoder().encode(text);

describe("Certera's requests, answered as Certera answered them", () => {
  it('match the paths in any case, and with a trailing slash', async () => {
    const www = await issued('www', ['www.example.com']);
    for (const path of ['/API/Certificate/www', '/Api/certificate/www/', '/api/CERTIFICATE/www']) {
      const res = await call(path, { headers: { apiKey: www.apiKeys[0] } });
      expect(res.status, path).toBe(200);
      expect(res.text).toBe(www.pem);
    }
    const key = await call('/Api/Key/www', { headers: { APIKEY: www.keyApiKeys[0] } });
    expect(key.status).toBe(200);
    expect(key.text).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    // A POST too (Certera's docs' `curl -d` sends one).
    expect((await call('/API/KEY/www', { method: 'POST', headers: { apikey: www.keyApiKeys[1], ...FORM }, body: 'FORMAT=der' })).text).toMatch(/^MI/);
  });

  it('take parameter names and values in any case', async () => {
    const www = await issued('www', ['www.example.com']);
    const get = (query: string) => call(`/api/certificate/www?${query}`, { headers: { apikey: www.apiKeys[0] } });
    expect((await get('Chain=false')).text).toBe(www.leaf);
    expect((await get('CHAIN=False&Format=PEM')).text).toBe(www.leaf);
    expect((await get('FORMAT=DER')).text).toBe(btoa('leaf of www'));
    // The first of repeated values, as model binding took it.
    expect((await get('chain=false&Chain=true')).text).toBe(www.leaf);
    // A value it does not know is still a 400 naming the parameter (SPEC; Certera fell back to its default).
    expect((await get('Format=p7b')).problem).toMatchObject({ field: 'format' });
  });

  it('take the parameters from a form body on a GET, as the node host hands it over, for certificates and keys', async () => {
    const www = await issued('www', ['www.example.com']);
    const leaf = await call('/api/certificate/www', { headers: { apikey: www.apiKeys[0], ...FORM } }, { getBody: utf8('Chain=false') });
    expect(leaf.status).toBe(200);
    expect(leaf.text).toBe(www.leaf);
    const der = await call('/api/key/www', { headers: { apikey: www.keyApiKeys[0], ...FORM } }, { getBody: utf8('format=der') });
    expect(der.text).toMatch(/^MI[A-Za-z0-9+/]+=*$/);
    // Without a form content type the body is not parameters (ASP.NET read none either).
    expect((await call('/api/certificate/www', { headers: { apikey: www.apiKeys[0] } }, { getBody: utf8('chain=false') })).text).toBe(www.pem);
  });

  it('prefer the form body to the query string, as model binding did, and read multipart forms too', async () => {
    const www = await issued('www', ['www.example.com']);
    const both = await call('/api/certificate/www?chain=false', { method: 'POST', headers: { apikey: www.apiKeys[0], ...FORM }, body: 'chain=true' });
    expect(both.text).toBe(www.pem);
    const form = new FormData();
    form.set('chain', 'false');
    expect((await call('/api/certificate/www', { method: 'POST', headers: { apikey: www.apiKeys[0] }, body: form })).text).toBe(www.leaf);
  });

  it('refuse a form body larger than the parameters need with 413, whichever way it comes', async () => {
    const www = await issued('www', ['www.example.com']);
    const big = `chain=false&pad=${'x'.repeat(MAX_FORM_BYTES)}`;
    const viaHost = await call('/api/certificate/www', { headers: { apikey: www.apiKeys[0], ...FORM } }, { getBody: utf8(big) });
    expect(viaHost.status).toBe(413);
    expect(viaHost.problem).toMatchObject({ field: 'body' });
    const streamed = await call('/api/certificate/www', { method: 'POST', headers: { apikey: www.apiKeys[0], ...FORM }, body: big });
    expect(streamed.status).toBe(413);
  });

  it('refuse a whitespace-only pfxPassword with 400 naming pfxPassword, as String.IsNullOrWhiteSpace did', async () => {
    const www = await issued('www', ['www.example.com']);
    for (const password of [' ', '\t', '  \n', '\u00a0', '\u3000']) {
      const query = await call(`/api/certificate/www?format=pfx&pfxPassword=${encodeURIComponent(password)}`, { headers: { apikey: www.apiKeys[0] } });
      expect(query.status, JSON.stringify(password)).toBe(400);
      expect(query.problem).toMatchObject({ field: 'pfxPassword', detail: 'pfxPassword: only whitespace' });
      const form = await call('/api/certificate/www', { headers: { apikey: www.apiKeys[0], ...FORM } }, { getBody: utf8(`format=PFX&PfxPassword=${encodeURIComponent(password)}`) });
      expect(form.problem).toMatchObject({ field: 'pfxPassword' });
    }
    expect((await call('/api/certificate/www?format=pfx', { headers: { apikey: www.apiKeys[0] } })).problem).toMatchObject({ field: 'pfxPassword', detail: 'pfxPassword: required for format=pfx' });
    // Blank but not a PEM's business: ignored without format=pfx.
    expect((await call('/api/certificate/www?pfxPassword=%20', { headers: { apikey: www.apiKeys[0] } })).status).toBe(200);
  });

  it('answer GET /api/test with 200 and no body, from anywhere, in any case, before setup and over plain HTTP', async () => {
    deps.allowAdmin = parseIpList('192.0.2.0/24');
    deps.allowApi = parseIpList('192.0.2.0/24');
    deps.httpsPort = () => 8443;
    await deps.db.db.delete(settings).where(eq(settings.key, 'setupCompletedAt'));
    for (const path of ['/api/test', '/API/Test', '/api/test/']) {
      const res = await call(path, {}, { clientIp: '198.51.100.7' });
      expect(res.status, path).toBe(200);
      expect(res.text).toBe('');
    }
    // Nothing else under /api is open: the same address is refused the download API.
    expect((await call('/api/certificate/www', { headers: { apikey: 'x' } }, { clientIp: '198.51.100.7', secure: true })).status).toBe(403);
  });

  it('put a path of any case in the download allow-list, never the admin one; the challenge path stays exact', async () => {
    const www = await issued('www', ['www.example.com']);
    deps.allowAdmin = parseIpList('127.0.0.1');
    deps.allowApi = parseIpList('192.0.2.0/24');
    const refused = await call('/API/Certificate/www', { headers: { apikey: www.apiKeys[0] } });
    expect(refused.status).toBe(403);
    expect(refused.problem?.detail).toBe('this address is not allowed to use the download API');
    expect((await call('/api/KEY/www', { headers: { apikey: www.keyApiKeys[0] } })).problem?.detail).toBe('this address is not allowed to use the download API');
    expect((await call('/API/Certificate/www', { headers: { apikey: www.apiKeys[0] } }, { clientIp: '192.0.2.5' })).text).toBe(www.pem);
    // Over plain HTTP once there is HTTPS: refused, not redirected, in any case.
    deps.httpsPort = () => 8443;
    const plain = await call('/API/CERTIFICATE/www', { headers: { apikey: www.apiKeys[0] } }, { clientIp: '192.0.2.5' });
    expect(plain.status).toBe(403);
    expect(plain.problem?.detail).toMatch(/^use HTTPS/);
    // The challenge path is open only as it is written.
    deps.httpsPort = () => null;
    expect((await call(`/.well-known/acme-challenge/${'A'.repeat(43)}`, {}, { clientIp: '198.51.100.7' })).status).toBe(404);
    expect((await call(`/.WELL-KNOWN/acme-challenge/${'A'.repeat(43)}`, {}, { clientIp: '198.51.100.7' })).status).toBe(403);
  });
});

describe('a certificate asked for by its subject', () => {
  it('is found when no certificate has that name: by its first name only, in any case, percent-encoded or not', async () => {
    const www = await issued('www', ['www.example.com', 'alt.example.com']);
    for (const name of ['www.example.com', 'WWW.Example.COM', 'www.example.com.', 'www%2Eexample%2Ecom']) {
      const res = await call(`/api/certificate/${name}`, { headers: { apikey: www.apiKeys[1] } });
      expect(res.status, name).toBe(200);
      expect(res.text).toBe(www.pem);
    }
    expect((await call('/api/certificate/www.example.com?chain=false', { headers: { apikey: www.apiKeys[0] } })).text).toBe(www.leaf);
    // Another of its names is not its subject; keys are looked up by name only, as in Certera.
    expect((await call('/api/certificate/alt.example.com', { headers: { apikey: www.apiKeys[0] } })).problem?.detail).toBe('certificate does not exist');
    expect((await call('/api/key/www.example.com', { headers: { apikey: www.keyApiKeys[0] } })).problem?.detail).toBe('key does not exist');
  });

  it('comes after a certificate of that name, which wins', async () => {
    const named = await issued('shop.example.com', ['other.example.com']);
    const bySubject = await issued('shop', ['shop.example.com']);
    expect((await call('/api/certificate/shop.example.com', { headers: { apikey: named.apiKeys[0] } })).text).toBe(named.pem);
    expect((await call('/api/certificate/shop.example.com', { headers: { apikey: bySubject.apiKeys[0] } })).status).toBe(403);
  });

  it('shared by several certificates: each one’s own API keys get that one; any other key a 403; staging= still filters', async () => {
    const blue = await issued('blue', ['shared.example.com']);
    const green = await issued('green', ['shared.example.com', 'green.example.com'], 'staging');
    const www = await issued('www', ['www.example.com']);
    expect((await call('/api/certificate/shared.example.com', { headers: { apikey: blue.apiKeys[0] } })).text).toBe(blue.pem);
    expect((await call('/api/certificate/shared.example.com', { headers: { apikey: green.apiKeys[1] } })).text).toBe(green.pem);
    expect((await call('/api/certificate/shared.example.com?staging=true', { headers: { apikey: green.apiKeys[0] } })).status).toBe(200);
    expect((await call('/api/certificate/shared.example.com?staging=true', { headers: { apikey: blue.apiKeys[0] } })).status).toBe(404);
    const other = await call('/api/certificate/shared.example.com', { headers: { apikey: www.apiKeys[0] } });
    expect(other.status).toBe(403);
    expect(other.text).not.toMatch(/blue|green/);
    expect((await call('/api/certificate/shared.example.com', { headers: { apikey: www.keyApiKeys[0] } })).status).toBe(403);
    expect((await call('/api/certificate/nobody.example.com', { headers: { apikey: www.apiKeys[0] } })).status).toBe(404);
    expect((await call('/api/certificate/shared.example.com', { headers: { apikey: 'ckc_' + 'A'.repeat(32) } })).status).toBe(401);
  });

  it('is looked up along the certificates_subject index, not by reading the certificates', async () => {
    for (let i = 0; i < 30; i++) await createCertificate(deps, BY_CLI, { name: `c${i}`, domains: [`c${i}.example.com`], challenge: 'http-01' });
    const www = await issued('www', ['www.example.com']);
    sent.length = 0;
    expect((await call('/api/certificate/www.example.com', { headers: { apikey: www.apiKeys[0] } })).status).toBe(200);
    const lookups = sent.filter((s) => /^select/i.test(s.sql) && /"certificates"/.test(s.sql) && /->>/.test(s.sql));
    expect(lookups).toHaveLength(1);
    const plan = (await opened.client.execute({ sql: `explain query plan ${lookups[0].sql}`, args: lookups[0].params as never })).rows.map((r) => String(r.detail));
    expect(plan.join('\n')).toMatch(/SEARCH certificates USING INDEX certificates_subject \(<expr>=\?\)/);
    expect(plan.join('\n')).not.toMatch(/^SCAN certificates/m);
  });

  it('is answered from memory on a host that keeps downloads in memory, and looked up again once the database changed', async () => {
    const www = await issued('www', ['www.example.com']);
    const version = { current: 'v1' };
    enableDownloadCache(deps, { version: () => version.current });
    const get = () => call('/api/certificate/www.example.com', { headers: { apikey: www.apiKeys[0] } });
    expect((await get()).text).toBe(www.pem);
    sent.length = 0;
    expect((await get()).text).toBe(www.pem);
    expect(sent).toEqual([]);
    // A certificate takes the name: the next request after the change sees it.
    const named = await issued('www.example.com', ['named.example.com']);
    version.current = 'v2';
    const res = await get();
    expect(res.status).toBe(403);
    expect((await call('/api/certificate/www.example.com', { headers: { apikey: named.apiKeys[0] } })).text).toBe(named.pem);
  });
});
