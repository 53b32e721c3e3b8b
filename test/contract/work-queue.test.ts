// The scheduler as a work queue (SPEC §7), on both hosts, against Pebble: a certificate created
// through the API is ordered within a second or two — no tick is awaited (the node host's tick is
// 60 s here, the default; the Worker's cron is never run) — and every order that ends refills
// its slot from the due list at once, so a batch larger than the concurrency drains without
// waiting for ticks.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS } from '../harness/hosts.ts';
import { startWorld, waitUntilValid, type World } from '../harness/world.ts';

const CONCURRENCY = 2;

for (const kind of HOST_KINDS) {
  describePebble(`the work queue on the ${kind} host`, () => {
    let world: World;
    beforeAll(async () => {
      const env: Record<string, string> = kind === 'node' ? { CERTKEEP_TICK_SECONDS: '60', CERTKEEP_CONCURRENCY: String(CONCURRENCY) } : { CONCURRENCY: String(CONCURRENCY) };
      world = await startWorld(kind, { host: { env } });
    });
    afterAll(async () => world?.stop());

    it('starts the order of a new certificate at once, without a tick', async () => {
      const name = world.name();
      const created = await world.api.post('/api/v1/certificates', { name, domains: [world.domain(), world.domain()] });
      expect(created.status).toBe(201);
      // The node host's next tick is a minute away; the Worker's cron is not run at all.
      const ms = await waitUntilValid(world, [name], 20_000);
      expect(ms).toBeLessThan(20_000);
      const orders = await world.api.get(`/api/v1/certificates/${name}/orders`);
      expect(orders.body.items.map((o: { reason: string; state: string }) => [o.reason, o.state])).toEqual([['new', 'done']]);
    });

    it(`drains a batch of ${4 * CONCURRENCY} with ${CONCURRENCY} in flight, refilling each freed slot from the due list`, async () => {
      const names = Array.from({ length: 4 * CONCURRENCY }, () => world.name('q'));
      for (const name of names) {
        expect((await world.api.post('/api/v1/certificates', { name, domains: [world.domain()] })).status).toBe(201);
      }
      await waitUntilValid(world, names, 45_000);
      // One order each, and (node host) never more than CONCURRENCY at once: at the start of
      // each order, at most CONCURRENCY orders are running. (On the Worker the limit is per
      // invocation: each request that created a certificate may run its own.)
      const spans: Array<[number, number]> = [];
      for (const name of names) {
        const orders = (await world.api.get(`/api/v1/certificates/${name}/orders`)).body.items as Array<{ createdAt: string; finishedAt: string }>;
        expect(orders).toHaveLength(1);
        spans.push([Date.parse(orders[0].createdAt), Date.parse(orders[0].finishedAt)]);
      }
      if (kind === 'node') {
        for (const [start] of spans) {
          const running = spans.filter(([s, e]) => s <= start && start < e).length;
          expect(running).toBeLessThanOrEqual(CONCURRENCY);
        }
      }
    });
  });
}
