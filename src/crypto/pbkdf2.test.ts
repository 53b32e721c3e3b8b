import { pbkdf2Sync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fromBase64, randomBytes, toBase64, toHex, utf8 } from '../util/encoding.ts';
import { pbkdf2Sha256Portable } from './pbkdf2.ts';
import { inlineWorkerScript } from '../../test/harness/hosts.ts';

/** The error Cloudflare's production Workers throw for PBKDF2 above 100 000 iterations. */
const cloudflareRefusal = (iterations: number) =>
  new DOMException(`Pbkdf2 failed: iteration counts above 100000 are not supported (requested ${iterations}).`, 'NotSupportedError');

const nodePbkdf2 = (password: Uint8Array, salt: Uint8Array, iterations: number, bytes: number) =>
  toHex(pbkdf2Sync(password, salt, iterations, bytes, 'sha256'));

/** WebCrypto's own PBKDF2 (Node's), for comparison with the portable code. */
async function webCrypto(password: Uint8Array, salt: Uint8Array, iterations: number, bytes: number): Promise<string> {
  const key = await crypto.subtle.importKey('raw', password as Uint8Array<ArrayBuffer>, 'PBKDF2', false, ['deriveBits']);
  return toHex(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: salt as Uint8Array<ArrayBuffer>, iterations }, key, bytes * 8));
}

/**
 * A fresh copy of the module: it remembers a refusal for the rest of its life, and each test
 * below starts from a runtime it has not learned anything about yet.
 */
async function freshModule(): Promise<typeof import('./pbkdf2.ts')> {
  vi.resetModules();
  return import('./pbkdf2.ts');
}

describe('pbkdf2Sha256Portable', () => {
  // RFC 7914 §11 (the scrypt RFC lists PBKDF2-HMAC-SHA256 test vectors).
  it('gives the RFC 7914 vector for P="passwd", S="salt", c=1, dkLen=64', () => {
    expect(toHex(pbkdf2Sha256Portable(utf8('passwd'), utf8('salt'), 1, 64))).toBe(
      '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc' +
        '49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783',
    );
  });

  it('gives the RFC 7914 vector for P="Password", S="NaCl", c=80000, dkLen=64', () => {
    expect(toHex(pbkdf2Sha256Portable(utf8('Password'), utf8('NaCl'), 80_000, 64))).toBe(
      '4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56' +
        'a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d',
    );
  });

  it('equals WebCrypto for random passwords, salts and lengths, across block boundaries', async () => {
    // Password lengths around the HMAC block (64: used as is; 65: hashed first), salts long
    // enough that S || INT(i) spills into a second SHA-256 block, outputs of 1 to 4 PBKDF2 blocks.
    const passwordLengths = [0, 1, 31, 55, 56, 63, 64, 65, 100, 200];
    const saltLengths = [0, 8, 16, 51, 52, 59, 60, 64, 130];
    const outputLengths = [1, 16, 31, 32, 33, 64, 65, 100, 128];
    for (let round = 0; round < 40; round++) {
      const password = randomBytes(passwordLengths[round % passwordLengths.length]);
      const salt = randomBytes(saltLengths[round % saltLengths.length]);
      const bytes = outputLengths[round % outputLengths.length];
      const iterations = 1 + (randomBytes(1)[0] % 40);
      const what = `password ${password.length} B, salt ${salt.length} B, ${iterations} iterations, ${bytes} B`;
      expect(toHex(pbkdf2Sha256Portable(password, salt, iterations, bytes)), what).toBe(await webCrypto(password, salt, iterations, bytes));
    }
  });

  it('equals Node at the password count, 600 000 iterations', () => {
    const password = utf8('correct horse battery staple');
    const salt = randomBytes(16);
    expect(toHex(pbkdf2Sha256Portable(password, salt, 600_000, 32))).toBe(nodePbkdf2(password, salt, 600_000, 32));
  });

  it('refuses a count or length that is not a positive integer', () => {
    for (const [iterations, bytes] of [[0, 32], [-1, 32], [1.5, 32], [Number.NaN, 32], [1, 0], [1, 2.5]]) {
      expect(() => pbkdf2Sha256Portable(utf8('pw'), utf8('salt'), iterations, bytes)).toThrow(RangeError);
    }
  });
});

describe('pbkdf2Sha256', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('equals WebCrypto where WebCrypto accepts the count (empty password included)', async () => {
    const { pbkdf2Sha256 } = await freshModule();
    for (const [passwordLength, bytes] of [[0, 32], [12, 33], [80, 96]]) {
      const password = randomBytes(passwordLength);
      const salt = randomBytes(16);
      expect(toHex(await pbkdf2Sha256(password, salt, 2000, bytes))).toBe(await webCrypto(password, salt, 2000, bytes));
    }
  });

  it('falls back to the portable code when deriveBits refuses the count as Cloudflare does, and remembers', async () => {
    const { pbkdf2Sha256 } = await freshModule();
    const original = crypto.subtle.deriveBits.bind(crypto.subtle);
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits').mockImplementation(async (algorithm, key, length) => {
      const { iterations } = algorithm as Pbkdf2Params;
      if (iterations > 100_000) throw cloudflareRefusal(iterations);
      return original(algorithm, key, length);
    });
    const password = utf8('wörker 😀');
    const salt = randomBytes(16);

    expect(toHex(await pbkdf2Sha256(password, salt, 150_000, 32))).toBe(nodePbkdf2(password, salt, 150_000, 32));
    expect(deriveBits).toHaveBeenCalledTimes(1);

    // Learned: this count and higher ones go straight to the portable code ...
    expect(toHex(await pbkdf2Sha256(password, salt, 150_000, 40))).toBe(nodePbkdf2(password, salt, 150_000, 40));
    expect(toHex(await pbkdf2Sha256(password, salt, 160_000, 16))).toBe(nodePbkdf2(password, salt, 160_000, 16));
    expect(deriveBits).toHaveBeenCalledTimes(1);
    // ... while counts below the refused one still get the native implementation.
    expect(toHex(await pbkdf2Sha256(password, salt, 1000, 32))).toBe(nodePbkdf2(password, salt, 1000, 32));
    expect(deriveBits).toHaveBeenCalledTimes(2);
  });

  // The refusal recognised by its name alone, or by its words alone (a runtime that rewords it,
  // or one that reports it under another name).
  for (const refusal of [
    new DOMException('PBKDF2 iteration limit exceeded', 'NotSupportedError'),
    new Error('Pbkdf2 failed: iteration counts above 100000 are not supported (requested 120000).'),
  ]) {
    it(`also falls back on a refusal worded "${refusal.message}" (${refusal.name})`, async () => {
      const { pbkdf2Sha256 } = await freshModule();
      vi.spyOn(crypto.subtle, 'deriveBits').mockRejectedValue(refusal);
      const salt = randomBytes(16);
      expect(toHex(await pbkdf2Sha256(utf8('pw'), salt, 120_000, 32))).toBe(nodePbkdf2(utf8('pw'), salt, 120_000, 32));
    });
  }

  for (const unrelated of [new DOMException('Cipher job failed', 'OperationError'), new TypeError('Failed to execute deriveBits')]) {
    it(`passes an unrelated error through (${unrelated.name}) and learns nothing from it`, async () => {
      const { pbkdf2Sha256 } = await freshModule();
      const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits').mockRejectedValueOnce(unrelated);
      const salt = randomBytes(16);
      await expect(pbkdf2Sha256(utf8('pw'), salt, 150_000, 32)).rejects.toBe(unrelated);
      // The next call tries WebCrypto again (the real one now) rather than the portable code.
      expect(toHex(await pbkdf2Sha256(utf8('pw'), salt, 150_000, 32))).toBe(nodePbkdf2(utf8('pw'), salt, 150_000, 32));
      expect(deriveBits).toHaveBeenCalledTimes(2);
    });
  }

  it('refuses a bad count before asking WebCrypto, so both paths fail alike', async () => {
    const { pbkdf2Sha256 } = await freshModule();
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits');
    await expect(pbkdf2Sha256(utf8('pw'), utf8('salt'), 0, 32)).rejects.toThrow(RangeError);
    expect(deriveBits).not.toHaveBeenCalled();
  });
});

// ---- The same module under workerd ------------------------------------------------------------

describe('pbkdf2Sha256 under workerd', () => {
  // A throwaway worker that derives what it is sent. With CLOUDFLARE_LIMIT set it plays
  // Cloudflare's production runtime: deriveBits refuses counts above 100 000 with Cloudflare's
  // error, which local workerd does not do by itself.
  let script: string;
  const workers: Miniflare[] = [];

  beforeAll(async () => {
    script = await inlineWorkerScript(
      `import { pbkdf2Sha256 } from './pbkdf2.ts';
          import { fromBase64, toBase64 } from '../util/encoding.ts';
          let attempts = 0;
          function limit() {
            const original = crypto.subtle.deriveBits.bind(crypto.subtle);
            crypto.subtle.deriveBits = async (algorithm, key, length) => {
              attempts++;
              if (algorithm.iterations > 100000) throw new DOMException('Pbkdf2 failed: iteration counts above 100000 are not supported (requested ' + algorithm.iterations + ').', 'NotSupportedError');
              return original(algorithm, key, length);
            };
          }
          let limited = false;
          export default { async fetch(request, env) {
            if (env.CLOUDFLARE_LIMIT && !limited) { limit(); limited = true; }
            const { password, salt, iterations, bytes } = await request.json();
            const derived = await pbkdf2Sha256(fromBase64(password), fromBase64(salt), iterations, bytes);
            return Response.json({ derived: toBase64(derived), deriveBitsAttempts: attempts });
          } };`,
      fileURLToPath(new URL('.', import.meta.url)),
    );
  });

  afterAll(async () => {
    await Promise.all(workers.map((mf) => mf.dispose()));
  });

  async function startWorker(cloudflareLimit: boolean) {
    const mf = new Miniflare({ modules: true, script, compatibilityDate: '2025-09-01', bindings: cloudflareLimit ? { CLOUDFLARE_LIMIT: '1' } : {} });
    workers.push(mf);
    return async (password: Uint8Array, salt: Uint8Array, iterations: number, bytes: number) => {
      const response = await mf.dispatchFetch('http://localhost/', {
        method: 'POST',
        body: JSON.stringify({ password: toBase64(password), salt: toBase64(salt), iterations, bytes }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { derived: string; deriveBitsAttempts: number };
      return { derived: toHex(fromBase64(body.derived)), attempts: body.deriveBitsAttempts };
    };
  }

  it('computes 600 000 iterations with the portable code where the runtime refuses them, as Node does', async () => {
    const derive = await startWorker(true);
    const salt = randomBytes(16);
    // Refused, then derived in TypeScript: a long password (hashed into the HMAC key) and two
    // PBKDF2 blocks.
    const long = randomBytes(70);
    expect(await derive(long, salt, 150_000, 48)).toEqual({ derived: nodePbkdf2(long, salt, 150_000, 48), attempts: 1 });
    // Remembered inside the isolate: the password count goes straight to the portable code.
    const password = utf8('correct horse battery staple');
    expect(await derive(password, salt, 600_000, 32)).toEqual({ derived: nodePbkdf2(password, salt, 600_000, 32), attempts: 1 });
    // A count below the refused one is still asked of the runtime.
    expect(await derive(new Uint8Array(0), salt, 1000, 32)).toEqual({ derived: nodePbkdf2(new Uint8Array(0), salt, 1000, 32), attempts: 2 });
  });

  it('uses workerd’s own PBKDF2 where it accepts the count, with the same result', async () => {
    const derive = await startWorker(false);
    const password = utf8('correct horse battery staple');
    const salt = randomBytes(16);
    expect(await derive(password, salt, 600_000, 32)).toEqual({ derived: nodePbkdf2(password, salt, 600_000, 32), attempts: 0 });
  });
});
