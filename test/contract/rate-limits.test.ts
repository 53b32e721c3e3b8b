// The CA's rate limits (SPEC §7), on both hosts, against Pebble behind a proxy that can answer in
// the CA's place (test/harness/ca-proxy.ts):
//   - a `rateLimited` 429 with Retry-After pauses the account's new orders: the pause is on the
//     certificate and the account, a forced order is refused, and nothing asks the CA again
//     while it lasts — however often the scheduler runs; once it is over, the orders resume
//     and every certificate is obtained;
//   - pacing (`maxOrdersPerHour` on the account) places no more orders than that in an hour, and
//     the waiting certificates go as soon as the limit is raised.
// Pebble 2.4.0 never rate-limits by itself: the proxy's 429 stands for the CA's.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS } from '../harness/hosts.ts';
import { startCaProxy, type CaProxy, type Exchange } from '../harness/ca-proxy.ts';
import { setupBody, startWorld, type World } from '../harness/world.ts';

const RATE_LIMITED = {
  type: 'urn:ietf:params:acme:error:rateLimited',
  detail: 'too many new orders recently: retry after 2 minutes (test)',
  status: 429,
};

const newOrderAttempts = (exchanges: Exchange[]) => exchanges.filter((e) => e.method === 'POST' && e.path.endsWith('/order-plz')).length;

async function until<T>(what: string, probe: () => Promise<T | undefined>, world: World, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${world.host.logs().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

for (const kind of HOST_KINDS) {
  describePebble(`the CA's rate limits on the ${kind} host`, () => {
    let world: World;
    let proxy: CaProxy;
    beforeAll(async () => {
      world = await startWorld(kind, { setup: false, host: { env: kind === 'node' ? { CERTKEEP_TICK_SECONDS: '0.5' } : {} } });
      proxy = await startCaProxy(world.pebble.directoryUrl);
      const res = await world.api.post('/api/v1/setup', { ...setupBody(world.pebble), acme: { directoryUrl: proxy.directoryUrl, termsOfServiceAgreed: true } }, world.host.setupHeaders);
      expect(res.status).toBe(201);
      world.api.token = res.body.token;
    });
    afterAll(async () => {
      await world?.stop();
      await proxy?.stop();
    });

    const certificate = async (name: string) => (await world.api.get(`/api/v1/certificates/${name}`)).body;

    it('pauses new orders while the CA says rateLimited, asks nothing meanwhile, and resumes after', async () => {
      let limiting = true;
      proxy.respondInstead = (r) =>
        limiting && r.method === 'POST' && r.path.endsWith('/order-plz')
          ? { status: 429, headers: { 'content-type': 'application/problem+json', 'retry-after': '120' }, body: JSON.stringify(RATE_LIMITED) }
          : undefined;
      const names = [world.name('rl'), world.name('rl'), world.name('rl')];
      const before = newOrderAttempts(proxy.exchanges);
      for (const name of names) expect((await world.api.post('/api/v1/certificates', { name, domains: [world.domain()] })).status).toBe(201);

      // The first refusal pauses the account; its problem is the certificate's last error.
      const paused = await until('the pause', async () => (await world.api.get('/api/v1/accounts/default')).body.pause ?? undefined, world);
      expect(Date.parse(paused.until) - Date.now()).toBeGreaterThan(100_000);
      expect(paused.problem).toMatchObject({ type: RATE_LIMITED.type });
      const refused = await until('a refused certificate', async () => {
        for (const name of names) {
          const c = await certificate(name);
          if (c.lastError) return c;
        }
        return undefined;
      }, world);
      expect(refused.lastError.type).toBe(RATE_LIMITED.type);

      // However often the scheduler runs now, the CA is not asked again; a forced order is refused.
      await until('the orders in flight to end', async () => ((await Promise.all(names.map(certificate))).some((c) => c.status === 'pending' && !c.lastError) ? undefined : true), world);
      // Every certificate of the account shows the pause (orders refused at the same moment may
      // each have extended it a little); the refused ones wait for it.
      const pause = (await world.api.get('/api/v1/accounts/default')).body.pause;
      for (const name of names) {
        const c = await certificate(name);
        expect(c.caPause).toMatchObject({ until: pause.until, problem: { type: RATE_LIMITED.type } });
        if (c.lastError) expect(Math.abs(Date.parse(c.nextAttemptAt) - Date.parse(pause.until))).toBeLessThan(5000);
      }
      const attempts = newOrderAttempts(proxy.exchanges) - before;
      expect(attempts).toBeGreaterThanOrEqual(1);
      expect(attempts).toBeLessThanOrEqual(names.length);
      for (let i = 0; i < 4; i++) await world.host.tick();
      const forced = await world.api.post(`/api/v1/certificates/${names[0]}/issue?wait=true`);
      expect(forced.status).toBe(409);
      expect(forced.body.detail).toMatch(/pause/);
      expect(newOrderAttempts(proxy.exchanges) - before).toBe(attempts);

      // The pause ends (the clock moved two minutes on) and the CA answers again: all are obtained.
      limiting = false;
      const past = Date.now() - 1000;
      await world.host.sql('update acme_accounts set paused_until = ? where paused_until is not null', past);
      await world.host.sql('update certificates set next_attempt_at = ? where next_attempt_at is not null', past);
      await until('all certificates', async () => {
        await world.host.tick();
        const all = await Promise.all(names.map(certificate));
        return all.every((c) => c.status === 'valid') ? all : undefined;
      }, world, 60_000);
      expect((await world.api.get('/api/v1/accounts/default')).body.pause).toBeNull();
      for (const name of names) {
        const orders = (await world.api.get(`/api/v1/certificates/${name}/orders`)).body.items as Array<{ state: string }>;
        expect(orders.filter((o) => o.state === 'done')).toHaveLength(1);
      }
    });

    it('paces new orders to maxOrdersPerHour, and lets the rest go when the limit is raised', async () => {
      proxy.respondInstead = undefined;
      await world.host.sql('update acme_accounts set paused_until = null, pause_problem = null');
      expect((await world.api.request('PATCH', '/api/v1/accounts/default', { maxOrdersPerHour: 0 })).body.field).toBe('maxOrdersPerHour');
      expect((await world.api.request('PATCH', '/api/v1/accounts/default', { maxOrdersPerHour: 'ten' })).body.field).toBe('maxOrdersPerHour');
      // The orders of the test before count towards this hour: allow two more.
      const placed = Number((await world.host.sql('select count(*) as n from orders where created_at > ?', Date.now() - 3_600_000))[0].n);
      const paced = await world.api.request('PATCH', '/api/v1/accounts/default', { maxOrdersPerHour: placed + 2 });
      expect(paced.status).toBe(200);
      expect(paced.body.maxOrdersPerHour).toBe(placed + 2);

      const before = newOrderAttempts(proxy.exchanges);
      const names = Array.from({ length: 5 }, () => world.name('paced'));
      for (const name of names) expect((await world.api.post('/api/v1/certificates', { name, domains: [world.domain()] })).status).toBe(201);
      await until('two certificates', async () => ((await Promise.all(names.map(certificate))).filter((c) => c.status === 'valid').length === 2 ? true : undefined), world);
      for (let i = 0; i < 4; i++) await world.host.tick();
      const states = await Promise.all(names.map(certificate));
      expect(states.filter((c) => c.status === 'valid')).toHaveLength(2);
      expect(states.filter((c) => c.status === 'new')).toHaveLength(3);
      expect(newOrderAttempts(proxy.exchanges) - before).toBe(2);

      // No limit: the three waiting ones are ordered at once.
      expect((await world.api.request('PATCH', '/api/v1/accounts/default', { maxOrdersPerHour: null })).body.maxOrdersPerHour).toBeNull();
      await until('all five', async () => ((await Promise.all(names.map(certificate))).every((c) => c.status === 'valid') ? true : undefined), world);
      expect(newOrderAttempts(proxy.exchanges) - before).toBe(5);
    });
  });
}
