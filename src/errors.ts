// Typed errors with stable codes. Tests assert `code`, never the message.
// One place (src/http/problem.ts) turns them into application/problem+json responses.

export type ErrorCode =
  // request validation
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  /** Too many failed attempts from one address (details.retryAfterSeconds: when to try again). */
  | 'RATE_LIMITED'
  // crypto
  | 'KEY_UNSUPPORTED'
  | 'KEY_INVALID'
  | 'PEM_INVALID'
  | 'CERT_INVALID'
  | 'DECRYPT_FAILED'
  // ACME
  | 'ACME_PROBLEM'
  | 'ACME_BAD_RESPONSE'
  | 'ACME_NETWORK'
  | 'ACME_TIMEOUT'
  | 'ACME_ORDER_INVALID'
  | 'ACME_UNSUPPORTED'
  // DNS (dns-01: lookups, propagation checks, RFC 2136 updates)
  | 'DNS_NETWORK'
  | 'DNS_TIMEOUT'
  | 'DNS_BAD_RESPONSE'
  | 'DNS_LOOKUP_FAILED'
  | 'DNS_UPDATE_FAILED'
  | 'DNS_TSIG_FAILED'
  | 'DNS_NOT_PROPAGATED'
  // dns-01 providers (script, webhook, acme-dns, Cloudflare): the provider failed or refused
  | 'DNS_PROVIDER_FAILED'
  // outgoing requests (src/net/outbound.ts): the private-address or scheme policy refused the
  // target, or the request failed (reason in details.reason: TLS, connection, DNS, deadline, size)
  | 'TARGET_REFUSED'
  | 'OUTBOUND_FAILED'
  // domain
  | 'ORDER_FAILED'
  | 'LEASE_BUSY'
  | 'INTERNAL';

export class CertkeepError extends Error {
  readonly code: ErrorCode;
  /** Structured detail safe to show to a client (never secrets). */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CertkeepError';
    this.code = code;
    this.details = details;
  }
}
