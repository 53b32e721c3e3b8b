// /audit: the audit log page (templates/audit.ts), the twin of GET /api/v1/audit: the same filters
// and paging, and /audit/export, the same JSON lines download.
import type { HandlerContext } from '../context.ts';
import { page } from '../../html/html.ts';
import { CertkeepError } from '../../errors.ts';
import { pageAudit, parseAuditQuery } from '../../domain/audit-list.ts';
import { errorField, fieldMessage } from '../../../templates/error-text.ts';
import { AUDIT_PER_PAGE, auditPage } from '../../../templates/audit.ts';
import { auditExportResponse } from '../audit-api.ts';
import { signedIn } from './guard.ts';
import type { PageRoute } from './routes.ts';

/** The form sends every field, empty ones too: empty means "not filtered". */
function givenFilters(url: URL): URLSearchParams {
  return new URLSearchParams([...url.searchParams].filter(([, v]) => v !== ''));
}

async function showAudit(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const url = new URL(request.url);
  const values = givenFilters(url);
  try {
    const found = await pageAudit(ctx.deps, parseAuditQuery(values, { defaultLimit: AUDIT_PER_PAGE }));
    return page(auditPage({ csrfToken: pc.session.csrfToken, items: found.items, next: found.next, values, url }));
  } catch (err) {
    const field = err instanceof CertkeepError ? errorField(err) : undefined;
    if (!field) throw err;
    return page(auditPage({ csrfToken: pc.session.csrfToken, items: [], next: null, values, url, errors: { [field]: fieldMessage(err as CertkeepError) } }), { status: 400 });
  }
}

async function exportAuditPage(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  return auditExportResponse(ctx.deps, parseAuditQuery(givenFilters(new URL(request.url))));
}

export const auditPages: readonly PageRoute[] = [
  ['get', '/audit', showAudit],
  ['get', '/audit/export', exportAuditPage],
];
