// `/`: the dashboard — certificates by state, what expires soonest, recent failures.
import type { HandlerContext } from '../context.ts';
import { html, page } from '../../html/html.ts';
import { layout } from '../../../templates/layout.ts';
import { badge, linkButton, table } from '../../../templates/components.ts';
import { certificateStatus, listCertificates, type CertificateRow, type CertificateStatus } from '../../domain/certificates.ts';
import { signedIn } from './guard.ts';

const STATES: CertificateStatus[] = ['valid', 'pending', 'new', 'invalid', 'expired', 'revoked'];
const DAY = 86_400_000;

export async function dashboard(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const now = ctx.deps.now();
  const certs = await listCertificates(ctx.deps);
  const withStatus = certs.map((c) => ({ c, status: certificateStatus(c, now) }));
  const counts = STATES.map((s) => ({ status: s, n: withStatus.filter((x) => x.status === s).length }));
  const expiring = withStatus
    .filter((x) => x.c.notAfter !== null && x.status !== 'revoked')
    .sort((a, b) => a.c.notAfter! - b.c.notAfter!)
    .slice(0, 10);
  const failures = withStatus
    .filter((x) => x.c.lastError)
    .sort((a, b) => b.c.updatedAt - a.c.updatedAt)
    .slice(0, 10);
  const nameLink = (c: CertificateRow) => html`<a href="/certificates/${encodeURIComponent(c.name)}">${c.name}</a>`;
  const daysLeft = (c: CertificateRow) => Math.floor((c.notAfter! - now) / DAY);

  return page(
    layout(
      { title: 'Dashboard', session: { csrfToken: pc.session.csrfToken, section: 'dashboard' } },
      html`<h1>Dashboard</h1>
<section aria-labelledby="by-state"><h2 id="by-state">Certificates by state</h2>
  <ul class="state-counts">${counts.map(({ status, n }) => html`<li>${badge(status)} <strong>${n}</strong></li>`)}</ul>
  <div class="actions">${linkButton('/certificates', 'All certificates')}</div>
</section>
${table({
  caption: 'Expiring soonest',
  columns: [
    { label: 'Certificate', cell: (x: (typeof expiring)[number]) => nameLink(x.c) },
    { label: 'State', cell: (x) => badge(x.status) },
    { label: 'Expires', cell: (x) => new Date(x.c.notAfter!).toISOString().slice(0, 10) },
    { label: 'Days left', cell: (x) => daysLeft(x.c), numeric: true },
    { label: 'Renewal due', cell: (x) => (x.c.renewAt ? new Date(x.c.renewAt).toISOString().slice(0, 16).replace('T', ' ') : '—') },
  ],
  rows: expiring,
  empty: 'No certificate has been issued yet.',
})}
${table({
  caption: 'Recent failures',
  columns: [
    { label: 'Certificate', cell: (x: (typeof failures)[number]) => nameLink(x.c) },
    { label: 'Problem', cell: (x) => (JSON.parse(x.c.lastError!) as { detail?: string; type?: string }).detail ?? '' },
    { label: 'Next attempt', cell: (x) => (x.c.nextAttemptAt ? new Date(x.c.nextAttemptAt).toISOString().slice(0, 16).replace('T', ' ') : '—') },
  ],
  rows: failures,
  empty: 'No failures.',
})}`,
    ),
  );
}
