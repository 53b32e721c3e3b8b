// The persisted order state machine against Pebble, in process on a libSQL file: an attempt
// that dies right after the CA acted on a request — newOrder, a challenge response, finalize,
// the certificate download — is resumed by the next attempt, which finishes the SAME order at
// the CA. No second order is placed. (The node host's kill -9 tests exercise real crashes; here
// the "crash" is a response that never reaches the state machine, the harshest point.)
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { describePebble } from '../harness/pebble.ts';
import { startInProcess, urlOf, type InProcess } from '../harness/inprocess.ts';
import { createCertificate, findCertificateByName } from '../../src/domain/certificates.ts';
import { issue } from '../../src/domain/orders.ts';
import { challenges, orders } from '../../src/db/schema.ts';
import { BY_CLI } from '../../src/domain/audit.ts';

type Step = 'newOrder' | 'challenge' | 'finalize' | 'certificate';

const STEP_PATH: Record<Step, RegExp> = {
  newOrder: /\/order-plz$/,
  challenge: /\/chalZ\//,
  finalize: /\/finalize-order\//,
  certificate: /\/certZ\//,
};

describePebble('order state machine: resuming after an interruption', () => {
  let world: InProcess;
  /** When set, the next response to this step is swallowed after the CA has acted on it. */
  let crashAt: Step | undefined;
  let createdOrderUrls: string[] = [];

  beforeAll(async () => {
    world = await startInProcess({
      fetch: (real) => async (input, init) => {
        const url = urlOf(input);
        const res = await real(input, init);
        if (STEP_PATH.newOrder.test(url) && res.status === 201) createdOrderUrls.push(res.headers.get('location')!);
        if (crashAt && STEP_PATH[crashAt].test(url) && res.ok) {
          crashAt = undefined;
          throw new TypeError('simulated crash: the answer was lost');
        }
        return res;
      },
    });
  });
  afterAll(async () => world?.stop());

  for (const step of ['newOrder', 'challenge', 'finalize', 'certificate'] as const) {
    it(`finishes the same order after losing the answer to ${step}`, async () => {
      const name = `resume-${step}`;
      const domains = [`${step.toLowerCase()}-a-${Date.now()}.example.com`, `${step.toLowerCase()}-b-${Date.now()}.example.com`];
      const { deps, db } = world;
      const { row } = await createCertificate(deps, BY_CLI, { name, domains, challenge: 'http-01' });
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
