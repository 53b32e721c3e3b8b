import { calculateJwkThumbprint, flattenedVerify, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, fromUtf8, toBase64Url, utf8 } from '../util/encoding.ts';
import {
  accountKeyAlg,
  jwkSigner,
  jwkThumbprint,
  kidSigner,
  publicJwk,
  signExternalAccountBinding,
  signFlattened,
  signKeyChange,
} from './jws.ts';

// RFC 7515 Appendix A.2: the RSA key, the JWS Protected Header {"alg":"RS256"} and the payload
// (a JWT claims set with CRLF line breaks), given here as the RFC's base64url encodings.
const A2_KEY = {
  kty: 'RSA',
  n: 'ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ',
  e: 'AQAB',
  d: 'Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ',
  p: '4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc',
  q: 'uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc',
  dp: 'BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0',
  dq: 'h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU',
  qi: 'IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U',
};
const A2_PROTECTED = 'eyJhbGciOiJSUzI1NiJ9';
const RFC_PAYLOAD = 'eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ';
const A2_SIGNATURE =
  'cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw';

// RFC 7515 Appendix A.3: the P-256 key and the RFC's ES256 signature over the same payload.
const A3_KEY = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
  d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI',
};
const A3_PROTECTED = 'eyJhbGciOiJFUzI1NiJ9';
const A3_SIGNATURE = 'DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q';

// RFC 7638 §3.1: the example RSA public key and its SHA-256 thumbprint.
const RFC7638_KEY = {
  kty: 'RSA',
  n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
  e: 'AQAB',
  alg: 'RS256',
  kid: '2011-04-29',
};
const RFC7638_THUMBPRINT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';

function importSigning(jwk: JsonWebKey, alg: 'RS256' | 'ES256'): Promise<CryptoKey> {
  const params =
    alg === 'RS256' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: 'P-256' };
  return crypto.subtle.importKey('jwk', jwk, params, false, ['sign']);
}

function publicPart(jwk: Record<string, string>): JsonWebKey {
  const { d, p, q, dp, dq, qi, ...pub } = jwk;
  return pub;
}

function decodeJson(segment: string): any {
  return JSON.parse(fromUtf8(fromBase64Url(segment)));
}

async function generate(alg: 'ES256' | 'ES384' | 'RS256'): Promise<CryptoKeyPair> {
  const params =
    alg === 'RS256'
      ? { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
      : { name: 'ECDSA', namedCurve: alg === 'ES256' ? 'P-256' : 'P-384' };
  return (await crypto.subtle.generateKey(params, false, ['sign', 'verify'])) as CryptoKeyPair;
}

describe('signFlattened against RFC 7515 Appendix A', () => {
  it('reproduces the exact RS256 signature of A.2 (PKCS#1 v1.5 is deterministic)', async () => {
    const key = await importSigning(A2_KEY, 'RS256');
    const jws = await signFlattened({ alg: 'RS256' }, fromBase64Url(RFC_PAYLOAD), key);
    expect(jws).toEqual({ protected: A2_PROTECTED, payload: RFC_PAYLOAD, signature: A2_SIGNATURE });
  });

  it('gives an ES256 signature over A.3 that jose verifies, and the RFC signature verifies with the same key', async () => {
    const privateKey = await importSigning(A3_KEY, 'ES256');
    const publicKey = await importJWK(publicPart(A3_KEY), 'ES256');
    const ours = await signFlattened({ alg: 'ES256' }, fromBase64Url(RFC_PAYLOAD), privateKey);
    expect(ours.protected).toBe(A3_PROTECTED);
    // ECDSA is randomized: the bytes differ from the RFC's, but both must verify.
    expect(fromBase64Url(ours.signature)).toHaveLength(64); // raw r||s, not DER
    await expect(flattenedVerify(ours, publicKey)).resolves.toBeTruthy();
    const rfc = { protected: A3_PROTECTED, payload: RFC_PAYLOAD, signature: A3_SIGNATURE };
    await expect(flattenedVerify(rfc, publicKey)).resolves.toBeTruthy();
  });

  it('is rejected by jose when a byte of the payload changes', async () => {
    const keys = await generate('ES256');
    const jws = await signFlattened({ alg: 'ES256' }, utf8('{"a":1}'), keys.privateKey);
    const tampered = { ...jws, payload: toBase64Url('{"a":2}') };
    await expect(flattenedVerify(tampered, keys.publicKey)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });
});

describe('account keys', () => {
  it.each(['ES256', 'ES384', 'RS256'] as const)('%s: alg from the key, jwk request verified by jose', async (alg) => {
    const keys = await generate(alg);
    expect(accountKeyAlg(keys.privateKey)).toBe(alg);
    const jws = await jwkSigner(keys).sign('https://ca.test/acme/new-acct', 'nonce-1', utf8('{"termsOfServiceAgreed":true}'));
    const header = decodeJson(jws.protected);
    expect(header).toEqual({ alg, jwk: await publicJwk(keys.publicKey), nonce: 'nonce-1', url: 'https://ca.test/acme/new-acct' });
    const verified = await flattenedVerify(jws, keys.publicKey);
    expect(fromUtf8(verified.payload)).toBe('{"termsOfServiceAgreed":true}');
  });

  it('kid requests carry kid and no jwk; POST-as-GET has an empty payload', async () => {
    const keys = await generate('ES384');
    const jws = await kidSigner(keys.privateKey, 'https://ca.test/acct/1').sign('https://ca.test/order/1', 'n2', new Uint8Array());
    expect(decodeJson(jws.protected)).toEqual({ alg: 'ES384', kid: 'https://ca.test/acct/1', nonce: 'n2', url: 'https://ca.test/order/1' });
    expect(jws.payload).toBe('');
    await expect(flattenedVerify(jws, keys.publicKey)).resolves.toBeTruthy();
  });

  it('refuses keys ACME accounts cannot use, with KEY_UNSUPPORTED', async () => {
    const p521 = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-521' }, false, ['sign'])) as CryptoKeyPair;
    const ps256 = (await crypto.subtle.generateKey(
      { name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      false,
      ['sign'],
    )) as CryptoKeyPair;
    expect(() => accountKeyAlg(p521.privateKey)).toThrow(expect.objectContaining({ code: 'KEY_UNSUPPORTED' }));
    expect(() => accountKeyAlg(ps256.privateKey)).toThrow(expect.objectContaining({ code: 'KEY_UNSUPPORTED' }));
  });

  it('public JWKs hold only the RFC 7638 members, in lexicographic order', async () => {
    const ec = await generate('ES256');
    const rsa = await generate('RS256');
    expect(Object.keys(await publicJwk(ec.publicKey))).toEqual(['crv', 'kty', 'x', 'y']);
    expect(Object.keys(await publicJwk(rsa.publicKey))).toEqual(['e', 'kty', 'n']);
    expect(await publicJwk(RFC7638_KEY)).toEqual({ e: 'AQAB', kty: 'RSA', n: RFC7638_KEY.n });
  });
});

describe('jwkThumbprint (RFC 7638)', () => {
  it('matches the §3.1 example', async () => {
    expect(await jwkThumbprint(RFC7638_KEY)).toBe(RFC7638_THUMBPRINT);
  });

  it('agrees with jose for generated EC and RSA CryptoKeys', async () => {
    for (const alg of ['ES256', 'ES384', 'RS256'] as const) {
      const keys = await generate(alg);
      const jwk = await crypto.subtle.exportKey('jwk', keys.publicKey);
      expect(await jwkThumbprint(keys.publicKey)).toBe(await calculateJwkThumbprint(jwk as any, 'sha256'));
    }
  });
});

describe('external account binding (RFC 8555 §7.3.4)', () => {
  it('is an HS256 JWS over the account JWK with kid and url and no nonce, verified by jose', async () => {
    const account = await generate('ES256');
    const macKey = crypto.getRandomValues(new Uint8Array(32));
    const eab = await signExternalAccountBinding({
      kid: 'kid-1',
      hmacKey: toBase64Url(macKey),
      url: 'https://ca.test/acme/new-acct',
      accountPublicKey: account.publicKey,
    });
    expect(decodeJson(eab.protected)).toEqual({ alg: 'HS256', kid: 'kid-1', url: 'https://ca.test/acme/new-acct' });
    const verified = await flattenedVerify(eab, macKey);
    expect(JSON.parse(fromUtf8(verified.payload))).toEqual(await publicJwk(account.publicKey));
    await expect(flattenedVerify(eab, crypto.getRandomValues(new Uint8Array(32)))).rejects.toBeTruthy();
  });

  it('refuses an HMAC key that is not base64url', async () => {
    const account = await generate('ES256');
    await expect(
      signExternalAccountBinding({ kid: 'k', hmacKey: 'not base64!', url: 'https://ca.test/x', accountPublicKey: account.publicKey }),
    ).rejects.toMatchObject({ code: 'KEY_INVALID' });
  });
});

describe('key rollover inner JWS (RFC 8555 §7.3.5)', () => {
  it('is signed by the new key with jwk, no nonce, and names the account and the old key', async () => {
    const oldKey = await generate('RS256');
    const newKey = await generate('ES256');
    const inner = await signKeyChange(newKey, {
      url: 'https://ca.test/acme/key-change',
      accountUrl: 'https://ca.test/acct/7',
      oldPublicKey: oldKey.publicKey,
    });
    expect(decodeJson(inner.protected)).toEqual({
      alg: 'ES256',
      jwk: await publicJwk(newKey.publicKey),
      url: 'https://ca.test/acme/key-change',
    });
    const verified = await flattenedVerify(inner, newKey.publicKey);
    expect(JSON.parse(fromUtf8(verified.payload))).toEqual({
      account: 'https://ca.test/acct/7',
      oldKey: await publicJwk(oldKey.publicKey),
    });
  });
});
