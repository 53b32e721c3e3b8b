// `certkeep import certera`: a Certera.db built from Certera's migrations (test/fixtures/certera)
// is imported with the real command line into a node host's data dir, against Pebble standing in
// for Let's Encrypt (production and staging). Then what Certera's users do: fetch certificates
// and keys the way Certera's docs (curl) and its PowerShell module (Get-Cert, Get-Key) do, with
// the API keys they already have; sign in with the Certera password; renew with the imported
// accounts. And what must not happen: a damaged, foreign or newer file changes nothing, and a
// second run or a dry run writes nothing.
import { execFileSync } from 'node:child_process';
import tls from 'node:tls';
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePebble, startPebble, type Pebble } from '../harness/pebble.ts';
import { freePort } from '../harness/ports.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { ROOT, runCli, startNodeHost, type NodeHostUnderTest } from '../harness/hosts.ts';
import { AdminClient, openssl, tempFile } from '../harness/world.ts';
import { createCerteraDb, type CerteraFixture } from '../fixtures/certera/generate.ts';
import { AcmeClient } from '../../src/acme/index.ts';
import { importPrivateKey } from '../../src/crypto/index.ts';
import { totpCode } from '../../src/auth/totp.ts';
import { testOutbound } from '../harness/outbound.ts';

const CHALLTESTSRV_SCRIPT = join(ROOT, 'test/fixtures/dns/challtestsrv-txt.mjs');

const env = (dataDir: string): Record<string, string> => ({ CERTKEEP_DATA_DIR: dataDir, CERTKEEP_LOG_LEVEL: 'warn' });

/** Rows per table of a node host's database: what "nothing changed" is measured by. */
async function counts(dataDir: string): Promise<Record<string, number>> {
  const client = createClient({ url: `file:${join(dataDir, 'certkeep.db')}` });
  try {
    const out: Record<string, number> = {};
    for (const table of ['acme_accounts', 'keys', 'certificates', 'api_keys', 'users', 'dns_providers', 'notification_channels', 'settings', 'tracking_targets']) {
      out[table] = Number((await client.execute(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
    }
    return out;
  } finally {
    client.close();
  }
}

/** `curl` as Certera's docs show it; returns status and body. */
function curl(args: string[]): { status: number; body: string } {
  const out = execFileSync('curl', ['-s', '-w', '\n%{http_code}', ...args], { encoding: 'utf8' });
  const at = out.lastIndexOf('\n');
  return { status: Number(out.slice(at + 1)), body: out.slice(0, at) };
}

/** The public key of a private key or a certificate, as openssl prints it. */
const publicKeyOfKey = (pem: string) => openssl(['pkey', '-pubout'], pem);
const publicKeyOfCertificate = (pem: string) => openssl(['x509', '-noout', '-pubkey'], pem);
const serialOf = (pem: string) => openssl(['x509', '-noout', '-serial'], pem).trim();
/** A file holding the bytes of a base64 body (a PFX, a DER key). */
const binaryFile = (base64: string) => {
  const path = tempFile('body.bin', '');
  writeFileSync(path, Buffer.from(base64, 'base64'));
  return path;
};

describePebble('certkeep import certera', () => {
  let pebble: Pebble;
  let httpPort: number;
  let httpsPort: number;
  let domain: string;
  let fixture: CerteraFixture;
  let dataDir: string;
  let host: NodeHostUnderTest | undefined;
  let importRun: { code: number | null; stdout: string; stderr: string };
  const directories = () => ['--acme-directory', pebble.directoryUrl, '--acme-staging-directory', pebble.directoryUrl];

  beforeAll(async () => {
    httpPort = await freePort();
    pebble = await startPebble({ httpPort });
    domain = `certera-${Math.random().toString(36).slice(2, 10)}.example.com`;
    fixture = await createCerteraDb(join(makeTempDir('certera-'), 'Certera.db'), {
      domain,
      renewCertificateDays: 20,
      twoFactor: true,
      dns: {
        setScript: CHALLTESTSRV_SCRIPT,
        setArguments: 'set {{FullRecord}} "{{Value}}"',
        cleanupScript: CHALLTESTSRV_SCRIPT,
        cleanupArguments: 'clear {{FullRecord}}',
        environment: `CHALLTESTSRV=${pebble.challtestsrvUrl}\nUNUSED = spaced value `,
      },
    });
    // Certera registered its production account at the CA; its staging account the CA has never seen.
    const production = await importPrivateKey(fixture.accounts.production.keyPem);
    await new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: production.keyPair, outbound: testOutbound() }).newAccount({ termsOfServiceAgreed: true, contact: [`mailto:${fixture.accounts.production.email}`] });

    dataDir = makeTempDir('certera-import-');
    // Certera's site hostname (its config.json) was www's subject.
    importRun = await runCli(['import', 'certera', fixture.file, ...directories(), '--hostname', `www.${domain}`], env(dataDir));
    httpsPort = await freePort();
    host = await startNodeHost({ httpPort, dataDir, env: { CERTKEEP_DNS_SERVERS: pebble.dnsAddress, CERTKEEP_HTTPS_PORT: String(httpsPort) } });
  });
  afterAll(async () => {
    await host?.stop();
    await pebble?.stop();
  });

  it('imports accounts, keys, certificates, the admin and the DNS-01 script in one run, and says what it did', () => {
    expect(importRun.stderr).toBe('');
    expect(importRun.code).toBe(0);
    const out = importRun.stdout;
    expect(out).toMatch(/^ACME accounts\s+2\s+0\s+0$/m);
    // www, api, pending, spare, and the two account keys (kept with their accounts).
    expect(out).toMatch(/^keys\s+6\s+0\s+0$/m);
    expect(out).toMatch(/^certificates\s+3\s+0\s+0$/m);
    expect(out).toMatch(/^users\s+1\s+0\s+0$/m);
    expect(out).toMatch(/^DNS providers\s+1\s+0\s+0$/m);
    expect(out).toMatch(/^settings\s+3\s+0\s+0$/m);
    // The tracking page: two tracked URLs and an upload; the upload Certera kept no data for is skipped.
    expect(out).toMatch(/^tracking\s+3\s+0\s+1$/m);
    expect(out).toContain(`tracked "https://mail.${domain}:8443": the server mail.${domain}:8443, scanned by the node host from its next tick on, then every 4 hours`);
    expect(out).toContain(`tracked "lost.${domain}": Certera kept no certificate for it`);
    expect(out).toMatch(/^notification channels\s+2\s+0\s+0$/m);
    expect(out).not.toContain('notification settings');
    expect(out).toContain(
      'notification channel "certera-email": email to admin@example.com, ops@example.com, oncall@example.com; events certificate.expiring, tracking.expiring, tracking.changed, certificate.renewal_failed; expiry warnings at 7, 3, 1 days left',
    );
    expect(out).toContain('notification channel "certera-slack": slack to the Slack webhook; events certificate.expiring, tracking.expiring, tracking.changed, certificate.renewal_failed');
    expect(out).toContain('"certera-email" sends mail once Certkeep runs with CERTKEEP_SMTP_URL and CERTKEEP_SMTP_FROM');
    expect(out).toMatch(/ACME account "default": acme@example.com, production: found at https:\/\/127\.0\.0\.1/);
    expect(out).toMatch(/ACME account "certera-2": acme-staging@example.com, staging: registered anew at/);
    expect(out).toMatch(/key "user-1-acme-account": the key of ACME account "default": kept with the account, not offered by the download API/);
    expect(out).toMatch(/certificate "pending": .*no completed order in Certera: due now/);
    expect(out).toMatch(/Written in one transaction/);
    // The API keys are Certera's: none had to be made.
    expect(out).not.toContain('New API keys');
  });

  it("brings Certera's notification settings over as channels: mail to the user and the additional recipients, the Slack webhook, the same kinds and thresholds", async () => {
    const token = (await host!.cli(['token', 'create'], { CERTKEEP_LOG_LEVEL: 'warn' })).stdout.trim();
    const admin = new AdminClient(host!.baseUrl, token);
    const listed = await admin.get('/api/v1/notification-channels');
    expect(listed.status).toBe(200);
    const events = ['certificate.expiring', 'tracking.expiring', 'tracking.changed', 'certificate.renewal_failed'];
    expect(listed.body.items).toEqual([
      expect.objectContaining({ name: 'certera-email', type: 'email', to: ['admin@example.com', 'ops@example.com', 'oncall@example.com'], events, expiringDays: [7, 3, 1] }),
      // The webhook's URL is its credential: masked here, sealed in the database.
      expect.objectContaining({ name: 'certera-slack', type: 'slack', url: 'https://hooks.slack.com/…XXXX', events, expiringDays: [7, 3, 1] }),
    ]);
    expect(JSON.stringify(await host!.sql('SELECT * FROM notification_channels'))).not.toContain('hooks.slack.com');
    const audit = await host!.sql("SELECT actor_kind, object_name FROM audit_log WHERE action = 'notification-channel.create' ORDER BY id");
    expect(audit).toEqual([
      { actor_kind: 'cli', object_name: 'certera-email' },
      { actor_kind: 'cli', object_name: 'certera-slack' },
    ]);
  });

  it("answers Certera's curl calls with the certificate Certera served, by name, with the original API keys", () => {
    const www = fixture.certificates.www;
    const base = `http://127.0.0.1:${httpPort}`;
    // As in Certera's docs: `curl …/api/certificate/<name> -H "apiKey:<key>"`, either of the two keys.
    for (const apiKey of www.apiKeys) {
      const res = curl([`${base}/api/certificate/www`, '-H', `apiKey:${apiKey}`]);
      expect(res.status).toBe(200);
      expect(res.body).toBe(www.chainPem);
    }
    // The docs' form-body style (`-d`): chain=false is the leaf alone.
    const leaf = curl([`${base}/api/certificate/www`, '-H', `apiKey:${www.apiKeys[0]}`, '-d', 'chain=false']);
    expect(leaf.status).toBe(200);
    expect(serialOf(leaf.body)).toBe(serialOf(www.chainPem!));
    expect(leaf.body.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    // The key, with the key's own API key, matches the certificate.
    const key = curl([`${base}/api/key/www`, '-H', `apiKey:${fixture.keys.www.apiKeys[1]}`]);
    expect(key.status).toBe(200);
    expect(publicKeyOfKey(key.body)).toBe(publicKeyOfCertificate(www.chainPem!));
    const der = curl([`${base}/api/key/www`, '-H', `apiKey:${fixture.keys.www.apiKeys[0]}`, '-d', 'format=der']);
    const derFile = tempFile('www.der', '');
    writeFileSync(derFile, Buffer.from(der.body, 'base64'));
    expect(openssl(['pkey', '-inform', 'DER', '-in', derFile, '-pubout'])).toBe(publicKeyOfCertificate(www.chainPem!));
    // A certificate's key opens no key, a key's key no certificate; the account key is not offered.
    expect(curl([`${base}/api/key/www`, '-H', `apiKey:${www.apiKeys[0]}`]).status).toBe(403);
    expect(curl([`${base}/api/certificate/www`, '-H', `apiKey:${fixture.keys.www.apiKeys[0]}`]).status).toBe(403);
    expect(curl([`${base}/api/key/user-1-acme-account`, '-H', `apiKey:${fixture.keys['user-1-acme-account'].apiKeys[0]}`]).status).toBe(401);
    // A made-up key in Certera's form opens nothing.
    expect(curl([`${base}/api/certificate/www`, '-H', `apiKey:${'z'.repeat(50)}`]).status).toBe(401);
  });

  it("tracks Certera's tracked URLs and uploaded certificate, and the imported certificates by themselves", async () => {
    const token = (await host!.cli(['token', 'create'], { CERTKEEP_LOG_LEVEL: 'warn' })).stdout.trim();
    const admin = new AdminClient(host!.baseUrl, token);
    const items = (await admin.get('/api/v1/tracking?sort=source&limit=500')).body.items as Array<Record<string, any>>;
    expect(items.filter((i) => i.source === 'url').map((i) => i.target).sort()).toEqual([`mail.${domain}:8443`, `www.${domain}:443`]);
    const [upload] = items.filter((i) => i.source === 'upload');
    expect(upload).toMatchObject({ subject: `legacy.${domain}`, sha256: fixture.tracked.uploadSha256 });
    // www and api have the chain Certera served: tracked as issued certificates (pending too, once
    // the host has obtained it).
    const issued = items.filter((i) => i.source === 'issued');
    expect(issued.map((i) => i.certificate)).toEqual(expect.arrayContaining(['api', 'www']));
    expect(issued.find((i) => i.certificate === 'www')!.serial).toBe(serialOf(fixture.certificates.www.chainPem!).replace(/^serial=0*/, '').toLowerCase());
  });

  it("serves HTTPS with Certera's site certificate (--hostname)", async () => {
    const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: httpsPort, servername: `www.${domain}`, rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate());
        socket.end();
      });
      socket.on('error', reject);
    });
    expect(`serial=${peer.serialNumber}`).toBe(serialOf(fixture.certificates.www.chainPem!));
  });

  it("answers the PowerShell module's Get-Cert and Get-Key (parameters in the query string, header apiKey)", async () => {
    const api = fixture.certificates.api;
    const base = `http://127.0.0.1:${httpPort}`;
    // Get-Cert -CertName api -PfxPassword … -Staging: Invoke-WebRequest GET with -Body @{format; pfxPassword; staging}.
    const pfx = await fetch(`${base}/api/certificate/api?format=pfx&pfxPassword=${encodeURIComponent('!234SECRETbc123')}&staging=true`, { headers: { apiKey: api.apiKeys[1] } });
    expect(pfx.status).toBe(200);
    const pfxFile = tempFile('api.pfx', '');
    writeFileSync(pfxFile, Buffer.from(await pfx.text(), 'base64'));
    const contents = openssl(['pkcs12', '-in', pfxFile, '-passin', 'pass:!234SECRETbc123', '-nodes']);
    expect(serialOf(contents)).toBe(serialOf(api.chainPem!));
    expect(publicKeyOfKey(contents.slice(contents.indexOf('-----BEGIN PRIVATE KEY-----')))).toBe(publicKeyOfCertificate(api.chainPem!));
    // Get-Cert without a password: PEM, the whole chain.
    const pem = await fetch(`${base}/api/certificate/api?staging=true`, { headers: { apiKey: api.apiKeys[0] } });
    expect(await pem.text()).toBe(api.chainPem);
    // Get-Key -KeyName api -Format der / pem.
    const der = await fetch(`${base}/api/key/api?format=der`, { headers: { apiKey: fixture.keys.api.apiKeys[0] } });
    expect(der.status).toBe(200);
    const derFile = tempFile('api.der', '');
    writeFileSync(derFile, Buffer.from(await der.text(), 'base64'));
    expect(openssl(['pkey', '-inform', 'DER', '-in', derFile, '-pubout'])).toBe(publicKeyOfCertificate(api.chainPem!));
    const keyPem = await fetch(`${base}/api/key/api?format=pem`, { headers: { apiKey: fixture.keys.api.apiKeys[1] } });
    expect(publicKeyOfKey(await keyPem.text())).toBe(publicKeyOfCertificate(api.chainPem!));
    // Certera's "not yet issued" case is a 404 here too, until the scheduler has obtained it.
  });

  it("answers every form of Certera's documented calls by subject (what Certera matched) and by name, with the original API keys", async () => {
    const base = `http://127.0.0.1:${httpPort}`;
    // Certera looked `{name}` up as the subject, so its users' clients ask for www.<domain>.
    for (const c of [fixture.certificates.www, fixture.certificates.api]) {
      const key = fixture.keys[c.keyName];
      const serial = serialOf(c.chainPem!);
      const publicKey = publicKeyOfCertificate(c.chainPem!);
      // Get-Cert -Staging sends staging=true; the docs' curl examples do too for a staging certificate.
      const staging = c.staging ? 'staging=true&' : '';
      const pfxHolds = (base64: string, password: string) => {
        const contents = openssl(['pkcs12', '-in', binaryFile(base64), '-passin', `pass:${password}`, '-nodes']);
        expect(serialOf(contents)).toBe(serial);
        expect(publicKeyOfKey(contents.slice(contents.indexOf('-----BEGIN PRIVATE KEY-----')))).toBe(publicKey);
      };

      // The docs: `curl …/api/certificate/<name> -H "apiKey:<key>"`, either key, the path in any case.
      for (const [path, apiKey] of [[`/api/certificate/${c.subject}`, c.apiKeys[0]], [`/API/Certificate/${c.subject}`, c.apiKeys[1]], [`/api/certificate/${c.name}`, c.apiKeys[1]]]) {
        const res = curl([`${base}${path}${staging ? `?${staging.slice(0, -1)}` : ''}`, '-H', `apiKey:${apiKey}`]);
        expect(res, path).toMatchObject({ status: 200, body: c.chainPem });
      }
      // The docs' `-d "staging=true&format=pfx&pfxPassword=$3cr3t"` (curl makes it a POST), and the
      // same as a GET (`-X GET`), parameter names in any case.
      pfxHolds(curl([`${base}/api/certificate/${c.subject}`, '-H', `apiKey:${c.apiKeys[0]}`, '-d', `${staging}format=pfx&pfxPassword=$3cr3t`]).body, '$3cr3t');
      pfxHolds(curl(['-X', 'GET', `${base}/api/certificate/${c.subject}`, '-H', `apiKey:${c.apiKeys[1]}`, '-d', `${staging}FORMAT=pfx&PfxPassword=$3cr3t`]).body, '$3cr3t');
      const leaf = curl(['-X', 'GET', `${base}/Api/Certificate/${c.subject}`, '-H', `apiKey:${c.apiKeys[0]}`, '-d', `${staging}Chain=false`]);
      expect(leaf.body.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
      expect(serialOf(leaf.body)).toBe(serial);
      // A password of blanks is refused as Certera refused it.
      const blank = curl(['-X', 'GET', `${base}/api/certificate/${c.subject}`, '-H', `apiKey:${c.apiKeys[0]}`, '-d', `${staging}format=pfx&pfxPassword=%20`]);
      expect(blank.status).toBe(400);
      expect(JSON.parse(blank.body).field).toBe('pfxPassword');

      // Get-Cert -CertName <subject> [-PfxPassword …] [-Staging]: Invoke-WebRequest puts -Body in the query of a GET.
      const ps = { apiKey: c.apiKeys[1], 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.17763; en-US) PowerShell/7.1.0' };
      const getCert = await fetch(`${base}/api/certificate/${c.subject}?pfxPassword=${encodeURIComponent('!234SECRETbc123')}&format=pfx${c.staging ? '&staging=true' : ''}`, { headers: ps });
      expect(getCert.status).toBe(200);
      pfxHolds(await getCert.text(), '!234SECRETbc123');
      expect(await (await fetch(`${base}/api/certificate/${c.subject}${c.staging ? '?staging=true' : ''}`, { headers: ps })).text()).toBe(c.chainPem);

      // Keys by their name (Certera looked keys up by name): the docs' curl, -d format=der as a POST and as a GET.
      expect(publicKeyOfKey(curl([`${base}/api/key/${c.keyName}`, '-H', `apiKey:${key.apiKeys[0]}`]).body)).toBe(publicKey);
      for (const args of [['-d', 'format=der'], ['-X', 'GET', '-d', 'Format=der']]) {
        const der = curl([...args, `${base}/Api/Key/${c.keyName}`, '-H', `apiKey:${key.apiKeys[1]}`]);
        expect(der.status).toBe(200);
        expect(openssl(['pkey', '-inform', 'DER', '-in', binaryFile(der.body), '-pubout'])).toBe(publicKey);
      }
    }
    // Certera's connectivity check.
    expect(curl([`${base}/api/test`])).toEqual({ status: 200, body: '' });
  });

  it('signs the administrator in with the Certera password and second factor, then stores a Certkeep hash of the password', async () => {
    const login = (password: string, code?: string) =>
      fetch(`http://127.0.0.1:${httpPort}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        // Certera's email was Admin@Example.com: emails are compared in lower case.
        body: new URLSearchParams({ email: 'admin@example.com', password, next: '/', ...(code ? { code } : {}) }).toString(),
      });
    const storedHash = async () => (await host!.sql('SELECT password_hash FROM users'))[0].password_hash;
    expect((await login('not the Certera password')).status).toBe(401);
    expect(await storedHash()).toMatch(/^aspnet-identity\$AQAAAAEAACcQAAAAE/);
    // Two-factor sign-in came along: the password alone asks for the code …
    const asked = await login(fixture.password);
    expect(asked.headers.get('set-cookie')).toBeNull();
    expect(await asked.text()).toContain('name="code"');
    // … which the same authenticator app makes, or one of the unused recovery codes (once).
    const ok = await login(fixture.password, await totpCode(fixture.totp!.secret, Date.now()));
    expect(ok.status).toBe(303);
    expect(ok.headers.get('set-cookie')).toMatch(/^certkeep=/);
    expect(await storedHash()).toMatch(/^pbkdf2-sha256\$600000\$/);
    expect((await login(fixture.password, fixture.totp!.recoveryCodes[3])).status).toBe(303);
    expect((await login(fixture.password, fixture.totp!.recoveryCodes[3])).status).toBe(401);
  });

  it('renews with the imported accounts at Pebble (http-01 on the account found there, dns-01 through the imported script on the one registered anew)', async () => {
    const token = (await host!.cli(['token', 'create'], { CERTKEEP_LOG_LEVEL: 'warn' })).stdout.trim();
    const admin = new AdminClient(host!.baseUrl, token);
    const before = await admin.get('/api/v1/certificates/www');
    expect(before.body).toMatchObject({ status: 'valid', serial: serialOf(fixture.certificates.www.chainPem!).replace(/^serial=0*/, '').toLowerCase() });
    // Certera's RenewCertificateDays (20) set the renewal time.
    expect(Date.parse(before.body.notAfter) - Date.parse(before.body.renewAt)).toBe(20 * 24 * 3600 * 1000);

    for (const name of ['www', 'api']) {
      const issued = await admin.post(`/api/v1/certificates/${name}/issue?wait=true`);
      expect(issued.status, `${name}: ${issued.text}\n${host!.logs().slice(-3000)}`).toBe(200);
      const certificate = fixture.certificates[name];
      const served = await fetch(`${host!.baseUrl}/api/certificate/${name}`, { headers: { apikey: certificate.apiKeys[0] } });
      const chain = await served.text();
      expect(serialOf(chain)).not.toBe(serialOf(certificate.chainPem!));
      expect(openssl(['x509', '-noout', '-issuer'], chain)).toMatch(/Pebble Intermediate/);
      expect(openssl(['x509', '-noout', '-ext', 'subjectAltName'], chain)).toContain(certificate.subject);
      const key = await fetch(`${host!.baseUrl}/api/key/${certificate.keyName}`, { headers: { apikey: fixture.keys[certificate.keyName].apiKeys[0] } });
      expect(publicKeyOfKey(await key.text())).toBe(publicKeyOfCertificate(chain));
    }
    // The certificate Certera never obtained is obtained by the scheduler on its own.
    const deadline = Date.now() + 30_000;
    let status = '';
    while (Date.now() < deadline && status !== 'valid') {
      await host!.tick();
      status = (await admin.get('/api/v1/certificates/pending')).body.status;
    }
    expect(status).toBe('valid');
  });

  it('is idempotent: a second run finds everything and writes nothing', async () => {
    const before = await counts(dataDir);
    const again = await runCli(['import', 'certera', fixture.file, ...directories()], env(dataDir));
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^ACME accounts\s+0\s+2\s+0$/m);
    expect(again.stdout).toMatch(/^keys\s+0\s+6\s+0$/m);
    expect(again.stdout).toMatch(/^certificates\s+0\s+3\s+0$/m);
    expect(again.stdout).toMatch(/^users\s+0\s+1\s+0$/m);
    expect(again.stdout).toMatch(/^notification channels\s+0\s+2\s+0$/m);
    expect(again.stdout).toMatch(/^tracking\s+0\s+3\s+1$/m);
    expect(again.stdout).toContain('Nothing new to import');
    expect(await counts(dataDir)).toEqual(before);
  });

  it('--dry-run reports what it would do, and neither writes nor registers anything', async () => {
    const fresh = await createCerteraDb(join(makeTempDir('certera-'), 'Certera.db'), { domain: `dry.${domain}` });
    const dir = makeTempDir('certera-dry-');
    const dry = await runCli(['import', 'certera', fresh.file, ...directories(), '--dry-run'], env(dir));
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^\s+to import/m);
    expect(dry.stdout).toMatch(/^certificates\s+3\s+0\s+0$/m);
    expect(dry.stdout).toMatch(/not known at .*: it would be registered anew/);
    expect(dry.stdout).toContain('Dry run: nothing was written.');
    expect(await counts(dir)).toEqual({ acme_accounts: 0, keys: 0, certificates: 0, api_keys: 0, users: 0, dns_providers: 0, notification_channels: 0, settings: 0, tracking_targets: 0 });
    // Pebble still does not know the accounts.
    const key = await importPrivateKey(fresh.accounts.production.keyPem);
    await expect(new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: key.keyPair, outbound: testOutbound() }).newAccount({ onlyReturnExisting: true })).rejects.toMatchObject({
      problem: { type: 'urn:ietf:params:acme:error:accountDoesNotExist' },
    });
  });

  it('skips a key whose PEM does not parse, and the certificate that uses it, with the reason; the rest is imported', async () => {
    const broken = await createCerteraDb(join(makeTempDir('certera-'), 'Certera.db'), { domain: `broken.${domain}`, brokenKey: true });
    const dir = makeTempDir('certera-broken-');
    const res = await runCli(['import', 'certera', broken.file, ...directories()], env(dir));
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^keys\s+6\s+0\s+1$/m);
    expect(res.stdout).toMatch(/^certificates\s+3\s+0\s+1$/m);
    expect(res.stdout).toMatch(/Skipped:\n {2}key "broken": its PEM cannot be read: .+\n {2}certificate "legacy": its key "broken" was not imported \(its PEM cannot be read/);
    expect((await counts(dir)).certificates).toBe(3);
  });

  it('imports into a data dir in use, and leaves objects of the same name alone: keys and certificates are skipped with the reason, accounts get a free name', async () => {
    // Another Certera install whose objects have the same names, with other keys, imported while the host serves.
    const other = await createCerteraDb(join(makeTempDir('certera-'), 'Certera.db'), { domain: `other.${domain}` });
    const res = await runCli(['import', 'certera', other.file, ...directories()], env(dataDir));
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^ACME accounts\s+2\s+0\s+0$/m);
    expect(res.stdout).toMatch(/ACME account "certera-1": acme@example.com, production/);
    expect(res.stdout).toMatch(/ACME account "certera-2-2": acme-staging@example.com, staging/);
    expect(res.stdout).toMatch(/^certificates\s+0\s+0\s+3$/m);
    expect(res.stdout).toContain('key "www": Certkeep already has a different key named "www"');
    expect(res.stdout).toContain('certificate "www": Certkeep already has a different certificate named "www"');
    expect(res.stdout).toMatch(/user "admin@example.com": a Certkeep user with this email is here already/);
    // The first install's keys still open its certificate; the other's open nothing.
    const get = (apiKey: string) => fetch(`${host!.baseUrl}/api/certificate/pending`, { headers: { apiKey } });
    expect((await get(fixture.certificates.pending.apiKeys[0])).status).toBe(200);
    expect((await get(other.certificates.pending.apiKeys[0])).status).toBe(401);
  });

  it('answers bad usage with exit 2', async () => {
    const dir = makeTempDir('certera-usage-');
    expect((await runCli(['import', '--help'], env(dir))).stdout).toMatch(/^Usage: certkeep import certera FILE/);
    for (const args of [['import', 'certera'], ['import', 'lego', fixture.file], ['import', 'certera', fixture.file, '--acme-directory', 'http://127.0.0.1/dir']]) {
      const res = await runCli(args, env(dir));
      expect(res.code, args.join(' ')).toBe(2);
    }
  });

  describe('refuses, with exit 1 and nothing changed', () => {
    let dir: string;
    let before: Record<string, number>;
    beforeAll(async () => {
      // The data dir in use, which holds the import: it must stay exactly as it is.
      dir = dataDir;
      before = await counts(dir);
    });

    const refused = async (file: string, reason: RegExp) => {
      const res = await runCli(['import', 'certera', file, ...directories()], env(dir));
      expect(res.code).toBe(1);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(reason);
      expect(res.stdout).toBe('');
      expect(await counts(dir)).toEqual(before);
    };

    it('a truncated Certera.db', async () => {
      const copy = join(makeTempDir('certera-'), 'Certera.db');
      copyFileSync(fixture.file, copy);
      truncateSync(copy, Math.floor(readFileSync(copy).length * 0.6));
      await refused(copy, /damaged|cannot read/);
    });

    it('a SQLite file that is not a Certera database, and a file that is not SQLite', async () => {
      const other = join(makeTempDir('certera-'), 'other.db');
      const client = createClient({ url: `file:${other}` });
      await client.execute('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)');
      client.close();
      await refused(other, /not a Certera database: it has no __EFMigrationsHistory table/);
      // Another Entity Framework application's database.
      const foreign = createClient({ url: `file:${other}` });
      await foreign.executeMultiple(`CREATE TABLE "__EFMigrationsHistory" ("MigrationId" TEXT NOT NULL PRIMARY KEY, "ProductVersion" TEXT NOT NULL);
        INSERT INTO "__EFMigrationsHistory" VALUES ('20200101000000_InitialCreate', '3.1.0');`);
      foreign.close();
      await refused(other, /not a Certera database: its Entity Framework migrations \(20200101000000_InitialCreate\) are not Certera's/);
      await refused(tempFile('Certera.db', 'hello\n'), /not a SQLite database/);
      await refused(join(dir, 'nothing-here.db'), /no such file/);
    });

    it('a Certera database with a newer migration, naming it', async () => {
      // The same install, after a later Certera ran a migration of its own on it.
      const newer = join(makeTempDir('certera-'), 'Certera.db');
      copyFileSync(fixture.file, newer);
      const client = createClient({ url: `file:${newer}` });
      await client.execute(`INSERT INTO "__EFMigrationsHistory" VALUES ('20210824120000_ShortLivedCertificates', '5.0.9')`);
      client.close();
      await refused(newer, /unknown Certera migration 20210824120000_ShortLivedCertificates/);
    });
  });
});
