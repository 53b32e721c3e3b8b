// The notification outbox: events (written in the batch of the change that caused them, see
// domain/events.ts) become deliveries, one per subscribed channel, and deliveries are sent at
// least once.
//
//   dispatch   undispatched events → one `pending` delivery per subscribed channel (unique per
//              event and channel, so two hosts dispatching the same event make one), and the event
//              marked dispatched — one batch per run;
//   send       a due delivery is claimed with one conditional UPDATE (attempts + 1, claimed for a
//              while by this host), sent, and recorded `sent`, or `pending` again with a back-off,
//              or `failed` after the last attempt or a refusal that will not change by itself.
//
// Nothing is lost to a crash: an event not yet dispatched is dispatched by the next run, and a
// delivery claimed by a host that died is claimed again once its claim runs out — a receiver may
// then get it twice (at least once), and the webhook's event id lets it tell.
import { and, desc, eq, inArray, isNotNull, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { Deps } from '../../deps.ts';
import { events, notificationChannels, notificationDeliveries } from '../../db/schema.ts';
import type { Statement } from '../../db/client.ts';
import { siteHostnameOf } from '../setup.ts';
import { isEventType, EVENT_TYPES } from '../events.ts';
import { badCursor, decodeCursor, pageOf, parseListQuery, type ListQuery } from '../paging.ts';
import { fieldError } from '../../http/validate.ts';
import { MAX_CHANNELS, openChannel, subscribes, type OpenChannel } from './channels.ts';
import { DeliveryError, sendMessage } from './send.ts';
import type { MessageEvent } from './messages.ts';

export type DeliveryRow = typeof notificationDeliveries.$inferSelect;
export type DeliveryState = DeliveryRow['state'];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Attempts before a delivery is given up: about 11 hours of trying. */
export const MAX_ATTEMPTS = 8;
/** Wait after the n-th failed attempt: 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h. */
const BACKOFF_MS = [30_000, 2 * MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR];
/** Events turned into deliveries per call of dispatchEvents. */
export const DISPATCH_BATCH = 50;

export function deliveryBackoffMs(attempts: number): number {
  return BACKOFF_MS[Math.min(Math.max(attempts, 1), BACKOFF_MS.length) - 1];
}

// ---- dispatch ------------------------------------------------------------------------------------

/** Turns up to DISPATCH_BATCH undispatched events into deliveries. Returns how many events it took. */
export async function dispatchEvents(deps: Deps): Promise<number> {
  const pending = await deps.db.db.select().from(events).where(isNull(events.dispatchedAt)).orderBy(events.id).limit(DISPATCH_BATCH);
  if (pending.length === 0) return 0;
  const rows = await deps.db.db.select().from(notificationChannels).orderBy(notificationChannels.name).limit(MAX_CHANNELS);
  // Only what subscription needs: no channel is unsealed here.
  const channels = rows.map((row) => ({ row, events: JSON.parse(row.events) as string[], expiringDays: JSON.parse(row.expiringDays) as number[] }));
  const now = deps.now();
  const statements: Statement[] = [];
  for (const event of pending) {
    const data = parseData(event.data);
    for (const channel of channels) {
      if (!subscribes(channel as Pick<OpenChannel, 'events' | 'expiringDays'>, { type: event.type, data })) continue;
      statements.push(
        deps.db.db
          .insert(notificationDeliveries)
          .values({
            eventId: event.id,
            eventType: event.type,
            channelId: channel.row.id,
            channelName: channel.row.name,
            channelType: channel.row.type,
            state: 'pending',
            attempts: 0,
            nextAttemptAt: now,
            createdAt: now,
            updatedAt: now,
          })
          .onConflictDoNothing(),
      );
    }
  }
  statements.push(
    deps.db.db
      .update(events)
      .set({ dispatchedAt: now })
      .where(and(inArray(events.id, pending.map((e) => e.id)), isNull(events.dispatchedAt))),
  );
  await deps.db.batch(statements);
  return pending.length;
}

function parseData(text: string): Record<string, unknown> {
  try {
    const data = JSON.parse(text);
    return data && typeof data === 'object' && !Array.isArray(data) ? data : {};
  } catch {
    return {};
  }
}

// ---- send ----------------------------------------------------------------------------------------

export interface SendRunOptions {
  /** At most this many deliveries are attempted in this run. */
  max: number;
  /** Deliveries sent at once. */
  concurrency: number;
  /** Asked before each claim: false stops the run (a Worker's budget). */
  mayContinue?: () => boolean;
  timeoutMs?: number;
}

export interface SendRunResult {
  sent: number;
  retried: number;
  failed: number;
}

/** How long a claim holds: the send's deadline and room to record its outcome. */
const claimTtl = (timeoutMs: number) => timeoutMs * 2 + 10_000;

/**
 * Sends due deliveries: each worker claims one, sends it, records the outcome, and takes the next,
 * until none is due or `max` were attempted.
 */
export async function sendDueDeliveries(deps: Deps, opts: SendRunOptions): Promise<SendRunResult> {
  const result: SendRunResult = { sent: 0, retried: 0, failed: 0 };
  let attempted = 0;
  // Looked up once per run, and only when there is something to send.
  let origin: Promise<string | null> | undefined;
  const channels = new Map<string, Promise<OpenChannel | null>>();
  const channelOf = (id: string) => {
    let found = channels.get(id);
    if (!found) {
      found = deps.db.db
        .select()
        .from(notificationChannels)
        .where(eq(notificationChannels.id, id))
        .limit(1)
        .then(([row]) => (row ? openChannel(deps, row) : null));
      channels.set(id, found);
    }
    return found;
  };
  // One worker first; each claim that finds a delivery starts another, up to `concurrency`. When
  // nothing is due (most runs: an event no channel subscribes to) that is one claim, not one per worker.
  const workers: Promise<void>[] = [];
  const startWorker = () => {
    if (workers.length < Math.max(1, opts.concurrency)) workers.push(worker());
  };
  const worker = async () => {
    while (attempted < opts.max && (opts.mayContinue?.() ?? true)) {
      attempted++;
      const delivery = await claimOne(deps, claimTtl(opts.timeoutMs ?? 10_000));
      if (!delivery) return;
      startWorker();
      const outcome = await attempt(deps, delivery, await channelOf(delivery.channelId), await (origin ??= siteOrigin(deps)), opts.timeoutMs);
      result[outcome]++;
    }
  };
  startWorker();
  // Workers started meanwhile are waited for too.
  for (let started = 0; started < workers.length; ) {
    started = workers.length;
    await Promise.all(workers);
  }
  return result;
}

/**
 * Claims the next due delivery for this host: one UPDATE, so that of two hosts asking at once one
 * gets it. The attempt is counted here: one cut off by a crash counts too.
 */
export async function claimOne(deps: Deps, ttlMs: number): Promise<DeliveryRow | undefined> {
  const now = deps.now();
  const d = notificationDeliveries;
  const claimable = sql`${d.state} = 'pending' and ${d.nextAttemptAt} <= ${now} and (${d.claimedUntil} is null or ${d.claimedUntil} < ${now})`;
  const [row] = await deps.db.db
    .update(d)
    .set({ claimedUntil: now + ttlMs, claimedBy: deps.hostId, attempts: sql`${d.attempts} + 1`, updatedAt: now })
    .where(sql`${d.id} = (select ${d.id} from ${d} where ${claimable} order by ${d.nextAttemptAt}, ${d.id} limit 1) and ${claimable}`)
    .returning();
  return row;
}

async function attempt(deps: Deps, delivery: DeliveryRow, channel: OpenChannel | null, siteOriginValue: string | null, timeoutMs?: number): Promise<keyof SendRunResult> {
  const log = deps.log.child({ delivery: delivery.id, channel: delivery.channelName, event: delivery.eventType });
  if (!channel) return record(deps, delivery, { ok: false, words: 'the channel was removed before this was sent', permanent: true });
  const [event] = await deps.db.db.select().from(events).where(eq(events.id, delivery.eventId)).limit(1);
  if (!event) return record(deps, delivery, { ok: false, words: 'the event is gone', permanent: true });
  const origin = siteOriginValue ?? channel.row.linkOrigin;
  const message: MessageEvent = {
    id: event.id,
    type: event.type,
    subject: { kind: event.subjectKind, name: event.subjectName },
    title: event.title,
    body: event.body,
    link: event.link && origin ? origin + event.link : null,
    data: parseData(event.data),
    createdAt: event.createdAt,
  };
  try {
    const said = await sendMessage(deps, channel, message, { timeoutMs });
    log.info('notification sent', { attempt: delivery.attempts, said });
    return record(deps, delivery, { ok: true });
  } catch (err) {
    const failure = err instanceof DeliveryError ? err : new DeliveryError('internal error while sending', false);
    if (!(err instanceof DeliveryError)) log.error('notification send crashed', { err });
    log.warn('notification not delivered', { attempt: delivery.attempts, reason: failure.words, permanent: failure.permanent });
    return record(deps, delivery, { ok: false, words: failure.words, permanent: failure.permanent });
  }
}

/** Records an attempt's outcome, if this host still holds the claim. */
async function record(deps: Deps, delivery: DeliveryRow, outcome: { ok: true } | { ok: false; words: string; permanent: boolean }): Promise<keyof SendRunResult> {
  const now = deps.now();
  const d = notificationDeliveries;
  const mine = and(eq(d.id, delivery.id), eq(d.claimedBy, deps.hostId), eq(d.state, 'pending'));
  if (outcome.ok) {
    await deps.db.db.update(d).set({ state: 'sent', sentAt: now, lastError: null, nextAttemptAt: null, claimedUntil: null, updatedAt: now }).where(mine);
    return 'sent';
  }
  const givenUp = outcome.permanent || delivery.attempts >= MAX_ATTEMPTS;
  await deps.db.db
    .update(d)
    .set({
      state: givenUp ? 'failed' : 'pending',
      lastError: outcome.words.slice(0, 1000),
      nextAttemptAt: givenUp ? null : now + deliveryBackoffMs(delivery.attempts),
      claimedUntil: null,
      updatedAt: now,
    })
    .where(mine);
  return givenUp ? 'failed' : 'retried';
}

/**
 * The address messages link to: the site hostname over HTTPS (node host), or null when there is
 * none (a channel then links to the address the admin saved it from).
 */
export async function siteOrigin(deps: Deps): Promise<string | null> {
  const hostname = await siteHostnameOf(deps);
  if (!hostname) return null;
  const port = deps.httpsListenPort;
  return `https://${hostname}${port !== undefined && port !== 443 ? `:${port}` : ''}`;
}

/** When the next pending delivery is due (for a wake-up timer), or null. */
export async function nextDeliveryTime(deps: Deps): Promise<number | null> {
  const d = notificationDeliveries;
  // A delivery claimed by a host is due again when its claim runs out.
  const [row] = await deps.db.db
    .select({ t: sql<number | null>`min(max(${d.nextAttemptAt}, coalesce(${d.claimedUntil} + 1, 0)))` })
    .from(d)
    .where(and(eq(d.state, 'pending'), isNotNull(d.nextAttemptAt)));
  return row?.t ?? null;
}

/** Whether undispatched events wait. */
export async function eventsWaiting(deps: Deps): Promise<boolean> {
  const [row] = await deps.db.db.select({ id: events.id }).from(events).where(isNull(events.dispatchedAt)).limit(1);
  return row !== undefined;
}

// ---- the delivery log ----------------------------------------------------------------------------

/** Days the delivery log, and the events behind it, are kept once their deliveries ended. */
export const NOTIFICATION_RETENTION_DAYS = 180;
/** Rows looked at (and at most removed) per table and call. */
const PURGE_BATCH = 500;

/**
 * Removes ended deliveries (sent, failed) and dispatched events older than the retention, the
 * oldest first. Each statement looks at the PURGE_BATCH oldest rows of its table only (ids grow
 * with time), so a tick costs the same however long the log has grown, and a long log shrinks a
 * batch per tick. An event goes once none of its deliveries is left. Every event's dedupe key
 * names a serial or a time, so an event removed cannot come due again.
 */
export async function purgeNotifications(deps: Deps): Promise<void> {
  const cutoff = deps.now() - NOTIFICATION_RETENTION_DAYS * 86_400_000;
  const d = notificationDeliveries;
  const e = events;
  await deps.db.batch([
    deps.db.db
      .delete(d)
      .where(and(sql`${d.id} in (select ${d.id} from ${d} order by ${d.id} limit ${PURGE_BATCH})`, inArray(d.state, ['sent', 'failed']), lt(d.updatedAt, cutoff))),
    deps.db.db
      .delete(e)
      .where(
        and(
          sql`${e.id} in (select ${e.id} from ${e} order by ${e.id} limit ${PURGE_BATCH})`,
          isNotNull(e.dispatchedAt),
          lt(e.createdAt, cutoff),
          sql`not exists (select 1 from ${d} where ${d.eventId} = ${e.id})`,
        ),
      ),
  ]);
}

export const DELIVERY_STATES = ['pending', 'sent', 'failed'] as const;
export const DELIVERY_SORTS = ['-created'] as const;
export type DeliveryQuery = ListQuery<(typeof DELIVERY_SORTS)[number], never> & { state?: DeliveryState; channel?: string; event?: string };

/**
 * `limit`, `cursor`, and the filters `state` (pending, sent or failed; `status` is the same),
 * `channel` (a channel's name) and `event` (an event type). A bad value is a 400 naming it.
 */
export function parseDeliveryQuery(params: URLSearchParams, opts: { defaultLimit?: number; ignore?: readonly string[] } = {}): DeliveryQuery {
  const q = parseListQuery<(typeof DELIVERY_SORTS)[number], never>(
    params,
    { sorts: DELIVERY_SORTS, defaultSort: '-created', extra: ['state', 'status', 'channel', 'event'], defaultLimit: opts.defaultLimit },
    opts.ignore,
  );
  const stateText = q.extra.state ?? q.extra.status;
  const field = q.extra.state !== undefined ? 'state' : 'status';
  if (q.extra.state !== undefined && q.extra.status !== undefined) throw fieldError('status', 'give state or status, not both');
  if (stateText !== undefined && !(DELIVERY_STATES as readonly string[]).includes(stateText)) throw fieldError(field, `expected one of ${DELIVERY_STATES.join(', ')}`);
  if (q.extra.event !== undefined && !isEventType(q.extra.event)) throw fieldError('event', `expected one of ${Object.keys(EVENT_TYPES).join(', ')}`);
  if (q.extra.channel !== undefined && q.extra.channel.length > 64) throw fieldError('channel', 'longer than 64 characters');
  return { ...q, state: stateText as DeliveryState | undefined, channel: q.extra.channel, event: q.extra.event };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * A page of the delivery log, newest first, along the index of the one filter given (state,
 * channel or event type; the primary key without one); the page's events in one more query.
 */
export async function pageDeliveries(deps: Deps, query: DeliveryQuery) {
  const d = notificationDeliveries;
  const conds: SQL[] = [];
  if (query.cursor) {
    const [id] = decodeCursor(query.cursor, query.sort, 1);
    if (typeof id !== 'number') throw badCursor();
    conds.push(lt(d.id, id));
  }
  if (query.state) conds.push(eq(d.state, query.state));
  if (query.channel) conds.push(eq(d.channelName, query.channel));
  if (query.event) conds.push(eq(d.eventType, query.event));
  const rows = await deps.db.db
    .select()
    .from(d)
    .where(and(...conds))
    .orderBy(desc(d.id))
    .limit(query.limit + 1);
  const shown = rows.slice(0, query.limit);
  const eventRows = shown.length
    ? await deps.db.db
        .select({ id: events.id, title: events.title, subjectKind: events.subjectKind, subjectName: events.subjectName, link: events.link, createdAt: events.createdAt })
        .from(events)
        .where(inArray(events.id, [...new Set(shown.map((r) => r.eventId))]))
    : [];
  const byId = new Map(eventRows.map((e) => [e.id, e]));
  return pageOf(rows, query.limit, query.sort, (r) => [r.id], (r) => deliveryView(r, byId.get(r.eventId)));
}

export function deliveryView(r: DeliveryRow, event?: { title: string; subjectKind: string; subjectName: string; link: string | null; createdAt: number }) {
  return {
    id: r.id,
    event: r.eventType,
    eventId: r.eventId,
    subject: event?.title ?? null,
    about: event ? { kind: event.subjectKind, name: event.subjectName } : null,
    link: event?.link ?? null,
    channel: r.channelName,
    channelType: r.channelType,
    state: r.state,
    attempts: r.attempts,
    lastError: r.lastError,
    nextAttemptAt: r.state === 'pending' ? iso(r.nextAttemptAt) : null,
    createdAt: iso(r.createdAt),
    sentAt: iso(r.sentAt),
  };
}
