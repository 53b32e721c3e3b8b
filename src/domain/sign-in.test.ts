// Sign-in's two bounds on guessing against a real libSQL file, with a clock the test moves: the
// account lock (its window, what counts, what gives an attempt back) and the per-address limits
// of sign-in, API keys and tokens (domain/throttle.ts). Parallel guesses against both hosts'
// real databases are in test/contract/no-way-in.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { rateLimits, users } from '../db/schema.ts';
import { createLogger } from '../log.ts';
import { totpCode } from '../auth/totp.ts';
import { hashPassword } from './passwords.ts';
import { newId } from './secrets.ts';
import { LOCKOUT_MS, signIn, unlockUser } from './sessions.ts';
import { beginEnrolment, enableTwoFactor } from './two-factor.ts';
import { addressOf, purgeRateLimits, refuseCredential, THROTTLES } from './throttle.ts';
import { BY_CLI } from './audit.ts';

const PASSWORD = 'correct horse battery staple';
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

let opened: OpenedDatabase;
let deps: Deps;
let now: number;
let lines: Array<Record<string, unknown>>;
let userId: string;

beforeEach(async () => {
  opened = await openDatabase(`file:${makeTempDir('sign-in-')}/certkeep.db`);
  now = T0;
  lines = [];
  deps = await offlineDeps(opened.database, { now: () => now, log: createLogger('debug', (line) => void lines.push(JSON.parse(line))) });
  userId = newId();
  // Hashes at 1000 iterations (the format records the count): unknown emails would cost a
  // production-count decoy each, so guesses go to a second account instead.
  const passwordHash = await hashPassword(PASSWORD, 1000);
  await deps.db.db.insert(users).values([
    { id: userId, email: 'admin@example.com', passwordHash, createdAt: now, updatedAt: now },
    { id: newId(), email: 'target@example.com', passwordHash, createdAt: now, updatedAt: now },
  ]);
});
afterEach(() => opened.close());

const sign = (password: string, o: { code?: string; from?: string; email?: string } = {}) =>
  signIn(deps, { email: o.email ?? 'admin@example.com', password, code: o.code, clientIp: o.from ?? '127.0.0.1' });
const outcomes = () => lines.filter((l) => l.msg === 'sign-in attempt').map((l) => l.outcome);
const row = async () => (await deps.db.db.select().from(users).where(eq(users.id, userId)))[0];

async function rateLimited(p: Promise<unknown>): Promise<number> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CertkeepError);
  expect((err as CertkeepError).code).toBe('RATE_LIMITED');
  return (err as CertkeepError).details!.retryAfterSeconds as number;
}

describe('the account lock', () => {
  it('locks at the fifth failure, answers "locked" without checking, and opens again after 5 minutes', async () => {
    for (let i = 1; i <= 4; i++) expect(await sign(`wrong ${i}`, { from: `192.0.2.${i}` })).toEqual({ ok: false, reason: 'invalid' });
    expect(await sign('wrong 5', { from: '192.0.2.5' })).toEqual({ ok: false, reason: 'locked', lockedUntil: T0 + LOCKOUT_MS });
    expect(await sign(PASSWORD, { from: '192.0.2.6' })).toEqual({ ok: false, reason: 'locked', lockedUntil: T0 + LOCKOUT_MS });
    expect(outcomes()).toEqual(['wrong password', 'wrong password', 'wrong password', 'wrong password', 'wrong password, account locked', 'locked']);
    now = T0 + LOCKOUT_MS;
    expect(await sign(PASSWORD, { from: '192.0.2.6' })).toMatchObject({ ok: true });
    expect(await row()).toMatchObject({ failedLogins: 0, lockedUntil: null });
  });

  it('starts a new count of five when a lock has run out', async () => {
    for (let i = 1; i <= 5; i++) await sign(`wrong ${i}`, { from: `192.0.2.${i}` });
    now = T0 + LOCKOUT_MS + 1;
    for (let i = 1; i <= 4; i++) expect(await sign(`again ${i}`, { from: `198.51.100.${i}` })).toMatchObject({ reason: 'invalid' });
    expect(await sign('again 5', { from: '198.51.100.5' })).toMatchObject({ reason: 'locked', lockedUntil: now + LOCKOUT_MS });
  });

  it('counts wrong TOTP and recovery codes; a right password still asking for its code costs nothing', async () => {
    const enrolment = await beginEnrolment(deps, await row(), 'session');
    const recovery = await enableTwoFactor(deps, BY_CLI, await row(), { secret: enrolment.secret, code: await totpCode(enrolment.secret, now) });
    now += 60_000;
    // The password alone, as often as the form is sent: never a lock (the code is what counts).
    for (let i = 0; i < 8; i++) expect(await sign(PASSWORD, { from: `192.0.2.${i}` })).toEqual({ ok: false, reason: 'second-factor' });
    expect(await row()).toMatchObject({ failedLogins: 0, lockedUntil: null });
    for (let i = 1; i <= 2; i++) expect(await sign(PASSWORD, { code: '000000', from: `198.51.100.${i}` })).toMatchObject({ reason: 'invalid' });
    for (let i = 3; i <= 4; i++) expect(await sign(PASSWORD, { code: `${'x'.repeat(5)}-${i}yyyy`, from: `198.51.100.${i}` })).toMatchObject({ reason: 'invalid' });
    expect(await sign(PASSWORD, { code: recovery[0], from: '198.51.100.5' })).toMatchObject({ ok: true }); // a success forgets them
    for (let i = 1; i <= 4; i++) await sign(PASSWORD, { code: '000000', from: `203.0.113.${i}` });
    expect(await sign(PASSWORD, { code: recovery[1], from: '203.0.113.5' })).toMatchObject({ ok: true }); // the fifth: checked, right
    for (let i = 1; i <= 5; i++) await sign(PASSWORD, { code: '000000', from: `203.0.113.${10 + i}` });
    expect(await sign(PASSWORD, { code: recovery[2], from: '203.0.113.20' })).toMatchObject({ reason: 'locked' });
    expect(outcomes().filter((o) => o === 'wrong second factor, account locked')).toHaveLength(1);
  });

  it('is opened by `certkeep user unlock`, which also clears every address', async () => {
    for (let i = 0; i < THROTTLES['sign-in'].max; i++) await sign(`wrong ${i}`, { email: 'target@example.com' });
    for (let i = 1; i <= 5; i++) await sign(`wrong ${i}`, { from: `192.0.2.${i}` });
    await rateLimited(sign(PASSWORD));
    await unlockUser(deps, BY_CLI, 'admin@example.com');
    expect(await sign(PASSWORD)).toMatchObject({ ok: true });
  });
});

describe('the per-address limits', () => {
  it(`give one address ${THROTTLES['sign-in'].max} failed sign-ins per window, with the time left; successes do not count`, async () => {
    for (let i = 0; i < 20; i++) expect(await sign(PASSWORD, { from: '203.0.113.7' })).toMatchObject({ ok: true });
    for (let i = 0; i < THROTTLES['sign-in'].max; i++) expect(await sign('a guess', { email: 'target@example.com', from: '203.0.113.7' })).toMatchObject({ ok: false });
    now += 60_000;
    expect(await rateLimited(sign(PASSWORD, { from: '203.0.113.7' }))).toBe(THROTTLES['sign-in'].windowMs / 1000 - 60);
    expect(outcomes().at(-1)).toBe('too many attempts from this address');
    expect(lines.filter((l) => l.msg === 'too many failed attempts')).toEqual([expect.objectContaining({ level: 'warn', purpose: 'sign-in', clientIp: '203.0.113.7' })]);
    expect(await sign(PASSWORD, { from: '203.0.113.8' })).toMatchObject({ ok: true });
    now = T0 + THROTTLES['sign-in'].windowMs;
    expect(await sign(PASSWORD, { from: '203.0.113.7' })).toMatchObject({ ok: true });
  });

  it('count IPv6 clients by their /64 and IPv4-mapped ones as IPv4', async () => {
    expect(addressOf('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(addressOf('2001:DB8:1:2:ffff:eeee:dddd:cccc')).toBe('2001:db8:1:2::/64');
    expect(addressOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressOf('::1')).toBe('0:0:0:0::/64');
    expect(addressOf('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressOf('not an address')).toBe('unknown');
    for (let i = 0; i < THROTTLES['sign-in'].max; i++) await sign('a guess', { email: 'target@example.com', from: `2001:db8:1:2::${i + 1}` });
    await rateLimited(sign(PASSWORD, { from: '2001:db8:1:2:aaaa::1' }));
    expect(await sign(PASSWORD, { from: '2001:db8:1:3::1' })).toMatchObject({ ok: true });
  });

  it('answer wrong credentials 401, then 429 past the limit, without writing again while refused; windows end and are purged', async () => {
    const wrong = () => refuseCredential(deps, 'api-key', '198.51.100.9', new CertkeepError('UNAUTHORIZED', 'wrong key'));
    for (let i = 0; i < THROTTLES['api-key'].max; i++) expect((await wrong()).code).toBe('UNAUTHORIZED');
    for (let i = 0; i < 5; i++) expect((await wrong()).code).toBe('RATE_LIMITED');
    // Counted once past the limit, then refused from this host's memory.
    expect(await deps.db.db.select().from(rateLimits)).toEqual([{ key: 'api-key:198.51.100.9', hits: THROTTLES['api-key'].max + 1, resetAt: T0 + THROTTLES['api-key'].windowMs }]);
    // Another purpose, and another host (a fresh memory) that reads the same database.
    expect((await refuseCredential(deps, 'admin-token', '198.51.100.9', new CertkeepError('UNAUTHORIZED', 'x'))).code).toBe('UNAUTHORIZED');
    const other = { ...deps };
    expect((await refuseCredential(other, 'api-key', '198.51.100.9', new CertkeepError('UNAUTHORIZED', 'x'))).code).toBe('RATE_LIMITED');

    now = T0 + THROTTLES['api-key'].windowMs;
    await purgeRateLimits(deps);
    expect(await deps.db.db.select().from(rateLimits)).toEqual([]);
    expect((await wrong()).code).toBe('UNAUTHORIZED');
  });
});
