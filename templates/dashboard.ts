// The dashboard's first parts: what needs attention, each count linked to its list filtered, and
// the expiry timeline drawn as server-side SVG — no script, no inline style (CSP `default-src
// 'self'`): geometry in attributes, colours from classes in app.css. The picture is an image
// with a title and a description for assistive technology, each week a group with its own
// <title> (a tooltip), and the same numbers follow as a table.
import { attrs, html, type Html } from '../src/html/html.ts';
import type { Attention, Timeline, TimelineWeek } from '../src/domain/dashboard.ts';
import { RISK_RULE, TIMELINE_DAYS } from '../src/domain/dashboard.ts';
import { table } from './components.ts';

interface AttentionLine {
  count: number;
  href: string;
  /** Words after the count, for one and for several. */
  one: string;
  many: string;
  hint: string;
}

/** `Needs attention`: each count a link to the list it counts, the ones above zero first. */
export function attentionSection(a: Attention): Html {
  const lines: AttentionLine[] = [
    { count: a.failing, href: '/certificates?status=failing', one: 'failing renewal', many: 'failing renewals', hint: 'the last attempt failed; Certkeep retries with back-off' },
    {
      count: a.expiringSoon,
      href: `/certificates?status=expiring&days=${a.expiringDays}`,
      one: `certificate expiring within ${a.expiringDays} days`,
      many: `certificates expiring within ${a.expiringDays} days`,
      hint: 'renewals normally come long before this',
    },
    {
      count: a.staleConsumers,
      href: '/consumers?status=stale',
      one: 'stale consumer',
      many: 'stale consumers',
      hint: `servers that have not fetched a renewed certificate ${a.staleHours} hours after its renewal`,
    },
    { count: a.failedInstalls, href: '/consumers?status=failed', one: 'failed install', many: 'failed installs', hint: "the agent's latest report says installing failed" },
    { count: a.trackedProblems, href: '/tracking?status=problems', one: 'tracked server with a problem', many: 'tracked servers with a problem', hint: 'unreachable, untrusted chain or a name mismatch' },
  ];
  const needing = lines.filter((l) => l.count > 0);
  const ordered = [...needing, ...lines.filter((l) => l.count === 0)];
  return html`<section aria-labelledby="attention"><h2 id="attention">Needs attention</h2>
<p${attrs({ class: needing.length ? null : 'muted', id: 'attention-summary' })}>${needing.length ? `${needing.length} of these need${needing.length === 1 ? 's' : ''} a look.` : 'Nothing needs attention.'}</p>
<ul class="attention">${ordered.map(
    (l) => html`<li${attrs({ class: l.count > 0 ? 'attention-item attention-bad' : 'attention-item' })}><a href="${l.href}"><strong class="attention-count">${l.count}</strong> ${l.count === 1 ? l.one : l.many}</a> <span class="muted">— ${l.hint}</span></li>`,
  )}</ul>
</section>`;
}

// ---- the expiry timeline --------------------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `5 Jan` (UTC). */
export function shortDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
}

/** What one week says in words: the group's <title> and the table's row agree. */
export function weekWords(w: TimelineWeek): string {
  const tracked = w.tracked ? `; ${w.tracked} tracked on servers or uploaded` : '';
  if (w.expiring === 0) return `Week of ${shortDate(w.start)}: no certificate expires${tracked}`;
  return `Week of ${shortDate(w.start)}: ${w.expiring} expire${w.expiring === 1 ? 's' : ''}; renewal planned for ${w.planned}, at risk ${w.atRisk}${tracked}`;
}

/**
 * The drawing's geometry (viewBox units). Narrow enough to be read on a phone (13 or 14 weeks in
 * about 400 units: text of 10–11 units stays about 10 px at 360 px wide); app.css caps its width
 * on a desktop.
 */
export const CHART = { slot: 28, bar: 18, tracked: 3, left: 6, top: 18, height: 120, bottom: 30 } as const;

/** Bar height for `n` of at most `max` (the tallest bar fills the chart; a non-zero count is at least 2 units tall). */
export function barHeight(n: number, max: number): number {
  if (n <= 0 || max <= 0) return 0;
  return Math.max(2, Math.round((n / max) * CHART.height));
}

/**
 * The timeline as an SVG image: one group per week, a stacked bar (planned below, at risk on top),
 * its count above, its date below, and a narrow bar beside it for the tracked certificates
 * expiring that week (on the same scale).
 */
export function timelineSvg(t: Timeline): Html {
  const max = Math.max(0, ...t.weeks.map((w) => Math.max(w.expiring, w.tracked)));
  const width = CHART.left * 2 + t.weeks.length * CHART.slot;
  const base = CHART.top + CHART.height;
  const total = t.weeks.reduce((n, w) => n + w.expiring, 0);
  const risky = t.weeks.reduce((n, w) => n + w.atRisk, 0);
  const busiest = t.weeks.reduce<TimelineWeek | undefined>((b, w) => (w.expiring > (b?.expiring ?? 0) ? w : b), undefined);
  const desc = `${total} certificate${total === 1 ? '' : 's'} expire${total === 1 ? 's' : ''} in the ${t.weeks.length} weeks shown; ${risky} of them at risk.${busiest ? ` The busiest week is the week of ${shortDate(busiest.start)}, with ${busiest.expiring}.` : ''}`;
  const groups = t.weeks.map((w, i) => {
    const x = CHART.left + i * CHART.slot + (CHART.slot - CHART.bar) / 2;
    const hAll = barHeight(w.expiring, max);
    const hRisk = w.atRisk > 0 ? Math.max(2, Math.round((w.atRisk / w.expiring) * hAll)) : 0;
    const hPlanned = hAll - hRisk;
    const cx = x + CHART.bar / 2;
    const hTracked = barHeight(w.tracked, max);
    return html`<g class="week"${attrs({ 'data-start': new Date(w.start).toISOString().slice(0, 10), 'data-expiring': w.expiring, 'data-planned': w.planned, 'data-at-risk': w.atRisk, 'data-tracked': w.tracked })}><title>${weekWords(w)}</title>
<rect class="bar-slot" x="${CHART.left + i * CHART.slot}" y="${CHART.top}" width="${CHART.slot}" height="${CHART.height}"/>
${hPlanned > 0 ? html`<rect class="bar-planned" x="${x}" y="${base - hPlanned}" width="${CHART.bar}" height="${hPlanned}"/>` : null}
${hRisk > 0 ? html`<rect class="bar-risk" x="${x}" y="${base - hAll}" width="${CHART.bar}" height="${hRisk}"/>` : null}
${hTracked > 0 ? html`<rect class="bar-tracked" x="${x + CHART.bar + 1}" y="${base - hTracked}" width="${CHART.tracked}" height="${hTracked}"/>` : null}
<text class="bar-count" x="${cx}" y="${base - hAll - 5}" text-anchor="middle">${w.expiring}</text>
<text class="bar-label" x="${cx}" y="${base + 13}" text-anchor="middle">${new Date(w.start).getUTCDate()}</text>
${i === 0 || new Date(w.start).getUTCDate() <= 7 ? html`<text class="bar-label" x="${cx}" y="${base + 25}" text-anchor="middle">${MONTHS[new Date(w.start).getUTCMonth()]}</text>` : null}
</g>`;
  });
  return html`<svg class="timeline-chart" role="img" aria-labelledby="timeline-title timeline-desc" viewBox="0 0 ${width} ${base + CHART.bottom}" xmlns="http://www.w3.org/2000/svg">
<title id="timeline-title">Certificates expiring per week, the next ${Math.round((t.until - t.from) / 86_400_000)} days</title>
<desc id="timeline-desc">${desc}</desc>
<line class="axis" x1="${CHART.left}" y1="${base}" x2="${width - CHART.left}" y2="${base}"/>
${groups}
</svg>`;
}

/** The timeline section: the picture, its legend, and the same numbers as a table. */
export function timelineSection(t: Timeline): Html {
  const total = t.weeks.reduce((n, w) => n + w.expiring + w.tracked, 0);
  if (total === 0) {
    return html`<section aria-labelledby="timeline"><h2 id="timeline">Expiry timeline</h2>
<p class="muted" id="timeline-empty">No certificate Certkeep serves or tracks expires in the next ${TIMELINE_DAYS} days.</p>
</section>`;
  }
  return html`<section aria-labelledby="timeline"><h2 id="timeline">Expiry timeline</h2>
<p>Certificates served, by the week they expire in (weeks from Monday, UTC; the date under each bar is its Monday), and whether their renewal is planned in time or at risk (${RISK_RULE}); beside them, the certificates tracked on servers or uploaded that expire that week.</p>
<figure class="timeline">
${timelineSvg(t)}
<figcaption class="timeline-legend"><span class="swatch swatch-planned"></span> renewal planned <span class="swatch swatch-risk"></span> at risk <span class="swatch swatch-tracked"></span> tracked</figcaption>
</figure>
<details class="timeline-table"><summary>The timeline as a table</summary>
${table({
  caption: 'Certificates expiring per week',
  columns: [
    { label: 'Week of', cell: (w: TimelineWeek) => new Date(w.start).toISOString().slice(0, 10) },
    { label: 'Expiring', cell: (w) => w.expiring, numeric: true },
    { label: 'Renewal planned', cell: (w) => w.planned, numeric: true },
    { label: 'At risk', cell: (w) => w.atRisk, numeric: true },
    { label: 'Tracked', cell: (w) => w.tracked, numeric: true },
  ],
  rows: t.weeks,
})}
</details>
</section>`;
}
