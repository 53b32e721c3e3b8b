// Issuance as a persisted state machine (RFC 8555 §7.4).
//
//   placing → placed → authorizing → finalizing → downloading → done
//                                  ↘ failed (the CA said no) / abandoned (the CA forgot the order)
//
// Every step is written to the database before the network call that depends on it, and the
// CA's view of the order is the source of truth when we resume: after a crash the next run for
// the certificate finds the unfinished order row and continues it from whatever state the CA
// reports, so no second order is placed for the same certificate. A certificate lease makes
// sure only one host works on a certificate at a time. Transient failures (network, CA 5xx,
// rate limits) leave the order open to be resumed after the back-off; a refusal by the CA ends
// it. A failed attempt never touches the certificate and key being served.
import { and, eq, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { literalRow, type Statement } from '../db/client.ts';
import { CertkeepError } from '../errors.ts';
import { acmeAccounts, certificates, challenges, orders, orderEvents } from '../db/schema.ts';
import { tryAcquireLease, type Lease } from '../db/lease.ts';
import { preparedQuery } from '../db/prepared.ts';
import type { AcmeClient, AcmeOrder, AcmeAuthorization, AcmeProblem } from '../acme/index.ts';
import { AcmeProblemError } from '../acme/index.ts';
import { createCsr, parseCertificate, parseIssuerCertificate, splitCertificates } from '../crypto/index.ts';
import { acmeClientFor, findAccountById } from './accounts.ts';
import { findKeyById, keyPair } from './keys.ts';
import { findCertificateById, type CertificateRow, type CsrSubject } from './certificates.ts';
import { backoffMs, renewalJitterMs, renewalTime, replacesIdentifier } from './renewal.ts';
import { mayOrderNow, pauseAccount, pauseOf } from './ca-pace.ts';
import { issuedStatements } from './tracking/tracking.ts';
import { getSettings } from './settings.ts';
import { newId } from './secrets.ts';
import { dns01TxtValue } from '../acme/index.ts';
import { challengeRecordName } from './dns/names.ts';
import { dnsDriverFor, findDnsProviderById } from './dns/providers.ts';
import { waitUntilVisible } from './dns/visibility.ts';
import type { DnsChallengeRecord, DnsProviderLog } from './dns/types.ts';
import { eventStatement, eventsWritten } from './events.ts';
import { renewalFailedEvent, renewedEvent } from './notifications/certificate-events.ts';
import { firstExpiryCheck } from './notifications/expiry.ts';
import { markConsumersBehind } from './consumers.ts';
import { orderEndedStatement, problemStatement } from '../metrics/counters.ts';

export type OrderRow = typeof orders.$inferSelect;
export type OrderReason = 'new' | 'renewal' | 'manual';
export type OrderState = 'placing' | 'placed' | 'authorizing' | 'finalizing' | 'downloading' | 'done' | 'failed' | 'abandoned';

// A crashed host holds its certificates for at most this long; a live one renews every third of it.
const LEASE_TTL_MS = 30_000;

export type IssueOutcome =
  | { ok: true }
  | { ok: false; problem: AcmeProblem; retryable: boolean }
  /** The `stillDue` check said no once the lease was held: nothing was done. */
  | { ok: 'not-due' };

export interface IssueOptions {
  /**
   * Asked once the certificate's lease is held, before anything else: whether the work is still
   * to do. The scheduler found the certificate due before taking the lease; another host may
   * have finished it in between (and released the lease), and must not be followed by a second order.
   */
  stillDue?(): Promise<boolean>;
  /**
   * A new order is placed only while its account may order (not paused, under its pace): the
   * order's row is written on that condition, in one statement, so that orders starting together
   * (on this host or another) cannot place more than the pace between them. Else nothing is done
   * and the outcome is `not-due`. The scheduler's orders; an `issue` by hand is not held back.
   */
  paced?: boolean;
}

export const certificateLeaseName = (certificateId: string) => `certificate:${certificateId}`;

/**
 * Obtains a certificate for the row with this id: resumes its unfinished order or places a new
 * one. Throws LEASE_BUSY when another run (this host or another) holds the certificate.
 */
export async function issue(deps: Deps, certificateId: string, reason: OrderReason, opts: IssueOptions = {}): Promise<IssueOutcome> {
  const lease = await tryAcquireLease(deps.db, certificateLeaseName(certificateId), `${deps.hostId}:${newId()}`, LEASE_TTL_MS, deps.now);
  if (!lease) throw new CertkeepError('LEASE_BUSY', 'an order for this certificate is already running');
  const heartbeat = setInterval(() => void lease.renew().catch(() => {}), LEASE_TTL_MS / 3);
  try {
    if (opts.stillDue && !(await opts.stillDue())) return { ok: 'not-due' };
    return await issueUnderLease(deps, certificateId, reason, lease, opts.paced ?? false);
  } finally {
    clearInterval(heartbeat);
    await lease.release().catch((err) => deps.log.warn('lease release failed', { err }));
  }
}

async function issueUnderLease(deps: Deps, certificateId: string, reason: OrderReason, lease: Lease, paced: boolean): Promise<IssueOutcome> {
  const cert = await findCertificateById(deps, certificateId);
  if (!cert) throw new CertkeepError('NOT_FOUND', 'certificate disappeared');
  const log = deps.log.child({ certificate: cert.name });
  let order = await unfinishedOrder(deps, cert.id);
  try {
    const account = await findAccountById(deps, order?.accountId ?? cert.accountId);
    if (!account) throw new CertkeepError('INTERNAL', 'the certificate\'s ACME account is missing');
    const client = await acmeClientFor(deps, account);
    let acmeOrder: AcmeOrder | undefined;
    if (order?.orderUrl) {
      log.info('resuming order', { order: order.id, state: order.state });
      acmeOrder = await fetchOrderOrAbandon(deps, client, order);
      if (!acmeOrder) order = undefined;
    }
    const resumed = !!order;
    if (!order) {
      const placing = await recordPlacing(deps, cert, reason, paced);
      if (!placing) return { ok: 'not-due' };
      order = placing;
    }
    if (!order.orderUrl) {
      ({ order, acmeOrder } = await placeOrder(deps, client, cert, order, resumed));
      log.info('order placed', { order: order.id });
    }
    await driveOrder(deps, client, cert, order, acmeOrder!, lease);
    log.info('certificate obtained', { order: order.id });
    return { ok: true };
  } catch (err) {
    const failure = describeFailure(err);
    log.warn('order failed', { order: order?.id, problemType: failure.problem.type, detail: failure.problem.detail, retryable: failure.retryable });
    // The CA asks us to slow down: no new order of this account until then (domain/ca-pace.ts).
    const pause = pauseOf(err, deps.now());
    const pausedUntil = pause ? await pauseAccount(deps, order?.accountId ?? cert.accountId, pause) : undefined;
    await recordFailure(deps, cert, order, failure, pausedUntil);
    return { ok: false, ...failure };
  }
}

const unfinishedOf = preparedQuery((db) =>
  db
    .select()
    .from(orders)
    .where(and(eq(orders.certificateId, sql.placeholder('certificateId')), isNull(orders.finishedAt)))
    .limit(1)
    .prepare(),
);

async function unfinishedOrder(deps: Deps, certificateId: string): Promise<OrderRow | undefined> {
  const [row] = await unfinishedOf(deps.db.db).all({ certificateId });
  return row;
}

async function fetchOrderOrAbandon(deps: Deps, client: AcmeClient, order: OrderRow): Promise<AcmeOrder | undefined> {
  try {
    return await client.getOrder(order.orderUrl!);
  } catch (err) {
    if (err instanceof AcmeProblemError && (err.problem.status === 404 || err.problem.type.endsWith(':malformed'))) {
      await clearDnsRecords(deps, order);
      await deps.db.batch([...finishOrder(deps, order, 'abandoned', err.problem)]);
      return undefined;
    }
    throw err;
  }
}

/**
 * The order row in state `placing`, written before newOrder is sent. `paced`: written only while
 * the account may order (mayOrderNow), else null and nothing written.
 */
async function recordPlacing(deps: Deps, cert: CertificateRow, reason: OrderReason, paced: boolean): Promise<OrderRow | null> {
  const now = deps.now();
  const order: OrderRow = {
    id: newId(),
    certificateId: cert.id,
    accountId: cert.accountId,
    keyId: cert.keyId,
    state: 'placing',
    reason,
    domains: cert.domains,
    orderUrl: null,
    finalizeUrl: null,
    authorizations: null,
    certificateUrl: null,
    replaces: cert.pem ? replacesIdentifier(cert.pem) : null,
    serial: null,
    notBefore: null,
    notAfter: null,
    thumbprint: null,
    error: null,
    attempts: 1,
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
  };
  const db = deps.db.db;
  const insert = paced
    ? db
        .insert(orders)
        .select((qb) => qb.select(literalRow(orders, order)).from(acmeAccounts).where(and(eq(acmeAccounts.id, order.accountId), mayOrderNow(now))))
        .returning({ id: orders.id })
    : db.insert(orders).values(order).returning({ id: orders.id });
  const recorded = sql`exists (select 1 from ${orders} where ${orders.id} = ${order.id})`;
  const [written] = (await deps.db.batch([
    insert,
    ...(cert.pem ? [] : [db.update(certificates).set({ status: 'pending', updatedAt: now }).where(and(eq(certificates.id, cert.id), recorded))]),
  ])) as [Array<{ id: string }>];
  return written.length === 1 ? order : null;
}

/**
 * Sends newOrder for a row in state `placing` and records the CA's answer. If an earlier run
 * crashed after sending newOrder but before recording the answer, the CA already holds that
 * order: it is looked up in the account's orders list (RFC 8555 §7.1.2.1) and adopted instead
 * of placing a second one. CAs without an orders list (Boulder) answer a repeated newOrder for
 * the same names with the pending order they already have.
 */
async function placeOrder(deps: Deps, client: AcmeClient, cert: CertificateRow, order: OrderRow, resumed: boolean): Promise<{ order: OrderRow; acmeOrder: AcmeOrder }> {
  const domains = JSON.parse(order.domains) as string[];
  let found = resumed ? await findLostOrder(deps, client, order, domains) : null;
  if (found) await event(deps, order.id, 'info', 'adopted the order placed before the interruption');
  else {
    // The certificate as read under the lease at the start of this run (issueUnderLease).
    found = await newOrderReplacing(client, {
      identifiers: domains.map((value) => ({ type: 'dns' as const, value })),
      profile: cert.profile ?? undefined,
      replaces: order.replaces ?? undefined,
    });
  }
  const { url, order: acmeOrder } = found;
  const placed = { state: 'placed', orderUrl: url, finalizeUrl: acmeOrder.finalize, authorizations: JSON.stringify(acmeOrder.authorizations), updatedAt: deps.now() };
  await deps.db.batch([
    deps.db.db.update(orders).set(placed).where(eq(orders.id, order.id)),
    event(deps, order.id, 'info', `order placed at the CA for ${domains.join(', ')}`),
  ]);
  return { order: { ...order, ...placed }, acmeOrder };
}

/**
 * newOrder, naming the certificate it renews (RFC 9773 §5) when there is one. A CA that refuses
 * the `replaces` (it was replaced already, or it is not this account's) gets the order without it:
 * renewing matters more than the hint.
 */
async function newOrderReplacing(client: AcmeClient, req: Parameters<AcmeClient['newOrder']>[0]) {
  try {
    return await client.newOrder(req);
  } catch (err) {
    if (!req.replaces || !(err instanceof AcmeProblemError) || !(err.is('alreadyReplaced') || err.is('malformed') || err.problem.status === 409)) throw err;
    return client.newOrder({ ...req, replaces: undefined });
  }
}

/** An order at the CA for exactly these names that no row of ours records, newest first. */
async function findLostOrder(deps: Deps, client: AcmeClient, order: OrderRow, domains: string[]) {
  const urls = await client.listOrders();
  if (!urls) return null;
  // The newest of the CA's list, less those recorded here (asked for those only: an account may
  // have placed many thousands of orders).
  const recent = urls.slice(-200).reverse();
  const known = new Set(
    recent.length ? (await deps.db.db.select({ url: orders.orderUrl }).from(orders).where(inArray(orders.orderUrl, recent))).map((r) => r.url) : [],
  );
  const wanted = [...domains].sort().join(',');
  for (const url of recent.filter((u) => !known.has(u)).slice(0, 50)) {
    const candidate = await client.getOrder(url);
    const names = candidate.identifiers.map((i) => i.value).sort().join(',');
    if (names === wanted && candidate.status !== 'invalid') return { url, order: candidate };
  }
  return null;
}

async function driveOrder(deps: Deps, client: AcmeClient, cert: CertificateRow, order: OrderRow, acmeOrder: AcmeOrder, lease: Lease): Promise<void> {
  const url = order.orderUrl!;
  for (let step = 0; step < 10; step++) {
    switch (acmeOrder.status) {
      case 'pending':
        await authorize(deps, client, cert, order, acmeOrder.authorizations);
        acmeOrder = await client.waitForOrder(url, ['ready', 'valid']);
        break;
      case 'ready': {
        const csr = await buildCsr(deps, cert, order);
        // The lease extended and the state recorded in one commit, written only if the lease is still ours.
        const renewed = await lease.renewWith((held) => setStateStatements(deps, order, 'finalizing', 'finalizing with a new CSR', held));
        if (!renewed) throw new CertkeepError('LEASE_BUSY', 'lost the certificate lease');
        acmeOrder = await client.finalizeOrder(acmeOrder.finalize, csr);
        break;
      }
      case 'processing':
        acmeOrder = await client.waitForOrder(url, ['valid']);
        break;
      case 'valid':
        await download(deps, client, cert, order, acmeOrder, lease);
        return;
      case 'invalid':
      default:
        throw new CertkeepError('ACME_ORDER_INVALID', 'the CA marked the order invalid', {
          problem: acmeOrder.error ?? (await firstAuthorizationProblem(client, acmeOrder.authorizations)),
        });
    }
  }
  throw new CertkeepError('ACME_BAD_RESPONSE', 'the order did not progress');
}

/**
 * Answers every pending authorization of the order, concurrently. All challenge tokens are
 * stored (one batch) before any challenge is answered, so the CA's validator finds them.
 */
async function authorize(deps: Deps, client: AcmeClient, cert: CertificateRow, order: OrderRow, authzUrls: string[]): Promise<void> {
  const authzs = await settleAll(authzUrls.map(async (url) => ({ url, authz: await client.getAuthorization(url) })));
  const pending = [];
  for (const { url, authz } of authzs) {
    if (authz.status === 'valid') continue;
    if (authz.status !== 'pending') throw problemOfAuthorization(authz);
    const challenge = authz.challenges.find((c) => c.type === cert.challenge);
    if (!challenge?.token) {
      throw new CertkeepError('ACME_PROBLEM', `the CA offers no ${cert.challenge} challenge for ${authz.identifier.value}`, {
        problem: { type: 'urn:certkeep:problem:no-challenge', detail: `no ${cert.challenge} challenge offered for ${authz.identifier.value}` },
      });
    }
    const keyAuthorization = await client.keyAuthorization(challenge.token);
    const record: DnsChallengeRecord | undefined =
      cert.challenge === 'dns-01'
        ? { fqdn: challengeRecordName(authz.identifier.value), value: await dns01TxtValue(keyAuthorization), name: authz.identifier.value }
        : undefined;
    pending.push({ url, authz, challenge, token: challenge.token, keyAuthorization, record });
  }
  if (pending.length === 0) return;
  const now = deps.now();
  await deps.db.batch([
    deps.db.db
      .insert(challenges)
      .values(pending.map((p) => ({ token: p.token, orderId: order.id, type: p.challenge.type, domain: p.authz.identifier.value, keyAuthorization: p.keyAuthorization, createdAt: now })))
      .onConflictDoNothing(),
    deps.db.db.update(orders).set({ state: 'authorizing', updatedAt: now }).where(eq(orders.id, order.id)),
    event(deps, order.id, 'info', `answering ${pending.length} ${cert.challenge} challenge(s)`),
  ]);
  const records = pending.flatMap((p) => (p.record ? [p.record] : []));
  if (records.length > 0) await publishDnsRecords(deps, cert, order, records);
  // No request of this order may still be running once we return, hence settleAll.
  await settleAll(
    pending.map(async (p) => {
      if (p.challenge.status === 'pending') await answerChallenge(client, p.url, p.challenge.url);
      await client.waitForAuthorization(p.url);
    }),
  );
}

/** Like Promise.all, but waits for every promise before throwing the first failure. */
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/**
 * dns-01: publishes the TXT records through the certificate's provider (one at a time, as a
 * script or an API expects), then waits until they are visible where the CA will look.
 */
async function publishDnsRecords(deps: Deps, cert: CertificateRow, order: OrderRow, records: DnsChallengeRecord[]): Promise<void> {
  const driver = await dnsDriverOf(deps, cert);
  for (const record of records) {
    const lines: DnsProviderLog[] = [];
    try {
      await driver.set(record, (line) => lines.push(line));
    } finally {
      await logProviderLines(deps, order, lines);
    }
  }
  await waitUntilVisible(deps, records);
  await event(deps, order.id, 'info', `TXT records visible: ${records.map((r) => r.fqdn).join(', ')}`);
}

async function dnsDriverOf(deps: Deps, cert: CertificateRow) {
  const provider = cert.dnsProviderId ? await findDnsProviderById(deps, cert.dnsProviderId) : undefined;
  if (!provider) throw new CertkeepError('DNS_PROVIDER_FAILED', `certificate "${cert.name}" has no DNS provider for dns-01`);
  return dnsDriverFor(deps, provider);
}

async function logProviderLines(deps: Deps, order: OrderRow, lines: DnsProviderLog[]) {
  if (lines.length === 0) return;
  const at = deps.now();
  await deps.db.db.insert(orderEvents).values(lines.map((l) => ({ orderId: order.id, at, level: l.level, message: l.message })));
}

const dnsChallengesOf = preparedQuery((db) =>
  db
    .select()
    .from(challenges)
    .where(and(eq(challenges.orderId, sql.placeholder('orderId')), eq(challenges.type, 'dns-01')))
    .prepare(),
);

/**
 * Removes the order's dns-01 TXT records by value (a wildcard and its apex share a name), before
 * the order's challenge rows go. A failure is logged, not fatal: the order's outcome stands.
 */
async function clearDnsRecords(deps: Deps, order: OrderRow): Promise<void> {
  const rows = await dnsChallengesOf(deps.db.db).all({ orderId: order.id });
  if (rows.length === 0) return;
  const cert = await findCertificateById(deps, order.certificateId);
  const lines: DnsProviderLog[] = [];
  try {
    const driver = await dnsDriverOf(deps, cert!);
    for (const row of rows) {
      const record = { fqdn: challengeRecordName(row.domain), value: await dns01TxtValue(row.keyAuthorization), name: row.domain };
      await driver.clear(record, (line) => lines.push(line)).catch((err) => {
        lines.push({ level: 'warn', message: `could not remove TXT at ${record.fqdn}: ${(err as Error).message}` });
      });
    }
  } catch (err) {
    lines.push({ level: 'warn', message: `could not remove the TXT records: ${(err as Error).message}` });
  }
  await logProviderLines(deps, order, lines);
}

/**
 * Responds to a challenge. When resuming, an earlier run may have answered it already and the
 * CA may have moved on between our read and our answer ("cannot update challenge with status
 * valid"): if the challenge is no longer pending, there is nothing to answer.
 */
async function answerChallenge(client: AcmeClient, authzUrl: string, challengeUrl: string): Promise<void> {
  try {
    await client.respondToChallenge(challengeUrl);
  } catch (err) {
    if (!(err instanceof AcmeProblemError)) throw err;
    const authz = await client.getAuthorization(authzUrl);
    const challenge = authz.challenges.find((c) => c.url === challengeUrl);
    if (authz.status === 'pending' && challenge?.status === 'pending') throw err;
  }
}

async function buildCsr(deps: Deps, cert: CertificateRow, order: OrderRow): Promise<Uint8Array> {
  const key = await findKeyById(deps, order.keyId);
  if (!key) throw new CertkeepError('INTERNAL', 'the certificate\'s key is missing');
  return createCsr({
    keyPair: await keyPair(deps, key),
    domains: JSON.parse(order.domains),
    subject: cert.subject ? (JSON.parse(cert.subject) as CsrSubject) : undefined,
  });
}

async function download(deps: Deps, client: AcmeClient, cert: CertificateRow, order: OrderRow, acmeOrder: AcmeOrder, lease: Lease): Promise<void> {
  if (!acmeOrder.certificate) throw new CertkeepError('ACME_BAD_RESPONSE', 'valid order without a certificate URL');
  // No commit of its own before the download: a run that stops here finds the order valid at
  // the CA and downloads it then. The step's line goes into the batch that stores the result.
  const downloadingAt = deps.now();
  const { pem } = await client.downloadCertificate(acmeOrder.certificate, { preferredChain: cert.preferredChain ?? undefined });
  // Only the leaf matters here; the chain is stored as the CA sent it.
  const [leafPem, ...issuerPems] = splitCertificates(pem);
  if (!leafPem) throw new CertkeepError('ACME_BAD_RESPONSE', 'the CA sent no certificate');
  const leaf = await parseCertificate(leafPem);
  const notBefore = leaf.notBefore.getTime();
  const notAfter = leaf.notAfter.getTime();
  const settings = await getSettings(deps);
  // Tracking's row of this certificate follows it in the same batch (domain/tracking); a chain
  // tracking cannot read never keeps the certificate from being stored.
  // The leaf parsed above is handed on rather than parsed again (a parse costs milliseconds of CPU).
  // The issuers are the CA's few intermediates, parsed once and kept (crypto/certificate.ts).
  const tracked = await Promise.all(issuerPems.map((p) => parseIssuerCertificate(p)))
    .then((issuers) => issuedStatements(deps, cert.id, [leaf, ...issuers]))
    .catch((err) => {
      deps.log.warn('tracking: the new certificate cannot be tracked', { certificate: cert.name, err });
      return [];
    });
  await clearDnsRecords(deps, order);
  const now = deps.now();
  // Spread a little, so that certificates obtained together do not all come due together.
  const renewAt = renewalTime(notBefore, notAfter, settings.renewDays) - renewalJitterMs(notBefore, notAfter);
  // The certificate stored, the order ended and the lease released in one commit: nothing is
  // left to do under the lease.
  await lease.releaseWith([
    deps.db.db
      .update(certificates)
      .set({
        pem,
        servedKeyId: order.keyId,
        status: 'valid',
        serial: leaf.serialNumber,
        notBefore,
        notAfter,
        renewAt,
        // A new certificate: ask the CA's renewalInfo on the next tick (domain/renewal.ts).
        ariWindowStart: null,
        ariWindowEnd: null,
        ariCheckAt: now,
        lastError: null,
        failureCount: 0,
        nextAttemptAt: null,
        failingSince: null,
        // Its expiry thresholds start afresh (domain/notifications/expiry.ts).
        expiryCheckAt: firstExpiryCheck(notAfter),
        updatedAt: now,
      })
      .where(eq(certificates.id, cert.id)),
    eventStatement(deps, renewedEvent(cert, { serial: leaf.serialNumber, notBefore, notAfter, renewAt })),
    deps.db.db.insert(orderEvents).values({ orderId: order.id, at: downloadingAt, level: 'info', message: 'downloading the certificate' }),
    deps.db.db
      .update(orders)
      .set({ state: 'done', certificateUrl: acmeOrder.certificate, serial: leaf.serialNumber, notBefore, notAfter, thumbprint: leaf.sha256Thumbprint, updatedAt: now, finishedAt: now })
      .where(eq(orders.id, order.id)),
    deps.db.db.delete(challenges).where(eq(challenges.orderId, order.id)),
    event(deps, order.id, 'info', `certificate ${leaf.serialNumber} stored, valid until ${leaf.notAfter.toISOString()}`),
    ...tracked,
    // None of its consumers has this serial yet (SPEC §4.5: stale after staleHours).
    markConsumersBehind(deps, cert.id, now),
    orderEndedStatement(deps, order.reason, 'issued'),
  ]);
  eventsWritten(deps);
  try {
    await deps.onCertificateIssued?.(cert.id);
  } catch (err) {
    deps.log.error('onCertificateIssued failed', { certificate: cert.name, err });
  }
}

/** A step of the order and its line in the order's log, both written only where `held` holds. */
function setStateStatements(deps: Deps, order: OrderRow, state: OrderState, message: string, held: SQL): Statement[] {
  const now = deps.now();
  return [
    deps.db.db.update(orders).set({ state, updatedAt: now }).where(and(eq(orders.id, order.id), held)),
    deps.db.db.insert(orderEvents).select(sql`select null as id, ${order.id} as order_id, ${now} as at, 'info' as level, ${message} as message where ${held}`),
  ];
}

/** Statements that end an order: its final state and problem, and its challenge tokens gone. */
function finishOrder(deps: Deps, order: OrderRow, state: 'failed' | 'abandoned', problem: AcmeProblem) {
  const now = deps.now();
  return [
    deps.db.db.update(orders).set({ state, error: JSON.stringify(problem), updatedAt: now, finishedAt: now }).where(eq(orders.id, order.id)),
    deps.db.db.delete(challenges).where(eq(challenges.orderId, order.id)),
    event(deps, order.id, 'error', `${state}: ${problem.detail ?? problem.type}`),
    orderEndedStatement(deps, order.reason, state),
  ] as const;
}

function event(deps: Deps, orderId: string, level: 'info' | 'warn' | 'error', message: string) {
  return deps.db.db.insert(orderEvents).values({ orderId, at: deps.now(), level, message });
}

/**
 * A failed attempt: the certificate gets the problem and a back-off; the order ends when the
 * CA refused, and stays open to be resumed when the failure was transient.
 */
async function recordFailure(
  deps: Deps,
  cert: CertificateRow,
  order: OrderRow | undefined,
  failure: { problem: AcmeProblem; retryable: boolean },
  /** The CA paused the account until then: the certificate waits for that, not for a back-off of its own. */
  pausedUntil?: number,
) {
  const fresh = (await findCertificateById(deps, cert.id)) ?? cert;
  const failures = pausedUntil === undefined ? fresh.failureCount + 1 : fresh.failureCount;
  const now = deps.now();
  const nextAttemptAt = pausedUntil ?? now + backoffMs(failures);
  // The run of failures this one belongs to: the notifier hears of its first failure, then at
  // most once a day of the run (domain/notifications/certificate-events.ts). A pause asked for by
  // the CA is a failure too: the certificate is not obtained, and someone should know.
  const failingSince = fresh.failingSince ?? now;
  const statements: Statement[] = [
    deps.db.db
      .update(certificates)
      .set({
        lastError: JSON.stringify(failure.problem),
        failureCount: failures,
        nextAttemptAt,
        failingSince,
        ...(fresh.pem ? {} : { status: 'invalid' as const }),
        updatedAt: now,
      })
      .where(eq(certificates.id, cert.id)),
    eventStatement(deps, renewalFailedEvent(fresh, { problem: failure.problem, failingSince, failures: Math.max(failures, 1), nextAttemptAt, caPausedUntil: pausedUntil, now })),
    // Every failed attempt counts its problem (/metrics), whether the order ends or resumes.
    problemStatement(deps, failure.problem.type),
  ];
  if (order && !failure.retryable) {
    await clearDnsRecords(deps, order);
    await deps.db.batch([...statements, ...finishOrder(deps, order, 'failed', failure.problem)]);
  } else {
    await deps.db.batch([
      ...statements,
      ...(order ? [event(deps, order.id, 'warn', `attempt failed, will resume: ${failure.problem.detail ?? failure.problem.type}`)] : []),
    ]);
  }
  eventsWritten(deps);
}

/**
 * An order that stopped on an error nothing recorded (the scheduler caught it): recorded as a
 * failed attempt — the back-off, `lastError` and the `renewal_failed` event — so that it is not
 * retried in a loop and someone hears of it. Best effort: the database may be what failed.
 */
export async function recordCrash(deps: Deps, certificateId: string): Promise<void> {
  try {
    const cert = await findCertificateById(deps, certificateId);
    if (!cert) return;
    const problem: AcmeProblem = { type: 'urn:certkeep:problem:internal', detail: 'the order stopped on an internal error; the server log says more' };
    await recordFailure(deps, cert, undefined, { problem, retryable: true });
  } catch (err) {
    deps.log.error('could not record a crashed order', { certificateId, err });
  }
}

const TRANSIENT_ACME = ['serverInternal', 'rateLimited', 'badNonce'];

/** Turns any error into the problem document we store and whether a resume makes sense. */
export function describeFailure(err: unknown): { problem: AcmeProblem; retryable: boolean } {
  if (err instanceof AcmeProblemError) {
    const kind = err.problem.type.split(':').pop() ?? '';
    return { problem: err.problem, retryable: TRANSIENT_ACME.includes(kind) || (err.problem.status ?? 0) >= 500 };
  }
  if (err instanceof CertkeepError) {
    const carried = err.details?.problem as AcmeProblem | undefined;
    if (carried) return { problem: carried, retryable: false };
    const retryable = ['ACME_NETWORK', 'ACME_TIMEOUT', 'LEASE_BUSY'].includes(err.code);
    return { problem: { type: `urn:certkeep:problem:${err.code.toLowerCase().replace(/_/g, '-')}`, detail: err.message }, retryable };
  }
  return { problem: { type: 'urn:certkeep:problem:internal', detail: 'internal error' }, retryable: true };
}

function problemOfAuthorization(authz: AcmeAuthorization): CertkeepError {
  const failed = authz.challenges.find((c) => c.error);
  const problem: AcmeProblem = failed?.error ?? {
    type: 'urn:ietf:params:acme:error:unauthorized',
    detail: `authorization for ${authz.identifier.value} is ${authz.status}`,
  };
  return new CertkeepError('ACME_ORDER_INVALID', `authorization for ${authz.identifier.value} is ${authz.status}`, { problem });
}

async function firstAuthorizationProblem(client: AcmeClient, urls: string[]): Promise<AcmeProblem> {
  for (const url of urls) {
    const authz = await client.getAuthorization(url).catch(() => undefined);
    if (authz && authz.status !== 'valid') {
      const problem = problemOfAuthorization(authz).details?.problem as AcmeProblem;
      if (problem) return problem;
    }
  }
  return { type: 'urn:ietf:params:acme:error:orderNotReady', detail: 'the order is invalid' };
}
