// The serving thread's side of the orders thread, with stand-in threads: what it does when the
// thread fails, ends by itself, or does not stop when asked. The real thread runs in every test
// that starts `certkeep serve` (test/harness/hosts.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { silentLogger, type LogLevel } from '../src/log.ts';
import { makeTempDir } from '../test/harness/tmp.ts';
import { OrdersThread } from './orders-thread.ts';

function standIn(source: string): string {
  const file = join(makeTempDir('orders-thread-'), 'launcher.mjs');
  writeFileSync(file, `import { parentPort, workerData } from 'node:worker_threads';\n${source}\n`);
  return pathToFileURL(file).href;
}

function start(source: string) {
  const lines: Array<[string, LogLevel]> = [];
  const failures: unknown[] = [];
  let failed: () => void = () => {};
  const failure = new Promise<void>((resolve) => (failed = resolve));
  const thread = new OrdersThread({
    launch: { launcher: standIn(source), bundle: null },
    logLevel: 'info',
    concurrency: 8,
    write: (line, level) => lines.push([line, level]),
    log: silentLogger,
    onIssued: () => {},
    onFailure: (err) => {
      failures.push(err);
      failed();
    },
  });
  return { thread, lines, failures, failure };
}

describe('the orders thread, seen from the serving thread', () => {
  it('passes its log lines on, and stops when asked once its work has ended', async () => {
    const { thread, lines, failures } = start(`
      parentPort.postMessage({ kind: 'log', line: JSON.stringify({ msg: 'started', concurrency: workerData.concurrency }), level: 'info' });
      parentPort.on('message', (m) => {
        if (m.kind !== 'stop') return;
        setTimeout(() => parentPort.close(), 50);
      });
    `);
    await expect.poll(() => lines.length).toBe(1);
    expect(lines[0]).toEqual(['{"msg":"started","concurrency":8}', 'info']);
    expect(await thread.stop(5_000)).toBe(true);
    expect(failures).toEqual([]);
  });

  it('terminates a thread that has not ended within the grace period', async () => {
    const { thread, failures } = start(`setInterval(() => {}, 1000); parentPort.on('message', () => {});`);
    const started = Date.now();
    expect(await thread.stop(300)).toBe(false);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(failures).toEqual([]);
  });

  it('reports a thread that fails or ends by itself: the host cannot renew without it', async () => {
    const failing = start(`throw new Error('the database is gone');`);
    await failing.failure;
    await new Promise((resolve) => setTimeout(resolve, 200)); // its exit follows the error
    expect(failing.failures).toHaveLength(1);
    expect(String(failing.failures[0])).toContain('the database is gone');
    expect(await failing.thread.stop(1_000)).toBe(true); // already ended: nothing to wait for

    const ending = start(`// nothing to do: the thread ends at once`);
    await ending.failure;
    expect(String(ending.failures[0])).toContain('the orders thread exited (code 0)');
  });
});
