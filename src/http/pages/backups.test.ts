// The backups page and its API twin, through the app's fetch in this process, over real backup
// files (node-host/backup/schedule.ts lists and opens them): listed newest first, downloaded
// whole only after the password is given again, never by a forged form, never outside the
// backups directory; on the Worker the page and the API say what D1 offers instead. The
// schedule itself, against a running node host: test/node-host/backup-schedule.test.ts.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type OpenedDatabase } from '../../../node-host/db.ts';
import { createBackup } from '../../../node-host/backup/backup.ts';
import { ScheduledBackups, backupFileName } from '../../../node-host/backup/schedule.ts';
import { makeTempDir } from '../../../test/harness/tmp.ts';
import { offlineDeps } from '../../../test/harness/deps.ts';
import { fieldErrorText, unlabelledControls } from '../../../test/harness/markup.ts';
import { createApp } from '../../app.ts';
import type { Deps, Runtime } from '../../deps.ts';
import { settings, users } from '../../db/schema.ts';
import { hashPassword } from '../../domain/passwords.ts';
import { newId } from '../../domain/secrets.ts';
import { createAdminToken } from '../../domain/tokens.ts';
import { BY_CLI } from '../../domain/audit.ts';

const PASSWORD = 'correct horse battery staple';
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface Fixture {
  deps: Deps;
  db: OpenedDatabase;
  dataDir: string;
  csrf: string;
  token: string;
  request(method: string, path: string, form?: Record<string, string>, headers?: Record<string, string>): Promise<Response>;
}

let f: Fixture | undefined;
afterEach(() => f?.db.close());

async function fixture(runtime: Runtime): Promise<Fixture> {
  const dataDir = makeTempDir('backups-page-');
  const databaseUrl = `file:${dataDir}/certkeep.db`;
  const db = await openDatabase(databaseUrl);
  const now = Date.now();
  const deps = await offlineDeps(db.database, { runtime });
  await deps.db.db.insert(settings).values({ key: 'setupCompletedAt', value: JSON.stringify(now), updatedAt: now });
  await deps.db.db.insert(users).values({ id: newId(), email: 'admin@example.com', passwordHash: await hashPassword(PASSWORD, 1000), failedLogins: 0, createdAt: now, updatedAt: now });
  if (runtime === 'node') deps.backups = new ScheduledBackups({ dataDir, databaseUrl, deps, hours: 24, keep: 7 });
  const app = createApp(deps);
  const send = (method: string, path: string, form?: Record<string, string>, headers: Record<string, string> = {}) =>
    app.fetch(
      new Request(`http://127.0.0.1${path}`, {
        method,
        headers: { ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...headers },
        body: form ? new URLSearchParams(form).toString() : undefined,
      }),
      { clientIp: '127.0.0.1', secure: false, waitUntil: () => {} },
    );
  const login = await send('POST', '/login', { email: 'admin@example.com', password: PASSWORD, next: '/' });
  expect(login.status).toBe(303);
  const cookie = login.headers.get('set-cookie')!.split(';')[0];
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await (await send('GET', '/account', undefined, { cookie })).text())![1];
  const token = await createAdminToken(deps, BY_CLI, 'test');
  return { deps, db, dataDir, csrf, token, request: (method, path, form, headers = {}) => send(method, path, form, { cookie, ...headers }) };
}

/** Two real backups of the fixture's database, an hour apart, in <data dir>/backups. */
async function twoBackups(fx: Fixture): Promise<string[]> {
  const dir = join(fx.dataDir, 'backups');
  mkdirSync(dir, { recursive: true });
  const names = [backupFileName(new Date('2030-01-02T03:00:00Z')), backupFileName(new Date('2030-01-02T04:00:00Z'))];
  for (const name of names) await createBackup({ databaseUrl: `file:${fx.dataDir}/certkeep.db`, file: join(dir, name) });
  return names;
}

describe('backups page (node host)', () => {
  it('lists the backups newest first, with the schedule and where they are', async () => {
    f = await fixture('node');
    const [older, newer] = await twoBackups(f);
    const res = await f.request('GET', '/backups');
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('every <strong>24 hours</strong>');
    expect(body).toContain('newest <strong>7</strong>');
    expect(body.indexOf(newer)).toBeGreaterThan(0);
    expect(body.indexOf(newer)).toBeLessThan(body.indexOf(older));
    expect(body).toContain('2030-01-02 04:00 UTC');
    expect(body).toContain(`href="/backups/${newer}"`);
    expect(unlabelledControls(body)).toEqual([]);
  });

  it('downloads a backup only after the password is given again, and then the whole file', async () => {
    f = await fixture('node');
    const [, name] = await twoBackups(f);
    const file = readFileSync(join(f.dataDir, 'backups', name));

    const form = await f.request('GET', `/backups/${name}`);
    expect(form.status).toBe(200);
    const markup = await form.text();
    expect(markup).toContain('name="currentPassword"');
    expect(unlabelledControls(markup)).toEqual([]);

    const forged = await f.request('POST', `/backups/${name}`, { _csrf: 'forged', currentPassword: PASSWORD });
    expect(forged.status).toBe(403);
    const crossSite = await f.request('POST', `/backups/${name}`, { _csrf: f.csrf, currentPassword: PASSWORD }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.get('content-disposition')).toBeNull();

    const wrong = await f.request('POST', `/backups/${name}`, { _csrf: f.csrf, currentPassword: 'not my password at all' });
    expect(wrong.status).toBe(400);
    expect(wrong.headers.get('content-disposition')).toBeNull();
    expect(fieldErrorText(await wrong.text(), 'dl-current-password')).toMatch(/not your current password/);

    const right = await f.request('POST', `/backups/${name}`, { _csrf: f.csrf, currentPassword: PASSWORD });
    expect(right.status).toBe(200);
    expect(right.headers.get('content-type')).toBe('application/octet-stream');
    expect(right.headers.get('content-disposition')).toBe(`attachment; filename="${name}"`);
    expect(right.headers.get('cache-control')).toBe('no-store');
    expect(sha256(new Uint8Array(await right.arrayBuffer()))).toBe(sha256(file));
  });

  it('serves nothing but the backups: no other name, no other file', async () => {
    f = await fixture('node');
    await twoBackups(f);
    writeFileSync(join(f.dataDir, 'backups', 'notes.txt'), 'not a backup');
    for (const path of ['/backups/certkeep-20300102-050000Z.ckbackup', '/backups/notes.txt', '/backups/..%2Fcertkeep.db', '/backups/%2E%2E%2Fmaster.key']) {
      const page = await f.request('GET', path);
      expect(page.status, path).toBe(404);
      const post = await f.request('POST', path, { _csrf: f.csrf, currentPassword: PASSWORD });
      expect(post.status, path).toBe(404);
      expect(post.headers.get('content-disposition'), path).toBeNull();
      const api = await f.request('GET', `/api/v1${path}`, undefined, { authorization: `Bearer ${f.token}` });
      expect(api.status, path).toBe(404);
    }
  });
});

describe('backups API (node host)', () => {
  it('lists them as every list, pages with a cursor, and downloads one with an admin token', async () => {
    f = await fixture('node');
    const [older, newer] = await twoBackups(f);
    const auth = { authorization: `Bearer ${f.token}` };
    expect((await f.request('GET', '/api/v1/backups')).status).toBe(401);
    const all = await (await f.request('GET', '/api/v1/backups', undefined, auth)).json();
    expect(all.next).toBeNull();
    expect(all.items.map((b: { name: string }) => b.name)).toEqual([newer, older]);
    expect(all.items[0]).toEqual({ name: newer, createdAt: '2030-01-02T04:00:00.000Z', bytes: readFileSync(join(f.dataDir, 'backups', newer)).length });

    const first = await (await f.request('GET', '/api/v1/backups?limit=1', undefined, auth)).json();
    expect(first).toMatchObject({ items: [{ name: newer }], next: newer });
    const second = await (await f.request('GET', `/api/v1/backups?limit=1&cursor=${first.next}`, undefined, auth)).json();
    expect(second).toMatchObject({ items: [{ name: older }], next: null });
    const bad = await f.request('GET', '/api/v1/backups?limit=0', undefined, auth);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'limit' });

    const download = await f.request('GET', `/api/v1/backups/${older}`, undefined, auth);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toBe(`attachment; filename="${older}"`);
    expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(readFileSync(join(f.dataDir, 'backups', older))));
  });
});

describe('backups on the Worker', () => {
  it('the page and the API say that backups are a node-host feature, and what D1 offers', async () => {
    f = await fixture('worker');
    const page = await f.request('GET', '/backups');
    expect(page.status).toBe(200);
    const body = await page.text();
    expect(body).toContain('feature of the node host');
    expect(body).toContain('wrangler d1 time-travel restore');
    expect(body).toContain('wrangler d1 export');
    const api = await f.request('GET', '/api/v1/backups', undefined, { authorization: `Bearer ${f.token}` });
    expect(api.status).toBe(501);
    expect(api.headers.get('content-type')).toBe('application/problem+json');
    expect((await api.json()).detail).toMatch(/node-host feature.*Time Travel/);
    expect((await f.request('GET', '/api/v1/backups/certkeep-20300102-030000Z.ckbackup', undefined, { authorization: `Bearer ${f.token}` })).status).toBe(501);
  });
});
