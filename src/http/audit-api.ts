// GET /api/v1/audit (SPEC §4.4): the audit log, newest first, as every list (`{"items","next"}`,
// `limit`, `cursor`) with its filters (`actor`, `action`, `object`, `outcome`, `since`, `until`);
// with `format=jsonl`, every record the filters select as JSON lines, streamed.
import { auditView, exportAudit, pageAudit, parseAuditQuery } from '../domain/audit-list.ts';
import type { Deps } from '../deps.ts';
import type { HandlerContext } from './context.ts';
import { fieldError } from './validate.ts';

export async function listAudit(request: Request, ctx: HandlerContext): Promise<Response> {
  const params = new URL(request.url).searchParams;
  const format = params.get('format');
  if (format !== null && format !== 'json' && format !== 'jsonl') throw fieldError('format', 'expected json or jsonl');
  const query = parseAuditQuery(params, { ignore: ['format'] });
  if (format === 'jsonl') return auditExportResponse(ctx.deps, query);
  const page = await pageAudit(ctx.deps, query);
  return Response.json({ items: page.items.map(auditView), next: page.next });
}

/** The export as a download (the API's and the page's). */
export function auditExportResponse(deps: Deps, query: ReturnType<typeof parseAuditQuery>): Response {
  const { limit: _all, ...filters } = query;
  const stamp = new Date(deps.now()).toISOString().slice(0, 10);
  return new Response(exportAudit(deps, filters), {
    headers: {
      'content-type': 'application/jsonl; charset=utf-8',
      'content-disposition': `attachment; filename="certkeep-audit-${stamp}.jsonl"`,
      'cache-control': 'no-store',
    },
  });
}
