// `/`: the dashboard — first what needs attention (each count linked to its list) and the expiry
// timeline (domain/dashboard.ts, templates/dashboard.ts), then certificates by state, what
// expires soonest, recent failures, and the CAs that asked Certkeep to wait. Counts are
// aggregates and the tables short index walks (domain/certificate-list.ts): the page costs about
// the same at 100 certificates as at 10,000. GET /api/v1/dashboard is its API twin.
import type { HandlerContext } from '../context.ts';
import { html, page } from '../../html/html.ts';
import { layout } from '../../../templates/layout.ts';
import { badge, linkButton, table } from '../../../templates/components.ts';
import { formatTime, problemSummary } from '../../../templates/format.ts';
import type { CertificateStatus } from '../../domain/certificates.ts';
import { dashboardFigures, DEFAULT_EXPIRING_DAYS, type ListedCertificate } from '../../domain/certificate-list.ts';
import { signedIn } from './guard.ts';
import { attention, dashboardApiView, expiryTimeline } from '../../domain/dashboard.ts';
import { attentionSection, timelineSection } from '../../../templates/dashboard.ts';

const STATES: CertificateStatus[] = ['valid', 'pending', 'new', 'invalid', 'expired', 'revoked'];
const DAY = 86_400_000;

export async function dashboard(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const now = ctx.deps.now();
  const [f, needs, timeline] = await Promise.all([dashboardFigures(ctx.deps), attention(ctx.deps), expiryTimeline(ctx.deps)]);
  const nameLink = (c: ListedCertificate) => html`<a href="/certificates/${encodeURIComponent(c.name)}">${c.name}</a>`;
  const daysLeft = (c: ListedCertificate) => Math.floor((c.notAfter! - now) / DAY);
  const filterLink = (status: string, label: string) => html`<a href="/certificates?status=${encodeURIComponent(status)}">${label}</a>`;

  return page(
    layout(
      { title: 'Dashboard', session: { csrfToken: pc.session.csrfToken, section: 'dashboard' } },
      html`<h1>Dashboard</h1>
${f.pausedAccounts.length
  ? html`<section aria-labelledby="ca-pauses"><h2 id="ca-pauses">The CA asked to wait</h2>
<div class="flash">${f.pausedAccounts.map(
      (a) =>
        html`<p class="info" role="status">New orders of the ACME account <a href="/accounts/${encodeURIComponent(a.name)}">${a.name}</a> are paused until ${formatTime(a.until)}${a.problem ? html` (${problemSummary(a.problem)}${a.problem.detail ? html`: ${a.problem.detail}` : null})` : null}. They start by themselves then.</p>`,
    )}</div></section>`
  : null}
${attentionSection(needs)}
${timelineSection(timeline)}
<section aria-labelledby="by-state"><h2 id="by-state">Certificates by state</h2>
  <ul class="state-counts">${STATES.map((s) => html`<li>${badge(s)} <strong>${f.counts[s]}</strong></li>`)}</ul>
  <p>${filterLink('failing', `${f.failing} failing`)} · ${filterLink('expiring', `${f.expiringSoon} expiring within ${DEFAULT_EXPIRING_DAYS} days`)}</p>
  <div class="actions">${linkButton('/certificates', 'All certificates')}</div>
</section>
${table({
  caption: 'Expiring soonest',
  columns: [
    { label: 'Certificate', cell: (c: ListedCertificate) => nameLink(c) },
    { label: 'State', cell: (c) => badge(c.status) },
    { label: 'Expires', cell: (c) => new Date(c.notAfter!).toISOString().slice(0, 10) },
    { label: 'Days left', cell: (c) => daysLeft(c), numeric: true },
    { label: 'Renewal due', cell: (c) => (c.renewAt ? new Date(c.renewAt).toISOString().slice(0, 16).replace('T', ' ') : '—') },
  ],
  rows: f.expiring,
  empty: 'No certificate has been issued yet.',
})}
${table({
  caption: 'Recent failures',
  columns: [
    { label: 'Certificate', cell: (c: ListedCertificate) => nameLink(c) },
    { label: 'Problem', cell: (c) => c.lastError?.detail ?? '' },
    { label: 'Next attempt', cell: (c) => (c.nextAttemptAt ? new Date(c.nextAttemptAt).toISOString().slice(0, 16).replace('T', ' ') : '—') },
  ],
  rows: f.failures,
  empty: 'No failures.',
})}
${f.failing > f.failures.length ? html`<p>${filterLink('failing', `All ${f.failing} failing certificates`)}</p>` : null}`,
    ),
  );
}

/** GET /api/v1/dashboard: what needs attention and the expiry timeline, as the dashboard shows them. */
export async function dashboardApi(_request: Request, ctx: HandlerContext): Promise<Response> {
  const [needs, timeline] = await Promise.all([attention(ctx.deps), expiryTimeline(ctx.deps)]);
  return Response.json(dashboardApiView(needs, timeline));
}
