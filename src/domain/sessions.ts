// Sign-in and sessions for the admin UI.
//
// Sessions live in the database (sign-out and a password change end them everywhere), expire
// after 20 minutes idle and 12 hours in all, and carry a CSRF token. Every attempt is logged,
// without the password.
//
// Guessing is bounded twice, and both bounds hold under parallel requests and across hosts,
// because each is claimed in the database before anything is checked:
//  - per address (domain/throttle.ts): past the limit, 429 before the account is even looked up;
//  - per account: one conditional UPDATE takes an attempt, and the fifth in a row locks the
//    account for 5 minutes. A locked account answers "locked" without verifying anything, so
//    30 parallel guesses check 5 passwords, not 30. Wrong TOTP and recovery codes count the same.
// A success forgets the account's failures and gives the address its attempt back; so does a
// right password that still needs its second factor (the code is what is counted then).
import { and, eq, isNull, lt, lte, ne, or, sql, type SQL } from 'drizzle-orm';
import type { Statement } from '../db/client.ts';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { sessions, users } from '../db/schema.ts';
import { openSecret } from '../crypto/index.ts';
import { fromUtf8, randomBytes, toBase64Url } from '../util/encoding.ts';
import { verifyTotp } from '../auth/totp.ts';
import { hashRecoveryCode } from '../auth/recovery.ts';
import { decoyPasswordHash, hashPassword, needsRehash, verifyPassword } from './passwords.ts';
import { hashSecret, hashesEqual } from './secrets.ts';
import { countAttempt, refundAttempt, signInLimitsStatement, tooManyAttempts } from './throttle.ts';
import { audit, record, type Actor, type By } from './audit.ts';

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
 * for an unknown email is the same as for a wrong password. Throws RATE_LIMITED when the client's
 * address is past its limit.
 */
export async function signIn(
  deps: Deps,
  input: { email: string; password: string; code?: string; clientIp: string; purpose?: 'sign-in' | 'reauthenticate' },
): Promise<SignInResult> {
  const email = input.email.trim().toLowerCase();
  const log = (outcome: string) => deps.log.info('sign-in attempt', { email, clientIp: input.clientIp, outcome });
  // A refusal is recorded (up to the address's limit: past it, nothing is looked at or written).
  const refused = (actor: Actor, reason: string) =>
    record(deps, { actor, clientIp: input.clientIp }, { action: 'user.sign-in', object: { kind: 'user', name: email.slice(0, 254) }, outcome: 'refused', detail: { reason, purpose: input.purpose ?? 'sign-in' } });

  const address = await countAttempt(deps, 'sign-in', input.clientIp);
  if (!address.allowed) {
    log('too many attempts from this address');
    throw tooManyAttempts('sign-in', address.retryAfterSeconds);
  }
  const [user] = await deps.db.db.select().from(users).where(eq(users.email, email)).limit(1);
  if (!user) {
    // Exactly one derivation at the production count, like a known email's check (the decoy
    // itself costs nothing to make, so the first unknown email is no slower than the next).
    await verifyPassword(input.password, decoyPasswordHash());
    log('unknown email');
    await refused({ kind: 'anonymous', name: email.slice(0, 254) }, 'unknown email');
    return { ok: false, reason: 'invalid' };
  }
  const who: Actor = { kind: 'user', id: user.id, name: user.email };
  const claim = await claimAttempt(deps, user.id);
  if (!claim) {
    log('locked');
    await refused(who, 'account locked');
    return { ok: false, reason: 'locked', lockedUntil: await lockedUntilOf(deps, user.id) };
  }
  const passwordOk = await verifyPassword(input.password, user.passwordHash);
  if (passwordOk && user.totpSecretSealed && !input.code) {
    await Promise.all([giveBackAttempt(deps, user.id), refundAttempt(deps, 'sign-in', input.clientIp)]);
    log('password ok, second factor needed');
    return { ok: false, reason: 'second-factor' };
  }
  const secondOk = passwordOk && user.totpSecretSealed ? await checkSecondFactor(deps, user, input.code!) : true;
  if (!passwordOk || !secondOk) {
    const reason = `${passwordOk ? 'wrong second factor' : 'wrong password'}${claim.lockedUntil ? ', account locked' : ''}`;
    log(reason);
    await refused(who, reason);
    return claim.lockedUntil ? { ok: false, reason: 'locked', lockedUntil: claim.lockedUntil } : { ok: false, reason: 'invalid' };
  }
  // A hash in a foreign form (Certera's, brought by the importer) is replaced by our own now.
  const rehashed = needsRehash(user.passwordHash) ? { passwordHash: await hashPassword(input.password) } : {};
  await Promise.all([
    deps.db.db.update(users).set({ failedLogins: 0, lockedUntil: null, updatedAt: deps.now(), ...rehashed }).where(eq(users.id, user.id)),
    refundAttempt(deps, 'sign-in', input.clientIp),
  ]);
  log('signed in');
  return { ok: true, user };
}

/**
 * Takes one attempt for the account, atomically: null when it is locked. `failedLogins` counts
 * the attempts since the last success (or since a lock ran out); the one that makes it
 * MAX_FAILED_LOGINS sets the lock at once, before its own password is checked, so no attempt
 * running beside it gets through. SQLite reads every right-hand side from the row as it was.
 */
async function claimAttempt(deps: Deps, userId: string): Promise<{ lockedUntil: number | null } | null> {
  const now = deps.now();
  const lapsed = sql`${users.lockedUntil} IS NOT NULL AND ${users.lockedUntil} <= ${now}`;
  const [row] = await deps.db.db
    .update(users)
    .set({
      failedLogins: sql`CASE WHEN ${lapsed} THEN 1 ELSE ${users.failedLogins} + 1 END`,
      lockedUntil: sql`CASE WHEN ${lapsed} THEN NULL WHEN ${users.failedLogins} + 1 >= ${MAX_FAILED_LOGINS} THEN ${now + LOCKOUT_MS} ELSE ${users.lockedUntil} END`,
      updatedAt: now,
    })
    .where(and(eq(users.id, userId), or(isNull(users.lockedUntil), lte(users.lockedUntil, now))))
    .returning({ lockedUntil: users.lockedUntil });
  return row ?? null;
}

/** Undoes one claim (a right password still waiting for its code), and the lock it may have set. */
async function giveBackAttempt(deps: Deps, userId: string): Promise<void> {
  await deps.db.db
    .update(users)
    .set({
      failedLogins: sql`MAX(${users.failedLogins} - 1, 0)`,
      lockedUntil: sql`CASE WHEN ${users.failedLogins} - 1 < ${MAX_FAILED_LOGINS} THEN NULL ELSE ${users.lockedUntil} END`,
    })
    .where(eq(users.id, userId));
}

async function lockedUntilOf(deps: Deps, userId: string): Promise<number | undefined> {
  const [row] = await deps.db.db.select({ lockedUntil: users.lockedUntil }).from(users).where(eq(users.id, userId)).limit(1);
  return row?.lockedUntil ?? undefined;
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

/**
 * A new session (new id at every sign-in), recorded as the user's sign-in. Returns the cookie
 * value, shown to nobody else.
 */
export async function createSession(deps: Deps, by: By, user: { id: string; email: string }): Promise<{ token: string; session: SessionRow }> {
  const userId = user.id;
  const token = toBase64Url(randomBytes(32));
  const now = deps.now();
  const session: SessionRow = {
    id: await hashSecret(deps, token),
    userId,
    csrfToken: toBase64Url(randomBytes(24)),
    createdAt: now,
    lastSeenAt: now,
    authenticatedAt: now,
  };
  await deps.db.batch([deps.db.db.insert(sessions).values(session), audit(deps, by, { action: 'user.sign-in', object: { kind: 'user', name: user.email } })]);
  return { token, session };
}

/** The session of a cookie value, or null when unknown, idle too long or too old (then deleted). */
export async function loadSession(deps: Deps, token: string | undefined): Promise<ActiveSession | null> {
  if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const id = await hashSecret(deps, token);
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

/** Sign-out: the session ends, recorded. */
export async function endSession(deps: Deps, by: By, session: { id: string; user: { email: string } }): Promise<void> {
  await deps.db.batch([
    deps.db.db.delete(sessions).where(eq(sessions.id, session.id)),
    audit(deps, by, { action: 'user.sign-out', object: { kind: 'user', name: session.user.email } }),
  ]);
}

/** The statement that ends every session of a user (password change, 2FA change), optionally keeping one. */
export function endUserSessions(deps: Deps, userId: string, keep?: string, condition?: SQL): Statement {
  return deps.db.db.delete(sessions).where(and(eq(sessions.userId, userId), keep ? ne(sessions.id, keep) : undefined, condition));
}

/** Removes expired sessions (run by the scheduler). */
export async function purgeSessions(deps: Deps): Promise<void> {
  const now = deps.now();
  await deps.db.db.delete(sessions).where(or(lt(sessions.lastSeenAt, now - SESSION_IDLE_MS), lt(sessions.createdAt, now - SESSION_ABSOLUTE_MS)));
}

/** Changes a password and ends the user's other sessions. */
export async function changePassword(deps: Deps, by: By, user: { id: string; email: string }, password: string, keepSession?: string): Promise<void> {
  if (password.length < 10) throw new CertkeepError('BAD_REQUEST', 'password: at least 10 characters', { field: 'password' });
  await deps.db.batch([
    deps.db.db.update(users).set({ passwordHash: await hashPassword(password), updatedAt: deps.now() }).where(eq(users.id, user.id)),
    endUserSessions(deps, user.id, keepSession),
    audit(deps, by, { action: 'user.password', object: { kind: 'user', name: user.email } }),
  ]);
}

/** `certkeep user unlock`: clears the lock after failed sign-ins, and every address's sign-in limit. */
export async function unlockUser(deps: Deps, by: By, email: string): Promise<void> {
  const [user] = await deps.db.db.select().from(users).where(eq(users.email, email.trim().toLowerCase())).limit(1);
  if (!user) throw new CertkeepError('NOT_FOUND', `no user with email ${email}`);
  await deps.db.batch([
    deps.db.db.update(users).set({ failedLogins: 0, lockedUntil: null, updatedAt: deps.now() }).where(eq(users.id, user.id)),
    signInLimitsStatement(deps),
    audit(deps, by, { action: 'user.unlock', object: { kind: 'user', name: user.email } }),
  ]);
}

export async function findUserByEmail(deps: Deps, email: string): Promise<UserRow | undefined> {
  const [user] = await deps.db.db.select().from(users).where(eq(users.email, email.trim().toLowerCase())).limit(1);
  return user;
}
