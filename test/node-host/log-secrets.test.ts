// A debug-level log of a full cycle holds no secret: no private key, account JWK, API key, admin
// token, password, master key or DNS provider secret (node host: its log is the process's stdout).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { issueCertificate, startWorld, type World } from '../harness/world.ts';
import { startDnsWebhook, type DnsWebhook } from '../harness/dns-helpers.ts';
import type { NodeHostUnderTest } from '../harness/hosts.ts';

describePebble('secrets stay out of the debug log', () => {
  let world: World;
  let hook: DnsWebhook;
  beforeAll(async () => {
    world = await startWorld('node', { host: { env: { CERTKEEP_LOG_LEVEL: 'debug' } } });
    hook = await startDnsWebhook(world.pebble);
  });
  afterAll(async () => {
    await hook?.stop();
    await world?.stop();
  });

  it('logs a whole cycle at debug level without any secret in it', async () => {
    const secrets: string[] = [world.api.token!, 'correct horse battery staple', hook.secret, 'pfx-pass-9876'];
    const host = world.host as NodeHostUnderTest;
    secrets.push(readFileSync(join(host.dataDir, 'master.key'), 'utf8').trim());

    expect((await world.api.post('/api/v1/dns-providers', { name: 'hook', type: 'webhook', url: hook.url, secret: hook.secret })).status).toBe(201);
    const http01 = await issueCertificate(world, { name: world.name(), domains: [world.domain()] });
    const dns01 = await issueCertificate(world, { name: world.name(), domains: [`*.${world.domain()}`], challenge: 'dns-01', dnsProvider: 'hook' });
    for (const made of [http01.created, dns01.created]) {
      secrets.push(...made.apiKeys, ...made.key.apiKeys);
      const cert = await fetch(`${host.baseUrl}/api/certificate/${made.name}?format=pfx&pfxPassword=pfx-pass-9876`, { headers: { apikey: made.apiKeys[0] } });
      expect(cert.status).toBe(200);
      const key = await (await fetch(`${host.baseUrl}/api/key/${made.key.name}`, { headers: { apikey: made.key.apiKeys[0] } })).text();
      // Every base64 line of the private key, each long enough to be unmistakable.
      secrets.push(...key.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----')));
      secrets.push((await world.api.post(`/api/v1/certificates/${made.name}/api-keys/1`)).body.apiKey);
    }
    secrets.push((await world.api.post('/api/v1/tokens', { name: 'more' })).body.token);
    expect((await world.api.post('/api/v1/accounts/default/key-rollover', {})).status).toBe(200);
    await fetch(`${host.baseUrl}/api/v1/certificates`, { headers: { authorization: 'Bearer ckt_wrongwrongwrongwrongwrongwrongwrong' } });

    const log = host.logs();
    // There is a log to look at: every request, at debug level.
    expect(log).toMatch(/"level":"debug","msg":"request","method":"GET","path":"\/api\/certificate\//);
    expect(log).toMatch(/certificate obtained/);
    for (const secret of secrets) expect(log.includes(secret), `a secret of ${secret.length} characters is in the log`).toBe(false);
    expect(log).not.toMatch(/PRIVATE KEY/);
    expect(log).not.toMatch(/"d":"/); // a private JWK member
    expect(log).not.toMatch(/ck[tcka]_[A-Za-z0-9_-]{32}/);
  });
});
