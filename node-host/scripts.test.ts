// The node host's script runner against real programs (test/fixtures/dns/*): argv fidelity,
// the environment it passes and the one it withholds, exit codes, output caps, and that a
// timeout stops the whole process group.
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive } from '../test/harness/processes.ts';
import { makeTempDir } from '../test/harness/tmp.ts';
import { createScriptRunner, runScript, scriptEnvironment } from './scripts.ts';

const fixtures = resolve(fileURLToPath(new URL('.', import.meta.url)), '../test/fixtures/dns');
const ARGV_ENV = join(fixtures, 'argv-env.mjs');
const EXIT_WITH = join(fixtures, 'exit-with.sh');
const SPAWN_SLEEPER = join(fixtures, 'spawn-sleeper.sh');
const PRINT_LOTS = join(fixtures, 'print-lots.sh');
// A checkout may lose the executable bits; the runner must run the files directly.
for (const file of [ARGV_ENV, EXIT_WITH, SPAWN_SLEEPER, PRINT_LOTS]) chmodSync(file, 0o755);

const started: number[] = [];
afterEach(() => {
  // A failed assertion must not leave a 300 s sleep behind.
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

function sleeperPidFile(): string {
  return join(makeTempDir('dns-script-'), 'child.pid');
}

function readPid(file: string): number {
  const pid = Number(readFileSync(file, 'utf8').trim());
  started.push(pid);
  return pid;
}

describe('runScript', () => {
  it('passes every argument as exactly one argv entry, never through a shell', async () => {
    // Were these ever run by a shell, they would only create files in a scratch directory,
    // which the test then finds: the substitutions come first, and each injected command ends
    // in `#` so that the words after it are a comment, not file names in the working directory.
    const dir = makeTempDir('dns-argv-');
    const hostile = [
      `$(touch ${dir}/dollar)`,
      `\`touch ${dir}/backtick\``,
      `> ${dir}/redirect`,
      `a; touch ${dir}/semicolon #`,
      `line one\ntouch ${dir}/newline #`,
      `| touch ${dir}/pipe #`,
      '-rf',
      '--value=x y',
      '',
      "'quoted' \"double\" \\ backslash",
      '*',
      '✓ ünïcödé',
    ];
    const result = await runScript(ARGV_ENV, hostile, { env: {}, timeoutMs: 10_000 });
    expect(result).toMatchObject({ code: 0, timedOut: false });
    expect(JSON.parse(result.stdout).argv).toEqual(hostile);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('gives the script PATH, HOME, LANG and its own variables, and none of the server environment', async () => {
    const saved = process.env.CERTKEEP_MASTER_KEY;
    process.env.CERTKEEP_MASTER_KEY = 'c2VjcmV0LW1hc3Rlci1rZXktbmV2ZXItcGFzc2VkLXRvLXNjcmlwdHM=';
    process.env.CERTKEEP_TEST_SECRET = 'parent-only';
    try {
      const result = await runScript(ARGV_ENV, [], { env: { CF_TOKEN: 'provider-token', LANG: 'de_DE.UTF-8' }, timeoutMs: 10_000 });
      const env = JSON.parse(result.stdout).env as Record<string, string>;
      expect(Object.keys(env).sort()).toEqual(['CF_TOKEN', 'HOME', 'LANG', 'PATH']);
      expect(env.CF_TOKEN).toBe('provider-token');
      expect(env.LANG).toBe('de_DE.UTF-8'); // the provider's value wins
      expect(env.PATH).toBe(process.env.PATH);
      expect(result.stdout).not.toContain('c2VjcmV0LW1hc3Rlci1rZXk');
      expect(result.stdout).not.toContain('parent-only');
    } finally {
      if (saved === undefined) delete process.env.CERTKEEP_MASTER_KEY;
      else process.env.CERTKEEP_MASTER_KEY = saved;
      delete process.env.CERTKEEP_TEST_SECRET;
    }
  });

  it('builds the minimal environment with fallbacks when the server has none', () => {
    expect(scriptEnvironment({ A: '1' }, { PATH: '/p', HOME: '/h', LANG: 'C', SECRET: 'x' })).toEqual({ PATH: '/p', HOME: '/h', LANG: 'C', A: '1' });
    const fallback = scriptEnvironment({}, {});
    expect(fallback.PATH).toBe('/usr/local/bin:/usr/bin:/bin');
    expect(fallback.LANG).toBe('C.UTF-8');
    expect(typeof fallback.HOME).toBe('string');
  });

  it('reports the exit code with both output streams', async () => {
    await expect(runScript(EXIT_WITH, ['0'], { env: {}, timeoutMs: 10_000 })).resolves.toEqual({
      code: 0,
      stdout: 'stdout of exit-with 0\n',
      stderr: 'stderr of exit-with 0\n',
      timedOut: false,
    });
    await expect(runScript(EXIT_WITH, ['3'], { env: {}, timeoutMs: 10_000 })).resolves.toMatchObject({
      code: 3,
      stderr: 'stderr of exit-with 3\n',
      timedOut: false,
    });
  });

  it('keeps only the end of a large output', async () => {
    const result = await runScript(PRINT_LOTS, [], { env: {}, timeoutMs: 10_000 });
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBeLessThan(70 * 1024);
    expect(result.stdout).toMatch(/^\[\d+ bytes before this cut\]\n/);
    expect(result.stdout.endsWith('\nEND\n')).toBe(true);
  });

  it('says "command not found" for a missing program', async () => {
    await expect(runScript('/nonexistent/certkeep-hook', [], { env: {}, timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'DNS_PROVIDER_FAILED',
      message: 'command not found: /nonexistent/certkeep-hook',
    });
    await expect(runScript('certkeep-no-such-program-in-path', [], { env: {}, timeoutMs: 10_000 })).rejects.toMatchObject({
      message: 'command not found: certkeep-no-such-program-in-path',
    });
  });

  it('says "not executable" for a file without the executable bit', async () => {
    const file = join(makeTempDir('dns-script-'), 'hook.sh');
    writeFileSync(file, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    await expect(runScript(file, [], { env: {}, timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'DNS_PROVIDER_FAILED',
      message: `command not executable (permission denied): ${file}`,
    });
  });

  it('on timeout stops the script and the child it started', async () => {
    const pidFile = sleeperPidFile();
    const t0 = Date.now();
    const result = await runScript(SPAWN_SLEEPER, [pidFile, 'wait'], { env: {}, timeoutMs: 500 });
    expect(result.timedOut).toBe(true);
    expect(result.code).toBeNull();
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(await goneWithin(readPid(pidFile), 3000)).toBe(true);
  });

  it('uses SIGKILL on a script that ignores SIGTERM', async () => {
    const pidFile = sleeperPidFile();
    const run = createScriptRunner({ killGraceMs: 300 });
    const t0 = Date.now();
    const result = await run(SPAWN_SLEEPER, [pidFile, 'stubborn'], { env: {}, timeoutMs: 400 });
    const elapsed = Date.now() - t0;
    expect(result).toMatchObject({ code: null, timedOut: true });
    expect(elapsed).toBeGreaterThanOrEqual(650);
    expect(elapsed).toBeLessThan(4000);
    expect(await goneWithin(readPid(pidFile), 3000)).toBe(true);
  });

  it('does not wait for, or leave running, a background child of a script that exited', async () => {
    const pidFile = sleeperPidFile();
    const t0 = Date.now();
    const result = await runScript(SPAWN_SLEEPER, [pidFile, 'exit'], { env: {}, timeoutMs: 20_000 });
    expect(result).toMatchObject({ code: 0, timedOut: false });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await goneWithin(readPid(pidFile), 3000)).toBe(true);
  });
});
