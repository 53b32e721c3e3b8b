#!/usr/bin/env node
// The `certkeep` executable (`npm start`, `npx certkeep …`). The sources are TypeScript; they
// run from one esbuild bundle, built on the first start and again whenever a file in it changes
// (node-host/launch/), so a fresh `npm install` needs no build step. Running the bundle instead
// of compiling on load with tsx saves about 30 MiB of memory and half a second of start-up.
// When the bundle cannot be built (no esbuild, a read-only node_modules), tsx runs the sources
// as before.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshBundle } from '../launch/manifest.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = 'node-host/cli/main.ts';
const NAME = 'cli';

/** The path of a fresh bundle of the CLI, building one when needed; undefined when that fails. */
function bundle() {
  const fresh = freshBundle(ROOT, NAME);
  if (fresh) return fresh;
  const builder = fileURLToPath(new URL('../launch/build.mjs', import.meta.url));
  const built = spawnSync(process.execPath, [builder, ROOT, ENTRY, NAME], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (built.status === 0) return built.stdout.trim();
  const reason = (built.error?.message ?? built.stderr).trim().split('\n')[0];
  process.stderr.write(`certkeep: cannot build the bundle (${reason}); running the sources through tsx\n`);
  return undefined;
}

const path = bundle();
if (path) {
  await import(pathToFileURL(path).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
