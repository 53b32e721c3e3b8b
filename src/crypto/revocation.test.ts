import { describe, expect, it } from 'vitest';
import { useOpenssl } from '../../test/fixtures/crypto/openssl.ts';
import {
  createCa,
  createCrl,
  createPki,
  issueLeaf,
  issuingDistributionPoint,
  opensslCrl,
  opensslResponder,
  useServer,
} from '../../test/fixtures/revocation/pki.ts';
import { CertkeepError } from '../errors.ts';
import { checkRevocation, type RevocationStatus } from './revocation.ts';
import { x509 } from './x509.ts';
import { loopbackOutbound, testOutbound } from '../../test/harness/outbound.ts';

const outbound = loopbackOutbound();

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
const KEY_COMPROMISE = 1;

/** checkRevocation with the node host's outgoing path (the test servers on 127.0.0.1 allowed) and a fixed clock, the clock returned for assertions. */
async function check(certificatePem: string, options: { now?: number; timeoutMs?: number } = {}) {
  const now = options.now ?? Date.now();
  const status = await checkRevocation({ certificatePem, outbound, now: () => now, timeoutMs: options.timeoutMs });
  return { status, now: new Date(now) };
}

function reasonOf(status: RevocationStatus): string {
  expect(status.status).toBe('unknown');
  return status.status === 'unknown' ? status.reason : '';
}

describe('checkRevocation from a CRL', () => {
  it('reports good for a certificate the CRL does not list, with the CRL\'s nextUpdate', async () => {
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = `${server.origin}/42.crl`;
    const leaf = await issueLeaf(intermediate, { crlUrls: [url] });
    const other = await issueLeaf(intermediate);
    const nextUpdate = new Date(Math.floor(Date.now() / 1000) * 1000 + 6 * DAY);
    // Let's Encrypt's shape: a shard whose critical issuingDistributionPoint names its own URL.
    const crl = await createCrl(intermediate, {
      revoked: [{ serial: other.serial, revokedAt: new Date(Date.now() - HOUR), reason: KEY_COMPROMISE }],
      nextUpdate,
      extensions: [issuingDistributionPoint(url)],
    });
    server.route('/42.crl', { headers: { 'content-type': 'application/pkix-crl' }, body: crl });

    const { status, now } = await check(leaf.chainPem);
    expect(status).toEqual({ status: 'good', source: 'crl', url, checkedAt: now, nextUpdate });
    expect(server.requests.map((request) => request.method)).toEqual(['GET']);
  });

  it('reports a revoked certificate with its revocation date and reason code', async () => {
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = server.route('/ca.crl', { body: new Uint8Array() });
    const leaf = await issueLeaf(intermediate, { crlUrls: [url] });
    const revokedAt = new Date('2026-01-02T03:04:05Z');
    server.route('/ca.crl', {
      body: await createCrl(intermediate, { revoked: [{ serial: leaf.serial, revokedAt, reason: KEY_COMPROMISE }] }),
    });

    const { status, now } = await check(leaf.chainPem);
    expect(status).toEqual({ status: 'revoked', source: 'crl', url, checkedAt: now, revokedAt, reason: KEY_COMPROMISE });
  });

  it('matches a serial whose top bit is set, in a PEM CRL made by `openssl ca -gencrl` over RSA', async () => {
    const ssl = useOpenssl();
    const server = await useServer();
    const { intermediate } = await createPki({ intermediateKeyType: 'rsa-2048' });
    const url = server.route('/openssl.crl', { body: '' });
    // 0xC0… needs a 0x00 sign byte in DER; the x509 library's hex serials leave it out.
    const revoked = await issueLeaf(intermediate, { serial: 'c0ffee00112233445566778899aabbcc', crlUrls: [url] });
    const sibling = await issueLeaf(intermediate, { serial: 'c0ffee00112233445566778899aabbcd', crlUrls: [url] });
    const revokedAt = new Date('2026-02-03T04:05:06Z');
    const crlPem = opensslCrl(ssl, intermediate, [
      { serial: revoked.serial, revokedAt, reason: 'keyCompromise' },
      { serial: sibling.serial },
    ]);
    expect(crlPem).toMatch(/^-----BEGIN X509 CRL-----/);
    ssl.write('crl.pem', crlPem);
    expect(ssl.run('crl', '-in', 'crl.pem', '-noout', '-text').stdout).toContain(`Serial Number: ${revoked.serial}`);
    server.route('/openssl.crl', { body: crlPem });

    const first = await check(revoked.chainPem);
    expect(first.status).toMatchObject({ status: 'revoked', source: 'crl', revokedAt, reason: KEY_COMPROMISE });
    const second = await check(sibling.chainPem);
    expect(second.status).toMatchObject({ status: 'good', source: 'crl' });
  });

  it('finds the certificate in a CRL of 5 000 entries, too many for the x509 library\'s default parse limits', async () => {
    const ssl = useOpenssl();
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = server.route('/big.crl', { body: '' });
    const leaf = await issueLeaf(intermediate, { crlUrls: [url] });
    const revokedAt = new Date('2026-01-01T00:00:00Z');
    const others = Array.from({ length: 4999 }, (_, i) => ({ serial: `7e${i.toString(16).padStart(30, '0')}`, revokedAt, reason: 'superseded' }));
    const crlPem = opensslCrl(ssl, intermediate, [...others, { serial: leaf.serial, revokedAt, reason: 'keyCompromise' }]);
    ssl.write('big.pem', crlPem);
    ssl.run('crl', '-in', 'big.pem', '-outform', 'DER', '-out', 'big.der');
    server.route('/big.crl', { body: ssl.read('big.der') });
    // The premise: parsed whole, as the x509 library does, this CRL exceeds asn1js's node limit.
    expect(() => new x509.X509Crl(ssl.readText('big.pem'))).toThrow(/node count/);

    const { status } = await check(leaf.chainPem);
    expect(status).toMatchObject({ status: 'revoked', source: 'crl', revokedAt, reason: KEY_COMPROMISE });
  });

  it('does not believe a CRL in the issuer\'s name signed by another key', async () => {
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = server.route('/ca.crl', { body: '' });
    const leaf = await issueLeaf(intermediate, { crlUrls: [url] });
    const forger = await createCa({ name: 'Forger' });
    server.route('/ca.crl', { body: await createCrl(intermediate, { signingKey: forger.keys.privateKey }) });

    const { status } = await check(leaf.chainPem);
    expect(reasonOf(status)).toBe(`CRL ${url}: the signature does not verify with the issuer's key`);
  });

  it('does not believe a CRL of another CA, even one it signed itself', async () => {
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = server.route('/ca.crl', { body: '' });
    const leaf = await issueLeaf(intermediate, { crlUrls: [url] });
    const otherCa = await createCa({ name: 'Other CA' });
    server.route('/ca.crl', { body: await createCrl(otherCa) });

    const { status } = await check(leaf.chainPem);
    expect(reasonOf(status)).toMatch(/is issued by "CN=Other CA, .*", not by the certificate's issuer "CN=Test Intermediate, /);
  });

  it.each([
    {
      name: 'stale (nextUpdate has passed)',
      crl: { thisUpdate: new Date(Date.now() - 3 * DAY), nextUpdate: new Date(Date.now() - HOUR) },
      reason: /is stale: its nextUpdate .* has passed$/,
    },
    {
      name: 'not yet valid (thisUpdate in the future)',
      crl: { thisUpdate: new Date(Date.now() + HOUR), nextUpdate: new Date(Date.now() + DAY) },
      reason: /is not valid yet: its thisUpdate .* lies in the future$/,
    },
  ])('answers unknown for a CRL that is $name', async ({ crl, reason }) => {
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = server.route('/ca.crl', { body: '' });
    const leaf = await issueLeaf(intermediate, { crlUrls: [url] });
    server.route('/ca.crl', { body: await createCrl(intermediate, crl) });

    const { status } = await check(leaf.chainPem);
    expect(reasonOf(status)).toMatch(reason);
  });

  it.each([
    { name: 'another shard', extension: (url: string) => issuingDistributionPoint(url.replace('/7.crl', '/8.crl')), reason: /names another distribution point/ },
    { name: 'CA certificates only', extension: (url: string) => issuingDistributionPoint(url, { onlyContainsCACerts: true }), reason: /covers only CA or attribute certificates/ },
    { name: 'indirect', extension: (url: string) => issuingDistributionPoint(url, { indirectCRL: true }), reason: /is an indirect CRL/ },
    { name: 'a delta CRL', extension: () => new x509.Extension('2.5.29.27', true, new Uint8Array([0x02, 0x01, 0x05])), reason: /is a delta CRL/ },
    { name: 'an unknown critical extension', extension: () => new x509.Extension('1.3.6.1.4.1.99999.1', true, new Uint8Array([0x05, 0x00])), reason: /unsupported critical extension 1\.3\.6\.1\.4\.1\.99999\.1/ },
  ])('refuses a CRL whose scope is $name', async ({ extension, reason }) => {
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = server.route('/7.crl', { body: '' });
    const leaf = await issueLeaf(intermediate, { crlUrls: [url] });
    // The leaf is listed: a CRL we cannot apply must not turn into 'revoked' either.
    server.route('/7.crl', {
      body: await createCrl(intermediate, {
        revoked: [{ serial: leaf.serial, revokedAt: new Date(), reason: KEY_COMPROMISE }],
        extensions: [extension(url)],
      }),
    });

    const { status } = await check(leaf.chainPem);
    expect(reasonOf(status)).toMatch(reason);
  });

  it('answers unknown when the CRL URL is 404 and there is no OCSP responder', async () => {
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = `${server.origin}/missing.crl`;
    const leaf = await issueLeaf(intermediate, { crlUrls: [url] });

    const { status } = await check(leaf.chainPem);
    expect(reasonOf(status)).toBe(`CRL download failed: ${url}: HTTP 404`);
  });

  it('gives up on a CRL server that does not answer within the timeout', async () => {
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = server.route('/slow.crl', () => 'handled');
    const leaf = await issueLeaf(intermediate, { crlUrls: [url] });

    const started = Date.now();
    const { status } = await check(leaf.chainPem, { timeoutMs: 300 });
    expect(reasonOf(status)).toBe(`CRL download failed: ${url}: no complete answer within 300 ms`);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses a CRL larger than 10 MB without reading it', async () => {
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = server.route('/huge.crl', (_request, response) => {
      response.writeHead(200, { 'content-length': String(20 * 1024 * 1024) });
      response.write(new Uint8Array(1024));
      return 'handled';
    });
    const leaf = await issueLeaf(intermediate, { crlUrls: [url] });

    const { status } = await check(leaf.chainPem);
    expect(reasonOf(status)).toBe(`CRL download failed: ${url}: the answer is larger than 10 MiB; it was not read further`);
  });

  it('tries the next distribution point when the first fails', async () => {
    const server = await useServer();
    const { intermediate } = await createPki();
    const broken = `${server.origin}/gone.crl`;
    const url = server.route('/ca.crl', { body: '' });
    const leaf = await issueLeaf(intermediate, { crlUrls: [broken, url] });
    server.route('/ca.crl', { body: await createCrl(intermediate) });

    const { status } = await check(leaf.chainPem);
    expect(status).toMatchObject({ status: 'good', source: 'crl', url });
  });
});

describe('checkRevocation without a usable source', () => {
  it('answers unknown when the certificate names no CRL distribution point or OCSP responder', async () => {
    const { intermediate } = await createPki();
    const leaf = await issueLeaf(intermediate);
    const { status } = await check(leaf.chainPem);
    expect(status).toEqual({ status: 'unknown', reason: 'the certificate names no CRL distribution point or OCSP responder' });
  });

  it('answers unknown for LDAP-only distribution points, without fetching anything', async () => {
    const { intermediate } = await createPki();
    const leaf = await issueLeaf(intermediate, { crlUrls: ['ldap://ldap.example.test/cn=ca?certificateRevocationList'] });
    const refuse = () => Promise.reject(new Error('fetch must not be called'));
    const status = await checkRevocation({ certificatePem: leaf.chainPem, outbound: testOutbound(refuse) });
    expect(status).toEqual({
      status: 'unknown',
      reason: 'the certificate names CRL distribution points or OCSP responders only by non-HTTP URLs',
    });
  });

  it('answers unknown when the PEM holds the leaf without its issuer', async () => {
    const server = await useServer();
    const { root, intermediate } = await createPki();
    const leaf = await issueLeaf(intermediate, { crlUrls: [server.route('/ca.crl', { body: await createCrl(intermediate) })] });
    const expected = { status: 'unknown', reason: 'the PEM holds no certificate that issued this one, so no CRL or OCSP response can be verified' };

    expect((await check(leaf.leafPem)).status).toEqual(expected);
    // A certificate with the issuer's name but another key did not issue the leaf.
    const impostor = await createCa({ name: 'Test Intermediate', issuer: root });
    expect((await check(leaf.leafPem + impostor.pem)).status).toEqual(expected);
    expect(server.requests).toEqual([]);
  });

  it('throws CERT_INVALID for text without a certificate', async () => {
    const error = await checkRevocation({ certificatePem: 'no PEM here', outbound }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CertkeepError);
    expect((error as CertkeepError).code).toBe('CERT_INVALID');
  });
});

describe('checkRevocation over OCSP, with `openssl ocsp` as the responder', () => {
  it('reports good from a response the issuer signed, after a request byte-identical to openssl\'s own', async () => {
    const ssl = useOpenssl();
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = `${server.origin}/ocsp`;
    const leaf = await issueLeaf(intermediate, { ocspUrls: [url] });
    server.route('/ocsp', opensslResponder(ssl, { ca: intermediate, entries: [{ serial: leaf.serial }] }));

    const { status, now } = await check(leaf.chainPem);
    expect(status).toMatchObject({ status: 'good', source: 'ocsp', url, checkedAt: now });
    // openssl ocsp -ndays 1: nextUpdate is a day after thisUpdate, which is about now.
    const nextUpdate = status.status === 'good' ? status.nextUpdate!.getTime() : 0;
    expect(Math.abs(nextUpdate - (now.getTime() + DAY))).toBeLessThan(60_000);

    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', contentType: 'application/ocsp-request' });
    ssl.write('leaf.pem', leaf.leafPem);
    ssl.write('issuer.pem', intermediate.pem);
    ssl.run('ocsp', '-issuer', 'issuer.pem', '-cert', 'leaf.pem', '-no_nonce', '-reqout', 'openssl-request.der');
    expect(request.body).toEqual(ssl.read('openssl-request.der'));
  });

  it('reports revoked from a delegated responder identified by key hash, for a serial with its top bit set', async () => {
    const ssl = useOpenssl();
    const server = await useServer();
    const { intermediate } = await createPki();
    const responder = await createCa({
      name: 'Test OCSP Responder',
      issuer: intermediate,
      ca: false,
      keyUsage: x509.KeyUsageFlags.digitalSignature,
      extendedKeyUsages: [x509.ExtendedKeyUsage.ocspSigning],
    });
    const url = server.route('/ocsp', { body: '' });
    const leaf = await issueLeaf(intermediate, { serial: 'f00dface0123456789abcdef01234567', ocspUrls: [url] });
    const revokedAt = new Date('2026-03-04T05:06:07Z');
    server.route('/ocsp', opensslResponder(ssl, {
      ca: intermediate,
      signer: responder,
      entries: [{ serial: leaf.serial, revokedAt, reason: 'keyCompromise' }],
      args: ['-resp_key_id'],
    }));

    const { status, now } = await check(leaf.chainPem);
    expect(status).toEqual({ status: 'revoked', source: 'ocsp', url, checkedAt: now, revokedAt, reason: KEY_COMPROMISE });
  });

  it('refuses a response signed by a certificate of the issuer that lacks id-kp-OCSPSigning', async () => {
    const ssl = useOpenssl();
    const server = await useServer();
    const { intermediate } = await createPki();
    const notAResponder = await createCa({ name: 'Not A Responder', issuer: intermediate, ca: false, keyUsage: x509.KeyUsageFlags.digitalSignature });
    const url = server.route('/ocsp', { body: '' });
    const leaf = await issueLeaf(intermediate, { ocspUrls: [url] });
    server.route('/ocsp', opensslResponder(ssl, { ca: intermediate, signer: notAResponder, entries: [{ serial: leaf.serial }] }));

    const { status } = await check(leaf.chainPem);
    expect(reasonOf(status)).toMatch(/is signed by "CN=Not A Responder, .*", which the issuer did not authorise to answer for it$/);
  });

  it('refuses a response whose signature is corrupt (openssl ocsp -badsig)', async () => {
    const ssl = useOpenssl();
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = server.route('/ocsp', { body: '' });
    const leaf = await issueLeaf(intermediate, { ocspUrls: [url] });
    server.route('/ocsp', opensslResponder(ssl, { ca: intermediate, entries: [{ serial: leaf.serial }], args: ['-badsig'] }));

    const { status } = await check(leaf.chainPem);
    expect(reasonOf(status)).toBe(`OCSP response from ${url}: the signature does not verify`);
  });

  it('refuses a response whose nextUpdate has passed', async () => {
    const ssl = useOpenssl();
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = server.route('/ocsp', { body: '' });
    const leaf = await issueLeaf(intermediate, { ocspUrls: [url] });
    server.route('/ocsp', opensslResponder(ssl, { ca: intermediate, entries: [{ serial: leaf.serial }] }));

    // The response says "good until tomorrow"; asked two days from now, it is stale.
    const { status } = await check(leaf.chainPem, { now: Date.now() + 2 * DAY });
    expect(reasonOf(status)).toMatch(/^OCSP response from .* is stale: its nextUpdate .* has passed$/);
  });

  it('answers unknown when the responder does not know the serial', async () => {
    const ssl = useOpenssl();
    const server = await useServer();
    const { intermediate } = await createPki();
    const url = server.route('/ocsp', { body: '' });
    const leaf = await issueLeaf(intermediate, { ocspUrls: [url] });
    const stranger = await issueLeaf(intermediate);
    server.route('/ocsp', opensslResponder(ssl, { ca: intermediate, entries: [{ serial: stranger.serial }] }));

    const { status } = await check(leaf.chainPem);
    expect(reasonOf(status)).toBe(`OCSP responder ${url} does not know this certificate`);
  });

  it('falls back to OCSP when the CRL URL is 404, and says why if OCSP fails too', async () => {
    const ssl = useOpenssl();
    const server = await useServer();
    const { intermediate } = await createPki();
    const crlUrl = `${server.origin}/missing.crl`;
    const ocspUrl = server.route('/ocsp', { body: '' });
    const leaf = await issueLeaf(intermediate, { crlUrls: [crlUrl], ocspUrls: [ocspUrl] });
    server.route('/ocsp', opensslResponder(ssl, { ca: intermediate, entries: [{ serial: leaf.serial }] }));

    const { status } = await check(leaf.chainPem);
    expect(status).toMatchObject({ status: 'good', source: 'ocsp', url: ocspUrl });
    expect(server.requests.map((request) => `${request.method} ${request.path}`)).toEqual(['GET /missing.crl', 'POST /ocsp']);

    server.route('/ocsp', { status: 503 });
    expect((await check(leaf.chainPem)).status).toEqual({
      status: 'unknown',
      reason: `CRL download failed: ${crlUrl}: HTTP 404; OCSP request failed: ${ocspUrl}: HTTP 503`,
    });
  });

  it('does not ask the OCSP responder when the CRL answers', async () => {
    const server = await useServer();
    const { intermediate } = await createPki();
    const crlUrl = server.route('/ca.crl', { body: '' });
    const ocspUrl = server.route('/ocsp', { status: 500 });
    const leaf = await issueLeaf(intermediate, { crlUrls: [crlUrl], ocspUrls: [ocspUrl] });
    server.route('/ca.crl', { body: await createCrl(intermediate) });

    const { status } = await check(leaf.chainPem);
    expect(status).toMatchObject({ status: 'good', source: 'crl', url: crlUrl });
    expect(server.requests.map((request) => request.path)).toEqual(['/ca.crl']);
  });
});
