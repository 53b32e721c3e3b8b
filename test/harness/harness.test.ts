// The shared test harness, tested on its own: the run's CA, free ports, process trees,
// the skip-or-fail rule, and Pebble + challtestsrv reached with nothing but plain fetch.
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCa, writeTrustBundle } from './ca.ts';
import { freePort, RESERVATIONS, reservePort } from './ports.ts';
import { descendants, isAlive, reapLeftovers, startProcess } from './processes.ts';
import { describePebble, normalizeSerial, startPebble, type Pebble } from './pebble.ts';
import { requirePrograms } from './skip.ts';
import { makeTempDir } from './tmp.ts';

const run = promisify(execFile);
const vitestBin = new URL('../../node_modules/vitest/vitest.mjs', import.meta.url).pathname;

async function waitFor(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('waitFor: condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('test CA (global setup)', () => {
  it('is trusted by this worker through NODE_EXTRA_CA_CERTS', () => {
    const bundle = readFileSync(process.env.NODE_EXTRA_CA_CERTS!, 'utf8');
    expect(bundle).toContain(readFileSync(testCa().caCertPath, 'utf8').trim());
  });

  it('signed a leaf for localhost and 127.0.0.1 that openssl verifies', async () => {
    const { caCertPath, leafCertPath } = testCa();
    const { stdout } = await run('openssl', ['verify', '-CAfile', caCertPath, '-purpose', 'sslserver', leafCertPath]);
    expect(stdout).toContain(': OK');
    await expect(run('openssl', ['verify', '-CAfile', leafCertPath, caCertPath])).rejects.toThrow();
  });

  it('loads @peculiar/x509 (decorators, after reflect-metadata) and the leaf verifies with the CA key', async () => {
    // src/crypto/x509.ts will wrap this; here we check the raw packages load under vitest.
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(globalThis.crypto);
    const { caCertPath, leafCertPath } = testCa();
    const ca = new x509.X509Certificate(readFileSync(caCertPath, 'utf8'));
    const leaf = new x509.X509Certificate(readFileSync(leafCertPath, 'utf8'));
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
    expect(san?.names.items.map((n) => `${n.type}:${n.value}`)).toEqual(['dns:localhost', 'ip:127.0.0.1']);
    expect(await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true })).toBe(true);
    expect(await leaf.verify({ publicKey: leaf.publicKey, signatureOnly: true })).toBe(false);
    expect(ca.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
  });
});

describe('trust bundle', () => {
  it('keeps the CAs the user already trusted, then adds ours', () => {
    const dir = makeTempDir('bundle-');
    const userFile = join(dir, 'user.pem');
    const userPem = readFileSync(testCa().leafCertPath, 'utf8'); // any PEM stands in for the user's CA
    writeFileSync(userFile, userPem);
    const bundle = readFileSync(writeTrustBundle(join(dir, 'bundle.pem'), testCa().caCertPath, userFile), 'utf8');
    expect(bundle).toBe(`${userPem.trim()}\n${readFileSync(testCa().caCertPath, 'utf8').trim()}\n`);
  });

  it('is what the global setup points NODE_EXTRA_CA_CERTS at when the user had set it', async () => {
    // A separate vitest run with the real global setup and a user NODE_EXTRA_CA_CERTS: its
    // worker must see a bundle holding the user's PEM first and that run's own CA after it.
    const dir = makeTempDir('nested-');
    const userFile = join(dir, 'user.pem');
    writeFileSync(userFile, readFileSync(testCa().leafCertPath, 'utf8'));
    writeFileSync(
      join(dir, 'env.test.ts'),
      `
      import { readFileSync } from 'node:fs';
      import { expect, it } from 'vitest';
      it('sees a combined bundle', () => {
        const bundle = readFileSync(process.env.NODE_EXTRA_CA_CERTS!, 'utf8');
        const ours = readFileSync(process.env.CERTKEEP_TEST_CA_DIR + '/ca.pem', 'utf8').trim();
        expect(process.env.NODE_EXTRA_CA_CERTS).not.toBe(${JSON.stringify(userFile)});
        expect(bundle.startsWith(readFileSync(${JSON.stringify(userFile)}, 'utf8').trim())).toBe(true);
        expect(bundle.trim().endsWith(ours)).toBe(true);
      });
    `,
    );
    const setupPath = new URL('./global-setup.ts', import.meta.url).pathname;
    writeFileSync(
      join(dir, 'vitest.config.mjs'),
      `export default { test: { include: ['env.test.ts'], watch: false, pool: 'forks', globalSetup: [${JSON.stringify(setupPath)}] } };`,
    );
    const proc = await startProcess(
      process.execPath,
      [vitestBin, 'run', '--root', dir, '--config', join(dir, 'vitest.config.mjs')],
      { env: { NODE_EXTRA_CA_CERTS: userFile, CERTKEEP_TEST_CA_DIR: undefined, CERTKEEP_TEST_RUN_DIR: undefined } },
    );
    expect(await proc.exited, proc.output()).toBe(0);
    expect(proc.output()).toMatch(/1 passed/);
  });
});

describe('freePort', () => {
  it('returns a port that can be listened on at 127.0.0.1', async () => {
    const port = await freePort({ udp: true });
    expect(port).toBeGreaterThan(1023);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });

  it('skips a port another living process reserved, and takes over one whose process has ended', async () => {
    const port = 11_000 + Math.floor(Math.random() * 900); // outside freePort's own range
    const file = join(RESERVATIONS, String(port));
    mkdirSync(RESERVATIONS, { recursive: true });
    writeFileSync(file, String(process.ppid));
    expect(reservePort(port)).toBe(false);
    const ended = spawnSync('true');
    writeFileSync(file, String(ended.pid));
    expect(reservePort(port)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(String(process.pid));
    expect(reservePort(port)).toBe(false); // ours already: not handed out twice
  });
});

describe('startProcess', () => {
  it('stops a whole tree, children first, by pid', async () => {
    const proc = await startProcess('sh', ['-c', 'sleep 300 & sleep 300 & wait']);
    let kids: number[] = [];
    for (let i = 0; i < 100 && kids.length < 2; i++) {
      kids = descendants(proc.pid);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(kids).toHaveLength(2);
    await proc.stop();
    for (const pid of [...kids, proc.pid]) expect(isAlive(pid)).toBe(false);
    // Children go first, so sh's `wait` may return and sh exit 0 before its own SIGTERM lands.
    expect([0, null]).toContain(await proc.exited);
  });

  it('also stops an orphan whose parent already exited (same process group)', async () => {
    // The subshell starts sleep and exits at once: sleep is re-parented, out of pgrep -P's reach.
    const proc = await startProcess('sh', ['-c', '(sleep 300 &); echo started; sleep 300']);
    let orphan: number | undefined;
    for (let i = 0; i < 100 && orphan === undefined; i++) {
      const { stdout } = await run('pgrep', ['-g', String(proc.pid)]).catch(() => ({ stdout: '' }));
      const members = stdout.split('\n').filter(Boolean).map(Number);
      orphan = members.find((p) => p !== proc.pid && !descendants(proc.pid).includes(p));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(orphan).toBeDefined();
    await proc.stop();
    expect(isAlive(orphan!)).toBe(false);
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const proc = await startProcess('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'], {
      stopGraceMs: 300,
    });
    await waitFor(() => proc.output().includes('ready'));
    const started = Date.now();
    await proc.stop();
    expect(isAlive(proc.pid)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('reports the exit code and output of a process that ends on its own', async () => {
    const proc = await startProcess('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(await proc.exited).toBe(3);
    expect(proc.output()).toContain('out');
    expect(proc.output()).toContain('err');
    await proc.stop(); // harmless after exit
  });

  it('keeps the last 2 MB of a chatty process in memory, and all of it in the log file', async () => {
    const logFile = join(makeTempDir('chatty-'), 'out.log');
    // 3 MB in 30,000 lines, the last one marked.
    const proc = await startProcess(process.execPath, ['-e', "for (let i = 0; i < 30000; i++) process.stdout.write(String(i).padStart(99, '.') + '\\n'); console.log('last')"], { logFile });
    expect(await proc.exited).toBe(0);
    const kept = proc.output();
    expect(kept.length).toBe(2 * 1024 * 1024);
    expect(kept.endsWith('last\n')).toBe(true);
    expect(readFileSync(logFile, 'utf8').length).toBe(30_000 * 100 + 5);
  });

  it('rejects when the program exits before it is ready, with its output', async () => {
    await expect(
      startProcess('sh', ['-c', 'echo boom; exit 1'], { readyWhen: async () => false, readyTimeoutMs: 5000 }),
    ).rejects.toThrow(/exited \(code 1\).*\n.*boom/s);
  });

  it('rejects and stops the process when it is not ready in time', async () => {
    let pid = 0;
    await expect(
      startProcess('sh', ['-c', 'echo $$; sleep 300'], {
        readyWhen: async () => false,
        readyTimeoutMs: 300,
        logFile: undefined,
        env: { IGNORED: '1' },
      }).catch((err: Error) => {
        pid = Number(/^(\d+)$/m.exec(err.message)?.[1]);
        throw err;
      }),
    ).rejects.toThrow(/not ready after 300 ms/);
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
  });

  it('rejects for a program that does not exist', async () => {
    await expect(startProcess('/nonexistent/program', [])).rejects.toThrow(/cannot start/);
  });

  it('kills what it started when its own process gets SIGTERM (exit hook)', async () => {
    // A separate Node process uses the harness to start `sleep`, prints its pid, and is then
    // terminated the way vitest terminates a fork.
    const script = `
      import { startProcess } from ${JSON.stringify(new URL('./processes.ts', import.meta.url).href)};
      const p = await startProcess('sleep', ['300']);
      console.log('PID ' + p.pid);
      setInterval(() => {}, 1000);
    `;
    const host = await startProcess(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    await waitFor(() => /PID \d+/.test(host.output()), 20_000);
    const sleepPid = Number(/PID (\d+)/.exec(host.output())![1]);
    expect(isAlive(sleepPid)).toBe(true);
    process.kill(host.pid, 'SIGTERM');
    await host.exited;
    await waitFor(() => !isAlive(sleepPid), 2000).catch(() => undefined);
    expect(isAlive(sleepPid)).toBe(false);
    await host.stop();
  });

  it('leaves a pid record that the global teardown reaps when its own process is SIGKILLed', async () => {
    // Own run directory: reaping the real one would kill other test files' daemons.
    const runDir = makeTempDir('reap-');
    const script = `
      import { startProcess } from ${JSON.stringify(new URL('./processes.ts', import.meta.url).href)};
      const p = await startProcess('sleep', ['300']);
      console.log('PID ' + p.pid);
      setInterval(() => {}, 1000);
    `;
    const host = await startProcess(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { CERTKEEP_TEST_RUN_DIR: runDir },
    });
    await waitFor(() => /PID \d+/.test(host.output()), 20_000);
    const sleepPid = Number(/PID (\d+)/.exec(host.output())![1]);
    process.kill(host.pid, 'SIGKILL'); // no hook runs
    await host.exited;
    expect(isAlive(sleepPid)).toBe(true);
    expect(reapLeftovers(runDir)).toEqual([`sleep (pid ${sleepPid})`]);
    await waitFor(() => !isAlive(sleepPid), 2000).catch(() => undefined);
    expect(isAlive(sleepPid)).toBe(false);
    expect(reapLeftovers(runDir)).toEqual([]); // records are consumed
  });
});

describe('requirePrograms (SPEC §8 skip-or-fail rule)', () => {
  it('runs when every program is there', () => {
    expect(requirePrograms(['/bin/sh'], 'hint', {})).toEqual({ mode: 'run' });
  });
  it('skips when one is missing, and names it', () => {
    const gate = requirePrograms(['/bin/sh', '/nonexistent/pebble'], 'apt-get install pebble', {});
    expect(gate).toEqual({ mode: 'skip', reason: '/nonexistent/pebble not installed (apt-get install pebble)' });
  });
  it('fails instead of skipping with CI=true', () => {
    expect(requirePrograms(['/nonexistent/chromium'], 'hint', { CI: 'true' }).mode).toBe('fail');
    expect(requirePrograms(['/nonexistent/chromium'], 'hint', { CI: 'false' }).mode).toBe('skip');
  });
});

describe('gatedDescribe', () => {
  // A real vitest run over a fixture suite whose program is missing, once without CI and once
  // with CI=true: the first must skip every test, the second must fail every one.
  const fixture = `
    import { it } from 'vitest';
    import { gatedDescribe, requirePrograms } from ${JSON.stringify(new URL('./skip.ts', import.meta.url).pathname)};
    const describeX = gatedDescribe(requirePrograms(['/nonexistent/program'], 'apt-get install nothing'));
    describeX('plain', () => { it('body', () => {}); });
    describeX.each([1, 2])('each %s', () => { it('body', () => {}); });
    describeX.concurrent('modified', () => { it('body', () => {}); });
  `;

  async function runFixture(ci: boolean): Promise<{ passed: number; failed: number; skipped: number; log: string }> {
    const dir = makeTempDir('gate-');
    writeFileSync(join(dir, 'gate.test.ts'), fixture);
    writeFileSync(join(dir, 'vitest.config.mjs'), `export default { test: { include: ['gate.test.ts'], watch: false } };`);
    const proc = await startProcess(
      process.execPath,
      [vitestBin, 'run', '--root', dir, '--config', join(dir, 'vitest.config.mjs'), '--reporter=default', '--reporter=json', `--outputFile.json=${join(dir, 'r.json')}`],
      { env: { CI: ci ? 'true' : undefined } },
    );
    await proc.exited;
    const report = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as Record<string, number>;
    return { passed: report.numPassedTests, failed: report.numFailedTests, skipped: report.numPendingTests + report.numTodoTests, log: proc.output() };
  }

  it('skips with a one-line notice per suite when a program is missing', async () => {
    const r = await runFixture(false);
    expect(r).toMatchObject({ passed: 0, failed: 0, skipped: 3 });
    expect(r.log).toContain('[skip] plain: /nonexistent/program not installed (apt-get install nothing)');
  });

  it('fails instead with CI=true', async () => {
    const r = await runFixture(true);
    expect(r).toMatchObject({ passed: 0, failed: 3, skipped: 0 });
  });
});

describe('normalizeSerial', () => {
  it('gives the form Pebble looks certificates up by', () => {
    expect(normalizeSerial('00:0A:bC:01')).toBe('abc01');
    expect(normalizeSerial('0000')).toBe('0');
    expect(() => normalizeSerial('xyz')).toThrow();
  });
});

describePebble('Pebble + challtestsrv', () => {
  let pebble: Pebble;

  beforeAll(async () => {
    pebble = await startPebble({ httpPort: await freePort() });
  });
  afterAll(async () => {
    await pebble?.stop();
  });

  it('serves the directory over HTTPS to a plain fetch (no TLS override)', async () => {
    const res = await fetch(pebble.directoryUrl);
    expect(res.status).toBe(200);
    const dir = (await res.json()) as Record<string, string>;
    expect(dir.newNonce).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    expect(dir.newAccount).toBeTypeOf('string');
    expect(dir.newOrder).toBeTypeOf('string');
  });

  it('runs with the test defaults: no nonce rejection, no authorization reuse', () => {
    expect(pebble.logs()).toContain('Configured to reject 0% of good nonces');
    expect(pebble.logs()).toContain('Configured to attempt authz reuse for each identifier 0% of the time');
  });

  it('is trusted by a Node child process of the test too (env inherited)', async () => {
    const child = await startProcess(process.execPath, [
      '-e',
      `fetch(${JSON.stringify(pebble.directoryUrl)}).then(r => { console.log('STATUS ' + r.status); }, e => { console.log('ERR ' + e.cause?.code); process.exit(2); })`,
    ]);
    expect(await child.exited).toBe(0);
    expect(child.output()).toContain('STATUS 200');
  });

  it('is not trusted without the test CA (so the trust above comes from NODE_EXTRA_CA_CERTS)', async () => {
    const child = await startProcess(
      process.execPath,
      ['-e', `fetch(${JSON.stringify(pebble.directoryUrl)}).then(() => process.exit(0), e => { console.log('ERR ' + e.cause?.code); process.exit(2); })`],
      { env: { NODE_EXTRA_CA_CERTS: undefined } },
    );
    expect(await child.exited).toBe(2);
    expect(child.output()).toMatch(/ERR (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
  });

  it('rejects a POST without application/jose+json (415), as PEBBLE.md says', async () => {
    const res = await fetch(new URL('/sign-me-up', pebble.directoryUrl), { method: 'POST', body: '{}' });
    expect(res.status).toBe(415);
  });

  it('exposes roots, intermediates and certificate status on the management API', async () => {
    const roots = await pebble.roots();
    const intermediates = await pebble.intermediates();
    expect(roots.length).toBeGreaterThanOrEqual(1);
    expect(intermediates.length).toBe(roots.length);
    expect(roots[0]).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(await pebble.certStatus('0123456789abcdef')).toBe('NotFound');
  });

  it('answers TXT records set through challtestsrv on its DNS port', async () => {
    const name = `_acme-challenge.h${Math.random().toString(36).slice(2, 10)}.example.com`;
    const resolver = new Resolver({ timeout: 1000, tries: 2 });
    resolver.setServers([pebble.dnsAddress]);

    await pebble.setTxt(name, 'first-value');
    await pebble.setTxt(name, 'second-value');
    const values = (await resolver.resolveTxt(name)).map((chunks) => chunks.join('')).sort();
    expect(values).toEqual(['first-value', 'second-value']);

    await pebble.clearTxt(name);
    const after = await resolver.resolveTxt(name).catch((err: NodeJS.ErrnoException) => err.code);
    expect(after === 'ENODATA' || after === 'ENOTFOUND' || (Array.isArray(after) && after.length === 0)).toBe(true);

    // Every other name resolves to 127.0.0.1 only (no ::1), so validation reaches IPv4 listeners.
    expect(await resolver.resolve4(name.replace('_acme-challenge.', ''))).toEqual(['127.0.0.1']);
    const aaaa = await resolver.resolve6(name.replace('_acme-challenge.', '')).catch(() => []);
    expect(aaaa).toEqual([]);
  });
});

describePebble('Pebble stop()', () => {
  it('leaves no process behind and frees the ports (and takes env overrides)', async () => {
    const pebble = await startPebble({ httpPort: await freePort(), env: { PEBBLE_WFE_NONCEREJECT: '60' } });
    expect(pebble.logs()).toContain('Configured to reject 60% of good nonces');
    const { pebble: pebblePid, challtestsrv: challPid } = pebble.pids;
    expect(isAlive(pebblePid)).toBe(true);
    expect(isAlive(challPid)).toBe(true);
    await pebble.stop();
    expect(isAlive(pebblePid)).toBe(false);
    expect(isAlive(challPid)).toBe(false);
    expect(() => process.kill(pebblePid, 0)).toThrow();
    await expect(fetch(pebble.directoryUrl)).rejects.toThrow();
  });
});
