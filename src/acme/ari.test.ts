// ARI (RFC 9773). Pebble 2.4.0 has no renewalInfo (it arrived in Pebble 2.6), so the client is
// tested here against recorded Let's Encrypt responses (test/fixtures/acme/letsencrypt/).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { testOutbound } from '../../test/harness/outbound.ts';
import { loadRecorded, replayFetch, type RecordedExchange } from '../../test/fixtures/acme/replay.ts';
import { x509 } from '../crypto/x509.ts';
import { fromBase64 } from '../util/encoding.ts';
import { certificateIdentifier } from './ari.ts';
import { AcmeClient } from './client.ts';

const RFC9773_PEM = readFileSync(new URL('../../test/fixtures/acme/rfc9773-example.pem', import.meta.url), 'utf8');
const ACCOUNT_URL = 'https://acme-v02.api.letsencrypt.org/acme/acct/2170312345';

async function selfSigned(serialHex: string, withAki: boolean): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialHex,
    name: 'CN=ari.test',
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2025-04-01T00:00:00Z'),
    keys,
    signingAlgorithm: alg,
    extensions: withAki ? [new x509.AuthorityKeyIdentifierExtension('0102030405060708090a0b0c0d0e0f1011121314')] : [],
  });
  return cert.toString('pem');
}

async function client(exchanges: RecordedExchange[]) {
  const ca = replayFetch(exchanges);
  const accountKey = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])) as CryptoKeyPair;
  const acme = new AcmeClient({
    directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
    accountKey,
    accountUrl: ACCOUNT_URL,
    outbound: testOutbound(ca.fetch),
    sleep: async () => {},
  });
  return { acme, requests: ca.requests };
}

function withoutRenewalInfo(dir: RecordedExchange): RecordedExchange {
  const copy = structuredClone(dir);
  delete (copy.response.body as Record<string, unknown>).renewalInfo;
  return copy;
}

describe('certificateIdentifier (RFC 9773 §4.1)', () => {
  it('matches the RFC example certificate, from PEM and from DER', () => {
    expect(certificateIdentifier(RFC9773_PEM)).toBe('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
    const der = fromBase64(RFC9773_PEM.replace(/-----[^-]+-----/g, ''));
    expect(certificateIdentifier(der)).toBe('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  });

  it('encodes the serial as its DER content octets: a leading zero only when the top bit is set', async () => {
    const high = await selfSigned('80', true);
    // openssl reads the certificate's INTEGER as positive 0x80, so the DER content is 00 80.
    expect(execFileSync('openssl', ['x509', '-noout', '-serial'], { input: high }).toString().trim()).toBe('serial=80');
    expect(certificateIdentifier(high)).toBe('AQIDBAUGBwgJCgsMDQ4PEBESExQ.AIA');
    expect(certificateIdentifier(await selfSigned('7f', true)).split('.')[1]).toBe('fw');
    expect(certificateIdentifier(await selfSigned('0102', true)).split('.')[1]).toBe('AQI');
  });

  it('refuses a certificate without an authority key identifier, and garbage', async () => {
    expect(() => certificateIdentifier(RFC9773_PEM.replace('MIIB', 'MIIC'))).toThrow(expect.objectContaining({ code: 'CERT_INVALID' }));
    const noAki = await selfSigned('01', false);
    expect(() => certificateIdentifier(noAki)).toThrow(expect.objectContaining({ code: 'CERT_INVALID' }));
  });
});

describe('renewalInfo against recorded Let\'s Encrypt responses (Pebble 2.4.0 has no ARI)', () => {
  it('GETs renewalInfo/<certID> unauthenticated and returns the window, explanation and Retry-After', async () => {
    const { acme, requests } = await client([loadRecorded('letsencrypt/directory'), loadRecorded('letsencrypt/renewal-info')]);
    const info = await acme.renewalInfo(RFC9773_PEM);
    expect(info).toEqual({
      suggestedWindow: { start: new Date('2025-07-02T10:23:41Z'), end: new Date('2025-07-04T10:23:41Z') },
      explanationURL: 'https://community.letsencrypt.org/t/revoking-certain-certificates-on-march-4/114864',
      retryAfterMs: 21_600_000,
    });
    const ari = requests.at(-1)!;
    expect(ari.method).toBe('GET');
    expect(ari.url).toBe('https://acme-v02.api.letsencrypt.org/acme/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
    expect(ari.jws).toBeUndefined();
  });

  it('is null when the directory has no renewalInfo, without asking anything else', async () => {
    const { acme, requests } = await client([withoutRenewalInfo(loadRecorded('letsencrypt/directory'))]);
    expect(await acme.renewalInfo(RFC9773_PEM)).toBeNull();
    expect(requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('calls a window that ends before it starts a bad response', async () => {
    const recorded = loadRecorded('letsencrypt/renewal-info');
    (recorded.response.body as any).suggestedWindow = { start: '2025-07-04T10:23:41Z', end: '2025-07-02T10:23:41Z' };
    const { acme } = await client([loadRecorded('letsencrypt/directory'), recorded]);
    await expect(acme.renewalInfo(RFC9773_PEM)).rejects.toMatchObject({ code: 'ACME_BAD_RESPONSE' });
  });

  it('sends `replaces` in newOrder to a CA with ARI', async () => {
    const { acme, requests } = await client([
      loadRecorded('letsencrypt/directory'),
      loadRecorded('letsencrypt/new-nonce'),
      loadRecorded('letsencrypt/new-order-replaces'),
    ]);
    const replaces = certificateIdentifier(RFC9773_PEM);
    const { url, order } = await acme.newOrder({ identifiers: [{ type: 'dns', value: 'example.com' }], replaces });
    expect(url).toBe('https://acme-v02.api.letsencrypt.org/acme/order/2170312345/381902779021');
    expect(order.replaces).toBe(replaces);
    const post = requests.find((r) => r.method === 'POST')!;
    expect(post.jws?.payload).toEqual({ identifiers: [{ type: 'dns', value: 'example.com' }], replaces });
    expect(post.jws?.header).toMatchObject({ alg: 'ES256', kid: ACCOUNT_URL, url: 'https://acme-v02.api.letsencrypt.org/acme/new-order' });
  });

  it('leaves `replaces` out for a CA without ARI', async () => {
    const { acme, requests } = await client([
      withoutRenewalInfo(loadRecorded('letsencrypt/directory')),
      loadRecorded('letsencrypt/new-nonce'),
      loadRecorded('letsencrypt/new-order-replaces'),
    ]);
    await acme.newOrder({ identifiers: [{ type: 'dns', value: 'example.com' }], replaces: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE' });
    expect(requests.find((r) => r.method === 'POST')!.jws?.payload).toEqual({ identifiers: [{ type: 'dns', value: 'example.com' }] });
  });
});
