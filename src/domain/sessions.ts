// Sign-in and sessions for the admin UI.
//
// Sessions live in the database (sign-out and a password change end them everywhere), expire
// after 20 minutes idle and 12 hours in all, and carry a CSRF token. Sign-in is throttled per
// account (5 failures lock it for 5 minutes) and answers the same, in the same time, for unknown
// and known emails. Every attempt is logged, without the password.
import { and, eq, isNull, lt, or } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { sessions, users } from '../db/schema.ts';
import { openSecret } from '../crypto/index.ts';
import { fromUtf8, randomBytes, toBase64Url } from '../util/encoding.ts';
import { verifyTotp } from '../auth/totp.ts';
import { hashRecoveryCode } from '../auth/recovery.ts';
import { decoyPasswordHash, hashPassword, needsRehash, verifyPassword } from './passwords.ts';
import { hashSecret, hashesEqual } from './secrets.ts';

export const SESSION_IDLE_MS = 20 * 60_000;
export const SESSION_ABSOLUTE_MS = 12 * 3_600_000;
export const MAX_FAILED_LOGINS = 5;
export const LOCKOUT_MS = 5 * 60_000;
/** lastSeenAt is written at most this often (a write per page view is not needed for idle expiry). */
const TOUCH_EVERY_MS = 60_000;

export type UserRow = typeof users.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;

export interface ActiveSession {
  id: string;
  user: UserRow;
  csrfToken: string;
  authenticatedAt: number;
}

export const totpAad = (userId: string) => `totp:${userId}`;

export type SignInResult =
  | { ok: true; user: UserRow }
  | { ok: false; reason: 'invalid' | 'locked' | 'second-factor'; lockedUntil?: number };

/**
 * Checks email, password and — when the account has 2FA — a TOTP or recovery code. The answer
 * for an unknown email is the same as for a wrong password.
 */
export async function signIn(deps: Deps, input: { email: string; password: string; code?: string; clientIp: string }): Promise<SignInResult> {
  const email = input.email.trim().toLowerCase();
  const now = deps.now();
  const [user] = await deps.db.db.select().from(users).where(eq(users.email, email)).limit(1);
  const log = (outcome: string) => deps.log.info('sign-in attempt', { email, clientIp: input.clientIp, outcome });

  if (!user) {
    // Exactly one derivation at the production count, like a known email's check (the decoy
    // itself costs nothing to make, so the first unknown email is no slower than the next).
    await verifyPassword(input.password, decoyPasswordHash());
    log('unknown email');
    return { ok: false, reason: 'invalid' };
  }
  if (user.lockedUntil && user.lockedUntil > now) {
    await verifyPassword(input.password, user.passwordHash); // same time as any other answer
    log('locked');
    return { ok: false, reason: 'locked', lockedUntil: user.lockedUntil };
  }
  const passwordOk = await verifyPassword(input.password, user.passwordHash);
  let secondOk = true;
  if (passwordOk && user.totpSecretSealed) {
    if (!input.code) {
      log('password ok, second factor needed');
      return { ok: false, reason: 'second-factor' };
    }
    secondOk = await checkSecondFactor(deps, user, input.code);
  }
  if (!passwordOk || !secondOk) {
    const failures = user.failedLogins + 1;
    const lock = failures >= MAX_FAILED_LOGINS;
    await deps.db.db
      .update(users)
      .set({ failedLogins: lock ? 0 : failures, lockedUntil: lock ? now + LOCKOUT_MS : user.lockedUntil, updatedAt: now })
      .where(eq(users.id, user.id));
    log(lock ? 'failed, account locked' : passwordOk ? 'wrong second factor' : 'wrong password');
    return lock ? { ok: false, reason: 'locked', lockedUntil: now + LOCKOUT_MS } : { ok: false, reason: 'invalid' };
  }
  // A hash in a foreign form (Certera's, brought by the importer) is replaced by our own now.
  const rehashed = needsRehash(user.passwordHash) ? { passwordHash: await hashPassword(input.password) } : {};
  await deps.db.db.update(users).set({ failedLogins: 0, lockedUntil: null, updatedAt: now, ...rehashed }).where(eq(users.id, user.id));
  log('signed in');
  return { ok: true, user };
}

/** A TOTP code (each accepted once) or an unused recovery code (used up). */
async function checkSecondFactor(deps: Deps, user: UserRow, code: string): Promise<boolean> {
  const secret = fromUtf8(await openSecret(deps.masterKey, user.totpSecretSealed!, totpAad(user.id)));
  const totp = await verifyTotp({ secret, code, nowMs: deps.now(), lastUsedStep: user.totpLastStep });
  if (totp.ok) {
    // Conditional on the step we read: two requests with the same code cannot both win.
    const updated = await deps.db.db
      .update(users)
      .set({ totpLastStep: totp.step })
      .where(and(eq(users.id, user.id), or(isNull(users.totpLastStep), lt(users.totpLastStep, totp.step))))
      .returning({ id: users.id });
    return updated.length === 1;
  }
  const hashes: string[] = user.recoveryCodes ? JSON.parse(user.recoveryCodes) : [];
  const presented = await hashRecoveryCode(code);
  const index = hashes.findIndex((h) => hashesEqual(h, presented));
  if (index < 0) return false;
  const remaining = hashes.filter((_, i) => i !== index);
  const updated = await deps.db.db
    .update(users)
    .set({ recoveryCodes: JSON.stringify(remaining) })
    .where(and(eq(users.id, user.id), eq(users.recoveryCodes, user.recoveryCodes!)))
    .returning({ id: users.id });
  deps.log.info('recovery code used', { email: user.email, left: remaining.length });
  return updated.length === 1;
}

/** A new session (new id at every sign-in). Returns the cookie value, shown to nobody else. */
export async function createSession(deps: Deps, userId: string): Promise<{ token: string; session: SessionRow }> {
  const token = toBase64Url(randomBytes(32));
  const now = deps.now();
  const session: SessionRow = {
    id: await hashSecret(token),
    userId,
    csrfToken: toBase64Url(randomBytes(24)),
    createdAt: now,
    lastSeenAt: now,
    authenticatedAt: now,
  };
  await deps.db.db.insert(sessions).values(session);
  return { token, session };
}

/** The session of a cookie value, or null when unknown, idle too long or too old (then deleted). */
export async function loadSession(deps: Deps, token: string | undefined): Promise<ActiveSession | null> {
  if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const id = await hashSecret(token);
  const [row] = await deps.db.db.select().from(sessions).innerJoin(users, eq(users.id, sessions.userId)).where(eq(sessions.id, id)).limit(1);
  if (!row) return null;
  const now = deps.now();
  const session = row.sessions;
  if (now - session.lastSeenAt > SESSION_IDLE_MS || now - session.createdAt > SESSION_ABSOLUTE_MS) {
    await deps.db.db.delete(sessions).where(eq(sessions.id, id));
    return null;
  }
  if (now - session.lastSeenAt > TOUCH_EVERY_MS) await deps.db.db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, id));
  return { id, user: row.users, csrfToken: session.csrfToken, authenticatedAt: session.authenticatedAt };
}

export async function endSession(deps: Deps, sessionId: string): Promise<void> {
  await deps.db.db.delete(sessions).where(eq(sessions.id, sessionId));
}

/** Ends every session of a user (password change, 2FA change), optionally keeping one. */
export async function endUserSessions(deps: Deps, userId: string, keep?: string): Promise<void> {
  const all = await deps.db.db.select({ id: sessions.id }).from(sessions).where(eq(sessions.userId, userId));
  for (const s of all) if (s.id !== keep) await deps.db.db.delete(sessions).where(eq(sessions.id, s.id));
}

/** Removes expired sessions (run by the scheduler). */
export async function purgeSessions(deps: Deps): Promise<void> {
  const now = deps.now();
  await deps.db.db.delete(sessions).where(or(lt(sessions.lastSeenAt, now - SESSION_IDLE_MS), lt(sessions.createdAt, now - SESSION_ABSOLUTE_MS)));
}

/** Changes a password and ends the user's other sessions. */
export async function changePassword(deps: Deps, userId: string, password: string, keepSession?: string): Promise<void> {
  if (password.length < 10) throw new CertkeepError('BAD_REQUEST', 'password: at least 10 characters', { field: 'password' });
  await deps.db.db.update(users).set({ passwordHash: await hashPassword(password), updatedAt: deps.now() }).where(eq(users.id, userId));
  await endUserSessions(deps, userId, keepSession);
}

/** `certkeep user unlock`: clears the lock after failed sign-ins. */
export async function unlockUser(deps: Deps, email: string): Promise<void> {
  const [user] = await deps.db.db.select().from(users).where(eq(users.email, email.trim().toLowerCase())).limit(1);
  if (!user) throw new CertkeepError('NOT_FOUND', `no user with email ${email}`);
  await deps.db.db.update(users).set({ failedLogins: 0, lockedUntil: null, updatedAt: deps.now() }).where(eq(users.id, user.id));
}

export async function findUserByEmail(deps: Deps, email: string): Promise<UserRow | undefined> {
  const [user] = await deps.db.db.select().from(users).where(eq(users.email, email.trim().toLowerCase())).limit(1);
  return user;
}
