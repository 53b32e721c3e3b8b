// Pages: tracking. The merged list with its filters and sorts, adding a server (scanned at once,
// node host) or uploading certificates (PEM pasted, or a PEM/DER file), one target with its
// history and "Scan now", stop tracking, and the scan interval. The same domain functions and
// rules as /api/v1/tracking; every change is in the audit log under the signed-in user.
import type { HandlerContext, RoutedRequest } from '../context.ts';
import type { PageRoute } from './routes.ts';
import { page } from '../../html/html.ts';
import { CertkeepError } from '../../errors.ts';
import { addUpload, addUrlTarget, certificatesPresented, deleteTarget, findTarget, historyOf, type TrackedRow } from '../../domain/tracking/tracking.ts';
import { pageTracking, parseTrackingListQuery, trackingCounts, type ListedTarget } from '../../domain/tracking/list.ts';
import { SCAN_HOURS_MAX, SCAN_HOURS_MIN, problemsOf, scanTarget, setScanHours } from '../../domain/tracking/scan.ts';
import { parseTrackingTarget } from '../../domain/tracking/targets.ts';
import { MAX_UPLOAD_BYTES } from '../../domain/tracking/upload.ts';
import { getSettings } from '../../domain/settings.ts';
import { messagePage } from '../../../templates/message-page.ts';
import type { Flash } from '../../../templates/layout.ts';
import {
  TRACKING_NOTICES,
  TRACKING_PATH,
  TRACKING_PER_PAGE,
  deleteTrackingPage,
  newTrackingPage,
  trackingDetailPage,
  trackingListPage,
  trackingPath,
  type TrackedItem,
} from '../../../templates/tracking.ts';
import { check, statusOf, type FieldErrors } from './form-errors.ts';
import { errorField, fieldMessage } from '../../../templates/error-text.ts';
import { byPage, redirect, signedIn, type PageContext } from './guard.ts';

function itemOf(row: ListedTarget, certificate: string | null): TrackedItem {
  return {
    id: row.id,
    source: row.source,
    target: row.target,
    starttls: row.starttls,
    subject: row.subject,
    sans: row.sans ? (JSON.parse(row.sans) as string[]) : [],
    issuer: row.issuer,
    serial: row.serial,
    sha256: row.sha256,
    notBefore: row.notBefore,
    notAfter: row.notAfter,
    chainValid: row.chainValid,
    chainError: row.chainError,
    nameMatches: row.nameMatches,
    lastScanAt: row.lastScanAt,
    lastError: row.lastError,
    changedAt: row.changedAt,
    problems: problemsOf(row),
    certificate,
  };
}

function noticeOf(request: Request): Flash[] {
  const notice = new URL(request.url).searchParams.get('notice');
  return notice && TRACKING_NOTICES[notice] ? [{ kind: 'success', message: TRACKING_NOTICES[notice] }] : [];
}

// ---- list --------------------------------------------------------------------------------------

async function listResponse(request: Request, ctx: HandlerContext, pc: PageContext, extra: { scanHoursError?: string; status?: number; flash?: Flash[] } = {}): Promise<Response> {
  const url = new URL(request.url);
  const query = parseTrackingListQuery(url.searchParams, { defaultLimit: TRACKING_PER_PAGE, ignore: ['notice'] });
  const [found, counts, settings] = await Promise.all([pageTracking(ctx.deps, query), trackingCounts(ctx.deps), getSettings(ctx.deps)]);
  const names = await certificatesPresented(ctx.deps, found.items.map((r) => r.sha256 ?? ''));
  url.searchParams.delete('notice');
  return page(
    trackingListPage({
      csrfToken: pc.session.csrfToken,
      items: found.items.map((r) => itemOf(r, r.sha256 ? (names.get(r.sha256) ?? null) : null)),
      next: found.next,
      counts,
      query: query.q ?? '',
      status: query.status.join(','),
      source: query.sources.join(','),
      days: query.days,
      sort: url.searchParams.get('sort') ?? '',
      url,
      now: ctx.deps.now(),
      scanHours: ctx.deps.tlsScan ? settings.scanHours : null,
      scanHoursError: extra.scanHoursError,
      flash: extra.flash ?? noticeOf(request),
    }),
    { status: extra.status ?? 200 },
  );
}

async function listPage(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  return listResponse(request, ctx, pc);
}

async function saveScanHours(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  if (!ctx.deps.tlsScan) return redirect(TRACKING_PATH);
  const text = (pc.form.get('scanHours') ?? '').trim();
  if (!/^\d{1,3}$/.test(text) || Number(text) < SCAN_HOURS_MIN || Number(text) > SCAN_HOURS_MAX) {
    const listUrl = new Request(new URL(TRACKING_PATH, request.url), { headers: request.headers });
    return listResponse(listUrl, ctx, pc, { scanHoursError: `A whole number of hours from ${SCAN_HOURS_MIN} to ${SCAN_HOURS_MAX}.`, status: 400, flash: [{ kind: 'error', message: 'The scan interval was not saved.' }] });
  }
  await setScanHours(ctx.deps, byPage(pc, ctx), Number(text));
  return redirect(`${TRACKING_PATH}?notice=saved`);
}

// ---- add ---------------------------------------------------------------------------------------

async function newPage(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  return page(newTrackingPage({ csrfToken: pc.session.csrfToken, canScan: !!ctx.deps.tlsScan, values: new URLSearchParams(), errors: {} }));
}

/** The uploaded file of a multipart form, or undefined when none was chosen. */
async function uploadedFile(request: Request): Promise<File | undefined> {
  if (!/^multipart\/form-data\b/i.test(request.headers.get('content-type') ?? '')) return undefined;
  const file = (await request.formData()).get('file');
  return file && typeof file !== 'string' && file.size > 0 ? file : undefined;
}

async function create(request: Request, ctx: HandlerContext): Promise<Response> {
  // The form reader keeps only text fields; the uploaded file is read from a copy of the body.
  const copy = request.clone();
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const form = pc.form.get('source') === 'upload' ? 'upload' : 'url';
  const errors: FieldErrors = {};
  const values = new URLSearchParams(pc.form);
  const again = (status: number, message = 'Some fields need a second look.') =>
    page(newTrackingPage({ csrfToken: pc.session.csrfToken, canScan: !!ctx.deps.tlsScan, form, values, errors, message }), { status });
  const refused = (err: unknown, fallbackField: string) => {
    if (!(err instanceof CertkeepError) || statusOf(err) >= 500) throw err;
    errors[errorField(err) ?? fallbackField] = fieldMessage(err);
    return again(statusOf(err));
  };

  if (form === 'url') {
    const target = check(errors, () => parseTrackingTarget(pc.form.get('url') ?? '', pc.form.get('starttls') || undefined));
    if (!target) return again(400);
    let row: TrackedRow;
    try {
      row = await addUrlTarget(ctx.deps, byPage(pc, ctx), target);
    } catch (err) {
      return refused(err, 'url');
    }
    // Scanned now (bounded by the scan's deadline), so that the page shows what it presents.
    await scanTarget(ctx.deps, row).catch((err) => ctx.deps.log.error('tracking scan failed', { target: row.target, err }));
    return redirect(`${trackingPath(row.id)}?notice=added`);
  }

  const pem = (pc.form.get('pem') ?? '').trim();
  const file = await uploadedFile(copy);
  let input: string | Uint8Array;
  if (pem && file) {
    errors.pem = 'Paste the certificates or choose a file, not both.';
    return again(400);
  } else if (file) {
    if (file.size > MAX_UPLOAD_BYTES) {
      errors.file = `The file is larger than ${MAX_UPLOAD_BYTES / 1024} KiB.`;
      return again(400);
    }
    input = new Uint8Array(await file.arrayBuffer());
  } else if (pem) {
    input = pem;
  } else {
    errors.pem = 'Paste a certificate here, or choose a file below.';
    return again(400);
  }
  // A refused upload (a private key in it) is not shown back.
  values.delete('pem');
  try {
    const rows = await addUpload(ctx.deps, byPage(pc, ctx), input, file ? 'file' : 'pem');
    return redirect(rows.length === 1 ? `${trackingPath(rows[0].id)}?notice=uploaded` : `${TRACKING_PATH}?source=upload&notice=uploaded`);
  } catch (err) {
    return refused(err, file ? 'file' : 'pem');
  }
}

// ---- one target ----------------------------------------------------------------------------------

function paramId(request: RoutedRequest): string {
  try {
    return decodeURIComponent(request.params.id ?? '');
  } catch {
    return request.params.id ?? '';
  }
}

async function withTarget(request: RoutedRequest, ctx: HandlerContext): Promise<{ pc: PageContext; row: TrackedRow } | Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const id = paramId(request);
  const row = id.length <= 64 ? await findTarget(ctx.deps, id) : undefined;
  if (row) return { pc, row };
  return page(
    messagePage({ title: 'Not tracked', csrfToken: pc.session.csrfToken, section: 'tracking', message: 'Nothing tracked has this address: it may have been removed.', links: [{ href: TRACKING_PATH, label: 'Tracking' }] }),
    { status: 404 },
  );
}

async function detailResponse(ctx: HandlerContext, pc: PageContext, row: TrackedRow, flash: Flash[]): Promise<Response> {
  const [history, names] = await Promise.all([historyOf(ctx.deps, row.id), certificatesPresented(ctx.deps, row.sha256 ? [row.sha256] : [])]);
  return page(
    trackingDetailPage({
      csrfToken: pc.session.csrfToken,
      item: itemOf(row, row.sha256 ? (names.get(row.sha256) ?? null) : null),
      history: history.map((h) => ({ sha256: h.sha256, serial: h.serial, subject: h.subject, issuer: h.issuer, notAfter: h.notAfter, seenAt: h.seenAt })),
      now: ctx.deps.now(),
      canScan: !!ctx.deps.tlsScan,
      flash,
    }),
  );
}

async function detail(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withTarget(request, ctx);
  if (found instanceof Response) return found;
  return detailResponse(ctx, found.pc, found.row, noticeOf(request));
}

async function scanNow(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withTarget(request, ctx);
  if (found instanceof Response) return found;
  const { pc, row } = found;
  if (row.source !== 'url' || !ctx.deps.tlsScan) return detailResponse(ctx, pc, row, [{ kind: 'error', message: row.source !== 'url' ? 'Only servers are scanned.' : 'Scans are a node-host feature: this Worker cannot scan.' }]);
  await scanTarget(ctx.deps, row, byPage(pc, ctx));
  return redirect(`${trackingPath(row.id)}?notice=scanned`);
}

async function deleteForm(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withTarget(request, ctx);
  if (found instanceof Response) return found;
  if (found.row.source === 'issued') return redirect(trackingPath(found.row.id));
  return page(deleteTrackingPage({ csrfToken: found.pc.session.csrfToken, item: itemOf(found.row, null) }));
}

async function remove(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withTarget(request, ctx);
  if (found instanceof Response) return found;
  try {
    await deleteTarget(ctx.deps, byPage(found.pc, ctx), found.row.id);
  } catch (err) {
    if (!(err instanceof CertkeepError && err.code === 'CONFLICT')) throw err;
    return page(deleteTrackingPage({ csrfToken: found.pc.session.csrfToken, item: itemOf(found.row, null), message: err.message }), { status: 409 });
  }
  return redirect(`${TRACKING_PATH}?notice=deleted`);
}

export const trackingPages: readonly PageRoute[] = [
  ['get', TRACKING_PATH, listPage],
  ['get', '/tracking/-/new', newPage],
  ['post', '/tracking/-/settings', saveScanHours],
  ['post', TRACKING_PATH, create],
  ['get', '/tracking/:id', detail],
  ['post', '/tracking/:id/scan', scanNow],
  ['get', '/tracking/:id/delete', deleteForm],
  ['post', '/tracking/:id/delete', remove],
];
