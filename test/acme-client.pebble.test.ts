// The ACME client against a real CA: Pebble 2.4.0 with challtestsrv as its DNS. Each test makes
// its own account and uses fresh random names; no test depends on another's state. http-01 is
// answered by a tiny HTTP server on the port Pebble's validator connects to (httpPort).
// ARI and profiles are not here: Pebble 2.4.0 lacks them (see src/acme/ari.test.ts and
// src/acme/profiles.test.ts, which use recorded CA responses).

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AcmeClient, AcmeOrderInvalidError, AcmeProblemError, type AcmeClientOptions } from '../src/acme/index.ts';
import { x509 } from '../src/crypto/x509.ts';
import { describePebble, startPebble, type Pebble } from './harness/pebble.ts';
import { freePort } from './harness/ports.ts';
import { makeTempDir } from './harness/tmp.ts';
import { loopbackOutbound, testOutbound } from './harness/outbound.ts';

/** The node host's outgoing path, allowed to reach Pebble on 127.0.0.1. */
const outbound = loopbackOutbound();

type Alg = 'ES256' | 'ES384' | 'RS256';

function generateKey(alg: Alg = 'ES256'): Promise<CryptoKeyPair> {
  const params =
    alg === 'RS256'
      ? { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
      : { name: 'ECDSA', namedCurve: alg === 'ES256' ? 'P-256' : 'P-384' };
  return crypto.subtle.generateKey(params, false, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

function randomLabel(): string {
  return `t${crypto.getRandomValues(new Uint32Array(2)).join('')}`.slice(0, 20);
}

/** Two fresh names under one random subdomain, e.g. `t123.example.com` and `www.t123.example.com`. */
function freshNames(): string[] {
  const base = `${randomLabel()}.example.com`;
  return [base, `www.${base}`];
}

/** The http-01 responder Pebble's validator reaches: token → key authorization, 404 otherwise. */
interface ChallengeServer {
  port: number;
  tokens: Map<string, string>;
  close(): Promise<void>;
}

async function startChallengeServer(): Promise<ChallengeServer> {
  const tokens = new Map<string, string>();
  const port = await freePort();
  const server: Server = createServer((req, res) => {
    const token = /^\/\.well-known\/acme-challenge\/([^/?]+)$/.exec(req.url ?? '')?.[1];
    const answer = token ? tokens.get(token) : undefined;
    res.writeHead(answer ? 200 : 404, { 'content-type': 'text/plain' }).end(answer ?? 'not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port,
    tokens,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A CSR for `names` (the real CSR builder lives elsewhere; the client only carries the DER). */
async function csrFor(names: string[]): Promise<{ der: Uint8Array; key: CryptoKeyPair }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const key = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${names[0]}`,
    keys: key,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value })))],
  });
  return { der: new Uint8Array(csr.rawData), key };
}

function certsOf(pem: string): InstanceType<typeof x509.X509Certificate>[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new x509.X509Certificate(block),
  );
}

function commonName(pem: string): string {
  return new x509.X509Certificate(pem).subjectName.getField('CN')[0];
}

interface IssueOptions {
  challenge?: 'http-01' | 'dns-01';
  preferredChain?: string;
}

/** The whole flow for one order, authorizations answered and polled concurrently. */
async function issue(acme: AcmeClient, env: { pebble: Pebble; http: ChallengeServer }, names: string[], opts: IssueOptions = {}) {
  const type = opts.challenge ?? 'http-01';
  const { url, order } = await acme.newOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) });
  await Promise.all(
    order.authorizations.map(async (authzUrl) => {
      const authz = await acme.getAuthorization(authzUrl);
      const challenge = authz.challenges.find((c) => c.type === type)!;
      if (type === 'http-01') {
        env.http.tokens.set(challenge.token!, await acme.keyAuthorization(challenge.token!));
      } else {
        await env.pebble.setTxt(`_acme-challenge.${authz.identifier.value}`, await acme.dns01Value(challenge.token!));
      }
      await acme.respondToChallenge(challenge.url);
      await acme.waitForAuthorization(authzUrl, { timeoutMs: 20_000 });
    }),
  );
  const ready = await acme.waitForOrder(url, ['ready'], { timeoutMs: 20_000 });
  const csr = await csrFor(names);
  await acme.finalizeOrder(ready.finalize, csr.der);
  const valid = await acme.waitForOrder(url, ['valid'], { timeoutMs: 20_000 });
  const cert = await acme.downloadCertificate(valid.certificate!, { preferredChain: opts.preferredChain });
  return { ...cert, orderUrl: url, certKey: csr.key, leaf: certsOf(cert.pem)[0] };
}

async function newClient(pebble: Pebble, extra: Partial<AcmeClientOptions> = {}, alg: Alg = 'ES256'): Promise<AcmeClient> {
  return new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: await generateKey(alg), outbound, ...extra });
}

async function registered(pebble: Pebble, extra: Partial<AcmeClientOptions> = {}, alg: Alg = 'ES256'): Promise<AcmeClient> {
  const acme = await newClient(pebble, extra, alg);
  await acme.newAccount({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.com'] });
  return acme;
}

describePebble('AcmeClient against Pebble 2.4.0', () => {
  let pebble: Pebble;
  let http: ChallengeServer;

  beforeAll(async () => {
    http = await startChallengeServer();
    // One alternate root: every certificate also has a chain to a second root.
    pebble = await startPebble({ httpPort: http.port, env: { PEBBLE_ALTERNATE_ROOTS: '1' } });
  });

  afterAll(async () => {
    await pebble?.stop();
    await http?.close();
  });

  it('creates an account; onlyReturnExisting finds it; an unknown key gets accountDoesNotExist', async () => {
    const key = await generateKey();
    const acme = new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: key, outbound });
    const created = await acme.newAccount({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.com'] });
    expect(created.created).toBe(true);
    expect(created.account.status).toBe('valid');
    expect(acme.accountUrl).toBe(created.url);

    const again = new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: key, outbound });
    const found = await again.newAccount({ onlyReturnExisting: true });
    expect(found).toMatchObject({ url: created.url, created: false });

    const stranger = await newClient(pebble);
    const err = await stranger.newAccount({ onlyReturnExisting: true }).catch((e) => e);
    expect(err).toBeInstanceOf(AcmeProblemError);
    expect(err.code).toBe('ACME_PROBLEM');
    expect(err.problem.type).toBe('urn:ietf:params:acme:error:accountDoesNotExist');
    expect(stranger.accountUrl).toBeUndefined();
  });

  it('updates the contact list and deactivates the account, after which the CA refuses it', async () => {
    const acme = await registered(pebble);
    const updated = await acme.updateAccount({ contact: ['mailto:new@example.com'] });
    expect(updated.contact).toEqual(['mailto:new@example.com']);
    expect((await acme.deactivateAccount()).status).toBe('deactivated');
    const err = await acme.newOrder({ identifiers: [{ type: 'dns', value: freshNames()[0] }] }).catch((e) => e);
    expect(err).toBeInstanceOf(AcmeProblemError);
    expect(err.problem.type).toBe('urn:ietf:params:acme:error:unauthorized');
  });

  it.each(['ES256', 'ES384', 'RS256'] as const)('issues a 2-name certificate over http-01 with an %s account key', async (alg) => {
    const acme = await registered(pebble, {}, alg);
    const names = freshNames();
    const cert = await issue(acme, { pebble, http }, names);

    const chain = certsOf(cert.pem);
    expect(chain.length).toBeGreaterThanOrEqual(2);
    const san = cert.leaf.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.items.map((n) => n.value).sort()).toEqual([...names].sort());
    expect(cert.alternates).toHaveLength(1);
    // openssl agrees the leaf chains to Pebble's default root through the intermediate it sent.
    const [root] = await pebble.roots();
    const dir = makeTempDir('acme-verify-');
    writeFileSync(join(dir, 'root.pem'), root);
    writeFileSync(join(dir, 'leaf.pem'), chain[0].toString('pem'));
    writeFileSync(join(dir, 'chain.pem'), chain.slice(1).map((c) => c.toString('pem')).join('\n'));
    const out = execFileSync('openssl', ['verify', '-CAfile', 'root.pem', '-untrusted', 'chain.pem', 'leaf.pem'], { cwd: dir }).toString();
    expect(out).toMatch(/leaf\.pem: OK/);
  });

  it('issues over dns-01 with the TXT record set in challtestsrv', async () => {
    const acme = await registered(pebble);
    const names = freshNames();
    try {
      const cert = await issue(acme, { pebble, http }, names, { challenge: 'dns-01' });
      expect(cert.leaf.getExtension(x509.SubjectAlternativeNameExtension)!.names.items.map((n) => n.value).sort()).toEqual(
        [...names].sort(),
      );
    } finally {
      await Promise.all(names.map((n) => pebble.clearTxt(`_acme-challenge.${n}`)));
    }
  });

  it('a challenge the server answers with 404 fails with the CA\'s problem document, and the order is invalid', async () => {
    const acme = await registered(pebble);
    const [name] = freshNames();
    const { url, order } = await acme.newOrder({ identifiers: [{ type: 'dns', value: name }] });
    const authzUrl = order.authorizations[0];
    const authz = await acme.getAuthorization(authzUrl);
    const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
    // The token is deliberately not served: the validator gets a 404.
    await acme.respondToChallenge(challenge.url);

    const err = await acme.waitForAuthorization(authzUrl, { timeoutMs: 20_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(AcmeProblemError);
    expect(err.code).toBe('ACME_PROBLEM');
    expect([
      'urn:ietf:params:acme:error:unauthorized',
      'urn:ietf:params:acme:error:incorrectResponse',
      'urn:ietf:params:acme:error:connection',
    ]).toContain(err.problem.type);
    expect(err.problem.detail).toMatch(/404/);
    expect(err.problem.identifier).toEqual({ type: 'dns', value: name });

    const orderErr = await acme.waitForOrder(url, ['ready'], { timeoutMs: 20_000 }).catch((e) => e);
    expect(orderErr).toBeInstanceOf(AcmeOrderInvalidError);
    expect(orderErr.code).toBe('ACME_ORDER_INVALID');
    expect(orderErr.authorizationProblems).toEqual([err.problem]);
  });

  it('revokes with the account key (kid) and with the certificate key (jwk); Pebble reports both revoked', async () => {
    const acme = await registered(pebble);
    const byAccount = await issue(acme, { pebble, http }, freshNames());
    const byCertKey = await issue(acme, { pebble, http }, freshNames());
    expect(await pebble.certStatus(byAccount.leaf.serialNumber)).toBe('Valid');

    await acme.revokeCertificate(new Uint8Array(byAccount.leaf.rawData), { reason: 1 });
    const stranger = await newClient(pebble); // no account at all: the certificate key signs
    await stranger.revokeCertificate(new Uint8Array(byCertKey.leaf.rawData), { reason: 4, certificateKey: byCertKey.certKey });

    expect(await pebble.certStatus(byAccount.leaf.serialNumber)).toBe('Revoked');
    expect(await pebble.certStatus(byCertKey.leaf.serialNumber)).toBe('Revoked');
    // Revoking again is a problem the CA names, kept whole.
    const again = await acme.revokeCertificate(new Uint8Array(byAccount.leaf.rawData)).catch((e) => e);
    expect(again.problem.type).toBe('urn:ietf:params:acme:error:alreadyRevoked');
  });

  it('rolls the account key over, then works with the new key while the old key finds no account', async () => {
    const oldKey = await generateKey('RS256');
    const newKey = await generateKey('ES384');
    const acme = new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: oldKey, outbound });
    const { url } = await acme.newAccount({ termsOfServiceAgreed: true });

    await acme.keyRollover(newKey);
    expect(acme.accountKey).toBe(newKey);
    const cert = await issue(acme, { pebble, http }, freshNames());
    expect(cert.leaf).toBeDefined();

    const withNew = new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: newKey, outbound });
    expect((await withNew.newAccount({ onlyReturnExisting: true })).url).toBe(url);
    const withOld = new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: oldKey, outbound });
    const err = await withOld.newAccount({ onlyReturnExisting: true }).catch((e) => e);
    expect(err.problem?.type).toBe('urn:ietf:params:acme:error:accountDoesNotExist');
  });

  it('picks the alternate chain whose topmost issuer CN is the preferred one', async () => {
    const acme = await registered(pebble);
    const roots = await pebble.roots();
    expect(roots).toHaveLength(2);
    const [defaultRoot, alternateRoot] = roots.map(commonName);

    const plain = await issue(acme, { pebble, http }, freshNames());
    expect(plain.chainIssuer).toBe(defaultRoot);

    const preferred = await issue(acme, { pebble, http }, freshNames(), { preferredChain: alternateRoot });
    expect(preferred.chainIssuer).toBe(alternateRoot);
    expect(preferred.alternates).toHaveLength(1);
    const top = certsOf(preferred.pem).at(-1)!;
    expect(top.issuerName.getField('CN')[0]).toBe(alternateRoot);

    const unknown = await issue(acme, { pebble, http }, freshNames(), { preferredChain: 'No Such Root' });
    expect(unknown.chainIssuer).toBe(defaultRoot);
  });
});

describePebble('AcmeClient in a badNonce storm (PEBBLE_WFE_NONCEREJECT=60)', () => {
  let pebble: Pebble;
  let http: ChallengeServer;

  beforeAll(async () => {
    http = await startChallengeServer();
    pebble = await startPebble({ httpPort: http.port, env: { PEBBLE_WFE_NONCEREJECT: '60' } });
  });

  afterAll(async () => {
    await pebble?.stop();
    await http?.close();
  });

  it('still issues, each retry signed with the nonce from the badNonce response', async () => {
    const errorNonces: string[] = [];
    const usedNonces = new Set<string>();
    const watching: typeof fetch = async (input, init) => {
      if (typeof init?.body === 'string') {
        const header = JSON.parse(Buffer.from(JSON.parse(init.body).protected, 'base64url').toString());
        usedNonces.add(header.nonce);
      }
      const res = await fetch(input, init);
      if (res.status === 400) {
        const body = await res.clone().text();
        const nonce = res.headers.get('replay-nonce');
        if (body.includes('badNonce') && nonce) errorNonces.push(nonce);
      }
      return res;
    };
    // 60 % of nonces are refused; the default badNonce budget (25 retries) leaves a 0.6^26 ≈ 2e-6
    // chance for any one request.
    const acme = await registered(pebble, { outbound: testOutbound(watching) });
    const cert = await issue(acme, { pebble, http }, freshNames());
    expect(cert.leaf).toBeDefined();
    expect(errorNonces.length).toBeGreaterThan(3);
    expect(errorNonces.filter((n) => !usedNonces.has(n))).toEqual([]);
  });
});

describePebble('AcmeClient with external account binding required', () => {
  const EAB_KID = 'kid-certkeep-test';
  const EAB_KEY = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
  let pebble: Pebble;
  let http: ChallengeServer;

  beforeAll(async () => {
    http = await startChallengeServer();
    pebble = await startPebble({
      httpPort: http.port,
      config: { externalAccountBindingRequired: true, externalAccountMACKeys: { [EAB_KID]: EAB_KEY } },
    });
  });

  afterAll(async () => {
    await pebble?.stop();
    await http?.close();
  });

  it('the directory says so, and an account without a binding is refused with externalAccountRequired', async () => {
    const acme = await newClient(pebble);
    expect((await acme.directory()).meta?.externalAccountRequired).toBe(true);
    const err = await acme.newAccount({ termsOfServiceAgreed: true }).catch((e) => e);
    expect(err.problem?.type).toBe('urn:ietf:params:acme:error:externalAccountRequired');
  });

  it('a binding with the wrong MAC key is refused', async () => {
    const acme = await newClient(pebble);
    const wrong = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
    const err = await acme
      .newAccount({ termsOfServiceAgreed: true, externalAccountBinding: { kid: EAB_KID, hmacKey: wrong } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(AcmeProblemError);
    expect(err.problem).toMatchObject({ type: 'urn:ietf:params:acme:error:unauthorized', status: 403 });
    expect(err.problem.detail).toMatch(/external account binding/i);
  });

  it('the HS256 binding creates the account, which then issues', async () => {
    const acme = await newClient(pebble);
    const { created, account } = await acme.newAccount({
      termsOfServiceAgreed: true,
      externalAccountBinding: { kid: EAB_KID, hmacKey: EAB_KEY },
    });
    expect(created).toBe(true);
    expect(account.status).toBe('valid');
    const cert = await issue(acme, { pebble, http }, freshNames());
    expect(cert.leaf).toBeDefined();
  });
});
