// The one place where errors become responses: RFC 9457 problem documents.
import { CertkeepError, type ErrorCode } from '../errors.ts';
import type { AcmeProblem } from '../acme/index.ts';
import type { Logger } from '../log.ts';

const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  KEY_UNSUPPORTED: 400,
  KEY_INVALID: 400,
  PEM_INVALID: 400,
  CERT_INVALID: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  LEASE_BUSY: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  ACME_PROBLEM: 502,
  ACME_BAD_RESPONSE: 502,
  ACME_NETWORK: 502,
  ACME_TIMEOUT: 504,
  ACME_ORDER_INVALID: 502,
  ACME_UNSUPPORTED: 502,
  ORDER_FAILED: 502,
  DNS_PROVIDER_FAILED: 502,
  DNS_NETWORK: 502,
  DNS_TIMEOUT: 504,
  DNS_BAD_RESPONSE: 502,
  DNS_LOOKUP_FAILED: 502,
  DNS_UPDATE_FAILED: 502,
  DNS_TSIG_FAILED: 502,
  DNS_NOT_PROPAGATED: 504,
  TARGET_REFUSED: 502,
  OUTBOUND_FAILED: 502,
};

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
  500: 'Internal server error',
  502: 'The ACME server refused or failed',
  503: 'Service unavailable',
  504: 'The ACME server did not answer in time',
};

export function problemResponse(status: number, detail: string, extra: Record<string, unknown> = {}, headers: HeadersInit = {}): Response {
  const body = { type: 'about:blank', title: TITLES[status] ?? 'Error', status, detail, ...extra };
  const h = new Headers(headers);
  h.set('content-type', 'application/problem+json');
  h.set('cache-control', 'no-store');
  return new Response(JSON.stringify(body), { status, headers: h });
}

/** An ACME problem document relayed to our client: the CA's `type`, `detail` and `subproblems` stay whole. */
export function acmeProblemResponse(problem: AcmeProblem, status = 502, extra: Record<string, unknown> = {}): Response {
  return problemResponse(status, problem.detail ?? problem.type, {
    type: problem.type,
    ...(problem.subproblems ? { subproblems: problem.subproblems } : {}),
    acme: problem,
    ...extra,
  });
}

/** The status an error is answered with (errorResponse). */
export function statusOfError(err: unknown): number {
  return err instanceof CertkeepError ? (STATUS[err.code] ?? 500) : 500;
}

export function errorResponse(err: unknown, log: Logger): Response {
  if (err instanceof CertkeepError) {
    const status = statusOfError(err);
    if (status >= 500 && !/^(ACME_|DNS_|TARGET_|OUTBOUND_)/.test(err.code)) {
      log.error('request failed', { err });
      return problemResponse(status, 'internal error', { code: err.code });
    }
    const problem = (err.details?.problem ?? (err as { problem?: AcmeProblem }).problem) as AcmeProblem | undefined;
    if (problem) return acmeProblemResponse(problem, status, { code: err.code });
    const field = err.details?.field as string | undefined;
    const retryAfter = err.details?.retryAfterSeconds;
    return problemResponse(
      status,
      err.message,
      { code: err.code, ...(field ? { field, 'invalid-params': [{ name: field, reason: err.message }] } : {}) },
      typeof retryAfter === 'number' ? { 'retry-after': String(retryAfter) } : {},
    );
  }
  log.error('unhandled error', { err });
  return problemResponse(500, 'internal error');
}
