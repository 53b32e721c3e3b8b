// Consumers (SPEC §4.5, §4.8): the servers that use a certificate, one row per certificate, API
// key slot and client address. The download side records what a consumer fetched; the agent's
// report records what it installed, whether the reload worked and whether the server now
// presents it. Rows are upserted with one statement, so a report is recorded whole or not at all
// (D1 has no interactive transactions).
//
// Downloads are the hot path, and on the node host they are answered from memory for as long as
// the database is unchanged (http/download-cache.ts): a write per download would empty that
// memory at every request. So a download writes its consumer only when what it fetched changed
// (a new serial, or a consumer seen for the first time) or when the row's `fetchedAt` is older
// than FETCH_REFRESH_MS, and each host remembers (bounded) what it recorded last, so that a
// repeated download costs no statement at all. A key download (/api/key) records nothing: a key
// has no serial, its API keys are not the certificate's, and the certificate download beside it
// (or a PFX, which holds the key) already says what the server has.
//
// Staleness: a renewal marks every consumer of the certificate behind (`behindSince`, in the
// batch that stores the new certificate); fetching or installing the current serial clears it.
// A consumer behind for `staleHours` (app setting, default 24) is stale; the scheduler's tick
// finds those along an index and raises `consumer.stale` once per consumer and serial. A report
// of a failed install raises `consumer.install_failed`, once per consumer and serial, in the
// batch that records it.
import { and, asc, desc, eq, gt, isNotNull, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import type { Statement } from '../db/client.ts';
import { CertkeepError } from '../errors.ts';
import { certificates, consumers, orders } from '../db/schema.ts';
import { tryAcquireLease } from '../db/lease.ts';
import type { CertificateRow } from './certificates.ts';
import { newId } from './secrets.ts';
import { eventStatement, eventsWritten, type NewEvent } from './events.ts';
import { DEFAULT_STALE_HOURS, STALE_HOURS_MAX, STALE_HOURS_MIN, getSettings, settingStatement } from './settings.ts';
import { audit, type By } from './audit.ts';
import { badCursor, decodeCursor, pageOf, parseListQuery, type ListQuery, type Page } from './paging.ts';

const HOUR = 3_600_000;

export type ConsumerRow = typeof consumers.$inferSelect;
export type ReloadOutcome = 'ok' | 'failed' | 'skipped';
export const RELOAD_OUTCOMES: readonly ReloadOutcome[] = ['ok', 'failed', 'skipped'];

/** What the agent says after a run (SPEC §4.8), validated. */
export interface AgentReport {
  serial: string;
  installed: boolean;
  reload: ReloadOutcome;
  /** null: the block has no `verify` target. */
  verified: boolean | null;
  host: string | null;
  agentVersion: string | null;
}

/**
 * How many earlier serials of a certificate a report may still name besides the current one: a
 * renewal can land between an agent's download and its report.
 */
export const RECENT_SERIALS = 3;

/**
 * A serial as Certkeep stores it: lower-case hex without separators or leading zeros (openssl
 * prints `serial=0A1B…` in upper case, often with a leading zero). Null when it is not hex.
 */
export function normalizeSerial(text: string): string | null {
  const hex = text.trim().replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(hex)) return null;
  return hex.replace(/^0+(?=.)/, '');
}

/** The certificate's current serial or one of its RECENT_SERIALS latest earlier ones. */
export async function isKnownSerial(deps: Deps, cert: CertificateRow, serial: string): Promise<boolean> {
  if (cert.serial !== null && cert.serial === serial) return true;
  const recent = await deps.db.db
    .select({ serial: orders.serial })
    .from(orders)
    .where(and(eq(orders.certificateId, cert.id), isNotNull(orders.serial)))
    .orderBy(desc(orders.createdAt))
    .limit(RECENT_SERIALS + 1);
  return recent.some((r) => r.serial === serial);
}

/** What a report changed: for whatever reacts to it (the consumer.stale and install-failure notifications). */
export interface ReportOutcome {
  consumer: ConsumerRow;
  /** The consumer's row before the report; undefined for a consumer seen for the first time. */
  previous: ConsumerRow | undefined;
  /** The consumer now has a serial installed that it did not have before. */
  newlyInstalled: boolean;
  /** The agent could not install the serial, or its reload failed (files put back), or the TLS check did not see it. */
  failed: boolean;
  /** The serial installed is the certificate's current one. */
  current: boolean;
}

/**
 * Records an agent's report for the consumer (certificate, API key slot, client address):
 * refused — and nothing written — when the serial is not the certificate's current or a recent
 * one. `installedSerial` moves only when the report says the serial was installed.
 */
export async function recordAgentReport(
  deps: Deps,
  input: { certificate: CertificateRow; slot: number; clientIp: string; report: AgentReport },
): Promise<ReportOutcome> {
  const { certificate: cert, slot, clientIp, report } = input;
  if (!(await isKnownSerial(deps, cert, report.serial))) {
    throw new CertkeepError('BAD_REQUEST', `serial: ${report.serial} is not a serial of certificate "${cert.name}" (neither the current one nor a recent one)`, {
      field: 'serial',
    });
  }
  const where = and(eq(consumers.certificateId, cert.id), eq(consumers.apiKeySlot, slot), eq(consumers.clientIp, clientIp));
  const [previous] = await deps.db.db.select().from(consumers).where(where).limit(1);
  const now = deps.now();
  const reported = {
    reportedSerial: report.serial,
    reportedAt: now,
    installed: report.installed,
    reload: report.reload,
    verified: report.verified,
    host: report.host,
    agentVersion: report.agentVersion,
    updatedAt: now,
    ...(report.installed ? { installedSerial: report.serial, installedAt: now } : {}),
  };
  // Installing the current serial is having it: the consumer is no longer behind.
  const caughtUp = report.installed && cert.serial !== null && report.serial === cert.serial ? { behindSince: null, staleSerial: null } : {};
  const failed = !report.installed || report.reload === 'failed' || report.verified === false;
  const upsert = deps.db.db
    .insert(consumers)
    .values({ id: newId(), certificateId: cert.id, apiKeySlot: slot, clientIp, createdAt: now, ...reported, ...caughtUp })
    .onConflictDoUpdate({ target: [consumers.certificateId, consumers.apiKeySlot, consumers.clientIp], set: { ...reported, ...caughtUp } })
    .returning();
  const statements: Statement[] = [upsert];
  if (failed) statements.push(eventStatement(deps, installFailedEvent(cert, slot, clientIp, report, previous?.id ?? null)));
  const [rows] = (await deps.db.batch(statements)) as [ConsumerRow[]];
  const consumer = rows[0];
  if (failed) eventsWritten(deps);
  deps.log.info('agent report', {
    certificate: cert.name,
    slot,
    clientIp,
    serial: report.serial,
    installed: report.installed,
    reload: report.reload,
    verified: report.verified,
  });
  return {
    consumer,
    previous,
    newlyInstalled: report.installed && previous?.installedSerial !== report.serial,
    failed,
    current: consumer.installedSerial !== null && consumer.installedSerial === cert.serial,
  };
}

/** Where a page of consumers starts: after this (slot, address), in the unique index's order. */
export interface ConsumerCursor {
  slot: number;
  clientIp: string;
}

/** One page of a certificate's consumers, ordered by API key slot and address (the unique index). */
export async function listConsumers(deps: Deps, certificateId: string, opts: { limit: number; after?: ConsumerCursor }): Promise<{ rows: ConsumerRow[]; next: ConsumerCursor | null }> {
  const after = opts.after;
  const rows = await deps.db.db
    .select()
    .from(consumers)
    .where(
      and(
        eq(consumers.certificateId, certificateId),
        after ? or(gt(consumers.apiKeySlot, after.slot), and(eq(consumers.apiKeySlot, after.slot), gt(consumers.clientIp, after.clientIp))) : undefined,
      ),
    )
    .orderBy(asc(consumers.apiKeySlot), asc(consumers.clientIp))
    .limit(opts.limit + 1);
  const more = rows.length > opts.limit;
  const page = more ? rows.slice(0, opts.limit) : rows;
  const last = page[page.length - 1];
  return { rows: page, next: more && last ? { slot: last.apiKeySlot, clientIp: last.clientIp } : null };
}

/** Statement that removes a certificate's consumers (run in the batch that deletes the certificate). */
export function deleteConsumersOf(deps: Deps, certificateId: string) {
  return deps.db.db.delete(consumers).where(eq(consumers.certificateId, certificateId));
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** What decides whether a consumer is stale: the time now and the `staleHours` setting. */
export interface StaleRule {
  now: number;
  staleHours: number;
}

/** Whether a consumer has been behind the current serial for `staleHours` or more. */
export function isStale(row: Pick<ConsumerRow, 'behindSince'>, rule: StaleRule): boolean {
  return row.behindSince !== null && row.behindSince <= rule.now - rule.staleHours * HOUR;
}

/**
 * A consumer as the API shows it. `behind`: it has fetched or installed something, but not the
 * certificate's current serial. `behindSince`: when the certificate was renewed while this
 * consumer had not fetched the new serial; `stale`: that was `staleHours` ago or more.
 */
export function consumerView(row: ConsumerRow, currentSerial: string | null, rule: StaleRule) {
  const latest = row.installedSerial ?? row.fetchedSerial;
  return {
    apiKeySlot: row.apiKeySlot,
    address: row.clientIp,
    host: row.host,
    agentVersion: row.agentVersion,
    fetchedSerial: row.fetchedSerial,
    fetchedAt: iso(row.fetchedAt),
    installedSerial: row.installedSerial,
    installedAt: iso(row.installedAt),
    reload: row.reload,
    verified: row.verified,
    reportedSerial: row.reportedSerial,
    reportedAt: iso(row.reportedAt),
    installed: row.installed,
    behind: currentSerial !== null && latest !== null && latest !== currentSerial,
    behindSince: iso(row.behindSince),
    stale: isStale(row, rule),
    firstSeenAt: iso(row.createdAt),
  };
}

export type ConsumerView = ReturnType<typeof consumerView>;

// ---- who a consumer is, in words -----------------------------------------------------------------

/** `web1 (192.0.2.10, API key 1)` or `192.0.2.10 (API key 1)`. */
function consumerWords(address: string, slot: number, host: string | null): string {
  return host ? `${host} (${address}, API key ${slot})` : `${address} (API key ${slot})`;
}

const consumersLink = (certificateName: string) => `/certificates/${encodeURIComponent(certificateName)}#consumers`;

/** The event key of a consumer and serial: the same consumer row whoever wrote it first. */
const consumerKey = (certificateId: string, slot: number, clientIp: string, serial: string) => `${certificateId}:${slot}:${clientIp}:${serial}`;

function installFailedEvent(cert: CertificateRow, slot: number, clientIp: string, report: AgentReport, consumerId: string | null): NewEvent {
  const who = consumerWords(clientIp, slot, report.host);
  const why =
    report.reload === 'failed'
      ? 'the reload command failed; the agent put the previous files back and reloaded with them'
      : report.verified === false
        ? 'after the reload the server did not present the new serial; the agent put the previous files back'
        : 'the agent did not install it (the certificate or key failed its checks, or the files could not be written); its output on that server says why';
  return {
    type: 'consumer.install_failed',
    dedupeKey: `consumer.install_failed:${consumerKey(cert.id, slot, clientIp, report.serial)}`,
    subject: { kind: 'consumer', id: consumerId, name: `${cert.name} on ${report.host ?? clientIp}` },
    title: `Installing ${cert.name} failed on ${report.host ?? clientIp}`,
    body: `The Certkeep agent on ${who} could not install certificate ${cert.name} (serial ${report.serial}): ${why}. The server still uses what it had before.`,
    link: consumersLink(cert.name),
    data: {
      certificate: cert.name,
      serial: report.serial,
      address: clientIp,
      apiKeySlot: slot,
      host: report.host,
      installed: report.installed,
      reload: report.reload,
      verified: report.verified,
      agentVersion: report.agentVersion,
    },
  };
}

// ---- downloads ------------------------------------------------------------------------------------

/** While a consumer keeps fetching the same serial, its row is written again at most this often. */
export const FETCH_REFRESH_MS = HOUR;
/** Consumers each host remembers as recorded: a bound on memory (about 200 bytes each). */
export const MAX_REMEMBERED_CONSUMERS = 10_000;

interface Remembered {
  serial: string;
  at: number;
}

const rememberedByDeps = new WeakMap<Deps, Map<string, Remembered>>();

function rememberedOf(deps: Deps): Map<string, Remembered> {
  let map = rememberedByDeps.get(deps);
  if (!map) rememberedByDeps.set(deps, (map = new Map()));
  return map;
}

/** Remembers, evicting the least recently recorded consumer when full (a Map keeps insertion order). */
function remember(map: Map<string, Remembered>, key: string, value: Remembered): void {
  map.delete(key);
  if (map.size >= MAX_REMEMBERED_CONSUMERS) map.delete(map.keys().next().value!);
  map.set(key, value);
}

/** What recording a download did: nothing (remembered here), one statement that changed nothing, or a write. */
export type DownloadRecord = 'remembered' | 'unchanged' | 'written';

/**
 * Records that a consumer (certificate, API key slot, address) fetched `serial` now — a 200 or
 * a 304 for the current certificate. Writes only when the consumer is new, fetched another
 * serial, or was last written FETCH_REFRESH_MS ago; a consumer this host recorded lately costs
 * no statement. The upsert is conditional, so hosts sharing a database do not write one
 * consumer twice in a row either. Fetching the certificate's current serial clears `behindSince`.
 */
export async function recordDownload(deps: Deps, d: { certificateId: string; slot: number; clientIp: string; serial: string }): Promise<DownloadRecord> {
  const key = `${d.certificateId}\n${d.slot}\n${d.clientIp}`;
  const memory = rememberedOf(deps);
  const now = deps.now();
  const last = memory.get(key);
  if (last && last.serial === d.serial && now - last.at < FETCH_REFRESH_MS) return 'remembered';
  // Remembered before the write: downloads of this consumer arriving meanwhile do not write too.
  const mine: Remembered = { serial: d.serial, at: now };
  remember(memory, key, mine);
  const current = sql`(select ${certificates.serial} from ${certificates} where ${certificates.id} = excluded.certificate_id)`;
  const caughtUp = sql`excluded.fetched_serial = ${current}`;
  try {
    const rows = await deps.db.db
      .insert(consumers)
      .values({ id: newId(), certificateId: d.certificateId, apiKeySlot: d.slot, clientIp: d.clientIp, fetchedSerial: d.serial, fetchedAt: now, createdAt: now, updatedAt: now })
      .onConflictDoUpdate({
        target: [consumers.certificateId, consumers.apiKeySlot, consumers.clientIp],
        set: {
          fetchedSerial: sql`excluded.fetched_serial`,
          fetchedAt: sql`excluded.fetched_at`,
          updatedAt: sql`excluded.updated_at`,
          behindSince: sql`case when ${caughtUp} then null else ${consumers.behindSince} end`,
          staleSerial: sql`case when ${caughtUp} then null else ${consumers.staleSerial} end`,
        },
        setWhere: sql`${consumers.fetchedSerial} is not excluded.fetched_serial or ${consumers.fetchedAt} is null or ${consumers.fetchedAt} <= ${now - FETCH_REFRESH_MS}`,
      })
      .returning({ id: consumers.id });
    return rows.length > 0 ? 'written' : 'unchanged';
  } catch (err) {
    if (memory.get(key) === mine) memory.delete(key);
    throw err;
  }
}

/** Forgets what this host recorded (tests; a host that wants every consumer written again). */
export function forgetRecordedDownloads(deps: Deps): void {
  rememberedByDeps.delete(deps);
}

// ---- staleness ------------------------------------------------------------------------------------

/**
 * The statement, for the batch that stores a renewed certificate, that marks its consumers
 * behind from `at` on: none of them has the new serial yet. One statement whatever their number.
 */
export function markConsumersBehind(deps: Deps, certificateId: string, at: number): Statement {
  return deps.db.db.update(consumers).set({ behindSince: at, staleSerial: null }).where(eq(consumers.certificateId, certificateId));
}

/** Stale consumers told of per tick (each is one event): a tick stays bounded. */
export const STALE_CHECKS_PER_TICK = 200;

/** Consumers behind since at most this time are stale under this rule. */
const staleBefore = (rule: StaleRule) => rule.now - rule.staleHours * HOUR;

/**
 * The scheduler's part: raises `consumer.stale` for consumers that have been behind the current
 * serial for `staleHours`, oldest first, at most STALE_CHECKS_PER_TICK, along an index of those
 * not yet told. Each event goes in one batch with the mark that it was raised (`staleSerial`),
 * so a crash can neither lose it nor raise it twice. Under a lease only when there is work (an
 * idle tick writes nothing: on the node host a write empties the download memory). Returns how
 * many were raised.
 */
export async function raiseStaleConsumers(deps: Deps): Promise<number> {
  const { staleHours } = await getSettings(deps);
  const rule: StaleRule = { now: deps.now(), staleHours };
  const rows = await deps.db.db
    .select({
      id: consumers.id,
      certificateId: consumers.certificateId,
      slot: consumers.apiKeySlot,
      clientIp: consumers.clientIp,
      host: consumers.host,
      fetchedSerial: consumers.fetchedSerial,
      fetchedAt: consumers.fetchedAt,
      installedSerial: consumers.installedSerial,
      behindSince: consumers.behindSince,
      certificate: certificates.name,
      serial: certificates.serial,
    })
    .from(consumers)
    .innerJoin(certificates, eq(certificates.id, consumers.certificateId))
    .where(and(isNotNull(consumers.behindSince), isNull(consumers.staleSerial), lte(consumers.behindSince, staleBefore(rule))))
    .orderBy(asc(consumers.behindSince))
    .limit(STALE_CHECKS_PER_TICK);
  if (rows.length === 0) return 0;
  const lease = await tryAcquireLease(deps.db, 'consumers:stale', deps.hostId, 60_000, deps.now);
  if (!lease) return 0;
  try {
    const statements: Statement[] = [];
    let raised = 0;
    for (const r of rows) {
      const still = and(eq(consumers.id, r.id), eq(consumers.behindSince, r.behindSince!));
      if (r.serial === null || r.fetchedSerial === r.serial || r.installedSerial === r.serial) {
        // It has the current serial after all (a download that raced the renewal's batch).
        statements.push(deps.db.db.update(consumers).set({ behindSince: null, staleSerial: null }).where(still));
        continue;
      }
      raised++;
      const who = consumerWords(r.clientIp, r.slot, r.host);
      const has = r.installedSerial ?? r.fetchedSerial;
      const hours = Math.floor((rule.now - r.behindSince!) / HOUR);
      statements.push(
        eventStatement(deps, {
          type: 'consumer.stale',
          dedupeKey: `consumer.stale:${consumerKey(r.certificateId, r.slot, r.clientIp, r.serial)}`,
          subject: { kind: 'consumer', id: r.id, name: `${r.certificate} on ${r.host ?? r.clientIp}` },
          title: `${r.host ?? r.clientIp} has not fetched the renewed certificate ${r.certificate}`,
          body:
            `Certificate ${r.certificate} was renewed ${hours} hours ago (serial ${r.serial}), but ${who} has not fetched it since` +
            `${has ? `: it still has serial ${has}` : ''}${r.fetchedAt ? `, last fetched ${new Date(r.fetchedAt).toISOString().slice(0, 16).replace('T', ' ')} UTC` : ''}. ` +
            'Check the agent (or the script that fetches the certificate) on that server, or the server itself.',
          link: consumersLink(r.certificate),
          data: {
            certificate: r.certificate,
            serial: r.serial,
            address: r.clientIp,
            apiKeySlot: r.slot,
            host: r.host,
            fetchedSerial: r.fetchedSerial,
            installedSerial: r.installedSerial,
            behindSince: new Date(r.behindSince!).toISOString(),
            staleHours,
          },
        }),
        deps.db.db.update(consumers).set({ staleSerial: r.serial }).where(still),
      );
    }
    await deps.db.batch(statements);
    if (raised > 0) eventsWritten(deps);
    return raised;
  } finally {
    await lease.release();
  }
}

// ---- every consumer: the list and the dashboard's counts -------------------------------------------

export const CONSUMER_FILTERS = ['behind', 'stale', 'failed'] as const;
export type ConsumerFilter = (typeof CONSUMER_FILTERS)[number];

export const CONSUMER_LIST = { sorts: ['default'] as const, defaultSort: 'default' as const, statuses: CONSUMER_FILTERS } as const;

/** `status`: none (every consumer, newest first), `behind`, `stale` (oldest first) or `failed` (the latest report failed; newest first). */
export function parseConsumerListQuery(params: URLSearchParams, opts: { defaultLimit?: number } = {}): ListQuery<'default', ConsumerFilter> {
  const query = parseListQuery(params, { ...CONSUMER_LIST, defaultLimit: opts.defaultLimit });
  if (query.status.length > 1) throw new CertkeepError('BAD_REQUEST', `status: one of ${CONSUMER_FILTERS.join(', ')} at a time`, { field: 'status' });
  return query;
}

/** The latest agent report says the install failed (the partial index consumers_failed says the same). */
const FAILED = sql`(${consumers.installed} = 0 or ${consumers.reload} = 'failed' or ${consumers.verified} = 0)`;

export interface ListedConsumer {
  row: ConsumerRow;
  certificate: string;
  currentSerial: string | null;
}

/**
 * One page of every certificate's consumers, along one index per filter: `behind`/`stale` by
 * the time they fell behind (oldest first), `failed` by their latest report (newest first),
 * none by when they were first seen (newest first).
 */
export async function pageConsumers(deps: Deps, query: ListQuery<'default', ConsumerFilter>, rule: StaleRule): Promise<Page<ListedConsumer>> {
  const filter = query.status[0];
  const sort = `consumers:${filter ?? 'all'}`;
  const c = consumers;
  const column = filter === 'behind' || filter === 'stale' ? c.behindSince : filter === 'failed' ? c.reportedAt : c.createdAt;
  const ascending = filter === 'behind' || filter === 'stale';
  const conds: SQL[] = [];
  if (filter === 'behind') conds.push(isNotNull(c.behindSince));
  if (filter === 'stale') conds.push(isNotNull(c.behindSince), lte(c.behindSince, staleBefore(rule)));
  if (filter === 'failed') conds.push(FAILED);
  if (query.cursor) {
    const [at, id] = decodeCursor(query.cursor, sort, 2);
    if (typeof at !== 'number' || typeof id !== 'string') throw badCursor();
    conds.push(ascending ? or(gt(column, at), and(eq(column, at), gt(c.id, id)))! : or(lt(column, at), and(eq(column, at), lt(c.id, id)))!);
  }
  const rows = await deps.db.db
    .select({ row: c, certificate: certificates.name, currentSerial: certificates.serial })
    .from(c)
    .innerJoin(certificates, eq(certificates.id, c.certificateId))
    .where(and(...conds))
    .orderBy(ascending ? asc(column) : desc(column), ascending ? asc(c.id) : desc(c.id))
    .limit(query.limit + 1);
  const keyOf = (r: ListedConsumer) => [(filter === 'behind' || filter === 'stale' ? r.row.behindSince : filter === 'failed' ? r.row.reportedAt : r.row.createdAt) ?? 0, r.row.id];
  return pageOf(rows, query.limit, sort, keyOf, (r) => r);
}

/** How many consumers are stale now, and how many last reported a failed install (index counts). */
export async function consumerCounts(deps: Deps, rule: StaleRule): Promise<{ stale: number; failed: number }> {
  const db = deps.db.db;
  const [[stale], [failed]] = await Promise.all([
    db.select({ n: sql<number>`count(*)` }).from(consumers).where(and(isNotNull(consumers.behindSince), lte(consumers.behindSince, staleBefore(rule)))),
    db.select({ n: sql<number>`count(*)` }).from(consumers).where(FAILED),
  ]);
  return { stale: stale?.n ?? 0, failed: failed?.n ?? 0 };
}

/** The stale rule in force now (the `staleHours` setting). */
export async function staleRule(deps: Deps): Promise<StaleRule> {
  return { now: deps.now(), staleHours: (await getSettings(deps)).staleHours };
}

// ---- the staleHours setting --------------------------------------------------------------------------

/**
 * Sets `staleHours` (null: the default, 24), with its audit record in the same batch. It applies
 * at once: to the consumers already behind, at the next tick.
 */
export async function setStaleHours(deps: Deps, hours: number | null, by: By): Promise<number> {
  const value = hours ?? DEFAULT_STALE_HOURS;
  if (!Number.isInteger(value) || value < STALE_HOURS_MIN || value > STALE_HOURS_MAX) {
    throw new CertkeepError('BAD_REQUEST', `staleHours: expected an integer from ${STALE_HOURS_MIN} to ${STALE_HOURS_MAX}`, { field: 'staleHours' });
  }
  await deps.db.batch([
    settingStatement(deps, 'staleHours', value),
    audit(deps, by, { action: 'settings.update', object: { kind: 'settings', name: 'staleHours' }, detail: { staleHours: value } }),
  ]);
  deps.log.info('setting changed', { staleHours: value });
  return value;
}
