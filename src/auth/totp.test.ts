import { describe, expect, it } from 'vitest';
import { CertkeepError } from '../errors.ts';
import { utf8 } from '../util/encoding.ts';
import { fromBase32, generateTotpSecret, hotp, otpauthUri, toBase32, totpCode, verifyTotp } from './totp.ts';

// RFC 6238 Appendix B and RFC 4226 Appendix D use the ASCII seed "12345678901234567890".
const RFC_SEED = utf8('12345678901234567890');
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

describe('base32 (RFC 4648 §10 test vectors)', () => {
  const vectors: Array<[string, string]> = [
    ['', ''],
    ['f', 'MY======'],
    ['fo', 'MZXQ===='],
    ['foo', 'MZXW6==='],
    ['foob', 'MZXW6YQ='],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI======'],
  ];

  it.each(vectors)('encodes %j without padding', (plain, encoded) => {
    expect(toBase32(utf8(plain))).toBe(encoded.replace(/=+$/, ''));
  });

  it.each(vectors)('decodes %j from the padded form, and from lower case with spaces', (plain, encoded) => {
    expect(fromBase32(encoded)).toEqual(utf8(plain));
    const sloppy = encoded.replace(/=+$/, '').toLowerCase().replace(/(.{4})/g, '$1 ');
    expect(fromBase32(sloppy)).toEqual(utf8(plain));
  });

  it('round-trips every length of random bytes', () => {
    for (let length = 0; length <= 41; length++) {
      const bytes = crypto.getRandomValues(new Uint8Array(length));
      expect(fromBase32(toBase32(bytes))).toEqual(bytes);
    }
  });

  it('encodes the RFC seed as authenticator apps show it', () => {
    expect(toBase32(RFC_SEED)).toBe(RFC_SECRET);
  });

  it.each([
    ['a character outside the alphabet', 'MZXW1'],
    ['padding in the middle', 'MY==MZXQ'],
    ['a length no encoder produces', 'MZX'],
    ['non-zero bits after the last byte', 'MZ'],
  ])('refuses %s', (_why, text) => {
    expect(() => fromBase32(text)).toThrow(TypeError);
  });
});

describe('HOTP (RFC 4226 Appendix D)', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  it.each(expected.map((code, counter) => [counter, code]))('counter %i → %s', async (counter, code) => {
    expect(await hotp(RFC_SEED, counter)).toBe(code);
  });
});

describe('TOTP (RFC 6238 Appendix B, SHA-1)', () => {
  const vectors: Array<[number, string]> = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];

  it.each(vectors)('at %i s the 8-digit code is %s', async (seconds, code) => {
    expect(await hotp(RFC_SEED, Math.floor(seconds / 30), 8)).toBe(code);
  });

  it.each(vectors)('at %i s the 6-digit code is the last six of %s', async (seconds, code) => {
    expect(await totpCode(RFC_SECRET, seconds * 1000)).toBe(code.slice(-6));
  });

  it('changes exactly at step boundaries', async () => {
    expect(await totpCode(RFC_SECRET, 29_999)).toBe(await totpCode(RFC_SECRET, 0));
    expect(await totpCode(RFC_SECRET, 30_000)).toBe(await totpCode(RFC_SECRET, 59_999));
    expect(await totpCode(RFC_SECRET, 30_000)).not.toBe(await totpCode(RFC_SECRET, 29_999));
  });
});

describe('verifyTotp', () => {
  const now = 1_700_000_015_000; // in the middle of a step
  const step = Math.floor(now / 30_000);
  const codeAt = (s: number): Promise<string> => totpCode(RFC_SECRET, s * 30_000);

  it('accepts the current code and returns its step', async () => {
    expect(await verifyTotp({ secret: RFC_SECRET, code: await codeAt(step), nowMs: now })).toEqual({ ok: true, step });
  });

  it.each([-1, 1])('accepts one step of drift (%i)', async (drift) => {
    const result = await verifyTotp({ secret: RFC_SECRET, code: await codeAt(step + drift), nowMs: now });
    expect(result).toEqual({ ok: true, step: step + drift });
  });

  it.each([-2, 2, -10])('refuses %i steps of drift', async (drift) => {
    expect(await verifyTotp({ secret: RFC_SECRET, code: await codeAt(step + drift), nowMs: now })).toEqual({ ok: false });
  });

  it('refuses a code replayed after it was accepted', async () => {
    const code = await codeAt(step);
    const first = await verifyTotp({ secret: RFC_SECRET, code, nowMs: now, lastUsedStep: null });
    expect(first).toEqual({ ok: true, step });
    if (!first.ok) return;
    // Still inside the window 20 s later, but its step is the one stored.
    expect(await verifyTotp({ secret: RFC_SECRET, code, nowMs: now + 20_000, lastUsedStep: first.step })).toEqual({ ok: false });
  });

  it('refuses an older code once a newer step was used, and accepts the next one', async () => {
    expect(await verifyTotp({ secret: RFC_SECRET, code: await codeAt(step - 1), nowMs: now, lastUsedStep: step })).toEqual({ ok: false });
    expect(await verifyTotp({ secret: RFC_SECRET, code: await codeAt(step + 1), nowMs: now, lastUsedStep: step })).toEqual({
      ok: true,
      step: step + 1,
    });
  });

  it('ignores spaces as apps display them ("123 456")', async () => {
    const code = await codeAt(step);
    expect(await verifyTotp({ secret: RFC_SECRET, code: ` ${code.slice(0, 3)} ${code.slice(3)} `, nowMs: now })).toEqual({ ok: true, step });
  });

  it('accepts a secret written in lower case with spaces, as stored or typed', async () => {
    const sloppy = RFC_SECRET.toLowerCase().replace(/(.{4})/g, '$1 ');
    expect(await verifyTotp({ secret: sloppy, code: await codeAt(step), nowMs: now })).toEqual({ ok: true, step });
  });

  it('refuses a code computed with another secret', async () => {
    const other = generateTotpSecret();
    const code = await totpCode(other, now);
    // Skip the one-in-a-million case where the other secret yields a valid code by chance.
    const collides = (await Promise.all([-1, 0, 1].map((d) => codeAt(step + d)))).includes(code);
    if (!collides) expect(await verifyTotp({ secret: RFC_SECRET, code, nowMs: now })).toEqual({ ok: false });
  });

  it.each(['', '12345', '1234567', '12345a', '١٢٣٤٥٦', '+12345', '12 34 5'])('refuses non-6-digit input %j', async (code) => {
    expect(await verifyTotp({ secret: RFC_SECRET, code, nowMs: now })).toEqual({ ok: false });
  });

  it('refuses the 8-digit form of a valid code', async () => {
    const eight = await hotp(RFC_SEED, step, 8);
    expect(await verifyTotp({ secret: RFC_SECRET, code: eight, nowMs: now })).toEqual({ ok: false });
    expect(await verifyTotp({ secret: RFC_SECRET, code: eight.slice(-6), nowMs: now })).toEqual({ ok: true, step });
  });
});

describe('generateTotpSecret', () => {
  it('makes 160 random bits in unpadded base32', () => {
    const secret = generateTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(fromBase32(secret)).toHaveLength(20);
    expect(generateTotpSecret()).not.toBe(secret);
  });
});

describe('otpauthUri', () => {
  it('builds the Key Uri Format with issuer in label and parameter', () => {
    expect(otpauthUri({ secret: RFC_SECRET, account: 'admin@example.com', issuer: 'Certkeep' })).toBe(
      `otpauth://totp/Certkeep:admin%40example.com?secret=${RFC_SECRET}&issuer=Certkeep&algorithm=SHA1&digits=6&period=30`,
    );
  });

  it('percent-encodes spaces, non-ASCII and reserved characters, and canonicalises the secret', () => {
    const uri = otpauthUri({ secret: RFC_SECRET.toLowerCase(), account: 'a&b=c?d/e#f', issuer: 'Certkeep Zürich' });
    expect(uri).toBe(
      `otpauth://totp/Certkeep%20Z%C3%BCrich:a%26b%3Dc%3Fd%2Fe%23f?secret=${RFC_SECRET}&issuer=Certkeep%20Z%C3%BCrich&algorithm=SHA1&digits=6&period=30`,
    );
    const parsed = new URL(uri);
    expect(parsed.searchParams.get('issuer')).toBe('Certkeep Zürich');
    expect(decodeURIComponent(parsed.pathname.split(':')[1])).toBe('a&b=c?d/e#f');
  });

  it.each([
    [{ issuer: 'Cert:keep', account: 'admin' }, 'issuer'],
    [{ issuer: 'Certkeep', account: 'ad:min' }, 'account'],
    [{ issuer: '', account: 'admin' }, 'issuer'],
  ])('refuses a colon or an empty field (%j)', (fields, field) => {
    let error: unknown;
    try {
      otpauthUri({ secret: RFC_SECRET, ...fields });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CertkeepError);
    expect(error).toMatchObject({ code: 'BAD_REQUEST', details: { field } });
  });
});
