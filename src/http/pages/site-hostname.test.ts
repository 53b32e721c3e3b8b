// The address the pages' curl commands name: the site hostname over HTTPS (on the configured
// HTTPS port), never the address the admin happens to browse; without a hostname a placeholder
// and a sentence saying it must be set, with the place to set it (Settings, or PUT
// /api/v1/settings). Through the app in this process on a libSQL file, no CA needed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCertificate, findCertificateByName } from '../../domain/certificates.ts';
import { createKey } from '../../domain/keys.ts';
import { siteHostnameOf } from '../../domain/setup.ts';
import { createAdminToken } from '../../domain/tokens.ts';
import { PAGE_ORIGIN, signedInPageApp, type PageApp } from '../../../test/harness/page-app.ts';
import { decode, fieldErrorText } from '../../../test/harness/markup.ts';
import { HOSTNAME_PLACEHOLDER } from '../../../templates/secrets.ts';
import { BY_CLI } from '../../domain/audit.ts';

let f: PageApp;
beforeEach(async () => {
  f = await signedInPageApp('site-hostname');
  await createCertificate(f.deps, BY_CLI, { name: 'www', domains: ['www.example.com'], challenge: 'http-01' });
  await createKey(f.deps, BY_CLI, 'spare', { type: 'ec-p256' });
});
afterEach(() => f.close());

const post = (path: string, fields: Record<string, string>) =>
  f.call(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...fields, _csrf: f.csrf }).toString() });

/** The URLs of the curl lines on a page. */
async function commandUrls(path: string): Promise<string[]> {
  const page = await f.call(path);
  expect(page.status).toBe(200);
  return [...decode(page.text).matchAll(/curl -s -H "apikey: [^"]+" (\S+) >/g)].map((m) => m[1]);
}

describe('the curl commands of the certificate and key pages', () => {
  it('without a hostname: a placeholder and the sentence that it must be set, never the browsed address', async () => {
    expect(await commandUrls('/certificates/www')).toEqual([`${HOSTNAME_PLACEHOLDER}/api/certificate/www`, `${HOSTNAME_PLACEHOLDER}/api/key/www`]);
    expect(await commandUrls('/keys/spare')).toEqual([`${HOSTNAME_PLACEHOLDER}/api/key/spare`]);
    const page = await f.call('/certificates/www');
    expect(decode(page.text)).toContain("This server's hostname is not set");
    expect(page.text).toContain('<a href="/settings#hostname">Settings</a>');
    expect(page.text).not.toContain(PAGE_ORIGIN);
    const settings = await f.call('/settings');
    expect(settings.text).toContain('<strong>No hostname is set.</strong>');
    expect(settings.text).toContain('id="hostname"');
  });

  it('with the hostname set in Settings: https://<hostname>, with the HTTPS port when it is not 443', async () => {
    const res = await post('/settings/hostname', { hostname: ' Certkeep.Example.COM ' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/settings?done=hostname');
    expect(await siteHostnameOf(f.deps)).toBe('certkeep.example.com');
    // The site certificate is made for it, due at once like any new certificate.
    expect(JSON.parse((await findCertificateByName(f.deps, 'site'))!.domains)).toEqual(['certkeep.example.com']);
    expect(await commandUrls('/certificates/www')).toEqual(['https://certkeep.example.com/api/certificate/www', 'https://certkeep.example.com/api/key/www']);
    expect(decode((await f.call('/keys/spare')).text)).not.toContain("hostname is not set");
    f.deps.httpsListenPort = 8443;
    expect(await commandUrls('/keys/spare')).toEqual(['https://certkeep.example.com:8443/api/key/spare']);
    // The commands shown once, with a fresh key, too.
    const rotated = await post('/keys/spare/api-keys/1', {});
    expect(decode(rotated.text)).toMatch(/curl -s -H "apikey: ckk_[A-Za-z0-9_-]{32}" https:\/\/certkeep\.example\.com:8443\/api\/key\/spare > spare\.key/);
    // Settings says where the server is reached; a new name moves the site certificate.
    expect(decode((await f.call('/settings?done=hostname')).text)).toContain('Other machines reach Certkeep at <code>https://certkeep.example.com:8443</code>');
    expect((await post('/settings/hostname', { hostname: 'ck.example.net' })).status).toBe(303);
    expect(JSON.parse((await findCertificateByName(f.deps, 'site'))!.domains)).toEqual(['ck.example.net']);
  });

  it('refuse a hostname that is not one DNS name next to its field, and make nothing', async () => {
    for (const [typed, message] of [['', /^Enter the name/], ['*.example.com', /wildcard/], ['not a name', /./], ['https://ck.example.com/', /^Only the name, without https:\/\//], ['ck.example.com:8443', /without https:\/\/ or a port/]] as const) {
      const res = await post('/settings/hostname', { hostname: typed });
      expect(res.status, typed).toBe(400);
      expect(fieldErrorText(res.text, 'field-hostname'), typed).toMatch(message);
      expect(res.text).toContain(`value="${typed}"`);
    }
    expect(await findCertificateByName(f.deps, 'site')).toBeUndefined();
    expect(await siteHostnameOf(f.deps)).toBeNull();
  });
});

describe('PUT /api/v1/settings {"hostname"}', () => {
  const api = async (method: string, body?: unknown) => {
    const token = await createAdminToken(f.deps, BY_CLI, 'test');
    const res = await f.app.fetch(
      new Request(`${PAGE_ORIGIN}/api/v1/settings`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) }),
      { clientIp: '127.0.0.1', secure: false, waitUntil: () => {} },
    );
    return { status: res.status, body: await res.json() };
  };

  it('sets the hostname as the page does, and GET reads it', async () => {
    expect((await api('GET')).body.hostname).toBeNull();
    const set = await api('PUT', { hostname: 'certkeep.example.com' });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ hostname: 'certkeep.example.com', siteCertificate: 'site' });
    expect(await commandUrls('/keys/spare')).toEqual(['https://certkeep.example.com/api/key/spare']);
  });

  it('refuses a bad hostname with a problem naming the field, changing nothing (not even renewDays)', async () => {
    const res = await api('PUT', { hostname: '*.example.com', renewDays: 20 });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('hostname');
    expect((await api('GET')).body).toMatchObject({ hostname: null, renewDays: null });
  });

  it('is refused on a Worker, which is reached at the address Cloudflare serves it on', async () => {
    f.deps.runtime = 'worker';
    const res = await api('PUT', { hostname: 'certkeep.example.com' });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('hostname');
    // And its pages name the address they are served on.
    expect(await commandUrls('/keys/spare')).toEqual([`${PAGE_ORIGIN}/api/key/spare`]);
  });
});
