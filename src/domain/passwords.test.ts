// Password hashes: one stored format on both hosts, at the production count even where WebCrypto
// refuses it (Cloudflare), and a decoy that makes an unknown email cost what a known one does.
import { pbkdf2Sync } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../../node-host/db.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';
import { users } from '../db/schema.ts';
import { fromBase64Url, randomBytes, toBase64Url } from '../util/encoding.ts';
import { newId } from './secrets.ts';

const PASSWORD = 'correct horse battery staple';
const STORED = /^pbkdf2-sha256\$(\d+)\$([A-Za-z0-9_-]{22})\$([A-Za-z0-9_-]{43})$/;

/** A hash in the stored format, derived by Node's own PBKDF2: what an earlier release wrote. */
function nodeHash(password: string, iterations: number): string {
  const salt = randomBytes(16);
  return `pbkdf2-sha256$${iterations}$${toBase64Url(salt)}$${toBase64Url(pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256'))}`;
}

/** Fresh modules, so no test inherits what another taught pbkdf2.ts about the runtime. */
async function passwords(): Promise<typeof import('./passwords.ts')> {
  vi.resetModules();
  return import('./passwords.ts');
}

/** deriveBits as on Cloudflare's production Workers: counts above 100 000 refused. */
function refuseLikeCloudflare() {
  const original = crypto.subtle.deriveBits.bind(crypto.subtle);
  return vi.spyOn(crypto.subtle, 'deriveBits').mockImplementation(async (algorithm, key, length) => {
    const { iterations } = algorithm as Pbkdf2Params;
    if (iterations > 100_000) {
      throw new DOMException(`Pbkdf2 failed: iteration counts above 100000 are not supported (requested ${iterations}).`, 'NotSupportedError');
    }
    return original(algorithm, key, length);
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('hashPassword / verifyPassword', () => {
  it('stores pbkdf2-sha256$600000$salt$hash and verifies only the right password', async () => {
    const { hashPassword, verifyPassword, PBKDF2_ITERATIONS } = await passwords();
    const stored = await hashPassword(PASSWORD);
    expect(stored).toMatch(STORED);
    expect(Number(STORED.exec(stored)![1])).toBe(PBKDF2_ITERATIONS);
    expect(PBKDF2_ITERATIONS).toBe(600_000);
    expect(await verifyPassword(PASSWORD, stored)).toBe(true);
    expect(await verifyPassword(PASSWORD + ' ', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('verifies hashes made before, at any count, and compares NFKC-normalised passwords', async () => {
    const { verifyPassword } = await passwords();
    expect(await verifyPassword(PASSWORD, nodeHash(PASSWORD, 600_000))).toBe(true);
    expect(await verifyPassword(PASSWORD, nodeHash(PASSWORD, 1000))).toBe(true);
    expect(await verifyPassword('ﬁle', nodeHash('file', 1000))).toBe(true); // U+FB01 is NFKC "fi"
  });

  it('on Cloudflare (WebCrypto refusing 600 000) makes and verifies the very same hashes', async () => {
    const deriveBits = refuseLikeCloudflare();
    const { hashPassword, verifyPassword } = await passwords();
    const stored = await hashPassword(PASSWORD);
    expect(deriveBits).toHaveBeenCalledTimes(1); // refused once, then remembered
    // What the Worker wrote, Node's PBKDF2 agrees with byte for byte ...
    const [, iterations, salt, hash] = STORED.exec(stored)!;
    expect(toBase64Url(pbkdf2Sync(PASSWORD, fromBase64Url(salt), Number(iterations), 32, 'sha256'))).toBe(hash);
    // ... and what the node host wrote, the Worker verifies.
    expect(await verifyPassword(PASSWORD, nodeHash(PASSWORD, 600_000))).toBe(true);
    expect(await verifyPassword('wrong password', stored)).toBe(false);
    expect(deriveBits).toHaveBeenCalledTimes(1);
  });

  it('says no to a stored value it cannot read, without deriving anything', async () => {
    const { verifyPassword } = await passwords();
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits');
    const good = nodeHash(PASSWORD, 1000);
    for (const stored of ['', 'bcrypt$10$x$y', good.replace('$1000$', '$0$'), good.replace('$1000$', '$-5$'), good.replace('$1000$', '$1e3x$'), good.split('$').slice(0, 3).join('$')]) {
      expect(await verifyPassword(PASSWORD, stored), stored).toBe(false);
    }
    expect(deriveBits).not.toHaveBeenCalled();
  });
});

describe('decoyPasswordHash', () => {
  it('is a well-formed hash at the production count that no password matches', async () => {
    const { decoyPasswordHash, verifyPassword, PBKDF2_ITERATIONS } = await passwords();
    const decoy = decoyPasswordHash();
    expect(decoy).toMatch(STORED);
    expect(Number(STORED.exec(decoy)![1])).toBe(PBKDF2_ITERATIONS);
    expect(decoyPasswordHash()).not.toBe(decoy);
    expect(await verifyPassword('', decoy)).toBe(false);
    expect(await verifyPassword(PASSWORD, decoy)).toBe(false);
  });

  it('makes sign-in derive exactly once at 600 000 iterations for an unknown email, the first one too, as for a known one', async () => {
    const { hashPassword } = await passwords();
    const { signIn } = await import('./sessions.ts');
    const opened = await openDatabase(`file:${makeTempDir('passwords-')}/certkeep.db`);
    try {
      const deps = await offlineDeps(opened.database);
      const now = Date.now();
      await deps.db.db.insert(users).values({ id: newId(), email: 'admin@example.com', passwordHash: await hashPassword(PASSWORD), failedLogins: 0, createdAt: now, updatedAt: now });
      const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits');
      const countsFor = async (email: string) => {
        deriveBits.mockClear();
        expect(await signIn(deps, { email, password: 'not the password', clientIp: '127.0.0.1' })).toEqual({ ok: false, reason: 'invalid' });
        return deriveBits.mock.calls.map(([algorithm]) => (algorithm as Pbkdf2Params).iterations);
      };
      expect(await countsFor('nobody@example.com')).toEqual([600_000]);
      expect(await countsFor('someone-else@example.com')).toEqual([600_000]);
      expect(await countsFor('admin@example.com')).toEqual([600_000]);
    } finally {
      opened.close();
    }
  });
});

// ASP.NET Core Identity's published test vectors (dotnet/aspnetcore,
// src/Identity/Extensions.Core/test/PasswordHasherTest.cs): hashes of "my password".
const ASPNET_PASSWORD = 'my password';
const ASPNET_VECTORS = {
  'v2, HMAC-SHA1, 1000 iterations': 'AAABAgMEBQYHCAkKCwwNDg+ukCEMDf0yyQ29NYubggHIVY0sdEUfdyeM+E1LtH1uJg==',
  'v3, HMAC-SHA1, 250 iterations, 128-bit subkey': 'AQAAAAAAAAD6AAAAEAhftMyfTJylOlZT+eEotFXd1elee8ih5WsjXaR3PA9M',
  'v3, HMAC-SHA256, 250 000 iterations, 256-bit salt': 'AQAAAAEAA9CQAAAAIESkQuj2Du8Y+kbc5lcN/W/3NiAZFEm11P27nrSN5/tId+bR1SwV8CO1Jd72r4C08OLvplNlCDc3oQZ8efcW+jQ=',
  'v3, HMAC-SHA512, 10 000 iterations': 'AQAAAAIAACcQAAAAEAABAgMEBQYHCAkKCwwNDg9B0Oxwty+PGIDSp95gcCfzeDvA4sGapUIUov8usXfD6A==',
};

/** What Certera stored: v3, HMAC-SHA256, 10 000 iterations, 16-byte salt, 32-byte subkey — made here with Node's own PBKDF2. */
function certeraHash(password: string): string {
  const salt = randomBytes(16);
  const header = Buffer.alloc(13);
  header[0] = 0x01;
  header.writeUInt32BE(1, 1);
  header.writeUInt32BE(10_000, 5);
  header.writeUInt32BE(16, 9);
  return Buffer.concat([header, salt, pbkdf2Sync(Buffer.from(password, 'utf8'), salt, 10_000, 32, 'sha256')]).toString('base64');
}

describe('ASP.NET Core Identity hashes (imported from Certera)', () => {
  it.each(Object.entries(ASPNET_VECTORS))('verifies the published %s vector, and nothing else', async (_name, vector) => {
    const { aspNetIdentityHash, verifyPassword, needsRehash } = await passwords();
    const stored = aspNetIdentityHash(vector)!;
    expect(stored).toBe(`aspnet-identity$${vector}`);
    expect(needsRehash(stored)).toBe(true);
    expect(await verifyPassword(ASPNET_PASSWORD, stored)).toBe(true);
    expect(await verifyPassword('My password', stored)).toBe(false);
  });

  it("verifies Certera's own layout (v3, HMAC-SHA256, 10 000 iterations) and costs what our own check costs", async () => {
    const { aspNetIdentityHash, verifyPassword } = await passwords();
    const stored = aspNetIdentityHash(certeraHash('s3cret Certera pass'))!;
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits');
    expect(await verifyPassword('wrong', stored)).toBe(false);
    // The cheap ASP.NET derivation, and one at the production count beside it.
    expect(deriveBits.mock.calls.map(([a]) => (a as Pbkdf2Params).iterations).sort((a, b) => a - b)).toEqual([10_000, 600_000]);
    expect(await verifyPassword('s3cret Certera pass', stored)).toBe(true);
  });

  it('refuses to store what it could not verify later', async () => {
    const { aspNetIdentityHash, verifyPassword } = await passwords();
    const good = Buffer.from(certeraHash('x'), 'base64');
    const variant = (f: (b: Buffer) => void) => {
      const b = Buffer.from(good);
      f(b);
      return b.toString('base64');
    };
    for (const bad of [
      '',
      'not base64 at all!',
      'AAAA',
      variant((b) => (b[0] = 0x02)), // unknown format marker
      variant((b) => b.writeUInt32BE(3, 1)), // unknown PRF
      variant((b) => b.writeUInt32BE(0, 5)), // no iterations
      variant((b) => b.writeUInt32BE(50_000_000, 5)), // absurd work
      variant((b) => b.writeUInt32BE(8, 9)), // salt under 128 bits
      variant((b) => b.writeUInt32BE(200, 9)), // salt longer than the value
      good.subarray(0, 13 + 16 + 8).toString('base64'), // subkey under 128 bits
      Buffer.concat([Buffer.from([0]), Buffer.alloc(47)]).toString('base64'), // v2 of the wrong length
    ]) {
      expect(aspNetIdentityHash(bad), bad).toBeNull();
    }
    // A damaged stored value verifies nothing.
    expect(await verifyPassword('x', 'aspnet-identity$AAAA')).toBe(false);
  });

  it('signs in with the Certera password once, then holds our own hash for the same password', async () => {
    const { aspNetIdentityHash, needsRehash } = await passwords();
    const { signIn } = await import('./sessions.ts');
    const opened = await openDatabase(`file:${makeTempDir('passwords-')}/certkeep.db`);
    try {
      const deps = await offlineDeps(opened.database);
      const now = Date.now();
      const id = newId();
      await deps.db.db.insert(users).values({ id, email: 'admin@example.com', passwordHash: aspNetIdentityHash(certeraHash('s3cret Certera pass'))!, failedLogins: 0, createdAt: now, updatedAt: now });
      const stored = async () => (await deps.db.db.select().from(users)).find((u) => u.id === id)!.passwordHash;
      expect(await signIn(deps, { email: 'admin@example.com', password: 'wrong', clientIp: '127.0.0.1' })).toEqual({ ok: false, reason: 'invalid' });
      expect(await stored()).toMatch(/^aspnet-identity\$/);
      expect((await signIn(deps, { email: 'admin@example.com', password: 's3cret Certera pass', clientIp: '127.0.0.1' })).ok).toBe(true);
      const after = await stored();
      expect(after).toMatch(STORED);
      expect(needsRehash(after)).toBe(false);
      expect((await signIn(deps, { email: 'admin@example.com', password: 's3cret Certera pass', clientIp: '127.0.0.1' })).ok).toBe(true);
      expect(await stored()).toBe(after);
    } finally {
      opened.close();
    }
  });
});
