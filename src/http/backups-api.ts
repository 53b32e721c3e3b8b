// The admin API's twin of the backups page: the node host's scheduled backups, listed and
// downloaded. A node-host feature (deps.backups); the Worker answers 501 and says what D1 has.
import type { BackupEntry, Deps } from '../deps.ts';
import type { HandlerContext, RoutedRequest } from './context.ts';
import { problemResponse } from './problem.ts';
import { fieldError } from './validate.ts';
import { record } from '../domain/audit.ts';
import { by } from './admin-api.ts';

export const WORKER_BACKUPS =
  'backups are a node-host feature; on Cloudflare, D1 keeps the history itself: Time Travel restores any minute of the last 30 days (wrangler d1 time-travel restore DB --timestamp T), and wrangler d1 export DB --remote --output FILE writes an SQL dump';

const notHere = () => problemResponse(501, WORKER_BACKUPS, { title: 'Not available on this host' });

export function backupView(entry: BackupEntry) {
  return { name: entry.name, createdAt: new Date(entry.createdAt).toISOString(), bytes: entry.bytes };
}

/** GET /api/v1/backups: newest first, `limit` (1–500, default 100) and `cursor` as every list. */
export async function listBackups(request: Request, ctx: HandlerContext): Promise<Response> {
  const backups = ctx.deps.backups;
  if (!backups) return notHere();
  const url = new URL(request.url);
  const limitText = url.searchParams.get('limit');
  const limit = limitText === null ? 100 : Number(limitText);
  if (!/^\d+$/.test(limitText ?? '100') || limit < 1 || limit > 500) throw fieldError('limit', 'a whole number from 1 to 500');
  const cursor = url.searchParams.get('cursor');
  // The list is bounded by CERTKEEP_BACKUP_KEEP: names sort by time, so the cursor is a name.
  const all = await backups.list();
  const start = cursor === null ? 0 : all.findIndex((b) => b.name < cursor);
  const rest = start < 0 ? [] : all.slice(start);
  const items = rest.slice(0, limit);
  return Response.json({ items: items.map(backupView), next: rest.length > limit ? items[items.length - 1].name : null });
}

/** GET /api/v1/backups/{name}: the file itself. */
export async function downloadBackup(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  if (!ctx.deps.backups) return notHere();
  const response = await backupFileResponse(ctx.deps, request.params.name ?? '');
  if (!response) return problemResponse(404, 'no such backup');
  // No download without its record.
  await record(ctx.deps, by(ctx), { action: 'backup.download', object: { kind: 'backup', name: request.params.name! }, detail: { bytes: Number(response.headers.get('content-length')) } }).catch(
    async (err) => {
      await response.body?.cancel();
      throw err;
    },
  );
  ctx.deps.log.info('backup downloaded', { name: request.params.name, by: 'admin token', clientIp: ctx.clientIp });
  return response;
}

/** The backup as a download, or null when there is none of that name. */
export async function backupFileResponse(deps: Deps, name: string): Promise<Response | null> {
  const file = await deps.backups?.open(name);
  if (!file) return null;
  return new Response(file.body, {
    headers: {
      'content-type': 'application/octet-stream',
      'content-length': String(file.bytes),
      'content-disposition': `attachment; filename="${name}"`,
      'cache-control': 'no-store',
    },
  });
}
