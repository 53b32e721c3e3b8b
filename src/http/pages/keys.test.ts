// The key pages through the real app on a libSQL file, signed in with a real session: generate,
// import (pasted PEM from openssl, an uploaded DER file), field errors, the API keys shown once and
// working, delete refused in words while a certificate uses the key, CSRF, no key material shown.
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCertificate } from '../../domain/certificates.ts';
import { createKey, findKeyByName } from '../../domain/keys.ts';
import { signedInPageApp, type PageApp } from '../../../test/harness/page-app.ts';
import { fieldErrorText, inputValue, unlabelledControls } from '../../../test/harness/markup.ts';
import { BY_CLI } from '../../domain/audit.ts';

interface Fixture extends PageApp {
  get(path: string): Promise<{ status: number; text: string; headers: Headers }>;
  send(path: string, body: URLSearchParams | FormData): Promise<{ status: number; text: string; headers: Headers }>;
  download(path: string, apiKey: string): Promise<{ status: number; text: string }>;
}

async function fixture(): Promise<Fixture> {
  const pages = await signedInPageApp('key-pages');
  return {
    ...pages,
    get: (path) => pages.call(path),
    send: (path, body) => pages.call(path, { method: 'POST', body }),
    download: (path, apiKey) => pages.call(path, { headers: { apikey: apiKey } }, false),
  };
}

const fieldError = fieldErrorText;

/** The SPKI of a private key in PEM, as Node reads it: to compare keys without trusting our parser. */
const spkiOf = (pem: string) => createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' }).toString('base64');

let f: Fixture;
beforeEach(async () => {
  f = await fixture();
});
afterEach(() => f.close());

const form = (fields: Record<string, string>, csrf: string | null) => new URLSearchParams({ ...fields, ...(csrf === null ? {} : { _csrf: csrf }) });

describe('key pages', () => {
  it('offer two labelled forms: generate, and import by paste or upload (multipart)', async () => {
    const res = await f.get('/keys/-/new');
    expect(res.status).toBe(200);
    expect(unlabelledControls(res.text)).toEqual([]);
    expect(res.text).toContain('<form method="post" action="/keys" enctype="multipart/form-data" novalidate>');
    expect(res.text.match(new RegExp(`name="_csrf" value="${f.csrf}"`, 'g'))).toHaveLength(3); // two forms and sign-out
  });

  it('generate a key of the chosen type and show its API keys once; the key downloads with them', async () => {
    const res = await f.send('/keys', form({ source: 'generate', name: 'gen', type: 'ec-p384' }, f.csrf));
    expect(res.status).toBe(201);
    const k1 = inputValue(res.text, 'shown-key-1')!;
    expect(k1).toMatch(/^ckk_/);
    expect(res.text).toContain(`/api/key/gen &gt; gen.key)`);
    const pem = await f.download('/api/key/gen', k1);
    expect(pem.status).toBe(200);
    expect(createPrivateKey(pem.text).asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    const detail = await f.get('/keys/gen');
    expect(detail.text).not.toContain(k1);
    expect(detail.text).toContain('EC P-384');
    expect(detail.text).not.toContain(pem.text.split('\n')[1]); // no key material on the page
    // The fingerprint shown is the SHA-256 of the public key's DER, as `openssl … | sha256sum` gives it.
    const spki = createPublicKey(createPrivateKey(pem.text)).export({ type: 'spki', format: 'der' });
    const shown = /Public key SHA-256<\/th><td><code>([0-9a-f ]+)<\/code>/.exec(detail.text)![1];
    expect(shown.replace(/ /g, '')).toBe(createHash('sha256').update(spki).digest('hex'));
  });

  it('import a SEC1 key pasted from openssl, the same key comes back out', async () => {
    const pem = execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey'], { encoding: 'utf8' }); // EC PARAMETERS + EC PRIVATE KEY
    const res = await f.send('/keys', form({ source: 'import', name: 'pasted', pem }, f.csrf));
    expect(res.status).toBe(201);
    expect(res.text).toContain('was imported');
    const out = await f.download('/api/key/pasted', inputValue(res.text, 'shown-key-2')!);
    expect(spkiOf(out.text)).toBe(spkiOf(pem));
  });

  it('import an uploaded DER file through the multipart form', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const der = privateKey.export({ type: 'pkcs1', format: 'der' });
    const body = new FormData();
    body.set('_csrf', f.csrf);
    body.set('source', 'import');
    body.set('name', 'uploaded');
    body.set('pem', '');
    body.set('file', new File([new Uint8Array(der)], 'server.der', { type: 'application/octet-stream' }));
    const res = await f.send('/keys', body);
    expect(res.status).toBe(201);
    const out = await f.download('/api/key/uploaded', inputValue(res.text, 'shown-key-1')!);
    expect(spkiOf(out.text)).toBe(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64'));
    expect((await findKeyByName(f.deps, 'uploaded'))!.type).toBe('rsa-2048');
  });

  it('show import errors next to the field, never echo the pasted key, and create nothing', async () => {
    const secretish = '-----BEGIN PRIVATE KEY-----\nTm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----';
    const bad = await f.send('/keys', form({ source: 'import', name: 'broken', pem: secretish }, f.csrf));
    expect(bad.status).toBe(400);
    expect(fieldError(bad.text, 'field-import-pem')).toBeTruthy();
    expect(bad.text).not.toContain('Tm90IGEga2V5IGF0IGFsbA');
    expect(inputValue(bad.text, 'field-import-name')).toBe('broken');
    expect(inputValue(bad.text, 'field-generate-name')).toBe(''); // the other form stays empty

    const empty = await f.send('/keys', form({ source: 'import', name: 'nothing', pem: '' }, f.csrf));
    expect(fieldError(empty.text, 'field-import-pem')).toBe('Paste a private key here, or choose a file below.');
    const both = new FormData();
    for (const [k, v] of Object.entries({ _csrf: f.csrf, source: 'import', name: 'both', pem: secretish })) both.set(k, v);
    both.set('file', new File(['x'], 'k.pem'));
    expect(fieldError((await f.send('/keys', both)).text, 'field-import-pem')).toBe('Paste the key or choose a file, not both.');

    const badName = await f.send('/keys', form({ source: 'generate', name: 'no spaces', type: 'dsa-1024' }, f.csrf));
    expect(badName.status).toBe(400);
    expect(fieldError(badName.text, 'field-generate-name')).toMatch(/^Letters, digits/);
    expect(fieldError(badName.text, 'field-generate-type')).toMatch(/^Expected one of ec-p256/);
    for (const name of ['broken', 'nothing', 'both', 'no spaces']) expect(await findKeyByName(f.deps, name)).toBeUndefined();

    await createKey(f.deps, BY_CLI, 'dup', { type: 'ec-p256' });
    const dup = await f.send('/keys', form({ source: 'generate', name: 'dup', type: 'ec-p256' }, f.csrf));
    expect(dup.status).toBe(409);
    expect(fieldError(dup.text, 'field-generate-name')).toBe('A key named "dup" already exists');
  });

  it('refuse a POST (url-encoded or multipart) without the session’s CSRF token', async () => {
    expect((await f.send('/keys', form({ source: 'generate', name: 'x1', type: 'ec-p256' }, 'forged'))).status).toBe(403);
    const multipart = new FormData();
    multipart.set('source', 'generate');
    multipart.set('name', 'x2');
    expect((await f.send('/keys', multipart)).status).toBe(403);
    await createKey(f.deps, BY_CLI, 'kept', { type: 'ec-p256' });
    expect((await f.send('/keys/kept/delete', form({}, 'forged'))).status).toBe(403);
    expect((await f.send('/keys/kept/api-keys/1', form({}, null))).status).toBe(403);
    expect(await findKeyByName(f.deps, 'x1')).toBeUndefined();
    expect(await findKeyByName(f.deps, 'x2')).toBeUndefined();
    expect(await findKeyByName(f.deps, 'kept')).toBeDefined();
  });

  it('list keys with the certificates that use them, and refuse to delete a used key in words', async () => {
    await createCertificate(f.deps, BY_CLI, { name: 'site', domains: ['site.example.com'], challenge: 'http-01' });
    await createKey(f.deps, BY_CLI, 'loose', { type: 'ec-p256' });
    const list = await f.get('/keys');
    expect(list.text).toMatch(/<a href="\/keys\/site">site<\/a><\/td><td data-label="Type">EC P-256<\/td><td data-label="Created" class="nowrap">[^<]+<\/td><td data-label="Used by"><a href="\/certificates\/site">site<\/a>/);
    expect(list.text).toMatch(/<a href="\/keys\/loose">loose<\/a>.*unused/);

    const confirm = await f.get('/keys/site/delete');
    expect(confirm.text).toContain('It cannot be deleted while certificates use it.');
    expect(confirm.text).not.toContain('Delete the key'); // no button that can only fail
    const refused = await f.send('/keys/site/delete', form({}, f.csrf));
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('The key cannot be deleted: the certificate site uses it. Give it another key first.');
    expect(await findKeyByName(f.deps, 'site')).toBeDefined();

    const deleted = await f.send('/keys/loose/delete', form({}, f.csrf));
    expect(deleted.status).toBe(303);
    expect(deleted.headers.get('location')).toBe('/keys?notice=deleted');
    expect(await findKeyByName(f.deps, 'loose')).toBeUndefined();
    expect((await f.get('/keys?notice=deleted')).text).toContain('The key was deleted.');
  });

  it('replace one API key: shown once, the new one works, the old one does not', async () => {
    const made = await createKey(f.deps, BY_CLI, 'rot', { type: 'ec-p256' });
    const res = await f.send('/keys/rot/api-keys/1', form({}, f.csrf));
    expect(res.status).toBe(200);
    const fresh = inputValue(res.text, 'shown-key-1')!;
    expect((await f.download('/api/key/rot', fresh)).status).toBe(200);
    expect((await f.download('/api/key/rot', made.apiKeys[0])).status).toBe(401);
    expect((await f.download('/api/key/rot', made.apiKeys[1])).status).toBe(200);
  });

  it('answer an unknown key with a page that says so', async () => {
    const res = await f.get('/keys/none');
    expect(res.status).toBe(404);
    expect(res.text).toContain('There is no key named “none”.');
  });
});
