import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { describe, expect, it } from 'vitest';
import { useOpenssl, type Openssl } from '../../test/fixtures/crypto/openssl.ts';
import { inlineWorkerScript } from '../../test/harness/hosts.ts';
import { CertkeepError, type ErrorCode } from '../errors.ts';
import { fromBase64, fromHex, toBase64, toHex } from '../util/encoding.ts';
import { exportPkcs8, exportPrivateKeyPem, generateKeyPair, type KeyType } from './keys.ts';
import { readDer, readDerChildren, readDerSequence } from './der.ts';
import { pemDecode, pemEncode } from './pem.ts';
import { createPkcs12, derivePkcs12Key, PKCS12_KDF_ID, type Pkcs12Options } from './pkcs12.ts';

// ---- Fixtures: a key from our own WebCrypto code, and root → intermediate → leaf by openssl ----

interface Fixture {
  ssl: Openssl;
  pkcs8: Uint8Array;
  /** DER, leaf first. */
  certificates: Uint8Array[];
}

const CA_EXTENSIONS = 'basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n';
const LEAF_EXTENSIONS = 'basicConstraints = critical, CA:FALSE\nsubjectAltName = DNS:leaf.example.test\n';

async function chainFor(type: KeyType): Promise<Fixture> {
  const ssl = useOpenssl();
  const keyPair = await generateKeyPair(type);
  ssl.write('leaf.key', await exportPrivateKeyPem(keyPair.privateKey));
  ssl.write('ca.ext', CA_EXTENSIONS);
  ssl.write('leaf.ext', LEAF_EXTENSIONS);
  ssl.run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'root.key',
    '-subj', '/CN=PKCS12 Test Root', '-addext', 'basicConstraints=critical,CA:TRUE', '-days', '2', '-out', 'root.pem');
  ssl.run('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'int.key',
    '-subj', '/CN=PKCS12 Test Intermediate', '-out', 'int.csr');
  ssl.run('x509', '-req', '-in', 'int.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-set_serial', '2', '-days', '2',
    '-extfile', 'ca.ext', '-out', 'int.pem');
  ssl.run('req', '-new', '-key', 'leaf.key', '-subj', '/CN=leaf.example.test', '-out', 'leaf.csr');
  ssl.run('x509', '-req', '-in', 'leaf.csr', '-CA', 'int.pem', '-CAkey', 'int.key', '-set_serial', '3', '-days', '2',
    '-extfile', 'leaf.ext', '-out', 'leaf.pem');
  const certificates = ['leaf.pem', 'int.pem', 'root.pem'].map((file) => pemDecode(ssl.readText(file))[0].der);
  return { ssl, pkcs8: await exportPkcs8(keyPair.privateKey), certificates };
}

/** One bag as `openssl pkcs12 -nodes` prints it: its attributes, then a PEM block. */
interface PrintedBag {
  label: string;
  der: Uint8Array;
  friendlyName?: string;
  /** Lower-case hex. */
  localKeyId?: string;
}

/** Reads the PFX with openssl; throws (with openssl's stderr) when openssl refuses it. */
function opensslRead(ssl: Openssl, file: string, password: string, ...extra: string[]): PrintedBag[] {
  const { stdout, stderr } = ssl.run('pkcs12', '-in', file, '-passin', `pass:${password}`, '-nodes', ...extra);
  // OpenSSL falls back to a legacy password encoding when the MAC does not verify with the
  // proper one; a PFX that only opens that way would fail in every other reader.
  expect(stderr).not.toMatch(/broken algorithm/i);
  return stdout.split(/(?<=-----END [A-Z ]+-----\n)/).filter((chunk) => chunk.includes('-----BEGIN')).map((chunk) => {
    const [block] = pemDecode(chunk);
    return {
      label: block.label,
      der: block.der,
      friendlyName: /^\s+friendlyName: (.*)$/m.exec(chunk)?.[1],
      localKeyId: /^\s+localKeyID: ([0-9A-F ]+)$/m.exec(chunk)?.[1].replace(/ /g, '').toLowerCase(),
    };
  });
}

/** `openssl pkey -pubout` of a private key PEM: the public half as openssl derives it. */
function publicKeyOf(ssl: Openssl, name: string, privateKeyPem: string): string {
  ssl.write(name, privateKeyPem);
  return ssl.run('pkey', '-in', name, '-pubout').stdout;
}

/**
 * The ciphertext of the encrypted certificate bags, as a view into `pfx`: PFX → authSafe
 * ContentInfo → [0] → OCTET STRING → AuthenticatedSafe → first ContentInfo → [0] → EncryptedData
 * → EncryptedContentInfo → [0] IMPLICIT encryptedContent.
 */
function encryptedCertificates(pfx: Uint8Array): Uint8Array {
  const child = (content: Uint8Array, index: number) => readDerChildren(content)![index].content;
  const authSafe = readDer(child(readDerSequence(pfx)![1].content, 1))!.content;
  const encryptedData = child(child(readDer(authSafe)!.content, 0), 1);
  const encryptedContentInfo = child(readDer(encryptedData)!.content, 1);
  return child(encryptedContentInfo, 2);
}

async function writePfx(ssl: Openssl, name: string, options: Pkcs12Options): Promise<void> {
  ssl.write(name, await createPkcs12(options));
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(CertkeepError);
  expect((error as CertkeepError).code).toBe(code);
}

// ---- What openssl makes of our PFX ------------------------------------------------------------

describe('createPkcs12, read back by openssl pkcs12', () => {
  for (const type of ['ec-p256', 'ec-p384', 'rsa-2048'] as const) {
    it(`${type}: yields the same key and every certificate, leaf first`, async () => {
      const { ssl, pkcs8, certificates } = await chainFor(type);
      await writePfx(ssl, 'f.p12', { pkcs8, certificates, password: 'correct horse' });

      const bags = opensslRead(ssl, 'f.p12', 'correct horse');
      expect(bags.map((bag) => bag.label)).toEqual(['CERTIFICATE', 'CERTIFICATE', 'CERTIFICATE', 'PRIVATE KEY']);
      expect(bags.slice(0, 3).map((bag) => toHex(bag.der))).toEqual(certificates.map(toHex));

      const key = pemEncode('PRIVATE KEY', bags[3].der);
      expect(publicKeyOf(ssl, 'out.key', key)).toBe(publicKeyOf(ssl, 'in.key', pemEncode('PRIVATE KEY', pkcs8)));
      // The private halves too, each normalised by openssl.
      expect(ssl.run('pkey', '-in', 'out.key').stdout).toBe(ssl.run('pkey', '-in', 'in.key').stdout);
    });
  }

  it('uses the OpenSSL 3 layout: PBES2/PBKDF2/AES-256-CBC for certificates and key, SHA-256 MAC', async () => {
    const { ssl, pkcs8, certificates } = await chainFor('ec-p256');
    await writePfx(ssl, 'f.p12', { pkcs8, certificates, password: 'pw' });
    const { stderr } = ssl.run('pkcs12', '-in', 'f.p12', '-passin', 'pass:pw', '-info', '-noout');
    const pbes2 = 'PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256';
    expect(stderr.trim().split('\n')).toEqual([
      'MAC: sha256, Iteration 2048',
      'MAC length: 32, salt length: 32',
      `PKCS7 Encrypted data: ${pbes2}`,
      'Certificate bag',
      'Certificate bag',
      'Certificate bag',
      'PKCS7 Data',
      `Shrouded Keybag: ${pbes2}`,
    ]);
  });

  it('uses the iteration count it is given, for the MAC and both encryptions', async () => {
    const { ssl, pkcs8, certificates } = await chainFor('ec-p256');
    await writePfx(ssl, 'f.p12', { pkcs8, certificates: certificates.slice(0, 1), password: 'pw', iterations: 1000 });
    const { stderr } = ssl.run('pkcs12', '-in', 'f.p12', '-passin', 'pass:pw', '-info', '-noout');
    expect(stderr).toContain('MAC: sha256, Iteration 1000');
    expect(stderr.match(/AES-256-CBC, Iteration 1000, PRF hmacWithSHA256/g)).toHaveLength(2);
  });

  it('is refused with a wrong password, and opens with the right one', async () => {
    const { ssl, pkcs8, certificates } = await chainFor('ec-p256');
    await writePfx(ssl, 'f.p12', { pkcs8, certificates, password: 'right' });
    expect(() => opensslRead(ssl, 'f.p12', 'wrong')).toThrow(/invalid password|mac verify/i);
    expect(() => opensslRead(ssl, 'f.p12', '')).toThrow(/invalid password|mac verify/i);
    expect(opensslRead(ssl, 'f.p12', 'right')).toHaveLength(4);
  });

  it('has a MAC that covers the encrypted certificates', async () => {
    const { ssl, pkcs8, certificates } = await chainFor('ec-p256');
    const pfx = await createPkcs12({ pkcs8, certificates, password: 'pw' });
    const ciphertext = encryptedCertificates(pfx);
    expect(ciphertext.length).toBeGreaterThan(certificates.reduce((sum, der) => sum + der.length, 0));
    const tampered = pfx.slice();
    tampered[ciphertext.byteOffset + Math.floor(ciphertext.length / 2)] ^= 0x01;
    ssl.write('tampered.p12', tampered);
    expect(() => opensslRead(ssl, 'tampered.p12', 'pw')).toThrow(/invalid password|mac verify/i);
  });

  it('works with a password beyond ASCII (UTF-8 for PBES2, BMPString for the MAC)', async () => {
    const { ssl, pkcs8, certificates } = await chainFor('ec-p256');
    const password = 'pässwörd €uro 日本 😀';
    await writePfx(ssl, 'f.p12', { pkcs8, certificates, password });
    const bags = opensslRead(ssl, 'f.p12', password);
    expect(bags.map((bag) => bag.label)).toEqual(['CERTIFICATE', 'CERTIFICATE', 'CERTIFICATE', 'PRIVATE KEY']);
    expect(() => opensslRead(ssl, 'f.p12', 'passwort €uro 日本 😀')).toThrow(/invalid password|mac verify/i);
  });

  it('works with an empty password', async () => {
    const { ssl, pkcs8, certificates } = await chainFor('rsa-2048');
    await writePfx(ssl, 'f.p12', { pkcs8, certificates, password: '' });
    const bags = opensslRead(ssl, 'f.p12', '');
    expect(bags.map((bag) => bag.label)).toEqual(['CERTIFICATE', 'CERTIFICATE', 'CERTIFICATE', 'PRIVATE KEY']);
    expect(() => opensslRead(ssl, 'f.p12', 'x')).toThrow(/invalid password|mac verify/i);
  });

  it('ties the key to the leaf by localKeyID (SHA-1 of the leaf) and names both', async () => {
    const { ssl, pkcs8, certificates } = await chainFor('ec-p384');
    await writePfx(ssl, 'f.p12', { pkcs8, certificates, password: 'pw', friendlyName: 'leaf.example.test' });
    const [leaf, intermediate, root, key] = opensslRead(ssl, 'f.p12', 'pw');
    const leafSha1 = createHash('sha1').update(certificates[0]).digest('hex');
    expect(leaf).toMatchObject({ localKeyId: leafSha1, friendlyName: 'leaf.example.test' });
    expect(key).toMatchObject({ localKeyId: leafSha1, friendlyName: 'leaf.example.test' });
    // The chain certificates belong to no key of ours and carry no attributes, as with openssl.
    for (const bag of [intermediate, root]) expect(bag).toMatchObject({ localKeyId: undefined, friendlyName: undefined });
  });

  it('leaves friendlyName out when none is given', async () => {
    const { ssl, pkcs8, certificates } = await chainFor('ec-p256');
    await writePfx(ssl, 'f.p12', { pkcs8, certificates, password: 'pw' });
    const [leaf, , , key] = opensslRead(ssl, 'f.p12', 'pw');
    expect(leaf.friendlyName).toBeUndefined();
    expect(key.friendlyName).toBeUndefined();
    expect(key.localKeyId).toBe(leaf.localKeyId);
  });

  it('encodes a non-ASCII friendlyName exactly as openssl pkcs12 -export -name does', async () => {
    const { ssl, pkcs8, certificates } = await chainFor('ec-p256');
    const name = 'Zertifikat für Ünïcode';
    await writePfx(ssl, 'ours.p12', { pkcs8, certificates: certificates.slice(0, 1), password: 'pw', friendlyName: name });
    ssl.run('pkcs12', '-export', '-inkey', 'leaf.key', '-in', 'leaf.pem', '-name', name, '-passout', 'pass:pw', '-out', 'theirs.p12');
    // Raw bytes: openssl prints BMPString attributes in a charset of its own choosing.
    const friendlyNameLines = (file: string) => {
      const result = spawnSync('openssl', ['pkcs12', '-in', file, '-passin', 'pass:pw', '-nodes'], { cwd: ssl.dir });
      expect(result.status).toBe(0);
      return result.stdout.toString('latin1').split('\n').filter((line) => line.includes('friendlyName:'));
    };
    const ours = friendlyNameLines('ours.p12');
    expect(ours).toHaveLength(2);
    expect(ours).toEqual(friendlyNameLines('theirs.p12'));
  });

  it('salts afresh every time: two exports of the same input differ', async () => {
    const { pkcs8, certificates } = await chainFor('ec-p256');
    const options = { pkcs8, certificates, password: 'pw' };
    const [first, second] = await Promise.all([createPkcs12(options), createPkcs12(options)]);
    expect(toHex(first)).not.toBe(toHex(second));
  });
});

// ---- Input checks ---------------------------------------------------------------------------

describe('createPkcs12 input checks', () => {
  it('refuses bad inputs with stable codes', async () => {
    const { pkcs8, certificates } = await chainFor('ec-p256');
    const base = { pkcs8, certificates, password: 'pw' };
    await expectCode(createPkcs12({ ...base, certificates: [] }), 'CERT_INVALID');
    await expectCode(createPkcs12({ ...base, certificates: [certificates[0], new Uint8Array([1, 2, 3])] }), 'CERT_INVALID');
    await expectCode(createPkcs12({ ...base, pkcs8: certificates[0] }), 'KEY_INVALID');
    for (const iterations of [0, -1, 1.5, 100_001, Number.NaN]) {
      await expectCode(createPkcs12({ ...base, iterations }), 'BAD_REQUEST');
    }
    await expectCode(createPkcs12({ ...base, password: 'lone \ud800 surrogate' }), 'BAD_REQUEST');
  });
});

// ---- The PKCS#12 KDF (RFC 7292 Appendix B) ------------------------------------------------------

/** BMPString with terminator (Appendix B.1), for ASCII test passwords. */
const bmp = (ascii: string) => fromHex(`${[...ascii].map((c) => c.charCodeAt(0).toString(16).padStart(4, '0')).join('')}0000`);

describe('derivePkcs12Key', () => {
  // The PKCS#12 KDF test vectors that OpenSSL and Bouncy Castle have long carried (SHA-1, the
  // hash PKCS#12 began with). 24 bytes from a 20-byte hash exercises the second round of B.2.
  const vectors = [
    { password: 'smeg', salt: '0a58cf64530d823f', id: 1, iterations: 1, key: '8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3' },
    { password: 'smeg', salt: '0a58cf64530d823f', id: 2, iterations: 1, key: '79993dfe048d3b76' },
    { password: 'smeg', salt: '3d83c0e4546ac140', id: 3, iterations: 1, key: '8d967d88f6caa9d714800ab3d48051d63f73a312' },
    { password: 'queeg', salt: '05dec959acff72f7', id: 1, iterations: 1000, key: 'ed2034e36328830ff09df1e1a07dd357185dac0d4f9eb3d4' },
    { password: 'queeg', salt: '05dec959acff72f7', id: 2, iterations: 1000, key: '11dedad7758d4860' },
  ];
  for (const { password, salt, id, iterations, key } of vectors) {
    it(`SHA-1 vector: "${password}", salt ${salt}, ID ${id}, ${iterations} iteration(s)`, async () => {
      const derived = await derivePkcs12Key('SHA-1', bmp(password), fromHex(salt), id, iterations, key.length / 2);
      expect(toHex(derived)).toBe(key);
    });
  }

  // SHA-256 against OpenSSL's own PKCS12KDF, including output longer than one digest (the
  // block update of step 6B) and passwords and salts that span more than one 64-byte block.
  const sha256Cases = [
    { what: 'MAC key as in our PFX', password: bmp('correct horse'), salt: 32, id: PKCS12_KDF_ID.mac, iterations: 2048, length: 32 },
    { what: 'empty password', password: bmp(''), salt: 32, id: PKCS12_KDF_ID.mac, iterations: 10, length: 32 },
    { what: '100 bytes from a 70-byte password', password: bmp('x'.repeat(34)), salt: 8, id: PKCS12_KDF_ID.key, iterations: 3, length: 100 },
    { what: 'a 65-byte salt', password: bmp('queeg'), salt: 65, id: PKCS12_KDF_ID.iv, iterations: 2, length: 80 },
  ];
  for (const { what, password, salt: saltLength, id, iterations, length } of sha256Cases) {
    it(`SHA-256 matches openssl kdf PKCS12KDF: ${what}`, async () => {
      const ssl = useOpenssl();
      const salt = crypto.getRandomValues(new Uint8Array(saltLength));
      const { stdout } = ssl.run('kdf', '-keylen', String(length), '-kdfopt', 'digest:SHA256',
        '-kdfopt', `hexpass:${toHex(password)}`, '-kdfopt', `hexsalt:${toHex(salt)}`,
        '-kdfopt', `iter:${iterations}`, '-kdfopt', `id:${id}`, 'PKCS12KDF');
      const derived = await derivePkcs12Key('SHA-256', password, salt, id, iterations, length);
      expect(toHex(derived)).toBe(stdout.trim().replace(/:/g, '').toLowerCase());
    });
  }
});

// ---- The same module under workerd ------------------------------------------------------------

describe('createPkcs12 under workerd', () => {
  it('makes a PFX there that openssl opens (no Node APIs in the module)', async () => {
    const { ssl, pkcs8, certificates } = await chainFor('ec-p256');
    // A throwaway worker whose only job is to call createPkcs12 with what it is sent.
    const script = await inlineWorkerScript(
      `import { createPkcs12 } from './pkcs12.ts';
          import { fromBase64, toBase64 } from '../util/encoding.ts';
          export default { async fetch(request) {
            const { pkcs8, certificates, password } = await request.json();
            const pfx = await createPkcs12({ pkcs8: fromBase64(pkcs8), certificates: certificates.map(fromBase64), password, friendlyName: 'w' });
            return new Response(toBase64(pfx));
          } };`,
      fileURLToPath(new URL('.', import.meta.url)),
    );
    const mf = new Miniflare({ modules: true, script, compatibilityDate: '2025-09-01' });
    try {
      const password = 'wörker 😀';
      const response = await mf.dispatchFetch('http://localhost/', {
        method: 'POST',
        body: JSON.stringify({ pkcs8: toBase64(pkcs8), certificates: certificates.map((der) => toBase64(der)), password }),
      });
      expect(response.status).toBe(200);
      ssl.write('w.p12', fromBase64(await response.text()));
    } finally {
      await mf.dispose();
    }
    const bags = opensslRead(ssl, 'w.p12', 'wörker 😀');
    expect(bags.map((bag) => bag.label)).toEqual(['CERTIFICATE', 'CERTIFICATE', 'CERTIFICATE', 'PRIVATE KEY']);
    expect(bags[3].localKeyId).toBe(bags[0].localKeyId);
  });
});
