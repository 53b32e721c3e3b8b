import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { dns01RecordName, dns01TxtValue, http01Path, keyAuthorization } from './challenges.ts';

// The RFC 7638 §3.1 key, whose thumbprint the RFC gives; the token is RFC 8555 §8.3's example.
const RFC7638_KEY = {
  kty: 'RSA',
  n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
  e: 'AQAB',
};
const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const KEY_AUTHZ = `${TOKEN}.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs`;

describe('challenges', () => {
  it('key authorization is token "." thumbprint (RFC 8555 §8.1)', async () => {
    expect(await keyAuthorization(TOKEN, RFC7638_KEY)).toBe(KEY_AUTHZ);
  });

  it('takes a CryptoKeyPair too', async () => {
    const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign'])) as CryptoKeyPair;
    const jwk = await crypto.subtle.exportKey('jwk', keys.publicKey);
    expect(await keyAuthorization('tok', keys)).toBe(await keyAuthorization('tok', jwk));
  });

  it('dns-01 value is base64url(SHA-256(key authorization)), as openssl computes it', async () => {
    const digest = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: KEY_AUTHZ });
    const expected = digest.toString('base64url');
    expect(await dns01TxtValue(KEY_AUTHZ)).toBe(expected);
    expect(expected).toHaveLength(43);
  });

  it('names where the CA looks', () => {
    expect(http01Path(TOKEN)).toBe(`/.well-known/acme-challenge/${TOKEN}`);
    expect(dns01RecordName('*.example.org')).toBe('_acme-challenge.example.org');
    expect(dns01RecordName('www.example.org')).toBe('_acme-challenge.www.example.org');
  });
});
