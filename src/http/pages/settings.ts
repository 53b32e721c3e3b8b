// /settings: what the admin may change at run time (kept in the database), and, read-only, how
// the host's scheduler is set up (that comes from the environment, so it is changed there).
//
// This server's hostname (node host): the name other machines reach Certkeep by. Certkeep obtains
// its HTTPS certificate for it, and the curl commands of the certificate and key pages use it.
// Given at setup, or here later; changing it moves the site certificate to the new name.
//
// Renewal days: empty means the default rule — a third of the lifetime left (30 days of a 90-day
// certificate) — and a CA's ARI window wins over either. The accepted range is Certera's, 10 to
// 45 days: fewer leaves too little time to notice a failing renewal, more would renew a 90-day
// certificate after half its life anyway (renewal never comes before half-way).
import type { HandlerContext } from '../context.ts';
import { html, page, type Html } from '../../html/html.ts';
import { layout, type Flash } from '../../../templates/layout.ts';
import { button, csrfField, field } from '../../../templates/components.ts';
import { detailsTable } from '../../../templates/details.ts';
import { AUDIT_RETENTION, DEFAULT_STALE_HOURS, STALE_HOURS_MAX, STALE_HOURS_MIN, getSettings, setAuditRetention } from '../../domain/settings.ts';
import { setStaleHours } from '../../domain/consumers.ts';
import { RENEW_DAYS_MAX, RENEW_DAYS_MIN, setRenewDays } from '../../domain/renewal.ts';
import { SITE_CERTIFICATE, setSiteHostname, siteHostnameOf } from '../../domain/setup.ts';
import { CertkeepError } from '../../errors.ts';
import { errorText } from '../../../templates/error-text.ts';
import { byPage, redirect, signedIn, type PageContext } from './guard.ts';
import { statusOf } from './form-errors.ts';
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

interface SettingsForm {
  value: string;
  error?: string;
  /** The staleHours field: as saved, or as typed with its error after a refused change. */
  staleHours: { value: string; error?: string };
  /** The hostname as saved (null: none) and, after a refused change, as typed with its error. */
  hostname: { saved: string | null; value?: string; error?: string };
  /** The audit log's retention as saved and, after a refused change, as typed with its error. */
  retention: { saved: number; value?: string; error?: string };
  flash?: Flash[];
}

/** Node host: the hostname other machines reach this server by, shown and changed here. */
function hostnamePart(ctx: HandlerContext, pc: PageContext, o: SettingsForm['hostname']): Html | null {
  if (ctx.deps.runtime !== 'node') return null;
  const port = ctx.deps.httpsListenPort;
  return html`<section aria-labelledby="hostname"><h2 id="hostname">This server</h2>
<p>${o.saved
    ? html`Other machines reach Certkeep at <code>https://${o.saved}${port !== undefined && port !== 443 ? `:${port}` : ''}</code>: its HTTPS certificate is the certificate <a href="/certificates/${SITE_CERTIFICATE}">${SITE_CERTIFICATE}</a>, and the curl commands on the certificate and key pages use this address.`
    : html`<strong>No hostname is set.</strong> The curl commands on the certificate and key pages need the name other machines reach Certkeep by; until it is set they show a placeholder.`}</p>
<form method="post" action="/settings/hostname" novalidate>
  ${csrfField(pc.session.csrfToken)}
  ${field({
    name: 'hostname',
    label: 'Hostname of this server',
    value: o.value ?? o.saved ?? '',
    error: o.error,
    hint: html`One DNS name that points at this server, e.g. certkeep.example.com. Certkeep obtains its HTTPS certificate for it with http-01, so the CA must reach this server on port 80 under that name.${port !== undefined && port !== 443 ? html` The HTTPS port is ${port} (<code>CERTKEEP_HTTPS_PORT</code>).` : null}`,
    attributes: { autocomplete: 'off', spellcheck: 'false', inputmode: 'url' },
  })}
  <div class="actions">${button(o.saved ? 'Change hostname' : 'Set hostname', { variant: 'primary' })}</div>
</form>
</section>`;
}

/** When a consumer that has not fetched a renewed certificate counts as stale (SPEC §4.5). */
function consumersPart(pc: PageContext, o: { value: string; error?: string }): Html {
  return html`<section aria-labelledby="consumers"><h2 id="consumers">Consumers</h2>
<form method="post" action="/settings/consumers" novalidate>
  ${csrfField(pc.session.csrfToken)}
  ${field({
    name: 'staleHours',
    label: 'Stale after this many hours',
    type: 'number',
    value: o.value,
    error: o.error,
    hint: `A server that has not fetched a renewed certificate this many hours after the renewal is stale: its certificate page and the dashboard say so, and the consumer.stale notification is sent once for it. ${STALE_HOURS_MIN} to ${STALE_HOURS_MAX} hours; default ${DEFAULT_STALE_HOURS}. Agents that run hourly fetch a renewal within the hour.`,
    attributes: { min: STALE_HOURS_MIN, max: STALE_HOURS_MAX, step: 1, inputmode: 'numeric' },
  })}
  <div class="actions">${button('Save stale time')}</div>
</form>
</section>`;
}

function settingsPage(ctx: HandlerContext, pc: PageContext, o: SettingsForm, status = 200): Response {
  const node = ctx.deps.runtime === 'node';
  const tick = ctx.deps.tickSeconds;
  return page(
    layout(
      { title: 'Settings', session: { csrfToken: pc.session.csrfToken, section: 'settings' }, flash: o.flash },
      html`<h1>Settings</h1>
${hostnamePart(ctx, pc, o.hostname)}
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
  <div class="actions">${button('Save renewal days', { variant: 'primary' })}</div>
</form>
</section>
<section aria-labelledby="audit-retention"><h2 id="audit-retention">Audit log</h2>
<p>The <a href="/audit">audit log</a> keeps who changed what and who downloaded which certificate and key. Older records are removed; the chain that makes changes to the log evident goes on from the last one removed.</p>
<form method="post" action="/settings/audit" novalidate>
  ${csrfField(pc.session.csrfToken)}
  ${field({
    name: 'auditRetentionDays',
    label: 'Keep audit records for this many days',
    type: 'number',
    value: o.retention.value ?? String(o.retention.saved),
    error: o.retention.error,
    hint: `${AUDIT_RETENTION.min} to ${AUDIT_RETENTION.max} days; ${AUDIT_RETENTION.default} by default.`,
    attributes: { min: AUDIT_RETENTION.min, max: AUDIT_RETENTION.max, step: 1, inputmode: 'numeric' },
  })}
  <div class="actions">${button('Save retention')}</div>
</form>
</section>
${consumersPart(pc, o.staleHours)}
<section aria-labelledby="scheduler"><h2 id="scheduler">Scheduler on this host</h2>
<p>These come from the ${node ? 'environment (or config.json in the data directory)' : 'Worker’s configuration (wrangler.toml)'}; change them there and restart.</p>
${detailsTable(
  'Scheduler',
  node
    ? [
        { label: 'Orders in flight at once', value: html`${ctx.deps.concurrency} <span class="hint">(set by <code>CERTKEEP_CONCURRENCY</code>, default 8)</span>` },
        {
          label: 'Looks for due work',
          value: html`every ${tick ?? 60} second${(tick ?? 60) === 1 ? '' : 's'} <span class="hint">(set by <code>CERTKEEP_TICK_SECONDS</code>, default 60)</span>`,
        },
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

/** The form as saved: what every refused change shows beside the field it refuses. */
async function savedForm(ctx: HandlerContext): Promise<SettingsForm> {
  const { renewDays, auditRetentionDays, staleHours } = await getSettings(ctx.deps);
  return {
    value: renewDays === null ? '' : String(renewDays),
    staleHours: { value: String(staleHours) },
    hostname: { saved: await siteHostnameOf(ctx.deps) },
    retention: { saved: auditRetentionDays },
  };
}

const NOT_SAVED: Flash[] = [{ kind: 'error', message: 'The setting was not saved.' }];

async function showSettings(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const done = new URL(request.url).searchParams.get('done');
  const flash: Flash[] =
    done === 'saved' ? [{ kind: 'success', message: 'Settings saved.' }]
    : done === 'hostname' ? [{ kind: 'success', message: html`Hostname saved. Its HTTPS certificate is being obtained: <a href="/certificates/${SITE_CERTIFICATE}">follow it here</a>.` }]
    : [];
  return settingsPage(ctx, pc, { ...(await savedForm(ctx)), flash });
}

async function submitSettings(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const text = pc.form.get('renewDays') ?? '';
  const parsed = parseRenewDays(text);
  if ('error' in parsed) return settingsPage(ctx, pc, { ...(await savedForm(ctx)), value: text, error: parsed.error, flash: NOT_SAVED }, 400);
  await setRenewDays(ctx.deps, byPage(pc, ctx), parsed.value);
  return redirect('/settings?done=saved');
}

async function submitHostname(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  if (ctx.deps.runtime !== 'node') return redirect('/settings');
  const typed = (pc.form.get('hostname') ?? '').trim();
  try {
    if (typed === '') throw new CertkeepError('BAD_REQUEST', 'hostname: enter the name other machines reach this server by', { field: 'hostname' });
    await setSiteHostname(ctx.deps, byPage(pc, ctx), typed);
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    const form = await savedForm(ctx);
    const hostname = { saved: form.hostname.saved, value: typed, error: errorText(err) };
    return settingsPage(ctx, pc, { ...form, hostname, flash: [{ kind: 'error', message: 'The hostname was not saved.' }] }, statusOf(err));
  }
  return redirect('/settings?done=hostname');
}

async function submitRetention(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const typed = (pc.form.get('auditRetentionDays') ?? '').trim();
  const days = /^\d{1,5}$/.test(typed) ? Number(typed) : NaN;
  if (!(days >= AUDIT_RETENTION.min && days <= AUDIT_RETENTION.max)) {
    const form = await savedForm(ctx);
    const retention = { saved: form.retention.saved, value: typed, error: `Enter a whole number of days from ${AUDIT_RETENTION.min} to ${AUDIT_RETENTION.max}.` };
    return settingsPage(ctx, pc, { ...form, retention, flash: NOT_SAVED }, 400);
  }
  await setAuditRetention(ctx.deps, byPage(pc, ctx), days);
  return redirect('/settings?done=saved');
}

async function submitConsumers(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const text = (pc.form.get('staleHours') ?? '').trim();
  const n = Number(text);
  if (!/^\d{1,4}$/.test(text) || n < STALE_HOURS_MIN || n > STALE_HOURS_MAX) {
    const staleHours = { value: text, error: `Enter a whole number of hours from ${STALE_HOURS_MIN} to ${STALE_HOURS_MAX}.` };
    return settingsPage(ctx, pc, { ...(await savedForm(ctx)), staleHours, flash: NOT_SAVED }, 400);
  }
  await setStaleHours(ctx.deps, n, byPage(pc, ctx));
  return redirect('/settings?done=saved#consumers');
}

export const settingsPages: readonly PageRoute[] = [
  ['get', '/settings', showSettings],
  ['post', '/settings', submitSettings],
  ['post', '/settings/hostname', submitHostname],
  ['post', '/settings/audit', submitRetention],
  ['post', '/settings/consumers', submitConsumers],
];
