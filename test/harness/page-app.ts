// The app in this process on a fresh libSQL file, set up (an administrator, the `default` ACME
// account at a CA that is never asked) and signed in with a real session: for page tests that
// need no CA. `call` sends a request with the session's cookie, or without it.
import { openDatabase } from '../../node-host/db.ts';
import { createApp, type App } from '../../src/app.ts';
import type { Deps } from '../../src/deps.ts';
import { acmeAccounts, settings, users } from '../../src/db/schema.ts';
import { createSession } from '../../src/domain/sessions.ts';
import { offlineDeps } from './deps.ts';
import { makeTempDir } from './tmp.ts';

export const PAGE_ORIGIN = 'http://127.0.0.1:8080';

export interface PageApp {
  deps: Deps;
  app: App;
  /** The session's CSRF token. */
  csrf: string;
  call(path: string, init?: RequestInit, withCookie?: boolean): Promise<{ status: number; text: string; headers: Headers }>;
  close(): void;
}

export async function signedInPageApp(name: string): Promise<PageApp> {
  const opened = await openDatabase(`file:${makeTempDir(`${name}-`)}/certkeep.db`);
  const now = Date.now();
  const deps: Deps = await offlineDeps(opened.database, { sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
  await deps.db.db.insert(settings).values({ key: 'setupCompletedAt', value: String(now), updatedAt: now });
  await deps.db.db.insert(users).values({ id: 'u1', email: 'admin@example.com', passwordHash: 'unused', createdAt: now, updatedAt: now });
  await deps.db.db.insert(acmeAccounts).values({
    id: 'acct', name: 'default', directoryUrl: 'https://ca.example/dir', email: null, staging: false, termsOfServiceAgreed: true,
    accountUrl: 'https://ca.example/acct/1', status: 'valid', keyType: 'ec-p256', keySealed: 'unused', nextKeySealed: null, eabKid: null, createdAt: now, updatedAt: now,
  });
  const { token, session } = await createSession(deps, { actor: { kind: 'user', id: 'u1', name: 'admin@example.com' } }, { id: 'u1', email: 'admin@example.com' });
  const app = createApp(deps);
  return {
    deps,
    app,
    csrf: session.csrfToken,
    async call(path, init = {}, withCookie = true) {
      const headers = new Headers(init.headers);
      if (withCookie) headers.set('cookie', `certkeep=${token}`);
      const res = await app.fetch(new Request(PAGE_ORIGIN + path, { ...init, headers, redirect: 'manual' }), { clientIp: '127.0.0.1', secure: false, waitUntil: () => {} });
      return { status: res.status, text: await res.text(), headers: res.headers };
    },
    close: () => opened.close(),
  };
}
