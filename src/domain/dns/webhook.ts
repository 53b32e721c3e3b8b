// The `webhook` dns-01 provider: the admin's own endpoint publishes the record.
//
//   POST <url>
//   Content-Type: application/json
//   X-Certkeep-Signature: sha256=<hex HMAC-SHA256(secret, body bytes)>
//
//   {"action":"set"|"clear","fqdn":"_acme-challenge.www.example.com","value":"<TXT value>"}
//
// Any 2xx is success. The receiver checks the signature over the exact bytes it received
// (before parsing) with a constant-time comparison, the same scheme GitHub uses for its hooks.
import { toHex, utf8 } from '../../util/encoding.ts';
import { configObject, fieldError, requiredText, serviceUrl } from './provider-config.ts';
import { callProvider, statusError } from './provider-http.ts';
import type { DnsChallengeRecord, DnsProviderDriver, DnsProviderLog } from './types.ts';
import type { Outbound } from '../../net/outbound.ts';

export interface WebhookConfig {
  url: string;
  /** HMAC key, used as its UTF-8 bytes. */
  secret: string;
}

export const WEBHOOK_SIGNATURE_HEADER = 'X-Certkeep-Signature';
/** Short secrets can be guessed offline from one signed request. */
const MIN_SECRET_LENGTH = 16;

/** Validates `{"url","secret"}` (the provider's fields without `name` and `type`). */
export function validateWebhookConfig(input: unknown, outbound: Outbound): WebhookConfig {
  const obj = configObject(input, '', ['url', 'secret']);
  const url = serviceUrl(obj, 'url', 'url', outbound);
  const secret = requiredText(obj, 'secret', 'secret', 1024);
  if (secret.length < MIN_SECRET_LENGTH) throw fieldError('secret', `at least ${MIN_SECRET_LENGTH} characters`);
  return { url: url.href, secret };
}

/** What the admin API shows: never the secret. */
export function describeWebhookConfig(config: WebhookConfig): { url: string } {
  return { url: config.url };
}

/** `sha256=<hex>`: the header value for `body`. */
export async function webhookSignature(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', utf8(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return `sha256=${toHex(await crypto.subtle.sign('HMAC', key, utf8(body)))}`;
}

export function webhookDriver(config: WebhookConfig, outbound: Outbound, opts: { timeoutMs?: number } = {}): DnsProviderDriver {
  const send = async (action: 'set' | 'clear', record: DnsChallengeRecord, log: (entry: DnsProviderLog) => void): Promise<void> => {
    const body = JSON.stringify({ action, fqdn: record.fqdn, value: record.value });
    const call = {
      provider: 'webhook',
      what: `${action} ${record.fqdn}`,
      url: config.url,
      init: {
        method: 'POST',
        headers: { 'content-type': 'application/json', [WEBHOOK_SIGNATURE_HEADER]: await webhookSignature(config.secret, body) },
        body,
      },
      timeoutMs: opts.timeoutMs,
      secrets: [config.secret],
    };
    const answer = await callProvider(outbound, call);
    if (answer.status < 200 || answer.status > 299) throw statusError(call, answer);
    log({ level: 'info', message: `webhook: ${action} ${record.fqdn} accepted (HTTP ${answer.status})` });
  };
  return {
    set: (record, log) => send('set', record, log),
    clear: (record, log) => send('clear', record, log),
  };
}
