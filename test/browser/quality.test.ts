// The quality list of the admin UI, checked on every page in headless Chromium, on both hosts:
// every form control has a label, every button and link a name, every image a text alternative;
// one <h1> and a <title>; the keyboard alone reaches everything that can be used (the skip link
// first), with a visible focus ring on each stop; nothing scrolls sideways at 375 px; no request
// leaves our origin and the CSP refuses nothing. A form is also filled and sent with the keyboard.
// And every page on a phone: 390 px wide in a mobile context (the meta viewport honoured, as a
// phone's browser does), nothing scrolls sideways, no data table is cut off (they reflow), no
// CSP refusal, and a screenshot of each (test/.screenshots/phone-*.png).
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS } from '../harness/hosts.ts';
import { issueCertificate, startWorld, type World } from '../harness/world.ts';
import { makeLeaf } from '../fixtures/tracking/pki.ts';
import { describeBrowser, launchChromium, newBrowsing, PHONE_WIDTH, phoneBrowsing, shoot, signedIn, signIn, SCREENSHOTS } from './browser.ts';

interface PageFindings {
  /** Controls, buttons, links and images without an accessible name, as short descriptions. */
  unnamed: string[];
  h1: number;
  title: string;
  lang: string;
}

/** What the page's DOM says about names, headings and language (run in the page). */
function inspect(page: Page): Promise<PageFindings> {
  return page.evaluate(() => {
    const describe = (el: Element) => `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.getAttribute('name') ? ` name=${el.getAttribute('name')}` : ''}>`;
    const text = (s: string | null | undefined) => (s ?? '').replace(/\s+/g, ' ').trim();
    const labelledBy = (el: Element) =>
      text((el.getAttribute('aria-labelledby') ?? '').split(/\s+/).map((id) => (id ? document.getElementById(id)?.textContent : '')).join(' '));
    const nameOf = (el: Element): string => {
      const own = text(el.getAttribute('aria-label')) || labelledBy(el);
      if (own) return own;
      if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement) {
        return text([...(el.labels ?? [])].map((l) => l.textContent).join(' '));
      }
      if (el instanceof HTMLImageElement) return text(el.alt);
      // Buttons and links: their text, or the alt of an image inside.
      return text(el.textContent) || text([...el.querySelectorAll('img[alt], svg[aria-label]')].map((i) => i.getAttribute('alt') ?? i.getAttribute('aria-label')).join(' '));
    };
    const candidates = document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href], img, svg[role=img]');
    const unnamed = [...candidates].filter((el) => !nameOf(el)).map(describe);
    return { unnamed, h1: document.querySelectorAll('h1').length, title: document.title, lang: document.documentElement.lang };
  });
}

/**
 * Tabs through the page from the top. Returns what can be used but was never reached, what was
 * reached without a visible focus ring, and the first element reached.
 */
async function tabThrough(page: Page): Promise<{ missed: string[]; unringed: string[]; first: string }> {
  const count = await page.evaluate(() => {
    const usable = [...document.querySelectorAll<HTMLElement>('a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]')].filter(
      (el) => el.tabIndex >= 0 && !(el as HTMLButtonElement).disabled && el.checkVisibility({ visibilityProperty: true }),
    );
    // Radio groups are one tab stop: keep the first of each group.
    const seenGroups = new Set<string>();
    const stops = usable.filter((el) => {
      if (!(el instanceof HTMLInputElement) || el.type !== 'radio') return true;
      if (seenGroups.has(el.name)) return false;
      seenGroups.add(el.name);
      return true;
    });
    stops.forEach((el, i) => el.setAttribute('data-tab-stop', String(i)));
    (document.activeElement as HTMLElement | null)?.blur();
    return stops.length;
  });
  const reached = new Set<string>();
  const unringed: string[] = [];
  let first = '';
  // The skip link's target (<main tabindex=-1>) is not a stop; a few extra presses cover it.
  for (let i = 0; i < count + 3; i++) {
    await page.keyboard.press('Tab');
    const stop = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return undefined;
      const style = getComputedStyle(el);
      const ring = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
      const name = `${el.tagName.toLowerCase()} "${(el.textContent || el.getAttribute('name') || el.getAttribute('aria-label') || '').trim().slice(0, 30)}"`;
      return { index: el.getAttribute('data-tab-stop'), ring, name };
    });
    if (!stop) continue;
    if (!first) first = stop.name;
    if (stop.index !== null) reached.add(stop.index);
    if (!stop.ring) unringed.push(stop.name);
  }
  const missed = await page.evaluate((got) => {
    return [...document.querySelectorAll<HTMLElement>('[data-tab-stop]')]
      .filter((el) => !got.includes(el.getAttribute('data-tab-stop')!))
      .map((el) => `${el.tagName.toLowerCase()} "${(el.textContent || el.getAttribute('name') || '').trim().slice(0, 30)}"`);
  }, [...reached]);
  return { missed, unringed: [...new Set(unringed)], first };
}

/** Every page of the admin UI with the objects the world below makes (`tracked`: an uploaded certificate's id). */
const PAGES = (certificate: string, tracked: string) => [
  '/',
  '/certificates',
  '/certificates/-/new',
  `/certificates/${certificate}`,
  `/certificates/${certificate}/edit`,
  `/certificates/${certificate}/key`,
  `/certificates/${certificate}/revoke`,
  `/certificates/${certificate}/delete`,
  '/keys',
  '/keys/-/new',
  '/keys/quality-key',
  '/keys/quality-key/delete',
  '/accounts',
  '/accounts/new',
  '/accounts/default',
  '/dns-providers',
  '/dns-providers/new',
  '/dns-providers/new?type=webhook',
  '/dns-providers/quality-dns',
  '/tracking',
  '/tracking/-/new',
  `/tracking/${tracked}`,
  `/tracking/${tracked}/delete`,
  '/notifications',
  '/notifications/channels/new',
  '/notifications/channels/new?type=webhook',
  '/notifications/channels/quality-hook',
  '/notifications/log',
  '/audit',
  '/backups',
  '/settings',
  '/consumers',
  '/consumers?status=stale',
  '/account',
  '/account/two-factor',
  '/no-such-page',
];

/** What a phone shows of the page just loaded: sideways scrolling of the page, and tables wider than their box. */
function phoneFindings(page: Page): Promise<{ pageWidth: number; viewport: number; cutTables: string[] }> {
  return page.evaluate(() => ({
    pageWidth: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    cutTables: [...document.querySelectorAll('.table-wrap')]
      .filter((wrap) => wrap.scrollWidth > wrap.clientWidth + 1)
      .map((wrap) => wrap.querySelector('caption')?.textContent?.trim() || 'a table'),
  }));
}

for (const kind of HOST_KINDS) {
  describePebble(`page quality in Chromium on the ${kind} host`, () => {
    describeBrowser('', () => {
      let browser: Browser;
      let world: World;
      const certificate = 'quality';
      let tracked = '';

      beforeAll(async () => {
        [browser, world] = await Promise.all([launchChromium(), startWorld(kind)]);
        const { created } = await issueCertificate(world, { name: certificate, domains: [world.domain('quality')] });
        // A consumer: the certificate page's and /consumers' tables have a row.
        expect((await fetch(`${world.host.baseUrl}/api/certificate/${certificate}`, { headers: { apikey: created.apiKeys[0] } })).status).toBe(200);
        // Pebble's certificates last five years: this one is made to expire in 24 days (its
        // renewal in 3), so that the dashboard's expiry timeline has a bar to show.
        const now = Date.now();
        await world.host.sql('update certificates set not_after = ?, renew_at = ? where name = ?', now + 24 * 86_400_000, now + 3 * 86_400_000, certificate);
        expect((await world.api.post('/api/v1/keys', { name: 'quality-key' })).status).toBe(201);
        const hook = await world.api.post('/api/v1/dns-providers', { name: 'quality-dns', type: 'webhook', url: 'https://127.0.0.1:9/dns', secret: 'a'.repeat(32) });
        expect(hook.status).toBe(201);
        const upload = await world.api.post('/api/v1/tracking', { pem: (await makeLeaf({ names: [world.domain('tracked')], to: 12 })).pem });
        expect(upload.status).toBe(201);
        tracked = upload.body.items[0].id;
        const channel = await world.api.post('/api/v1/notification-channels', { name: 'quality-hook', type: 'webhook', url: 'https://127.0.0.1:9/hook', secret: 'a'.repeat(32) });
        expect(channel.status).toBe(201);
      });
      afterAll(async () => {
        await browser?.close();
        await world?.stop();
      });

      // Every page, in two halves: the whole walk took 33 to 42 s of the 60 s a test may take on
      // this project's machine, and over 60 s once when the machine was slow.
      for (const half of [1, 2] as const) {
        it(`every page (half ${half} of 2): labelled controls, one h1, a title, keyboard reach with a focus ring, 375 px wide, nothing foreign${half === 2 ? '; the navigation leads to pages' : ''}`, async () => {
          // Pages no other suite takes a picture of.
          const screenshots: Record<string, string> = { '/': 'dashboard', '/no-such-page': 'problem-not-found' };
          const pages = PAGES(certificate, tracked);
          const middle = Math.ceil(pages.length / 2);
          const { context, page, problems } = await signedIn(browser, world.host.baseUrl);
          const report: string[] = [];
          try {
            for (const path of half === 1 ? pages.slice(0, middle) : pages.slice(middle)) {
              await page.goto(`${world.host.baseUrl}${path}`);
              const found = await inspect(page);
              if (found.unnamed.length) report.push(`${path}: no accessible name: ${found.unnamed.join(', ')}`);
              if (found.h1 !== 1) report.push(`${path}: ${found.h1} h1 elements`);
              if (!found.title.includes('Certkeep')) report.push(`${path}: title "${found.title}"`);
              if (found.lang !== 'en') report.push(`${path}: lang "${found.lang}"`);
              const keys = await tabThrough(page);
              if (keys.missed.length) report.push(`${path}: not reached by Tab: ${keys.missed.join(', ')}`);
              if (keys.unringed.length) report.push(`${path}: no focus ring on ${keys.unringed.join(', ')}`);
              if (!keys.first.includes('Skip to content')) report.push(`${path}: the first Tab reaches ${keys.first}, not the skip link`);
              await page.setViewportSize({ width: 375, height: 900 });
              const width = await page.evaluate(() => document.documentElement.scrollWidth);
              if (width > 375) report.push(`${path}: ${width} px wide at 375`);
              await page.setViewportSize({ width: 1280, height: 900 });
              if (screenshots[path]) await shoot(page, screenshots[path], kind, { checkWidth: false });
            }
            // Every link of the navigation leads to a page.
            if (half === 2) {
              for (const href of await page.locator('nav.site-nav a').evaluateAll((links) => links.map((a) => a.getAttribute('href')!))) {
                const res = await page.goto(`${world.host.baseUrl}${href}`);
                if (res!.status() !== 200) report.push(`navigation: ${href} answers ${res!.status()}`);
              }
            }
            expect(report).toEqual([]);
            expect(problems).toEqual([]);
          } finally {
            await context.close();
          }
        });
      }

      it(`every page on a phone (${PHONE_WIDTH} px): nothing scrolls sideways, no table cut off, no CSP refusal; a screenshot of each`, async () => {
        const phone = await phoneBrowsing(browser, world.host.baseUrl);
        const report: string[] = [];
        const check = async (path: string) => {
          const found = await phoneFindings(phone.page);
          if (found.viewport !== PHONE_WIDTH) report.push(`${path}: laid out ${found.viewport} px wide, not ${PHONE_WIDTH} (zoomed out)`);
          if (found.pageWidth > PHONE_WIDTH) report.push(`${path}: ${found.pageWidth} px wide`);
          if (found.cutTables.length) report.push(`${path}: cut off: ${found.cutTables.join(', ')}`);
          const slug = path === '/' ? 'dashboard' : path.slice(1).replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '');
          await phone.page.screenshot({ path: join(SCREENSHOTS, `phone-${slug}-${kind}.png`), fullPage: true, caret: 'initial' });
        };
        try {
          await phone.page.goto(`${world.host.baseUrl}/login`);
          await check('/login');
          expect(await signIn(phone.page, world.host.baseUrl)).toBe(true);
          for (const path of PAGES(certificate, tracked)) {
            await phone.page.goto(`${world.host.baseUrl}${path}`);
            await check(path);
          }
          expect(report).toEqual([]);
          expect(phone.problems).toEqual([]);
        } finally {
          await phone.context.close();
        }
      });

      it("the order history's Started column keeps each time on one line", async () => {
        const { context, page, problems } = await signedIn(browser, world.host.baseUrl);
        try {
          await page.goto(`${world.host.baseUrl}/certificates/${certificate}`);
          const started = page.locator('#orders-heading ~ .table-wrap td[data-label="Started"]').first();
          // A tablet and a desktop: wide enough for the table's four columns side by side.
          for (const width of [700, 1280]) {
            await page.setViewportSize({ width, height: 900 });
            expect(await started.innerText()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC\nended \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
            // Two lines of text (start and end), each on one line box: as tall as two lines, no more.
            const lines = await started.evaluate((td) => {
              const range = document.createRange();
              range.selectNodeContents(td);
              return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
            });
            expect(lines, `at ${width} px`).toBe(2);
          }
          expect(problems).toEqual([]);
        } finally {
          await context.close();
        }
      });

      it('the sign-in page and a form sent with the keyboard alone', async () => {
        const signedOut = await newBrowsing(browser, world.host.baseUrl);
        try {
          await signedOut.page.goto(`${world.host.baseUrl}/login`);
          await shoot(signedOut.page, 'login', kind);
          const found = await inspect(signedOut.page);
          expect(found.unnamed).toEqual([]);
          expect(found.h1).toBe(1);
          const keys = await tabThrough(signedOut.page);
          expect(keys.missed).toEqual([]);
          expect(keys.unringed).toEqual([]);
          expect(signedOut.problems).toEqual([]);
        } finally {
          await signedOut.context.close();
        }

        const { context, page, problems } = await signedIn(browser, world.host.baseUrl);
        try {
          await page.goto(`${world.host.baseUrl}/keys/-/new`);
          // The skip link, then into the page's main part; Tab on until the name field has focus.
          await page.keyboard.press('Tab');
          await page.keyboard.press('Enter');
          for (let i = 0; i < 20 && !(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name === 'name')); i++) {
            await page.keyboard.press('Tab');
          }
          expect(await page.evaluate(() => (document.activeElement as HTMLInputElement).name)).toBe('name');
          await page.keyboard.type('typed-key');
          await page.keyboard.press('Enter');
          await page.getByRole('heading', { name: /typed-key/ }).waitFor();
          expect((await world.api.get('/api/v1/keys/typed-key')).status).toBe(200);
          await shoot(page, 'key-created-by-keyboard', kind);
          expect(problems).toEqual([]);
        } finally {
          await context.close();
        }
      });

      it('a stale form and an unknown page answer with pages in words, not JSON', async () => {
        const { context, page, problems } = await signedIn(browser, world.host.baseUrl);
        try {
          await page.goto(`${world.host.baseUrl}/keys/-/new`);
          // As if the session had been replaced since the form was loaded.
          const form = page.locator('form[action="/keys"]').first();
          await form.locator('input[name="_csrf"]').evaluate((el) => ((el as HTMLInputElement).value = 'stale'));
          await form.getByLabel('Name of the new key').fill('never-made');
          const [answer] = await Promise.all([page.waitForResponse((r) => r.request().isNavigationRequest()), form.getByRole('button', { name: 'Generate key' }).click()]);
          expect(answer.status()).toBe(403);
          await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
          expect(await page.locator('#flash').textContent()).toContain('The form is out of date');
          expect((await world.api.get('/api/v1/keys/never-made')).status).toBe(404);
          await shoot(page, 'problem-csrf', kind);

          const missing = await page.goto(`${world.host.baseUrl}/certificates/${certificate}/no-such-page`);
          expect(missing!.status()).toBe(404);
          await page.getByRole('heading', { name: 'Page not found' }).waitFor();
          await page.getByRole('link', { name: 'Go to the dashboard' }).click();
          await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
          expect(problems).toEqual([]);
        } finally {
          await context.close();
        }
      });
    });
  });
}
