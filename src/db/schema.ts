// One drizzle sqlite-core schema for both hosts: libSQL (node host) and D1 (Worker).
// Conventions: ids are random text (so a row's identity exists before it is written and can be
// bound into at-rest encryption), times are integer milliseconds since the epoch, JSON lives in
// text columns, booleans are integers 0/1.
import { sql } from 'drizzle-orm';
import { sqliteTable, text, integer, index, uniqueIndex, primaryKey } from 'drizzle-orm/sqlite-core';

const createdAt = () => integer('created_at').notNull();
const updatedAt = () => integer('updated_at').notNull();

export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  email: text('email').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  failedLogins: integer('failed_logins').notNull().default(0),
  lockedUntil: integer('locked_until'),
  /** TOTP secret (base32), sealed (aad `totp:<user id>`); null while 2FA is off. */
  totpSecretSealed: text('totp_secret_sealed'),
  /** The last TOTP time step accepted: a code is accepted once. */
  totpLastStep: integer('totp_last_step'),
  /** JSON array of SHA-256 hashes of the unused recovery codes. */
  recoveryCodes: text('recovery_codes'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/**
 * Sign-in sessions, stored server-side so that sign-out and a password change end them. The id
 * is the SHA-256 of the cookie's value; the cookie itself is never stored.
 */
export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    csrfToken: text('csrf_token').notNull(),
    createdAt: createdAt(),
    lastSeenAt: integer('last_seen_at').notNull(),
    /** When the password (and second factor) were last checked: sensitive changes need it recent. */
    authenticatedAt: integer('authenticated_at').notNull(),
  },
  (t) => [index('sessions_user').on(t.userId)],
);

/** Bearer tokens for the admin API; only the SHA-256 of the token is stored. */
export const adminTokens = sqliteTable('admin_tokens', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  tokenHash: text('token_hash').notNull().unique(),
  createdAt: createdAt(),
  lastUsedAt: integer('last_used_at'),
});

export const acmeAccounts = sqliteTable('acme_accounts', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  directoryUrl: text('directory_url').notNull(),
  email: text('email'),
  staging: integer('staging', { mode: 'boolean' }).notNull().default(false),
  termsOfServiceAgreed: integer('tos_agreed', { mode: 'boolean' }).notNull().default(false),
  /** The account's URL at the CA (the JWS `kid`); null until registered. */
  accountUrl: text('account_url'),
  status: text('status', { enum: ['pending', 'valid', 'deactivated'] }).notNull(),
  keyType: text('key_type').notNull(),
  /** PKCS#8 of the account key, sealed with the master key (aad `account:<id>`). */
  keySealed: text('key_sealed').notNull(),
  /**
   * During a key rollover: the new key, sealed, written before the CA is asked to switch, so a
   * crash between the CA's answer and our update cannot lose the account.
   */
  nextKeySealed: text('next_key_sealed'),
  eabKid: text('eab_kid'),
  /**
   * Pacing (optional): at most this many new orders in any hour, e.g. the CA's new-orders rate
   * limit, so a large import drains at the CA's pace. Null: no pacing.
   */
  maxOrdersPerHour: integer('max_orders_per_hour'),
  /** The CA asked to wait (rateLimited, or 429/503 with Retry-After): no new order before this. */
  pausedUntil: integer('paused_until'),
  /** The CA's problem document (JSON) that caused the pause. */
  pauseProblem: text('pause_problem'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const keys = sqliteTable('keys', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  type: text('type').notNull(),
  /** PKCS#8, sealed with the master key (aad `key:<id>`). */
  keySealed: text('key_sealed').notNull(),
  /** SHA-256 of the SubjectPublicKeyInfo, hex: identifies the key without revealing it. */
  spkiSha256: text('spki_sha256').notNull(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/**
 * Download API keys: two slots per key or certificate so one can be rotated while the other
 * keeps working. Only SHA-256 hashes are stored; the hash is unique so a presented key finds
 * at most one row.
 */
export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    ownerKind: text('owner_kind', { enum: ['key', 'certificate'] }).notNull(),
    ownerId: text('owner_id').notNull(),
    slot: integer('slot').notNull(),
    keyHash: text('key_hash').notNull().unique(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('api_keys_owner_slot').on(t.ownerKind, t.ownerId, t.slot)],
);

export const certificates = sqliteTable(
  'certificates',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull().unique(),
    /** JSON array of DNS names, first one is the subject. */
    domains: text('domains').notNull(),
    challenge: text('challenge', { enum: ['http-01', 'dns-01'] }).notNull(),
    accountId: text('account_id')
      .notNull()
      .references(() => acmeAccounts.id),
    keyId: text('key_id')
      .notNull()
      .references(() => keys.id),
    dnsProviderId: text('dns_provider_id'),
    preferredChain: text('preferred_chain'),
    profile: text('profile'),
    /** JSON of CSR subject fields {CN,O,OU,C,ST,L}, or null. */
    subject: text('subject'),
    /** `new` until first issued; see the status rules in domain/certificates.ts. */
    status: text('status', { enum: ['new', 'pending', 'valid', 'invalid', 'revoked'] }).notNull(),
    /** Full chain as the CA sent it (leaf first); what the download API serves. */
    pem: text('pem'),
    /** The key that matches the served certificate (may differ from keyId after a rotation). */
    servedKeyId: text('served_key_id'),
    serial: text('serial'),
    notBefore: integer('not_before'),
    notAfter: integer('not_after'),
    renewAt: integer('renew_at'),
    /** The CA's ARI window (RFC 9773) that renewAt was drawn from; null without ARI. */
    ariWindowStart: integer('ari_window_start'),
    ariWindowEnd: integer('ari_window_end'),
    /** When to ask the CA's renewalInfo again; null when the CA offers none. */
    ariCheckAt: integer('ari_check_at'),
    /** ACME problem document (JSON) of the last failed attempt, null after a success. */
    lastError: text('last_error'),
    failureCount: integer('failure_count').notNull().default(0),
    /** Earliest time the scheduler may try again (back-off); null = no constraint. */
    nextAttemptAt: integer('next_attempt_at'),
    /**
     * When the current run of failed attempts began (null while the last attempt succeeded): the
     * `certificate.renewal_failed` event fires at the first failure and then at most once a day
     * of the run (domain/notifications/certificate-events.ts).
     */
    failingSince: integer('failing_since'),
    /**
     * When the served certificate crosses its next expiry threshold (30, 14, 7, 3, 1 days left):
     * the tick looks at the certificates whose time has come (domain/notifications/expiry.ts).
     * Null: not looked at yet (a certificate served before this existed, or imported); -1: no
     * threshold left for the served certificate (expired, revoked).
     */
    expiryCheckAt: integer('expiry_check_at'),
    revokedAt: integer('revoked_at'),
    revocationReason: integer('revocation_reason'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('certificates_renew_at').on(t.renewAt),
    index('certificates_ari_check_at').on(t.ariCheckAt),
    // Lists (domain/certificate-list.ts): every sort and filter walks one of these in order, so a
    // page costs the same at 100 certificates as at 100,000.
    index('certificates_status_name').on(t.status, t.name),
    // (status last: the valid/expired/expiring filters and counts are answered from the index alone)
    index('certificates_expiry').on(t.notAfter, t.name, t.status),
    index('certificates_failing').on(t.name).where(sql`${t.lastError} is not null`),
    // The dashboard's most recent failures.
    index('certificates_failing_recent').on(t.updatedAt).where(sql`${t.lastError} is not null`),
    // Search by substring walks this narrow index instead of the rows (which carry the PEM).
    index('certificates_search').on(t.name, t.domains),
    // The download API's lookup by subject (the first of the names) when no certificate has the
    // name asked for, as Certera looked certificates up (http/download-api.ts).
    // (`->>`, not json_extract(…, …): drizzle-kit cuts an index expression at its commas.)
    index('certificates_subject').on(sql`${t.domains} ->> '$[0]'`),
    // The scheduler's due list and its next wake-up (jobs/scheduler.ts).
    index('certificates_unissued').on(t.createdAt).where(sql`${t.pem} is null`),
    index('certificates_next_attempt').on(t.nextAttemptAt).where(sql`${t.nextAttemptAt} is not null`),
    // The dashboard's expiry timeline: served certificates by expiry week, with everything that
    // decides whether their renewal is at risk, so that the index alone answers it
    // (domain/dashboard.ts). last_error is in it whole: null but for the few failing ones.
    index('certificates_timeline').on(t.status, t.notAfter, t.renewAt, t.notBefore, t.accountId, t.lastError),
    // What uses an account, a key or a DNS provider (their pages, and refusing a delete).
    index('certificates_account').on(t.accountId, t.name),
    index('certificates_key').on(t.keyId, t.name),
    index('certificates_served_key').on(t.servedKeyId),
    index('certificates_dns_provider').on(t.dnsProviderId, t.name),
    // Expiry thresholds: the certificates whose next threshold has come, and those never looked at.
    index('certificates_expiry_check').on(t.expiryCheckAt),
    index('certificates_expiry_unchecked').on(t.id).where(sql`${t.expiryCheckAt} is null and ${t.pem} is not null`),
  ],
);

/**
 * ACME orders: the persisted issuance state machine and the certificate's history. Each step is
 * written before the next network call; see domain/orders.ts for the states.
 */
export const orders = sqliteTable(
  'orders',
  {
    id: text('id').primaryKey(),
    certificateId: text('certificate_id')
      .notNull()
      .references(() => certificates.id),
    accountId: text('account_id').notNull(),
    keyId: text('key_id').notNull(),
    state: text('state').notNull(),
    reason: text('reason').notNull(),
    /** JSON array of the DNS names ordered. */
    domains: text('domains').notNull(),
    orderUrl: text('order_url'),
    finalizeUrl: text('finalize_url'),
    /** JSON array of authorization URLs. */
    authorizations: text('authorizations'),
    certificateUrl: text('certificate_url'),
    /** ARI certificate identifier of the certificate this order renews (RFC 9773 §5). */
    replaces: text('replaces'),
    serial: text('serial'),
    notBefore: integer('not_before'),
    notAfter: integer('not_after'),
    thumbprint: text('thumbprint'),
    error: text('error'),
    attempts: integer('attempts').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    index('orders_certificate').on(t.certificateId, t.createdAt),
    index('orders_state').on(t.state),
    // Unfinished orders: the scheduler resumes them (jobs/scheduler.ts).
    index('orders_open').on(t.certificateId).where(sql`${t.finishedAt} is null`),
    // Orders an account placed in the last hour (pacing, maxOrdersPerHour).
    index('orders_account_created').on(t.accountId, t.createdAt),
    // Which of the CA's order URLs are recorded here (an order lost in a crash is looked up).
    index('orders_url').on(t.orderUrl),
  ],
);

/** What happened during an order, in order: shown in the history and the admin API. */
export const orderEvents = sqliteTable(
  'order_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    orderId: text('order_id').notNull(),
    at: integer('at').notNull(),
    level: text('level', { enum: ['info', 'warn', 'error'] }).notNull(),
    message: text('message').notNull(),
  },
  (t) => [index('order_events_order').on(t.orderId, t.id)],
);

/** http-01 (and dns-01) challenge material, alive only while its order runs. */
export const challenges = sqliteTable(
  'challenges',
  {
    token: text('token').primaryKey(),
    orderId: text('order_id').notNull(),
    type: text('type').notNull(),
    domain: text('domain').notNull(),
    keyAuthorization: text('key_authorization').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('challenges_order').on(t.orderId)],
);

export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: updatedAt(),
});

/** dns-01 providers. The whole configuration is sealed: most types carry a secret. */
export const dnsProviders = sqliteTable('dns_providers', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  type: text('type').notNull(),
  /** JSON of the type's configuration, sealed with the master key (aad `dns-provider:<id>`). */
  configSealed: text('config_sealed').notNull(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** acme-dns accounts, one per validated name and provider (the name's CNAME points at `fulldomain`). */
export const acmeDnsRegistrations = sqliteTable(
  'acme_dns_registrations',
  {
    id: text('id').primaryKey(),
    providerId: text('provider_id').notNull(),
    name: text('name').notNull(),
    fulldomain: text('fulldomain').notNull(),
    /** JSON {username,password,subdomain}, sealed (aad `acme-dns:<id>`). */
    credentialsSealed: text('credentials_sealed').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('acme_dns_provider_name').on(t.providerId, t.name)],
);

/** Leases so that two hosts on one database never run the same work. */
export const leases = sqliteTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  expiresAt: integer('expires_at').notNull(),
});

/**
 * Failed attempts per client address and purpose (`sign-in:<address>`, `api-key:…`,
 * `admin-token:…`) in the current window, counted with one atomic upsert so that a limit holds
 * across node hosts on one database and across Worker isolates. A row outlives its window only
 * until the scheduler's next purge (domain/throttle.ts).
 */
export const rateLimits = sqliteTable(
  'rate_limits',
  {
    key: text('key').primaryKey(),
    hits: integer('hits').notNull(),
    /** When the window ends: the count starts again from the next attempt on. */
    resetAt: integer('reset_at').notNull(),
  },
  (t) => [index('rate_limits_reset_at').on(t.resetAt)],
);

/**
 * Consumers (SPEC §4.5, §4.8): the servers that use a certificate, one row per certificate, API
 * key slot and client address, upserted (never one row per request). The download side fills
 * `fetched*`; the agent's report (POST /api/agent/report) fills the rest.
 */
export const consumers = sqliteTable(
  'consumers',
  {
    id: text('id').primaryKey(),
    certificateId: text('certificate_id')
      .notNull()
      .references(() => certificates.id),
    /** The certificate API key slot (1 or 2) the consumer authenticates with. */
    apiKeySlot: integer('api_key_slot').notNull(),
    clientIp: text('client_ip').notNull(),
    /** The serial last downloaded, and when. */
    fetchedSerial: text('fetched_serial'),
    fetchedAt: integer('fetched_at'),
    /** The serial the agent last reported as installed, and when. */
    installedSerial: text('installed_serial'),
    installedAt: integer('installed_at'),
    /** The last report: its serial, whether it installed it, the reload outcome, the TLS check. */
    reportedSerial: text('reported_serial'),
    reportedAt: integer('reported_at'),
    installed: integer('installed', { mode: 'boolean' }),
    reload: text('reload', { enum: ['ok', 'failed', 'skipped'] }),
    /** null: no `verify` target configured. */
    verified: integer('verified', { mode: 'boolean' }),
    host: text('host'),
    agentVersion: text('agent_version'),
    /**
     * When the certificate's current serial was stored (its renewal) while this consumer had not
     * fetched or installed it yet; null once it has (or while no renewal happened since it came).
     * A consumer is stale once this is `staleHours` old (domain/consumers.ts).
     */
    behindSince: integer('behind_since'),
    /** The serial `consumer.stale` was raised for (once per consumer and serial); null again after a renewal or once caught up. */
    staleSerial: text('stale_serial'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('consumers_certificate_slot_ip').on(t.certificateId, t.apiKeySlot, t.clientIp),
    // Behind the current serial, oldest first: the stale list, its count on the dashboard.
    index('consumers_behind').on(t.behindSince, t.id).where(sql`${t.behindSince} is not null`),
    // Behind and not yet told (consumer.stale): what the scheduler's tick looks at.
    index('consumers_stale_due').on(t.behindSince).where(sql`${t.behindSince} is not null and ${t.staleSerial} is null`),
    // The last agent report says the install failed: the failed-installs list, newest first.
    index('consumers_failed').on(t.reportedAt, t.id).where(sql`${t.installed} = 0 or ${t.reload} = 'failed' or ${t.verified} = 0`),
    // Every consumer, newest first (the whole list).
    index('consumers_seen').on(t.createdAt, t.id),
  ],
);

/**
 * Domain events (SPEC §4.3): what happened that someone may want to hear of, written in the same
 * batch as the change that caused it (an outbox), so that no change is without its event and no
 * event without its change. `dedupe_key` makes an event happen once (an insert of a key already
 * there does nothing): `certificate.expiring:<certificate id>:<serial>:7`. Notifications
 * (domain/notifications) turn each event into one delivery per subscribed channel.
 */
export const events = sqliteTable(
  'events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    type: text('type').notNull(),
    dedupeKey: text('dedupe_key').notNull().unique(),
    /** What the event is about: `certificate`, `tracking`, `consumer`, `channel`. */
    subjectKind: text('subject_kind').notNull(),
    subjectId: text('subject_id'),
    /** Its name as people know it (a certificate's name, a tracked URL). */
    subjectName: text('subject_name').notNull(),
    /** One line in words: a mail's subject, a chat message's first line. */
    title: text('title').notNull(),
    /** The message in words. */
    body: text('body').notNull(),
    /** Path of the page about it (`/certificates/www`); senders make it absolute. */
    link: text('link'),
    /** JSON object: the facts, for webhooks. */
    data: text('data').notNull(),
    createdAt: createdAt(),
    /** When its deliveries were made (one per subscribed channel); null until then. */
    dispatchedAt: integer('dispatched_at'),
  },
  (t) => [index('events_undispatched').on(t.id).where(sql`${t.dispatchedAt} is null`), index('events_subject').on(t.subjectKind, t.subjectId, t.id)],
);

/**
 * The audit log (SPEC §4.4): who did what to which object, from where, with what outcome.
 * Written in the same batch as the change it records (domain/audit.ts): an action whose record
 * cannot be written is not carried out.
 *
 * Downloads are aggregated (domain/download-audit.ts): one row per certificate or key, API key
 * slot, client address, outcome and hour (`aggregate_key`), whose `count` grows while it is not
 * sealed. Sealing (domain/audit-chain.ts) chains the records after commit: `seq` is the record's
 * place in the chain and `hash` an HMAC (under a key derived from the master key) of the previous
 * record's hash and this record, so that an edited, removed or inserted record is found.
 */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    /** `user` (signed in to the pages), `token` (admin API), `api-key` (download API), `cli`, `system`. */
    actorKind: text('actor_kind').notNull(),
    /** The user's, token's or API key owner's id; null for the CLI and the system. */
    actorId: text('actor_id'),
    /** As people know it: an email, a token's name, `certificate www, API key 1`, `certkeep CLI`. */
    actorName: text('actor_name').notNull(),
    /** `certificate.create`, `key.download`, … */
    action: text('action').notNull(),
    objectKind: text('object_kind'),
    objectName: text('object_name'),
    clientIp: text('client_ip'),
    outcome: text('outcome', { enum: ['ok', 'refused', 'failed'] }).notNull(),
    /** JSON object of further facts (never a secret), or null. */
    detail: text('detail'),
    /** How many times it happened: 1, or the downloads an aggregated record stands for. */
    count: integer('count').notNull().default(1),
    /** Aggregated downloads: when the last one counted happened (`at` is the first). */
    lastAt: integer('last_at'),
    /** Aggregated downloads: `<hour>|<kind>|<object>|<owner>|<slot>|<address>|<outcome>`; null for other records. */
    aggregateKey: text('aggregate_key'),
    /** The record's place in the chain, from 1; null until it is sealed. */
    seq: integer('seq'),
    /** HMAC-SHA-256 (hex) of the previous record's hash and this record; null until sealed. */
    hash: text('hash'),
  },
  (t) => [
    // The list, newest first (`at`, then id), and each of its filters along its own index.
    index('audit_log_at').on(t.at),
    index('audit_log_action').on(t.action, t.at),
    index('audit_log_actor_name').on(t.actorName, t.at),
    index('audit_log_object_name').on(t.objectName, t.at),
    index('audit_log_outcome').on(t.outcome, t.at),
    // The chain: its head, the records to seal (in id order; downloads once their hour ended), the purge.
    uniqueIndex('audit_log_seq').on(t.seq),
    index('audit_log_unsealed').on(t.id).where(sql`${t.seq} is null and ${t.aggregateKey} is null`),
    index('audit_log_unsealed_downloads').on(t.at).where(sql`${t.seq} is null and ${t.aggregateKey} is not null`),
    // One open (unsealed) row per aggregate: downloads add to it until it is sealed.
    uniqueIndex('audit_log_aggregate').on(t.aggregateKey).where(sql`${t.seq} is null`),
  ],
);

/**
 * Notification channels (SPEC §4.3): where events are sent (email, Slack, Teams, Discord, ntfy, a
 * signed webhook) and which events each wants. The type's settings — recipients, URLs (a chat
 * webhook's URL is its credential), tokens and HMAC secrets — are sealed as one JSON object under
 * the master key (aad `notification-channel:<id>`), like DNS providers.
 */
export const notificationChannels = sqliteTable('notification_channels', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  type: text('type').notNull(),
  /** JSON array of the event types it subscribes to. */
  events: text('events').notNull(),
  /** JSON array of the expiry thresholds (days) it wants of `*.expiring`; a subset of 30, 14, 7, 3, 1. */
  expiringDays: text('expiring_days').notNull(),
  /** JSON of the type's settings, sealed (aad `notification-channel:<id>`). */
  configSealed: text('config_sealed').notNull(),
  /**
   * The address the admin reached Certkeep by when the channel was saved: messages link there
   * when no site hostname is set (a Worker, a node host reached through a tunnel).
   */
  linkOrigin: text('link_origin'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/**
 * Deliveries (the outbox's second half): one per event and subscribed channel, made when the
 * event is dispatched, sent at least once, retried with back-off, then `sent` or `failed`. A
 * sender claims a delivery with one conditional UPDATE (`claimed_until`), so two hosts never send
 * the same one at the same time; a claim that outlives its host (kill -9) runs out and the
 * delivery is sent again. Channel and event are copied in so that the log stays readable after a
 * channel is removed.
 */
export const notificationDeliveries = sqliteTable(
  'notification_deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    eventId: integer('event_id').notNull(),
    eventType: text('event_type').notNull(),
    channelId: text('channel_id').notNull(),
    channelName: text('channel_name').notNull(),
    channelType: text('channel_type').notNull(),
    state: text('state', { enum: ['pending', 'sent', 'failed'] }).notNull(),
    /** Attempts started (a claim counts as one: an attempt cut off by a crash is one). */
    attempts: integer('attempts').notNull().default(0),
    /** When a pending delivery may be tried (again). */
    nextAttemptAt: integer('next_attempt_at'),
    claimedUntil: integer('claimed_until'),
    claimedBy: text('claimed_by'),
    /** Why the last attempt failed, in words (a status and a short redacted excerpt, an SMTP error). */
    lastError: text('last_error'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    sentAt: integer('sent_at'),
  },
  (t) => [
    uniqueIndex('notification_deliveries_event_channel').on(t.eventId, t.channelId),
    // What is due to be sent, in order (state 'pending', next attempt reached).
    index('notification_deliveries_due').on(t.state, t.nextAttemptAt),
    // The delivery log, newest first, and its filters.
    index('notification_deliveries_state').on(t.state, t.id),
    index('notification_deliveries_channel').on(t.channelName, t.id),
    index('notification_deliveries_event_type').on(t.eventType, t.id),
  ],
);

/**
 * Tracking (SPEC §4.2, domain/tracking): certificates seen on servers (`url`: a TLS endpoint the
 * node host scans), uploaded public certificates (`upload`), and the certificates Certkeep serves
 * (`issued`, one row per issued certificate, kept in step with `certificates` in the same batches).
 * The columns after `certificate_id` describe the certificate the target presents now (null until
 * a first successful scan). Sort keys are stored so that every list order walks an index.
 */
export const trackingTargets = sqliteTable(
  'tracking_targets',
  {
    id: text('id').primaryKey(),
    source: text('source', { enum: ['url', 'upload', 'issued'] }).notNull(),
    /** url: `host:port` (`[v6]:port`), as shown. */
    target: text('target'),
    /** url: what makes a target unique: `<tls|smtp|imap|pop3> host:port`. */
    targetKey: text('target_key'),
    /** url: a lower-case DNS name or an IP address (no brackets). */
    host: text('host'),
    /** url: the host without its first label, where a wildcard name (`*.example.com`) meets it. */
    hostParent: text('host_parent'),
    port: integer('port'),
    starttls: text('starttls', { enum: ['smtp', 'imap', 'pop3'] }),
    /** issued: the certificate it stands for. */
    certificateId: text('certificate_id'),
    subject: text('subject'),
    /** JSON array of the DNS names and IP addresses of the subjectAltName. */
    sans: text('sans'),
    issuer: text('issuer'),
    serial: text('serial'),
    /** Hex SHA-256 of the leaf's DER. */
    sha256: text('sha256'),
    notBefore: integer('not_before'),
    notAfter: integer('not_after'),
    /** The leaf and the chain as presented (url), uploaded or served (issued), PEM. */
    chainPem: text('chain_pem'),
    /** url: whether the chain verifies to a trusted root; null when not checked. */
    chainValid: integer('chain_valid', { mode: 'boolean' }),
    /** url: why it does not, as the TLS library says (`SELF_SIGNED_CERT_IN_CHAIN`). */
    chainError: text('chain_error'),
    /** url: whether the leaf is valid for the host (RFC 6125); null when not checked. */
    nameMatches: integer('name_matches', { mode: 'boolean' }),
    lastScanAt: integer('last_scan_at'),
    /** url: why the last scan failed, in words; null after a successful one. */
    lastError: text('last_error'),
    /** When what it presents last changed (its first certificate counts). */
    changedAt: integer('changed_at'),
    /** url: when the next periodic scan is due. */
    nextScanAt: integer('next_scan_at'),
    /** The current problems, comma-separated (`unreachable,untrusted,name-mismatch`), or null. */
    problems: text('problems'),
    /** When each current problem began: JSON object kind → ms (an event once per start). */
    problemSince: text('problem_since'),
    /** 0 while there is a problem, 1 otherwise: the `problems` sort and filter walk it first. */
    problemRank: integer('problem_rank').notNull().default(1),
    /** notAfter, or a time beyond every certificate while unknown: the expiry sorts' key. */
    expiryKey: integer('expiry_key').notNull(),
    /** Lower-case subject ('' while unknown): the subject sorts' key. */
    subjectKey: text('subject_key').notNull(),
    /** url and upload: when the next expiry notice (30, 14, 7, 3, 1 days) is due; null: none. */
    expiryNoticeAt: integer('expiry_notice_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('tracking_target_key').on(t.targetKey),
    uniqueIndex('tracking_certificate').on(t.certificateId),
    index('tracking_sha256').on(t.sha256, t.source),
    index('tracking_expiry').on(t.expiryKey, t.id),
    index('tracking_subject').on(t.subjectKey, t.id),
    index('tracking_source').on(t.source, t.subjectKey, t.id),
    index('tracking_problems').on(t.problemRank, t.expiryKey, t.id),
    index('tracking_next_scan').on(t.nextScanAt).where(sql`${t.nextScanAt} is not null`),
    index('tracking_expiry_notice').on(t.expiryNoticeAt).where(sql`${t.expiryNoticeAt} is not null`),
    index('tracking_host').on(t.host),
    index('tracking_host_parent').on(t.hostParent),
    // Search by substring walks this narrow index instead of the rows (which carry the chain).
    index('tracking_search').on(t.subjectKey, t.target, t.sans),
  ],
);

/** What each tracked target presented, one row per change, the last few per target (domain/tracking). */
export const trackingHistory = sqliteTable(
  'tracking_history',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    targetId: text('target_id').notNull(),
    sha256: text('sha256').notNull(),
    serial: text('serial').notNull(),
    subject: text('subject').notNull(),
    issuer: text('issuer').notNull(),
    notAfter: integer('not_after').notNull(),
    /** When it was first seen presented. */
    seenAt: integer('seen_at').notNull(),
  },
  (t) => [index('tracking_history_target').on(t.targetId, t.id)],
);

/**
 * Certkeep's own CAs: the top certificate of each chain it obtained, trusted (beside the system's
 * roots) when a tracked server's chain is verified. One row per distinct certificate.
 */
export const trackingAnchors = sqliteTable('tracking_anchors', {
  sha256: text('sha256').primaryKey(),
  subject: text('subject').notNull(),
  pem: text('pem').notNull(),
  createdAt: createdAt(),
});

/**
 * Counters for /metrics (src/metrics): one row per series, `value` raised by one upsert in the
 * same batch as what it counts (an order's end, a failed attempt), so that a counter survives
 * restarts, is the same on every host sharing the database, never goes down when the rows it
 * counted are deleted, and a scrape reads a few rows instead of counting history.
 */
export const metricCounters = sqliteTable(
  'metric_counters',
  {
    /** The metric's name: `certkeep_orders_total`. */
    name: text('name').notNull(),
    /** The series' labels as JSON with its keys sorted: `{"outcome":"issued","reason":"new"}`. */
    labels: text('labels').notNull(),
    value: integer('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.labels] })],
);
