// The certificate events of SPEC §4.3 in words: what happened, the CA's problem as the CA put it
// (type, detail and each subproblem), what Certkeep does next, and what is being served meanwhile.
// Each builder returns a NewEvent for the batch of the change that caused it (domain/events.ts);
// the dedupe key decides how often it may happen.
import type { AcmeProblem } from '../../acme/index.ts';
import type { CertificateRow } from '../certificates.ts';
import type { NewEvent } from '../events.ts';

const DAY = 86_400_000;

/** `2026-12-08 14:03 UTC` */
export function when(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Whole days from `now` to `at`, rounded down (5.9 days left is "5 days"). */
export function daysLeft(at: number, now: number): number {
  return Math.floor((at - now) / DAY);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

const domainsOf = (cert: CertificateRow) => JSON.parse(cert.domains) as string[];
const linkOf = (cert: CertificateRow) => `/certificates/${encodeURIComponent(cert.name)}`;
const subjectOf = (cert: CertificateRow) => ({ kind: 'certificate' as const, id: cert.id, name: cert.name });

/** `rejectedIdentifier` for `urn:ietf:params:acme:error:rejectedIdentifier`; Certkeep's own as `dns-provider-failed`. */
export function shortProblemType(type: string): string {
  return type.replace(/^urn:ietf:params:acme:error:/, '').replace(/^urn:certkeep:problem:/, '');
}

/** The CA's problem in words: its type and detail, then one line per subproblem. */
export function problemInWords(problem: AcmeProblem): string {
  const lines = [`${shortProblemType(problem.type)}: ${problem.detail ?? problem.title ?? 'no detail given'}`];
  for (const sub of problem.subproblems ?? []) {
    const who = sub.identifier?.value ? `${sub.identifier.value}: ` : '';
    lines.push(`  - ${who}${shortProblemType(sub.type)}: ${sub.detail ?? 'no detail given'}`);
  }
  return lines.join('\n');
}

function servedInWords(cert: CertificateRow, now: number): string {
  if (!cert.pem || cert.notAfter === null) return 'No certificate has been issued for it yet: nothing is served under this name.';
  const left = daysLeft(cert.notAfter, now);
  if (cert.notAfter <= now) return `The certificate it serves (serial ${cert.serial}) expired on ${when(cert.notAfter)}.`;
  return `The certificate being served (serial ${cert.serial}) stays in place; it is valid until ${when(cert.notAfter)} (${plural(left, 'day')} left).`;
}

/**
 * `certificate.renewal_failed`: the first failure of a run of failures, then at most once a day
 * while it keeps failing — the dedupe key is the run's start and the day of the run.
 */
export function renewalFailedEvent(
  cert: CertificateRow,
  f: { problem: AcmeProblem; failingSince: number; failures: number; nextAttemptAt: number; caPausedUntil?: number; now: number },
): NewEvent {
  const dayOfRun = Math.floor((f.now - f.failingSince) / DAY);
  const obtaining = cert.pem ? 'Renewing' : 'Obtaining';
  const again =
    f.caPausedUntil !== undefined
      ? `The CA asked Certkeep to wait: no new order of this ACME account before ${when(f.caPausedUntil)}, then it tries again by itself.`
      : `Certkeep tries again by itself at ${when(f.nextAttemptAt)}${f.failures > 1 ? ` (${plural(f.failures, 'failed attempt')} in a row since ${when(f.failingSince)})` : ''}; "Issue now" on its page tries at once.`;
  const body = [
    `${obtaining} the certificate ${cert.name} (${domainsOf(cert).join(', ')}) failed. The CA's problem:`,
    problemInWords(f.problem),
    again,
    servedInWords(cert, f.now),
    ...(dayOfRun > 0 ? [`It has been failing for ${plural(dayOfRun, 'day')}; this message comes at most once a day while it does.`] : []),
  ].join('\n\n');
  return {
    type: 'certificate.renewal_failed',
    dedupeKey: `certificate.renewal_failed:${cert.id}:${f.failingSince}:${dayOfRun}`,
    subject: subjectOf(cert),
    title: `${obtaining} ${cert.name} failed: ${shortProblemType(f.problem.type)}`,
    body,
    link: linkOf(cert),
    data: {
      certificate: cert.name,
      domains: domainsOf(cert),
      problem: f.problem,
      failures: f.failures,
      failingSince: new Date(f.failingSince).toISOString(),
      nextAttemptAt: new Date(f.caPausedUntil ?? f.nextAttemptAt).toISOString(),
      servedSerial: cert.serial,
      servedNotAfter: cert.notAfter === null ? null : new Date(cert.notAfter).toISOString(),
    },
  };
}

/** `certificate.renewed`: a new certificate is served (once per serial). */
export function renewedEvent(cert: CertificateRow, issued: { serial: string; notBefore: number; notAfter: number; renewAt: number }): NewEvent {
  const first = !cert.pem;
  const body = [
    `${first ? 'Certkeep obtained the first certificate for' : 'Certkeep renewed'} ${cert.name} (${domainsOf(cert).join(', ')}).`,
    `The new certificate (serial ${issued.serial}) is valid from ${when(issued.notBefore)} until ${when(issued.notAfter)}, and is served from now on${first ? '' : ` instead of serial ${cert.serial}`}. Servers fetching it get the new one.`,
    `Its next renewal is planned for ${day(issued.renewAt)}.`,
  ].join('\n\n');
  return {
    type: 'certificate.renewed',
    dedupeKey: `certificate.renewed:${cert.id}:${issued.serial}`,
    subject: subjectOf(cert),
    title: `${cert.name} was ${first ? 'issued' : 'renewed'}: valid until ${day(issued.notAfter)}`,
    body,
    link: linkOf(cert),
    data: {
      certificate: cert.name,
      domains: domainsOf(cert),
      serial: issued.serial,
      notBefore: new Date(issued.notBefore).toISOString(),
      notAfter: new Date(issued.notAfter).toISOString(),
      previousSerial: cert.serial,
    },
  };
}

const REVOCATION_REASONS: Record<number, string> = {
  0: 'unspecified',
  1: 'key compromise',
  2: 'CA compromise',
  3: 'affiliation changed',
  4: 'superseded',
  5: 'cessation of operation',
  6: 'certificate hold',
  8: 'remove from CRL',
  9: 'privilege withdrawn',
  10: 'AA compromise',
};

/** `certificate.revoked` (once per serial). */
export function revokedEvent(cert: CertificateRow, reason: number, now: number): NewEvent {
  const reasonText = REVOCATION_REASONS[reason] ?? `code ${reason}`;
  return {
    type: 'certificate.revoked',
    dedupeKey: `certificate.revoked:${cert.id}:${cert.serial}`,
    subject: subjectOf(cert),
    title: `${cert.name} was revoked (${reasonText})`,
    body: [
      `The certificate ${cert.name} (${domainsOf(cert).join(', ')}), serial ${cert.serial}, was revoked at the CA on ${when(now)}. Reason: ${reasonText}.`,
      'Clients that check revocation refuse it from now on. Certkeep no longer renews it: create a new certificate for these names to replace it on the servers that use it.',
    ].join('\n\n'),
    link: linkOf(cert),
    data: { certificate: cert.name, domains: domainsOf(cert), serial: cert.serial, reason, reasonText },
  };
}

/** `certificate.replace_early`: the CA's ARI window moved before the planned renewal (once per serial and window). */
export function replaceEarlyEvent(cert: CertificateRow, w: { start: number; end: number; renewAt: number; explanationURL?: string | null; now: number }): NewEvent {
  return {
    type: 'certificate.replace_early',
    dedupeKey: `certificate.replace_early:${cert.id}:${cert.serial}:${w.start}`,
    subject: subjectOf(cert),
    title: `The CA asks to replace ${cert.name} early: renewing now`,
    body: [
      `The CA's renewal information (ARI) for ${cert.name} (${domainsOf(cert).join(', ')}), serial ${cert.serial}, now suggests renewing between ${when(w.start)} and ${when(w.end)} — before the renewal Certkeep had planned for ${cert.renewAt === null ? 'later' : when(cert.renewAt)}. A CA does this when it is about to revoke certificates, for example after an incident.`,
      `Certkeep renews it at ${when(w.renewAt)}${w.renewAt <= w.now ? ' (now)' : ''}, naming the certificate it replaces. Servers must fetch the new certificate soon after: check the certificate's consumers on its page.`,
      ...(w.explanationURL ? [`The CA explains: ${w.explanationURL}`] : []),
    ].join('\n\n'),
    link: linkOf(cert),
    data: {
      certificate: cert.name,
      domains: domainsOf(cert),
      serial: cert.serial,
      windowStart: new Date(w.start).toISOString(),
      windowEnd: new Date(w.end).toISOString(),
      plannedRenewAt: cert.renewAt === null ? null : new Date(cert.renewAt).toISOString(),
      renewAt: new Date(w.renewAt).toISOString(),
      explanationURL: w.explanationURL ?? null,
    },
  };
}

/** `certificate.expiring` at a threshold (once per certificate, serial and threshold). */
export function expiringEvent(cert: CertificateRow, threshold: number, now: number): NewEvent {
  const left = daysLeft(cert.notAfter!, now);
  const renewal =
    cert.lastError !== null
      ? `Renewing it keeps failing (${plural(cert.failureCount, 'failed attempt')}); the last problem: ${problemInWords(JSON.parse(cert.lastError) as AcmeProblem)}`
      : cert.renewAt !== null && cert.renewAt > now
        ? `Certkeep renews it by itself from ${when(cert.renewAt)}.`
        : 'Its renewal is due and has not succeeded yet: look at its page.';
  return {
    type: 'certificate.expiring',
    dedupeKey: `certificate.expiring:${cert.id}:${cert.serial}:${threshold}`,
    subject: subjectOf(cert),
    title: left < 1 ? `${cert.name} expires within a day` : `${cert.name} expires in ${plural(left, 'day')}`,
    body: [`The certificate ${cert.name} (${domainsOf(cert).join(', ')}), serial ${cert.serial}, expires on ${when(cert.notAfter!)}.`, renewal].join('\n\n'),
    link: linkOf(cert),
    data: { certificate: cert.name, domains: domainsOf(cert), serial: cert.serial, notAfter: new Date(cert.notAfter!).toISOString(), daysLeft: left, threshold },
  };
}
