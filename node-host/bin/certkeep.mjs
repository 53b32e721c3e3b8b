#!/usr/bin/env -S node --max-semi-space-size=1 --heap-growing-percent=50
// The `certkeep` executable (`npm start`, `npx certkeep …`).
//
// Node's V8 flags for a small server that runs for months are on the command line above, and the
// same in package.json's `start` script (`exec node <flags> node-host/bin/certkeep.mjs serve`):
// run it as `node <these flags> …/certkeep.mjs serve` from a service manager too (as
// deploy/certkeep.service does). They hold for both of its threads, the one that answers
// requests and the orders thread (node-host/orders-thread.ts). With them the peak of a
// 100-certificate batch was 148.9 MiB, without them 209.9 MiB (bench memory, December 2026):
//   --max-semi-space-size=1     V8 grows the young generation's two semi-spaces from 1 MiB up to
//                               16 MiB each after a burst of surviving allocations, in every
//                               thread, and never gives that back. The flag was 4 while the orders
//                               ran on the thread that answers requests (it saved that thread CPU).
//                               With the orders thread, 4 still took the 100-certificate batch in
//                               less time (6.3–6.7 s against 6.9–7.9 s, five runs each, bench
//                               scale), but put its peak at 157.8–159.6 MiB, at the edge of the
//                               160 MiB the memory benchmark allows.
//   --heap-growing-percent=50   the old generation grows to 1.5× what survived the last full
//                               collection rather than up to 4×.
// Without them Certkeep works the same, with more memory.
//
// The sources are TypeScript; they run from one esbuild bundle, built on the first start and
// again whenever a file in it changes (node-host/launch/), so a fresh `npm install` needs no build
// step. Running the bundle instead of compiling on load with tsx saves about 30 MiB of memory and
// half a second of start-up. When the bundle cannot be built (no esbuild, a read-only
// node_modules), tsx runs the sources as before.
import { spawnSync } from 'node:child_process';
import { isMainThread, workerData } from 'node:worker_threads';
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

// `certkeep serve` runs its orders in a worker thread started from this file (node-host/
// orders-thread.ts): it is told here where this file is and what it loaded, and the thread
// loads the same bundle rather than looking for one.
const thread = isMainThread ? undefined : workerData?.launch;
const path = thread ? thread.bundle : bundle();
globalThis[Symbol.for('certkeep.launch')] = { launcher: import.meta.url, bundle: path ?? null };
if (path) {
  await import(pathToFileURL(path).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
