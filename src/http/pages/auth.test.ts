// Sign-in over plain HTTP: from this machine it works; from another machine the page offers no
// form and a POST is refused before the password is looked at. Over HTTPS (or a trusted proxy
// that says so) it works from anywhere the admin allow-list lets in.
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../node-host/db.ts';
import { makeTempDir } from '../../../test/harness/tmp.ts';
import { offlineDeps } from '../../../test/harness/deps.ts';
import { createApp } from '../../app.ts';
import { settings, users } from '../../db/schema.ts';
import { hashPassword } from '../../domain/passwords.ts';
import { newId } from '../../domain/secrets.ts';
import { parseIpList } from '../ip.ts';
import type { LogFields, Logger } from '../../log.ts';

const PASSWORD = 'correct horse battery staple';

async function signInFrom(clientIp: string, secure: boolean) {
  const db = await openDatabase(`file:${makeTempDir('auth-')}/certkeep.db`);
  const logged: Array<[string, LogFields | undefined]> = [];
  const log: Logger = {
    debug: () => {},
    info: (msg: string, fields?: LogFields) => void logged.push([msg, fields]),
    warn: () => {},
    error: () => {},
    child: () => log,
    debugEnabled: false,
  };
  const deps = await offlineDeps(db.database, { allowAdmin: parseIpList('*'), log });
  const now = Date.now();
  await deps.db.db.insert(settings).values({ key: 'setupCompletedAt', value: JSON.stringify(now), updatedAt: now });
  await deps.db.db.insert(users).values({ id: newId(), email: 'admin@example.com', passwordHash: await hashPassword(PASSWORD, 1000), failedLogins: 0, createdAt: now, updatedAt: now });
  const app = createApp(deps);
  const ctx = { clientIp, secure, waitUntil: () => {} };
  const base = `${secure ? 'https' : 'http'}://certkeep.example`;
  const page = await app.fetch(new Request(`${base}/login`), ctx);
  const post = await app.fetch(
    new Request(`${base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: 'admin@example.com', password: PASSWORD, next: '/' }).toString(),
    }),
    ctx,
  );
  return { page: { status: page.status, body: await page.text() }, post, logged };
}

describe('sign-in and plain HTTP', () => {
  it('works over plain HTTP from this machine', async () => {
    const { page, post } = await signInFrom('127.0.0.1', false);
    expect(page.body).toContain('name="password"');
    expect(post.status).toBe(303);
    expect(post.headers.get('set-cookie')).toMatch(/^certkeep=/);
  });

  it('offers no form and refuses the POST over plain HTTP from another machine, and logs the attempt', async () => {
    const { page, post, logged } = await signInFrom('198.51.100.7', false);
    expect(page.status).toBe(200);
    expect(page.body).not.toContain('name="password"');
    expect(page.body).toContain('This connection is not encrypted');
    expect(post.status).toBe(403);
    expect(post.headers.get('set-cookie')).toBeNull();
    expect(logged).toContainEqual(['sign-in attempt', { email: 'admin@example.com', clientIp: '198.51.100.7', outcome: 'refused: plain HTTP from another machine' }]);
  });

  it('works over HTTPS from another machine, with the __Host- cookie', async () => {
    const { page, post } = await signInFrom('198.51.100.7', true);
    expect(page.body).toContain('name="password"');
    expect(post.status).toBe(303);
    expect(post.headers.get('set-cookie')).toMatch(/^__Host-certkeep=.*; Secure/);
  });
});
