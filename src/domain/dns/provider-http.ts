// HTTP calls of the providers that speak to an API (webhook, acme-dns, Cloudflare): a deadline
// on every call, no redirects followed (a redirect would carry a signed or authenticated request
// somewhere the admin did not configure), and errors that name the call, its status and a short
// excerpt of the answer — with every secret the call carried cut out of it.
import { CertkeepError } from '../../errors.ts';

export const DEFAULT_TIMEOUT_MS = 30_000;
/** More than any sane API error; a runaway body is not read further. */
const MAX_BODY_CHARS = 64 * 1024;
const EXCERPT_CHARS = 300;

export interface ProviderCall {
  /** 'webhook', 'acme-dns', 'cloudflare': the start of every message. */
  provider: string;
  /** What the call does, for messages: 'POST /update'. */
  what: string;
  url: string;
  init: RequestInit;
  timeoutMs?: number;
  /** Strings never to repeat in an error (tokens, passwords, secrets). */
  secrets: string[];
}

export interface ProviderAnswer {
  status: number;
  text: string;
}

/** Performs the call; throws DNS_PROVIDER_FAILED when it cannot get an answer. Any status is an answer. */
export async function callProvider(fetcher: typeof fetch, call: ProviderCall): Promise<ProviderAnswer> {
  const timeoutMs = call.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let response: Response;
  try {
    response = await fetcher(call.url, { ...call.init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw networkError(call, err, timeoutMs);
  }
  let text: string;
  try {
    text = (await response.text()).slice(0, MAX_BODY_CHARS);
  } catch (err) {
    throw networkError(call, err, timeoutMs);
  }
  return { status: response.status, text };
}

/** `<provider>: <what> failed (HTTP <status>): <excerpt>` as a DNS_PROVIDER_FAILED error. */
export function statusError(call: Pick<ProviderCall, 'provider' | 'what' | 'secrets'>, answer: ProviderAnswer, detail?: string): CertkeepError {
  const redirected = answer.status >= 300 && answer.status < 400 ? 'redirects are not followed; configure the final URL' : '';
  const said = detail ?? (bodyExcerpt(answer.text, call.secrets) || redirected);
  return new CertkeepError('DNS_PROVIDER_FAILED', `${call.provider}: ${call.what} failed (HTTP ${answer.status})${said ? `: ${said}` : ''}`, {
    provider: call.provider,
    status: answer.status,
  });
}

/** One line of at most a few hundred printable characters, secrets replaced. */
export function bodyExcerpt(text: string, secrets: readonly string[]): string {
  // eslint-disable-next-line no-control-regex
  const line = redact(text, secrets).replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return line.length > EXCERPT_CHARS ? `${line.slice(0, EXCERPT_CHARS)}…` : line;
}

/** Replaces every occurrence of each secret (the longest first, so one inside another is still cut). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join('[redacted]');
  }
  return out;
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
  const name = (err as { name?: string } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new CertkeepError('DNS_PROVIDER_FAILED', `${call.provider}: ${call.what} got no answer within ${formatSeconds(timeoutMs)}`, {
      provider: call.provider,
      timedOut: true,
    });
  }
  return new CertkeepError('DNS_PROVIDER_FAILED', `${call.provider}: ${call.what} failed: ${redact(describeNetworkError(err), call.secrets)}`, {
    provider: call.provider,
  });
}

/** Node's fetch says only "fetch failed"; the reason (ECONNREFUSED, a TLS error) is in `cause`. */
function describeNetworkError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const reason = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
  return reason ? `${message} (${reason})` : message;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
