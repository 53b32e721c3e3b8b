// The notifier's wake-ups (deps.onEvents → notify()): the first after a quiet spell runs at once;
// those that follow within NOTIFY_INTERVAL_MS wait and go together, one dispatch for all of them,
// so that a burst of events (a bulk import being issued) does not cost a run and a commit each.
// A real libSQL file; the batches the notifier commits are counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNull } from 'drizzle-orm';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import type { Database } from '../db/client.ts';
import { events } from '../db/schema.ts';
import type { Deps } from '../deps.ts';
import { eventStatement, type NewEvent } from '../domain/events.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';
import { Notifier, NOTIFY_INTERVAL_MS } from './notifier.ts';

let opened: OpenedDatabase;
let deps: Deps;
/** Batches that mark events dispatched: one per dispatch that found events. */
let dispatches = 0;

let n = 0;
function event(): NewEvent {
  n++;
  return { type: 'certificate.renewed', dedupeKey: `notifier-test:${n}`, subject: { kind: 'certificate', id: `c${n}`, name: `www${n}` }, title: `www${n} renewed`, body: 'Renewed.' };
}

const undispatched = async () => (await deps.db.db.select({ id: events.id }).from(events).where(isNull(events.dispatchedAt))).length;

async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error('not in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

beforeAll(async () => {
  opened = await openDatabase(`file:${makeTempDir('notifier-')}/certkeep.db`);
  const counted: Database = {
    db: opened.database.db,
    batch(statements) {
      if (statements.some((s) => (s as { toSQL?: () => { sql: string } }).toSQL?.().sql.startsWith('update "events" set "dispatched_at"'))) dispatches++;
      return opened.database.batch(statements);
    },
  };
  deps = await offlineDeps(counted);
});
afterAll(() => opened?.close());

describe('Notifier.notify()', () => {
  it('runs at once after a quiet spell, then gathers the wake-ups of the next interval into one run', async () => {
    const notifier = new Notifier(deps);
    await deps.db.batch([eventStatement(deps, event())]);
    const first = performance.now();
    notifier.notify();
    await until(async () => (await undispatched()) === 0);
    expect(performance.now() - first).toBeLessThan(NOTIFY_INTERVAL_MS / 2);
    expect(dispatches).toBe(1);

    // Ten more events, each with its wake-up, while the interval since the first run lasts.
    for (let i = 0; i < 10; i++) {
      await deps.db.batch([eventStatement(deps, event())]);
      notifier.notify();
    }
    expect(await undispatched()).toBe(10);
    await until(async () => (await undispatched()) === 0);
    // Held until the interval had passed, then dispatched together.
    expect(performance.now() - first).toBeGreaterThanOrEqual(NOTIFY_INTERVAL_MS - 5);
    expect(dispatches).toBe(2);
    await notifier.drain();
  });

  it('stop() drops a wake-up that was waiting for its interval; run() is never held', async () => {
    const notifier = new Notifier(deps);
    notifier.notify(); // at once: nothing to do
    await notifier.drain();
    await deps.db.batch([eventStatement(deps, event())]);
    notifier.notify(); // within the interval: waits
    notifier.stop();
    await new Promise((resolve) => setTimeout(resolve, NOTIFY_INTERVAL_MS + 100));
    expect(await undispatched()).toBe(1);
    // The tick's run (and a test's) is not subject to the interval.
    const before = dispatches;
    await new Notifier(deps).run();
    expect(await undispatched()).toBe(0);
    expect(dispatches).toBe(before + 1);
  });
});
