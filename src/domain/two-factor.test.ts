// Switching 2FA on and off against a real libSQL file: the enrolment token is bound to its
// session, a wrong code writes nothing, the confirming code cannot sign in again, recovery codes
// work once each, re-authentication counts towards the lock-out, and other sessions end.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';
import type { Deps } from '../deps.ts';
import { openSecret } from '../crypto/index.ts';
import { users } from '../db/schema.ts';
import { fromUtf8 } from '../util/encoding.ts';
import { totpCode } from '../auth/totp.ts';
import { hashPassword } from './passwords.ts';
import { newId } from './secrets.ts';
import { createSession, loadSession, signIn, totpAad, type UserRow } from './sessions.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import {
  RECOVERY_CODE_COUNT,
  beginEnrolment,
  disableTwoFactor,
  enableTwoFactor,
  reauthenticate,
  recoveryCodesLeft,
  regenerateRecoveryCodes,
  resumeEnrolment,
  twoFactorEnabled,
} from './two-factor.ts';
import { BY_CLI } from './audit.ts';

const PASSWORD = 'correct horse battery staple';
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0); // the start of a 30 s step

let opened: OpenedDatabase;
let deps: Deps;
let now: number;
let user: UserRow;

beforeEach(async () => {
  opened = await openDatabase(`file:${makeTempDir('two-factor-')}/certkeep.db`);
  now = T0;
  deps = await offlineDeps(opened.database, { now: () => now });
  const id = newId();
  // Fewer PBKDF2 iterations than production: the format records them, verification reads them.
  await deps.db.db.insert(users).values({ id, email: 'admin@example.com', passwordHash: await hashPassword(PASSWORD, 1000), failedLogins: 0, createdAt: now, updatedAt: now });
  user = await reload();
});
afterEach(() => opened.close());

async function reload(): Promise<UserRow> {
  const [row] = await deps.db.db.select().from(users).where(eq(users.email, 'admin@example.com'));
  return row;
}

const sign = (code?: string, password = PASSWORD) => signIn(deps, { email: 'admin@example.com', password, code, clientIp: '127.0.0.1' });

describe('enrolment', () => {
  it('returns a secret, its otpauth URI and a token that opens only in the same session', async () => {
    const e = await beginEnrolment(deps, user, 'session-a');
    expect(e.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(e.uri).toBe(`otpauth://totp/Certkeep:admin%40example.com?secret=${e.secret}&issuer=Certkeep&algorithm=SHA1&digits=6&period=30`);
    expect(e.token).not.toContain(e.secret);
    expect((await resumeEnrolment(deps, user, 'session-a', e.token)).secret).toBe(e.secret);
    await expect(resumeEnrolment(deps, user, 'session-b', e.token)).rejects.toMatchObject({ code: 'BAD_REQUEST', details: { field: 'enrolment' } });
    await expect(resumeEnrolment(deps, user, 'session-a', e.token.slice(0, -2) + 'AA')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(twoFactorEnabled(await reload())).toBe(false); // nothing written
  });

  it('refuses a wrong code and writes nothing', async () => {
    const e = await beginEnrolment(deps, user, 's');
    const right = await totpCode(e.secret, now);
    const wrong = right === '000000' ? '000001' : '000000';
    await expect(enableTwoFactor(deps, BY_CLI, user, { secret: e.secret, code: wrong })).rejects.toMatchObject({ code: 'BAD_REQUEST', details: { field: 'code' } });
    const row = await reload();
    expect(row.totpSecretSealed).toBeNull();
    expect(row.recoveryCodes).toBeNull();
  });

  it('switches on with a current code: sealed secret, the code used up, ten hashed recovery codes', async () => {
    const e = await beginEnrolment(deps, user, 's');
    const code = await totpCode(e.secret, now);
    const codes = await enableTwoFactor(deps, BY_CLI, user, { secret: e.secret, code });
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT);
    expect(new Set(codes).size).toBe(RECOVERY_CODE_COUNT);
    const row = await reload();
    expect(twoFactorEnabled(row)).toBe(true);
    expect(fromUtf8(await openSecret(deps.masterKey, row.totpSecretSealed!, totpAad(row.id)))).toBe(e.secret);
    expect(row.totpSecretSealed).not.toContain(e.secret);
    expect(recoveryCodesLeft(row)).toBe(RECOVERY_CODE_COUNT);
    for (const c of codes) expect(row.recoveryCodes).not.toContain(c.replace('-', ''));
    expect(row.totpLastStep).toBe(Math.floor(now / 30_000));

    // Sign-in now needs a code; the enrolment's own code is spent, the next step's works once.
    expect(await sign()).toMatchObject({ ok: false, reason: 'second-factor' });
    expect(await sign(code)).toMatchObject({ ok: false, reason: 'invalid' });
    now += 30_000;
    const next = await totpCode(e.secret, now);
    expect(await sign(next)).toMatchObject({ ok: true });
    expect(await sign(next)).toMatchObject({ ok: false, reason: 'invalid' });

    // A recovery code works once.
    expect(await sign(codes[3])).toMatchObject({ ok: true });
    expect(await sign(codes[3])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(recoveryCodesLeft(await reload())).toBe(RECOVERY_CODE_COUNT - 1);
  });

  it('cannot be confirmed twice (the second confirmation would hide its recovery codes)', async () => {
    const a = await beginEnrolment(deps, user, 's');
    await enableTwoFactor(deps, BY_CLI, user, { secret: a.secret, code: await totpCode(a.secret, now) });
    const b = await beginEnrolment(deps, user, 's');
    await expect(enableTwoFactor(deps, BY_CLI, user, { secret: b.secret, code: await totpCode(b.secret, now) })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(fromUtf8(await openSecret(deps.masterKey, (await reload()).totpSecretSealed!, totpAad(user.id)))).toBe(a.secret);
  });

  it('ends the other sessions, keeping the one that switched it on', async () => {
    const mine = await createSession(deps, BY_CLI, user);
    const other = await createSession(deps, BY_CLI, user);
    const e = await beginEnrolment(deps, user, mine.session.id);
    await enableTwoFactor(deps, BY_CLI, user, { secret: e.secret, code: await totpCode(e.secret, now) }, mine.session.id);
    expect(await loadSession(deps, mine.token)).not.toBeNull();
    expect(await loadSession(deps, other.token)).toBeNull();
  });
});

describe('re-authentication, switching off and new recovery codes', () => {
  async function enabled(): Promise<{ secret: string; codes: string[] }> {
    const e = await beginEnrolment(deps, user, 's');
    const codes = await enableTwoFactor(deps, BY_CLI, user, { secret: e.secret, code: await totpCode(e.secret, now) });
    now += 30_000;
    user = await reload();
    return { secret: e.secret, codes };
  }

  it('asks for the password alone while 2FA is off', async () => {
    expect(await reauthenticate(deps, user, { password: PASSWORD, clientIp: '127.0.0.1' })).toMatchObject({ ok: true });
    expect(await reauthenticate(deps, user, { password: 'wrong password', clientIp: '127.0.0.1' })).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('asks for password and a code while 2FA is on; each code counts once', async () => {
    const { secret, codes } = await enabled();
    expect(await reauthenticate(deps, user, { password: PASSWORD, clientIp: '127.0.0.1' })).toMatchObject({ ok: false, reason: 'second-factor' });
    const code = await totpCode(secret, now);
    expect(await reauthenticate(deps, user, { password: 'wrong password', code, clientIp: '127.0.0.1' })).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await reauthenticate(deps, user, { password: PASSWORD, code, clientIp: '127.0.0.1' })).toMatchObject({ ok: true });
    expect(await reauthenticate(deps, user, { password: PASSWORD, code, clientIp: '127.0.0.1' })).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await reauthenticate(deps, user, { password: PASSWORD, code: codes[0], clientIp: '127.0.0.1' })).toMatchObject({ ok: true });
  });

  it('locks the account after five wrong passwords, like sign-in', async () => {
    for (let i = 0; i < 4; i++) expect(await reauthenticate(deps, user, { password: `wrong ${i}`, clientIp: '127.0.0.1' })).toMatchObject({ reason: 'invalid' });
    expect(await reauthenticate(deps, user, { password: 'wrong 5', clientIp: '127.0.0.1' })).toMatchObject({ reason: 'locked' });
    expect(await reauthenticate(deps, user, { password: PASSWORD, clientIp: '127.0.0.1' })).toMatchObject({ reason: 'locked' });
  });

  it('switches off: no secret, no codes, password alone signs in; other sessions end', async () => {
    await enabled();
    const mine = await createSession(deps, BY_CLI, user);
    const other = await createSession(deps, BY_CLI, user);
    await disableTwoFactor(deps, BY_CLI, user, mine.session.id);
    const row = await reload();
    expect([row.totpSecretSealed, row.totpLastStep, row.recoveryCodes]).toEqual([null, null, null]);
    expect(await sign()).toMatchObject({ ok: true });
    expect(await loadSession(deps, mine.token)).not.toBeNull();
    expect(await loadSession(deps, other.token)).toBeNull();
  });

  it('replaces every recovery code: the old ones stop working', async () => {
    const { codes } = await enabled();
    const fresh = await regenerateRecoveryCodes(deps, BY_CLI, user);
    expect(fresh).toHaveLength(RECOVERY_CODE_COUNT);
    expect(fresh.some((c) => codes.includes(c))).toBe(false);
    expect(await sign(codes[0])).toMatchObject({ ok: false });
    expect(await sign(fresh[0])).toMatchObject({ ok: true });
  });

  it('has no recovery codes to replace while 2FA is off', async () => {
    await expect(regenerateRecoveryCodes(deps, BY_CLI, user)).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});
