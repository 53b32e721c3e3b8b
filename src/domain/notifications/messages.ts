// Events as messages, in words, formatted for each kind of channel: a mail (plain text, and
// simple HTML beside it), a Slack message (mrkdwn), a Discord embed, a Teams Adaptive Card, an
// ntfy notification (title, priority, click URL, tags) and the signed webhook's structured JSON.
// Every message says what happened, what Certkeep does about it, and links to the page about it.
import { escapeHtml } from '../../html/html.ts';

/** An event as the senders see it (a stored event, or a test message). */
export interface MessageEvent {
  /** The event's id (the webhook's `id`); null for a test message. */
  id: number | null;
  /** An event type (SPEC §4.3), or `test`. */
  type: string;
  subject: { kind: string; name: string };
  title: string;
  body: string;
  /** Absolute URL of the page about it, or null when this server's address is not known. */
  link: string | null;
  data: Record<string, unknown>;
  createdAt: number;
}

export type Severity = 'info' | 'warning' | 'error';

/** How bad it is: a failing renewal or a certificate about to expire is an error, a renewal news. */
export function severityOf(event: Pick<MessageEvent, 'type' | 'data'>): Severity {
  const threshold = typeof event.data.threshold === 'number' ? event.data.threshold : undefined;
  switch (event.type) {
    case 'certificate.renewal_failed':
    case 'tracking.problem':
    case 'consumer.install_failed':
      return 'error';
    case 'certificate.expiring':
    case 'tracking.expiring':
      return threshold !== undefined && threshold <= 3 ? 'error' : 'warning';
    case 'certificate.revoked':
    case 'certificate.replace_early':
    case 'consumer.stale':
      return 'warning';
    default:
      return 'info';
  }
}

const FOOTER = (channel: string) => `Sent by Certkeep through the notification channel "${channel}".`;

/** A mail: `[Certkeep] <title>`, the body, the link, and why it was sent. */
export function mailMessage(event: MessageEvent, channel: string): { subject: string; text: string; html: string } {
  const subject = `[Certkeep] ${oneLine(event.title)}`;
  const text = [event.title, '', event.body, '', event.link ? `Open in Certkeep: ${event.link}` : null, '', '-- ', FOOTER(channel)].filter((l) => l !== null).join('\n');
  const paragraphs = event.body
    .split(/\n{2,}/)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`)
    .join('\n');
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<h1 style="font-size:1.2em">${escapeHtml(event.title)}</h1>
${paragraphs}
${event.link ? `<p><a href="${escapeHtml(event.link)}">Open in Certkeep</a></p>` : ''}
<p style="color:#666;font-size:0.9em">${escapeHtml(FOOTER(channel))}</p>
</body></html>`;
  return { subject, text, html };
}

/** Slack's mrkdwn needs &, < and > escaped; everything else is text. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const SLACK_ICON: Record<Severity, string> = { info: ':white_check_mark:', warning: ':warning:', error: ':rotating_light:' };

/** An incoming webhook's message: a text fallback (notifications) and the same as a section block. */
export function slackMessage(event: MessageEvent): Record<string, unknown> {
  const head = `${SLACK_ICON[severityOf(event)]} *${slackEscape(event.title)}*`;
  const body = slackEscape(truncate(event.body, 2800));
  const link = event.link ? `<${event.link}|Open in Certkeep>` : null;
  const text = [head, body, link].filter(Boolean).join('\n');
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: truncate([head, body].join('\n'), 2900) } },
      ...(link ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: link }] }] : []),
    ],
  };
}

const COLOUR: Record<Severity, number> = { info: 0x2e7d32, warning: 0xf9a825, error: 0xc62828 };

/** A Discord webhook's message: one embed; mentions in the text mention nobody. */
export function discordMessage(event: MessageEvent): Record<string, unknown> {
  return {
    username: 'Certkeep',
    allowed_mentions: { parse: [] },
    embeds: [
      {
        title: truncate(event.title, 256),
        description: truncate(event.body, 4000),
        ...(event.link ? { url: event.link } : {}),
        color: COLOUR[severityOf(event)],
        timestamp: new Date(event.createdAt).toISOString(),
        footer: { text: `Certkeep · ${event.type}` },
      },
    ],
  };
}

const TEAMS_COLOUR: Record<Severity, string> = { info: 'Good', warning: 'Warning', error: 'Attention' };

/**
 * What a Teams workflow ("When a Teams webhook request is received", then "Post card in a chat or
 * channel") takes: a message with one Adaptive Card attachment.
 */
export function teamsMessage(event: MessageEvent): Record<string, unknown> {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            { type: 'TextBlock', text: event.title, weight: 'Bolder', size: 'Medium', wrap: true, color: TEAMS_COLOUR[severityOf(event)] },
            ...event.body.split(/\n{2,}/).map((p) => ({ type: 'TextBlock', text: truncate(p, 2000), wrap: true })),
            { type: 'TextBlock', text: `Certkeep · ${event.type}`, isSubtle: true, size: 'Small', wrap: true },
          ],
          ...(event.link ? { actions: [{ type: 'Action.OpenUrl', title: 'Open in Certkeep', url: event.link }] } : {}),
        },
      },
    ],
  };
}

const NTFY_PRIORITY: Record<Severity, number> = { info: 3, warning: 4, error: 5 };
const NTFY_TAGS: Record<Severity, string[]> = { info: ['white_check_mark'], warning: ['warning'], error: ['rotating_light'] };

/**
 * ntfy's JSON publishing (`POST` to the server's root with the topic in the body): UTF-8 in the
 * title and message, unlike its headers.
 */
export function ntfyMessage(event: MessageEvent, topic: string): Record<string, unknown> {
  const severity = severityOf(event);
  return {
    topic,
    title: oneLine(event.title),
    message: truncate(event.body, 3500),
    priority: event.type === 'test' ? 3 : NTFY_PRIORITY[severity],
    tags: NTFY_TAGS[severity],
    ...(event.link ? { click: event.link, actions: [{ action: 'view', label: 'Open in Certkeep', url: event.link }] } : {}),
  };
}

/**
 * The signed webhook's body: the event as facts. `id` stays the same when a delivery is retried
 * and `sentAt` is this attempt's time: a receiver that has seen the id, or gets a `sentAt` more
 * than a few minutes old, refuses a replay. Both are inside the signed bytes.
 */
export function webhookMessage(event: MessageEvent, sentAt: number): string {
  return JSON.stringify({
    id: event.id === null ? `test-${sentAt}` : String(event.id),
    type: event.type,
    createdAt: new Date(event.createdAt).toISOString(),
    sentAt: new Date(sentAt).toISOString(),
    subject: event.subject,
    title: event.title,
    body: event.body,
    link: event.link,
    severity: severityOf(event),
    data: event.data,
  });
}

/** The test message a channel's test button sends. */
export function testEvent(channel: string, link: string | null, now: number): MessageEvent {
  return {
    id: null,
    type: 'test',
    subject: { kind: 'channel', name: channel },
    title: `Test message for the notification channel "${channel}"`,
    body: `This is a test message from Certkeep. If you read this, the notification channel "${channel}" works: Certkeep will send the events it subscribes to here.`,
    link,
    data: { channel },
    createdAt: now,
  };
}

function oneLine(text: string): string {
  return truncate(text.replace(/\s+/g, ' ').trim(), 200);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
