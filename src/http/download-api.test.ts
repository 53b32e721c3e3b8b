// Which API key opens what, in the app in this process on a libSQL file (no CA needed: a key
// downloads at once, and a certificate not issued yet is checked for its key before its 404).
// A certificate's API keys start with ckc_, a key's with ckk_; a key of the other kind, or of
// another object, gets a 403 that says which kind of key the endpoint wants and names nothing
// else; keys made before the prefixes (cka_) keep working.
import { and, eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiKeys } from '../db/schema.ts';
import { rotateApiKey } from '../domain/apikeys.ts';
import { createCertificate } from '../domain/certificates.ts';
import { createKey, findKeyByName } from '../domain/keys.ts';
import { hashSecret } from '../domain/secrets.ts';
import { signedInPageApp, type PageApp } from '../../test/harness/page-app.ts';
import { BY_CLI } from '../domain/audit.ts';

let app: PageApp;
beforeEach(async () => {
  app = await signedInPageApp('download-api');
});
afterEach(() => app.close());

const download = async (path: string, apiKey: string) => {
  const res = await app.call(path, { headers: { apikey: apiKey } }, false);
  return { status: res.status, type: res.headers.get('content-type'), text: res.text, detail: res.status >= 400 ? (JSON.parse(res.text).detail as string) : undefined };
};

describe('API keys by kind', () => {
  it('are made with ckc_ for certificates and ckk_ for keys, also when one is replaced', async () => {
    const cert = await createCertificate(app.deps, BY_CLI, { name: 'www', domains: ['www.example.com'], challenge: 'http-01' });
    const key = await createKey(app.deps, BY_CLI, 'spare', { type: 'ec-p256' });
    expect(cert.apiKeys).toEqual([expect.stringMatching(/^ckc_[A-Za-z0-9_-]{32}$/), expect.stringMatching(/^ckc_[A-Za-z0-9_-]{32}$/)]);
    expect((cert.key as { apiKeys: string[] }).apiKeys).toEqual([expect.stringMatching(/^ckk_/), expect.stringMatching(/^ckk_/)]);
    expect(key.apiKeys).toEqual([expect.stringMatching(/^ckk_/), expect.stringMatching(/^ckk_/)]);
    expect(await rotateApiKey(app.deps, BY_CLI, 'certificate', cert.row, 1)).toMatch(/^ckc_/);
    const row = (await findKeyByName(app.deps, 'spare'))!;
    const fresh = await rotateApiKey(app.deps, BY_CLI, 'key', row, 2);
    expect(fresh).toMatch(/^ckk_/);
    expect((await download('/api/key/spare', fresh)).status).toBe(200);
  });

  it("answer a certificate's key on /api/key/… with a 403 that says the key's own API key is needed", async () => {
    const cert = await createCertificate(app.deps, BY_CLI, { name: 'www', domains: ['www.example.com'], challenge: 'http-01' });
    const res = await download('/api/key/www', cert.apiKeys[0]);
    expect(res.status).toBe(403);
    expect(res.type).toBe('application/problem+json');
    expect(res.detail).toBe("this is a certificate's API key; /api/key/www needs one of the key's own two API keys (ckk_…, or an older cka_…)");
  });

  it("answer a key's key on /api/certificate/… with a 403 that says the certificate's own API key is needed", async () => {
    const cert = await createCertificate(app.deps, BY_CLI, { name: 'www', domains: ['www.example.com'], challenge: 'http-01' });
    const keyKey = (cert.key as { apiKeys: string[] }).apiKeys[1];
    const res = await download('/api/certificate/www', keyKey);
    expect(res.status).toBe(403);
    expect(res.detail).toBe("this is a key's API key; /api/certificate/www needs one of the certificate's own two API keys (ckc_…, or an older cka_…)");
    // The certificate's own key gets past the key check: not issued yet is the next answer.
    expect((await download('/api/certificate/www', cert.apiKeys[0])).detail).toMatch(/not yet issued/);
  });

  it("answer a key of another object of the same kind with a 403 that names neither that object nor this one's other keys", async () => {
    const mine = await createCertificate(app.deps, BY_CLI, { name: 'www', domains: ['www.example.com'], challenge: 'http-01' });
    const theirs = await createCertificate(app.deps, BY_CLI, { name: 'payroll-secret', domains: ['payroll.internal.example'], challenge: 'http-01' });
    const cert = await download('/api/certificate/www', theirs.apiKeys[0]);
    expect(cert.status).toBe(403);
    expect(cert.detail).toBe("this API key belongs to another certificate; /api/certificate/www needs one of the certificate's own two API keys (ckc_…, or an older cka_…)");
    const key = await download('/api/key/www', (theirs.key as { apiKeys: string[] }).apiKeys[0]);
    expect(key.status).toBe(403);
    expect(key.detail).toMatch(/^this API key belongs to another key; \/api\/key\/www needs/);
    for (const text of [cert.text, key.text]) expect(text).not.toMatch(/payroll|ckc_[A-Za-z0-9_-]{32}|ckk_[A-Za-z0-9_-]{32}/);
    expect((await download('/api/key/www', (mine.key as { apiKeys: string[] }).apiKeys[0])).status).toBe(200);
  });

  it('keep opening their object when made before the prefixes (cka_), and nothing else', async () => {
    const cert = await createCertificate(app.deps, BY_CLI, { name: 'www', domains: ['www.example.com'], challenge: 'http-01' });
    const keyRow = (await findKeyByName(app.deps, 'www'))!;
    // As an older version stored them: the hash of a cka_ key in slot 1 of each.
    const oldKeyKey = 'cka_' + 'k'.repeat(32);
    const oldCertKey = 'cka_' + 'c'.repeat(32);
    const slot1 = (kind: 'key' | 'certificate', id: string) => and(eq(apiKeys.ownerKind, kind), eq(apiKeys.ownerId, id), eq(apiKeys.slot, 1));
    await app.deps.db.db.update(apiKeys).set({ keyHash: await hashSecret(app.deps, oldKeyKey) }).where(slot1('key', keyRow.id));
    await app.deps.db.db.update(apiKeys).set({ keyHash: await hashSecret(app.deps, oldCertKey) }).where(slot1('certificate', cert.row.id));
    const pem = await download('/api/key/www', oldKeyKey);
    expect(pem.status).toBe(200);
    expect(pem.text).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect((await download('/api/certificate/www', oldCertKey)).detail).toMatch(/not yet issued/);
    expect((await download('/api/key/www', oldCertKey)).detail).toMatch(/^this is a certificate's API key/);
    // The other slot still holds the new-style key, and it works too.
    expect((await download('/api/key/www', (cert.key as { apiKeys: string[] }).apiKeys[1])).status).toBe(200);
  });

  it('refuse look-alikes with 401 before any look-up: another prefix, an admin token, a prefix of a real key', async () => {
    const cert = await createCertificate(app.deps, BY_CLI, { name: 'www', domains: ['www.example.com'], challenge: 'http-01' });
    const keyKey = (cert.key as { apiKeys: string[] }).apiKeys[0];
    for (const presented of ['ckx_' + keyKey.slice(4), 'ckt_' + keyKey.slice(4), keyKey.slice(0, -1), `${keyKey}x`, 'ckk_' + 'A'.repeat(32)]) {
      expect((await download('/api/key/www', presented)).status).toBe(401);
    }
  });
});
