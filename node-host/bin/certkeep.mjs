#!/usr/bin/env node
// The `certkeep` executable (`npm start`, `npx certkeep …`). The sources are TypeScript; they
// run from one esbuild bundle, built on the first start and again whenever a file in it changes
// (node-host/launch/), so a fresh `npm install` needs no build step. Running the bundle instead
// of compiling on load with tsx saves about 30 MiB of memory and half a second of start-up.
// When the bundle cannot be built (no esbuild, a read-only node_modules), tsx runs the sources
// as before.
import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshBundle } from '../launch/manifest.mjs';

/**
 * V8 settings for a small server that runs for months, set here so that every way of starting
 * it (`npm start`, `npx certkeep`, a service running `node …/certkeep.mjs`) gets the same. They
 * are set at run time, before any of our code loads: V8 honours them from then on. A flag the
 * user gave (command line or NODE_OPTIONS) wins over ours.
 */
const V8_FLAGS = [
  // The young generation starts as two 1 MiB semi-spaces; V8 doubles them up to 16 MiB each
  // after a burst of allocation that survives (start-up, a batch of orders) and never gives that
  // back: up to 30 MiB more resident. A factor of 1 keeps them at 1 MiB; only the scavenges get
  // more frequent, and they stay short. (On the command line V8 raises a factor below 2 to 2.)
  { flag: '--semi-space-growth-factor=1', unless: /semi[-_]space/ },
  // Let the old generation grow to 1.5× what survived the last full collection, not up to 4×:
  // during a batch of 100 orders the peak falls from about 140 to about 105 MiB.
  { flag: '--heap-growing-percent=50', unless: /heap[-_]growing/ },
  // WebAssembly runs only undici's HTTP parser here (outgoing fetches to the CA and webhooks).
  // Re-compiling it with TurboFan in the background leaves ~9 MiB of malloc'd memory behind for
  // parsing a few kilobytes per order; the baseline compiler's code is plenty.
  { flag: '--liftoff-only', unless: /liftoff|wasm[-_]tier/ },
];
const userFlags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].join(' ');
for (const { flag, unless } of V8_FLAGS) if (!unless.test(userFlags)) setFlagsFromString(flag);

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
