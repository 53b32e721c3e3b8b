// What every browser suite shares: Debian's Chromium driven by playwright-core, a page that records
// what must never happen (a request to another origin, a CSP refusal, a script error), signing in
// through /login, and screenshots at a phone's width and a desktop's.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { gatedDescribe, requireProgram } from '../harness/skip.ts';
import { ROOT, type HostKind } from '../harness/hosts.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'test/.screenshots');
export const describeBrowser = gatedDescribe(requireProgram(CHROMIUM, 'apt-get install chromium'));

/** The administrator every world is set up with (test/harness/world.ts). */
export const ADMIN_EMAIL = 'admin@example.com';
export const PASSWORD = 'correct horse battery staple';
/** What /login answers for any wrong email, password or code. */
export const REFUSED = 'The email, password or code is not right.';

export function launchChromium(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

export interface Browsing {
  context: BrowserContext;
  page: Page;
  /** Requests to another origin, CSP refusals and script errors, in words; should stay empty. */
  problems: string[];
}

/** A fresh context and page at 1280 px that records every problem against `baseUrl`'s origin. */
export async function newBrowsing(browser: Browser, baseUrl: string, opts: { javaScriptEnabled?: boolean } = {}): Promise<Browsing> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, javaScriptEnabled: opts.javaScriptEnabled ?? true });
  return recording(context, baseUrl);
}

/** The width of the phone the pages are checked on (an iPhone 12 to 15). */
export const PHONE_WIDTH = 390;

/**
 * A fresh context that browses like a phone's browser: 390 px wide, the page's meta viewport
 * honoured (a page too wide for it would be zoomed out, as on a phone), touch; records problems
 * like newBrowsing.
 */
export async function phoneBrowsing(browser: Browser, baseUrl: string): Promise<Browsing> {
  const context = await browser.newContext({ viewport: { width: PHONE_WIDTH, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  return recording(context, baseUrl);
}

async function recording(context: BrowserContext, baseUrl: string): Promise<Browsing> {
  const page = await context.newPage();
  const problems: string[] = [];
  const origin = new URL(baseUrl).origin;
  page.on('request', (r) => void (new URL(r.url()).origin !== origin && problems.push(`request to another origin: ${r.url()}`)));
  // The CSP refusing something is logged as a console error; a script error is a page error.
  page.on('console', (m) => void (m.type() === 'error' && /Content Security Policy/i.test(m.text()) && problems.push(`CSP: ${m.text()}`)));
  page.on('pageerror', (e) => void problems.push(`script error: ${e.message}`));
  // Every violation the page itself sees, also those Chromium does not log (an inline style set by
  // a script or a swap), reaches the console as a CSP error.
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`Content Security Policy violation: ${e.effectiveDirective} ${e.blockedURI} ${e.sample} in ${(e.target as Element | null)?.outerHTML?.slice(0, 120) ?? ''}`),
    ),
  );
  return { context, page, problems };
}

/** Signs in through /login; with `code`, answers the second-factor question too. Returns whether it worked. */
export async function signIn(page: Page, baseUrl: string, o: { password?: string; code?: string } = {}): Promise<boolean> {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('Email').fill(ADMIN_EMAIL);
  await page.getByLabel('Password').fill(o.password ?? PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (o.code !== undefined) {
    await page.getByLabel('Authentication code').waitFor();
    await page.getByLabel('Password').fill(o.password ?? PASSWORD); // never echoed back: typed again
    await page.getByLabel('Authentication code').fill(o.code);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  await page.waitForLoadState();
  await expect.poll(async () => (await page.getByRole('heading', { name: 'Dashboard' }).count()) + (await page.getByText(REFUSED).count())).toBe(1);
  return (await page.getByRole('heading', { name: 'Dashboard' }).count()) === 1;
}

/** A new browsing context signed in as the administrator. */
export async function signedIn(browser: Browser, baseUrl: string, opts: { javaScriptEnabled?: boolean } = {}): Promise<Browsing> {
  const browsing = await newBrowsing(browser, baseUrl, opts);
  expect(await signIn(browsing.page, baseUrl)).toBe(true);
  return browsing;
}

/**
 * Full-page screenshots at 390 (a phone) and 1280 px into test/.screenshots/<name>-<kind>-<width>.png.
 * At 375 and 390 px the page itself must not scroll sideways, and no table may be cut off (data
 * tables reflow; code scrolls inside its box).
 * The caret is left alone: hiding it leaves empty style attributes on inputs, which htmx copies
 * onto what it swaps in and the CSP then refuses — a report caused by the screenshot, not the page.
 */
export async function shoot(page: Page, name: string, kind: HostKind, opts: { checkWidth?: boolean } = {}): Promise<void> {
  for (const width of [375, PHONE_WIDTH, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    if (width < 1280 && opts.checkWidth !== false) {
      expect(await page.evaluate(() => document.documentElement.scrollWidth), `${name} is wider than ${width} px`).toBeLessThanOrEqual(width);
      const cut = await page.evaluate(() => [...document.querySelectorAll('.table-wrap')].filter((w) => w.scrollWidth > w.clientWidth + 1).length);
      expect(cut, `${name}: a table is cut off at ${width} px`).toBe(0);
    }
    if (width !== 375) await page.screenshot({ path: join(SCREENSHOTS, `${name}-${kind}-${width}.png`), fullPage: true, caret: 'initial' });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

/**
 * Follows the link named `name` and resolves once the page it leads to has loaded: a click alone
 * resolves before the navigation commits, and what looks at the page next could see the old one
 * or none (seen: `document.documentElement` null in shoot()).
 */
export async function follow(page: Page, name: string): Promise<void> {
  const link = page.getByRole('link', { name, exact: true });
  const href = new URL((await link.getAttribute('href'))!, page.url()).href;
  await link.click();
  await page.waitForURL(href);
}

/** The validation message shown under a field (tied to it by aria-describedby). */
export function errorOf(page: Page, name: string) {
  return page.locator(`#field-${name}-error`);
}

/** Clicks a submit button; the status of the page it led to (after a 303, the next page's). */
export async function submit(page: Page, buttonName: string): Promise<number> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().isNavigationRequest() && r.frame() === page.mainFrame() && r.status() !== 303),
    page.getByRole('button', { name: buttonName, exact: true }).click(),
  ]);
  await page.waitForLoadState();
  return response.status();
}

/** Signs out with the header's button and waits for /login. */
export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect.poll(() => new URL(page.url()).pathname).toBe('/login');
}
