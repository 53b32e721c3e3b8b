// Renewal (SPEC §7) through the scheduler, in process against Pebble.
//
// Pebble 2.4.0 has no ARI (renewalInfo arrived in Pebble 2.6), so the ARI parts answer from
// recorded Let's Encrypt-style responses: the directory gets a `renewalInfo` URL and that URL
// answers with the suggestedWindow and Retry-After a test chooses, the way Boulder does. All
// the rest — orders, validation, the certificates themselves — is real Pebble.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { describePebble } from '../harness/pebble.ts';
import { startInProcess, urlOf, type InProcess } from '../harness/inprocess.ts';
import { createCertificate, findCertificateByName } from '../../src/domain/certificates.ts';
import { issue } from '../../src/domain/orders.ts';
import { dueCertificates, isDue, Scheduler } from '../../src/jobs/scheduler.ts';
import { certificateIdentifier } from '../../src/acme/index.ts';
import { certificates, events, orders } from '../../src/db/schema.ts';
import { ARI_MAX_RECHECK_MS, RENEWAL_JITTER_MAX_MS, RENEWAL_JITTER_SHARE, renewalTimeInWindow } from '../../src/domain/renewal.ts';
import { BY_CLI } from '../../src/domain/audit.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describePebble('renewal with ARI (recorded renewalInfo responses over real Pebble)', () => {
  let world: InProcess;
  let clockOffset = 0;
  let window = { start: 0, end: 0 };
  let retryAfterSeconds = 21_600;
  const askedFor: string[] = [];
  const replacesSent: Array<string | undefined> = [];

  beforeAll(async () => {
    world = await startInProcess({
      now: () => Date.now() + clockOffset,
      fetch: (real) => async (input, init) => {
        const url = new URL(urlOf(input));
        if (url.pathname === '/dir') {
          const dir = await (await real(input, init)).json();
          return Response.json({ ...dir, renewalInfo: `${url.origin}/draft-ietf-acme-ari/renewalInfo` });
        }
        if (url.pathname.startsWith('/draft-ietf-acme-ari/renewalInfo/')) {
          askedFor.push(url.pathname.split('/').pop()!);
          return Response.json(
            {
              suggestedWindow: { start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() },
              explanationURL: 'https://community.letsencrypt.org/t/renewal-window',
            },
            { headers: { 'retry-after': String(retryAfterSeconds) } },
          );
        }
        if (url.pathname.endsWith('/order-plz')) {
          const jws = JSON.parse(String(init!.body));
          replacesSent.push(JSON.parse(Buffer.from(jws.payload, 'base64url').toString()).replaces);
        }
        return real(input, init);
      },
    });
  });
  afterAll(async () => world?.stop());
  const earlyEvents = (id: string) =>
    world.deps.db.db.select().from(events).where(and(eq(events.type, 'certificate.replace_early'), eq(events.subjectId, id)));

  it('draws the renewal time inside the ARI window, keeps it while the window stays, and renews with `replaces`', async () => {
    const { deps } = world;
    const { row } = await createCertificate(deps, BY_CLI, { name: 'ari', domains: [`ari-${Date.now()}.example.com`], challenge: 'http-01' });
    expect(await issue(deps, row.id, 'new')).toEqual({ ok: true });
    let cert = (await findCertificateByName(deps, 'ari'))!;
    const firstPem = cert.pem!;
    expect(cert.ariCheckAt).not.toBeNull();
    expect(cert.ariCheckAt!).toBeLessThanOrEqual(deps.now());

    // The CA suggests a window 10–12 days out: the renewal time moves into it.
    const now = deps.now();
    window = { start: now + 10 * DAY, end: now + 12 * DAY };
    const scheduler = new Scheduler(deps);
    expect((await scheduler.tick()).renewalInfoChecked).toBe(1);
    expect(askedFor.at(-1)).toBe(certificateIdentifier(firstPem));
    cert = (await findCertificateByName(deps, 'ari'))!;
    expect(cert.renewAt!).toBeGreaterThanOrEqual(window.start);
    expect(cert.renewAt!).toBeLessThanOrEqual(window.end);
    // A window days away refines the plan: nobody needs to hear of it.
    expect(await earlyEvents(cert.id)).toEqual([]);
    expect(cert.ariCheckAt! - deps.now()).toBeGreaterThan(5.9 * HOUR); // Retry-After: 6 h
    expect(cert.ariCheckAt! - deps.now()).toBeLessThanOrEqual(6 * HOUR);
    const drawn = cert.renewAt;

    // Asked again (the CA says "in two days", we ask within 12 h anyway) with the same window:
    // the drawn time stays.
    retryAfterSeconds = 2 * 86_400;
    clockOffset += 6 * HOUR + 1000;
    expect((await scheduler.tick()).renewalInfoChecked).toBe(1);
    cert = (await findCertificateByName(deps, 'ari'))!;
    expect(cert.renewAt).toBe(drawn);
    expect(cert.ariCheckAt! - deps.now()).toBeLessThanOrEqual(ARI_MAX_RECHECK_MS);

    // The CA moves the window into the past (e.g. a mass revocation): renew now, naming the
    // certificate being replaced. The old certificate is served until the new one is stored.
    window = { start: deps.now() - 2 * HOUR, end: deps.now() - HOUR };
    clockOffset += ARI_MAX_RECHECK_MS + 1000;
    expect(await scheduler.tick()).toMatchObject({ renewalInfoChecked: 1, started: 1, succeeded: 1 });
    // …and says so (SPEC §4.3 certificate.replace_early), once for this serial and window.
    const early = await earlyEvents(cert.id);
    expect(early).toHaveLength(1);
    expect(early[0].title).toBe('The CA asks to replace ari early: renewing now');
    expect(early[0].body).toContain(`serial ${cert.serial}`);
    expect(early[0].body).toContain('https://community.letsencrypt.org/t/renewal-window');
    cert = (await findCertificateByName(deps, 'ari'))!;
    expect(cert.pem).not.toBe(firstPem);
    expect(cert.status).toBe('valid');
    const history = await deps.db.db.select().from(orders).where(eq(orders.certificateId, cert.id));
    expect(history.map((o) => o.reason).sort()).toEqual(['new', 'renewal']);
    expect(replacesSent.at(-1)).toBe(certificateIdentifier(firstPem));
    expect(history.find((o) => o.reason === 'renewal')!.replaces).toBe(certificateIdentifier(firstPem));
  });

});

describePebble('renewal without ARI (Pebble 2.4.0 as it is)', () => {
  let world: InProcess;
  beforeAll(async () => {
    world = await startInProcess();
  });
  afterAll(async () => world?.stop());

  it('renews at a third of the lifetime left, stops asking for renewalInfo, and never renews a revoked certificate', async () => {
    const { deps } = world;
    const { row } = await createCertificate(deps, BY_CLI, { name: 'lifetime', domains: [`life-${Date.now()}.example.com`], challenge: 'http-01' });
    expect(await issue(deps, row.id, 'new')).toEqual({ ok: true });
    let cert = (await findCertificateByName(deps, 'lifetime'))!;
    const lifetime = cert.notAfter! - cert.notBefore!;
    // A third of the lifetime left, less the spread (at most 5% of the lifetime, at most 3 days).
    const third = cert.notAfter! - lifetime / 3;
    expect(cert.renewAt!).toBeLessThanOrEqual(third + 1000);
    expect(cert.renewAt!).toBeGreaterThanOrEqual(third - Math.min(lifetime * RENEWAL_JITTER_SHARE, RENEWAL_JITTER_MAX_MS) - 1000);

    const scheduler = new Scheduler(deps);
    expect(await scheduler.tick()).toMatchObject({ renewalInfoChecked: 1, started: 0 });
    cert = (await findCertificateByName(deps, 'lifetime'))!;
    expect(cert.ariCheckAt).toBeNull(); // the CA has no renewalInfo: not asked again
    expect((await scheduler.tick()).renewalInfoChecked).toBe(0);

    // Due, but revoked: nothing happens.
    await deps.db.db.update(certificates).set({ status: 'revoked', renewAt: deps.now() - 1000 }).where(eq(certificates.id, row.id));
    expect((await scheduler.tick()).started).toBe(0);
    // Due and valid: renewed.
    await deps.db.db.update(certificates).set({ status: 'valid' }).where(eq(certificates.id, row.id));
    expect(await scheduler.tick()).toMatchObject({ started: 1, succeeded: 1 });
    expect((await findCertificateByName(deps, 'lifetime'))!.serial).not.toBe(cert.serial);
  });

  it('a run that found a certificate due places no second order when another run obtained it before the lease was free', async () => {
    // What a second host's tick saw under load: the certificate listed as due, then the lease taken
    // only after the first host had obtained the certificate and released the lease.
    const { deps } = world;
    const { row } = await createCertificate(deps, BY_CLI, { name: 'raced', domains: [`raced-${Date.now()}.example.com`], challenge: 'http-01' });
    expect((await dueCertificates(deps, 100)).map((c) => c.id)).toContain(row.id);
    expect(await issue(deps, row.id, 'new', { stillDue: () => isDue(deps, row.id) })).toEqual({ ok: true });
    expect(await isDue(deps, row.id)).toBe(false);
    expect(await issue(deps, row.id, 'new', { stillDue: () => isDue(deps, row.id) })).toEqual({ ok: 'not-due' });
    expect(await deps.db.db.select().from(orders).where(eq(orders.certificateId, row.id))).toHaveLength(1);
    // A forced retry ('issue' from the API or the page) asks nothing and orders again.
    expect(await issue(deps, row.id, 'manual')).toEqual({ ok: true });
    expect(await deps.db.db.select().from(orders).where(eq(orders.certificateId, row.id))).toHaveLength(2);
  });
});

it('draws a uniform point in a new window and keeps it for the same window', () => {
  const w = { start: 1_000, end: 2_000 };
  expect(renewalTimeInWindow(w, { start: null, end: null, renewAt: null }, 0, () => 0.25)).toBe(1_250);
  expect(renewalTimeInWindow(w, { start: 1_000, end: 2_000, renewAt: 1_900 }, 0, () => 0.25)).toBe(1_900);
  expect(renewalTimeInWindow(w, { start: 1_000, end: 1_500, renewAt: 1_400 }, 0, () => 0.5)).toBe(1_500);
  expect(renewalTimeInWindow(w, { start: null, end: null, renewAt: null }, 1_500, () => 0.5)).toBe(1_750); // not before now
  expect(renewalTimeInWindow(w, { start: null, end: null, renewAt: null }, 3_000, () => 0.5)).toBe(3_000); // window passed
});
