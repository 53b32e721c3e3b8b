// IP allow-lists (SPEC §1, §2) on both hosts: the admin API and the download API each follow
// their own list; the challenge path, /healthz and Certera's /api/test are open to everyone.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS } from '../harness/hosts.ts';
import { startWorld, type World } from '../harness/world.ts';

for (const kind of HOST_KINDS) {
  describePebble(`allow-lists on the ${kind} host`, () => {
    let world: World;
    // Node host: the test's connections come from 127.0.0.1, so allow only a range that excludes
    // it for the download API. Worker: the client address is CF-Connecting-IP, which the test sets.
    const env: Record<string, string> =
      kind === 'node'
        ? { CERTKEEP_ALLOW_ADMIN: '127.0.0.0/8', CERTKEEP_ALLOW_API: '192.0.2.0/24' }
        : { ALLOW_ADMIN: '127.0.0.1, 2001:db8::/32', ALLOW_API: '192.0.2.0/24' };
    const from = (ip: string): Record<string, string> => (kind === 'worker' ? { 'cf-connecting-ip': ip } : {});

    beforeAll(async () => {
      world = await startWorld(kind, { host: { env } });
    });
    afterAll(async () => world?.stop());

    it('refuses the download API from an address outside CERTKEEP_ALLOW_API with 403', async () => {
      const res = await fetch(`${world.host.baseUrl}/api/certificate/anything`, { headers: { apikey: 'x', ...from('127.0.0.1') } });
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      // The path in any case (Certera's clients) is the download API too, never the admin interface
      // that this address may use.
      for (const path of ['/API/Certificate/anything', '/Api/Key/anything']) {
        const cased = await fetch(`${world.host.baseUrl}${path}`, { headers: { apikey: 'x', ...from('127.0.0.1') } });
        expect(cased.status, path).toBe(403);
        expect((await cased.json()).detail).toBe('this address is not allowed to use the download API');
      }
    });

    it('lets the admin API through from an allowed address', async () => {
      const res = await fetch(`${world.host.baseUrl}/api/v1/certificates`, { headers: { authorization: `Bearer ${world.api.token}`, ...from('127.0.0.1') } });
      expect(res.status).toBe(200);
    });

    it('keeps /healthz and the challenge path open', async () => {
      expect((await fetch(`${world.host.baseUrl}/healthz`, { headers: from('198.51.100.7') })).status).toBe(200);
      expect((await fetch(`${world.host.baseUrl}/.well-known/acme-challenge/${'A'.repeat(43)}`, { headers: from('198.51.100.7') })).status).toBe(404);
      // Certera's connectivity check is open as it was in Certera.
      expect((await fetch(`${world.host.baseUrl}/api/test`, { headers: from('198.51.100.7') })).status).toBe(200);
    });

    if (kind === 'worker') {
      it('follows CF-Connecting-IP on the Worker, IPv6 included', async () => {
        const admin = (ip: string) => fetch(`${world.host.baseUrl}/api/v1/certificates`, { headers: { authorization: `Bearer ${world.api.token}`, 'cf-connecting-ip': ip } });
        expect((await admin('198.51.100.7')).status).toBe(403);
        expect((await admin('2001:db8::42')).status).toBe(200);
        expect((await admin('2001:db9::42')).status).toBe(403);
        const api = await fetch(`${world.host.baseUrl}/api/certificate/anything`, { headers: { apikey: 'x', 'cf-connecting-ip': '192.0.2.10' } });
        expect(api.status).toBe(401); // past the allow-list, refused for the key
      });
    }
  });
}
