// Per-address limits on guessing: sign-in (password, TOTP and recovery codes, the wizard's
// "continue setting up"), download API keys and admin tokens (and the Worker's setup token).
//
// The count lives in the database (`rate_limits`), one row per purpose and address, changed by
// one atomic upsert: it holds across node hosts on one database and across short-lived Worker
// isolates, where memory would forget. A fixed window per row: the first attempt opens it, every
// attempt counts, and past `max` the answer is 429 with Retry-After until the window ends.
// IPv6 clients are counted per /64, the block one subscriber usually gets.
//
// Sign-in counts before it checks anything (so parallel guesses cannot all slip through before the
// first is counted) and gives the attempt back when it succeeds: in effect failures are counted.
// Keys and tokens are counted only when they are wrong, so a valid one never costs a query more;
// the answer to a wrong one becomes 429 instead of 401 once its address is past the limit. 192-bit
// keys cannot be guessed anyway; this refuses the noise and makes the guessing visible in the log.
import { and, eq, gt, lte, sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { rateLimits } from '../db/schema.ts';
import { normalizeIp } from '../http/ip.ts';

export interface Throttle {
  /** Attempts per address and window; the next one is refused. */
  max: number;
  windowMs: number;
}

/**
 * The limits, per address (README, "Guessing"):
 * - sign-in: 10 per 15 minutes. Nobody mistypes that often; each attempt costs a PBKDF2
 *   derivation (0.1–0.35 s of CPU), and the account lock (5 wrong, 5 minutes) protects the one
 *   account, while this stops one address from trying many accounts or keeping the CPU busy.
 * - api-key, admin-token: 20 wrong per 10 minutes. A misconfigured consumer polling every few
 *   minutes stays far below; a scanner hits it within seconds.
 */
export const THROTTLES = {
  'sign-in': { max: 10, windowMs: 15 * 60_000 },
  'api-key': { max: 20, windowMs: 10 * 60_000 },
  'admin-token': { max: 20, windowMs: 10 * 60_000 },
} as const satisfies Record<string, Throttle>;

export type ThrottlePurpose = keyof typeof THROTTLES;

export interface Attempt {
  /** Within the limit. */
  allowed: boolean;
  /** Seconds until the window ends. */
  retryAfterSeconds: number;
}

/** The address a limit counts: IPv4 as it is, IPv6 by its /64. */
export function addressOf(clientIp: string): string {
  const ip = normalizeIp(clientIp);
  if (ip === undefined) return 'unknown';
  if (!ip.includes(':')) return ip;
  const [head, tail] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).join(':')}::/64`;
}

const keyOf = (purpose: ThrottlePurpose, clientIp: string) => `${purpose}:${addressOf(clientIp)}`;

/** Counts one attempt: one upsert, which also starts a new window when the last one ended. */
export async function countAttempt(deps: Deps, purpose: ThrottlePurpose, clientIp: string): Promise<Attempt> {
  const { max, windowMs } = THROTTLES[purpose];
  const now = deps.now();
  const ended = sql`${rateLimits.resetAt} <= ${now}`;
  const [row] = await deps.db.db
    .insert(rateLimits)
    .values({ key: keyOf(purpose, clientIp), hits: 1, resetAt: now + windowMs })
    .onConflictDoUpdate({
      target: rateLimits.key,
      set: {
        hits: sql`CASE WHEN ${ended} THEN 1 ELSE ${rateLimits.hits} + 1 END`,
        resetAt: sql`CASE WHEN ${ended} THEN ${now + windowMs} ELSE ${rateLimits.resetAt} END`,
      },
    })
    .returning({ hits: rateLimits.hits, resetAt: rateLimits.resetAt });
  const retryAfterSeconds = Math.max(1, Math.ceil((row.resetAt - now) / 1000));
  if (row.hits === max + 1) {
    deps.log.warn('too many failed attempts', { purpose, clientIp, address: addressOf(clientIp), max, windowSeconds: windowMs / 1000 });
  }
  return { allowed: row.hits <= max, retryAfterSeconds };
}

/** Gives back an attempt that succeeded, so that only failures stay counted. */
export async function refundAttempt(deps: Deps, purpose: ThrottlePurpose, clientIp: string): Promise<void> {
  await deps.db.db
    .update(rateLimits)
    .set({ hits: sql`${rateLimits.hits} - 1` })
    .where(and(eq(rateLimits.key, keyOf(purpose, clientIp)), gt(rateLimits.hits, 0), gt(rateLimits.resetAt, deps.now())));
}

const WHAT: Record<ThrottlePurpose, string> = {
  'sign-in': 'sign-in attempts',
  'api-key': 'requests with a wrong API key',
  'admin-token': 'requests with a wrong token',
};

/** The 429 for an address past its limit. */
export function tooManyAttempts(purpose: ThrottlePurpose, retryAfterSeconds: number): CertkeepError {
  const minutes = Math.ceil(retryAfterSeconds / 60);
  return new CertkeepError('RATE_LIMITED', `too many failed ${WHAT[purpose]} from this address: try again in ${minutes} minute${minutes === 1 ? '' : 's'}`, {
    retryAfterSeconds,
  });
}

// ---- wrong credentials -----------------------------------------------------------------------

/** Addresses known to be past a credential limit on this host, until when: spares the database a write per refused request in a flood. */
const blocked = new WeakMap<Deps, Map<string, number>>();
/** A bound on that memory; when full it is emptied (the database still knows). */
const MAX_REMEMBERED = 1024;

/**
 * A wrong (or missing) API key or token: counts it for the address and returns the error to
 * throw, `refusal` (401) within the limit and 429 beyond it.
 */
export async function refuseCredential(deps: Deps, purpose: Exclude<ThrottlePurpose, 'sign-in'>, clientIp: string, refusal: CertkeepError): Promise<CertkeepError> {
  const key = keyOf(purpose, clientIp);
  const now = deps.now();
  let memory = blocked.get(deps);
  const until = memory?.get(key);
  if (until !== undefined && until > now) return tooManyAttempts(purpose, Math.ceil((until - now) / 1000));
  const attempt = await countAttempt(deps, purpose, clientIp);
  deps.log.info('credential refused', { purpose, clientIp, allowed: attempt.allowed });
  if (attempt.allowed) return refusal;
  if (!memory) blocked.set(deps, (memory = new Map()));
  if (memory.size >= MAX_REMEMBERED) memory.clear();
  memory.set(key, now + attempt.retryAfterSeconds * 1000);
  return tooManyAttempts(purpose, attempt.retryAfterSeconds);
}

// ---- housekeeping --------------------------------------------------------------------------

/** Removes rows whose window has ended (run by the scheduler); an index keeps it cheap. */
export async function purgeRateLimits(deps: Deps): Promise<void> {
  await deps.db.db.delete(rateLimits).where(lte(rateLimits.resetAt, deps.now()));
}

/** `certkeep user unlock`: sign-in may be tried again from every address at once. */
export async function clearSignInLimits(deps: Deps): Promise<void> {
  await signInLimitsStatement(deps);
}

/** The statement that clears every address's sign-in limit (for the batch of an unlock). */
export function signInLimitsStatement(deps: Deps) {
  return deps.db.db.delete(rateLimits).where(sql`${rateLimits.key} LIKE 'sign-in:%'`);
}
