// HTTP calls of the providers that speak to an API (webhook, acme-dns, Cloudflare), through the
// outbound path (src/net/outbound.ts): a deadline on every call, a cap on the answer, https (or
// http to an address CERTKEEP_ALLOW_PRIVATE_TARGETS lists), the private-address policy, and no
// redirects followed (a redirect would carry a signed or authenticated request somewhere the
// admin did not configure). Errors name the call, its status and a short excerpt of the answer —
// with every secret the call carried cut out of it.
import { CertkeepError } from '../../errors.ts';
import { excerpt, OutboundError, redact, type Outbound } from '../../net/outbound.ts';

export { redact };

export const DEFAULT_TIMEOUT_MS = 30_000;
/** More than any sane API answer (a Cloudflare page of 100 records is ~50 KB); a runaway body is not read further. */
const MAX_BODY_BYTES = 256 * 1024;
const EXCERPT_CHARS = 300;

export interface ProviderCall {
  /** 'webhook', 'acme-dns', 'cloudflare': the start of every message. */
  provider: string;
  /** What the call does, for messages: 'POST /update'. */
  what: string;
  url: string;
  init: { method: string; headers?: Record<string, string>; body?: string };
  timeoutMs?: number;
  /** Strings never to repeat in an error (tokens, passwords, secrets). */
  secrets: string[];
}

export interface ProviderAnswer {
  status: number;
  text: string;
}

/** Performs the call; throws DNS_PROVIDER_FAILED when it cannot get an answer. Any status is an answer. */
export async function callProvider(outbound: Outbound, call: ProviderCall): Promise<ProviderAnswer> {
  const timeoutMs = call.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    const response = await outbound.request(call.url, {
      ...call.init,
      timeoutMs,
      maxBytes: MAX_BODY_BYTES,
      schemes: 'https+private-http',
      secrets: call.secrets,
    });
    return { status: response.status, text: response.text() };
  } catch (err) {
    throw networkError(call, err, timeoutMs);
  }
}

/** `<provider>: <what> failed (HTTP <status>): <excerpt>` as a DNS_PROVIDER_FAILED error. */
export function statusError(call: Pick<ProviderCall, 'provider' | 'what' | 'secrets'>, answer: ProviderAnswer, detail?: string): CertkeepError {
  const said = detail ?? bodyExcerpt(answer.text, call.secrets);
  return new CertkeepError('DNS_PROVIDER_FAILED', `${call.provider}: ${call.what} failed (HTTP ${answer.status})${said ? `: ${said}` : ''}`, {
    provider: call.provider,
    status: answer.status,
  });
}

/** One line of at most a few hundred printable characters, secrets replaced. */
export function bodyExcerpt(text: string, secrets: readonly string[]): string {
  return excerpt(text, secrets, EXCERPT_CHARS);
}

/** JSON.parse that answers undefined instead of throwing. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function networkError(call: ProviderCall, err: unknown, timeoutMs: number): CertkeepError {
  if (!(err instanceof OutboundError)) throw err;
  if (err.reason === 'timeout') {
    return new CertkeepError('DNS_PROVIDER_FAILED', `${call.provider}: ${call.what} got no answer within ${formatSeconds(timeoutMs)}`, {
      provider: call.provider,
      timedOut: true,
    });
  }
  return new CertkeepError('DNS_PROVIDER_FAILED', `${call.provider}: ${call.what} failed: ${redact(err.words, call.secrets)}`, {
    provider: call.provider,
    reason: err.reason,
  });
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
