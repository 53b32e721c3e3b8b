// What the API and the pages do with channels beyond create/edit/delete: list them a page at a
// time, and send a test message.
import { and, asc, desc, gt, lt, sql, type SQL } from 'drizzle-orm';
import type { Deps } from '../../deps.ts';
import { notificationChannels } from '../../db/schema.ts';
import { auditStatement } from '../audit.ts';
import { badCursor, decodeCursor, likeSubstring, pageOf, type ListQuery, type Page } from '../paging.ts';
import type { NameSort } from '../lists.ts';
import { openChannel, requireChannel, type OpenChannel, type Who } from './channels.ts';
import { testEvent } from './messages.ts';
import { siteOrigin } from './outbox.ts';
import { DeliveryError, sendMessage } from './send.ts';

/** A page of channels in name order (SPEC §4.1), `q` a part of the name; each unsealed for its view. */
export async function pageChannels(deps: Deps, query: ListQuery<NameSort, never>): Promise<Page<OpenChannel>> {
  const t = notificationChannels;
  const descending = query.sort === '-name';
  const conds: SQL[] = [];
  if (query.cursor) {
    const [name] = decodeCursor(query.cursor, query.sort, 1);
    if (typeof name !== 'string') throw badCursor();
    conds.push(descending ? lt(t.name, name) : gt(t.name, name));
  }
  if (query.q) conds.push(sql`${t.name} like ${likeSubstring(query.q)} escape '\\'`);
  const rows = await deps.db.db
    .select()
    .from(t)
    .where(and(...conds))
    .orderBy(descending ? desc(t.name) : asc(t.name))
    .limit(query.limit + 1);
  const page = pageOf(rows, query.limit, query.sort, (r) => [r.name], (r) => r);
  return { items: await Promise.all(page.items.map((r) => openChannel(deps, r))), next: page.next };
}

export type TestOutcome = { ok: true; detail: string } | { ok: false; detail: string; permanent: boolean };

/**
 * Sends a test message over the channel now, and records who asked and how it went in the audit
 * log. `linkOrigin` is the address the asker reached Certkeep by (for the message's link).
 */
export async function testChannel(deps: Deps, name: string, who: Who, linkOrigin: string | null): Promise<TestOutcome> {
  const channel = await openChannel(deps, await requireChannel(deps, name));
  const origin = (await siteOrigin(deps)) ?? linkOrigin ?? channel.row.linkOrigin;
  const link = origin ? `${origin}/notifications/channels/${encodeURIComponent(name)}` : null;
  let outcome: TestOutcome;
  try {
    outcome = { ok: true, detail: await sendMessage(deps, channel, testEvent(name, link, deps.now())) };
  } catch (err) {
    if (!(err instanceof DeliveryError)) throw err;
    outcome = { ok: false, detail: err.words, permanent: err.permanent };
  }
  await deps.db.batch([
    auditStatement(deps, who.actor, {
      action: 'notification-channel.test',
      object: { kind: 'notification-channel', name },
      clientIp: who.clientIp,
      outcome: outcome.ok ? 'ok' : 'failed',
      detail: { type: channel.type, said: outcome.detail },
    }),
  ]);
  deps.log.info('test notification', { channel: name, ok: outcome.ok, detail: outcome.detail });
  return outcome;
}
