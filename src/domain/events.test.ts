// Events are written with the change that caused them, once per dedupe key; audit records in the
// same batch as their change, and a batch whose record cannot be written changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asc, eq } from 'drizzle-orm';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import { auditLog, events, settings } from '../db/schema.ts';
import type { Deps } from '../deps.ts';
import { eventStatement, eventsWritten, isEventType, type NewEvent } from './events.ts';
import { auditStatement } from './audit.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';

let opened: OpenedDatabase;
let deps: Deps;
let woken = 0;

beforeAll(async () => {
  opened = await openDatabase(`file:${makeTempDir('events-')}/certkeep.db`);
  deps = await offlineDeps(opened.database, { onEvents: () => void woken++ });
});
afterAll(() => opened?.close());

const expiring = (days: number): NewEvent => ({
  type: 'certificate.expiring',
  dedupeKey: `certificate.expiring:c1:0a:${days}`,
  subject: { kind: 'certificate', id: 'c1', name: 'www' },
  title: `www expires in ${days} days`,
  body: `The certificate www (www.example.com) expires in ${days} days and has not been renewed.`,
  link: '/certificates/www',
  data: { certificate: 'www', daysLeft: days },
});

describe('events', () => {
  it('are written once per dedupe key, with their change, and carry their type in the data', async () => {
    await deps.db.batch([eventStatement(deps, expiring(7)), deps.db.db.insert(settings).values({ key: 'a', value: '1', updatedAt: 0 })]);
    await deps.db.batch([eventStatement(deps, expiring(7)), eventStatement(deps, expiring(3))]);
    const rows = await deps.db.db.select().from(events).orderBy(asc(events.id));
    expect(rows.map((r) => [r.dedupeKey, r.title, r.dispatchedAt])).toEqual([
      ['certificate.expiring:c1:0a:7', 'www expires in 7 days', null],
      ['certificate.expiring:c1:0a:3', 'www expires in 3 days', null],
    ]);
    expect(JSON.parse(rows[0].data)).toEqual({ type: 'certificate.expiring', certificate: 'www', daysLeft: 7 });
    eventsWritten(deps);
    expect(woken).toBe(1);
  });

  it('are none when the change they belong to fails', async () => {
    const before = (await deps.db.db.select().from(events)).length;
    // The settings row 'a' exists: the plain insert fails, and the event with it.
    await expect(deps.db.batch([eventStatement(deps, expiring(1)), deps.db.db.insert(settings).values({ key: 'a', value: '2', updatedAt: 0 })])).rejects.toThrow();
    expect((await deps.db.db.select().from(events)).length).toBe(before);
  });

  it('have known types only', () => {
    expect(isEventType('consumer.stale')).toBe(true);
    expect(isEventType('certificate.exploded')).toBe(false);
    expect(isEventType('toString')).toBe(false);
  });
});

describe('audit records', () => {
  it('are written in the batch of their change, with who, what, where and how it went', async () => {
    await deps.db.batch([
      deps.db.db.insert(settings).values({ key: 'b', value: '1', updatedAt: 0 }),
      auditStatement(deps, { kind: 'token', id: 't1', name: 'ci' }, { action: 'settings.update', object: { kind: 'settings', name: 'b' }, clientIp: '192.0.2.7', detail: { value: 1 } }),
    ]);
    const [row] = await deps.db.db.select().from(auditLog).where(eq(auditLog.action, 'settings.update'));
    expect(row).toMatchObject({ actorKind: 'token', actorId: 't1', actorName: 'ci', objectKind: 'settings', objectName: 'b', clientIp: '192.0.2.7', outcome: 'ok', detail: '{"value":1}' });
  });

  it('leave nothing changed when the change fails', async () => {
    const before = (await deps.db.db.select().from(auditLog)).length;
    await expect(
      deps.db.batch([auditStatement(deps, { kind: 'cli', name: 'certkeep CLI' }, { action: 'settings.update' }), deps.db.db.insert(settings).values({ key: 'b', value: '2', updatedAt: 0 })]),
    ).rejects.toThrow();
    expect((await deps.db.db.select().from(auditLog)).length).toBe(before);
  });
});
