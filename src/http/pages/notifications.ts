// /notifications: where Certkeep tells people what happened. The channels (a list; a form per
// channel type with the events as checkboxes — the form's fields become the same input the JSON
// API takes, and the same validator decides, so a mistake is named next to its field); a page
// per channel with its settings (secrets never shown), an edit form, a test button and removal;
// and the delivery log with filters. Email needs the node host with SMTP settings, and the pages
// say so where it matters.
import type { HandlerContext, RoutedRequest } from '../context.ts';
import { html, page, type Html } from '../../html/html.ts';
import { layout, type Flash } from '../../../templates/layout.ts';
import { button, checkboxField, csrfField, field, linkButton, postButton, selectField, table, textareaField } from '../../../templates/components.ts';
import { detailsTable, wrappable } from '../../../templates/details.ts';
import { confirmForm, confirmed } from '../../../templates/confirm-form.ts';
import { errorField, fieldMessage } from '../../../templates/error-text.ts';
import { formatTime } from '../../../templates/format.ts';
import { cursorPager } from '../../../templates/pager.ts';
import { CertkeepError } from '../../errors.ts';
import { EVENT_TYPES, type EventType } from '../../domain/events.ts';
import * as channels from '../../domain/notifications/channels.ts';
import { pageChannels, testChannel } from '../../domain/notifications/manage.ts';
import { DELIVERY_STATES, pageDeliveries, parseDeliveryQuery } from '../../domain/notifications/outbox.ts';
import { parseNameListQuery } from '../../domain/lists.ts';
import { NAME_HINT, NAME_PATTERN } from '../validate.ts';
import { linkOriginOf } from '../notifications-api.ts';
import { byPage, redirect, signedIn, type PageContext } from './guard.ts';
import type { PageRoute } from './routes.ts';

type Errors = Record<string, string>;
type ChannelType = channels.ChannelType;

export const NOTIFICATIONS_PATH = '/notifications';
export const NEW_CHANNEL_PATH = '/notifications/channels/new';
export const DELIVERY_LOG_PATH = '/notifications/log';
export const channelPath = (name: string) => `/notifications/channels/${encodeURIComponent(name)}`;

const CHANNELS_PER_PAGE = 50;
const DELIVERIES_PER_PAGE = 50;

const section = (pc: PageContext) => ({ csrfToken: pc.session.csrfToken, section: 'notifications' as const });

/** Each type in a few words, and where its URL comes from. */
const TYPE_TEXT: Record<ChannelType, { short: string; description: Html; urlHint?: Html }> = {
  email: {
    short: 'mail to one or more addresses',
    description: html`Mail to the addresses below, through this server's mail server (<code>CERTKEEP_SMTP_URL</code>), from <code>CERTKEEP_SMTP_FROM</code>.`,
  },
  slack: {
    short: 'a Slack channel, through an incoming webhook',
    description: html`A Slack channel, through an <a href="https://api.slack.com/messaging/webhooks" rel="noreferrer">incoming webhook</a> (Slack app → Incoming Webhooks → Add New Webhook).`,
    urlHint: html`https://hooks.slack.com/services/…. The URL is the webhook's credential: it is stored encrypted and shown masked.`,
  },
  teams: {
    short: 'a Microsoft Teams chat or channel, through a workflow',
    description: html`A Microsoft Teams chat or channel, through a Teams workflow started by the template “Post to a channel when a webhook request is received”. Certkeep sends an Adaptive Card.`,
    urlHint: html`The workflow's HTTP POST URL. It carries the workflow's signature: it is stored encrypted and shown masked.`,
  },
  discord: {
    short: 'a Discord channel, through a webhook',
    description: html`A Discord channel, through a webhook (Server Settings → Integrations → Webhooks). Messages mention nobody.`,
    urlHint: html`https://discord.com/api/webhooks/…. The URL is the webhook's credential: it is stored encrypted and shown masked.`,
  },
  ntfy: {
    short: 'push notifications to phones through ntfy',
    description: html`Push notifications through an <a href="https://ntfy.sh" rel="noreferrer">ntfy</a> server: its app shows them with a title, a priority and a link back here.`,
    urlHint: html`The topic's URL, e.g. https://ntfy.sh/my-certkeep-alerts (choose a topic name nobody guesses), or your own server's.`,
  },
  webhook: {
    short: 'JSON to an endpoint of yours, signed',
    description: html`Certkeep POSTs each event as JSON to your URL, signed with a shared secret: <code>X-Certkeep-Signature: sha256=&lt;hex HMAC-SHA256 of the body&gt;</code>. The body's <code>id</code> (also <code>X-Certkeep-Delivery</code>) stays the same when a delivery is retried, and <code>sentAt</code> (also <code>X-Certkeep-Timestamp</code>) is the time of this attempt: refuse an id you have seen or a message more than a few minutes old. Any 2xx answer is success.`,
    urlHint: html`https, or http to an address this server may reach (CERTKEEP_ALLOW_PRIVATE_TARGETS). Redirects are not followed.`,
  },
};

const secretHint = 'Stored encrypted and never shown again. After a mistake elsewhere in the form, enter it again.';

/** The types this host can send to, and why the others cannot. */
function offered(ctx: HandlerContext): { types: ChannelType[]; missing: Array<{ type: ChannelType; why: string }> } {
  const types: ChannelType[] = [];
  const missing: Array<{ type: ChannelType; why: string }> = [];
  for (const type of channels.CHANNEL_TYPES) {
    const why = channels.channelTypeUnavailable(ctx.deps, type);
    if (why) missing.push({ type, why });
    else types.push(type);
  }
  return { types, missing };
}

// ---- form text → the API's input ---------------------------------------------------------------

/** Addresses separated by new lines, commas, semicolons or spaces (as Certera's recipients field). */
export function recipients(text: string | null): string[] {
  return (text ?? '')
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function formInput(type: ChannelType, form: URLSearchParams, editing: boolean): Record<string, unknown> {
  const text = (name: string) => (form.get(name) ?? '').trim() || undefined;
  const events = form.getAll('events');
  const days = form.getAll('expiringDays').map((d) => (/^\d+$/.test(d) ? Number(d) : d));
  const input: Record<string, unknown> = {
    events,
    // No threshold ticked matters only to a channel that wants expiry warnings.
    expiringDays: days.length > 0 || events.some((e) => e.endsWith('.expiring')) ? days : undefined,
  };
  if (type === 'email') input.to = recipients(form.get('to'));
  else {
    const url = text('url');
    if (url !== undefined || !editing) input.url = url;
  }
  if (type === 'webhook' && (form.get('secret') || !editing)) input.secret = form.get('secret') || undefined;
  if (type === 'ntfy') {
    if (form.get('removeToken') === 'yes') input.token = null;
    else if (form.get('token')) input.token = form.get('token');
  }
  return input;
}

/** Where a validation error goes on the form: `to[2]` → the recipients field, `events[0]` → the events. */
function placeError(err: CertkeepError): { field?: string; message: string } {
  const path = errorField(err);
  const message = fieldMessage(err);
  if (!path) return { message };
  const base = path.replace(/\[\d+\]$/, '');
  const item = /\[(\d+)\]$/.exec(path);
  const where = item && base === 'to' ? `Address ${Number(item[1]) + 1}: ` : '';
  return { field: base, message: where ? where + message.charAt(0).toLowerCase() + message.slice(1) : message };
}

// ---- form parts ----------------------------------------------------------------------------------

function eventsFieldset(selected: readonly string[], days: readonly number[], e: Errors): Html {
  const types = Object.keys(EVENT_TYPES) as EventType[];
  return html`<fieldset id="field-events"><legend>Events to send</legend>
${e.events ? html`<p class="error" id="field-events-error">${e.events}</p>` : null}
${types.map((t, i) =>
  checkboxField({
    name: 'events',
    id: `field-events-${i}`,
    value: t,
    label: `${t}: ${EVENT_TYPES[t]}`,
    checked: selected.includes(t),
    hint: t === 'certificate.renewed' ? 'Every renewal: off by default, as a renewal needs nobody to act.' : undefined,
  }),
)}
</fieldset>
<fieldset id="field-expiringDays"><legend>Expiry warnings (days left)</legend>
<p class="hint">For the “expiring” events: which of the thresholds to send. Each is sent once per certificate.</p>
${e.expiringDays ? html`<p class="error">${e.expiringDays}</p>` : null}
${channels.EXPIRY_THRESHOLDS.map((d) => checkboxField({ name: 'expiringDays', id: `field-expiringDays-${d}`, value: String(d), label: `${d} day${d === 1 ? '' : 's'} left`, checked: days.includes(d) }))}
</fieldset>`;
}

function typeFields(type: ChannelType, v: URLSearchParams, e: Errors, current?: channels.OpenChannel): Html {
  const editing = current !== undefined;
  switch (type) {
    case 'email':
      return textareaField({
        name: 'to',
        label: 'Send to',
        value: v.get('to') ?? current?.config.to?.join('\n'),
        rows: 3,
        required: true,
        error: e.to,
        hint: 'One or more email addresses, one per line (or separated by commas or semicolons).',
      });
    case 'slack':
    case 'teams':
    case 'discord':
      return field({
        name: 'url',
        label: 'Webhook URL',
        type: 'url',
        required: !editing,
        error: e.url,
        hint: editing ? html`Set (${channels.maskUrl(current.config.url ?? '')}). Leave empty to keep it; enter a new one to replace it.` : TYPE_TEXT[type].urlHint,
        attributes: { autocomplete: 'off', spellcheck: 'false' },
      });
    case 'ntfy':
      return html`${field({ name: 'url', label: 'Topic URL', type: 'url', value: v.get('url') ?? current?.config.url, required: true, error: e.url, hint: TYPE_TEXT.ntfy.urlHint, attributes: { spellcheck: 'false' } })}
${field({ name: 'token', label: 'Access token (optional)', type: 'password', error: e.token, hint: editing && current.config.token ? `A token is set. Leave empty to keep it. ${secretHint}` : `For a protected topic (tk_…). ${secretHint}`, attributes: { autocomplete: 'off' } })}
${editing && current.config.token ? checkboxField({ name: 'removeToken', value: 'yes', label: 'Remove the access token' }) : null}`;
    case 'webhook':
      return html`${field({ name: 'url', label: 'URL', type: 'url', value: v.get('url') ?? current?.config.url, required: true, error: e.url, hint: TYPE_TEXT.webhook.urlHint, attributes: { spellcheck: 'false' } })}
${field({ name: 'secret', label: 'Shared secret', type: 'password', required: !editing, error: e.secret, hint: editing ? `Set. Leave empty to keep it. ${secretHint}` : `At least 16 characters; your endpoint checks the signature with it. ${secretHint}`, attributes: { autocomplete: 'new-password' } })}`;
  }
}

// ---- the channels --------------------------------------------------------------------------------

const DONE: Record<string, string> = {
  created: 'The notification channel was saved. Send a test message to check it.',
  updated: 'The notification channel was changed.',
  deleted: 'The notification channel was removed.',
};

function doneFlash(request: Request): Flash[] {
  const message = DONE[new URL(request.url).searchParams.get('done') ?? ''];
  return message ? [{ kind: 'success', message }] : [];
}

function sendsTo(c: channels.OpenChannel): Html {
  const view = channels.channelView(c);
  if (view.to) return html`${view.to.join(', ')}`;
  return html`<code>${wrappable(view.url ?? '')}</code>`;
}

async function listPage(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const url = new URL(request.url);
  const found = await pageChannels(ctx.deps, parseNameListQuery(url.searchParams, { defaultLimit: CHANNELS_PER_PAGE, ignore: ['done'] }));
  url.searchParams.delete('done');
  const { missing } = offered(ctx);
  return page(
    layout(
      { title: 'Notifications', session: section(pc), flash: doneFlash(request) },
      html`<h1>Notifications</h1>
<p>Certkeep tells people when a renewal fails, a certificate is about to expire, the CA asks for an early replacement, and what else each channel subscribes to. Each message says what happened in words and links to the page about it.</p>
<div class="actions">${linkButton(NEW_CHANNEL_PATH, 'New channel', 'primary')} ${linkButton(DELIVERY_LOG_PATH, 'Delivery log')}</div>
${table({
  caption: 'Notification channels',
  columns: [
    { label: 'Name', cell: (c: channels.OpenChannel) => html`<a href="${channelPath(c.row.name)}">${c.row.name}</a>` },
    { label: 'Type', cell: (c) => channels.channelTypeLabel(c.type) },
    { label: 'Sends to', cell: sendsTo },
    { label: 'Events', cell: (c) => `${c.events.length} of ${Object.keys(EVENT_TYPES).length}`, numeric: true },
  ],
  rows: found.items,
  empty: html`No channel yet: nobody hears of failures. <a href="${NEW_CHANNEL_PATH}">Add the first one</a>.`,
})}
${cursorPager({ url, next: found.next, label: 'Pages of channels' })}
${missing.map((m) => html`<p class="hint">${channels.channelTypeLabel(m.type)}: ${m.why}.</p>`)}`,
    ),
  );
}

function newChannelPage(ctx: HandlerContext, pc: PageContext, type: ChannelType | undefined, s: { values?: URLSearchParams; errors?: Errors; flash?: Flash[] } = {}, status = 200): Response {
  const v = s.values ?? new URLSearchParams();
  const e = s.errors ?? {};
  const { types, missing } = offered(ctx);
  const choice = html`${type ? null : html`<p>Choose where the messages go:</p>`}
<nav aria-label="Channel type"><ul class="type-choice">
${types.map((t) => html`<li>${t === type ? html`<strong aria-current="page">${channels.channelTypeLabel(t)}</strong> (chosen)` : html`<a href="${NEW_CHANNEL_PATH}?type=${t}">${channels.channelTypeLabel(t)}</a>`}: ${TYPE_TEXT[t].short}</li>`)}
</ul></nav>
${missing.map((m) => html`<p class="hint">${channels.channelTypeLabel(m.type)}: ${m.why}.</p>`)}`;
  const posted = s.values !== undefined;
  const selected = posted ? v.getAll('events') : channels.DEFAULT_EVENTS;
  const days = posted ? v.getAll('expiringDays').map(Number) : [...channels.EXPIRY_THRESHOLDS];
  const form = type
    ? html`<h2>${channels.channelTypeLabel(type)}</h2>
<p>${TYPE_TEXT[type].description}</p>
<form method="post" action="/notifications/channels" novalidate>
  ${csrfField(pc.session.csrfToken)}
  <input type="hidden" name="type" value="${type}">
  ${field({ name: 'name', label: 'Name', value: v.get('name'), required: true, error: e.name, hint: `How the delivery log and the API name it: ${NAME_HINT}.`, attributes: { pattern: NAME_PATTERN.source, maxlength: 64, autocomplete: 'off' } })}
  ${typeFields(type, v, e)}
  ${eventsFieldset(selected, days, e)}
  <div class="actions">${button('Save channel', { variant: 'primary' })} ${linkButton(NOTIFICATIONS_PATH, 'Cancel')}</div>
</form>`
    : null;
  return page(
    layout(
      { title: type ? `New ${channels.channelTypeLabel(type)} channel` : 'New notification channel', session: section(pc), flash: s.flash },
      html`<p><a href="${NOTIFICATIONS_PATH}">Notifications</a></p>
<h1>New notification channel</h1>
${choice}
${form}`,
    ),
    { status },
  );
}

function offeredType(ctx: HandlerContext, value: string | null): ChannelType | undefined {
  return offered(ctx).types.find((t) => t === value);
}

async function showNewChannel(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const asked = new URL(request.url).searchParams.get('type');
  const type = offeredType(ctx, asked);
  const flash: Flash[] = asked && !type ? [{ kind: 'error', message: 'This kind of channel is not available here.' }] : [];
  return newChannelPage(ctx, pc, type, { flash }, asked && !type ? 404 : 200);
}

async function submitNewChannel(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const type = offeredType(ctx, pc.form.get('type'));
  if (!type) return newChannelPage(ctx, pc, undefined, { flash: [{ kind: 'error', message: 'Choose a kind of channel that this host offers.' }] }, 400);
  const values = new URLSearchParams(pc.form);
  for (const secret of ['secret', 'token', '_csrf']) values.delete(secret);
  // A chat webhook's URL is its credential: not written back into the page either.
  if (channels.hasSecretUrl(type)) values.delete('url');
  const name = (pc.form.get('name') ?? '').trim();
  const fail = (errors: Errors, message: string, status: number) => newChannelPage(ctx, pc, type, { values, errors, flash: [{ kind: 'error', message }] }, status);
  if (!NAME_PATTERN.test(name) || name.toLowerCase() === 'new') return fail({ name: name ? `Use ${NAME_HINT}.` : 'Give the channel a name.' }, 'Some fields need a second look.', 400);
  try {
    await channels.createChannel(ctx.deps, { name, type, input: formInput(type, pc.form, false), linkOrigin: await linkOriginOf(request, ctx) }, byPage(pc, ctx));
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    const placed = placeError(err);
    return fail(placed.field ? { [placed.field]: placed.message } : {}, placed.field ? 'Some fields need a second look.' : placed.message, err.code === 'CONFLICT' ? 409 : 400);
  }
  return redirect(`${channelPath(name)}?done=created`);
}

// ---- one channel ---------------------------------------------------------------------------------

function notFound(pc: PageContext, name: string): Response {
  return page(
    layout(
      { title: 'No such notification channel', session: section(pc) },
      html`<h1>No such notification channel</h1><p>There is no notification channel named <strong>${name}</strong>.</p><div class="actions">${linkButton(NOTIFICATIONS_PATH, 'All channels')}</div>`,
    ),
    { status: 404 },
  );
}

type DeliveryItem = Awaited<ReturnType<typeof pageDeliveries>>['items'][number];

const STATE_BADGE: Record<string, { css: string; label: string }> = {
  sent: { css: 'valid', label: 'Sent' },
  pending: { css: 'pending', label: 'Waiting' },
  failed: { css: 'invalid', label: 'Failed' },
};

function stateCell(d: DeliveryItem): Html {
  const badge = STATE_BADGE[d.state];
  const tries = d.attempts === 1 ? '1 attempt' : `${d.attempts} attempts`;
  const next = d.state === 'pending' && d.nextAttemptAt ? html`<br><span class="muted">next ${formatTime(d.nextAttemptAt)}</span>` : null;
  return html`<span class="badge ${badge.css}">${badge.label}</span><br><span class="muted">${tries}</span>${next}`;
}

function deliveriesTable(caption: string, items: readonly DeliveryItem[], o: { channelColumn: boolean; empty: string }): Html {
  return table({
    caption,
    columns: [
      { label: 'When', cell: (d: DeliveryItem) => formatTime(d.createdAt) },
      { label: 'Event', cell: (d) => html`${d.link ? html`<a href="${d.link}">${d.subject ?? d.event}</a>` : (d.subject ?? d.event)}<br><span class="muted">${d.event}</span>` },
      ...(o.channelColumn ? [{ label: 'Channel', cell: (d: DeliveryItem) => html`<a href="${channelPath(d.channel)}">${d.channel}</a>` }] : []),
      { label: 'State', cell: stateCell },
      { label: 'Last error', cell: (d) => (d.lastError ? d.lastError : d.state === 'sent' ? html`<span class="muted">sent ${formatTime(d.sentAt)}</span>` : '—') },
    ],
    rows: items,
    empty: o.empty,
  });
}

async function channelPage(ctx: HandlerContext, pc: PageContext, row: channels.ChannelRow, o: { flash?: Flash[]; errors?: Errors; values?: URLSearchParams } = {}, status = 200): Promise<Response> {
  const c = await channels.openChannel(ctx.deps, row);
  const view = channels.channelView(c);
  const e = o.errors ?? {};
  const v = o.values ?? new URLSearchParams();
  const recent = await pageDeliveries(ctx.deps, parseDeliveryQuery(new URLSearchParams({ channel: row.name, limit: '10' })));
  const unavailable = channels.channelTypeUnavailable(ctx.deps, c.type);
  const settingRows = [
    { label: 'Type', value: channels.channelTypeLabel(c.type) },
    ...(view.to ? [{ label: 'Sends to', value: view.to.join(', ') }] : []),
    ...(view.url ? [{ label: c.type === 'webhook' ? 'URL' : c.type === 'ntfy' ? 'Topic URL' : 'Webhook URL', value: html`<code>${wrappable(view.url)}</code>${channels.hasSecretUrl(c.type) ? ' (masked)' : null}` }] : []),
    ...(c.type === 'webhook' ? [{ label: 'Shared secret', value: 'Set (hidden)' }] : []),
    ...(c.type === 'ntfy' ? [{ label: 'Access token', value: c.config.token ? 'Set (hidden)' : 'None' }] : []),
    // Names that may break after their dot: the table stays within a phone's width.
    { label: 'Events', value: html`${c.events.map((t, i) => html`${i ? ', ' : ''}${wrappable(t)}`)}` },
    { label: 'Expiry warnings', value: `${c.expiringDays.join(', ')} days left` },
  ];
  const posted = o.values !== undefined;
  return page(
    layout(
      { title: `Notification channel ${row.name}`, session: section(pc), flash: o.flash },
      html`<p><a href="${NOTIFICATIONS_PATH}">Notifications</a></p>
<h1>Notification channel ${row.name}</h1>
${unavailable ? html`<p class="error">This host cannot send over this channel: ${unavailable}. Its messages wait and are retried.</p>` : null}
${detailsTable('Settings', settingRows)}
<div class="actions">${postButton({ action: `${channelPath(row.name)}/test`, csrfToken: pc.session.csrfToken, label: 'Send a test message', variant: 'primary' })}</div>
<section aria-labelledby="recent-heading"><h2 id="recent-heading">Recent deliveries</h2>
${deliveriesTable('Recent deliveries of this channel', recent.items, { channelColumn: false, empty: 'Nothing sent over this channel yet.' })}
<p><a href="${DELIVERY_LOG_PATH}?channel=${encodeURIComponent(row.name)}">All deliveries of this channel</a></p>
</section>
<section aria-labelledby="edit-heading"><h2 id="edit-heading">Change it</h2>
<form method="post" action="${channelPath(row.name)}" novalidate>
  ${csrfField(pc.session.csrfToken)}
  ${typeFields(c.type, v, e, c)}
  ${eventsFieldset(posted ? v.getAll('events') : c.events, posted ? v.getAll('expiringDays').map(Number) : c.expiringDays, e)}
  <div class="actions">${button('Save changes', { variant: 'primary' })}</div>
</form>
</section>
${confirmForm({
  action: `${channelPath(row.name)}/delete`,
  csrfToken: pc.session.csrfToken,
  id: 'delete',
  legend: 'Remove this channel',
  explanation: 'Certkeep stops sending to it and forgets its settings. Messages still waiting for it are marked failed; the delivery log keeps what was sent.',
  confirmLabel: 'Yes, remove this channel',
  buttonLabel: 'Remove the channel',
  error: e.delete,
})}`,
    ),
    { status },
  );
}

async function showChannel(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const row = await channels.findChannel(ctx.deps, request.params.name);
  if (!row) return notFound(pc, request.params.name);
  return channelPage(ctx, pc, row, { flash: doneFlash(request) });
}

async function submitChannel(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const row = await channels.findChannel(ctx.deps, request.params.name);
  if (!row) return notFound(pc, request.params.name);
  const type = row.type as ChannelType;
  try {
    await channels.updateChannel(ctx.deps, row.name, formInput(type, pc.form, true), byPage(pc, ctx), await linkOriginOf(request, ctx));
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    const placed = placeError(err);
    const values = new URLSearchParams(pc.form);
    for (const secret of ['secret', 'token', '_csrf', 'url']) if (secret !== 'url' || channels.hasSecretUrl(type)) values.delete(secret);
    return channelPage(
      ctx,
      pc,
      row,
      { values, errors: placed.field ? { [placed.field]: placed.message } : {}, flash: [{ kind: 'error', message: placed.field ? 'Some fields need a second look; nothing was changed.' : placed.message }] },
      err.code === 'CONFLICT' ? 409 : 400,
    );
  }
  return redirect(`${channelPath(row.name)}?done=updated`);
}

async function testChannelPage(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const row = await channels.findChannel(ctx.deps, request.params.name);
  if (!row) return notFound(pc, request.params.name);
  const outcome = await testChannel(ctx.deps, row.name, byPage(pc, ctx), await linkOriginOf(request, ctx));
  const flash: Flash = outcome.ok
    ? { kind: 'success', message: `The test message was sent: ${outcome.detail}.` }
    : { kind: 'error', message: `The test message was not delivered: ${outcome.detail}` };
  return channelPage(ctx, pc, row, { flash: [flash] }, outcome.ok ? 200 : 502);
}

async function deleteChannelPage(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const row = await channels.findChannel(ctx.deps, request.params.name);
  if (!row) return notFound(pc, request.params.name);
  if (!confirmed(pc.form)) return channelPage(ctx, pc, row, { errors: { delete: 'Tick this box to confirm.' } }, 400);
  await channels.deleteChannel(ctx.deps, row.name, byPage(pc, ctx));
  return redirect(`${NOTIFICATIONS_PATH}?done=deleted`);
}

// ---- the delivery log ----------------------------------------------------------------------------

async function deliveryLog(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const url = new URL(request.url);
  // An empty choice of the filter form means "all".
  for (const name of ['state', 'channel', 'event']) if (url.searchParams.get(name) === '') url.searchParams.delete(name);
  let query;
  try {
    query = parseDeliveryQuery(url.searchParams, { defaultLimit: DELIVERIES_PER_PAGE });
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    query = parseDeliveryQuery(new URLSearchParams(), { defaultLimit: DELIVERIES_PER_PAGE });
    return logPage(ctx, pc, url, query, [{ kind: 'error', message: fieldMessage(err) }], 400);
  }
  return logPage(ctx, pc, url, query, [], 200);
}

async function logPage(ctx: HandlerContext, pc: PageContext, url: URL, query: ReturnType<typeof parseDeliveryQuery>, flash: Flash[], status: number): Promise<Response> {
  const [found, channelList] = await Promise.all([pageDeliveries(ctx.deps, query), pageChannels(ctx.deps, parseNameListQuery(new URLSearchParams({ limit: String(channels.MAX_CHANNELS) })))]);
  const names = channelList.items.map((c) => c.row.name);
  if (query.channel && !names.includes(query.channel)) names.push(query.channel);
  const filtered = query.state || query.channel || query.event;
  return page(
    layout(
      { title: 'Delivery log', session: section(pc), flash },
      html`<p><a href="${NOTIFICATIONS_PATH}">Notifications</a></p>
<h1>Delivery log</h1>
<p>Every message, newest first: waiting ones are retried with growing pauses (30 seconds, then minutes, then hours; about 11 hours in all) before they count as failed.</p>
<form method="get" action="${DELIVERY_LOG_PATH}" class="list-filters">
  ${selectField({ name: 'state', label: 'State', options: DELIVERY_STATES.map((s) => ({ value: s, label: STATE_BADGE[s].label })), placeholder: 'Any state', value: query.state ?? '' })}
  ${selectField({ name: 'channel', label: 'Channel', options: names.map((n) => ({ value: n, label: n })), placeholder: 'Any channel', value: query.channel ?? '' })}
  ${selectField({ name: 'event', label: 'Event', options: Object.keys(EVENT_TYPES).map((t) => ({ value: t, label: t })), placeholder: 'Any event', value: query.event ?? '' })}
  <div class="actions">${button('Show')}${filtered ? linkButton(DELIVERY_LOG_PATH, 'Show all') : null}</div>
</form>
${deliveriesTable('Deliveries', found.items, { channelColumn: true, empty: filtered ? 'No delivery matches this filter.' : 'Nothing has been sent yet.' })}
${cursorPager({ url, next: found.next, label: 'Pages of deliveries' })}`,
    ),
    { status },
  );
}

export const notificationsPages: readonly PageRoute[] = [
  ['get', NOTIFICATIONS_PATH, listPage],
  ['get', NEW_CHANNEL_PATH, showNewChannel],
  ['post', '/notifications/channels', submitNewChannel],
  ['get', DELIVERY_LOG_PATH, deliveryLog],
  ['get', '/notifications/channels/:name', showChannel],
  ['post', '/notifications/channels/:name', submitChannel],
  ['post', '/notifications/channels/:name/test', testChannelPage],
  ['post', '/notifications/channels/:name/delete', deleteChannelPage],
];
