// Sending one message over one channel. HTTP channels go through the outbound path
// (src/net/outbound.ts): https (http only to an address CERTKEEP_ALLOW_PRIVATE_TARGETS lists), the
// private-address policy, no redirect followed (a redirected POST would carry a signed event
// somewhere the admin did not configure), a deadline and a cap on the answer read. Mail goes
// through the host's mailer (node host: nodemailer over CERTKEEP_SMTP_URL).
//
// A failure says why in words — the receiver's status and a short excerpt of its answer with every
// secret of the channel cut out, or the mail server's answer — and whether trying again can help:
// a 4xx (but 408 and 429), a redirect, a refused address or a mail server's 5xx will not change by
// itself, and the delivery fails at once; anything else is retried.
import type { Deps } from '../../deps.ts';
import { excerpt, OutboundError } from '../../net/outbound.ts';
import { webhookSignature } from '../dns/webhook.ts';
import type { OpenChannel } from './channels.ts';
import { discordMessage, mailMessage, ntfyMessage, slackMessage, teamsMessage, webhookMessage, type MessageEvent } from './messages.ts';

/** Every outgoing message must be answered within this, body included. */
export const SEND_TIMEOUT_MS = 10_000;
/** Receivers answer a line or two; a longer answer is not read further (and counts as a failure). */
export const MAX_ANSWER_BYTES = 64 * 1024;
const EXCERPT_CHARS = 200;

export const SIGNATURE_HEADER = 'X-Certkeep-Signature';
export const EVENT_HEADER = 'X-Certkeep-Event';
export const DELIVERY_HEADER = 'X-Certkeep-Delivery';
export const TIMESTAMP_HEADER = 'X-Certkeep-Timestamp';

export class DeliveryError extends Error {
  constructor(
    /** Why, in words, secrets cut out. */
    readonly words: string,
    /** Trying again will not help (the receiver refused it for good, or the address is refused). */
    readonly permanent: boolean,
  ) {
    super(words);
    this.name = 'DeliveryError';
  }
}

export interface SendOptions {
  timeoutMs?: number;
}

/** Sends `event` over `channel`; resolves with what the receiver said, or throws DeliveryError. */
export async function sendMessage(deps: Deps, channel: OpenChannel, event: MessageEvent, opts: SendOptions = {}): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? SEND_TIMEOUT_MS;
  const { config, type } = channel;
  if (type === 'email') return sendMail(deps, channel, event);
  const url = config.url!;
  const secrets = [url, config.secret, config.token, ...secretParts(url)].filter((s): s is string => !!s);
  let target = url;
  let body: string;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'Certkeep' };
  switch (type) {
    case 'slack':
      body = JSON.stringify(slackMessage(event));
      break;
    case 'discord':
      body = JSON.stringify(discordMessage(event));
      break;
    case 'teams':
      body = JSON.stringify(teamsMessage(event));
      break;
    case 'ntfy': {
      const { base, topic } = ntfyTopic(url);
      target = base;
      body = JSON.stringify(ntfyMessage(event, topic));
      if (config.token) headers.authorization = `Bearer ${config.token}`;
      break;
    }
    case 'webhook': {
      const sentAt = deps.now();
      body = webhookMessage(event, sentAt);
      headers[SIGNATURE_HEADER] = await webhookSignature(config.secret!, body);
      headers[EVENT_HEADER] = event.type;
      headers[DELIVERY_HEADER] = event.id === null ? `test-${sentAt}` : String(event.id);
      headers[TIMESTAMP_HEADER] = String(Math.floor(sentAt / 1000));
      break;
    }
    default:
      throw new DeliveryError(`unknown channel type "${type as string}"`, true);
  }
  const host = hostOf(target);
  let answer;
  try {
    answer = await deps.outbound.request(target, { method: 'POST', headers, body, timeoutMs, maxBytes: MAX_ANSWER_BYTES, schemes: 'https+private-http', secrets });
  } catch (err) {
    if (!(err instanceof OutboundError)) throw err;
    const permanent = err.reason === 'redirect' || err.reason === 'target-refused' || err.reason === 'scheme-refused';
    throw new DeliveryError(excerpt(err.words, secrets, 400), permanent);
  }
  const said = excerpt(answer.text(), secrets, EXCERPT_CHARS);
  if (answer.status >= 200 && answer.status <= 299) return `HTTP ${answer.status} from ${host}`;
  const permanent = answer.status >= 400 && answer.status <= 499 && ![408, 425, 429].includes(answer.status);
  throw new DeliveryError(`${host} answered HTTP ${answer.status}${said ? `: ${said}` : ''}`, permanent);
}

async function sendMail(deps: Deps, channel: OpenChannel, event: MessageEvent): Promise<string> {
  if (!deps.mailer) {
    throw new DeliveryError(deps.runtime === 'worker' ? 'a Worker cannot send mail' : 'no mail server is configured on this host (CERTKEEP_SMTP_URL, CERTKEEP_SMTP_FROM)', false);
  }
  const to = channel.config.to ?? [];
  const message = mailMessage(event, channel.row.name);
  let result;
  try {
    result = await deps.mailer.send({ to, ...message });
  } catch (err) {
    const code = (err as { responseCode?: unknown }).responseCode;
    const words = excerpt((err as Error).message ?? String(err), [], 400);
    throw new DeliveryError(`the mail server did not take it: ${words}`, typeof code === 'number' && code >= 500 && code <= 599);
  }
  if (result.accepted.length === 0) throw new DeliveryError(`the mail server refused every recipient: ${excerpt(result.response, [], EXCERPT_CHARS)}`, true);
  const refused = result.rejected.length ? `; refused: ${result.rejected.join(', ')}` : '';
  return `accepted for ${result.accepted.length} recipient(s)${refused}`;
}

/** ntfy's topic URL as the root to publish to and the topic (its last path segment). */
export function ntfyTopic(url: string): { base: string; topic: string } {
  const u = new URL(url);
  const parts = u.pathname.replace(/\/+$/, '').split('/');
  const topic = decodeURIComponent(parts.pop() ?? '');
  u.pathname = parts.join('/') || '/';
  u.search = '';
  return { base: u.href, topic };
}

/** The long path segments and query values of a URL: the credential of a chat webhook's URL. */
function secretParts(url: string): string[] {
  try {
    const u = new URL(url);
    return [...u.pathname.split('/'), ...[...u.searchParams.values()]].filter((p) => p.length >= 12);
  } catch {
    return [];
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the receiver';
  }
}
