// The admin's own account in headless Chromium, on both hosts: two-factor enrolment (the key
// read from the page, codes made here with the RFC 6238 code), sign-in with a code, the same
// code refused the second time, a recovery code working once, 2FA switched off with the
// password; a password change ending another browser's session; an idle session leading back to
// sign-in. Screenshots at 390 and 1280 px (checked at 375 and 390); no request leaves the origin, nothing is refused by the CSP.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isCi } from '../harness/skip.ts';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS } from '../harness/hosts.ts';
import { startWorld } from '../harness/world.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { totpCode } from '../../src/auth/totp.ts';
import { describeBrowser, launchChromium, newBrowsing, PASSWORD, shoot, signIn, signOut } from './browser.ts';

const ZBARIMG = '/usr/bin/zbarimg';

/** A 6-digit code that is none of the codes valid around now for `secret`. */
async function wrongCode(secret: string): Promise<string> {
  const near = await Promise.all([-30_000, 0, 30_000].map((d) => totpCode(secret, Date.now() + d)));
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, '0');
    if (!near.includes(candidate)) return candidate;
  }
}

for (const kind of HOST_KINDS) {
  describePebble(`own account in Chromium on the ${kind} host`, () => {
    describeBrowser('', () => {
      let browser: Browser;
      beforeAll(async () => {
        browser = await launchChromium();
      });
      afterAll(async () => browser?.close());

      it('enrols 2FA, signs in with a code once, uses a recovery code once, and switches 2FA off with the password', async () => {
        const world = await startWorld(kind);
        const { context, page, problems } = await newBrowsing(browser, world.host.baseUrl);
        try {
          expect(await signIn(page, world.host.baseUrl)).toBe(true);
          await page.getByRole('link', { name: 'Account', exact: true }).click();
          await page.getByRole('heading', { name: 'Your account' }).waitFor();
          await shoot(page, 'account', kind);

          // Enrolment: the QR code is drawn on the page, the key is there in text.
          await page.getByRole('link', { name: 'Set up two-factor authentication' }).click();
          await page.getByRole('heading', { name: 'Set up two-factor authentication' }).waitFor();
          await page.getByRole('img', { name: 'QR code of the key for your authenticator app' }).waitFor();
          const secret = (await page.locator('#totp-secret').textContent())!.replace(/\s+/g, '');
          expect(secret).toMatch(/^[A-Z2-7]{32}$/);
          // What a phone scans: the QR code as the browser drew it, read back by zbarimg.
          if (existsSync(ZBARIMG) || isCi(process.env)) {
            const png = join(makeTempDir('qr-'), 'qr.png');
            await page.getByRole('img', { name: 'QR code of the key for your authenticator app' }).screenshot({ path: png });
            const scanned = execFileSync(ZBARIMG, ['--raw', '--quiet', '--nodbus', png], { encoding: 'utf8' }).trim();
            expect(scanned).toBe(`otpauth://totp/Certkeep:admin%40example.com?secret=${secret}&issuer=Certkeep&algorithm=SHA1&digits=6&period=30`);
          }
          await shoot(page, 'two-factor-enrol', kind);

          // A wrong code is refused next to the field, and 2FA stays off.
          await page.getByLabel('Code from the app').fill(await wrongCode(secret));
          await page.getByLabel('Current password').fill(PASSWORD);
          await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
          await page.locator('#enrol-code-error').waitFor();
          expect(await page.locator('#enrol-code-error').textContent()).toMatch(/^Not the current code/);
          expect((await page.locator('#totp-secret').textContent())!.replace(/\s+/g, '')).toBe(secret); // the same key: the app keeps working
          // The right code (and the password) switch it on and show ten recovery codes, once.
          await page.getByLabel('Code from the app').fill(await totpCode(secret, Date.now()));
          await page.getByLabel('Current password').fill(PASSWORD);
          await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
          await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
          const codes = await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allTextContents();
          expect(codes).toHaveLength(10);
          for (const c of codes) expect(c).toMatch(/^[0-9a-z]{5}-[0-9a-z]{5}$/);
          // One click puts them on the clipboard, one code a line.
          await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(world.host.baseUrl).origin });
          await page.getByRole('button', { name: 'Copy the recovery codes' }).click();
          await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(codes.join('\n'));
          await shoot(page, 'two-factor-recovery-codes', kind);
          await page.getByRole('link', { name: 'I have saved them' }).click();
          await page.getByText('10 of 10 recovery codes are left').waitFor();
          expect(await page.getByText('Set up two-factor authentication').count()).toBe(0);
          await shoot(page, 'account-two-factor-on', kind);

          // Sign in with the next step's code (the enrolment used this step's): once.
          await signOut(page);
          const code = await totpCode(secret, Date.now() + 30_000);
          expect(await signIn(page, world.host.baseUrl, { code })).toBe(true);
          await signOut(page);
          expect(await signIn(page, world.host.baseUrl, { code })).toBe(false);

          // A recovery code, once.
          expect(await signIn(page, world.host.baseUrl, { code: codes[0] })).toBe(true);
          await signOut(page);
          expect(await signIn(page, world.host.baseUrl, { code: codes[0] })).toBe(false);
          expect(await signIn(page, world.host.baseUrl, { code: codes[1].toUpperCase() })).toBe(true);

          // Switching off needs the password and a code; a wrong password is refused next to it.
          await page.goto(`${world.host.baseUrl}/account`);
          await page.getByText('8 of 10 recovery codes are left').waitFor();
          const off = page.locator('form[action="/account/two-factor/disable"]');
          await off.getByLabel('Current password').fill('not the password');
          await off.getByLabel('Authentication code').fill(codes[2]);
          await off.getByRole('button', { name: 'Turn off two-factor authentication' }).click();
          await page.locator('#off-current-password-error').waitFor();
          expect(await page.locator('#off-current-password-error').textContent()).toBe('The password or the code is not right.');
          await off.getByLabel('Current password').fill(PASSWORD);
          await off.getByLabel('Authentication code').fill(codes[3]);
          await off.getByRole('button', { name: 'Turn off two-factor authentication' }).click();
          await page.getByText('Two-factor authentication is off.').waitFor();
          await signOut(page);
          expect(await signIn(page, world.host.baseUrl)).toBe(true);
          expect(problems).toEqual([]);
        } finally {
          await context.close();
          await world.stop();
        }
      }, 120_000);

      it('a password change ends the session of another browser, keeps this one, and the new password signs in', async () => {
        const world = await startWorld(kind);
        const a = await newBrowsing(browser, world.host.baseUrl);
        const b = await newBrowsing(browser, world.host.baseUrl);
        try {
          expect(await signIn(a.page, world.host.baseUrl)).toBe(true);
          expect(await signIn(b.page, world.host.baseUrl)).toBe(true);
          const newPassword = 'a different long password';
          await a.page.goto(`${world.host.baseUrl}/account`);
          const form = a.page.getByRole('region', { name: 'Password' });
          await form.getByLabel('Current password').fill('not the password');
          await form.getByLabel('New password', { exact: true }).fill(newPassword);
          await form.getByLabel('New password again').fill(newPassword);
          await form.getByRole('button', { name: 'Change password' }).click();
          await a.page.getByText('This is not your current password.').waitFor();
          await form.getByLabel('Current password').fill(PASSWORD);
          await form.getByLabel('New password', { exact: true }).fill(newPassword);
          await form.getByLabel('New password again').fill(newPassword);
          await form.getByRole('button', { name: 'Change password' }).click();
          await a.page.getByText('Your password was changed. Every other session was signed out.').waitFor();

          await b.page.goto(`${world.host.baseUrl}/settings`);
          expect(new URL(b.page.url()).pathname).toBe('/login');
          await a.page.goto(`${world.host.baseUrl}/settings`);
          expect(new URL(a.page.url()).pathname).toBe('/settings');

          expect(await signIn(b.page, world.host.baseUrl)).toBe(false);
          expect(await signIn(b.page, world.host.baseUrl, { password: newPassword })).toBe(true);
          expect([...a.problems, ...b.problems]).toEqual([]);
        } finally {
          await Promise.all([a.context.close(), b.context.close()]);
          await world.stop();
        }
      }, 90_000);

      it('an idle session ends after 20 minutes and sign-in leads back to the page', async () => {
        const world = await startWorld(kind);
        const { context, page, problems } = await newBrowsing(browser, world.host.baseUrl);
        const idle = (minutes: number) => world.host.sql('UPDATE sessions SET last_seen_at = last_seen_at - ?', minutes * 60_000);
        try {
          expect(await signIn(page, world.host.baseUrl)).toBe(true);
          await idle(19);
          await page.goto(`${world.host.baseUrl}/account`);
          await page.getByRole('heading', { name: 'Your account' }).waitFor(); // 19 minutes: still signed in (and seen now)
          await idle(21);
          await page.goto(`${world.host.baseUrl}/account`);
          expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe(`/login?next=${encodeURIComponent('/account')}`);
          expect((await world.host.sql('SELECT count(*) AS n FROM sessions'))[0].n).toBe(0);
          await page.getByLabel('Email').fill('admin@example.com');
          await page.getByLabel('Password').fill(PASSWORD);
          await page.getByRole('button', { name: 'Sign in' }).click();
          await page.getByRole('heading', { name: 'Your account' }).waitFor();
          expect(problems).toEqual([]);
        } finally {
          await context.close();
          await world.stop();
        }
      }, 60_000);
    });
  });
}
