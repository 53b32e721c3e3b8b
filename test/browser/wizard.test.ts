// The setup wizard and sign-in in headless Chromium, on both hosts, against Pebble: from nothing
// to a valid site certificate through the wizard, sign-out and sign-in, a stale CSRF token, the
// same path with JavaScript turned off, and no request leaving the origin.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { gatedDescribe, requireProgram } from '../harness/skip.ts';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS, ROOT, TEST_SETUP_TOKEN } from '../harness/hosts.ts';
import { startWorld, type World } from '../harness/world.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(ROOT, 'test/.screenshots');
const describeBrowser = gatedDescribe(requireProgram(CHROMIUM, 'apt-get install chromium'));
const PASSWORD = 'correct horse battery staple';

async function fillWizard(page: Page, world: World, hostname: string, passwordAgain = PASSWORD) {
  if (world.kind === 'worker') await page.getByLabel('Setup token').fill(TEST_SETUP_TOKEN);
  await page.getByLabel('Email', { exact: true }).fill('admin@example.com');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Password again').fill(passwordAgain);
  await page.getByLabel('Certificate authority').selectOption('other');
  await page.getByLabel('Directory URL (another CA)').fill(world.pebble.directoryUrl);
  await page.getByLabel("I accept the CA's terms of service").check();
  await page.getByLabel('Hostname of this server').fill(hostname);
  await page.getByRole('button', { name: 'Set up' }).click();
}

for (const kind of HOST_KINDS) {
  describePebble(`setup wizard in Chromium on the ${kind} host`, () => {
    describeBrowser('', () => {
      let browser: Browser;
      beforeAll(async () => {
        mkdirSync(SCREENSHOTS, { recursive: true });
        browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
      });
      afterAll(async () => browser?.close());

      for (const javaScriptEnabled of [true, false]) {
        it(`leads from nothing to a site certificate, then signs out and in (JavaScript ${javaScriptEnabled ? 'on' : 'off'})`, async () => {
          const world = await startWorld(kind, { setup: false });
          const context = await browser.newContext({ javaScriptEnabled, viewport: { width: 1280, height: 900 } });
          const page = await context.newPage();
          const foreign: string[] = [];
          const origin = new URL(world.host.baseUrl).origin;
          page.on('request', (r) => void (new URL(r.url()).origin !== origin && foreign.push(r.url())));
          try {
            // Every admin page leads to the wizard on a fresh install.
            await page.goto(`${world.host.baseUrl}/certificates`);
            await page.goto(`${world.host.baseUrl}/`);
            expect(new URL(page.url()).pathname).toBe('/setup');
            await page.screenshot({ path: join(SCREENSHOTS, `setup-${kind}-1280.png`), fullPage: true });

            // A mistake first: the passwords differ; the form says so and keeps what it can.
            const hostname = world.domain('site');
            await fillWizard(page, world, hostname, 'something else entirely');
            await expect.poll(() => page.getByText('The two passwords differ.').count()).toBe(1);
            expect(await page.getByLabel('Email', { exact: true }).inputValue()).toBe('admin@example.com');
            expect(await page.getByLabel('Hostname of this server').inputValue()).toBe(hostname);
            expect(await world.api.post('/api/v1/setup', {}, world.host.setupHeaders).then((r) => r.status)).not.toBe(409); // nothing was set up

            await fillWizard(page, world, hostname);
            await expect.poll(() => new URL(page.url()).pathname).toBe('/setup/progress');
            // Progress: htmx polling with JS, a refreshing page without.
            await page.getByText(`The certificate for ${hostname} is ready`).waitFor({ timeout: 30_000 });
            await page.screenshot({ path: join(SCREENSHOTS, `setup-progress-${kind}-1280.png`), fullPage: true });
            const site = await world.api.get('/api/v1/certificates/site');
            expect(site.status).toBe(401); // the API wants a token, not the browser's session
            await page.getByRole('link', { name: 'Go to the dashboard' }).click();
            await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
            await expect.poll(() => page.getByRole('link', { name: 'site' }).count()).toBeGreaterThan(0);

            // Sign out, and the dashboard asks for sign-in again.
            await page.getByRole('button', { name: 'Sign out' }).click();
            await expect.poll(() => new URL(page.url()).pathname).toBe('/login');
            await page.goto(`${world.host.baseUrl}/`);
            expect(new URL(page.url()).pathname).toBe('/login');

            // Wrong password, then the right one.
            await page.getByLabel('Email').fill('admin@example.com');
            await page.getByLabel('Password').fill('not the password');
            await page.getByRole('button', { name: 'Sign in' }).click();
            await page.getByText('The email, password or code is not right.').waitFor();
            await page.getByLabel('Password').fill(PASSWORD);
            await page.getByRole('button', { name: 'Sign in' }).click();
            await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

            // The session cookie: HttpOnly, SameSite=Strict (plain HTTP here: not __Host-).
            const cookie = (await context.cookies()).find((c) => c.name === 'certkeep');
            expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });

            // A sign-out with a stale CSRF token does not end the session.
            const forged = await page.request.post(`${world.host.baseUrl}/logout`, { form: { _csrf: 'forged' }, maxRedirects: 0 });
            expect(forged.status()).toBe(303);
            await page.goto(`${world.host.baseUrl}/`);
            await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

            expect(foreign).toEqual([]);
          } finally {
            await context.close();
            await world.stop();
          }
        }, 90_000);
      }
    });
  });
}
