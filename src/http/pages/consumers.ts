// /consumers: every certificate's consumers, a page at a time, filtered the way the dashboard's
// attention list links to it (`?status=stale`, `?status=failed`, `?status=behind`). The same
// list as GET /api/v1/consumers (domain/consumers.ts pageConsumers), along its indexes.
import type { HandlerContext } from '../context.ts';
import { html, page } from '../../html/html.ts';
import { layout } from '../../../templates/layout.ts';
import { linkButton, table } from '../../../templates/components.ts';
import { cursorPager } from '../../../templates/pager.ts';
import { formatTime } from '../../../templates/format.ts';
import { consumerView, pageConsumers, parseConsumerListQuery, staleRule, type ConsumerFilter, type ConsumerView } from '../../domain/consumers.ts';
import { consumerStateCell } from '../../../templates/agent.ts';
import { signedIn } from './guard.ts';
import type { PageRoute } from './routes.ts';

export const CONSUMERS_PER_PAGE = 50;

const FILTERS: ReadonlyArray<{ value: ConsumerFilter | null; label: string }> = [
  { value: null, label: 'All' },
  { value: 'stale', label: 'Stale' },
  { value: 'behind', label: 'Behind' },
  { value: 'failed', label: 'Failed installs' },
];

type Row = ConsumerView & { certificate: string };

async function consumersPage(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const url = new URL(request.url);
  const query = parseConsumerListQuery(url.searchParams, { defaultLimit: CONSUMERS_PER_PAGE });
  const rule = await staleRule(ctx.deps);
  const found = await pageConsumers(ctx.deps, query, rule);
  const filter = query.status[0] ?? null;
  const rows: Row[] = found.items.map((c) => ({ certificate: c.certificate, ...consumerView(c.row, c.currentSerial, rule) }));
  const what =
    filter === 'stale'
      ? `Servers that have not fetched a renewed certificate ${rule.staleHours} hours or more after its renewal, the longest behind first.`
      : filter === 'behind'
        ? 'Servers that have not fetched the current serial of their certificate yet, the longest behind first.'
        : filter === 'failed'
          ? "Servers whose agent's latest report says installing the certificate failed, the latest first."
          : 'Every server that fetches a certificate (one per certificate, API key and address), the newest first.';
  const certLink = (r: Row) => html`<a href="/certificates/${encodeURIComponent(r.certificate)}#consumers">${r.certificate}</a>`;
  return page(
    layout(
      { title: 'Consumers', session: { csrfToken: pc.session.csrfToken, section: 'certificates' } },
      html`<h1>Consumers</h1>
<p>${what}</p>
<nav aria-label="Show" class="actions">${FILTERS.map((f) =>
        f.value === filter
          ? html`<a class="button primary" aria-current="page" href="${f.value ? `/consumers?status=${f.value}` : '/consumers'}">${f.label}</a>`
          : linkButton(f.value ? `/consumers?status=${f.value}` : '/consumers', f.label),
      )}</nav>
${table<Row>({
  caption: FILTERS.find((f) => f.value === filter)!.label + ' consumers',
  captionHidden: true,
  columns: [
    { label: 'Certificate', cell: certLink },
    { label: 'Server', cell: (c) => html`<code>${c.address}</code>${c.host ? html`<br>${c.host}` : null}<br><span class="muted">API key ${c.apiKeySlot}</span>` },
    { label: 'State', cell: consumerStateCell },
    { label: 'Fetched', cell: (c) => (c.fetchedSerial ? html`<code>${c.fetchedSerial}</code><br><span class="muted">${formatTime(c.fetchedAt)}</span>` : '—') },
    { label: 'Installed', cell: (c) => (c.installedSerial ? html`<code>${c.installedSerial}</code><br><span class="muted">${formatTime(c.installedAt)}</span>` : '—') },
  ],
  rows,
  empty: filter ? 'None.' : 'No server has fetched a certificate yet.',
})}
${cursorPager({ url, next: found.next, label: 'Pages of consumers' })}`,
    ),
  );
}

export const consumersPages: readonly PageRoute[] = [['get', '/consumers', consumersPage]];
