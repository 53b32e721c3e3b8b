import { describe, expect, it } from 'vitest';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { PrivateKeyInfo } from '@peculiar/asn1-pkcs8';
import { ECPrivateKey } from '@peculiar/asn1-ecc';
import { RSAPrivateKey } from '@peculiar/asn1-rsa';
import { useOpenssl, type Openssl } from '../../test/fixtures/crypto/openssl.ts';
import { CertkeepError } from '../errors.ts';
import { utf8 } from '../util/encoding.ts';
import {
  KEY_TYPES,
  exportPkcs8,
  exportPrivateKeyPem,
  exportPublicSpki,
  generateKeyPair,
  importPrivateKey,
  keyFromPkcs8,
  keyTypeOf,
  signatureParams,
  type KeyType,
} from './keys.ts';
import { pemDecode, pemEncode } from './pem.ts';
import { ecJwkFromPkcs8 } from './pkcs8.ts';
import { sniffPrivateKeyFormat, type PrivateKeyFormat } from './pkcs8.ts';

/** What `openssl pkey -text` says about each type. */
const OPENSSL_DESCRIPTION: Record<KeyType, RegExp> = {
  'ec-p256': /Private-Key: \(256 bit\)[\s\S]*NIST CURVE: P-256/,
  'ec-p384': /Private-Key: \(384 bit\)[\s\S]*NIST CURVE: P-384/,
  'rsa-2048': /Private-Key: \(2048 bit, 2 primes\)[\s\S]*publicExponent: 65537/,
  'rsa-3072': /Private-Key: \(3072 bit, 2 primes\)[\s\S]*publicExponent: 65537/,
  'rsa-4096': /Private-Key: \(4096 bit, 2 primes\)[\s\S]*publicExponent: 65537/,
};

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error, `expected CertkeepError ${code}`).toBeInstanceOf(CertkeepError);
  expect((error as CertkeepError).code).toBe(code);
}

/** Signs with one key and verifies with the other: the two halves belong together. */
async function expectPairSigns(privateKey: CryptoKey, publicKey: CryptoKey): Promise<void> {
  const data = utf8('pair check');
  const signature = await crypto.subtle.sign(signatureParams(privateKey), privateKey, data);
  expect(await crypto.subtle.verify(signatureParams(publicKey), publicKey, signature, data)).toBe(true);
  expect(await crypto.subtle.verify(signatureParams(publicKey), publicKey, signature, utf8('other data'))).toBe(false);
}

/** The public key openssl derives from a key file, as SPKI DER. */
function opensslSpki(ssl: Openssl, file: string, inform: 'PEM' | 'DER' = 'PEM'): Uint8Array {
  ssl.run('pkey', '-in', file, '-inform', inform, '-pubout', '-outform', 'DER', '-out', `${file}.spki`);
  return ssl.read(`${file}.spki`);
}

async function checkGenerated(type: KeyType): Promise<void> {
  const ssl = useOpenssl();
  const keyPair = await generateKeyPair(type);
  expect(keyPair.privateKey.extractable).toBe(true);
  expect(keyTypeOf(keyPair.privateKey)).toBe(type);
  expect(keyTypeOf(keyPair.publicKey)).toBe(type);

  const pem = await exportPrivateKeyPem(keyPair.privateKey);
  expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  ssl.write('key.pem', pem);
  expect(ssl.run('pkey', '-in', 'key.pem', '-check', '-noout').stdout).toContain('Key is valid');
  expect(ssl.run('pkey', '-in', 'key.pem', '-text', '-noout').stdout).toMatch(OPENSSL_DESCRIPTION[type]);
  expect(opensslSpki(ssl, 'key.pem')).toEqual(await exportPublicSpki(keyPair.publicKey));

  const der = await exportPkcs8(keyPair.privateKey);
  for (const input of [pem, der]) {
    const imported = await importPrivateKey(input);
    expect(imported.type).toBe(type);
    expect(imported.pkcs8).toEqual(der);
    await expectPairSigns(imported.keyPair.privateKey, keyPair.publicKey);
    await expectPairSigns(keyPair.privateKey, imported.keyPair.publicKey);
  }
}

describe('generateKeyPair', () => {
  for (const type of KEY_TYPES.filter((t) => t !== 'rsa-4096')) {
    it(`${type}: openssl accepts the PKCS#8 export and import round-trips it`, () => checkGenerated(type));
  }

  // The one RSA-4096 generation of the suite: it takes seconds.
  it('rsa-4096: openssl accepts the PKCS#8 export and import round-trips it', () => checkGenerated('rsa-4096'), 120_000);

  it('uses the algorithms the key types promise', async () => {
    const ec = await generateKeyPair('ec-p384');
    expect(ec.privateKey.algorithm).toEqual({ name: 'ECDSA', namedCurve: 'P-384' });
    expect(signatureParams(ec.privateKey)).toEqual({ name: 'ECDSA', hash: 'SHA-384' });
    expect(signatureParams((await generateKeyPair('ec-p256')).privateKey)).toEqual({ name: 'ECDSA', hash: 'SHA-256' });
    const rsa = await generateKeyPair('rsa-2048');
    expect(rsa.privateKey.algorithm).toMatchObject({
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: { name: 'SHA-256' },
    });
  });
});

describe('importPrivateKey with keys made by openssl', () => {
  interface Case {
    name: string;
    type: KeyType;
    make: (ssl: Openssl) => void;
    file: string;
    inform?: 'PEM' | 'DER';
    /** For DER: the container the file really is (checked, so that the case name stays true). */
    format?: PrivateKeyFormat;
    expectLabels?: string[];
  }
  const cases: Case[] = [
    {
      name: 'genpkey P-256, PKCS#8 PEM',
      type: 'ec-p256',
      make: (ssl) => ssl.run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'key'),
      file: 'key',
      expectLabels: ['PRIVATE KEY'],
    },
    {
      name: 'pkcs8 -topk8 -nocrypt P-384, PKCS#8 DER',
      type: 'ec-p384',
      make: (ssl) => {
        ssl.run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', 'plain.pem');
        ssl.run('pkcs8', '-topk8', '-nocrypt', '-in', 'plain.pem', '-outform', 'DER', '-out', 'key');
      },
      file: 'key',
      inform: 'DER',
      format: 'pkcs8',
    },
    {
      // OpenSSL 3.0 writes DER keys in the algorithm's own ("traditional") form.
      name: 'genpkey -outform DER P-256: SEC1 DER',
      type: 'ec-p256',
      make: (ssl) => ssl.run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-outform', 'DER', '-out', 'key'),
      file: 'key',
      inform: 'DER',
      format: 'sec1',
    },
    {
      name: 'ecparam -genkey P-256: SEC1 PEM after an EC PARAMETERS block',
      type: 'ec-p256',
      make: (ssl) => ssl.run('ecparam', '-name', 'prime256v1', '-genkey', '-out', 'key'),
      file: 'key',
      expectLabels: ['EC PARAMETERS', 'EC PRIVATE KEY'],
    },
    {
      name: 'ecparam -genkey -noout P-384: SEC1 PEM alone',
      type: 'ec-p384',
      make: (ssl) => ssl.run('ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', 'key'),
      file: 'key',
      expectLabels: ['EC PRIVATE KEY'],
    },
    {
      name: 'ec -outform DER: SEC1 DER',
      type: 'ec-p256',
      make: (ssl) => {
        ssl.run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sec1.pem');
        ssl.run('ec', '-in', 'sec1.pem', '-outform', 'DER', '-out', 'key');
      },
      file: 'key',
      inform: 'DER',
      format: 'sec1',
    },
    {
      name: 'genrsa -traditional 2048: PKCS#1 PEM',
      type: 'rsa-2048',
      make: (ssl) => ssl.run('genrsa', '-traditional', '-out', 'key', '2048'),
      file: 'key',
      expectLabels: ['RSA PRIVATE KEY'],
    },
    {
      name: 'rsa -traditional -outform DER 3072: PKCS#1 DER',
      type: 'rsa-3072',
      make: (ssl) => {
        ssl.run('genrsa', '-out', 'pkcs8.pem', '3072');
        ssl.run('rsa', '-in', 'pkcs8.pem', '-traditional', '-outform', 'DER', '-out', 'key');
      },
      file: 'key',
      inform: 'DER',
      format: 'pkcs1',
    },
    {
      name: 'pkcs8 -topk8 -nocrypt RSA 2048, PKCS#8 DER',
      type: 'rsa-2048',
      make: (ssl) => {
        ssl.run('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'plain.pem');
        ssl.run('pkcs8', '-topk8', '-nocrypt', '-in', 'plain.pem', '-outform', 'DER', '-out', 'key');
      },
      file: 'key',
      inform: 'DER',
      format: 'pkcs8',
    },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.type}`, async () => {
      const ssl = useOpenssl();
      c.make(ssl);
      if (c.expectLabels) expect(pemDecode(ssl.readText(c.file)).map((b) => b.label)).toEqual(c.expectLabels);
      if (c.format) expect(sniffPrivateKeyFormat(ssl.read(c.file))).toBe(c.format);
      const input = c.inform === 'DER' ? ssl.read(c.file) : ssl.readText(c.file);
      const imported = await importPrivateKey(input);

      expect(imported.type).toBe(c.type);
      expect(keyTypeOf(imported.keyPair.publicKey)).toBe(c.type);
      // The derived public key is the one openssl derives.
      expect(await exportPublicSpki(imported.keyPair.publicKey)).toEqual(opensslSpki(ssl, c.file, c.inform));
      await expectPairSigns(imported.keyPair.privateKey, imported.keyPair.publicKey);
      // What we store is PKCS#8 that openssl reads as the same key.
      ssl.write('stored.der', imported.pkcs8);
      expect(ssl.run('pkey', '-in', 'stored.der', '-inform', 'DER', '-check', '-noout').stdout).toContain('Key is valid');
      expect(opensslSpki(ssl, 'stored.der', 'DER')).toEqual(opensslSpki(ssl, c.file, c.inform));
    });
  }

  it('takes the curve of a SEC1 key without parameters from the EC PARAMETERS block before it', async () => {
    const ssl = useOpenssl();
    ssl.run('ecparam', '-name', 'secp384r1', '-genkey', '-out', 'key.pem');
    const [params, key] = pemDecode(ssl.readText('key.pem'));
    const bare = AsnConvert.parse(key.der, ECPrivateKey);
    bare.parameters = undefined;
    const bareDer = new Uint8Array(AsnConvert.serialize(bare));

    const imported = await importPrivateKey(pemEncode('EC PARAMETERS', params.der) + pemEncode('EC PRIVATE KEY', bareDer));
    expect(imported.type).toBe('ec-p384');
    expect(await exportPublicSpki(imported.keyPair.publicKey)).toEqual(opensslSpki(ssl, 'key.pem'));

    await expectCode(importPrivateKey(pemEncode('EC PRIVATE KEY', bareDer)), 'KEY_INVALID');
  });

  it('reads PEM given as bytes (an uploaded file) and PEM with CRLF and text around it', async () => {
    const ssl = useOpenssl();
    ssl.run('genrsa', '-traditional', '-out', 'key.pem', '2048');
    const pem = ssl.readText('key.pem');
    expect((await importPrivateKey(utf8(pem))).type).toBe('rsa-2048');
    const messy = `my key:\r\n${pem.replace(/\n/g, '\r\n')}\r\nthanks`;
    expect((await importPrivateKey(messy)).type).toBe('rsa-2048');
  });

  it('ignores certificates next to the key', async () => {
    const ssl = useOpenssl();
    ssl.run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=bundle.test',
      '-keyout', 'key.pem', '-out', 'cert.pem');
    const imported = await importPrivateKey(ssl.readText('cert.pem') + ssl.readText('key.pem'));
    expect(imported.type).toBe('ec-p256');
  });
});

describe('importPrivateKey refusals', () => {
  async function refusesFile(make: (ssl: Openssl) => void, code: string, inform: 'PEM' | 'DER' = 'PEM'): Promise<void> {
    const ssl = useOpenssl();
    make(ssl);
    await expectCode(importPrivateKey(inform === 'DER' ? ssl.read('key') : ssl.readText('key')), code);
  }
  const ec256 = (ssl: Openssl) => ssl.run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'plain.pem');

  it('encrypted PKCS#8 (PEM and DER) is KEY_UNSUPPORTED', async () => {
    const encrypt = (outform: string) => (ssl: Openssl) => {
      ec256(ssl);
      ssl.run('pkcs8', '-topk8', '-v2', 'aes256', '-passout', 'pass:secret', '-in', 'plain.pem', '-outform', outform, '-out', 'key');
    };
    await refusesFile(encrypt('PEM'), 'KEY_UNSUPPORTED');
    await refusesFile(encrypt('DER'), 'KEY_UNSUPPORTED', 'DER');
  });

  it('traditional encrypted PEM (Proc-Type: 4,ENCRYPTED) is KEY_UNSUPPORTED', async () => {
    await refusesFile((ssl) => {
      ec256(ssl);
      ssl.run('ec', '-in', 'plain.pem', '-aes256', '-passout', 'pass:secret', '-out', 'key');
    }, 'KEY_UNSUPPORTED');
  });

  it('P-521 (PKCS#8 and SEC1) is KEY_UNSUPPORTED', async () => {
    await refusesFile((ssl) => ssl.run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521', '-out', 'key'), 'KEY_UNSUPPORTED');
    await refusesFile((ssl) => ssl.run('ecparam', '-name', 'secp521r1', '-genkey', '-out', 'key'), 'KEY_UNSUPPORTED');
  });

  it('an EC key with explicit curve parameters is KEY_UNSUPPORTED', async () => {
    await refusesFile((ssl) => ssl.run('ecparam', '-name', 'prime256v1', '-param_enc', 'explicit', '-genkey', '-noout', '-out', 'key'), 'KEY_UNSUPPORTED');
  });

  it('Ed25519 is KEY_UNSUPPORTED', async () => {
    await refusesFile((ssl) => ssl.run('genpkey', '-algorithm', 'ed25519', '-out', 'key'), 'KEY_UNSUPPORTED');
  });

  it('RSA-PSS keys are KEY_UNSUPPORTED', async () => {
    await refusesFile((ssl) => ssl.run('genpkey', '-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'key'), 'KEY_UNSUPPORTED');
  });

  it('RSA-1024 (PKCS#1 and PKCS#8) is KEY_UNSUPPORTED', async () => {
    await refusesFile((ssl) => ssl.run('genrsa', '-traditional', '-out', 'key', '1024'), 'KEY_UNSUPPORTED');
    await refusesFile((ssl) => ssl.run('genrsa', '-out', 'key', '1024'), 'KEY_UNSUPPORTED');
  });

  it('garbage is PEM_INVALID as text and KEY_INVALID as bytes', async () => {
    await expectCode(importPrivateKey('hello, I am not a key'), 'PEM_INVALID');
    await expectCode(importPrivateKey(''), 'PEM_INVALID');
    await expectCode(importPrivateKey('-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n'), 'PEM_INVALID');
    await expectCode(importPrivateKey('-----BEGIN PRIVATE KEY-----\nMIIB\n'), 'PEM_INVALID');
    await expectCode(importPrivateKey(new Uint8Array(0)), 'KEY_INVALID');
    await expectCode(importPrivateKey(crypto.getRandomValues(new Uint8Array(200)).fill(0x30, 0, 1)), 'KEY_INVALID');
    // Well-formed DER that is not a key: SEQUENCE { INTEGER 5 }.
    await expectCode(importPrivateKey(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05])), 'KEY_INVALID');
    // A PRIVATE KEY block holding base64 of something else.
    await expectCode(importPrivateKey(pemEncode('PRIVATE KEY', utf8('not DER at all'))), 'KEY_INVALID');
  });

  it('PEM with no key, or with two, is PEM_INVALID', async () => {
    const ssl = useOpenssl();
    ssl.run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x.test',
      '-keyout', 'key.pem', '-out', 'cert.pem');
    await expectCode(importPrivateKey(ssl.readText('cert.pem')), 'PEM_INVALID');
    await expectCode(importPrivateKey(ssl.readText('key.pem') + ssl.readText('key.pem')), 'PEM_INVALID');
  });

  it('a truncated key is KEY_INVALID', async () => {
    const der = await exportPkcs8((await generateKeyPair('ec-p256')).privateKey);
    await expectCode(importPrivateKey(der.subarray(0, der.length - 5)), 'KEY_INVALID');
  });

  it('an RSA key whose parts do not belong together is KEY_INVALID', async () => {
    const ssl = useOpenssl();
    ssl.run('genrsa', '-traditional', '-out', 'a.pem', '2048');
    ssl.run('genrsa', '-traditional', '-out', 'b.pem', '2048');
    const a = AsnConvert.parse(pemDecode(ssl.readText('a.pem'))[0].der, RSAPrivateKey);
    const b = AsnConvert.parse(pemDecode(ssl.readText('b.pem'))[0].der, RSAPrivateKey);
    a.modulus = b.modulus;
    const mixed = pemEncode('RSA PRIVATE KEY', new Uint8Array(AsnConvert.serialize(a)));
    await expectCode(importPrivateKey(mixed), 'KEY_INVALID');
  });
});

describe('keyTypeOf', () => {
  it('refuses keys outside the five types with KEY_UNSUPPORTED', async () => {
    const p521 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-521' }, false, ['sign', 'verify']);
    expect(() => keyTypeOf(p521.privateKey)).toThrowError(expect.objectContaining({ code: 'KEY_UNSUPPORTED' }));
    const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    expect(() => keyTypeOf(hmac)).toThrowError(expect.objectContaining({ code: 'KEY_UNSUPPORTED' }));
    const rsaSha384 = await crypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-384' },
      false,
      ['sign', 'verify'],
    );
    expect(() => keyTypeOf(rsaSha384.publicKey)).toThrowError(expect.objectContaining({ code: 'KEY_UNSUPPORTED' }));
  });
});

describe('keyFromPkcs8', () => {
  it('restores a stored key pair, with or without the type', async () => {
    const original = await generateKeyPair('ec-p384');
    const pkcs8 = await exportPkcs8(original.privateKey);
    for (const restored of [await keyFromPkcs8(pkcs8, 'ec-p384'), await keyFromPkcs8(pkcs8)]) {
      expect(keyTypeOf(restored.privateKey)).toBe('ec-p384');
      expect(await exportPublicSpki(restored.publicKey)).toEqual(await exportPublicSpki(original.publicKey));
      await expectPairSigns(restored.privateKey, original.publicKey);
    }
  });

  it('reads an EC key from the private scalar and public point its PKCS#8 carries, and derives the point when it is missing', async () => {
    for (const type of ['ec-p256', 'ec-p384'] as const) {
      const original = await generateKeyPair(type);
      const pkcs8 = await exportPkcs8(original.privateKey);
      const exported = await crypto.subtle.exportKey('jwk', original.privateKey);
      const jwk = ecJwkFromPkcs8(pkcs8, exported.crv as 'P-256' | 'P-384');
      expect(jwk).toMatchObject({ kty: 'EC', crv: exported.crv, d: exported.d, x: exported.x, y: exported.y });

      // The same key without `[1] publicKey` (RFC 5915 makes it optional): read the long way.
      const info = AsnConvert.parse(pkcs8, PrivateKeyInfo);
      const ec = AsnConvert.parse(info.privateKey, ECPrivateKey);
      ec.publicKey = undefined;
      info.privateKey = new OctetString(AsnConvert.serialize(ec));
      const withoutPoint = new Uint8Array(AsnConvert.serialize(info));
      expect(ecJwkFromPkcs8(withoutPoint, exported.crv as 'P-256' | 'P-384')).toBeNull();

      for (const stored of [pkcs8, withoutPoint]) {
        const restored = await keyFromPkcs8(stored, type);
        expect(await exportPublicSpki(restored.publicKey)).toEqual(await exportPublicSpki(original.publicKey));
        await expectPairSigns(restored.privateKey, original.publicKey);
      }
    }
    // Not an EC key, or another curve than the one asked for: null, and the PKCS#8 is imported.
    const rsa = await exportPkcs8((await generateKeyPair('rsa-2048')).privateKey);
    expect(ecJwkFromPkcs8(rsa, 'P-256')).toBeNull();
    expect(ecJwkFromPkcs8(await exportPkcs8((await generateKeyPair('ec-p384')).privateKey), 'P-256')).toBeNull();
  });

  it('refuses a key that is not the type recorded for it with KEY_INVALID', async () => {
    const ec = await exportPkcs8((await generateKeyPair('ec-p256')).privateKey);
    await expectCode(keyFromPkcs8(ec, 'ec-p384'), 'KEY_INVALID');
    await expectCode(keyFromPkcs8(ec, 'rsa-2048'), 'KEY_INVALID');
    const rsa = await exportPkcs8((await generateKeyPair('rsa-2048')).privateKey);
    await expectCode(keyFromPkcs8(rsa, 'rsa-3072'), 'KEY_INVALID');
  });
});
