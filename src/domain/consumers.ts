// Consumers (SPEC §4.5, §4.8): the servers that use a certificate, one row per certificate, API
// key slot and client address. The download side records what a consumer fetched; the agent's
// report records what it installed, whether the reload worked and whether the server now
// presents it. Rows are upserted with one statement, so a report is recorded whole or not at all
// (D1 has no interactive transactions).
import { and, asc, desc, eq, gt, isNotNull, or } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { apiKeys, consumers, orders } from '../db/schema.ts';
import type { CertificateRow } from './certificates.ts';
import { isApiKey } from './apikeys.ts';
import { hashSecret, hashesEqual, newId } from './secrets.ts';

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

/** A certificate API key as presented: the certificate it opens and its slot. */
export interface CertificateApiKey {
  ownerKind: 'key' | 'certificate';
  ownerId: string;
  slot: number;
}

/** Who a presented download API key belongs to, with its slot; null when it is unknown or malformed. */
export async function findApiKeyWithSlot(deps: Deps, presented: string | null): Promise<CertificateApiKey | null> {
  if (!isApiKey(presented)) return null;
  const hash = await hashSecret(presented);
  const [row] = await deps.db.db
    .select({ keyHash: apiKeys.keyHash, ownerKind: apiKeys.ownerKind, ownerId: apiKeys.ownerId, slot: apiKeys.slot })
    .from(apiKeys)
    .where(eq(apiKeys.keyHash, hash))
    .limit(1);
  if (!row || !hashesEqual(row.keyHash, hash)) return null;
  return { ownerKind: row.ownerKind, ownerId: row.ownerId, slot: row.slot };
}

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
  const [consumer] = await deps.db.db
    .insert(consumers)
    .values({ id: newId(), certificateId: cert.id, apiKeySlot: slot, clientIp, createdAt: now, ...reported })
    .onConflictDoUpdate({ target: [consumers.certificateId, consumers.apiKeySlot, consumers.clientIp], set: reported })
    .returning();
  const failed = !report.installed || report.reload === 'failed' || report.verified === false;
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

/**
 * A consumer as the API shows it. `behind`: it has fetched or installed something, but not the
 * certificate's current serial.
 */
export function consumerView(row: ConsumerRow, currentSerial: string | null) {
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
    firstSeenAt: iso(row.createdAt),
  };
}

export type ConsumerView = ReturnType<typeof consumerView>;
