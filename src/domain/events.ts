// Domain events (SPEC §4.3) and how they are written: as a statement in the same batch as the
// change that caused them (an outbox), never afterwards and never on their own, so that a crash
// between the change and its event cannot lose the event, and an event cannot exist for a change
// that did not happen. Each event carries a dedupe key, so that the same thing reported twice (a
// renewal failing again the same day, an expiry threshold crossed on two hosts) is one event.
//
// Events are facts in words: `title` and `body` are what a person reads (a mail, a chat message),
// `data` the same facts for machines (a webhook). Who hears of which event is the business of the
// notification channels (domain/notifications), which turn events into deliveries.
import type { Deps } from '../deps.ts';
import type { Statement } from '../db/client.ts';
import { events } from '../db/schema.ts';

/** Every event type (SPEC §4.3), and what it means. */
export const EVENT_TYPES = {
  'certificate.expiring': 'a certificate is about to expire (30, 14, 7, 3 and 1 days left; once per certificate, serial and threshold)',
  'certificate.renewal_failed': 'obtaining or renewing a certificate failed (the first failure, then at most daily while it keeps failing)',
  'certificate.renewed': 'a certificate was obtained or renewed',
  'certificate.revoked': 'a certificate was revoked',
  'certificate.replace_early': "the CA's renewal window (ARI) moved before the planned renewal: the certificate is replaced now",
  'tracking.changed': 'a tracked server presents another certificate than before',
  'tracking.expiring': 'a tracked certificate is about to expire (30, 14, 7, 3 and 1 days left)',
  'tracking.problem': 'a tracked server cannot be reached, or presents an untrusted chain or a certificate for other names',
  'consumer.stale': "a server has not fetched (or installed) a certificate's current serial long after its renewal",
  'consumer.install_failed': "a server's agent reported that installing a certificate failed",
} as const;

export type EventType = keyof typeof EVENT_TYPES;

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && Object.hasOwn(EVENT_TYPES, value);
}

export type EventRow = typeof events.$inferSelect;

export interface NewEvent {
  type: EventType;
  /** The event happens once per key: `certificate.expiring:<id>:<serial>:7`. */
  dedupeKey: string;
  subject: { kind: 'certificate' | 'tracking' | 'consumer' | 'channel'; id?: string | null; name: string };
  /** One line in words. */
  title: string;
  /** The message in words (a few sentences; the CA's problem in words where there is one). */
  body: string;
  /** The page about it: `/certificates/www`. */
  link?: string | null;
  /** The facts for machines (no secrets). */
  data?: Record<string, unknown>;
}

/**
 * The statement that records `event`, for the caller's batch (the change that caused it goes in
 * the same batch). An event whose dedupe key is already there is not written again.
 */
export function eventStatement(deps: Deps, event: NewEvent): Statement {
  return deps.db.db
    .insert(events)
    .values({
      type: event.type,
      dedupeKey: event.dedupeKey,
      subjectKind: event.subject.kind,
      subjectId: event.subject.id ?? null,
      subjectName: event.subject.name,
      title: event.title,
      body: event.body,
      link: event.link ?? null,
      data: JSON.stringify({ type: event.type, ...event.data }),
      createdAt: deps.now(),
      dispatchedAt: null,
    })
    .onConflictDoNothing({ target: events.dedupeKey });
}

/** Tells the host that events were committed, so that their deliveries start now (after the batch). */
export function eventsWritten(deps: Deps): void {
  deps.onEvents?.();
}
