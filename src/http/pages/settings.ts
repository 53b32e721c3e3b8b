// /settings: what the admin may change at run time (kept in the database), and, read-only, how
// the host's scheduler is set up (that comes from the environment, so it is changed there).
//
// Renewal days: empty means the default rule — a third of the lifetime left (30 days of a 90-day
// certificate) — and a CA's ARI window wins over either. The accepted range is Certera's, 10 to
// 45 days: fewer leaves too little time to notice a failing renewal, more would renew a 90-day
// certificate after half its life anyway (renewal never comes before half-way).
import type { HandlerContext } from '../context.ts';
import { html, page } from '../../html/html.ts';
import { layout, type Flash } from '../../../templates/layout.ts';
import { button, csrfField, field } from '../../../templates/components.ts';
import { detailsTable } from '../../../templates/details.ts';
import { getSettings } from '../../domain/settings.ts';
import { RENEW_DAYS_MAX, RENEW_DAYS_MIN, setRenewDays } from '../../domain/renewal.ts';
import { redirect, signedIn, type PageContext } from './guard.ts';
import type { PageRoute } from './routes.ts';


/** The form's text as the setting: null for empty, a whole number in range, or an error in words. */
export function parseRenewDays(text: string | null): { value: number | null } | { error: string } {
  const t = (text ?? '').trim();
  if (t === '') return { value: null };
  if (!/^\d+$/.test(t)) return { error: `Enter a whole number of days from ${RENEW_DAYS_MIN} to ${RENEW_DAYS_MAX}, or leave it empty.` };
  const n = Number(t);
  if (n < RENEW_DAYS_MIN || n > RENEW_DAYS_MAX) return { error: `Between ${RENEW_DAYS_MIN} and ${RENEW_DAYS_MAX} days, or leave it empty for the default.` };
  return { value: n };
}

function settingsPage(ctx: HandlerContext, pc: PageContext, o: { value: string; error?: string; flash?: Flash[] }, status = 200): Response {
  const node = ctx.deps.runtime === 'node';
  return page(
    layout(
      { title: 'Settings', session: { csrfToken: pc.session.csrfToken, section: 'settings' }, flash: o.flash },
      html`<h1>Settings</h1>
<section aria-labelledby="renewal"><h2 id="renewal">Renewal</h2>
<form method="post" action="/settings" novalidate>
  ${csrfField(pc.session.csrfToken)}
  ${field({
    name: 'renewDays',
    label: 'Renew this many days before expiry',
    type: 'number',
    value: o.value,
    error: o.error,
    hint: `${RENEW_DAYS_MIN} to ${RENEW_DAYS_MAX} days, but never before half the certificate's lifetime. Empty: when a third of the lifetime is left (30 days of a 90-day certificate). A CA that publishes renewal windows (ARI) decides instead of either. A change moves the renewal time of the certificates already served.`,
    attributes: { min: RENEW_DAYS_MIN, max: RENEW_DAYS_MAX, step: 1, inputmode: 'numeric', placeholder: 'default' },
  })}
  <div class="actions">${button('Save', { variant: 'primary' })}</div>
</form>
</section>
<section aria-labelledby="scheduler"><h2 id="scheduler">Scheduler on this host</h2>
<p>These come from the ${node ? 'environment (or config.json in the data directory)' : 'Worker’s configuration (wrangler.toml)'}; change them there and restart.</p>
${detailsTable(
  'Scheduler',
  node
    ? [
        { label: 'Orders in flight at once', value: html`${ctx.deps.concurrency} <span class="hint">(set by <code>CERTKEEP_CONCURRENCY</code>, default 8)</span>` },
        { label: 'Looks for due work', value: html`every <code>CERTKEEP_TICK_SECONDS</code> seconds (default 60)` },
      ]
    : [
        { label: 'Orders in flight at once', value: html`${ctx.deps.concurrency} <span class="hint">(the <code>CONCURRENCY</code> var)</span>` },
        { label: 'Looks for due work', value: html`at each run of the cron trigger (<code>[triggers] crons</code> in wrangler.toml; every minute as shipped)` },
      ],
)}
</section>`,
    ),
    { status },
  );
}

async function showSettings(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const { renewDays } = await getSettings(ctx.deps);
  const saved = new URL(request.url).searchParams.get('done') === 'saved';
  return settingsPage(ctx, pc, { value: renewDays === null ? '' : String(renewDays), flash: saved ? [{ kind: 'success', message: 'Settings saved.' }] : [] });
}

async function submitSettings(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const text = pc.form.get('renewDays') ?? '';
  const parsed = parseRenewDays(text);
  if ('error' in parsed) return settingsPage(ctx, pc, { value: text, error: parsed.error, flash: [{ kind: 'error', message: 'The setting was not saved.' }] }, 400);
  await setRenewDays(ctx.deps, parsed.value);
  return redirect('/settings?done=saved');
}

export const settingsPages: readonly PageRoute[] = [
  ['get', '/settings', showSettings],
  ['post', '/settings', submitSettings],
];
