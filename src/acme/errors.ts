// Typed errors of the ACME client. A CA's problem document (RFC 8555 §6.7) is kept whole on
// the error — type, detail, status, subproblems, identifier — never flattened into a string,
// so callers can store it (SPEC §4 `lastError`) and branch on `type`.

import { CertkeepError } from '../errors.ts';
import type { AcmeOrder, AcmeProblem } from './types.ts';

/** RFC 8555 §6.7: the namespace of ACME error types. */
export const ACME_ERROR_PREFIX = 'urn:ietf:params:acme:error:';

/** `acmeErrorType('badNonce')` → `urn:ietf:params:acme:error:badNonce`. */
export function acmeErrorType(name: string): string {
  return ACME_ERROR_PREFIX + name;
}

function describe(problem: AcmeProblem): string {
  return problem.detail ? `${problem.type}: ${problem.detail}` : problem.type;
}

/** The CA answered with a problem document (code `ACME_PROBLEM`). */
export class AcmeProblemError extends CertkeepError {
  readonly problem: AcmeProblem;
  /** HTTP status of the response that carried the problem, when there was one. */
  readonly status?: number;
  /** The request URL that failed. */
  readonly url?: string;
  /** How long the CA asked us to wait (429/503 Retry-After beyond what the client would sleep). */
  readonly retryAfterMs?: number;

  constructor(problem: AcmeProblem, opts: { status?: number; url?: string; retryAfterMs?: number } = {}) {
    super('ACME_PROBLEM', describe(problem), {
      problem,
      ...(opts.status !== undefined && { status: opts.status }),
      ...(opts.url !== undefined && { url: opts.url }),
      ...(opts.retryAfterMs !== undefined && { retryAfterMs: opts.retryAfterMs }),
    });
    this.name = 'AcmeProblemError';
    this.problem = problem;
    this.status = opts.status;
    this.url = opts.url;
    this.retryAfterMs = opts.retryAfterMs;
  }

  /** True when the problem's type is the ACME error `name` (e.g. `is('accountDoesNotExist')`). */
  is(name: string): boolean {
    return this.problem.type === acmeErrorType(name);
  }
}

/** The order became `invalid` (code `ACME_ORDER_INVALID`). */
export class AcmeOrderInvalidError extends CertkeepError {
  readonly order: AcmeOrder;
  /** The order's own `error` (RFC 8555 §7.1.3), when the CA set one. */
  readonly problem?: AcmeProblem;
  /** The failed challenges' problems, one per failed authorization, each with its identifier. */
  readonly authorizationProblems: AcmeProblem[];

  constructor(order: AcmeOrder, authorizationProblems: AcmeProblem[], url?: string) {
    const first = order.error ?? authorizationProblems[0];
    super('ACME_ORDER_INVALID', first ? `order is invalid: ${describe(first)}` : 'order is invalid', {
      ...(url !== undefined && { url }),
      ...(order.error && { problem: order.error }),
      authorizationProblems,
    });
    this.name = 'AcmeOrderInvalidError';
    this.order = order;
    this.problem = order.error;
    this.authorizationProblems = authorizationProblems;
  }
}

/** The CA could not be reached, or the connection broke (code `ACME_NETWORK`). */
export class AcmeNetworkError extends CertkeepError {
  constructor(url: string, cause: unknown) {
    // An OutboundError says what happened in words (an untrusted certificate, a refused
    // connection, a deadline) and why, in `reason`.
    const words = (cause as { words?: unknown } | null)?.words;
    const reason = typeof words === 'string' ? words : cause instanceof Error ? cause.message : String(cause);
    const outboundReason = (cause as { reason?: unknown } | null)?.reason;
    super('ACME_NETWORK', `request to ${url} failed: ${reason}`, { url, ...(typeof outboundReason === 'string' && { reason: outboundReason }) }, { cause });
    this.name = 'AcmeNetworkError';
  }
}

/** The CA answered something this client cannot read (code `ACME_BAD_RESPONSE`). */
export class AcmeBadResponseError extends CertkeepError {
  constructor(message: string, details: { url?: string; status?: number } = {}) {
    super('ACME_BAD_RESPONSE', message, details);
    this.name = 'AcmeBadResponseError';
  }
}

/** Polling gave up before the resource reached the wanted state (code `ACME_TIMEOUT`). */
export class AcmeTimeoutError extends CertkeepError {
  constructor(url: string, timeoutMs: number, lastStatus: string) {
    super('ACME_TIMEOUT', `${url} still ${lastStatus} after ${timeoutMs} ms`, { url, timeoutMs, lastStatus });
    this.name = 'AcmeTimeoutError';
  }
}

/** The CA lacks what the caller asked for (code `ACME_UNSUPPORTED`). */
export class AcmeUnsupportedError extends CertkeepError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('ACME_UNSUPPORTED', message, details);
    this.name = 'AcmeUnsupportedError';
  }
}
