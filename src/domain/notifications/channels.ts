// Notification channels (SPEC §4.3): where events go, and which events each one wants.
//
//   email    {"to":["ops@example.com", …]}           mail through the node host's SMTP server
//   slack    {"url":"https://hooks.slack.com/…"}     an incoming webhook
//   discord  {"url":"https://discord.com/api/webhooks/…"}
//   teams    {"url":"https://….logic.azure.com/workflows/…"}  a Teams workflow's webhook trigger
//   ntfy     {"url":"https://ntfy.sh/<topic>","token"?}
//   webhook  {"url","secret"}                        JSON signed with X-Certkeep-Signature
//
// Validated per type (unknown fields and fields of another type refused, every error naming its
// field), stored with the type's settings sealed under the master key as one JSON object — the
// URL of a chat webhook is its credential, like a token or an HMAC secret — and shown without
// them: a chat URL masked, secrets and tokens as "set". Every change is written in one batch with
// its audit record.
import { eq, sql } from 'drizzle-orm';
import type { Deps } from '../../deps.ts';
import { CertkeepError } from '../../errors.ts';
import { notificationChannels, notificationDeliveries } from '../../db/schema.ts';
import { openSecret, sealSecret } from '../../crypto/index.ts';
import { fromUtf8, utf8 } from '../../util/encoding.ts';
import { fieldError } from '../../http/validate.ts';
import { newId } from '../secrets.ts';
import { auditStatement, type By } from '../audit.ts';
import { EVENT_TYPES, isEventType, type EventType } from '../events.ts';
import { configObject, optionalText, requiredText, serviceUrl } from '../dns/provider-config.ts';

export const CHANNEL_TYPES = ['email', 'slack', 'teams', 'discord', 'ntfy', 'webhook'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

/** The expiry thresholds SPEC §4.3 fixes, in days left; a channel may want fewer of them. */
export const EXPIRY_THRESHOLDS = [30, 14, 7, 3, 1] as const;

/** What a channel hears when it names no events: everything but `certificate.renewed`, which is opt-in. */
export const DEFAULT_EVENTS: readonly EventType[] = (Object.keys(EVENT_TYPES) as EventType[]).filter((t) => t !== 'certificate.renewed');

/** Enough for every team and chat room; it keeps each dispatch's look at the channels bounded. */
export const MAX_CHANNELS = 100;
const MAX_RECIPIENTS = 50;
/** HMAC secrets shorter than this can be guessed offline from one signed request. */
const MIN_SECRET_LENGTH = 16;
const EMAIL = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;

export interface ChannelConfig {
  to?: string[];
  url?: string;
  /** webhook: the HMAC key. */
  secret?: string;
  /** ntfy: an access token (Authorization: Bearer). */
  token?: string;
}

export type ChannelRow = typeof notificationChannels.$inferSelect;

/** A channel ready to send: its row, with the settings unsealed. Never shown as it is. */
export interface OpenChannel {
  row: ChannelRow;
  type: ChannelType;
  config: ChannelConfig;
  events: EventType[];
  expiringDays: number[];
}

/** Who acts and from where (the audit log's `By`). */
export type Who = By;

const channelAad = (id: string) => `notification-channel:${id}`;

/** Each type's own fields, and whether its URL is a credential (shown masked). */
export const TYPE_FIELDS: Record<ChannelType, { fields: readonly (keyof ChannelConfig)[]; secretUrl: boolean; label: string }> = {
  email: { fields: ['to'], secretUrl: false, label: 'Email' },
  slack: { fields: ['url'], secretUrl: true, label: 'Slack' },
  teams: { fields: ['url'], secretUrl: true, label: 'Microsoft Teams' },
  discord: { fields: ['url'], secretUrl: true, label: 'Discord' },
  ntfy: { fields: ['url', 'token'], secretUrl: false, label: 'ntfy' },
  webhook: { fields: ['url', 'secret'], secretUrl: false, label: 'Webhook' },
};

export function isChannelType(value: unknown): value is ChannelType {
  return typeof value === 'string' && (CHANNEL_TYPES as readonly string[]).includes(value);
}

export function channelTypeLabel(type: string): string {
  return isChannelType(type) ? TYPE_FIELDS[type].label : type;
}

/** Whether this host can send over a channel of `type`, and why not. */
export function channelTypeUnavailable(deps: Deps, type: ChannelType): string | null {
  if (type !== 'email') return null;
  if (deps.runtime === 'worker') {
    return "email channels need the node host: a Worker has no mail server to send through (Cloudflare's send_email binding reaches only addresses verified in the Cloudflare account); use slack, teams, discord, ntfy or webhook";
  }
  if (!deps.mailer) return 'email channels need a mail server: start Certkeep with CERTKEEP_SMTP_URL and CERTKEEP_SMTP_FROM';
  return null;
}

// ---- validation ----------------------------------------------------------------------------------

/** The channel's fields as the API takes them (the body without `name` and `type`). */
export interface ChannelInput {
  to?: unknown;
  url?: unknown;
  secret?: unknown;
  token?: unknown;
  events?: unknown;
  expiringDays?: unknown;
}

export const INPUT_FIELDS = ['to', 'url', 'secret', 'token', 'events', 'expiringDays'] as const;

/** `events`: known event types, at least one, each once. */
export function validateEvents(value: unknown): EventType[] {
  if (!Array.isArray(value)) throw fieldError('events', `expected an array of event types: ${Object.keys(EVENT_TYPES).join(', ')}`);
  if (value.length === 0) throw fieldError('events', 'at least one event type');
  const out: EventType[] = [];
  value.forEach((item, i) => {
    if (!isEventType(item)) throw fieldError(`events[${i}]`, `unknown event type${typeof item === 'string' ? ` "${item.slice(0, 64)}"` : ''}; expected one of ${Object.keys(EVENT_TYPES).join(', ')}`);
    if (!out.includes(item)) out.push(item);
  });
  return out;
}

/** `expiringDays`: some of 30, 14, 7, 3 and 1. */
export function validateExpiringDays(value: unknown): number[] {
  if (!Array.isArray(value) || value.length === 0) throw fieldError('expiringDays', `expected a non-empty array of ${EXPIRY_THRESHOLDS.join(', ')}`);
  const out: number[] = [];
  value.forEach((item, i) => {
    if (!(EXPIRY_THRESHOLDS as readonly unknown[]).includes(item)) throw fieldError(`expiringDays[${i}]`, `expected one of ${EXPIRY_THRESHOLDS.join(', ')}`);
    if (!out.includes(item as number)) out.push(item as number);
  });
  return [...EXPIRY_THRESHOLDS].filter((d) => out.includes(d));
}

function validateRecipients(value: unknown): string[] {
  if (value === undefined || value === null) throw fieldError('to', 'required: the email addresses to send to');
  if (!Array.isArray(value)) throw fieldError('to', 'expected an array of email addresses');
  if (value.length === 0) throw fieldError('to', 'required: at least one email address');
  if (value.length > MAX_RECIPIENTS) throw fieldError('to', `at most ${MAX_RECIPIENTS} addresses`);
  const out: string[] = [];
  value.forEach((item, i) => {
    const text = typeof item === 'string' ? item.trim() : '';
    if (!EMAIL.test(text) || text.length > 254) throw fieldError(`to[${i}]`, 'expected an email address');
    if (!out.some((o) => o.toLowerCase() === text.toLowerCase())) out.push(text);
  });
  return out;
}

/**
 * The type's settings from `input` (the body without name, type, events and expiringDays), or a
 * BAD_REQUEST naming the field. Fields of other types are refused by name.
 */
export function validateChannelConfig(deps: Deps, type: ChannelType, input: Record<string, unknown>): ChannelConfig {
  const own = TYPE_FIELDS[type].fields as readonly string[];
  for (const key of Object.keys(input)) {
    if (!(INPUT_FIELDS as readonly string[]).includes(key)) throw fieldError(key, 'unknown field');
    if (key !== 'events' && key !== 'expiringDays' && !own.includes(key) && input[key] !== undefined && input[key] !== null) {
      throw fieldError(key, `not used by ${type} channels (they take ${own.join(' and ')})`);
    }
  }
  const obj = configObject(Object.fromEntries(own.filter((k) => input[k] !== undefined).map((k) => [k, input[k]])), '', own);
  if (type === 'email') return { to: validateRecipients(obj.to) };
  const url = serviceUrl(obj, 'url', 'url', deps.outbound).href;
  if (type === 'ntfy') {
    if (url.replace(/\/+$/, '').split('/').length < 4) throw fieldError('url', 'expected the topic URL, e.g. https://ntfy.sh/my-topic');
    const token = optionalText(obj, 'token', 'token', 1024);
    return { url, ...(token ? { token } : {}) };
  }
  if (type === 'webhook') {
    const secret = requiredText(obj, 'secret', 'secret', 1024);
    if (secret.length < MIN_SECRET_LENGTH) throw fieldError('secret', `at least ${MIN_SECRET_LENGTH} characters`);
    return { url, secret };
  }
  return { url };
}

// ---- reading -------------------------------------------------------------------------------------

export async function findChannel(deps: Deps, name: string): Promise<ChannelRow | undefined> {
  const [row] = await deps.db.db.select().from(notificationChannels).where(eq(notificationChannels.name, name)).limit(1);
  return row;
}

export async function requireChannel(deps: Deps, name: string): Promise<ChannelRow> {
  const row = await findChannel(deps, name);
  if (!row) throw new CertkeepError('NOT_FOUND', `no notification channel named "${name}"`);
  return row;
}

/** The row with its settings unsealed (secrets included: for sending, never for display). */
export async function openChannel(deps: Deps, row: ChannelRow): Promise<OpenChannel> {
  const config = JSON.parse(fromUtf8(await openSecret(deps.masterKey, row.configSealed, channelAad(row.id)))) as ChannelConfig;
  return { row, type: row.type as ChannelType, config, events: JSON.parse(row.events) as EventType[], expiringDays: JSON.parse(row.expiringDays) as number[] };
}

/** `https://hooks.slack.com/…WXYZ`: where it goes, not how to post there. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    const tail = (u.pathname + u.search).replace(/\/+$/, '').slice(-4);
    return `${u.origin}/…${tail}`;
  } catch {
    return '…';
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** What the API and the pages show: no secret, a chat webhook's URL masked. */
export function channelView(channel: OpenChannel) {
  const { row, type, config } = channel;
  return {
    name: row.name,
    type: row.type,
    events: channel.events,
    expiringDays: channel.expiringDays,
    ...(config.to ? { to: config.to } : {}),
    ...(config.url ? { url: TYPE_FIELDS[type]?.secretUrl ? maskUrl(config.url) : config.url } : {}),
    ...(config.secret ? { secret: 'set' } : {}),
    ...(type === 'ntfy' ? { token: config.token ? 'set' : null } : {}),
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

/** Whether the type's URL is a credential (Slack, Teams, Discord): shown masked, kept on edit when left empty. */
export function hasSecretUrl(type: ChannelType): boolean {
  return TYPE_FIELDS[type].secretUrl;
}

// ---- changing ------------------------------------------------------------------------------------

export interface NewChannel {
  name: string;
  type: ChannelType;
  input: ChannelInput & Record<string, unknown>;
  /** The address the admin reaches Certkeep by, for links when no site hostname is set. */
  linkOrigin?: string | null;
}

/** Everything checked, nothing written: the row and its insert (the Certera import batches it). */
export async function prepareChannel(deps: Deps, c: NewChannel, opts: { hostCheck?: boolean } = {}) {
  if (opts.hostCheck !== false) {
    const unavailable = channelTypeUnavailable(deps, c.type);
    if (unavailable) throw fieldError('type', unavailable);
  }
  const { events, expiringDays, ...rest } = c.input;
  const config = validateChannelConfig(deps, c.type, rest);
  const eventList = events === undefined || events === null ? [...DEFAULT_EVENTS] : validateEvents(events);
  const days = expiringDays === undefined || expiringDays === null ? [...EXPIRY_THRESHOLDS] : validateExpiringDays(expiringDays);
  const id = newId();
  const now = deps.now();
  const row: ChannelRow = {
    id,
    name: c.name,
    type: c.type,
    events: JSON.stringify(eventList),
    expiringDays: JSON.stringify(days),
    configSealed: await sealSecret(deps.masterKey, utf8(JSON.stringify(config)), channelAad(id)),
    linkOrigin: c.linkOrigin ?? null,
    createdAt: now,
    updatedAt: now,
  };
  return { row, config, statement: deps.db.db.insert(notificationChannels).values(row) };
}

export async function createChannel(deps: Deps, c: NewChannel, who: Who): Promise<OpenChannel> {
  if (await findChannel(deps, c.name)) throw new CertkeepError('CONFLICT', `name: a notification channel named "${c.name}" already exists`, { field: 'name' });
  const prepared = await prepareChannel(deps, c);
  const [{ n }] = await deps.db.db.select({ n: sql<number>`count(*)` }).from(notificationChannels);
  if (n >= MAX_CHANNELS) throw new CertkeepError('CONFLICT', `at most ${MAX_CHANNELS} notification channels; remove one first`);
  await deps.db.batch([
    prepared.statement,
    auditStatement(deps, who.actor, { action: 'notification-channel.create', object: { kind: 'notification-channel', name: c.name }, clientIp: who.clientIp, detail: { type: c.type } }),
  ]);
  deps.log.info('notification channel created', { channel: c.name, type: c.type });
  return openChannel(deps, prepared.row);
}

/**
 * Changes a channel: `events`, `expiringDays` and the type's own fields. A field left out keeps
 * its value (a chat URL or a secret need not be typed again); `token: null` removes an ntfy token.
 */
export async function updateChannel(deps: Deps, name: string, input: ChannelInput & Record<string, unknown>, who: Who, linkOrigin?: string | null): Promise<OpenChannel> {
  const current = await openChannel(deps, await requireChannel(deps, name));
  const { events, expiringDays, ...rest } = input;
  const merged: Record<string, unknown> = { ...current.config };
  for (const [key, value] of Object.entries(rest)) {
    if (value === null && key === 'token') delete merged.token;
    else if (value !== undefined) merged[key] = value;
  }
  // Fields of other types are refused by name, as on create.
  for (const key of Object.keys(rest)) {
    if (!(INPUT_FIELDS as readonly string[]).includes(key)) throw fieldError(key, 'unknown field');
    if (!(TYPE_FIELDS[current.type].fields as readonly string[]).includes(key)) throw fieldError(key, `not used by ${current.type} channels (they take ${TYPE_FIELDS[current.type].fields.join(' and ')})`);
  }
  const config = validateChannelConfig(deps, current.type, merged);
  const eventList = events === undefined ? current.events : validateEvents(events);
  const days = expiringDays === undefined ? current.expiringDays : validateExpiringDays(expiringDays);
  const now = deps.now();
  const changes = {
    events: JSON.stringify(eventList),
    expiringDays: JSON.stringify(days),
    configSealed: await sealSecret(deps.masterKey, utf8(JSON.stringify(config)), channelAad(current.row.id)),
    ...(linkOrigin ? { linkOrigin } : {}),
    updatedAt: now,
  };
  const changed = [...Object.keys(rest).filter((k) => rest[k] !== undefined), ...(events !== undefined ? ['events'] : []), ...(expiringDays !== undefined ? ['expiringDays'] : [])];
  await deps.db.batch([
    deps.db.db.update(notificationChannels).set(changes).where(eq(notificationChannels.id, current.row.id)),
    auditStatement(deps, who.actor, { action: 'notification-channel.update', object: { kind: 'notification-channel', name }, clientIp: who.clientIp, detail: { changed } }),
  ]);
  return openChannel(deps, { ...current.row, ...changes });
}

/** Removes a channel; its deliveries still waiting are marked failed (the log keeps them). */
export async function deleteChannel(deps: Deps, name: string, who: Who): Promise<void> {
  const row = await requireChannel(deps, name);
  const now = deps.now();
  await deps.db.batch([
    deps.db.db.delete(notificationChannels).where(eq(notificationChannels.id, row.id)),
    deps.db.db
      .update(notificationDeliveries)
      .set({ state: 'failed', lastError: 'the channel was removed before this was sent', nextAttemptAt: null, claimedUntil: null, updatedAt: now })
      .where(sql`${notificationDeliveries.channelId} = ${row.id} and ${notificationDeliveries.state} = 'pending'`),
    auditStatement(deps, who.actor, { action: 'notification-channel.delete', object: { kind: 'notification-channel', name }, clientIp: who.clientIp, detail: { type: row.type } }),
  ]);
  deps.log.info('notification channel removed', { channel: name });
}

/** Whether `channel` wants `event` (its type, and for expiry events the threshold). */
export function subscribes(channel: Pick<OpenChannel, 'events' | 'expiringDays'>, event: { type: string; data: Record<string, unknown> }): boolean {
  if (!channel.events.includes(event.type as EventType)) return false;
  if (event.type.endsWith('.expiring') && typeof event.data.threshold === 'number') return channel.expiringDays.includes(event.data.threshold);
  return true;
}
