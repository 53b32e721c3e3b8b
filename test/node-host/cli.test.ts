// The node host's command line and process behaviour (node host only: the Worker has no CLI,
// no HTTPS listener of its own and no signals): exit codes, --help, setup and token creation
// against Pebble, settings errors, the self-signed HTTPS listener, graceful SIGTERM.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePebble, startPebble, type Pebble } from '../harness/pebble.ts';
import { freePort } from '../harness/ports.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { runCli, startNodeHost } from '../harness/hosts.ts';
import { presentedAfterIssuance } from '../harness/served-certificate.ts';
import { TEST_PRIVATE_TARGETS } from '../harness/outbound.ts';

const baseEnv = (dataDir: string): Record<string, string> => ({ CERTKEEP_DATA_DIR: dataDir, CERTKEEP_LOG_LEVEL: 'warn', CERTKEEP_ALLOW_PRIVATE_TARGETS: TEST_PRIVATE_TARGETS });

describe('certkeep CLI', () => {
  it('prints help with exit 0, and exits 2 on an unknown command or a bad option', async () => {
    const help = await runCli(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/certkeep serve/);
    expect(help.stdout).toMatch(/CERTKEEP_HTTP_PORT/);
    for (const command of ['serve', 'setup', 'token']) {
      const res = await runCli([command, '--help'], {});
      expect(res.code, command).toBe(0);
      expect(res.stdout).toMatch(/^Usage: certkeep /);
    }
    expect((await runCli(['frobnicate'], {})).code).toBe(2);
    expect((await runCli(['setup', '--no-such-flag'], {})).code).toBe(2);
    expect((await runCli(['token', 'delete'], {})).code).toBe(2);
    const missing = await runCli(['setup', '--admin-email', 'a@example.com'], baseEnv(makeTempDir('cli-')));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--admin-password-file is required/);
  });

  it('stops with exit 1 and a one-line message naming a malformed setting', async () => {
    const res = await runCli(['token', 'create'], { ...baseEnv(makeTempDir('cli-')), CERTKEEP_HTTP_PORT: 'eighty' });
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/CERTKEEP_HTTP_PORT/);
  });

  it('refuses an unknown CERTKEEP_ setting in config.json', async () => {
    const dir = makeTempDir('cli-');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ CERTKEEP_HTTP_PROT: 8080 }));
    const res = await runCli(['token', 'create'], baseEnv(dir));
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/CERTKEEP_HTTP_PROT/);
  });

  it('makes no token for a data dir that was never set up, and creates nothing there', async () => {
    const parent = makeTempDir('cli-');
    const missing = join(parent, 'data');
    for (const args of [['token', 'create'], ['user', 'unlock', 'admin@example.com']]) {
      const res = await runCli(args, baseEnv(missing));
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(/does not exist; run "certkeep setup" first/);
    }
    expect(existsSync(missing)).toBe(false);

    // A data dir the server has started on (database and master key made) but nobody set up.
    const fresh = makeTempDir('cli-');
    writeFileSync(join(fresh, 'master.key'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const { openDatabase } = await import('../../node-host/db.ts');
    (await openDatabase(`file:${join(fresh, 'certkeep.db')}`)).close();
    for (const args of [['token', 'create'], ['user', 'unlock', 'admin@example.com']]) {
      const res = await runCli(args, baseEnv(fresh));
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(/has not been set up: run "certkeep setup" or the setup wizard first/);
    }
  });

  it('names why a CA cannot be reached: an untrusted certificate (with the NODE_EXTRA_CA_CERTS hint), nothing listening', async () => {
    const dir = makeTempDir('untrusted-');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=Private CA',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const server = createHttpsServer({ cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }, (_, res) => res.end('{}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, 'correct horse battery staple\n');
    const setup = (directory: string) =>
      runCli(['setup', '--admin-email', 'admin@example.com', '--admin-password-file', passwordFile, '--acme-directory', directory, '--accept-tos'], baseEnv(makeTempDir('cli-')));
    try {
      const untrusted = await setup(`https://${host}/dir`);
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toBe(
        `certkeep setup: request to https://${host}/dir failed: the TLS certificate of ${host} is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT); if a private CA issued it, start Certkeep with NODE_EXTRA_CA_CERTS=/path/to/ca.pem\n`,
      );
    } finally {
      await new Promise((r) => server.close(r));
    }
    const refused = await setup(`https://${host}/dir`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`certkeep setup: request to https://${host}/dir failed: nothing accepts connections at ${host} (connection refused, ECONNREFUSED)\n`);
  });

  it('explains how to fix a port that cannot be bound', async () => {
    const blocker = await import('node:net').then((net) => net.createServer().listen(0, '127.0.0.1'));
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const res = await runCli(['serve'], { ...baseEnv(makeTempDir('cli-')), CERTKEEP_HTTP_PORT: String(port), CERTKEEP_BIND: '127.0.0.1', CERTKEEP_HTTPS_PORT: '0' });
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/already in use.*CERTKEEP_HTTP_PORT/);
    } finally {
      blocker.close();
    }
  });
});

describePebble('certkeep setup, token create and serve', () => {
  let pebble: Pebble;
  let dataDir: string;
  let httpPort: number;

  beforeAll(async () => {
    httpPort = await freePort();
    pebble = await startPebble({ httpPort });
    dataDir = makeTempDir('cli-setup-');
  });
  afterAll(async () => pebble?.stop());

  it('sets up non-interactively, then serves with the token it wrote, HTTPS included, and stops on SIGTERM', async () => {
    const passwordFile = join(makeTempDir('pw-'), 'password');
    writeFileSync(passwordFile, 'correct horse battery staple\n');
    const tokenFile = join(dataDir, 'token');
    const setup = await runCli(
      ['setup', '--admin-email', 'admin@example.com', '--admin-password-file', passwordFile, '--acme-directory', pebble.directoryUrl, '--acme-email', 'ops@example.com', '--accept-tos', '--token-file', tokenFile],
      baseEnv(dataDir),
    );
    expect(setup.stderr).toBe('');
    expect(setup.code).toBe(0);
    const token = (await import('node:fs')).readFileSync(tokenFile, 'utf8').trim();
    expect(token).toMatch(/^ckt_/);

    const again = await runCli(
      ['setup', '--admin-email', 'admin@example.com', '--admin-password-file', passwordFile, '--acme-directory', pebble.directoryUrl, '--accept-tos'],
      baseEnv(dataDir),
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already been completed/);

    const created = await runCli(['token', 'create', '--name', 'ci'], baseEnv(dataDir));
    expect(created.code).toBe(0);
    const second = created.stdout.trim();
    expect(second).toMatch(/^ckt_[A-Za-z0-9_-]{32}$/);

    const httpsPort = await freePort();
    const host = await startNodeHost({ httpPort, dataDir, env: { CERTKEEP_HTTPS_PORT: String(httpsPort) } });
    try {
      for (const t of [token, second]) {
        const res = await fetch(`${host.baseUrl}/api/v1/accounts`, { headers: { authorization: `Bearer ${t}` } });
        expect(res.status).toBe(200);
        expect((await res.json()).items[0]).toMatchObject({ name: 'default', email: 'ops@example.com', status: 'valid' });
      }
      // HTTPS answers with a self-signed certificate until a site certificate exists.
      const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: httpsPort, rejectUnauthorized: false, servername: 'localhost' }, () => {
          resolve(socket.getPeerCertificate());
          socket.end();
        });
        socket.on('error', reject);
      });
      expect(peer.subject.CN).toBe(peer.issuer.CN);
      expect(peer.subjectaltname).toMatch(/DNS:localhost/);

      // Five failed sign-ins lock the account; `certkeep user unlock` opens it again, and
      // `certkeep user password` replaces the password.
      const login = (password: string) =>
        fetch(`${host.baseUrl}/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ email: 'admin@example.com', password }),
          redirect: 'manual',
        }).then((r) => r.status);
      for (let i = 0; i < 5; i++) expect(await login('wrong password')).toBe(i < 4 ? 401 : 429);
      expect(await login('correct horse battery staple')).toBe(429);
      expect((await runCli(['user', 'unlock', 'admin@example.com'], baseEnv(dataDir))).code).toBe(0);
      expect(await login('correct horse battery staple')).toBe(303);
      writeFileSync(passwordFile, 'a brand new password\n');
      expect((await runCli(['user', 'password', 'admin@example.com', '--password-file', passwordFile], baseEnv(dataDir))).code).toBe(0);
      expect(await login('correct horse battery staple')).toBe(401);
      expect(await login('a brand new password')).toBe(303);
      expect((await runCli(['user', 'unlock', 'nobody@example.com'], baseEnv(dataDir))).code).toBe(1);
      expect((await runCli(['user', 'frobnicate', 'x@example.com'], baseEnv(dataDir))).code).toBe(2);
    } finally {
      const exited = host.process.exited;
      process.kill(host.process.pid, 'SIGTERM');
      expect(await exited).toBe(0);
      expect(host.logs()).toMatch(/certkeep stopped/);
      await host.stop();
      // The database file alone (no write-ahead log beside it) holds what the server wrote.
      const copy = join(makeTempDir('db-alone-'), 'certkeep.db');
      copyFileSync(join(dataDir, 'certkeep.db'), copy);
      const { createClient } = await import('@libsql/client');
      const client = createClient({ url: `file:${copy}` });
      try {
        // The last sign-in above made a session, written by the server.
        expect(Number((await client.execute('select count(*) as n from sessions')).rows[0].n)).toBeGreaterThan(0);
      } finally {
        client.close();
      }
    }
  });
  it('presents the site certificate of `certkeep setup --hostname` on the running server within a second of its issuance', async () => {
    const siteDir = makeTempDir('cli-site-');
    const httpsPort = await freePort();
    const host = await startNodeHost({ httpPort, dataDir: siteDir, env: { CERTKEEP_HTTPS_PORT: String(httpsPort) } });
    try {
      const passwordFile = join(makeTempDir('pw-'), 'password');
      writeFileSync(passwordFile, 'correct horse battery staple\n');
      const hostname = `cli-site-${Date.now()}.example.com`;
      const setup = await runCli(
        ['setup', '--admin-email', 'admin@example.com', '--admin-password-file', passwordFile, '--acme-directory', pebble.directoryUrl, '--accept-tos', '--hostname', hostname, '--token-file', join(siteDir, 'token')],
        baseEnv(siteDir),
      );
      expect(setup.stderr).toBe('');
      expect(setup.code).toBe(0);
      // The running server's scheduler obtains it; its HTTPS port presents it at once.
      const presented = await presentedAfterIssuance(host, httpsPort, hostname, null, 30_000);
      expect(presented.seenAt - presented.issuedAt).toBeLessThan(1000);
    } finally {
      await host.stop();
    }
  });
});
