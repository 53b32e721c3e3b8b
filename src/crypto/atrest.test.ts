import { createCipheriv, createDecipheriv, randomBytes as nodeRandomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CertkeepError } from '../errors.ts';
import { fromBase64Url, fromUtf8, toBase64, toBase64Url, utf8 } from '../util/encoding.ts';
import { generateMasterKey, importMasterKey, openSecret, sealSecret } from './atrest.ts';

const fixture = JSON.parse(readFileSync(new URL('../../test/fixtures/crypto/atrest-v1.json', import.meta.url), 'utf8')) as {
  masterKey: string;
  aad: string;
  plaintext: string;
  sealed: string;
};

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof CertkeepError ? error.code : `not a CertkeepError: ${String(error)}`),
  );
}

/** The associated data format v1 authenticates, spelled out independently of the code. */
const v1Aad = (aad: string) => Buffer.from(`certkeep-at-rest/v1\n${aad}`, 'utf8');

describe('sealSecret / openSecret', () => {
  it('round-trips, for a key-sized secret and for an empty one', async () => {
    const key = await importMasterKey(generateMasterKey());
    for (const secret of [crypto.getRandomValues(new Uint8Array(1218)), new Uint8Array(0)]) {
      const sealed = await sealSecret(key, secret, 'key:01HROW');
      expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
      expect(fromBase64Url(sealed.split('.')[2])).toHaveLength(secret.length + 16);
      expect(await openSecret(key, sealed, 'key:01HROW')).toEqual(secret);
    }
  });

  it('uses a fresh IV for every seal, so equal secrets seal differently', async () => {
    const key = await importMasterKey(generateMasterKey());
    const secret = utf8('same plaintext');
    const sealed = await Promise.all(Array.from({ length: 20 }, () => sealSecret(key, secret, 'key:1')));
    expect(new Set(sealed).size).toBe(20);
    expect(new Set(sealed.map((s) => s.split('.')[1])).size).toBe(20);
  });

  it('is AES-256-GCM with a 96-bit IV and the row bound in as associated data (checked with node:crypto)', async () => {
    const raw = generateMasterKey();
    const key = await importMasterKey(raw);
    const sealed = await sealSecret(key, utf8('cross-checked'), 'account:42');
    const [, iv, body] = sealed.split('.');
    const bytes = fromBase64Url(body);
    const decipher = createDecipheriv('aes-256-gcm', raw, fromBase64Url(iv));
    decipher.setAAD(v1Aad('account:42'));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const plaintext = Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]);
    expect(plaintext.toString('utf8')).toBe('cross-checked');

    // And the other way round: what node:crypto seals in this format, openSecret opens.
    const nodeIv = nodeRandomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', raw, nodeIv).setAAD(v1Aad('key:7'));
    const ciphertext = Buffer.concat([cipher.update('from node'), cipher.final(), cipher.getAuthTag()]);
    const nodeSealed = `v1.${toBase64Url(nodeIv)}.${toBase64Url(ciphertext)}`;
    expect(fromUtf8(await openSecret(key, nodeSealed, 'key:7'))).toBe('from node');
  });

  it('still opens the v1 value recorded in the fixture (stored keys depend on the format)', async () => {
    const key = await importMasterKey(fixture.masterKey);
    expect(fromUtf8(await openSecret(key, fixture.sealed, fixture.aad))).toBe(fixture.plaintext);
  });

  it('fails with DECRYPT_FAILED under another master key', async () => {
    const sealed = await sealSecret(await importMasterKey(generateMasterKey()), utf8('secret'), 'key:1');
    expect(await codeOf(openSecret(await importMasterKey(generateMasterKey()), sealed, 'key:1'))).toBe('DECRYPT_FAILED');
  });

  it('fails with DECRYPT_FAILED when moved to another row (other associated data)', async () => {
    const key = await importMasterKey(generateMasterKey());
    const sealed = await sealSecret(key, utf8('secret'), 'key:1');
    for (const otherRow of ['key:2', 'account:1', 'key:1 ', '']) {
      expect(await codeOf(openSecret(key, sealed, otherRow))).toBe('DECRYPT_FAILED');
    }
  });

  it('fails with DECRYPT_FAILED when any byte of IV, ciphertext or tag is changed', async () => {
    const key = await importMasterKey(generateMasterKey());
    const sealed = await sealSecret(key, utf8('0123456789'), 'key:1');
    const [version, iv, body] = sealed.split('.');
    const flip = (b64: string, index: number) => {
      const bytes = fromBase64Url(b64);
      bytes[index] ^= 0x01;
      return toBase64Url(bytes);
    };
    const bodyLength = fromBase64Url(body).length;
    const tampered = [
      `${version}.${flip(iv, 0)}.${body}`,
      `${version}.${flip(iv, 11)}.${body}`,
      `${version}.${iv}.${flip(body, 0)}`, // ciphertext
      `${version}.${iv}.${flip(body, bodyLength - 1)}`, // tag
      `${version}.${iv}.${toBase64Url(fromBase64Url(body).subarray(0, bodyLength - 1))}`, // truncated tag
    ];
    for (const value of tampered) expect(await codeOf(openSecret(key, value, 'key:1'))).toBe('DECRYPT_FAILED');
  });

  it('fails with DECRYPT_FAILED on malformed values', async () => {
    const key = await importMasterKey(generateMasterKey());
    const [, iv, body] = (await sealSecret(key, utf8('x'), 'key:1')).split('.');
    for (const value of ['', 'v1', `v2.${iv}.${body}`, `v1.${iv}`, `v1.${iv}.${body}.extra`, `v1.${iv}.!!!`, `v1.AAAA.${body}`, `v1.${iv}.AAAA`]) {
      expect(await codeOf(openSecret(key, value, 'key:1'))).toBe('DECRYPT_FAILED');
    }
  });
});

describe('importMasterKey', () => {
  it('takes 32 raw bytes or their base64, to the same key', async () => {
    const raw = generateMasterKey();
    const sealed = await sealSecret(await importMasterKey(raw), utf8('same key'), 'key:1');
    expect(fromUtf8(await openSecret(await importMasterKey(toBase64(raw)), sealed, 'key:1'))).toBe('same key');
    // Whitespace around base64 (a trailing newline in a key file) is fine.
    expect(await codeOf(importMasterKey(`${toBase64(raw)}\n`))).toBe('resolved');
  });

  it('makes a non-extractable AES-GCM key', async () => {
    const key = await importMasterKey(generateMasterKey());
    expect(key.extractable).toBe(false);
    expect(key.algorithm).toEqual({ name: 'AES-GCM', length: 256 });
    await expect(crypto.subtle.exportKey('raw', key)).rejects.toThrow();
  });

  it('refuses anything but 32 bytes with BAD_REQUEST and says so', async () => {
    for (const bad of [new Uint8Array(16), new Uint8Array(31), new Uint8Array(33), toBase64(new Uint8Array(24)), 'not base64!', '']) {
      const error = await importMasterKey(bad).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CertkeepError);
      expect((error as CertkeepError).code).toBe('BAD_REQUEST');
      expect((error as CertkeepError).message).toContain('32 random bytes');
    }
  });
});

describe('generateMasterKey', () => {
  it('returns 32 fresh random bytes', () => {
    const a = generateMasterKey();
    const b = generateMasterKey();
    expect(a).toHaveLength(32);
    expect(a).not.toEqual(b);
  });
});
