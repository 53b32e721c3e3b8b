// The certificate and key pages in headless Chromium, on both hosts, against Pebble: a certificate
// created in the form, obtained with "Request now", downloaded with the API keys the page showed
// once (checked with openssl), revoked (Pebble says Revoked) — with JavaScript on and off; field
// errors, edit, API key replacement, another key, delete; keys generated, imported (pasted and
// uploaded) and deleted; a forged CSRF token refused; no request leaving the origin; screenshots
// of every page at 390 and 1280 px (checked at 375 and 390) in test/.screenshots/.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble, normalizeSerial } from '../harness/pebble.ts';
import { HOST_KINDS, type HostKind } from '../harness/hosts.ts';
import { HOSTNAME_PLACEHOLDER } from '../../templates/secrets.ts';
import { openssl, startWorld, tempFile, type World } from '../harness/world.ts';
import { startDnsWebhook } from '../harness/dns-helpers.ts';
import { describeBrowser, follow, launchChromium, shoot as shootAt, signedIn, type Browsing } from './browser.ts';

/**
 * A dns-01 webhook that takes its time: each "set" waits `delayMs`, then every call goes on to the
 * harness's webhook (which publishes the TXT record in challtestsrv). An order through it runs
 * long enough to watch.
 */
async function startSlowWebhook(target: string, delayMs: number): Promise<{ url: string; stop(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      if ((JSON.parse(body.toString()) as { action: string }).action === 'set') await new Promise((r) => setTimeout(r, delayMs));
      const forwarded = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-certkeep-signature': String(req.headers['x-certkeep-signature'] ?? '') },
        body,
      });
      res.writeHead(forwarded.status).end(await forwarded.text());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dns`, stop: () => new Promise((r) => server.close(() => r())) };
}

/**
 * `curl -s -H "apikey: K" URL > FILE` lines of the page's command block, as {apiKey, url}. The
 * node host of the tests has no hostname set, so its commands carry the placeholder and the page
 * says it must be set: `url` is then the command's URL with the placeholder replaced by the
 * address the test reaches the host at. The Worker's commands name the address it is served on.
 */
async function curlCommands(page: Page, kind: HostKind, baseUrl: string): Promise<Array<{ apiKey: string; url: string }>> {
  const text = await page.locator('pre.commands').first().innerText();
  const commands = [...text.matchAll(/curl -s -H "apikey: (ck[ck]_[A-Za-z0-9_-]+)" (\S+) >/g)].map((m) => ({ apiKey: m[1], url: m[2] }));
  expect(commands.length).toBeGreaterThan(0);
  const origin = new URL(baseUrl).origin;
  for (const c of commands) expect(c.url.startsWith(kind === 'node' ? `${HOSTNAME_PLACEHOLDER}/api/` : `${origin}/api/`), c.url).toBe(true);
  if (kind === 'node') await page.getByText("This server's hostname is not set").first().waitFor();
  return commands.map((c) => ({ ...c, url: c.url.replace(HOSTNAME_PLACEHOLDER, origin) }));
}

for (const kind of HOST_KINDS) {
  describePebble(`certificate and key pages in Chromium on the ${kind} host`, () => {
    describeBrowser('', () => {
      let browser: Browser;
      let world: World;

      beforeAll(async () => {
        [browser, world] = await Promise.all([launchChromium(), startWorld(kind)]);
      });
      afterAll(async () => {
        await browser?.close();
        await world?.stop();
      });

      /** A fresh browser context, signed in through /login. */
      function signIn(javaScriptEnabled = true): Promise<Browsing> {
        return signedIn(browser, world.host.baseUrl, { javaScriptEnabled });
      }

      function shoot(page: Page, name: string, opts: { checkWidth?: boolean } = {}) {
        return shootAt(page, name, kind, opts);
      }

      /** Fills and sends the new-certificate form; returns the shown API keys and the commands. */
      async function createInForm(page: Page, name: string, domains: string[]) {
        await page.goto(`${world.host.baseUrl}/certificates`);
        await page.getByRole('link', { name: 'New certificate' }).click();
        await page.getByLabel('Name', { exact: true }).fill(name);
        // Newline, comma and semicolon separated, as Certera took them.
        await page.getByLabel('Domain names').fill(`${domains[0]}\n${domains.slice(1).join(', ')}`);
        await page.getByLabel('Challenge').selectOption('http-01');
        await page.getByLabel('ACME account').selectOption('default');
        await page.getByLabel('Key', { exact: true }).selectOption('');
        await page.getByLabel('Type of the new key').selectOption('ec-p256');
        await page.getByRole('button', { name: 'Create certificate' }).click();
        await page.getByRole('heading', { name: `Certificate ${name} created` }).waitFor();
        const shown = {
          certificate: [await page.getByLabel('Certificate API key 1').inputValue(), await page.getByLabel('Certificate API key 2').inputValue()],
          key: [await page.getByLabel('Key API key 1').inputValue(), await page.getByLabel('Key API key 2').inputValue()],
        };
        return { shown, commands: await curlCommands(page, kind, world.host.baseUrl) };
      }

      /** "Request now", then wait until the page shows the certificate valid (htmx polling, or the refreshing page). */
      async function requestNow(page: Page): Promise<string> {
        await page.getByRole('button', { name: /^Request now/ }).click();
        await page.locator('#certificate-live .badge.valid').waitFor({ timeout: 30_000 });
        await expect.poll(() => page.getByText('An order is running.').count(), { timeout: 30_000 }).toBe(0);
        const serial = (await page.locator('#certificate-live tr', { hasText: 'Serial number' }).locator('code').innerText()).trim();
        expect(serial).toMatch(/^[0-9a-f]+$/);
        return serial;
      }

      /** Downloads with the commands' URLs and API keys; checks names, serial and key with openssl. */
      async function checkDownloads(commands: Array<{ apiKey: string; url: string }>, domains: string[], serial: string) {
        const certCommand = commands.find((c) => c.url.includes('/api/certificate/'))!;
        const keyCommand = commands.find((c) => c.url.includes('/api/key/'))!;
        expect(new URL(certCommand.url).origin).toBe(new URL(world.host.baseUrl).origin);
        const pem = await fetch(certCommand.url, { headers: { apikey: certCommand.apiKey } });
        expect(pem.status).toBe(200);
        const chain = await pem.text();
        const certFile = tempFile('cert.pem', chain);
        expect(normalizeSerial(openssl(['x509', '-in', certFile, '-noout', '-serial']).split('=')[1].trim())).toBe(normalizeSerial(serial));
        const san = openssl(['x509', '-in', certFile, '-noout', '-ext', 'subjectAltName']);
        for (const d of domains) expect(san).toContain(`DNS:${d}`);
        const key = await fetch(keyCommand.url, { headers: { apikey: keyCommand.apiKey } });
        expect(key.status).toBe(200);
        const keyFile = tempFile('key.pem', await key.text());
        expect(openssl(['pkey', '-in', keyFile, '-pubout'])).toBe(openssl(['x509', '-in', certFile, '-noout', '-pubkey']));
      }

      /** Revokes from the page with a reason; Pebble must report the serial revoked. */
      async function revokeInPage(page: Page, serial: string, screenshots: boolean) {
        await page.getByRole('link', { name: 'Revoke…' }).click();
        await page.getByRole('heading', { name: /^Revoke / }).waitFor();
        if (screenshots) await shoot(page, 'certificate-revoke');
        await page.getByLabel('Reason (RFC 5280)').selectOption({ label: 'superseded (4): replaced by another certificate' });
        await page.getByRole('button', { name: 'Revoke the certificate' }).click();
        await page.getByText('The certificate was revoked.').waitFor();
        await page.locator('#certificate-live .badge.revoked').waitFor();
        expect(await page.getByRole('button', { name: /^Request now/ }).count()).toBe(0);
        expect(await world.pebble.certStatus(serial)).toBe('Revoked');
      }

      for (const javaScriptEnabled of [true, false]) {
        it(`creates a certificate, obtains it, downloads it with the keys shown once, revokes it (JavaScript ${javaScriptEnabled ? 'on' : 'off'})`, async () => {
          const s = await signIn(javaScriptEnabled);
          const { page } = s;
          const screenshots = javaScriptEnabled;
          try {
            const name = world.name('web');
            const domains = [world.domain('www'), world.domain('api'), world.domain('static')];
            if (screenshots) {
              await page.goto(`${world.host.baseUrl}/certificates/-/new`);
              await shoot(page, 'certificate-new');
            }
            const { shown, commands } = await createInForm(page, name, domains);
            if (screenshots) await shoot(page, 'certificate-created');
            expect(commands.map((c) => c.apiKey)).toEqual([shown.certificate[0], shown.key[0]]);

            await page.getByRole('link', { name: 'Go to the certificate' }).click();
            await page.getByRole('heading', { name }).waitFor();
            // Shown once: the detail page carries no API key.
            const content = await page.content();
            for (const k of [...shown.certificate, ...shown.key]) expect(content).not.toContain(k);

            const serial = await requestNow(page);
            await page.getByRole('cell', { name: /^Valid Valid until \d{4}-/ }).waitFor();
            if (screenshots) await shoot(page, 'certificate-detail');
            await checkDownloads(commands, domains, serial);
            // The order history names the order and its log.
            await page.locator('#certificate-live details summary').first().waitFor();

            // The list: search by a domain (live with htmx, a plain GET form without JavaScript).
            await page.goto(`${world.host.baseUrl}/certificates`);
            await page.getByLabel('Search by name or domain').fill(domains[1].toUpperCase());
            if (javaScriptEnabled) await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe(domains[1].toUpperCase());
            else await page.getByRole('button', { name: 'Search' }).click();
            await expect.poll(() => page.locator('#certificate-results tbody tr').count()).toBe(1);
            const link = page.locator(`#certificate-results a[href="/certificates/${name}"]`);
            await link.waitFor();
            if (screenshots) await shoot(page, 'certificates-list');
            // Clicked as a person clicks, the button held for a moment: the search box loses focus
            // as it goes down, and nothing may swap the link away before it comes up.
            await link.click({ delay: 200 });
            await page.waitForURL(`${world.host.baseUrl}/certificates/${name}`);

            await revokeInPage(page, serial, screenshots);
            if (screenshots) await shoot(page, 'certificate-revoked');
            expect(s.problems).toEqual([]);
          } finally {
            await s.context.close();
          }
        }, 120_000);
      }

      for (const javaScriptEnabled of [true, false]) {
        it(`shows a running order until it ends, ${javaScriptEnabled ? 'polled by htmx without a reload' : 'by refreshing the page'} (dns-01 through a slow provider)`, async () => {
          const hook = await startDnsWebhook(world.pebble);
          const slow = await startSlowWebhook(hook.url, 2_500);
          const provider = world.name('slow');
          expect((await world.api.post('/api/v1/dns-providers', { name: provider, type: 'webhook', url: slow.url, secret: hook.secret })).status).toBe(201);
          const s = await signIn(javaScriptEnabled);
          const { page } = s;
          try {
            const name = world.name('dns');
            const domain = world.domain('dns');
            await page.goto(`${world.host.baseUrl}/certificates/-/new`);
            await page.getByLabel('Name', { exact: true }).fill(name);
            await page.getByLabel('Domain names').fill(`*.${domain}`);
            await page.getByLabel('Challenge').selectOption('dns-01');
            await page.getByLabel('DNS provider (dns-01)').selectOption(provider);
            await page.getByRole('button', { name: 'Create certificate' }).click();
            await page.getByRole('link', { name: 'Go to the certificate' }).click();
            await page.getByRole('button', { name: /^Request now/ }).click();
            await page.getByText('An order is running.').waitFor();
            if (javaScriptEnabled) {
              await shoot(page, 'certificate-running');
              // A mark on this document: it survives only if the page is never reloaded.
              await page.evaluate(() => ((window as unknown as { mark: number }).mark = 42));
            }
            await page.locator('#certificate-live .badge.valid').waitFor({ timeout: 30_000 });
            await expect.poll(() => page.getByText('An order is running.').count(), { timeout: 30_000 }).toBe(0);
            if (javaScriptEnabled) expect(await page.evaluate(() => (window as unknown as { mark?: number }).mark)).toBe(42);
            expect(await page.locator('#certificate-live').getAttribute('hx-trigger')).toBeNull();
            expect((await world.api.get(`/api/v1/certificates/${name}`)).body.status).toBe('valid');
            expect(s.problems).toEqual([]);
          } finally {
            await s.context.close();
            await slow.stop();
            await hook.stop();
          }
        }, 90_000);
      }

      it('shows field errors, edits, replaces an API key, moves to another key and deletes', async () => {
        const s = await signIn();
        const { page } = s;
        try {
          // Errors next to their fields, values kept.
          await page.goto(`${world.host.baseUrl}/certificates/-/new`);
          await page.getByLabel('Name', { exact: true }).fill('no spaces allowed');
          await page.getByLabel('Domain names').fill('*.example.com');
          await page.getByRole('button', { name: 'Create certificate' }).click();
          await page.getByText('Some fields need a second look.').waitFor();
          await expect.poll(() => page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).toBe('true');
          expect(await page.locator('#field-domains-error').innerText()).toContain('can only be validated with dns-01');
          expect(await page.getByLabel('Domain names').inputValue()).toBe('*.example.com');
          await shoot(page, 'certificate-new-errors');

          const name = world.name('ops');
          const domain = world.domain('ops');
          await createInForm(page, name, [domain]);
          await page.getByRole('link', { name: 'Go to the certificate' }).click();
          await requestNow(page);

          // Another key: a new RSA key, its API keys shown once; the served certificate keeps its
          // key until the next issuance.
          await follow(page, 'Use another key');
          await shoot(page, 'certificate-key');
          await page.getByLabel('Key', { exact: true }).selectOption('');
          await page.getByLabel('Type of the new key').selectOption('rsa-2048');
          await page.getByRole('button', { name: 'Use this key' }).click();
          await page.getByText(`The key ${name}-2 was made`).waitFor();
          expect(await page.getByLabel('Key API key 1').inputValue()).toMatch(/^ckk_/);
          await page.getByText('Key of the served certificate').waitFor();
          await shoot(page, 'certificate-key-made');

          // Edit: a second name; the certificate becomes due again.
          await page.goto(`${world.host.baseUrl}/certificates/${name}`);
          await follow(page, 'Edit');
          await shoot(page, 'certificate-edit');
          const second = world.domain('ops2');
          await page.getByLabel('Domain names').fill(`${domain}; ${second}`);
          await page.getByRole('button', { name: 'Save' }).click();
          await page.getByText('Saved. An order for the new names starts').waitFor();
          expect(await page.locator('h1 + p').innerText()).toBe(`${domain}, ${second}`);
          // Let the due order end (the node host's scheduler may already run it) before deleting.
          expect((await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`)).status).toBe(200);

          // Replace API key 2: shown once; it opens the download API.
          await page.goto(`${world.host.baseUrl}/certificates/${name}`);
          await page.getByRole('button', { name: 'Replace API key 2' }).click();
          await page.getByRole('heading', { name: 'New API key 2' }).waitFor();
          const fresh = await page.getByLabel('Certificate API key 2').inputValue();
          await shoot(page, 'certificate-api-key');
          const served = await fetch(`${world.host.baseUrl}/api/certificate/${name}`, { headers: { apikey: fresh } });
          expect(served.status).toBe(200);
          expect(openssl(['x509', '-in', tempFile('c.pem', await served.text()), '-noout', '-ext', 'subjectAltName'])).toContain(`DNS:${second}`);

          // Delete, with its confirmation.
          await follow(page, 'Delete…');
          await shoot(page, 'certificate-delete');
          await page.getByRole('button', { name: 'Delete the certificate' }).click();
          await page.getByText('The certificate was deleted.').waitFor();
          expect((await world.api.get(`/api/v1/certificates/${name}`)).status).toBe(404);

          await page.goto(`${world.host.baseUrl}/certificates/${name}`);
          await page.getByText(`There is no certificate named “${name}”.`).waitFor();
          await shoot(page, 'certificate-not-found');
          expect(s.problems).toEqual([]);
        } finally {
          await s.context.close();
        }
      }, 120_000);

      it('generates, imports (pasted and uploaded) and deletes keys; a used key is not deleted', async () => {
        const s = await signIn();
        const { page } = s;
        try {
          await page.goto(`${world.host.baseUrl}/keys`);
          await follow(page, 'New key');
          await shoot(page, 'key-new');

          const generated = world.name('gen');
          await page.getByLabel('Name of the new key').fill(generated);
          await page.getByLabel('Type', { exact: true }).selectOption('ec-p384');
          await page.getByRole('button', { name: 'Generate key' }).click();
          await page.getByRole('heading', { name: `Key ${generated} created` }).waitFor();
          await shoot(page, 'key-created');
          const [command] = await curlCommands(page, kind, world.host.baseUrl);
          const downloaded = await fetch(command.url, { headers: { apikey: command.apiKey } });
          expect(downloaded.status).toBe(200);
          expect(openssl(['pkey', '-in', tempFile('k.pem', await downloaded.text()), '-noout', '-text'])).toContain('NIST CURVE: P-384');

          // Pasted: a PKCS#1 RSA key from openssl.
          const rsaPem = openssl(['genrsa', '-traditional', '2048']);
          const pasted = world.name('pasted');
          await page.goto(`${world.host.baseUrl}/keys/-/new`);
          await page.getByLabel('Name of the imported key').fill(pasted);
          await page.getByLabel('Private key (PEM)').fill(rsaPem);
          await page.getByRole('button', { name: 'Import key' }).click();
          await page.getByRole('heading', { name: `Key ${pasted} created` }).waitFor();
          const pastedKey = await page.getByLabel('Key API key 1').inputValue();
          const back = await fetch(`${world.host.baseUrl}/api/key/${pasted}`, { headers: { apikey: pastedKey } });
          expect(openssl(['pkey', '-in', tempFile('back.pem', await back.text()), '-pubout'])).toBe(openssl(['pkey', '-pubout'], rsaPem));

          // Uploaded: an EC key file (PKCS#8 PEM).
          const ecFile = tempFile('server.key', openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']));
          const uploaded = world.name('uploaded');
          await page.goto(`${world.host.baseUrl}/keys/-/new`);
          await page.getByLabel('Name of the imported key').fill(uploaded);
          await page.getByLabel('Or a key file').setInputFiles(ecFile);
          await page.getByRole('button', { name: 'Import key' }).click();
          await page.getByRole('heading', { name: `Key ${uploaded} created` }).waitFor();

          // A broken paste: the error by the field, the pasted text not sent back.
          await page.goto(`${world.host.baseUrl}/keys/-/new`);
          await page.getByLabel('Name of the imported key').fill(world.name('broken'));
          await page.getByLabel('Private key (PEM)').fill('-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----');
          await page.getByRole('button', { name: 'Import key' }).click();
          await expect.poll(() => page.getByLabel('Private key (PEM)').getAttribute('aria-invalid')).toBe('true');
          expect(await page.getByLabel('Private key (PEM)').inputValue()).toBe('');
          await shoot(page, 'key-new-errors');

          // The list and a key's page; replace an API key.
          await page.goto(`${world.host.baseUrl}/keys`);
          await shoot(page, 'keys-list');
          await page.getByRole('link', { name: uploaded, exact: true }).click();
          await page.getByText('No certificate uses this key.').waitFor();
          await shoot(page, 'key-detail');
          await page.getByRole('button', { name: 'Replace API key 1' }).click();
          const replaced = await page.getByLabel('Key API key 1').inputValue();
          expect((await fetch(`${world.host.baseUrl}/api/key/${uploaded}`, { headers: { apikey: replaced } })).status).toBe(200);
          await shoot(page, 'key-api-key');

          // Unused: deleted.
          await follow(page, 'Delete…');
          await shoot(page, 'key-delete');
          await page.getByRole('button', { name: 'Delete the key' }).click();
          await page.getByText('The key was deleted.').waitFor();
          expect((await world.api.get(`/api/v1/keys/${uploaded}`)).status).toBe(404);

          // Taken into use between the confirmation and the click: refused, in words.
          await page.goto(`${world.host.baseUrl}/keys/${pasted}/delete`);
          const cert = world.name('uses');
          expect((await world.api.post('/api/v1/certificates', { name: cert, domains: [world.domain('uses')], key: pasted })).status).toBe(201);
          await page.getByRole('button', { name: 'Delete the key' }).click();
          await page.getByText(`The key cannot be deleted: the certificate ${cert} uses it.`).waitFor();
          await shoot(page, 'key-delete-refused');
          expect((await world.api.get(`/api/v1/keys/${pasted}`)).status).toBe(200);
          expect(s.problems).toEqual([]);
        } finally {
          await s.context.close();
        }
      }, 120_000);

      it('refuses a POST with a wrong CSRF token (403) and changes nothing', async () => {
        const s = await signIn();
        try {
          const name = world.name('csrf');
          expect((await world.api.post('/api/v1/certificates', { name, domains: [world.domain('csrf')] })).status).toBe(201);
          const post = (path: string, form: Record<string, string>) => s.page.request.post(`${world.host.baseUrl}${path}`, { form, maxRedirects: 0 });
          expect((await post(`/certificates/${name}/delete`, { _csrf: 'forged' })).status()).toBe(403);
          expect((await post(`/certificates/${name}/edit`, { _csrf: 'forged', domains: 'evil.example.com', challenge: 'http-01' })).status()).toBe(403);
          expect((await post('/certificates', { name: `${name}-x`, domains: 'x.example.com' })).status()).toBe(403);
          expect((await post('/keys', { _csrf: 'forged', source: 'generate', name: `${name}-k`, type: 'ec-p256' })).status()).toBe(403);
          const after = await world.api.get(`/api/v1/certificates/${name}`);
          expect(after.status).toBe(200);
          expect(after.body.domains).toHaveLength(1);
          expect((await world.api.get(`/api/v1/certificates/${name}-x`)).status).toBe(404);
          expect((await world.api.get(`/api/v1/keys/${name}-k`)).status).toBe(404);
          // With the page's own token the same delete works: the refusal was the token's. (First
          // let the certificate's first order end: the node host's scheduler starts it at once,
          // and a running order would make the delete a 409.)
          expect((await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`)).status).toBe(200);
          await s.page.goto(`${world.host.baseUrl}/certificates/${name}/delete`);
          const token = await s.page.locator('form[action$="/delete"] input[name="_csrf"]').getAttribute('value');
          expect((await post(`/certificates/${name}/delete`, { _csrf: token! })).status()).toBe(303);
        } finally {
          await s.context.close();
        }
      }, 60_000);
    });
  });
}
