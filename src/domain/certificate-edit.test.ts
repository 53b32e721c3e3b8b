// updateCertificate on a real libSQL file with the real migrations: the creation rules hold for
// an edit, an open order blocks what it depends on, new names make the certificate due at once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';
import type { Deps } from '../deps.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import { acmeAccounts, certificates, orders } from '../db/schema.ts';
import { CertkeepError } from '../errors.ts';
import { createCertificate, findCertificateByName } from './certificates.ts';
import { createDnsProvider } from './dns/providers.ts';
import { dueCertificates } from '../jobs/scheduler.ts';
import { updateCertificate, type CertificateEdit } from './certificate-edit.ts';
import { testOutbound } from '../../test/harness/outbound.ts';
import { BY_CLI } from './audit.ts';

let opened: OpenedDatabase;
let deps: Deps;
let clock: number;
/** Answers of the fake acme-dns server, by request count. */
let acmeDnsRegistrations: number;

beforeEach(async () => {
  opened = await openDatabase(`file:${makeTempDir('cert-edit-')}/certkeep.db`);
  clock = Date.UTC(2030, 0, 1);
  acmeDnsRegistrations = 0;
  deps = await offlineDeps(opened.database, {
    // Only the acme-dns provider talks to the network here: a fake /register.
    outbound: testOutbound(async (input) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!url.endsWith('/register')) throw new Error(`unexpected fetch ${url}`);
      const n = ++acmeDnsRegistrations;
      return Response.json({ username: `u${n}`, password: `p${n}`, fulldomain: `sub${n}.auth.example.org`, subdomain: `sub${n}`, allowfrom: [] }, { status: 201 });
    }),
    now: () => clock,
  });

  // An ACME account row as registration leaves it; nothing here talks to a CA.
  await deps.db.db.insert(acmeAccounts).values({
    id: 'acct',
    name: 'default',
    directoryUrl: 'https://ca.example/dir',
    email: null,
    staging: false,
    termsOfServiceAgreed: true,
    accountUrl: 'https://ca.example/acct/1',
    status: 'valid',
    keyType: 'ec-p256',
    keySealed: 'unused',
    nextKeySealed: null,
    eabKid: null,
    createdAt: clock,
    updatedAt: clock,
  });
  await createDnsProvider(deps, BY_CLI, 'hook', 'webhook', { url: 'https://dns.example/hook', secret: 'a long enough shared secret' });
  await createDnsProvider(deps, BY_CLI, 'adns', 'acme-dns', { url: 'https://auth.example.org' });
});

afterEach(() => opened.close());

async function edit(name: string, e: CertificateEdit) {
  return updateCertificate(deps, BY_CLI, name, e);
}

async function codeAndField(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    return { code: err.code, field: err.details?.field };
  }
  throw new Error('expected a CertkeepError');
}

/** Marks the certificate as issued and served, renewal far away. */
async function markIssued(name: string) {
  await deps.db.db
    .update(certificates)
    .set({ pem: 'PEM', status: 'valid', serial: '01', notBefore: clock, notAfter: clock + 90 * 86_400_000, renewAt: clock + 60 * 86_400_000 })
    .where(eq(certificates.name, name));
}

describe('updateCertificate', () => {
  it('normalizes new names as creation does and makes an issued certificate due at once', async () => {
    await createCertificate(deps, BY_CLI, { name: 'www', domains: ['www.example.com'], challenge: 'http-01' });
    await markIssued('www');
    expect(await dueCertificates(deps, 10)).toEqual([]);

    const result = await edit('www', { domains: ['WWW.Example.com.', 'bücher.example.com', 'www.example.com'] });
    expect(result.changed).toEqual(['domains']);
    expect(result.reissue).toBe(true);
    expect(JSON.parse(result.row.domains)).toEqual(['www.example.com', 'xn--bcher-kva.example.com']);
    expect(result.row.pem).toBe('PEM'); // the served certificate stays until the next issuance
    expect((await dueCertificates(deps, 10)).map((c) => c.id)).toEqual([result.row.id]);
  });

  it('changes nothing (and writes nothing) when the values are the same', async () => {
    await createCertificate(deps, BY_CLI, { name: 'same', domains: ['a.example.com'], challenge: 'http-01' });
    const before = await findCertificateByName(deps, 'same');
    clock += 1000;
    const result = await edit('same', { domains: ['a.example.com'], challenge: 'http-01', dnsProvider: null, preferredChain: '' });
    expect(result.changed).toEqual([]);
    expect((await findCertificateByName(deps, 'same'))!.updatedAt).toBe(before!.updatedAt);
  });

  it('refuses what creation refuses, naming the field', async () => {
    await createCertificate(deps, BY_CLI, { name: 'c', domains: ['c.example.com'], challenge: 'http-01' });
    expect(await codeAndField(edit('c', { domains: ['*.example.com'] }))).toEqual({ code: 'BAD_REQUEST', field: 'domains' });
    expect(await codeAndField(edit('c', { domains: ['192.0.2.1'] }))).toEqual({ code: 'BAD_REQUEST', field: 'domains' });
    expect(await codeAndField(edit('c', { domains: [] }))).toEqual({ code: 'BAD_REQUEST', field: 'domains' });
    expect(await codeAndField(edit('c', { domains: 'c.example.com' }))).toEqual({ code: 'BAD_REQUEST', field: 'domains' });
    expect(await codeAndField(edit('c', { challenge: 'tls-alpn-01' }))).toEqual({ code: 'BAD_REQUEST', field: 'challenge' });
    expect(await codeAndField(edit('c', { challenge: 'dns-01' }))).toEqual({ code: 'BAD_REQUEST', field: 'dnsProvider' });
    expect(await codeAndField(edit('c', { challenge: 'dns-01', dnsProvider: 'nope' }))).toEqual({ code: 'BAD_REQUEST', field: 'dnsProvider' });
    expect(await codeAndField(edit('c', { dnsProvider: 'hook' }))).toEqual({ code: 'BAD_REQUEST', field: 'dnsProvider' });
    expect(await codeAndField(edit('c', { preferredChain: 'x'.repeat(257) }))).toEqual({ code: 'BAD_REQUEST', field: 'preferredChain' });
    expect(await codeAndField(edit('nope', {}))).toEqual({ code: 'NOT_FOUND', field: undefined });
    // Nothing was written by any of them.
    const row = (await findCertificateByName(deps, 'c'))!;
    expect([row.domains, row.challenge, row.dnsProviderId, row.preferredChain]).toEqual(['["c.example.com"]', 'http-01', null, null]);
  });

  it('moves between http-01 and dns-01 with the provider rules of creation', async () => {
    await createCertificate(deps, BY_CLI, { name: 'w', domains: ['w.example.com'], challenge: 'http-01' });
    const toDns = await edit('w', { challenge: 'dns-01', dnsProvider: 'hook', domains: ['*.w.example.com', 'w.example.com'] });
    expect(toDns.changed).toEqual(['domains', 'challenge', 'dnsProvider']);
    expect(toDns.reissue).toBe(false); // never issued: due anyway
    // Back to http-01 is refused while a wildcard remains, and the provider goes with dns-01.
    expect(await codeAndField(edit('w', { challenge: 'http-01' }))).toEqual({ code: 'BAD_REQUEST', field: 'domains' });
    const back = await edit('w', { challenge: 'http-01', domains: ['w.example.com'] });
    expect(back.row.dnsProviderId).toBeNull();
    expect(back.row.challenge).toBe('http-01');
  });

  it('keeps the provider when only other fields change, and sets or clears the preferred chain', async () => {
    await createCertificate(deps, BY_CLI, { name: 'd', domains: ['d.example.com'], challenge: 'dns-01', dnsProvider: 'hook' });
    const chain = await edit('d', { preferredChain: '  ISRG Root X1 ' });
    expect(chain.changed).toEqual(['preferredChain']);
    expect(chain.row.preferredChain).toBe('ISRG Root X1');
    expect(chain.row.dnsProviderId).not.toBeNull();
    expect((await edit('d', { preferredChain: null })).row.preferredChain).toBeNull();
  });

  it('refuses to change how an open order obtains the certificate, but not its preferred chain', async () => {
    const { row } = await createCertificate(deps, BY_CLI, { name: 'busy', domains: ['busy.example.com'], challenge: 'http-01' });
    await deps.db.db.insert(orders).values({
      id: 'o1', certificateId: row.id, accountId: 'acct', keyId: row.keyId, state: 'authorizing', reason: 'new',
      domains: row.domains, attempts: 1, createdAt: clock, updatedAt: clock,
    });
    expect(await codeAndField(edit('busy', { domains: ['other.example.com'] }))).toEqual({ code: 'CONFLICT', field: 'domains' });
    expect(await codeAndField(edit('busy', { challenge: 'dns-01', dnsProvider: 'hook' }))).toEqual({ code: 'CONFLICT', field: 'challenge' });
    expect((await edit('busy', { preferredChain: 'Other Root' })).changed).toEqual(['preferredChain']);
    await deps.db.db.update(orders).set({ state: 'done', finishedAt: clock }).where(eq(orders.id, 'o1'));
    expect((await edit('busy', { domains: ['other.example.com'] })).changed).toEqual(['domains']);
  });

  it('clears the back-off of a failing certificate when how it is obtained changes', async () => {
    await createCertificate(deps, BY_CLI, { name: 'f', domains: ['f.example.com'], challenge: 'http-01' });
    await deps.db.db.update(certificates).set({ status: 'invalid', failureCount: 3, nextAttemptAt: clock + 6_000_000 }).where(eq(certificates.name, 'f'));
    expect(await dueCertificates(deps, 10)).toEqual([]);
    await edit('f', { domains: ['g.example.com'] });
    expect(await dueCertificates(deps, 10)).toHaveLength(1);
  });

  it('registers new names with acme-dns and returns the CNAMEs to create', async () => {
    await createCertificate(deps, BY_CLI, { name: 'a', domains: ['a.example.com'], challenge: 'http-01' });
    const result = await edit('a', { challenge: 'dns-01', dnsProvider: 'adns', domains: ['a.example.com', '*.a.example.com', 'b.example.com'] });
    expect(result.dns?.cnames).toEqual([
      { name: '_acme-challenge.a.example.com', target: 'sub1.auth.example.org' },
      { name: '_acme-challenge.b.example.com', target: 'sub2.auth.example.org' },
    ]);
    // A second edit registers only what is new.
    const again = await edit('a', { domains: ['a.example.com', 'c.example.com'] });
    expect(again.dns?.cnames.map((c) => c.target)).toEqual(['sub1.auth.example.org', 'sub3.auth.example.org']);
    expect(acmeDnsRegistrations).toBe(3);
  });

  it('refuses to edit a revoked certificate', async () => {
    await createCertificate(deps, BY_CLI, { name: 'r', domains: ['r.example.com'], challenge: 'http-01' });
    await deps.db.db.update(certificates).set({ status: 'revoked' }).where(eq(certificates.name, 'r'));
    expect(await codeAndField(edit('r', { preferredChain: 'X' }))).toEqual({ code: 'CONFLICT', field: undefined });
  });
});
