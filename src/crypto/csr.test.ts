import { describe, expect, it } from 'vitest';
import { useOpenssl, type Openssl } from '../../test/fixtures/crypto/openssl.ts';
import { CertkeepError } from '../errors.ts';
import { createCsr } from './csr.ts';
import { exportPublicSpki, generateKeyPair, type KeyType } from './keys.ts';

/** `openssl req -verify -text` on a DER CSR; throws when the self-signature does not verify. */
function opensslReq(ssl: Openssl, der: Uint8Array): { text: string; subject: string } {
  ssl.write('csr.der', der);
  const { stdout, stderr } = ssl.run('req', '-inform', 'DER', '-in', 'csr.der', '-noout', '-verify', '-text', '-nameopt', 'RFC2253');
  expect(stderr).toContain('verify OK');
  const subject = ssl.run('req', '-inform', 'DER', '-in', 'csr.der', '-noout', '-subject', '-nameopt', 'RFC2253').stdout.trim();
  return { text: stdout, subject };
}

function sanLine(text: string): string {
  return /X509v3 Subject Alternative Name:\s*\n\s*(.*)\n/.exec(text)?.[1] ?? '';
}

const SIGNATURE_ALGORITHM: Partial<Record<KeyType, string>> = {
  'ec-p256': 'ecdsa-with-SHA256',
  'ec-p384': 'ecdsa-with-SHA384',
  'rsa-2048': 'sha256WithRSAEncryption',
};

describe('createCsr', () => {
  for (const [type, algorithm] of Object.entries(SIGNATURE_ALGORITHM) as [KeyType, string][]) {
    it(`${type}: openssl verifies it, sees every SAN, the CN and ${algorithm}`, async () => {
      const ssl = useOpenssl();
      const keyPair = await generateKeyPair(type);
      const domains = ['www.example.com', 'example.com', '*.api.example.com'];
      const { text, subject } = opensslReq(ssl, await createCsr({ keyPair, domains }));

      expect(sanLine(text)).toBe('DNS:www.example.com, DNS:example.com, DNS:*.api.example.com');
      expect(subject).toBe('subject=CN=www.example.com');
      expect(text).toContain(`Signature Algorithm: ${algorithm}`);
      // The CSR carries our public key.
      const pub = ssl.run('req', '-inform', 'DER', '-in', 'csr.der', '-noout', '-pubkey').stdout;
      ssl.write('pub.pem', pub);
      ssl.run('pkey', '-pubin', '-in', 'pub.pem', '-outform', 'DER', '-out', 'pub.der');
      expect(ssl.read('pub.der')).toEqual(await exportPublicSpki(keyPair.publicKey));
    });
  }

  it('openssl rejects a CSR whose signature was changed (the verification above can fail)', async () => {
    const ssl = useOpenssl();
    const der = await createCsr({ keyPair: await generateKeyPair('rsa-2048'), domains: ['example.com'] });
    der[der.length - 10] ^= 0x01;
    ssl.write('csr.der', der);
    // OpenSSL 3.0 exits 0 either way; only its message tells (hence the stderr check above).
    const { stderr } = ssl.run('req', '-inform', 'DER', '-in', 'csr.der', '-noout', '-verify');
    expect(stderr).toContain('verify failure');
    expect(stderr).not.toContain('verify OK');
  });

  it('puts the optional subject attributes in, with the given CN', async () => {
    const ssl = useOpenssl();
    const der = await createCsr({
      keyPair: await generateKeyPair('ec-p256'),
      domains: ['a.example.com', 'b.example.com'],
      subject: { CN: 'b.example.com', O: 'Example GmbH', OU: 'Ops', C: 'DE', ST: 'Berlin', L: 'Berlin' },
    });
    const { text, subject } = opensslReq(ssl, der);
    expect(subject).toBe('subject=CN=b.example.com,OU=Ops,O=Example GmbH,L=Berlin,ST=Berlin,C=DE');
    expect(sanLine(text)).toBe('DNS:a.example.com, DNS:b.example.com');
  });

  it('leaves the CN out when the first domain is longer than 64 characters', async () => {
    const ssl = useOpenssl();
    const long = `${'a'.repeat(60)}.example.com`;
    const { text, subject } = opensslReq(ssl, await createCsr({ keyPair: await generateKeyPair('ec-p256'), domains: [long, 'short.example.com'] }));
    expect(subject).toBe('subject=');
    expect(sanLine(text)).toBe(`DNS:${long}, DNS:short.example.com`);
  });

  it('takes a 64-character first domain as the CN', async () => {
    const ssl = useOpenssl();
    const exact = `${'b'.repeat(52)}.example.com`;
    expect(exact).toHaveLength(64);
    const { subject } = opensslReq(ssl, await createCsr({ keyPair: await generateKeyPair('ec-p256'), domains: [exact] }));
    expect(subject).toBe(`subject=CN=${exact}`);
  });

  it('refuses no domains and an over-long explicit CN with BAD_REQUEST', async () => {
    const keyPair = await generateKeyPair('ec-p256');
    for (const options of [{ keyPair, domains: [] }, { keyPair, domains: ['x.example.com'], subject: { CN: 'c'.repeat(65) } }]) {
      const error = await createCsr(options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CertkeepError);
      expect((error as CertkeepError).code).toBe('BAD_REQUEST');
    }
  });
});
