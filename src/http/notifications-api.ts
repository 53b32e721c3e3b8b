// The notifications admin API (SPEC §4.3): channels, a test message, and the delivery log.
//
//   GET|POST /api/v1/notification-channels              list (SPEC §4.1: limit, cursor, q, sort) / create
//   GET|PATCH|DELETE /api/v1/notification-channels/{name}
//   POST /api/v1/notification-channels/{name}/test      200 when the receiver took it, 502 with why
//   GET /api/v1/notifications                           the delivery log (limit, cursor, state, channel, event)
import { CertkeepError } from '../errors.ts';
import * as channels from '../domain/notifications/channels.ts';
import { pageChannels, testChannel } from '../domain/notifications/manage.ts';
import { pageDeliveries, parseDeliveryQuery } from '../domain/notifications/outbox.ts';
import { parseNameListQuery } from '../domain/lists.ts';
import type { HandlerContext, RoutedRequest } from './context.ts';
import { by } from './admin-api.ts';
import { problemResponse } from './problem.ts';
import { fieldError, readJsonObject, requiredName } from './validate.ts';
import { downloadOrigin } from './pages/download-origin.ts';

/** The address links in messages lead to when no site hostname is set: the one this request came to. */
export async function linkOriginOf(request: Request, ctx: HandlerContext): Promise<string> {
  return (await downloadOrigin(request, ctx)) ?? new URL(request.url).origin;
}

export async function listChannels(request: Request, ctx: HandlerContext) {
  const page = await pageChannels(ctx.deps, parseNameListQuery(new URL(request.url).searchParams));
  return Response.json({ items: page.items.map(channels.channelView), next: page.next });
}

export async function getChannel(request: RoutedRequest, ctx: HandlerContext) {
  return Response.json(channels.channelView(await channels.openChannel(ctx.deps, await channels.requireChannel(ctx.deps, request.params.name))));
}

/** `{"name","type",…the type's fields,"events"?,"expiringDays"?}`. */
export async function createChannel(request: Request, ctx: HandlerContext) {
  const body = await readJsonObject(request, 'checked-later');
  const name = requiredName(body);
  if (body.type === undefined || body.type === null) throw fieldError('type', `required: one of ${channels.CHANNEL_TYPES.join(', ')}`);
  if (!channels.isChannelType(body.type)) throw fieldError('type', `unknown channel type; expected one of ${channels.CHANNEL_TYPES.join(', ')}`);
  const { name: _n, type, ...input } = body;
  const created = await channels.createChannel(ctx.deps, { name, type: type as channels.ChannelType, input, linkOrigin: await linkOriginOf(request, ctx) }, by(ctx));
  return Response.json(channels.channelView(created), { status: 201 });
}

/** `{"events"?,"expiringDays"?,…the type's fields}`: what is left out stays as it was. */
export async function editChannel(request: RoutedRequest, ctx: HandlerContext) {
  const body = await readJsonObject(request, 'checked-later');
  if ('name' in body) throw fieldError('name', 'a channel cannot be renamed: create a new one');
  if ('type' in body) throw fieldError('type', 'a channel keeps its type: create a new one');
  const updated = await channels.updateChannel(ctx.deps, request.params.name, body, by(ctx), await linkOriginOf(request, ctx));
  return Response.json(channels.channelView(updated));
}

export async function deleteChannel(request: RoutedRequest, ctx: HandlerContext) {
  await channels.deleteChannel(ctx.deps, request.params.name, by(ctx));
  return new Response(null, { status: 204 });
}

/** Sends a test message now: 200 with what the receiver said, or 502 with why it did not take it. */
export async function testChannelNow(request: RoutedRequest, ctx: HandlerContext) {
  const outcome = await testChannel(ctx.deps, request.params.name, by(ctx), await linkOriginOf(request, ctx));
  if (outcome.ok) return Response.json({ channel: request.params.name, sent: true, detail: outcome.detail });
  return problemResponse(502, outcome.detail, { title: 'The channel did not take the message', code: 'NOTIFICATION_FAILED', channel: request.params.name, permanent: outcome.permanent });
}

/** SPEC §4.1 and §4.3: `{"items","next"}`, newest first. */
export async function listNotifications(request: Request, ctx: HandlerContext) {
  return Response.json(await pageDeliveries(ctx.deps, parseDeliveryQuery(new URL(request.url).searchParams)));
}
