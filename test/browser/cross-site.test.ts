// Cross-site forms in headless Chromium, on both hosts: a page on another loopback origin — another
// port of 127.0.0.1 (same-site: SameSite cookies go along) and `localhost` (cross-site) — submits
// a form to /setup and to /login by itself as soon as it loads. The browser sends what it sends
// (Origin, Sec-Fetch-Site); Certkeep answers 403 and nothing changes: no administrator is made, no
// session, no failed sign-in counted, no cookie set.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS, TEST_SETUP_TOKEN } from '../harness/hosts.ts';
import { freePort } from '../harness/ports.ts';
import { setupBody, startWorld, type World } from '../harness/world.ts';
import { ADMIN_EMAIL, describeBrowser, launchChromium, PASSWORD } from './browser.ts';

/** The attacker's site: `/?action=…&field=value…` is a page whose form posts itself to `action`. */
async function startAttackerSite(): Promise<{ port: number; server: Server }> {
  const port = await freePort();
  const server = createServer((req, res) => {
    const params = new URL(req.url ?? '/', 'http://attacker').searchParams;
    const action = params.get('action') ?? '';
    params.delete('action');
    const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const inputs = [...params].map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Win a prize</title><form method="post" action="${esc(action)}">${inputs}</form><script>document.forms[0].submit()</script>`);
  });
  // Both loopback families: Chromium may reach `localhost` over ::1.
  await new Promise<void>((resolve) => server.listen({ host: '::', port, ipv6Only: false }, resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

/** Visits the attacker's page and returns the status of the post it made to `target`. */
async function attack(page: Page, attackerOrigin: string, target: string, fields: Record<string, string>): Promise<number> {
  const url = `${attackerOrigin}/?${new URLSearchParams({ action: target, ...fields })}`;
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === target && r.request().method() === 'POST'),
    page.goto(url),
  ]);
  return response.status();
}

for (const kind of HOST_KINDS) {
  describePebble(`cross-site forms in Chromium on the ${kind} host`, () => {
    describeBrowser('', () => {
      let browser: Browser;
      let world: World;
      let attacker: { port: number; server: Server };
      let attackers: string[];
      const count = async (query: string) => Number(Object.values((await world.host.sql(query))[0])[0]);

      beforeAll(async () => {
        [browser, world, attacker] = await Promise.all([launchChromium(), startWorld(kind, { setup: false }), startAttackerSite()]);
        // Another port of the same address (same-site to a browser), and another host name.
        attackers = [`http://127.0.0.1:${attacker.port}`, `http://localhost:${attacker.port}`];
      });
      afterAll(async () => {
        await Promise.allSettled([browser?.close(), world?.stop(), new Promise((resolve) => attacker?.server.close(resolve))]);
      });

      it('a page on another origin cannot make the administrator through /setup', async () => {
        const context = await browser.newContext();
        const page = await context.newPage();
        try {
          const target = `${world.host.baseUrl}/setup`;
          const step1 = { step: 'admin', adminEmail: 'evil@example.com', adminPassword: PASSWORD, adminPassword2: PASSWORD, ...(kind === 'worker' ? { setupToken: TEST_SETUP_TOKEN } : {}) };
          for (const origin of attackers) {
            expect(await attack(page, origin, target, step1), origin).toBe(403);
            expect(await page.getByRole('heading', { name: 'Not allowed' }).count()).toBe(1);
          }
          expect(await count('SELECT count(*) FROM users')).toBe(0);
          expect(await context.cookies(world.host.baseUrl)).toEqual([]);
          // The wizard itself still starts at step 1.
          await page.goto(target);
          expect(await page.locator('h2.wizard-step').textContent()).toBe('Step 1 of 3: Administrator');
        } finally {
          await context.close();
        }
      });

      it('a page on another origin cannot sign a visitor in, or count a failed sign-in, through /login', async () => {
        const res = await world.api.post('/api/v1/setup', setupBody(world.pebble), world.host.setupHeaders);
        expect(res.status).toBe(201);
        const context = await browser.newContext();
        const page = await context.newPage();
        try {
          const target = `${world.host.baseUrl}/login`;
          for (const origin of attackers) {
            for (const password of [PASSWORD, 'a guess to lock the admin out']) {
              expect(await attack(page, origin, target, { email: ADMIN_EMAIL, password, next: '/' }), `${origin} ${password}`).toBe(403);
            }
          }
          expect(await context.cookies(world.host.baseUrl)).toEqual([]);
          expect(await count('SELECT count(*) FROM sessions')).toBe(0);
          expect(await world.host.sql('SELECT failed_logins, locked_until FROM users')).toEqual([{ failed_logins: 0, locked_until: null }]);
          expect(await count('SELECT coalesce(sum(hits), 0) FROM rate_limits')).toBe(0);
          // Signing in on Certkeep's own page works.
          await page.goto(target);
          await page.getByLabel('Email').fill(ADMIN_EMAIL);
          await page.getByLabel('Password').fill(PASSWORD);
          await page.getByRole('button', { name: 'Sign in' }).click();
          await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
        } finally {
          await context.close();
        }
      });
    });
  });
}
