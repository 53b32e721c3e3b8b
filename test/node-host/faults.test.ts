// Faults, proved on the node host (real processes, real Pebble): kill -9 at each step of an
// order, two hosts on one database, and a CA outage in the middle of a batch.
//
// A TLS-terminating proxy sits between the hosts and Pebble (test/harness/ca-proxy.ts): it
// counts the orders the CA really received, kills the host right after the CA answered a given
// request, and cuts the CA off and back on.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble, startPebble, type Pebble } from '../harness/pebble.ts';
import { startCaProxy, type CaProxy, type Exchange } from '../harness/ca-proxy.ts';
import { freePort } from '../harness/ports.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { startNodeHost, type NodeHostUnderTest } from '../harness/hosts.ts';
import { AdminClient, setupBody } from '../harness/world.ts';

interface Site {
  pebble: Pebble;
  proxy: CaProxy;
  httpPort: number;
  dataDir: string;
  api: AdminClient;
  hosts: NodeHostUnderTest[];
  stop(): Promise<void>;
}

async function startSite(env: Record<string, string> = {}): Promise<Site> {
  const httpPort = await freePort();
  const pebble = await startPebble({ httpPort });
  const proxy = await startCaProxy(pebble.directoryUrl);
  const dataDir = makeTempDir('faults-');
  const host = await startNodeHost({ httpPort, dataDir, env });
  const api = new AdminClient(host.baseUrl);
  const res = await api.post('/api/v1/setup', { ...setupBody(pebble), acme: { directoryUrl: proxy.directoryUrl, termsOfServiceAgreed: true } });
  if (res.status !== 201) throw new Error(`setup failed: ${res.text}`);
  api.token = res.body.token;
  const site: Site = {
    pebble,
    proxy,
    httpPort,
    dataDir,
    api,
    hosts: [host],
    async stop() {
      await Promise.allSettled(site.hosts.map((h) => h.stop()));
      await proxy.stop();
      await pebble.stop();
    },
  };
  return site;
}

const newOrders = (exchanges: Exchange[]) => exchanges.filter((e) => e.method === 'POST' && e.path.endsWith('/order-plz') && e.status === 201).length;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const CRASH_POINTS: Array<[string, (e: Exchange) => boolean]> = [
  ['after newOrder', (e) => e.path.endsWith('/order-plz') && e.status === 201],
  // See the test: the host is held (its next request to the CA is not answered) until Pebble has
  // validated what it answered, then killed — a host that dies before the CA could validate
  // fails the authorization for good, and no client can save that order.
  ['after answering the challenges', (e) => e.path.includes('/chalZ/') && e.status === 200],
  ['after finalize', (e) => e.path.includes('/finalize-order/') && e.status === 200],
  // The download is the last network call before the database commit: killing the host as the
  // CA's answer arrives is both "after download" and "before the commit".
  ['after download, before the database commit', (e) => e.path.includes('/certZ/') && e.status === 200],
];

describePebble('kill -9 during an order, then restart', () => {
  for (const [label, crashWhen] of CRASH_POINTS) {
    it.concurrent(`obtains the certificate with one order when killed ${label}`, async () => {
      const site = await startSite({ CERTKEEP_TICK_SECONDS: '0.5' });
      try {
        const [first] = site.hosts;
        let killed = false;
        const kill = () => {
          if (killed) return;
          killed = true;
          process.kill(first.process.pid, 'SIGKILL');
        };
        if (label.includes('challenges')) {
          let answered = 0;
          site.proxy.onExchange = (e) => void (crashWhen(e) && answered++);
          site.proxy.beforeForward = async (r) => {
            if (answered < 2 || !r.path.includes('/authZ/')) return true;
            await new Promise((resolve) => setTimeout(resolve, 500)); // Pebble validates meanwhile
            kill();
            return false;
          };
        } else {
          site.proxy.onExchange = (e) => void (crashWhen(e) && kill());
        }
        const name = 'crash';
        const stamp = Date.now().toString(36);
        const created = await site.api.post('/api/v1/certificates', { name, domains: [`a-${stamp}.example.com`, `b-${stamp}.example.com`] });
        expect(created.status).toBe(201);
        expect(await first.process.exited).toBeNull(); // killed by the signal
        expect(killed).toBe(true);

        // Restart on the same data and port; the dead host's lease expires within 30 s.
        const second = await startNodeHost({ httpPort: site.httpPort, dataDir: site.dataDir, env: { CERTKEEP_TICK_SECONDS: '0.5' } });
        site.hosts.push(second);
        const cert = await waitFor(
          'the certificate',
          async () => {
            const res = await site.api.get(`/api/v1/certificates/${name}`);
            return res.body.status === 'valid' ? res.body : undefined;
          },
          60_000,
        );
        expect(cert.serial).toMatch(/^[0-9a-f]+$/);
        expect(newOrders(site.proxy.exchanges)).toBe(1);
        const orders = await site.api.get(`/api/v1/certificates/${name}/orders`);
        expect(orders.body.items).toHaveLength(1);
        expect(orders.body.items[0].state).toBe('done');
      } finally {
        await site.stop();
      }
    }, 120_000);
  }
});

describePebble('two node hosts on one libSQL file', () => {
  let site: Site;
  beforeAll(async () => {
    site = await startSite({ CERTKEEP_TICK_SECONDS: '1' });
    // The second host shares the database and the master key; only the first listens on the
    // port Pebble validates, and it answers for both (the tokens are in the shared database).
    site.hosts.push(await startNodeHost({ dataDir: site.dataDir, env: { CERTKEEP_TICK_SECONDS: '1' } }));
  });
  afterAll(async () => site?.stop());

  it('obtains 30 new certificates with exactly one order each', async () => {
    const stamp = Date.now().toString(36);
    const names = Array.from({ length: 30 }, (_, i) => `shared-${i}`);
    for (const [i, name] of names.entries()) {
      const api = i % 2 ? new AdminClient(site.hosts[1].baseUrl, site.api.token) : site.api;
      expect((await api.post('/api/v1/certificates', { name, domains: [`s${i}-${stamp}.example.com`, `t${i}-${stamp}.example.com`] })).status).toBe(201);
    }
    await waitFor(
      '30 valid certificates',
      async () => {
        const list = await site.api.get('/api/v1/certificates');
        return list.body.items.filter((c: { status: string }) => c.status === 'valid').length === 30 ? true : undefined;
      },
      90_000,
    );
    for (const name of names) {
      const orders = await site.api.get(`/api/v1/certificates/${name}/orders`);
      // On failure, the orders themselves (state, error, log) say why there was a second one.
      expect(orders.body.items, `${name}: ${JSON.stringify(orders.body)}`).toHaveLength(1);
    }
    expect(newOrders(site.proxy.exchanges)).toBe(30);
    // Nobody hit a locked database, and nobody waited for a lease of the other host to expire.
    for (const host of site.hosts) {
      expect(host.logs()).not.toMatch(/SQLITE_BUSY|database is locked/);
      expect(host.logs()).not.toMatch(/"msg":"resuming order"/);
    }
    // Both hosts did some of the work.
    const worked = site.hosts.map((h) => (h.logs().match(/"msg":"certificate obtained"/g) ?? []).length);
    expect(worked[0] + worked[1]).toBe(30);
    expect(worked[0]).toBeGreaterThan(0);
    expect(worked[1]).toBeGreaterThan(0);
  }, 120_000);
});

describePebble('a CA outage in the middle of a batch', () => {
  let site: Site;
  beforeAll(async () => {
    site = await startSite({ CERTKEEP_TICK_SECONDS: '0.5', CERTKEEP_CONCURRENCY: '2' });
  });
  afterAll(async () => site?.stop());

  it('backs off with lastError while the CA is gone, keeps serving, and completes the batch when it returns', async () => {
    const stamp = Date.now().toString(36);
    const names = Array.from({ length: 8 }, (_, i) => `outage-${i}`);
    let seen = 0;
    site.proxy.onExchange = (e) => {
      // Cut the CA off once a few orders are through.
      if (e.path.includes('/certZ/') && ++seen === 3) site.proxy.cut();
    };
    for (const [i, name] of names.entries()) {
      expect((await site.api.post('/api/v1/certificates', { name, domains: [`o${i}-${stamp}.example.com`] })).status).toBe(201);
    }
    const failing = await waitFor(
      'failures with lastError',
      async () => {
        const list = (await site.api.get('/api/v1/certificates')).body.items as Array<{ name: string; status: string; lastError: { type: string } | null; nextAttemptAt: string | null }>;
        const batch = list.filter((c) => c.name.startsWith('outage-'));
        const failed = batch.filter((c) => c.lastError);
        return failed.length > 0 && batch.every((c) => c.status === 'valid' || c.lastError) ? failed : undefined;
      },
      30_000,
    );
    for (const c of failing) {
      expect(c.lastError!.type).toMatch(/^urn:certkeep:problem:acme-network$|^urn:ietf:params:acme:error:/);
      expect(Date.parse(c.nextAttemptAt!)).toBeGreaterThan(Date.now() + 30_000); // about a minute
    }
    expect((await fetch(`${site.hosts[0].baseUrl}/healthz`)).status).toBe(200); // no crash
    expect(site.hosts[0].process.pid).toBeGreaterThan(0);

    site.proxy.restore();
    // The first back-off is about a minute: let it pass in the database instead of waiting it out.
    // From there the scheduler finishes the batch by itself.
    await site.hosts[0].sql("UPDATE certificates SET next_attempt_at = ? WHERE name LIKE 'outage-%' AND next_attempt_at IS NOT NULL", Date.now() - 1);
    await waitFor(
      'the whole batch',
      async () => {
        const list = (await site.api.get('/api/v1/certificates')).body.items as Array<{ name: string; status: string; lastError: unknown }>;
        return list.filter((c) => c.name.startsWith('outage-')).every((c) => c.status === 'valid' && c.lastError === null) ? true : undefined;
      },
      30_000,
    );
    for (const name of names) expect((await site.api.get(`/api/v1/certificates/${name}/orders`)).body.items.filter((o: { state: string }) => o.state === 'done')).toHaveLength(1);
  }, 90_000);
});
