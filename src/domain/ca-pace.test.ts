// The CA's pace, on a libSQL file: which failures pause an account and for how long, which
// accounts may order (paused, paced), and when a waiting account may order again.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq, inArray } from 'drizzle-orm';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import { acmeAccounts, certificates, orders } from '../db/schema.ts';
import { AcmeClient, AcmeNetworkError, AcmeProblemError } from '../acme/index.ts';
import { createCertificate } from './certificates.ts';
import { issue } from './orders.ts';
import { BY_CLI } from './audit.ts';
import type { Deps } from '../deps.ts';
import { DEFAULT_RATE_LIMIT_PAUSE_MS, HOUR, MAX_PAUSE_MS, nextAccountOpening, orderableAccounts, pauseAccount, pauseOf } from './ca-pace.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';

const NOW = Date.UTC(2030, 0, 1);
const rateLimited = { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many' };

describe('pauseOf', () => {
  it('pauses for rateLimited (Retry-After, or a default) and for 429/503 with Retry-After only', () => {
    expect(pauseOf(new AcmeProblemError(rateLimited, { status: 429, retryAfterMs: 90_000 }), NOW)).toEqual({ until: NOW + 90_000, problem: rateLimited });
    expect(pauseOf(new AcmeProblemError(rateLimited, { status: 429 }), NOW)?.until).toBe(NOW + DEFAULT_RATE_LIMIT_PAUSE_MS);
    const busy = { type: 'about:blank', status: 503 };
    expect(pauseOf(new AcmeProblemError(busy, { status: 503, retryAfterMs: 5_000 }), NOW)?.until).toBe(NOW + 5_000);
    // A 503 without Retry-After is the certificate's own back-off, not a pause of the CA.
    expect(pauseOf(new AcmeProblemError(busy, { status: 503 }), NOW)).toBeNull();
    expect(pauseOf(new AcmeProblemError({ type: 'urn:ietf:params:acme:error:unauthorized' }, { status: 403, retryAfterMs: 5_000 }), NOW)).toBeNull();
    expect(pauseOf(new AcmeNetworkError('https://ca.example/', new Error('reset')), NOW)).toBeNull();
    // A Retry-After of a year is capped.
    expect(pauseOf(new AcmeProblemError(rateLimited, { status: 429, retryAfterMs: 365 * 24 * HOUR }), NOW)?.until).toBe(NOW + MAX_PAUSE_MS);
  });
});

describe('accounts that may order', () => {
  let opened: OpenedDatabase;
  let deps: Deps;
  const account = (id: string, extra: Partial<typeof acmeAccounts.$inferInsert> = {}) =>
    deps.db.db.insert(acmeAccounts).values({
      id, name: id, directoryUrl: 'https://ca.example/dir', email: null, staging: false, termsOfServiceAgreed: true, accountUrl: `https://ca.example/acct/${id}`,
      status: 'valid', keyType: 'ec-p256', keySealed: 'unused', nextKeySealed: null, eabKid: null, createdAt: NOW, updatedAt: NOW, ...extra,
    });
  const order = (accountId: string, createdAt: number) =>
    deps.db.db.insert(orders).values({ id: `${accountId}-${createdAt}`, certificateId: 'c', accountId, keyId: 'k', state: 'done', reason: 'new', domains: '[]', createdAt, updatedAt: createdAt });

  beforeEach(async () => {
    opened = await openDatabase(`file:${makeTempDir('pace-')}/certkeep.db`);
    deps = await offlineDeps(opened.database, { now: () => NOW });
    // Orders of no real certificate: only their account and time matter here.
    await opened.client.execute('PRAGMA foreign_keys = OFF');
  });
  afterEach(() => opened.close());

  it('leaves out paused, paced-out and unusable accounts, and says when the next one opens', async () => {
    await account('free');
    await account('paused', { pausedUntil: NOW + 60_000 });
    await account('done-pausing', { pausedUntil: NOW - 1 });
    await account('paced', { maxOrdersPerHour: 2 });
    await account('room', { maxOrdersPerHour: 3 });
    await account('off', { status: 'deactivated' });
    for (const id of ['paced', 'room']) {
      await order(id, NOW - 2 * HOUR); // outside the hour
      await order(id, NOW - 40 * 60_000);
      await order(id, NOW - 10 * 60_000);
    }
    expect((await orderableAccounts(deps, NOW)).sort()).toEqual(['done-pausing', 'free', 'room']);
    // `paused` opens at its pause's end, `paced` when its order of 40 minutes ago leaves the hour.
    expect(await nextAccountOpening(deps, NOW)).toBe(NOW + 60_000);
    await deps.db.db.delete(acmeAccounts).where(eq(acmeAccounts.id, 'paused'));
    expect(await nextAccountOpening(deps, NOW)).toBe(NOW + 20 * 60_000 + 1);
  });

  it('keeps the later end when two refusals pause the same account', async () => {
    await account('a');
    expect(await pauseAccount(deps, 'a', { until: NOW + 120_000, problem: rateLimited })).toBe(NOW + 120_000);
    expect(await pauseAccount(deps, 'a', { until: NOW + 60_000, problem: rateLimited })).toBe(NOW + 120_000);
    expect(await orderableAccounts(deps, NOW + 119_000)).toEqual([]);
    expect(await orderableAccounts(deps, NOW + 120_000)).toEqual(['a']);
  });

  it('writes a scheduled order only under the pace, so orders started together cannot pass it; an issue by hand can', async () => {
    await account('paced', { maxOrdersPerHour: 2 });
    await order('paced', NOW - 10 * 60_000);
    // The account's client, ready (its key is never unsealed); the network refuses every request.
    const key = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    deps.caches.acmeClients.set('paced:unused', new AcmeClient({ directoryUrl: 'https://ca.example/dir', accountKey: key, accountUrl: 'https://ca.example/acct/paced', outbound: deps.outbound }));
    const names = ['a', 'b', 'c'];
    const ids: string[] = [];
    for (const name of names) ids.push((await createCertificate(deps, BY_CLI, { name, domains: [`${name}.example.com`], challenge: 'http-01', account: 'paced' })).row.id);

    // Three orders at once, one place left in the hour: one row is written, the others do nothing.
    const outcomes = await Promise.all(ids.map((id) => issue(deps, id, 'new', { paced: true })));
    expect(outcomes.filter((o) => o.ok === 'not-due')).toHaveLength(2);
    const ordered = async () => (await deps.db.db.select({ id: orders.certificateId }).from(orders).where(inArray(orders.certificateId, ids))).map((r) => r.id);
    const written = await ordered();
    expect(written).toHaveLength(1);
    // The one written failed on the network; the two left were not touched.
    const waiting = ids.filter((id) => id !== written[0]);
    const states = await deps.db.db.select({ status: certificates.status }).from(certificates).where(inArray(certificates.id, waiting));
    expect(states.map((s) => s.status)).toEqual(['new', 'new']);

    // The pace is full now: scheduled orders do nothing, one by hand is written.
    expect(await issue(deps, waiting[0], 'new', { paced: true })).toEqual({ ok: 'not-due' });
    expect((await issue(deps, waiting[0], 'manual')).ok).toBe(false); // the network refuses it, after its row
    expect((await ordered()).sort()).toEqual([written[0], waiting[0]].sort());
  });
});
