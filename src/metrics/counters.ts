// Counters kept in the database (table `metric_counters`): each is raised by one upsert in the
// same batch as what it counts, so it survives restarts, reads the same from every host on one
// database, and never goes down when the rows it counted are deleted with their certificate.
// Label values come from short fixed lists only (a problem type the list does not know counts as
// `other`), so the number of rows is bounded whatever a CA sends.
import { sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import type { Statement } from '../db/client.ts';
import type { ErrorCode } from '../errors.ts';
import { metricCounters } from '../db/schema.ts';
import type { Sample } from './exposition.ts';

export const ORDERS_TOTAL = 'certkeep_orders_total';
export const ACME_PROBLEMS_TOTAL = 'certkeep_acme_problems_total';

export type OrderOutcome = 'issued' | 'failed' | 'abandoned';

/** The statement that adds one to the series `name{labels}`, for the batch of what it counts. */
export function counterStatement(deps: Deps, name: string, labels: Record<string, string>): Statement {
  const key = JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  return deps.db.db
    .insert(metricCounters)
    .values({ name, labels: key, value: 1 })
    .onConflictDoUpdate({ target: [metricCounters.name, metricCounters.labels], set: { value: sql`${metricCounters.value} + 1` } });
}

/** An order ended: issued (`done`), failed (the CA refused) or abandoned (the CA forgot it). */
export function orderEndedStatement(deps: Deps, reason: string, outcome: OrderOutcome): Statement {
  return counterStatement(deps, ORDERS_TOTAL, { reason: ORDER_REASONS.has(reason) ? reason : 'other', outcome });
}

/** An attempt of an order failed with this problem (the CA's, or Certkeep's own `urn:certkeep:problem:…`). */
export function problemStatement(deps: Deps, problemType: string): Statement {
  return counterStatement(deps, ACME_PROBLEMS_TOTAL, { type: problemTypeLabel(problemType) });
}

const ORDER_REASONS = new Set(['new', 'renewal', 'manual']);

const ACME_ERROR = 'urn:ietf:params:acme:error:';
const CERTKEEP_PROBLEM = 'urn:certkeep:problem:';

/**
 * IANA's "ACME Error Types": RFC 8555 §6.7, RFC 8739 (STAR), RFC 9115 (delegation), RFC 9773
 * (ARI), and draft-ietf-acme-profiles' invalidProfile.
 */
const ACME_ERRORS = new Set([
  'accountDoesNotExist', 'alreadyRevoked', 'badCSR', 'badNonce', 'badPublicKey', 'badRevocationReason', 'badSignatureAlgorithm',
  'caa', 'compound', 'connection', 'dns', 'externalAccountRequired', 'incorrectResponse', 'invalidContact', 'malformed',
  'orderNotReady', 'rateLimited', 'rejectedIdentifier', 'serverInternal', 'tls', 'unauthorized', 'unsupportedContact',
  'unsupportedIdentifier', 'userActionRequired',
  'autoRenewalCanceled', 'autoRenewalExpired', 'autoRenewalCancellationInvalid', 'autoRenewalRevocationNotSupported',
  'unknownDelegation', 'alreadyReplaced', 'invalidProfile',
]);

/**
 * Certkeep's own problem types: one per error code (domain/orders.ts describeFailure words a code
 * as `urn:certkeep:problem:acme-network`), and those written out. The `Record` makes the compiler
 * name any code added to errors.ts and missing here.
 */
const CODES: Record<ErrorCode, true> = {
  BAD_REQUEST: true, NOT_FOUND: true, CONFLICT: true, UNAUTHORIZED: true, FORBIDDEN: true, UNSUPPORTED_MEDIA_TYPE: true,
  RATE_LIMITED: true, KEY_UNSUPPORTED: true, KEY_INVALID: true, PEM_INVALID: true, CERT_INVALID: true, DECRYPT_FAILED: true,
  ACME_PROBLEM: true, ACME_BAD_RESPONSE: true, ACME_NETWORK: true, ACME_TIMEOUT: true, ACME_ORDER_INVALID: true,
  ACME_UNSUPPORTED: true, DNS_NETWORK: true, DNS_TIMEOUT: true, DNS_BAD_RESPONSE: true, DNS_LOOKUP_FAILED: true,
  DNS_UPDATE_FAILED: true, DNS_TSIG_FAILED: true, DNS_NOT_PROPAGATED: true, DNS_PROVIDER_FAILED: true, TARGET_REFUSED: true,
  OUTBOUND_FAILED: true, ORDER_FAILED: true, LEASE_BUSY: true, PAYLOAD_TOO_LARGE: true, INTERNAL: true,
};
const CERTKEEP_PROBLEMS = new Set([...Object.keys(CODES).map((code) => code.toLowerCase().replace(/_/g, '-')), 'no-challenge']);

/** The `type` label of a problem: its URN when it is a known one, else `other`. */
export function problemTypeLabel(type: string): string {
  if (type.startsWith(ACME_ERROR) && ACME_ERRORS.has(type.slice(ACME_ERROR.length))) return type;
  if (type.startsWith(CERTKEEP_PROBLEM) && CERTKEEP_PROBLEMS.has(type.slice(CERTKEEP_PROBLEM.length))) return type;
  return 'other';
}

/** Every counter series, by metric name. A few rows: the label values are bounded above. */
export async function readCounters(deps: Deps): Promise<Map<string, Sample[]>> {
  const rows = await deps.db.db.select().from(metricCounters).orderBy(metricCounters.name, metricCounters.labels);
  const out = new Map<string, Sample[]>();
  for (const row of rows) {
    let labels: Record<string, string>;
    try {
      labels = JSON.parse(row.labels) as Record<string, string>;
    } catch {
      continue;
    }
    const samples = out.get(row.name) ?? [];
    samples.push({ labels, value: row.value });
    out.set(row.name, samples);
  }
  return out;
}
