// /api/v1/tracking (SPEC §4.2): the merged list, adding a URL or an upload, one item with its
// history, deleting, and scanning on demand. Handlers parse and shape; domain/tracking decides.
import { CertkeepError } from '../errors.ts';
import { addUpload, addUrlTarget, certificatesPresented, deleteTarget, historiesOf, historyOf, requireTarget, trackingView, type TrackedRow } from '../domain/tracking/tracking.ts';
import { pageTracking, parseTrackingListQuery } from '../domain/tracking/list.ts';
import { scanTarget } from '../domain/tracking/scan.ts';
import { parseTrackingTarget } from '../domain/tracking/targets.ts';
import type { Deps } from '../deps.ts';
import type { HandlerContext, RoutedRequest } from './context.ts';
import { by } from './admin-api.ts';
import { fieldError, optionalString, readJsonObject } from './validate.ts';


async function viewOf(deps: Deps, row: TrackedRow) {
  const [history, names] = await Promise.all([historyOf(deps, row.id), certificatesPresented(deps, row.sha256 ? [row.sha256] : [])]);
  return trackingView(row, history, deps.now(), row.sha256 ? (names.get(row.sha256) ?? null) : null);
}

/**
 * SPEC §4.1/§4.2: `{"items","next"}`; `limit`, `cursor`, `q`, `status` (expired, expiring,
 * problems, unreachable, untrusted, mismatch), `days`, `source` (url, upload, issued), `sort`
 * (expiry, -expiry, subject, -subject, source, problems).
 */
export async function listTracking(request: Request, ctx: HandlerContext) {
  const { deps } = ctx;
  const page = await pageTracking(deps, parseTrackingListQuery(new URL(request.url).searchParams));
  const ids = page.items.map((r) => r.id);
  const [histories, names] = await Promise.all([historiesOf(deps, ids), certificatesPresented(deps, page.items.map((r) => r.sha256 ?? ''))]);
  const now = deps.now();
  return Response.json({
    items: page.items.map((r) => trackingView({ ...r, chainPem: null }, histories.get(r.id) ?? [], now, r.sha256 ? (names.get(r.sha256) ?? null) : null)),
    next: page.next,
  });
}

/**
 * `{"url":"[https://]host[:port]","starttls"?}` (node host: scanned at once, in the background,
 * then every scanHours) → 201 with the item; or `{"pem":"…"}` (PEM, or DER as base64; several
 * certificates allowed) → 201 `{"items":[…]}`, one per certificate.
 */
export async function createTracking(request: Request, ctx: HandlerContext) {
  const { deps } = ctx;
  const body = await readJsonObject(request, ['url', 'starttls', 'pem']);
  const hasUrl = body.url !== undefined && body.url !== null;
  const hasPem = body.pem !== undefined && body.pem !== null;
  if (hasUrl && hasPem) throw fieldError('pem', 'give either url (a server to scan) or pem (certificates to upload), not both');
  if (!hasUrl && !hasPem) throw fieldError('url', 'required: url (a server to scan) or pem (certificates to upload)');
  if (hasPem) {
    if (body.starttls !== undefined && body.starttls !== null) throw fieldError('starttls', 'only for a url');
    const pem = optionalString(body, 'pem', { max: 256 * 1024 }) ?? '';
    const rows = await addUpload(deps, by(ctx), pem, 'pem');
    const histories = await historiesOf(deps, rows.map((r) => r.id));
    return Response.json({ items: rows.map((r) => trackingView(r, histories.get(r.id) ?? [], deps.now())) }, { status: 201 });
  }
  const target = parseTrackingTarget(body.url, body.starttls);
  const row = await addUrlTarget(deps, by(ctx), target);
  // The first scan starts now; the item is answered without waiting for it.
  ctx.waitUntil(scanTarget(deps, row).catch((err) => deps.log.error('tracking scan failed', { target: row.target, err })));
  return Response.json(trackingView(row, [], deps.now()), { status: 201 });
}

export async function getTracking(request: RoutedRequest, ctx: HandlerContext) {
  return Response.json(await viewOf(ctx.deps, await requireTarget(ctx.deps, request.params.id)));
}

export async function deleteTracking(request: RoutedRequest, ctx: HandlerContext) {
  await deleteTarget(ctx.deps, by(ctx), request.params.id);
  return new Response(null, { status: 204 });
}

/** Scans a tracked URL now: 202 at once, or with `?wait=true` 200 with the item after the scan. */
export async function scanTracking(request: RoutedRequest, ctx: HandlerContext) {
  const { deps } = ctx;
  const row = await requireTarget(deps, request.params.id);
  if (row.source !== 'url') throw new CertkeepError('CONFLICT', `only tracked URLs are scanned; this is ${row.source === 'issued' ? 'a certificate Certkeep serves' : 'an uploaded certificate'}`);
  if (!deps.tlsScan) throw new CertkeepError('CONFLICT', 'scanning servers needs raw TLS connections, which only the node host has');
  const who = by(ctx);
  if (new URL(request.url).searchParams.get('wait') !== 'true') {
    ctx.waitUntil(scanTarget(deps, row, who).catch((err) => deps.log.error('tracking scan failed', { target: row.target, err })));
    return Response.json({ id: row.id, status: 'scanning' }, { status: 202 });
  }
  return Response.json(await viewOf(deps, await scanTarget(deps, row, who)));
}
