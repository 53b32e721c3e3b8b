// Endpoints that are always open: no allow-list, no setup, no HTTPS redirect (SPEC §2).
import { and, eq, isNull, sql } from 'drizzle-orm';
import { challenges, orders } from '../db/schema.ts';
import { preparedQuery } from '../db/prepared.ts';
import type { HandlerContext, RoutedRequest } from './context.ts';

const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

const keyAuthorizationOf = preparedQuery((db) =>
  db
    .select({ keyAuthorization: challenges.keyAuthorization })
    .from(challenges)
    .innerJoin(orders, eq(orders.id, challenges.orderId))
    .where(and(eq(challenges.token, sql.placeholder('token')), eq(challenges.type, 'http-01'), isNull(orders.finishedAt)))
    .limit(1)
    .prepare(),
);

/** http-01 (RFC 8555 §8.3): the key authorization, only while the token's order runs. */
export async function acmeChallenge(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const token = request.params.token;
  if (!TOKEN.test(token)) return notFound();
  const [row] = await keyAuthorizationOf(ctx.deps.db.db).all({ token });
  if (!row) return notFound();
  return new Response(row.keyAuthorization, { headers: { 'content-type': 'text/plain', 'cache-control': 'no-store' } });
}

function notFound(): Response {
  return new Response('not found\n', { status: 404, headers: { 'content-type': 'text/plain' } });
}

export async function healthz(_request: Request, ctx: HandlerContext): Promise<Response> {
  try {
    await ctx.deps.db.db.run(sql`select 1`);
    return Response.json({ status: 'ok' }, { headers: { 'cache-control': 'no-store' } });
  } catch (err) {
    ctx.deps.log.error('health check failed', { err });
    return Response.json({ status: 'unavailable' }, { status: 503, headers: { 'cache-control': 'no-store' } });
  }
}
