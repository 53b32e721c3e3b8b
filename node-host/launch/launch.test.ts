// The launcher's bundle: built from a small project of its own (a temporary directory laid out
// like this one), so that the tests can edit its sources, race its builds and break its cache
// without touching the real one.
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/harness/tmp.ts';
import { cacheDir, freshBundle } from './manifest.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILDER = fileURLToPath(new URL('./build.mjs', import.meta.url));
const run = promisify(execFile);

/** A project with node-host/cli/main.ts, tsx reachable from its node_modules, and its own cache. */
function project(): string {
  const root = makeTempDir('launch-') + '/';
  mkdirSync(join(root, 'node-host/cli'), { recursive: true });
  mkdirSync(join(root, 'node_modules'));
  symlinkSync(join(ROOT, 'node_modules/tsx'), join(root, 'node_modules/tsx'));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'fixture', type: 'module' }));
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'ESNext' } }));
  writeFileSync(join(root, 'node-host/data.txt'), 'next to the source\n');
  writeFileSync(
    join(root, 'node-host/lazy.ts'),
    `export const word: string = 'lazy';\nconsole.log('lazy module evaluated');\n`,
  );
  writeFileSync(
    join(root, 'node-host/cli/main.ts'),
    [
      `import { readFileSync } from 'node:fs';`,
      `const tag = (strings: TemplateStringsArray, ...values: unknown[]) => strings.reduce((out, s, i) => out + s + (values[i] ?? ''), '');`,
      `const data = readFileSync(new URL('../data.txt', import.meta.url), 'utf8').trim();`,
      `console.log(JSON.stringify({ data, dash: tag\`a — \${1}\`, version: 1 }));`,
      `if (process.argv[2] === 'lazy') console.log((await import('../lazy.ts')).word);`,
    ].join('\n'),
  );
  return root;
}

/**
 * Builds; first lets the clock pass the last write, since a build does not vouch for a file
 * written while it ran (build.mjs keeps no manifest then).
 */
const build = async (root: string) => sleep(30).then(() => run(process.execPath, [BUILDER, root, 'node-host/cli/main.ts', 'cli']).then((r) => r.stdout.trim()));
const execBundle = (path: string, ...args: string[]) => run(process.execPath, [path, ...args]).then((r) => r.stdout);

describe('the bundle', () => {
  it('runs like the sources: files found next to their module, non-ASCII text intact, dynamic imports evaluated on use', async () => {
    const root = project();
    const bundle = await build(root);
    expect(bundle.startsWith(cacheDir(root))).toBe(true);
    const out = await execBundle(bundle);
    expect(JSON.parse(out)).toEqual({ data: 'next to the source', dash: 'a — 1', version: 1 });
    expect(out).not.toContain('lazy module evaluated');
    expect(await execBundle(bundle, 'lazy')).toContain('lazy module evaluated\nlazy\n');
    // One byte per character in V8: nothing outside ASCII.
    expect(/[^\x00-\x7f]/.test(readFileSync(bundle, 'utf8'))).toBe(false);
  });

  it('is fresh until a file in it changes, and is then rebuilt with the change', async () => {
    const root = project();
    const first = await build(root);
    expect(freshBundle(root, 'cli')).toBe(first);

    const main = join(root, 'node-host/cli/main.ts');
    writeFileSync(main, readFileSync(main, 'utf8').replace('version: 1', 'version: 2'));
    expect(freshBundle(root, 'cli')).toBeUndefined();
    const second = await build(root);
    expect(second).not.toBe(first);
    expect(JSON.parse(await execBundle(second)).version).toBe(2);
    expect(freshBundle(root, 'cli')).toBe(second);

    // A file it reads at run time is not part of it; a build input outside the sources is.
    writeFileSync(join(root, 'node-host/data.txt'), 'changed\n');
    expect(freshBundle(root, 'cli')).toBe(second);
    writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022' } }));
    expect(freshBundle(root, 'cli')).toBeUndefined();
  });

  it('is not taken from a checkout in another place (it holds absolute paths)', async () => {
    const root = project();
    await build(root);
    const moved = makeTempDir('launch-moved-') + '/';
    cpSync(root, moved, { recursive: true, verbatimSymlinks: true });
    expect(freshBundle(moved, 'cli')).toBeUndefined();
  });

  it('survives builds racing each other: every one succeeds, the result is whole, no temporary file is left', async () => {
    const root = project();
    const bundles = await Promise.all(Array.from({ length: 6 }, () => build(root)));
    expect(new Set(bundles).size).toBe(1);
    expect(freshBundle(root, 'cli')).toBe(bundles[0]);
    expect(JSON.parse(await execBundle(bundles[0])).version).toBe(1);
    expect(readdirSync(cacheDir(root)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('the certkeep executable', () => {
  /** The real launcher in a copy of the project layout, with the fixture's main.ts. */
  function launcherProject(): string {
    const root = project();
    cpSync(join(ROOT, 'node-host/bin'), join(root, 'node-host/bin'), { recursive: true });
    cpSync(join(ROOT, 'node-host/launch/manifest.mjs'), join(root, 'node-host/launch/manifest.mjs'));
    cpSync(BUILDER, join(root, 'node-host/launch/build.mjs'));
    return root;
  }
  const launch = (root: string, ...args: string[]) =>
    spawnSync(process.execPath, [join(root, 'node-host/bin/certkeep.mjs'), ...args], { encoding: 'utf8' });

  it('builds the bundle on the first start and runs from it afterwards', () => {
    const root = launcherProject();
    const first = launch(root);
    expect(first.status).toBe(0);
    expect(JSON.parse(first.stdout).data).toBe('next to the source');
    const bundle = freshBundle(root, 'cli');
    expect(bundle).toBeDefined();
    expect(launch(root).stdout).toBe(first.stdout);
    expect(freshBundle(root, 'cli')).toBe(bundle);
  });

  it('runs the sources through tsx when the bundle cannot be built', () => {
    const root = launcherProject();
    // A file where the cache directory should be: nothing can be written there.
    mkdirSync(join(root, 'node_modules/.cache'), { recursive: true });
    writeFileSync(cacheDir(root), 'not a directory');
    const result = launch(root);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout).data).toBe('next to the source');
    expect(result.stderr).toMatch(/cannot build the bundle .*running the sources through tsx/);
    rmSync(cacheDir(root));
  });
});

// The real project: what `npm start` and the node-host tests run.
describe('the node host bundle', () => {
  it('builds from this checkout and answers --help', async () => {
    const { stdout } = await run(process.execPath, [join(ROOT, 'node-host/bin/certkeep.mjs'), '--help']);
    expect(stdout).toContain('certkeep serve');
  });
});

describe('the command line', () => {
  it('gives node the same V8 flags in the executable and in npm start, and node accepts them', async () => {
    const { NODE_FLAGS } = await import('../../test/harness/hosts.ts');
    expect(NODE_FLAGS.length).toBeGreaterThan(0);
    const start: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start;
    expect(start).toBe(`exec node ${NODE_FLAGS.join(' ')} node-host/bin/certkeep.mjs serve`);
    // A flag a Node version no longer knows stops node before it runs anything.
    const checked = spawnSync(process.execPath, [...NODE_FLAGS, '-e', '0'], { encoding: 'utf8' });
    expect(checked.stderr).toBe('');
    expect(checked.status).toBe(0);
    // Run as a program, through its #! line.
    const help = spawnSync(join(ROOT, 'node-host/bin/certkeep.mjs'), ['--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: certkeep /);
  });
});
