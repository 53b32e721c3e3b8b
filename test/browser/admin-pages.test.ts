// ACME accounts, DNS providers and settings in headless Chromium, on both hosts, against Pebble:
// creation from the forms with validation errors next to their fields and the CA's refusal in
// its own words, an uploaded account key, key rollover and deactivation at the CA, removal
// refused (409, in words) while a certificate depends on it, secrets never shown, screenshots
// at 390 and 1280 px (checked at 375 and 390), no request leaving the origin and nothing refused by the CSP.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS } from '../harness/hosts.ts';
import { openssl, startWorld, tempFile, type World } from '../harness/world.ts';
import { freePort } from '../harness/ports.ts';
import { type Browsing, describeBrowser, errorOf, launchChromium, shoot, signedIn, submit } from './browser.ts';

/** A signed-in page that records requests to another origin, CSP refusals and script errors. */
function signedInPage(browser: Browser, world: World, javaScriptEnabled = true): Promise<Browsing> {
  return signedIn(browser, world.host.baseUrl, { javaScriptEnabled });
}

for (const kind of HOST_KINDS) {
  describePebble(`admin pages in Chromium on the ${kind} host`, () => {
    describeBrowser('', () => {
      let browser: Browser;
      beforeAll(async () => {
        browser = await launchChromium();
      });
      afterAll(async () => browser?.close());

      it('creates an ACME account from the form, rolls its key over, deactivates and removes it; the one in use stays', async () => {
        const world = await startWorld(kind);
        const { context, page, problems } = await signedInPage(browser, world);
        try {
          const base = world.host.baseUrl;
          await page.getByRole('link', { name: 'ACME accounts' }).click();
          await page.getByRole('heading', { name: 'ACME accounts' }).waitFor();
          const defaultRow = page.getByRole('row').filter({ hasText: 'default' });
          await expect.poll(() => defaultRow.textContent()).toMatch(/admin@example\.com.*Valid.*Yes/);
          await shoot(page, 'accounts', kind);

          await page.getByRole('link', { name: 'New ACME account' }).click();
          await page.getByRole('heading', { name: 'New ACME account' }).waitFor();
          await shoot(page, 'account-new', kind);

          // Mistakes first: a bad name, no terms accepted, an EAB key ID without its HMAC key.
          await page.getByLabel('Name', { exact: true }).fill('not a name!');
          await page.getByLabel('Certificate authority').selectOption('other');
          await page.getByLabel('Directory URL (another CA)').fill(world.pebble.directoryUrl);
          await page.getByLabel('Directory URL (another CA)').press('Tab');
          // htmx asks the server to read the CA's directory: its terms (Pebble's are a data: URL, so
          // shown, not linked). Let's Encrypt's link is gone.
          await expect.poll(() => page.locator('#ca-terms').textContent()).toContain('Do%20what%20thou%20wilt');
          expect(await page.locator('#ca-terms a').count()).toBe(0);
          await page.getByLabel('EAB key ID').fill('kid-1');
          expect(await submit(page, 'Create account')).toBe(400);
          await expect.poll(() => errorOf(page, 'name').textContent()).toMatch(/^Use letters, digits/);
          expect(await errorOf(page, 'acceptTos').textContent()).toBe("The CA's terms of service must be accepted.");
          expect(await errorOf(page, 'eabHmacKey').textContent()).toBe('Enter the HMAC key that belongs to this key ID.');
          expect(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).toBe('true');
          expect(await page.getByLabel('Directory URL (another CA)').inputValue()).toBe(world.pebble.directoryUrl); // kept
          await expect.poll(() => page.locator('#ca-terms').textContent()).toContain('Do%20what%20thou%20wilt');

          // The CA refuses the contact: its own words, next to the field.
          const name = world.name('acct');
          await page.getByLabel('Name', { exact: true }).fill(name);
          await page.getByLabel('EAB key ID').fill('');
          await page.getByLabel('Contact email').fill('ops?x@example.com');
          await page.getByLabel("I accept the CA's terms of service").check();
          expect(await submit(page, 'Create account')).toBe(502);
          // Said once: next to the field, the flash only pointing there.
          await expect.poll(() => page.locator('#flash').textContent()).toMatch(/Some fields need a second look/);
          expect(await errorOf(page, 'email').textContent()).toMatch(/^The CA refused: contact email "ops" is invalid/); // Pebble's own words
          expect(await page.getByText(/The CA refused/).count()).toBe(1);

          // Then right, with an uploaded P-384 key (the form's default would be P-256).
          await page.getByLabel('Contact email').fill('ops@example.com');
          if (!(await page.getByLabel("I accept the CA's terms of service").isChecked())) await page.getByLabel("I accept the CA's terms of service").check();
          const pem = openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']);
          await page.getByLabel('Or upload it as a PEM file').setInputFiles(tempFile('account.pem', pem));
          expect(await submit(page, 'Create account')).toBe(200);
          await expect.poll(() => new URL(page.url()).pathname).toBe(`/accounts/${name}`);
          await page.getByText('The account was registered at the CA.').waitFor();
          const account = await world.api.get(`/api/v1/accounts/${name}`);
          expect(account.body).toMatchObject({ name, email: 'ops@example.com', keyType: 'ec-p384', status: 'valid', termsOfServiceAgreed: true, staging: false });
          expect(await page.getByRole('row', { name: /^Key/ }).textContent()).toContain('EC P-384');
          expect(await page.content()).not.toContain(pem.split('\n')[1]);
          await shoot(page, 'account-detail', kind);

          // Key rollover at the CA.
          await page.getByLabel('New key type').selectOption('ec-p256');
          await page.getByLabel('Yes, replace the account key').check();
          expect(await submit(page, 'Change the account key')).toBe(200);
          await page.getByText('The account has a new key').waitFor();
          expect((await world.api.get(`/api/v1/accounts/${name}`)).body.keyType).toBe('ec-p256');

          // Deactivation at the CA: afterwards only removal is offered.
          await page.getByLabel('Yes, deactivate it for good').check();
          expect(await submit(page, 'Deactivate the account')).toBe(200);
          await page.getByText('The account was deactivated at the CA.').waitFor();
          expect((await world.api.get(`/api/v1/accounts/${name}`)).body.status).toBe('deactivated');
          expect(await page.getByRole('button', { name: 'Change the account key' }).count()).toBe(0);

          // The default account orders a certificate: removing it is refused, in words.
          const cert = world.name('c');
          expect((await world.api.post('/api/v1/certificates', { name: cert, domains: [world.domain()] })).status).toBe(201);
          await page.goto(`${base}/accounts/default`);
          await page.getByRole('link', { name: cert }).waitFor();
          await page.getByLabel('Yes, remove it from Certkeep').check();
          expect(await submit(page, 'Remove the account')).toBe(409);
          await expect.poll(() => page.locator('#flash').textContent()).toContain(`Account "default" is used by certificate "${cert}"`);
          expect((await world.api.get('/api/v1/accounts/default')).status).toBe(200);

          // The deactivated one goes.
          await page.goto(`${base}/accounts/${name}`);
          await page.getByLabel('Yes, remove it from Certkeep').check();
          expect(await submit(page, 'Remove the account')).toBe(200);
          await expect.poll(() => new URL(page.url()).pathname).toBe('/accounts');
          await page.getByText('The account was removed from Certkeep.').waitFor();
          expect(await page.getByRole('link', { name }).count()).toBe(0);
          expect((await world.api.get(`/api/v1/accounts/${name}`)).status).toBe(404);

          expect(problems).toEqual([]);
        } finally {
          await context.close();
          await world.stop();
        }
      }, 120_000);

      it('creates DNS providers of each type this host offers, shows them without secrets, refuses to remove one in use', async () => {
        const world = await startWorld(kind);
        const { context, page, problems } = await signedInPage(browser, world);
        try {
          const base = world.host.baseUrl;
          await page.getByRole('link', { name: 'DNS providers' }).click();
          await page.getByRole('heading', { name: 'DNS providers' }).waitFor();
          await page.getByRole('link', { name: 'New DNS provider' }).click();
          await page.getByRole('heading', { name: 'New DNS provider' }).waitFor();
          const offered = await page.getByRole('navigation', { name: 'Provider type' }).getByRole('link').allTextContents();
          expect(offered).toEqual(kind === 'node' ? ['Script', 'Webhook', 'acme-dns', 'RFC 2136 dynamic update', 'Cloudflare'] : ['Webhook', 'acme-dns', 'Cloudflare']);
          if (kind === 'worker') await page.getByText('Script and RFC 2136 dynamic update providers need the node host').waitFor();
          await shoot(page, 'dns-provider-new', kind);

          // Webhook: errors one field at a time, as the validator finds them; the secret never comes back.
          const secret = 'shared-secret-for-the-webhook-0123';
          const closed = await freePort(); // nothing listens: an order through it fails at once, locally
          await page.getByRole('link', { name: 'Webhook' }).click();
          await page.getByLabel('Name', { exact: true }).fill('hook');
          await page.getByLabel('URL', { exact: true }).fill('http://dns.example.com/acme');
          await page.getByLabel('Shared secret').fill(secret);
          expect(await submit(page, 'Save DNS provider')).toBe(400);
          const setting = kind === 'node' ? 'CERTKEEP_ALLOW_PRIVATE_TARGETS' : 'ALLOW_PRIVATE_TARGETS';
          await expect.poll(() => errorOf(page, 'url').textContent()).toBe(`Plain http goes only to an address ${setting} lists, and dns.example.com is not one; use https`);
          expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('hook');
          expect(await page.getByLabel('Shared secret').inputValue()).toBe('');
          expect(await page.content()).not.toContain(secret);
          await shoot(page, 'dns-provider-new-webhook', kind);
          await page.getByLabel('URL', { exact: true }).fill(`http://127.0.0.1:${closed}/acme`);
          await page.getByLabel('Shared secret').fill('too short');
          expect(await submit(page, 'Save DNS provider')).toBe(400);
          await expect.poll(() => errorOf(page, 'secret').textContent()).toBe('At least 16 characters');
          await page.getByLabel('Shared secret').fill(secret);
          expect(await submit(page, 'Save DNS provider')).toBe(200);
          await expect.poll(() => new URL(page.url()).pathname).toBe('/dns-providers/hook');
          await page.getByText('The DNS provider was saved.').waitFor();
          expect(await page.getByRole('row', { name: /^Shared secret/ }).textContent()).toContain('Set (hidden)');
          expect(await page.content()).not.toContain(secret);
          await shoot(page, 'dns-provider-detail', kind);

          // acme-dns: the CNAME table (empty until a certificate uses it).
          await page.goto(`${base}/dns-providers/new?type=acme-dns`);
          await page.getByLabel('Name', { exact: true }).fill('acmedns');
          await page.getByLabel('acme-dns server URL').fill(`http://127.0.0.1:${closed}`);
          await page.getByLabel('Allowed update sources (optional)').fill('192.0.2.0/24\nnot-a-cidr');
          expect(await submit(page, 'Save DNS provider')).toBe(400);
          await expect.poll(() => errorOf(page, 'allowFrom').textContent()).toMatch(/^Line 2: /);
          await page.getByLabel('Allowed update sources (optional)').fill('192.0.2.0/24');
          expect(await submit(page, 'Save DNS provider')).toBe(200);
          await page.getByRole('table', { name: 'CNAME records to create' }).getByText('None yet').waitFor();

          // Cloudflare: a malformed zone id is named.
          await page.goto(`${base}/dns-providers/new?type=cloudflare`);
          await page.getByLabel('Name', { exact: true }).fill('cf');
          await page.getByLabel('API token').fill('cf-token-value-0123456789');
          await page.getByLabel('Zone ID (optional)').fill('not-hex');
          expect(await submit(page, 'Save DNS provider')).toBe(400);
          await expect.poll(() => errorOf(page, 'zoneId').textContent()).toMatch(/^Expected the zone id/);
          await page.getByLabel('API token').fill('cf-token-value-0123456789');
          await page.getByLabel('Zone ID (optional)').fill('0123456789abcdef0123456789abcdef');
          expect(await submit(page, 'Save DNS provider')).toBe(200);
          expect(await page.content()).not.toContain('cf-token-value-0123456789');

          if (kind === 'node') {
            // Script: arguments and NAME=VALUE lines, a mistake pointed at by line.
            await page.goto(`${base}/dns-providers/new?type=script`);
            await page.getByLabel('Name', { exact: true }).fill('sh');
            await page.getByLabel('Set command').fill('/usr/local/bin/dns-set');
            await page.getByLabel('Set arguments').fill('{{FullRecord}}\n{{Value}}');
            await page.getByLabel('Clear command').fill('/usr/local/bin/dns-clear');
            await page.getByLabel('Clear arguments').fill('{{FullRecord}}');
            await page.getByLabel('Environment variables (optional)').fill('API_TOKEN=token-value-for-the-script\nthis line has no equals sign');
            expect(await submit(page, 'Save DNS provider')).toBe(400);
            await expect.poll(() => errorOf(page, 'env').textContent()).toBe('Line 2: expected NAME=VALUE');
            expect(await page.getByLabel('Set arguments').inputValue()).toBe('{{FullRecord}}\n{{Value}}');
            await shoot(page, 'dns-provider-new-script', kind);
            await page.getByLabel('Environment variables (optional)').fill('API_TOKEN=token-value-for-the-script');
            expect(await submit(page, 'Save DNS provider')).toBe(200);
            await page.getByRole('row', { name: /^Environment variables/ }).getByText('API_TOKEN').waitFor();
            expect(await page.content()).not.toContain('token-value-for-the-script');
            await shoot(page, 'dns-provider-detail-script', kind);

            // RFC 2136: the TSIG secret must be base64.
            await page.goto(`${base}/dns-providers/new?type=rfc2136`);
            await page.getByLabel('Name', { exact: true }).fill('ddns');
            await page.getByLabel('Server').fill('127.0.0.1:53');
            await page.getByLabel('TSIG key name').fill('certkeep-key');
            await page.getByLabel('TSIG algorithm').selectOption('hmac-sha512');
            await page.getByLabel('TSIG secret').fill('not base64!');
            expect(await submit(page, 'Save DNS provider')).toBe(400);
            await expect.poll(() => errorOf(page, 'tsigSecret').textContent()).toBe('Expected base64');
            await shoot(page, 'dns-provider-new-rfc2136', kind);
            await page.getByLabel('TSIG secret').fill('c2VjcmV0LWtleS1ieXRlcw==');
            expect(await submit(page, 'Save DNS provider')).toBe(200);
            expect(await page.getByRole('row', { name: /^TSIG key/ }).textContent()).toContain('hmac-sha512');
            expect(await page.content()).not.toContain('c2VjcmV0LWtleS1ieXRlcw==');
          } else {
            expect((await page.goto(`${base}/dns-providers/new?type=script`))!.status()).toBe(404);
          }

          await page.goto(`${base}/dns-providers`);
          const listed = await page.getByRole('table').getByRole('link').allTextContents();
          expect(listed).toEqual(kind === 'node' ? ['acmedns', 'cf', 'ddns', 'hook', 'sh'] : ['acmedns', 'cf', 'hook']);
          await shoot(page, 'dns-providers', kind);

          // In use: removal refused in words; unused: removed.
          const cert = world.name('w');
          const created = await world.api.post('/api/v1/certificates', { name: cert, domains: [`*.${world.domain()}`], challenge: 'dns-01', dnsProvider: 'hook' });
          expect(created.status).toBe(201);
          await page.goto(`${base}/dns-providers/hook`);
          await page.getByLabel('Yes, remove it from Certkeep').check();
          expect(await submit(page, 'Remove the DNS provider')).toBe(409);
          await expect.poll(() => page.locator('#flash').textContent()).toContain(`DNS provider "hook" is used by certificate "${cert}"`);
          await page.goto(`${base}/dns-providers/cf`);
          await page.getByLabel('Yes, remove it from Certkeep').check();
          expect(await submit(page, 'Remove the DNS provider')).toBe(200);
          await page.getByText('The DNS provider was removed.').waitFor();
          expect((await world.api.get('/api/v1/dns-providers/cf')).status).toBe(404);

          expect(problems).toEqual([]);
        } finally {
          await context.close();
          await world.stop();
        }
      }, 120_000);

      it('looks up another CA and registers an account without JavaScript', async () => {
        const world = await startWorld(kind);
        const { context, page, problems } = await signedInPage(browser, world, false);
        try {
          await page.goto(`${world.host.baseUrl}/accounts/new`);
          await page.getByLabel('Certificate authority').selectOption('other');
          await page.getByLabel('Directory URL (another CA)').fill(world.pebble.directoryUrl);
          await page.getByLabel('Name', { exact: true }).fill('plain');
          expect(await submit(page, 'Look up this CA')).toBe(200);
          await expect.poll(() => page.locator('#ca-terms').textContent()).toContain('Do%20what%20thou%20wilt');
          expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('plain');
          await page.getByLabel("I accept the CA's terms of service").check();
          await page.getByLabel('This CA issues test certificates (staging)').check();
          await page.getByLabel('New key type').selectOption('rsa-2048');
          expect(await submit(page, 'Create account')).toBe(200);
          await page.getByText('The account was registered at the CA.').waitFor();
          expect((await world.api.get('/api/v1/accounts/plain')).body).toMatchObject({ keyType: 'rsa-2048', staging: true, email: null });
          await page.goto(`${world.host.baseUrl}/accounts`);
          expect(await page.getByRole('row').filter({ hasText: 'plain' }).getByText('Staging').count()).toBe(1);
          expect(problems).toEqual([]);
        } finally {
          await context.close();
          await world.stop();
        }
      }, 60_000);

      it('saves the renewal days and shows the scheduler settings', async () => {
        const world = await startWorld(kind);
        const { context, page, problems } = await signedInPage(browser, world);
        try {
          await page.getByRole('link', { name: 'Settings' }).click();
          await page.getByRole('heading', { name: 'Settings', exact: true }).waitFor();
          const days = page.getByLabel('Renew this many days before expiry');
          expect(await days.inputValue()).toBe('');
          await page.getByText(kind === 'node' ? 'CERTKEEP_CONCURRENCY' : 'the CONCURRENCY var').waitFor();
          await days.fill('9');
          expect(await submit(page, 'Save renewal days')).toBe(400);
          await expect.poll(() => errorOf(page, 'renewDays').textContent()).toMatch(/^Between 10 and 45 days/);
          await shoot(page, 'settings', kind);
          await days.fill('30');
          expect(await submit(page, 'Save renewal days')).toBe(200);
          await page.getByText('Settings saved.').waitFor();
          expect(await days.inputValue()).toBe('30');
          await days.fill('');
          expect(await submit(page, 'Save renewal days')).toBe(200);
          expect(await days.inputValue()).toBe('');
          expect(problems).toEqual([]);
        } finally {
          await context.close();
          await world.stop();
        }
      }, 60_000);
    });
  });
}
