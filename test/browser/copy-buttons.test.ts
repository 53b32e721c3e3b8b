// Copy buttons in headless Chromium, on both hosts: beside the API keys shown once and above the
// curl commands, served by our own static/app.js under the CSP. A click puts exactly the shown text
// on the clipboard (read back with the permission granted to the page) and says "Copied", on the
// button and in a status region. With JavaScript off there is no button to press.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS } from '../harness/hosts.ts';
import { startWorld, type World } from '../harness/world.ts';
import { describeBrowser, launchChromium, shoot, signedIn } from './browser.ts';

const clipboard = (page: Page) => page.evaluate(() => navigator.clipboard.readText());

/** Makes a key through the form; its page answers with the API keys shown once. */
async function generateKey(page: Page, world: World): Promise<string> {
  const name = world.name('k');
  await page.goto(`${world.host.baseUrl}/keys/-/new`);
  await page.getByLabel('Name of the new key').fill(name);
  await page.getByRole('button', { name: 'Generate key' }).click();
  await page.getByRole('heading', { name: `Key ${name} created` }).waitFor();
  return name;
}

for (const kind of HOST_KINDS) {
  describePebble(`copy buttons in Chromium on the ${kind} host`, () => {
    describeBrowser('', () => {
      let browser: Browser;
      let world: World;
      beforeAll(async () => {
        [browser, world] = await Promise.all([launchChromium(), startWorld(kind)]);
      });
      afterAll(async () => {
        await Promise.allSettled([browser?.close(), world?.stop()]);
      });

      it('copy an API key shown once and the curl commands, and say so', async () => {
        const { context, page, problems } = await signedIn(browser, world.host.baseUrl);
        try {
          await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(world.host.baseUrl).origin });
          await generateKey(page, world);
          const apiKey = await page.getByLabel('Key API key 2').inputValue();
          expect(apiKey).toMatch(/^ckk_/);

          const copyKey = page.getByRole('button', { name: 'Copy Key API key 2' });
          await copyKey.click();
          const status = page.locator('.with-copy:has(#shown-key-2) .copy-status');
          await expect.poll(() => status.textContent()).toBe('Copied');
          expect(await status.getAttribute('role')).toBe('status'); // announced politely
          expect(await copyKey.locator('.copy-label').textContent()).toBe('Copied'); // and seen on the button
          expect(await clipboard(page)).toBe(apiKey);
          await shoot(page, 'copy-buttons', kind);

          // The commands: exactly the text of the block, with the real API key in them.
          await page.getByRole('button', { name: 'Copy the command' }).click();
          const commands = await page.locator('pre.commands').innerText();
          await expect.poll(() => clipboard(page)).toBe(commands.replace(/\n$/, ''));
          expect(commands).toContain(`curl -s -H "apikey: ${await page.getByLabel('Key API key 1').inputValue()}"`);

          // The key's own page: the commands with a placeholder, copyable as well.
          await page.getByRole('link', { name: 'Go to the key' }).click();
          await page.getByRole('button', { name: 'Copy the command' }).click();
          await expect.poll(() => clipboard(page)).toContain('<key API key>');
          expect(problems).toEqual([]);
        } finally {
          await context.close();
        }
      });

      it('are absent with JavaScript off', async () => {
        const { context, page, problems } = await signedIn(browser, world.host.baseUrl, { javaScriptEnabled: false });
        try {
          await generateKey(page, world);
          expect(await page.getByLabel('Key API key 1').inputValue()).toMatch(/^ckk_/); // there to copy by hand
          expect(await page.locator('button[data-copy]').count()).toBe(3); // rendered, but hidden
          expect(await page.getByRole('button', { name: /^Copy/ }).count()).toBe(0);
          for (const button of await page.locator('button[data-copy]').all()) expect(await button.isVisible()).toBe(false);
          expect(problems).toEqual([]);
        } finally {
          await context.close();
        }
      });
    });
  });
}
