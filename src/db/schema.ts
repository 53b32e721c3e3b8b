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
    // The scheduler's due list and its next wake-up (jobs/scheduler.ts).
    index('certificates_unissued').on(t.createdAt).where(sql`${t.pem} is null`),
    index('certificates_next_attempt').on(t.nextAttemptAt).where(sql`${t.nextAttemptAt} is not null`),
    // What uses an account, a key or a DNS provider (their pages, and refusing a delete).
    index('certificates_account').on(t.accountId, t.name),
    index('certificates_key').on(t.keyId, t.name),
    index('certificates_served_key').on(t.servedKeyId),
    index('certificates_dns_provider').on(t.dnsProviderId, t.name),
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
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('consumers_certificate_slot_ip').on(t.certificateId, t.apiKeySlot, t.clientIp)],
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
  },
  (t) => [index('audit_log_at').on(t.at), index('audit_log_object').on(t.objectKind, t.objectName, t.id), index('audit_log_actor').on(t.actorKind, t.actorId, t.id)],
);

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
