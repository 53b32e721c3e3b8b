// "Renewed but never deployed" (issue 12): the tracked servers whose name a certificate covers,
// and whether each presents the certificate's current serial — or, since when, an earlier one.
// Found along the host indexes: an exact name by `host`, a wildcard name by `host_parent`.
import { and, eq, inArray, isNotNull, or } from 'drizzle-orm';
import type { Deps } from '../../deps.ts';
import { orders, trackingHistory, trackingTargets } from '../../db/schema.ts';
import type { CertificateRow } from '../certificates.ts';
import { dnsIdMatches } from './names.ts';

/** Most servers shown for one certificate. */
const MAX_DEPLOYMENTS = 50;

export interface Deployment {
  id: string;
  target: string;
  starttls: string | null;
  /** What it presents: null before its first successful scan. */
  serial: string | null;
  /** Whether that is the certificate's current one. */
  current: boolean;
  /** Whether it is an earlier certificate of this one (its history), not something else entirely. */
  earlier: boolean;
  /** Since when it presents what it presents. */
  since: number | null;
  lastScanAt: number | null;
  lastError: string | null;
}

export interface Deployments {
  serial: string | null;
  /** When Certkeep stored the current certificate. */
  issuedAt: number | null;
  deployments: Deployment[];
}

export async function deploymentsOf(deps: Deps, cert: Pick<CertificateRow, 'id' | 'domains' | 'serial'>): Promise<Deployments> {
  const domains = JSON.parse(cert.domains) as string[];
  const exact = domains.filter((d) => !d.startsWith('*.'));
  const parents = domains.filter((d) => d.startsWith('*.')).map((d) => d.slice(2));
  const t = trackingTargets;
  const [issued] = await deps.db.db.select({ id: t.id, sha256: t.sha256, changedAt: t.changedAt }).from(t).where(eq(t.certificateId, cert.id)).limit(1);
  const conds = [...(exact.length ? [inArray(t.host, exact)] : []), ...(parents.length ? [inArray(t.hostParent, parents)] : [])];
  if (conds.length === 0) return { serial: cert.serial, issuedAt: issued?.changedAt ?? null, deployments: [] };
  const rows = (await deps.db.db.select().from(t).where(and(eq(t.source, 'url'), or(...conds))).limit(MAX_DEPLOYMENTS)).filter((r) => domains.some((d) => dnsIdMatches(d, r.host!)));
  const presented = [...new Set(rows.map((r) => r.sha256).filter((s): s is string => !!s))];
  // The certificate's own earlier certificates: by the thumbprints its orders recorded, and by
  // the history of its tracking row (which also knows the ones imported from Certera).
  const earlier = new Set<string>();
  if (presented.length) {
    const [fromOrders, fromHistory] = await Promise.all([
      deps.db.db.select({ sha256: orders.thumbprint }).from(orders).where(and(eq(orders.certificateId, cert.id), isNotNull(orders.thumbprint), inArray(orders.thumbprint, presented))),
      issued ? deps.db.db.select({ sha256: trackingHistory.sha256 }).from(trackingHistory).where(and(eq(trackingHistory.targetId, issued.id), inArray(trackingHistory.sha256, presented))) : Promise.resolve([]),
    ]);
    for (const r of [...fromOrders, ...fromHistory]) if (r.sha256) earlier.add(r.sha256);
  }
  const deployments = rows
    .map((r) => {
      const current = !!r.sha256 && (r.sha256 === issued?.sha256 || (r.serial !== null && r.serial === cert.serial));
      return {
        id: r.id,
        target: r.target!,
        starttls: r.starttls,
        serial: r.serial,
        current,
        earlier: !current && !!r.sha256 && earlier.has(r.sha256),
        since: r.changedAt,
        lastScanAt: r.lastScanAt,
        lastError: r.lastError,
      };
    })
    .sort((a, b) => Number(a.current) - Number(b.current) || a.target.localeCompare(b.target));
  return { serial: cert.serial, issuedAt: issued?.changedAt ?? null, deployments };
}
