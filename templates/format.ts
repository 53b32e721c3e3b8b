// Words and numbers as the pages show them: times in UTC, days left, key types by their usual
// names, and ACME problem documents (RFC 8555 §6.7) explained in a sentence before the CA's own
// detail. Everything returns Html or plain strings; `html` escapes whatever a CA wrote.
import { html, type Html } from '../src/html/html.ts';
import type { AcmeProblem } from '../src/acme/types.ts';

const DAY = 86_400_000;

/** `2030-01-02 13:45 UTC`, or an em dash for nothing. Accepts epoch ms or an ISO string. */
export function formatTime(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return '—';
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** `2030-01-02`, or an em dash. */
export function formatDate(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '—' : date.toISOString().slice(0, 10);
}

/** Whole days from `now` until `until` (negative once past). */
export function daysLeft(until: number, now: number): number {
  return Math.floor((until - now) / DAY);
}

/** "in 89 days", "today", "3 days ago". */
export function relativeDays(until: number, now: number): string {
  const days = daysLeft(until, now);
  if (days === 0) return 'today';
  if (days > 0) return `in ${days} day${days === 1 ? '' : 's'}`;
  return `${-days} day${days === -1 ? '' : 's'} ago`;
}

const KEY_TYPE_LABELS: Record<string, string> = {
  'ec-p256': 'EC P-256',
  'ec-p384': 'EC P-384',
  'rsa-2048': 'RSA 2048',
  'rsa-3072': 'RSA 3072',
  'rsa-4096': 'RSA 4096',
};

/** `ec-p256` → `EC P-256`; an unknown type as it is. */
export function keyTypeLabel(type: string): string {
  return KEY_TYPE_LABELS[type] ?? type;
}

/**
 * What each problem type means for the admin, in a sentence. ACME types (RFC 8555 §6.7) by their
 * last segment; Certkeep's own (`urn:certkeep:problem:*`) by theirs.
 */
const PROBLEM_WORDS: Record<string, string> = {
  // RFC 8555 §6.7
  accountDoesNotExist: 'The CA does not know the ACME account.',
  alreadyRevoked: 'The certificate was already revoked.',
  badCSR: 'The CA refused the certificate signing request.',
  badNonce: 'The CA refused a stale request number (nonce); another attempt normally succeeds.',
  badPublicKey: 'The CA does not accept this kind of key.',
  badRevocationReason: 'The CA does not accept this revocation reason.',
  badSignatureAlgorithm: 'The CA does not accept the signature algorithm.',
  caa: 'A CAA record in DNS forbids this CA to issue for the name.',
  compound: 'Several things went wrong; each name is listed below.',
  connection: 'The CA could not connect to the server for the name. Check that the name points at a server which redirects /.well-known/acme-challenge/ to Certkeep.',
  dns: 'The CA could not look the name up in DNS.',
  externalAccountRequired: 'The CA requires external account binding (EAB) for new accounts.',
  incorrectResponse: 'The CA received a wrong answer to the challenge. Check the redirect to Certkeep, or the DNS record.',
  invalidContact: 'The CA refused the contact email address.',
  malformed: 'The CA found the request malformed.',
  orderNotReady: 'The order was not ready to be finalized.',
  rateLimited: "The CA's rate limit was reached. Certkeep tries again later.",
  rejectedIdentifier: 'The CA will not issue certificates for this name.',
  serverInternal: 'The CA had an internal error. Certkeep tries again later.',
  tls: 'The TLS connection to the server for the name failed.',
  unauthorized: 'The CA could not confirm that this server controls the name.',
  unsupportedContact: 'The CA does not support the contact address.',
  unsupportedIdentifier: 'The CA does not issue for this kind of name.',
  userActionRequired: 'The CA needs you to do something first (for example to accept new terms of service).',
  alreadyReplaced: 'The certificate was already replaced by another renewal.',
  // Certkeep's own
  'acme-network': 'Certkeep could not reach the CA. It tries again later.',
  'acme-timeout': 'The CA did not answer in time. Certkeep tries again later.',
  'acme-bad-response': 'The CA answered with something Certkeep could not understand.',
  'acme-order-invalid': 'The CA marked the order invalid.',
  'dns-provider-failed': 'The DNS provider could not set or remove the challenge record.',
  'dns-not-propagated': 'The challenge record did not become visible in DNS in time.',
  'dns-timeout': 'A DNS server did not answer in time.',
  'dns-network': 'A DNS server could not be reached.',
  'no-challenge': 'The CA offered no challenge of the kind this certificate uses.',
  'lease-busy': 'Another run was already working on this certificate.',
  internal: 'Certkeep ran into an internal error. It tries again later; the server log has details.',
};

/** The problem's type name: `urn:ietf:params:acme:error:dns` → `dns`. */
function typeName(type: string | undefined): string {
  return (type ?? '').split(':').pop() ?? '';
}

/** The sentence for a problem type, or a neutral one for types we do not know. */
export function problemSummary(problem: Pick<AcmeProblem, 'type'>): string {
  return PROBLEM_WORDS[typeName(problem.type)] ?? 'The attempt failed.';
}

/**
 * A problem document for people: our sentence, the CA's own detail, and one line per name for
 * compound problems. `type` is shown small for whoever searches for it.
 */
export function problemInWords(problem: AcmeProblem | null | undefined): Html {
  if (!problem) return html``;
  const subproblems = Array.isArray(problem.subproblems) ? problem.subproblems : [];
  const ours = (problem.type ?? '').startsWith('urn:certkeep:');
  return html`<div class="problem">
<p><strong>${problemSummary(problem)}</strong>${problem.detail ? html` ${ours ? 'Details' : 'The CA said'}: ${problem.detail}` : null}</p>
${subproblems.length > 0
  ? html`<ul>${subproblems.map(
      (s) => html`<li>${s.identifier?.value ? html`<strong>${s.identifier.value}</strong>: ` : null}${problemSummary(s)}${s.detail ? html` ${s.detail}` : null}</li>`,
    )}</ul>`
  : null}
<p class="hint">Problem type: <code>${problem.type}</code></p>
</div>`;
}
