// Changing how a certificate is obtained after it was created: its names, its challenge, its DNS
// provider and its preferred chain. The same rules as creation (names through normalizeDomains,
// a DNS provider for dns-01 and none for http-01); the served certificate and key stay untouched
// until the next issuance, which comes at once when the names changed.
import { eq, sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { CertkeepError } from '../errors.ts';
import { certificates, orders } from '../db/schema.ts';
import { normalizeDomains } from './names.ts';
import { findCertificateById, requireCertificate, type CertificateRow } from './certificates.ts';
import { ensureAcmeDnsRegistrations, findDnsProvider, findDnsProviderById, type DnsProviderRow } from './dns/providers.ts';
import { audit, type By } from './audit.ts';

/** The longest preferred-chain name accepted, as at creation. */
export const MAX_PREFERRED_CHAIN = 256;

const CHALLENGES = ['http-01', 'dns-01'] as const;

/**
 * What to change; a field left undefined keeps its value. `null` (or '') clears `dnsProvider`
 * and `preferredChain`. `domains` is the raw list, validated here exactly as at creation.
 */
export interface CertificateEdit {
  domains?: unknown;
  challenge?: string;
  dnsProvider?: string | null;
  preferredChain?: string | null;
}

export type EditedField = 'domains' | 'challenge' | 'dnsProvider' | 'preferredChain';

export interface CertificateEditResult {
  row: CertificateRow;
  /** The fields whose value changed; empty when the edit changed nothing (and nothing was written). */
  changed: EditedField[];
  /** True when the new names make the certificate due for issuance at once. */
  reissue: boolean;
  /** acme-dns: the CNAME records to create for the certificate's names. */
  dns?: { cnames: Array<{ name: string; target: string }> };
}

function invalid(field: EditedField, detail: string): CertkeepError {
  return new CertkeepError('BAD_REQUEST', `${field}: ${detail}`, { field });
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Applies `edit` to the certificate named `name`. Refused for a revoked certificate, and — for
 * the fields an order depends on (names, challenge, provider) — while an order for it is open:
 * a resumed order keeps its own names and would clean up through the certificate's provider.
 */
export async function updateCertificate(deps: Deps, by: By, name: string, edit: CertificateEdit): Promise<CertificateEditResult> {
  const cert = await requireCertificate(deps, name);
  if (cert.status === 'revoked') throw new CertkeepError('CONFLICT', `certificate "${name}" is revoked; create a new one`);

  if (edit.challenge !== undefined && !(CHALLENGES as readonly string[]).includes(edit.challenge)) {
    throw invalid('challenge', `expected one of ${CHALLENGES.join(', ')}`);
  }
  const challenge = (edit.challenge ?? cert.challenge) as CertificateRow['challenge'];
  const currentDomains = JSON.parse(cert.domains) as string[];
  const domains = edit.domains === undefined ? currentDomains : normalizeDomains(edit.domains, challenge);
  // The stored names must still suit a changed challenge (a wildcard needs dns-01).
  if (edit.domains === undefined && challenge !== cert.challenge) normalizeDomains(domains, challenge);

  let provider: DnsProviderRow | undefined;
  if (challenge === 'dns-01') {
    const wanted = edit.dnsProvider === undefined ? null : edit.dnsProvider || null;
    if (wanted) {
      provider = await findDnsProvider(deps, wanted);
      if (!provider) throw invalid('dnsProvider', `no DNS provider named "${wanted}"`);
    } else if (edit.dnsProvider === undefined && cert.dnsProviderId) {
      provider = await findDnsProviderById(deps, cert.dnsProviderId);
    }
    if (!provider) throw invalid('dnsProvider', 'required for dns-01');
  } else if (edit.dnsProvider) {
    throw invalid('dnsProvider', 'only used with "challenge": "dns-01"');
  }

  let preferredChain = cert.preferredChain;
  if (edit.preferredChain !== undefined) {
    const value = edit.preferredChain?.trim() ?? '';
    if (value.length > MAX_PREFERRED_CHAIN) throw invalid('preferredChain', `longer than ${MAX_PREFERRED_CHAIN} characters`);
    preferredChain = value || null;
  }

  const dnsProviderId = provider?.id ?? null;
  const changed: EditedField[] = [];
  if (!sameList(domains, currentDomains)) changed.push('domains');
  if (challenge !== cert.challenge) changed.push('challenge');
  if (dnsProviderId !== cert.dnsProviderId) changed.push('dnsProvider');
  if (preferredChain !== cert.preferredChain) changed.push('preferredChain');
  if (changed.length === 0) return { row: cert, changed, reissue: false };

  const obtaining = changed.filter((f) => f !== 'preferredChain');
  if (obtaining.length > 0 && (await hasOpenOrder(deps, cert.id))) {
    throw new CertkeepError('CONFLICT', `${obtaining[0]}: certificate "${name}" has an order in progress; change it once the order has ended`, {
      field: obtaining[0],
    });
  }

  // acme-dns: names new to the provider need a registration, and the admin the CNAMEs for them.
  const cnames =
    provider?.type === 'acme-dns' && (changed.includes('domains') || changed.includes('dnsProvider'))
      ? await ensureAcmeDnsRegistrations(deps, provider, domains)
      : undefined;

  const now = deps.now();
  // New names: due at once (a served certificate no longer covers them). A changed way of
  // obtaining it deserves a fresh attempt, so the back-off of the old way is dropped.
  const reissue = changed.includes('domains') && cert.pem !== null;
  await deps.db.batch([
    deps.db.db
      .update(certificates)
      .set({
        domains: JSON.stringify(domains),
        challenge,
        dnsProviderId,
        preferredChain,
        ...(obtaining.length > 0 ? { nextAttemptAt: null } : {}),
        ...(reissue ? { renewAt: now } : {}),
        updatedAt: now,
      })
      .where(eq(certificates.id, cert.id)),
    audit(deps, by, {
      action: 'certificate.edit',
      object: { kind: 'certificate', name },
      detail: {
        changed,
        ...(changed.includes('domains') ? { domains } : {}),
        ...(changed.includes('challenge') ? { challenge } : {}),
        ...(changed.includes('dnsProvider') ? { dnsProvider: provider?.name ?? null } : {}),
        ...(changed.includes('preferredChain') ? { preferredChain } : {}),
      },
    }),
  ]);
  deps.log.info('certificate edited', { certificate: name, changed });
  // New names (or a way of obtaining it without the old back-off) may make it due now.
  if (obtaining.length > 0) deps.wake?.();
  const row = (await findCertificateById(deps, cert.id))!;
  return { row, changed, reissue, ...(cnames ? { dns: { cnames } } : {}) };
}

async function hasOpenOrder(deps: Deps, certificateId: string): Promise<boolean> {
  const [row] = await deps.db.db
    .select({ n: sql<number>`count(*)` })
    .from(orders)
    .where(sql`${orders.certificateId} = ${certificateId} and ${orders.finishedAt} is null`);
  return row.n > 0;
}
