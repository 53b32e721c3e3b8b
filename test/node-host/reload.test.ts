// SIGHUP on a running node host (what `systemctl reload certkeep` sends): config.json is read
// again and what may change while running is applied at once — the download allow-list (also for
// downloads answered from memory), the log level — while settings that need
// a restart are named in the log and left as they are; a config.json that does not parse changes
// nothing. A certificate from Pebble, so that its download is one the host keeps in memory.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { startWorld, issueCertificate, type World } from '../harness/world.ts';
import type { NodeHostUnderTest } from '../harness/hosts.ts';

describePebble('reload on SIGHUP', () => {
  let world: World;
  let host: NodeHostUnderTest;

  beforeAll(async () => {
    // No log level from the environment, which would win over config.json.
    world = await startWorld('node', { host: { env: { CERTKEEP_LOG_LEVEL: '', CERTKEEP_BACKUP_HOURS: '0' } } });
    host = world.host as NodeHostUnderTest;
  });
  afterAll(async () => world?.stop());

  const count = (pattern: string) => host.logs().split('\n').filter((line) => line.includes(pattern)).length;

  /** Writes config.json, sends SIGHUP, and waits for the log line that says how it went. */
  async function reload(config: string, outcome: 'settings reloaded' | 'settings not reloaded'): Promise<void> {
    writeFileSync(join(host.dataDir, 'config.json'), config);
    const before = count(`"msg":"${outcome}`);
    process.kill(host.process.pid, 'SIGHUP');
    const deadline = Date.now() + 10_000;
    while (count(`"msg":"${outcome}`) === before) {
      if (Date.now() > deadline) throw new Error(`no "${outcome}" after SIGHUP:\n${host.logs().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('applies the allow-lists and the log level at once, names what needs a restart, and keeps everything on a bad file', async () => {
    const name = world.name('reload');
    const { created } = await issueCertificate(world, { name, domains: [world.domain()] });
    const download = () => fetch(`${host.baseUrl}/api/certificate/${name}`, { headers: { apikey: created.apiKeys[0] } });
    const first = await download();
    expect(first.status).toBe(200);
    const pem = await first.text();
    expect(count('"msg":"request"')).toBe(0); // info level: requests are not logged

    // Debug on: the next download is logged as a request.
    await reload(JSON.stringify({ CERTKEEP_LOG_LEVEL: 'debug' }), 'settings reloaded');
    expect(await (await download()).text()).toBe(pem);
    expect(count(`"path":"/api/certificate/${name}","status":200`)).toBe(1);

    // The download allow-list shrinks: the very next download is refused, memory or not.
    const smtp = { CERTKEEP_SMTP_URL: 'smtp://mail.example.com:25', CERTKEEP_SMTP_FROM: 'certkeep@example.com' };
    await reload(JSON.stringify({ CERTKEEP_ALLOW_API: '10.0.0.0/8', CERTKEEP_LOG_LEVEL: 'info', ...smtp }), 'settings reloaded');
    expect((await download()).status).toBe(403);
    expect((await world.api.get(`/api/v1/certificates/${name}`)).status).toBe(200); // the admin list did not change
    expect(host.logs()).toMatch(/"msg":"changed settings take effect only after a restart","settings":\["CERTKEEP_SMTP_URL\/CERTKEEP_SMTP_FROM"\]/);
    const requests = count('"msg":"request"');
    await download();
    expect(count('"msg":"request"')).toBe(requests); // back at info

    await reload('{ "CERTKEEP_ALLOW_API": ', 'settings not reloaded');
    expect((await download()).status).toBe(403);

    await reload('{}', 'settings reloaded');
    const again = await download();
    expect(again.status).toBe(200);
    expect(await again.text()).toBe(pem);
  });

  it('passes the log level on to the orders thread', async () => {
    // The scheduler runs in its own thread (node-host/orders-thread.ts), which logs through this one.
    const obtain = async (name: string) => {
      expect((await world.api.post('/api/v1/certificates', { name, domains: [world.domain()] })).status).toBe(201);
      await expect.poll(async () => (await world.api.get(`/api/v1/certificates/${name}`)).body.status, { timeout: 20_000 }).toBe('valid');
    };
    const quiet = world.name('quiet');
    await obtain(quiet);
    expect(count('"msg":"scheduled order ended"')).toBe(0); // info level

    await reload(JSON.stringify({ CERTKEEP_LOG_LEVEL: 'debug' }), 'settings reloaded');
    const loud = world.name('loud');
    await obtain(loud);
    const [{ id }] = await host.sql('select id from certificates where name = ?', loud);
    const line = `"level":"debug","msg":"scheduled order ended","certificateId":"${id}","reason":"new","outcome":"obtained"`;
    await expect.poll(() => host.logs().includes(line)).toBe(true);
    await reload('{}', 'settings reloaded');
  });
});
