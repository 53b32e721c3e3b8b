// GET /metrics (SPEC §4.6): the Prometheus text exposition, for addresses on the admin allow-list
// (CERTKEEP_ALLOW_ADMIN; ALLOW_ADMIN on the Worker) without a token, and from any address with
// the metrics token (`Authorization: Bearer ckm_…`, domain/metrics-token.ts), which opens this
// path and nothing else. An admin token does not open it: a scraper's configuration holds its
// token in clear. And the metrics token's admin API twin, /api/v1/metrics-token.
import { CertkeepError } from '../errors.ts';
import { refuseCredential } from '../domain/throttle.ts';
import { createMetricsToken, deleteMetricsToken, isMetricsToken, metricsTokenCreatedAt } from '../domain/metrics-token.ts';
import { collectMetrics } from '../metrics/collect.ts';
import { EXPOSITION_CONTENT_TYPE, renderExposition } from '../metrics/exposition.ts';
import { downloadKindOf } from '../metrics/downloads.ts';
import type { Deps } from '../deps.ts';
import type { HandlerContext } from './context.ts';
import { readJsonObject } from './validate.ts';
import { by } from './admin-api.ts';

export const METRICS_PATH = '/metrics';

/**
 * Who may read /metrics. Without an Authorization header: the admin allow-list, else 403. With
 * one: the metrics token, else 401 — a wrong one is counted against the address as a wrong admin
 * token is (429 past the limit); an admin token is refused without being counted, as it can never
 * succeed here and a scraper misconfigured with one must not lock its address out of the admin API.
 */
async function authorizeScrape(request: Request, ctx: HandlerContext): Promise<void> {
  const header = request.headers.get('authorization');
  if (header === null) {
    if (ctx.deps.allowAdmin.allows(ctx.clientIp)) return;
    ctx.deps.log.info('refused by allow-list', { zone: 'metrics', clientIp: ctx.clientIp });
    throw new CertkeepError(
      'FORBIDDEN',
      'this address may not read /metrics: add it to the admin allow-list (CERTKEEP_ALLOW_ADMIN), or send the metrics token (Authorization: Bearer ckm_…)',
    );
  }
  const presented = /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? null;
  if (presented?.startsWith('ckt_')) {
    throw new CertkeepError('UNAUTHORIZED', 'an admin token does not open /metrics: use the metrics token (certkeep token create --metrics, or POST /api/v1/metrics-token)');
  }
  if (await isMetricsToken(ctx.deps, presented)) return;
  throw await refuseCredential(ctx.deps, 'admin-token', ctx.clientIp, new CertkeepError('UNAUTHORIZED', 'a valid metrics token is required (Authorization: Bearer ckm_…)'));
}

/** GET /metrics. Any other method is 405, once the caller may read it at all. */
export async function metricsEndpoint(request: Request, ctx: HandlerContext): Promise<Response> {
  await authorizeScrape(request, ctx);
  if (request.method !== 'GET') {
    return new Response(null, { status: 405, headers: { allow: 'GET', 'cache-control': 'no-store' } });
  }
  const body = renderExposition(await collectMetrics(ctx.deps));
  return new Response(body, { headers: { 'content-type': EXPOSITION_CONTENT_TYPE, 'cache-control': 'no-store' } });
}

/**
 * The router's last stage (src/app.ts): counts each answer of the download API in this process
 * (node host; nothing on the Worker). Returns nothing: the response goes on as it is.
 */
export function countDownload(deps: Deps, request: Request, response: Response | undefined): undefined {
  const counts = deps.hostMetrics?.downloads;
  if (!counts || !response) return undefined;
  const kind = downloadKindOf(new URL(request.url).pathname);
  if (kind) counts.count(kind, response.status);
  return undefined;
}

// ---- /api/v1/metrics-token (behind requireAdmin) ------------------------------------------------

/** `{"exists","createdAt"}`: whether there is a metrics token, and since when. */
export async function getMetricsToken(_request: Request, ctx: HandlerContext): Promise<Response> {
  const createdAt = await metricsTokenCreatedAt(ctx.deps);
  return Response.json({ exists: createdAt !== null, createdAt: createdAt === null ? null : new Date(createdAt).toISOString() });
}

/** 201 `{"token"}`, shown this once; the token before it stops working. */
export async function postMetricsToken(request: Request, ctx: HandlerContext): Promise<Response> {
  await readJsonObject(request, []);
  const token = await createMetricsToken(ctx.deps, by(ctx));
  return Response.json({ token }, { status: 201, headers: { 'cache-control': 'no-store' } });
}

/** 204; 404 when there is none. */
export async function deleteMetricsTokenHandler(_request: Request, ctx: HandlerContext): Promise<Response> {
  if (!(await deleteMetricsToken(ctx.deps, by(ctx)))) throw new CertkeepError('NOT_FOUND', 'there is no metrics token');
  return new Response(null, { status: 204 });
}
