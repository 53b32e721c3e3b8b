// Two-factor sign-in for the admin: switching TOTP (RFC 6238) on and off, and the one-time
// recovery codes that stand in for a lost phone.
//
// Switching on takes two requests: the enrolment page shows a new secret (QR code and text),
// and the confirmation proves an authenticator app holds it by sending a code it made. Between
// the two, the secret travels in the page itself, sealed under the master key and bound to the
// session — nothing is written until the code matches, and a sealed secret copied into another
// session does not open. The secret is then stored sealed under the user (`totpAad`), with the
// hashes of ten new recovery codes, shown to the admin once.
//
// Changing any of this needs the current password (and, while 2FA is on, a current code): see
// `reauthenticate`, which goes through sign-in's own checks so that its failures count towards
// the account's lock-out like any other wrong password.
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { users } from '../db/schema.ts';
import { openSecret, sealSecret } from '../crypto/index.ts';
import { fromUtf8, utf8 } from '../util/encoding.ts';
import { generateTotpSecret, otpauthUri, verifyTotp } from '../auth/totp.ts';
import { generateRecoveryCodes, hashRecoveryCode } from '../auth/recovery.ts';
import { endUserSessions, signIn, totpAad, type UserRow } from './sessions.ts';
import { audit, auditIf, type By } from './audit.ts';

/** How many recovery codes a user gets at a time (what Certera and most sites give). */
export const RECOVERY_CODE_COUNT = 10;

/** The issuer authenticator apps show beside the account. */
export const TOTP_ISSUER = 'Certkeep';

const enrolmentAad = (sessionId: string, userId: string) => `totp-enrolment:${userId}:${sessionId}`;

export interface Enrolment {
  /** base32, for typing into an app by hand. */
  secret: string;
  /** The otpauth:// URI the QR code carries. */
  uri: string;
  /** The secret sealed to this session: what the confirmation form sends back. */
  token: string;
}

export function twoFactorEnabled(user: UserRow): boolean {
  return user.totpSecretSealed !== null;
}

export function recoveryCodesLeft(user: UserRow): number {
  return user.recoveryCodes ? (JSON.parse(user.recoveryCodes) as string[]).length : 0;
}

/** A new secret to enrol, sealed to the session that will confirm it. Writes nothing. */
export async function beginEnrolment(deps: Deps, user: UserRow, sessionId: string): Promise<Enrolment> {
  const secret = generateTotpSecret();
  const token = await sealSecret(deps.masterKey, utf8(secret), enrolmentAad(sessionId, user.id));
  return { secret, uri: enrolmentUri(user, secret), token };
}

/** The enrolment a confirmation form sent back; BAD_REQUEST when it is not this session's. */
export async function resumeEnrolment(deps: Deps, user: UserRow, sessionId: string, token: string): Promise<Enrolment> {
  let secret: string;
  try {
    secret = fromUtf8(await openSecret(deps.masterKey, token, enrolmentAad(sessionId, user.id)));
  } catch {
    throw new CertkeepError('BAD_REQUEST', 'enrolment: this set-up page belongs to another session; start again', { field: 'enrolment' });
  }
  return { secret, uri: enrolmentUri(user, secret), token };
}

function enrolmentUri(user: UserRow, secret: string): string {
  // A colon separates issuer and account in the label; an email address holds none, but be sure.
  return otpauthUri({ secret, issuer: TOTP_ISSUER, account: user.email.replaceAll(':', '') });
}

/**
 * Switches 2FA on once `code` shows that an app holds `secret`. Returns the new recovery codes
 * (the only time they exist in clear). The code's step is stored as used, so the same code
 * cannot also sign in. Ends the user's other sessions.
 */
export async function enableTwoFactor(
  deps: Deps,
  by: By,
  user: UserRow,
  input: { secret: string; code: string },
  keepSession?: string,
): Promise<string[]> {
  const check = await verifyTotp({ secret: input.secret, code: input.code, nowMs: deps.now() });
  if (!check.ok) {
    throw new CertkeepError('BAD_REQUEST', 'code: not the current code for this secret; check the time on your phone and try the next code', { field: 'code' });
  }
  const codes = generateRecoveryCodes(RECOVERY_CODE_COUNT);
  const recoveryCodes = JSON.stringify(await Promise.all(codes.map(hashRecoveryCode)));
  // Only while 2FA is off: two confirmations racing cannot leave the second one's codes unseen.
  // The sessions and the record follow only if this update happened (its codes are unique).
  const happened = sql`exists (select 1 from ${users} where ${users.id} = ${user.id} and ${users.recoveryCodes} = ${recoveryCodes})`;
  const [updated] = (await deps.db.batch([
    deps.db.db
      .update(users)
      .set({
        totpSecretSealed: await sealSecret(deps.masterKey, utf8(input.secret), totpAad(user.id)),
        totpLastStep: check.step,
        recoveryCodes,
        updatedAt: deps.now(),
      })
      .where(and(eq(users.id, user.id), isNull(users.totpSecretSealed)))
      .returning({ id: users.id }),
    endUserSessions(deps, user.id, keepSession, happened),
    auditIf(deps, by, { action: 'user.two-factor-on', object: { kind: 'user', name: user.email } }, happened),
  ])) as [unknown[]];
  if (updated.length !== 1) throw new CertkeepError('CONFLICT', 'two-factor authentication is already on');
  deps.log.info('two-factor authentication enabled', { email: user.email });
  return codes;
}

/** Switches 2FA off: secret, last step and recovery codes are removed. Ends the other sessions. */
export async function disableTwoFactor(deps: Deps, by: By, user: UserRow, keepSession?: string): Promise<void> {
  await deps.db.batch([
    deps.db.db.update(users).set({ totpSecretSealed: null, totpLastStep: null, recoveryCodes: null, updatedAt: deps.now() }).where(eq(users.id, user.id)),
    endUserSessions(deps, user.id, keepSession),
    audit(deps, by, { action: 'user.two-factor-off', object: { kind: 'user', name: user.email } }),
  ]);
  deps.log.info('two-factor authentication disabled', { email: user.email });
}

/** Replaces every recovery code with ten new ones (returned, shown once). */
export async function regenerateRecoveryCodes(deps: Deps, by: By, user: UserRow): Promise<string[]> {
  if (!twoFactorEnabled(user)) throw new CertkeepError('CONFLICT', 'two-factor authentication is off: there are no recovery codes');
  const codes = generateRecoveryCodes(RECOVERY_CODE_COUNT);
  await deps.db.batch([
    deps.db.db.update(users).set({ recoveryCodes: JSON.stringify(await Promise.all(codes.map(hashRecoveryCode))), updatedAt: deps.now() }).where(eq(users.id, user.id)),
    audit(deps, by, { action: 'user.recovery-codes', object: { kind: 'user', name: user.email } }),
  ]);
  deps.log.info('recovery codes replaced', { email: user.email });
  return codes;
}

export type ReauthResult = { ok: true; user: UserRow } | { ok: false; reason: 'invalid' | 'locked' | 'second-factor' };

/**
 * Re-authentication before a sensitive change: the current password and, while 2FA is on, a
 * current TOTP code or an unused recovery code (used up). The same checks, throttling and
 * lock-out as signing in, so a borrowed session cannot guess the password here either.
 */
export async function reauthenticate(
  deps: Deps,
  user: UserRow,
  input: { password: string; code?: string; clientIp: string },
): Promise<ReauthResult> {
  const result = await signIn(deps, { email: user.email, password: input.password, code: input.code || undefined, clientIp: input.clientIp, purpose: 'reauthenticate' });
  if (result.ok && result.user.id !== user.id) return { ok: false, reason: 'invalid' }; // cannot happen: emails are unique
  return result.ok ? { ok: true, user: result.user } : { ok: false, reason: result.reason };
}
