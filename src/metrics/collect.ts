// What /metrics shows (SPEC §4.6), read at scrape time. A scrape sends a fixed number of queries
// whatever the number of certificates, each an aggregate along an index or a walk of a covering
// index (src/metrics/metrics.test.ts checks the plans), and never reads a certificate's row (which
// carries its PEM).
import { and, isNotNull, lte, sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { certificates, notificationDeliveries } from '../db/schema.ts';
import type { CertificateStatus } from '../domain/certificates.ts';
import { dueSummary } from '../jobs/scheduler.ts';
import { ACME_PROBLEMS_TOTAL, ORDERS_TOTAL, readCounters } from './counters.ts';
import type { MetricFamily, Sample } from './exposition.ts';

const c = certificates;

const STATUSES: readonly CertificateStatus[] = ['new', 'pending', 'valid', 'invalid', 'expired', 'revoked'];
const ORDER_REASONS = ['new', 'renewal', 'manual'] as const;
const ORDER_OUTCOMES = ['issued', 'failed', 'abandoned'] as const;
const DELIVERY_STATES = ['pending', 'sent', 'failed'] as const;

/** The families of one scrape, in the order they are shown. */
export async function collectMetrics(deps: Deps): Promise<MetricFamily[]> {
  const now = deps.now();
  const db = deps.db.db;
  const [byStatus, expired, failing, expiry, counters, due, deliveries, host] = await Promise.all([
    // Per stored status: a walk of the (status, name) index.
    db.select({ status: c.status, n: sql<number>`count(*)` }).from(c).groupBy(c.status),
    // Expired: stored valid with not_after passed, a range of the expiry index (as the dashboard counts).
    db.select({ n: sql<number>`count(*)` }).from(c).where(and(sql`+${c.status} = 'valid'`, lte(c.notAfter, now))),
    // The partial index of failing certificates.
    db.select({ n: sql<number>`count(*)` }).from(c).where(isNotNull(c.lastError)),
    // Every served certificate's expiry: the (not_after, name, status) index walked in order, no row read.
    db
      .select({ name: c.name, notAfter: c.notAfter })
      .from(c)
      .where(and(isNotNull(c.notAfter), sql`+${c.status} <> 'revoked'`))
      .orderBy(c.notAfter),
    readCounters(deps),
    dueSummary(deps),
    deliveryStates(deps),
    deps.hostMetrics?.collect() ?? Promise.resolve([]),
  ]);

  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<CertificateStatus, number>;
  for (const row of byStatus) counts[row.status as CertificateStatus] = Number(row.n);
  counts.expired = Number(expired[0]?.n ?? 0);
  counts.valid -= counts.expired;

  const orders = counters.get(ORDERS_TOTAL) ?? [];
  const orderSamples: Sample[] = ORDER_REASONS.flatMap((reason) =>
    ORDER_OUTCOMES.map((outcome) => orders.find((s) => s.labels?.reason === reason && s.labels?.outcome === outcome) ?? { labels: { reason, outcome }, value: 0 }),
  );
  // A reason not among the three (never written today) still shows.
  orderSamples.push(...orders.filter((s) => !(ORDER_REASONS as readonly string[]).includes(s.labels?.reason ?? '')));

  const families: MetricFamily[] = [
    {
      name: 'certkeep_certificates',
      help: 'Certificates by status as the admin API shows it (new, pending, valid, invalid, expired, revoked).',
      type: 'gauge',
      samples: STATUSES.map((status) => ({ labels: { status }, value: counts[status] })),
    },
    {
      name: 'certkeep_certificates_failing',
      help: 'Certificates whose last attempt to obtain or renew failed; they are retried with back-off.',
      type: 'gauge',
      samples: [{ value: Number(failing[0]?.n ?? 0) }],
    },
    {
      name: 'certkeep_certificate_expires_in_seconds',
      help: 'Seconds until the certificate served under this name expires (negative once expired). Revoked certificates are left out.',
      type: 'gauge',
      samples: expiry.map((row) => ({ labels: { certificate: row.name }, value: Math.round((Number(row.notAfter) - now) / 1000) })),
    },
    {
      name: ORDERS_TOTAL,
      help: 'ACME orders ended, by why they were placed (new, renewal, manual) and outcome (issued, failed: the CA refused, abandoned: the CA no longer knew the order).',
      type: 'counter',
      samples: orderSamples,
    },
    {
      name: ACME_PROBLEMS_TOTAL,
      help: "Failed attempts of ACME orders by problem type: the CA's urn:ietf:params:acme:error:..., Certkeep's urn:certkeep:problem:..., or other.",
      type: 'counter',
      samples: counters.get(ACME_PROBLEMS_TOTAL) ?? [],
    },
    {
      name: 'certkeep_scheduler_due_certificates',
      help: 'Certificates due for an order now and not started yet (the scheduler queue), including those whose CA asked to wait.',
      type: 'gauge',
      samples: [{ value: due.due }],
    },
    {
      name: 'certkeep_scheduler_lag_seconds',
      help: 'How long the certificate waiting longest in the scheduler queue has been due, in seconds (0 when none waits).',
      type: 'gauge',
      samples: [{ value: due.oldestDueAt === null ? 0 : Math.max(0, Math.round((now - due.oldestDueAt) / 1000)) }],
    },
    {
      name: 'certkeep_notification_deliveries',
      help: 'Notification deliveries in the delivery log by state (pending, sent, failed).',
      type: 'gauge',
      samples: deliveries,
    },
  ];
  if (deps.hostMetrics) {
    families.push({
      name: 'certkeep_downloads_total',
      help: 'Download API requests answered by this process, by kind (certificate, key) and outcome; counted from the process start.',
      type: 'counter',
      samples: deps.hostMetrics.downloads.samples(),
    });
  }
  families.push(...host);
  return families;
}

/**
 * Deliveries by state, from the notifications' delivery log: one walk of its (state, id) index,
 * which reads no delivery row.
 */
async function deliveryStates(deps: Deps): Promise<Sample[]> {
  const rows = await deps.db.db.all<{ state: string; n: number }>(sql`select ${notificationDeliveries.state} as state, count(*) as n from ${notificationDeliveries} group by ${notificationDeliveries.state}`);
  const byState = new Map(rows.map((r) => [String(r.state), Number(r.n)]));
  const states = [...DELIVERY_STATES, ...[...byState.keys()].filter((s) => !(DELIVERY_STATES as readonly string[]).includes(s))];
  return states.map((state) => ({ labels: { state }, value: byState.get(state) ?? 0 }));
}
