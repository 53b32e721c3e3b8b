// The agent's checks and failure paths, under dash and under bash, against a small stub of
// Certkeep's download API that serves crafted answers: a key of another certificate, a
// certificate for other names, an expired or not yet valid one, a download cut short, a server
// that is down, a reload that fails, a server that keeps presenting the old certificate. Each
// must leave the installed files exactly as they were (bytes, inode, time), say one clear line
// and exit 1, while the other blocks still run. The full loop with Certkeep, Pebble and nginx is
// agent.nginx.test.ts.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../harness/tmp.ts';
import { freePort } from '../harness/ports.ts';
import { gatedDescribe, requirePrograms } from '../harness/skip.ts';
import { AGENT, SHELLS, fileState, linesOf, newKeyPair, reloadScript, runAgent, testIssuer, writeConfig, type FileState, type Shell, type TestIssuer } from './agent-harness.ts';
import { AGENT_VERSION } from '../../templates/static/agent.generated.ts';

const describeAgent = gatedDescribe(requirePrograms(['/bin/dash', '/bin/bash', '/usr/bin/curl', '/usr/bin/openssl'], 'apt-get install dash curl openssl'));
const describeShellcheck = gatedDescribe(requirePrograms(['/usr/bin/shellcheck'], 'apt-get install shellcheck'));

const CERT_KEY = 'cka_certificate-key-0123456789abcdefghijkl';
const KEY_KEY = 'cka_private-key-key-0123456789abcdefghijkl';
const NAMES = ['www.example.com', 'example.com'];

/** What the stub serves now; each test sets it. */
interface Served {
  chain: string;
  keyPem: string;
  /** Cut the certificate download short: announce all of it, send half, close. */
  truncate?: boolean;
  /** What the PFX (format=pfx) holds, when not the served certificate and key: a PFX that does not belong. */
  pfx?: { chain: string; keyPem: string };
}

/** The pfxPassword of each PFX download, as the stub received it. */
let pfxPasswords: Array<string | null> = [];

/** A PKCS#12 of the served chain and key (or pfxKeyPem), made by openssl, base64 as Certkeep sends it. */
function pfxOf(password: string): string {
  const dir = makeTempDir('stub-pfx-');
  writeFileSync(join(dir, 'chain.pem'), served.pfx?.chain ?? served.chain);
  writeFileSync(join(dir, 'key.pem'), served.pfx?.keyPem ?? served.keyPem);
  return execFileSync('openssl', ['pkcs12', '-export', '-inkey', join(dir, 'key.pem'), '-in', join(dir, 'chain.pem'), '-passout', 'env:PFX_PASSWORD'], {
    env: { ...process.env, PFX_PASSWORD: password },
  }).toString('base64');
}

let issuer: TestIssuer;
let served: Served;
let reports: Array<Record<string, unknown>> = [];
let stub: Server;
let stubUrl: string;
let downUrl: string;

function etagOf(text: string): string {
  return `"${createHash('sha256').update(text).digest('base64url')}"`;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const key = req.headers.apikey;
  if (path === '/api/agent/report' && req.method === 'POST') {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (key !== CERT_KEY) {
        res.writeHead(401).end();
        return;
      }
      reports.push(JSON.parse(body));
      res.writeHead(204).end();
    });
    return;
  }
  if (path === '/api/certificate/www' && req.method === 'POST') {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      if (key !== CERT_KEY || form.get('format') !== 'pfx' || !form.get('pfxPassword')) {
        res.writeHead(key !== CERT_KEY ? 401 : 400, { 'content-type': 'application/problem+json' }).end('{"status":400,"detail":"no"}');
        return;
      }
      pfxPasswords.push(form.get('pfxPassword'));
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(pfxOf(form.get('pfxPassword')!));
    });
    return;
  }
  const answer = (wanted: string, body: string): void => {
    if (key !== wanted) {
      res.writeHead(401, { 'content-type': 'application/problem+json' }).end('{"status":401,"detail":"a valid apiKey header is required"}');
      return;
    }
    const etag = etagOf(body);
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    if (served.truncate && wanted === CERT_KEY) {
      res.writeHead(200, { etag, 'content-length': Buffer.byteLength(body) });
      res.write(body.slice(0, body.length / 2), () => res.socket?.destroy());
      return;
    }
    res.writeHead(200, { etag, 'content-type': 'text/plain; charset=utf-8' }).end(body);
  };
  if (path === '/api/certificate/www') return answer(CERT_KEY, served.chain);
  if (path === '/api/key/www') return answer(KEY_KEY, served.keyPem);
  res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"status":404,"detail":"certificate does not exist"}');
}

beforeAll(async () => {
  issuer = await testIssuer();
  stub = createServer(handle);
  const port = await freePort();
  await new Promise<void>((resolve) => stub.listen(port, '127.0.0.1', resolve));
  stubUrl = `http://127.0.0.1:${port}`;
  // A port nothing listens on: the server is down.
  downUrl = `http://127.0.0.1:${await freePort()}`;
});
afterAll(async () => {
  stub?.closeAllConnections();
  await new Promise((resolve) => stub?.close(resolve));
});

interface Setup {
  dir: string;
  tls: string;
  state: string;
  config: string;
  log: string;
  files: { fullchain: string; cert: string; chain: string; key: string };
  run(extra?: string[], env?: Record<string, string>): ReturnType<typeof runAgent>;
  snapshot(): Record<string, FileState | null>;
}

function setup(shell: Shell, block: Record<string, string> = {}, more: Record<string, Record<string, string>> = {}): Setup {
  const dir = makeTempDir(`agent-${shell}-`);
  const tls = join(dir, 'tls');
  const state = join(dir, 'state');
  mkdirSync(tls);
  const log = join(dir, 'reloads.log');
  const files = { fullchain: join(tls, 'www.pem'), cert: join(tls, 'www.crt'), chain: join(tls, 'www.chain.pem'), key: join(tls, 'www.key') };
  const config = writeConfig(join(dir, 'agent.conf'), {
    www: {
      url: stubUrl,
      certificate: 'www',
      'certificate-api-key': CERT_KEY,
      'key-api-key': KEY_KEY,
      ...files,
      reload: reloadScript(dir, 'reload', log),
      'expect-names': NAMES.join(', '),
      ...block,
    },
    ...more,
  });
  return {
    dir, tls, state, config, log, files,
    run: (extra = [], env = {}) => runAgent(shell, ['run', '-c', config, ...extra], { CERTKEEP_AGENT_STATE_DIR: state, ...env }),
    snapshot: () => Object.fromEntries(Object.entries(files).map(([k, p]) => [k, fileState(p)])),
  };
}

/** The one line the agent wrote on stderr (warnings aside). */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter(Boolean);
  expect(lines, stderr).toHaveLength(1);
  return lines[0];
}

for (const shell of SHELLS) {
  describeAgent(`certkeep-agent under ${shell}`, () => {
    let good: Awaited<ReturnType<TestIssuer['issue']>>;
    beforeEach(async () => {
      reports = [];
      pfxPasswords = [];
      good = await issuer.issue({ names: NAMES });
      served = { chain: good.chain, keyPem: good.keyPem };
    });

    it('installs every file atomically with its mode and owner, reloads once, reports; then does nothing while unchanged', async () => {
      const s = setup(shell, { mode: '0640' });
      // An existing key file of another owner: the owner is kept (only root can give files away).
      const root = process.getuid?.() === 0;
      if (root) {
        writeFileSync(s.files.key, 'old key\n', { mode: 0o600 });
        chownSync(s.files.key, 65534, 65534);
      }
      const first = await s.run();
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(new RegExp(`^www: installed certificate ${good.serial} \\(valid until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\\) to .*www\\.pem .*www\\.key; reloaded\\n$`));
      const after = s.snapshot();
      expect(after.fullchain?.bytes).toBe(good.chain);
      expect(after.key?.bytes).toBe(good.keyPem);
      expect(after.cert?.bytes).toBe(/^[\s\S]*?-----END CERTIFICATE-----\n/.exec(good.chain)![0]);
      expect(execFileSync('openssl', ['x509', '-noout', '-subject'], { input: after.chain!.bytes, encoding: 'utf8' })).toContain('certkeep agent test CA');
      expect(after.key?.mode).toBe(0o600);
      expect([after.fullchain?.mode, after.cert?.mode, after.chain?.mode]).toEqual([0o640, 0o640, 0o640]);
      if (root) expect(execFileSync('stat', ['-c', '%u:%g', s.files.key], { encoding: 'utf8' }).trim()).toBe('65534:65534');
      expect(linesOf(s.log)).toBe(1);
      expect(reports).toEqual([{ certificate: 'www', serial: good.serial, installed: true, reload: 'ok', verified: null, host: expect.any(String), agentVersion: AGENT_VERSION }]);
      // No temporary file left beside the installed ones.
      expect(execFileSync('ls', ['-A', s.tls], { encoding: 'utf8' }).split('\n').filter(Boolean).sort()).toEqual(['www.chain.pem', 'www.crt', 'www.key', 'www.pem']);

      const second = await s.run();
      expect(second).toEqual({ code: 0, stdout: `www: unchanged (serial ${good.serial})\n`, stderr: '' });
      expect(s.snapshot()).toEqual(after);
      expect(linesOf(s.log)).toBe(1);
      expect(reports).toHaveLength(1);
      expect(await s.run(['--quiet'])).toEqual({ code: 0, stdout: '', stderr: '' });
    });

    // Under bash here; under dash against the real Certkeep in agent.nginx.test.ts.
    it.skipIf(shell !== 'bash')('installs a PFX (mode 0600) that openssl opens with the password from its file, and leaves it while it holds the current certificate', async () => {
      pfxPasswords = [];
      const password = `s3cret "quoted" \\ back\\slash & more=%20`;
      const s = setup(shell);
      const pwFile = join(s.dir, 'pfx-password');
      writeFileSync(pwFile, `${password}\nsecond line is not the password\n`, { mode: 0o600 });
      const pfx = join(s.tls, 'www.pfx');
      writeConfig(s.config, { www: { ...configOf(s), pfx, 'pfx-password-file': pwFile } });
      const run = await s.run();
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`${pfx}; reloaded`);
      // The password went over the form body intact (curl's config quoting, URL encoding).
      expect(pfxPasswords).toEqual([password]);
      const opened = (args: string[]) => execFileSync('openssl', ['pkcs12', '-in', pfx, '-passin', `file:${pwFile}`, ...args], { encoding: 'utf8' });
      expect(execFileSync('openssl', ['x509', '-noout', '-serial'], { input: opened(['-nokeys', '-clcerts']), encoding: 'utf8' }).trim().toLowerCase()).toBe(`serial=${good.serial.padStart(4, '0')}`);
      const pub = (pem: string) => execFileSync('openssl', ['pkey', '-pubout'], { input: pem, encoding: 'utf8' });
      expect(pub(opened(['-nocerts', '-nodes']))).toBe(pub(good.keyPem));
      expect(fileState(pfx)?.mode).toBe(0o600);
      // The state lost (no ETag): the PFX holds the served certificate, so nothing is rewritten.
      const before = fileState(pfx);
      execFileSync('rm', ['-f', join(s.state, 'www.etag')]);
      const again = await s.run();
      expect(again.stdout).toBe(`www: certificate ${good.serial} is already installed\n`);
      expect(fileState(pfx)).toEqual(before);
      expect(linesOf(s.log)).toBe(1);

      // A PFX of another certificate than the one served beside it is refused, and nothing is
      // installed. (One with the certificate but another key cannot be made with openssl, which
      // refuses to export it; the agent compares the public keys too.)
      const next = await issuer.issue({ names: NAMES });
      const other = await issuer.issue({ names: NAMES });
      served = { chain: next.chain, keyPem: next.keyPem, pfx: other };
      const refused = await s.run();
      expect(refused.code).toBe(1);
      expect(oneLine(refused.stderr)).toBe(`www: the PFX holds certificate ${other.serial}, not ${next.serial} (renewed meanwhile? the next run tries again); nothing installed`);
      expect(fileState(pfx)).toEqual(before);
      expect(reports.at(-1)).toMatchObject({ serial: next.serial, installed: false, reload: 'skipped' });

      // A PFX without its password file, or with an empty one, is a config mistake (exit 2).
      const { 'pfx-password-file': _pw, ...withoutPassword } = configOf(s);
      writeConfig(s.config, { www: withoutPassword });
      expect(await s.run()).toMatchObject({ code: 2, stderr: `${s.config}: [www] pfx needs pfx-password-file (a file whose first line is the password the PFX is encrypted with)\n` });
      writeFileSync(pwFile, '  \n', { mode: 0o600 });
      writeConfig(s.config, { www: { ...withoutPassword, 'pfx-password-file': pwFile } });
      expect(await s.run()).toMatchObject({ code: 2, stderr: `${s.config}: [www] pfx-password-file: the first line of ${pwFile} is empty (it is the PFX password)\n` });
    });

    it('runs the other blocks when one fails, and exits 1', async () => {
      const s = setup(shell, {}, {
        broken: { url: downUrl, certificate: 'www', 'certificate-api-key': CERT_KEY, fullchain: join(makeTempDir('broken-'), 'x.pem') },
      });
      const run = await s.run();
      expect(run.code).toBe(1);
      expect(oneLine(run.stderr)).toMatch(/^broken: cannot reach Certkeep/);
      expect(run.stdout).toMatch(/^www: installed certificate/);
      expect(s.snapshot().fullchain?.bytes).toBe(good.chain);
    });

    it('puts the previous files back when the reload fails, reloads them, and says so', async () => {
      const s = setup(shell);
      expect((await s.run()).code).toBe(0);
      const before = s.snapshot();
      const next = await issuer.issue({ names: NAMES });
      served = { chain: next.chain, keyPem: next.keyPem };
      reports = [];
      // Fails once (with the new files), works with the old ones.
      writeConfig(s.config, { www: { ...configOf(s), reload: reloadScript(s.dir, 'flaky', s.log, [], { failTimes: 1 }) } });
      const run = await s.run();
      expect(run.code).toBe(1);
      expect(oneLine(run.stderr)).toMatch(/^www: the reload failed \(".*flaky\.sh" exited with 3: simulated failure: the service refused\); the previous files are back and reloading with them worked$/);
      expect(s.snapshot()).toEqual(Object.fromEntries(Object.entries(before).map(([k, v]) => [k, { ...v, ino: expect.any(Number), mtimeMs: expect.any(Number) }])));
      expect(linesOf(s.log)).toBe(3);
      expect(reports).toEqual([expect.objectContaining({ serial: next.serial, installed: false, reload: 'failed' })]);

      // A reload that never works: the files still go back, and the line says to look now.
      writeConfig(s.config, { www: { ...configOf(s), reload: reloadScript(s.dir, 'broken', s.log, [], { failTimes: 99 }) } });
      const worse = await s.run();
      expect(worse.code).toBe(1);
      expect(oneLine(worse.stderr)).toMatch(/the previous files are back, but reloading with them failed too \(simulated failure: the service refused\): check the server now$/);
      expect(s.snapshot().fullchain?.bytes).toBe(before.fullchain?.bytes);
    });

    it('puts back only what each block replaced: a file that did not exist before is removed, not filled with another block\'s', async () => {
      const s = setup(shell);
      expect((await s.run()).code).toBe(0);
      const before = s.snapshot();
      const next = await issuer.issue({ names: NAMES });
      served = { chain: next.chain, keyPem: next.keyPem };
      const fresh = join(makeTempDir('second-'), 'second.pem');
      const failing = reloadScript(s.dir, 'never', s.log, [], { failTimes: 99 });
      writeConfig(s.config, {
        www: { ...configOf(s), reload: failing },
        second: { url: stubUrl, certificate: 'www', 'certificate-api-key': CERT_KEY, fullchain: fresh, reload: failing },
      });
      const run = await s.run();
      expect(run.code).toBe(1);
      expect(run.stderr.split('\n').filter(Boolean).map((l) => l.split(':')[0])).toEqual(['www', 'second']);
      expect(s.snapshot().fullchain?.bytes).toBe(before.fullchain?.bytes);
      expect(fileState(fresh)).toBeNull();
    });

    it('with verify, checks over TLS that the server presents the new serial, and puts the old files back when it does not', async () => {
      const s = setup(shell);
      expect((await s.run()).code).toBe(0);
      const before = s.snapshot();
      // A TLS server that keeps presenting the installed (old) certificate.
      const port = await freePort();
      const server: TlsServer = createTlsServer({ cert: good.chain, key: good.keyPem }, (socket) => socket.end());
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      try {
        const next = await issuer.issue({ names: NAMES });
        served = { chain: next.chain, keyPem: next.keyPem };
        writeConfig(s.config, { www: { ...configOf(s), verify: `127.0.0.1:${port}` } });
        const run = await s.run([], { CERTKEEP_AGENT_VERIFY_TRIES: '2' });
        expect(run.code).toBe(1);
        expect(oneLine(run.stderr)).toBe(`www: after the reload, 127.0.0.1:${port} presents serial ${good.serial}, not ${next.serial}; the previous files are back and reloaded`);
        expect(s.snapshot().fullchain?.bytes).toBe(before.fullchain?.bytes);
        expect(reports.at(-1)).toMatchObject({ serial: next.serial, installed: false, reload: 'ok', verified: false });

        // Now the server presents the new certificate (as a reload would make it): verified.
        server.setSecureContext({ cert: next.chain, key: next.keyPem });
        const ok = await s.run();
        expect(ok.stderr).toBe('');
        expect(ok.stdout).toMatch(new RegExp(`; reloaded; 127\\.0\\.0\\.1:${port} presents it\\n$`));
        expect(reports.at(-1)).toMatchObject({ serial: next.serial, installed: true, reload: 'ok', verified: true });
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('--dry-run says what it would do and changes nothing: no file, no state, no reload, no report', async () => {
      const s = setup(shell);
      const run = await s.run(['--dry-run']);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^www: would install certificate ${good.serial} \\(valid until [^)]+\\) to .*www\\.pem .*www\\.key and run: .*reload\\.sh\\n$`));
      expect(Object.values(s.snapshot())).toEqual([null, null, null, null]);
      expect(fileState(s.state)).toBeNull();
      expect(linesOf(s.log)).toBe(0);
      expect(reports).toEqual([]);
      // A refused certificate fails a dry run too.
      served = { ...served, chain: (await issuer.issue({ names: ['other.example.net'] })).chain };
      expect((await s.run(['--dry-run'])).code).toBe(1);
    });

    it('refuses a bad config or command line with exit 2 and the line at fault, before doing anything', async () => {
      const s = setup(shell);
      writeFileSync(s.config, `[www]\nurl = ${stubUrl}\ncertificate = www\ncolour = red\n`, { mode: 0o600 });
      const bad = await s.run();
      expect(bad.code).toBe(2);
      expect(bad.stderr).toBe(`${s.config}:4: unknown key "colour" in [www]\n`);
      writeConfig(s.config, { www: { url: 'http://certkeep.example.com', certificate: 'www', 'certificate-api-key': '<certificate API key 1>', key: 'relative.key' } });
      const wrong = await s.run();
      expect(wrong.code).toBe(2);
      expect(wrong.stderr.split('\n').filter(Boolean)).toEqual([
        `${s.config}: [www] url: use https:// (plain http:// only to this machine: API keys must not cross a network in clear)`,
        `${s.config}: [www] certificate-api-key does not look like an API key (letters, digits, "_" and "-")`,
        `${s.config}: [www] nothing to install: give fullchain (certificate and chain in one file), cert or pfx`,
        `${s.config}: [www] key needs key-api-key (the API key that downloads the private key)`,
        `${s.config}: [www] key: "relative.key" is not an absolute path`,
      ]);
      expect(fileState(s.state)).toBeNull();
      expect((await runAgent(shell, ['run', '--bogus'])).code).toBe(2);
      expect((await runAgent(shell, [])).code).toBe(2);
      expect((await runAgent(shell, ['run', '-c', join(s.dir, 'missing.conf')])).stderr).toContain('cannot read the config');
      const help = await runAgent(shell, ['--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('usage: certkeep-agent run [-c FILE] [--dry-run] [--force] [--quiet]');
    });
  });
}

// The refusals, each under one of the two shells in turn: a first installation per shell, which
// a refused update must leave exactly as it is.
describeAgent('certkeep-agent leaves the installed files untouched, says one clear line and exits 1 when', () => {
  const cases: Array<[string, () => Promise<Partial<Served> & { url?: 'down' }>, RegExp, boolean]> = [
    ['the key belongs to another certificate', async () => {
      const next = await issuer.issue({ names: NAMES });
      return { chain: next.chain, keyPem: (await issuer.issue({ names: NAMES, keys: await newKeyPair() })).keyPem };
    }, /^www: the key www does not belong to certificate [0-9a-f]+ \(their public keys differ\); nothing installed$/, true],
    ['the certificate is for other names', async () => {
      const other = await issuer.issue({ names: ['other.example.net', 'example.com'] });
      return { chain: other.chain, keyPem: other.keyPem };
    }, /^www: certificate [0-9a-f]+ does not cover www\.example\.com \(it has: other\.example\.net example\.com\); nothing installed$/, true],
    ['the certificate has expired', async () => {
      const old = await issuer.issue({ names: NAMES, notBefore: new Date(Date.now() - 86_400_000 * 100), notAfter: new Date(Date.now() - 86_400_000 * 10) });
      return { chain: old.chain, keyPem: old.keyPem };
    }, /^www: certificate [0-9a-f]+ expired on \d{4}-\d\d-\d\d \d\d:\d\d UTC; nothing installed$/, true],
    ['the certificate is not valid yet', async () => {
      const early = await issuer.issue({ names: NAMES, notBefore: new Date(Date.now() + 86_400_000 * 2) });
      return { chain: early.chain, keyPem: early.keyPem };
    }, /^www: certificate [0-9a-f]+ is not valid before \d{4}-\d\d-\d\d \d\d:\d\d UTC \(is this clock right\?\); nothing installed$/, true],
    ['the download breaks off', async () => {
      const next = await issuer.issue({ names: NAMES });
      return { chain: next.chain, keyPem: next.keyPem, truncate: true };
    }, /^www: the certificate download broke off \(transfer closed with \d+ bytes remaining to read\); nothing installed$/, false],
    ['the download is a damaged certificate', async () => {
      const next = await issuer.issue({ names: NAMES });
      return { chain: next.chain.slice(0, 300), keyPem: next.keyPem };
    }, /^www: the certificate download is incomplete or damaged \(no complete PEM certificate\); nothing installed$/, false],
    ['Certkeep is down', async () => ({ url: 'down' as const }), /^www: cannot reach Certkeep at http:\/\/127\.0\.0\.1:\d+ \(Failed to connect to 127\.0\.0\.1 port \d+.*\); nothing installed$/, false],
  ];

  const installs = {} as Record<Shell, { s: Setup; before: Record<string, FileState | null> }>;
  let installed: Served;
  beforeAll(async () => {
    const first = await issuer.issue({ names: NAMES });
    served = installed = { chain: first.chain, keyPem: first.keyPem };
    for (const shell of SHELLS) {
      const s = setup(shell);
      expect((await s.run()).code).toBe(0);
      installs[shell] = { s, before: s.snapshot() };
    }
  });
  beforeEach(() => {
    reports = [];
  });
  cases.forEach(([what, serve, message, reported], i) => {
    const shell = SHELLS[i % SHELLS.length];
    it(`${what} (${shell})`, async () => {
      const { s, before } = installs[shell];
      const next = await serve();
      const { url, ...rest } = next as Partial<Served> & { url?: string };
      served = { ...installed, ...rest };
      writeConfig(s.config, { www: { ...configOf(s), url: url === 'down' ? downUrl : stubUrl } });
      const run = await s.run();
      expect(run.code, run.stderr).toBe(1);
      expect(oneLine(run.stderr)).toMatch(message);
      expect(run.stdout).toBe('');
      expect(s.snapshot()).toEqual(before);
      expect(linesOf(s.log)).toBe(1);
      // What Certkeep hears: an install that failed, for the serial it served.
      if (reported) expect(reports).toEqual([expect.objectContaining({ installed: false, reload: 'skipped', verified: null })]);
      else expect(reports).toEqual([]);
    });
  });
  it('and the next run tries again (no ETag is kept for what was refused), until the right one is back', async () => {
    const { s, before } = installs.dash;
    writeConfig(s.config, { www: { ...configOf(s), url: stubUrl } });
    served = { ...installed, chain: (await issuer.issue({ names: ['other.example.net'] })).chain };
    expect((await s.run()).code).toBe(1);
    expect((await s.run()).code).toBe(1);
    served = installed;
    expect(await s.run()).toMatchObject({ code: 0, stdout: expect.stringMatching(/^www: unchanged \(serial [0-9a-f]+\)\n$/) });
    expect(s.snapshot()).toEqual(before);
    expect(linesOf(s.log)).toBe(1);
  });
});

/** The block of a setup's config, to write it again with one key changed. */
function configOf(s: Setup): Record<string, string> {
  const out: Record<string, string> = {};
  let inWww = false;
  for (const line of readFileSync(s.config, 'utf8').split('\n')) {
    if (/^\[/.test(line)) inWww = line === '[www]';
    const m = /^([a-z-]+) = (.*)$/.exec(line);
    if (inWww && m) out[m[1]] = m[2];
  }
  return out;
}

describeShellcheck('certkeep-agent.sh, read by shellcheck', () => {
  it('has no finding (POSIX sh)', () => {
    expect(execFileSync('shellcheck', ['--shell=sh', '--severity=style', AGENT], { encoding: 'utf8' })).toBe('');
  });
});
