// The persisted order state machine against Pebble, in process on a libSQL file: an attempt
// that dies right after the CA acted on a request — newOrder, a challenge response, finalize,
// the certificate download — is resumed by the next attempt, which finishes the SAME order at
// the CA. No second order is placed. (The node host's kill -9 tests exercise real crashes; here
// the "crash" is a response that never reaches the state machine, the harshest point.)
import http from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { describePebble, startPebble, type Pebble } from '../harness/pebble.ts';
import { freePort } from '../harness/ports.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import { createRequestListener } from '../../node-host/http-adapter.ts';
import { createApp } from '../../src/app.ts';
import { newCaches, type Deps } from '../../src/deps.ts';
import { silentLogger } from '../../src/log.ts';
import { parseIpList } from '../../src/http/ip.ts';
import { generateMasterKey, importMasterKey } from '../../src/crypto/index.ts';
import { runSetup } from '../../src/domain/setup.ts';
import { createCertificate, findCertificateByName } from '../../src/domain/certificates.ts';
import { issue } from '../../src/domain/orders.ts';
import { challenges, orders } from '../../src/db/schema.ts';

type Step = 'newOrder' | 'challenge' | 'finalize' | 'certificate';

const STEP_PATH: Record<Step, RegExp> = {
  newOrder: /\/order-plz$/,
  challenge: /\/chalZ\//,
  finalize: /\/finalize-order\//,
  certificate: /\/certZ\//,
};

describePebble('order state machine: resuming after an interruption', () => {
  let pebble: Pebble;
  let db: OpenedDatabase;
  let server: http.Server;
  let deps: Deps;
  /** When set, the next response to this step is swallowed after the CA has acted on it. */
  let crashAt: Step | undefined;
  let createdOrderUrls: string[] = [];

  beforeAll(async () => {
    const httpPort = await freePort();
    pebble = await startPebble({ httpPort });
    db = await openDatabase(`file:${makeTempDir('resume-')}/certkeep.db`);
    const realFetch = globalThis.fetch;
    const fetchWithCrashes: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      const res = await realFetch(input, init);
      if (STEP_PATH.newOrder.test(url) && res.status === 201) createdOrderUrls.push(res.headers.get('location')!);
      if (crashAt && STEP_PATH[crashAt].test(url) && res.ok) {
        crashAt = undefined;
        throw new TypeError('simulated crash: the answer was lost');
      }
      return res;
    };
    deps = {
      db: db.database,
      masterKey: await importMasterKey(generateMasterKey()),
      fetch: fetchWithCrashes,
      now: () => Date.now(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      log: silentLogger,
      runtime: 'node',
      hostId: 'test-host',
      allowAdmin: parseIpList(undefined),
      allowApi: parseIpList(undefined),
      concurrency: 4,
      caches: newCaches(),
    };
    const { listener } = createRequestListener(createApp(deps), { secure: false, trustProxy: parseIpList('', { defaultLoopback: false }) });
    server = http.createServer(listener);
    await new Promise<void>((resolve) => server.listen(httpPort, '127.0.0.1', resolve));
    await runSetup(deps, {
      adminEmail: 'admin@example.com',
      adminPassword: 'correct horse battery staple',
      acme: { directoryUrl: pebble.directoryUrl, termsOfServiceAgreed: true },
    });
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    db?.close();
    await pebble?.stop();
  });

  for (const step of ['newOrder', 'challenge', 'finalize', 'certificate'] as const) {
    it(`finishes the same order after losing the answer to ${step}`, async () => {
      const name = `resume-${step}`;
      const domains = [`${step.toLowerCase()}-a-${Date.now()}.example.com`, `${step.toLowerCase()}-b-${Date.now()}.example.com`];
      const { row } = await createCertificate(deps, { name, domains, challenge: 'http-01' });
      createdOrderUrls = [];
      crashAt = step;

      const first = await issue(deps, row.id, 'new');
      expect(first).toMatchObject({ ok: false, retryable: true });
      expect(crashAt).toBeUndefined(); // the crash really happened
      const [open] = await db.database.db.select().from(orders).where(eq(orders.certificateId, row.id));
      expect(open.finishedAt).toBeNull();

      const second = await issue(deps, row.id, 'new');
      expect(second).toEqual({ ok: true });

      // Exactly one order, at the CA and here, and it is done.
      expect(createdOrderUrls).toHaveLength(1);
      const rows = await db.database.db.select().from(orders).where(eq(orders.certificateId, row.id));
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ state: 'done', orderUrl: createdOrderUrls[0] });
      const cert = await findCertificateByName(deps, name);
      expect(cert).toMatchObject({ status: 'valid', failureCount: 0, lastError: null });
      expect(cert!.pem).toMatch(/BEGIN CERTIFICATE/);
      // The order's challenge tokens are gone now that it has ended.
      expect(await db.database.db.select().from(challenges).where(eq(challenges.orderId, rows[0].id))).toHaveLength(0);
    });
  }
});
