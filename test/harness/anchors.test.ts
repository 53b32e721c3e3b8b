// The benchmark anchors (bench/anchors.ts) still issue certificates: each peer client gets one
// 2-name certificate from a Pebble started by the harness, and Pebble confirms it issued it.
// certbot and lego are bench-only tools, so a missing one skips this suite even in CI.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCertbot, runLego } from '../../bench/anchors.ts';
import { testCa } from './ca.ts';
import { CHALLTESTSRV_BIN, PEBBLE_BIN, startPebble, type Pebble } from './pebble.ts';
import { freePort } from './ports.ts';
import { gatedDescribe, requirePrograms } from './skip.ts';
import { makeTempDir } from './tmp.ts';

const run = promisify(execFile);

const pebbleGate = requirePrograms([PEBBLE_BIN, CHALLTESTSRV_BIN], 'apt-get install pebble');
const describeAnchors = gatedDescribe(
  pebbleGate.mode === 'run' ? requirePrograms(['/usr/bin/certbot', '/usr/bin/lego'], 'apt-get install certbot lego', {}) : pebbleGate,
);

const freshNames = (): string[] => ['a', 'b'].map((p) => `${p}${randomBytes(5).toString('hex')}.example.com`);

/** Serial of the first certificate in a PEM file, as openssl prints it (upper-case hex). */
async function serialOf(pemPath: string): Promise<string> {
  const { stdout } = await run('openssl', ['x509', '-in', pemPath, '-noout', '-serial']);
  return stdout.trim().replace(/^serial=/, '');
}

async function namesOf(pemPath: string): Promise<string[]> {
  const { stdout } = await run('openssl', ['x509', '-in', pemPath, '-noout', '-ext', 'subjectAltName']);
  return [...stdout.matchAll(/DNS:([^,\s]+)/g)].map((m) => m[1]).sort();
}

describeAnchors('bench anchors against Pebble', () => {
  let pebble: Pebble;
  let httpPort: number;

  beforeAll(async () => {
    httpPort = await freePort();
    pebble = await startPebble({ httpPort });
  });
  afterAll(async () => {
    await pebble?.stop();
  });

  it('certbot issues a 2-name certificate', async () => {
    const domains = freshNames();
    const workDir = makeTempDir('certbot-');
    const ms = await runCertbot({ directoryUrl: pebble.directoryUrl, httpPort, domains, workDir, caBundle: testCa().caCertPath });
    const cert = join(workDir, 'config', 'live', domains[0], 'cert.pem');
    expect(await namesOf(cert)).toEqual([...domains].sort());
    expect(await pebble.certStatus(await serialOf(cert))).toBe('Valid');
    console.info(`[anchor] certbot: ${Math.round(ms)} ms`);
  });

  it('lego issues a 2-name certificate', async () => {
    const domains = freshNames();
    const workDir = makeTempDir('lego-');
    const ms = await runLego({ directoryUrl: pebble.directoryUrl, httpPort, domains, workDir, caBundle: testCa().caCertPath });
    const cert = join(workDir, 'certificates', `${domains[0]}.crt`);
    expect(await namesOf(cert)).toEqual([...domains].sort());
    expect(await pebble.certStatus(await serialOf(cert))).toBe('Valid');
    console.info(`[anchor] lego: ${Math.round(ms)} ms`);
  });

  it('stops a client that hangs, by pid, and says so', async () => {
    // A "directory" that accepts connections and never answers: certbot waits on it.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const workDir = makeTempDir('certbot-hang-');
    try {
      await expect(
        runCertbot({ directoryUrl: `https://127.0.0.1:${port}/dir`, httpPort, domains: freshNames(), workDir, caBundle: testCa().caCertPath, timeoutMs: 3000 }),
      ).rejects.toThrow(/certbot did not finish in 3000 ms/);
      expect(sockets.length).toBeGreaterThan(0); // it really was waiting on us
      // Nothing is left running with this run's work directory on its command line.
      await expect(run('pgrep', ['-f', workDir])).rejects.toMatchObject({ code: 1 });
    } finally {
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });
});
