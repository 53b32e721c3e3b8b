// /dns-providers: where dns-01 records are published. A list; a form per provider type with that
// type's own fields (the form's fields become the same configuration object the JSON API takes,
// and the type's validator decides, so both say the same about a mistake — here next to the
// field); a page per provider showing its configuration without secrets, the CNAME records an
// acme-dns provider needs, and removal. `script` and `rfc2136` need the node host and are offered
// only there.
import type { HandlerContext, RoutedRequest } from '../context.ts';
import { html, page, type Html, type HtmlValue } from '../../html/html.ts';
import { layout, type Flash } from '../../../templates/layout.ts';
import { button, csrfField, field, linkButton, selectField, table, textareaField } from '../../../templates/components.ts';
import { detailsTable, wrappable, type DetailRow } from '../../../templates/details.ts';
import { confirmForm, confirmed } from '../../../templates/confirm-form.ts';
import { errorField, errorText, fieldMessage } from '../../../templates/error-text.ts';
import { CertkeepError } from '../../errors.ts';
import * as dns from '../../domain/dns/providers.ts';
import { DNS_PROVIDER_TYPES, NODE_ONLY_PROVIDER_TYPES, type DnsProviderType } from '../../domain/dns/types.ts';
import { PLACEHOLDERS } from '../../domain/dns/names.ts';
import { certificatesUsing, dnsProviderUsage, pageDnsProviders, parseNameListQuery } from '../../domain/lists.ts';
import { cursorPager } from '../../../templates/pager.ts';
import type { Runtime } from '../../deps.ts';
import { fieldError, NAME_HINT, NAME_PATTERN } from '../validate.ts';
import { byPage, redirect, signedIn, type PageContext } from './guard.ts';
import type { PageRoute } from './routes.ts';

type Errors = Record<string, string>;
type Values = URLSearchParams;

const TSIG_ALGORITHMS = ['hmac-sha256', 'hmac-sha384', 'hmac-sha512', 'hmac-sha1'];
const placeholders = PLACEHOLDERS.map((p) => `{{${p}}}`).join(' ');

interface TypeForm {
  label: string;
  /** What it is, in a few words, for the list of types. */
  short: string;
  description: HtmlValue;
  /** The type's own fields. */
  fields(v: Values, e: Errors): Html;
  /** The form's fields as the configuration object the type's validator takes. */
  config(form: Values): unknown;
  /** Form fields holding secrets: never written back into a page. */
  secrets: readonly string[];
  /** Configuration paths (as validators name them) → the form field that holds them. */
  fieldOf: Readonly<Record<string, string>>;
}

// ---- form text → configuration ---------------------------------------------------------------

/** One entry per non-empty line, each trimmed. */
export function lines(text: string | null): string[] {
  return (text ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** `NAME=VALUE` per line (as in Certera's settings); the value is everything after the first `=`. */
export function parseEnv(text: string | null): Record<string, string> | undefined {
  const env: Record<string, string> = {};
  const all = (text ?? '').split(/\r?\n/);
  for (let i = 0; i < all.length; i++) {
    const line = all[i].replace(/^\s+/, '');
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw fieldError('env', `line ${i + 1}: expected NAME=VALUE`);
    const name = line.slice(0, eq).trim();
    if (name in env) throw fieldError('env', `line ${i + 1}: ${name} is set twice`);
    env[name] = line.slice(eq + 1);
  }
  return Object.keys(env).length ? env : undefined;
}

const optional = (form: Values, name: string): string | undefined => (form.get(name) ?? '').trim() || undefined;

/** A whole number when the text is one; otherwise the text, for the validator to refuse by name. */
function optionalNumber(form: Values, name: string): number | string | undefined {
  const text = optional(form, name);
  return text === undefined ? undefined : /^\d+$/.test(text) ? Number(text) : text;
}

const secretHint = 'Stored encrypted and never shown again. After a mistake elsewhere in the form, enter it again.';

const TYPES: Record<DnsProviderType, TypeForm> = {
  webhook: {
    label: 'Webhook',
    short: 'an HTTPS endpoint of yours publishes the record',
    description: html`Certkeep POSTs <code>{"action":"set"|"clear","fqdn","value"}</code> to your URL, signed with a shared secret (header <code>X-Certkeep-Signature: sha256=…</code>). Any 2xx answer is success.`,
    fields: (v, e) => html`${field({ name: 'url', label: 'URL', type: 'url', value: v.get('url'), required: true, error: e.url, hint: 'https, or http to a loopback address.' })}
${field({ name: 'secret', label: 'Shared secret', type: 'password', required: true, error: e.secret, hint: `At least 16 characters; your endpoint checks the signature with it. ${secretHint}`, attributes: { autocomplete: 'new-password' } })}`,
    config: (f) => ({ url: optional(f, 'url'), secret: f.get('secret') || undefined }),
    secrets: ['secret'],
    fieldOf: { url: 'url', secret: 'secret' },
  },
  'acme-dns': {
    label: 'acme-dns',
    short: 'an acme-dns server, through CNAME records',
    description: html`An <a href="https://github.com/joohoi/acme-dns" rel="noreferrer">acme-dns</a> server. Each name is registered there when a certificate uses this provider; you then create one CNAME record per name, listed on this provider's page.`,
    fields: (v, e) => html`${field({ name: 'url', label: 'acme-dns server URL', type: 'url', value: v.get('url'), required: true, error: e.url, hint: 'The base URL, e.g. https://auth.example.com' })}
${textareaField({ name: 'allowFrom', label: 'Allowed update sources (optional)', value: v.get('allowFrom'), rows: 3, error: e.allowFrom, hint: 'One IP range (CIDR) per line that may update the records, e.g. 192.0.2.0/24.' })}`,
    config: (f) => ({ url: optional(f, 'url'), allowFrom: lines(f.get('allowFrom')).length ? lines(f.get('allowFrom')) : undefined }),
    secrets: [],
    fieldOf: { url: 'url', allowFrom: 'allowFrom' },
  },
  cloudflare: {
    label: 'Cloudflare',
    short: 'the Cloudflare DNS API',
    description: 'The Cloudflare DNS API, with an API token that may edit the zone’s DNS records (Zone → DNS → Edit).',
    fields: (v, e) => html`${field({ name: 'apiToken', label: 'API token', type: 'password', required: true, error: e.apiToken, hint: secretHint, attributes: { autocomplete: 'off' } })}
${field({ name: 'zoneId', label: 'Zone ID (optional)', value: v.get('zoneId'), error: e.zoneId, hint: 'Found by the name when empty. 32 hex digits, from the zone’s overview page.' })}`,
    config: (f) => ({ apiToken: f.get('apiToken') || undefined, zoneId: optional(f, 'zoneId') }),
    secrets: ['apiToken'],
    fieldOf: { apiToken: 'apiToken', zoneId: 'zoneId' },
  },
  script: {
    label: 'Script',
    short: 'programs on this server',
    description: html`Programs on this server publish and remove the record, as Certera’s DNS-01 scripts did. Each runs directly (never through a shell) once per name, with the arguments below; exit status 0 is success, and its output goes into the order’s log.`,
    fields: (v, e) => html`<fieldset><legend>Set the record</legend>
  ${field({ name: 'setCommand', label: 'Set command', value: v.get('setCommand'), required: true, error: e.setCommand, hint: 'A path, or a program name found in PATH.' })}
  ${textareaField({ name: 'setArgs', label: 'Set arguments', value: v.get('setArgs'), rows: 4, error: e.setArgs, hint: html`One argument per line. Placeholders: <code>${placeholders}</code>` })}
</fieldset>
<fieldset><legend>Clear the record</legend>
  ${field({ name: 'clearCommand', label: 'Clear command', value: v.get('clearCommand'), required: true, error: e.clearCommand })}
  ${textareaField({ name: 'clearArgs', label: 'Clear arguments', value: v.get('clearArgs'), rows: 4, error: e.clearArgs, hint: 'One argument per line, with the same placeholders.' })}
</fieldset>
${textareaField({ name: 'env', label: 'Environment variables (optional)', rows: 3, error: e.env, hint: `NAME=VALUE, one per line, e.g. API tokens for the scripts. They get these besides PATH, HOME and LANG. ${secretHint}` })}
${field({ name: 'timeoutSeconds', label: 'Time limit in seconds (optional)', type: 'number', value: v.get('timeoutSeconds'), error: e.timeoutSeconds, hint: '60 when empty; at most 600.', attributes: { min: 1, max: 600, inputmode: 'numeric' } })}`,
    config: (f) => ({
      set: { command: optional(f, 'setCommand'), args: lines(f.get('setArgs')) },
      clear: { command: optional(f, 'clearCommand'), args: lines(f.get('clearArgs')) },
      env: parseEnv(f.get('env')),
      timeoutSeconds: optionalNumber(f, 'timeoutSeconds'),
    }),
    secrets: ['env'],
    fieldOf: { set: 'setCommand', 'set.command': 'setCommand', 'set.args': 'setArgs', clear: 'clearCommand', 'clear.command': 'clearCommand', 'clear.args': 'clearArgs', env: 'env', timeoutSeconds: 'timeoutSeconds' },
  },
  rfc2136: {
    label: 'RFC 2136 dynamic update',
    short: 'TSIG-signed updates to your name server',
    description: 'TSIG-signed DNS UPDATE messages to your primary name server (BIND, Knot, PowerDNS…).',
    fields: (v, e) => html`${field({ name: 'server', label: 'Server', value: v.get('server'), required: true, error: e.server, hint: 'host or host:port of the primary server (port 53 when omitted).' })}
${field({ name: 'zone', label: 'Zone (optional)', value: v.get('zone'), error: e.zone, hint: 'Found from the SOA record when empty.' })}
${field({ name: 'tsigName', label: 'TSIG key name', value: v.get('tsigName'), required: true, error: e.tsigName })}
${selectField({ name: 'tsigAlgorithm', label: 'TSIG algorithm', options: TSIG_ALGORITHMS.map((a) => ({ value: a, label: a })), value: v.get('tsigAlgorithm') || 'hmac-sha256', error: e.tsigAlgorithm })}
${field({ name: 'tsigSecret', label: 'TSIG secret', type: 'password', required: true, error: e.tsigSecret, hint: `base64, as in the server’s key file. ${secretHint}`, attributes: { autocomplete: 'off' } })}
${field({ name: 'ttl', label: 'TTL of the record in seconds (optional)', type: 'number', value: v.get('ttl'), error: e.ttl, hint: '60 when empty.', attributes: { min: 1, max: 86400, inputmode: 'numeric' } })}`,
    config: (f) => ({
      server: optional(f, 'server'),
      zone: optional(f, 'zone'),
      tsig: { name: optional(f, 'tsigName'), algorithm: optional(f, 'tsigAlgorithm'), secret: (f.get('tsigSecret') ?? '').trim() || undefined },
      ttl: optionalNumber(f, 'ttl'),
    }),
    secrets: ['tsigSecret'],
    fieldOf: { server: 'server', zone: 'zone', tsig: 'tsigName', 'tsig.name': 'tsigName', 'tsig.algorithm': 'tsigAlgorithm', 'tsig.secret': 'tsigSecret', ttl: 'ttl' },
  },
};

/** The types this host can run, in the order offered. */
export function offeredTypes(runtime: Runtime): DnsProviderType[] {
  return DNS_PROVIDER_TYPES.filter((t) => runtime === 'node' || !NODE_ONLY_PROVIDER_TYPES.includes(t));
}

/**
 * Where a validation error belongs on the form, and what to say there: `set.args[2]` → the
 * "Set arguments" field, "Line 3: …"; `env.API_KEY` → "Environment variables", "API_KEY: …".
 */
export function placeError(type: DnsProviderType, err: CertkeepError): { field?: string; message: string } {
  const path = errorField(err);
  const message = fieldMessage(err);
  if (!path) return { message };
  if (path === 'name' || path === 'type') return { field: path, message };
  const item = /^(.*)\[(\d+)\]$/.exec(path);
  const base = item ? item[1] : path;
  const env = /^env\.(.+)$/.exec(path);
  const field = TYPES[type].fieldOf[base] ?? (env ? 'env' : undefined);
  const where = item ? `Line ${Number(item[2]) + 1}: ` : env ? `${env[1]}: ` : '';
  return { field, message: where ? where + message.charAt(0).toLowerCase() + message.slice(1) : message };
}

/** The form's fields as the configuration object `createDnsProvider` validates. */
export function providerConfig(type: DnsProviderType, form: Values): unknown {
  return JSON.parse(JSON.stringify(TYPES[type].config(form))); // drops the undefined members
}

// ---- pages ---------------------------------------------------------------------------------------

const DONE: Record<string, string> = {
  created: 'The DNS provider was saved.',
  deleted: 'The DNS provider was removed.',
};

function doneFlash(request: Request): Flash[] {
  const message = DONE[new URL(request.url).searchParams.get('done') ?? ''];
  return message ? [{ kind: 'success', message }] : [];
}

function typeLabel(type: string): string {
  return TYPES[type as DnsProviderType]?.label ?? type;
}

const when = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Providers shown on one page of the list. */
const PROVIDERS_PER_PAGE = 50;

async function listPage(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const url = new URL(request.url);
  const found = await pageDnsProviders(ctx.deps, parseNameListQuery(url.searchParams, { defaultLimit: PROVIDERS_PER_PAGE, ignore: ['done'] }));
  const rows = found.items;
  const usage = await dnsProviderUsage(ctx.deps, rows.map((r) => r.id));
  const uses = (id: string) => usage.get(id)?.count ?? 0;
  url.searchParams.delete('done');
  return page(
    layout(
      { title: 'DNS providers', session: { csrfToken: pc.session.csrfToken, section: 'dns-providers' }, flash: doneFlash(request) },
      html`<h1>DNS providers</h1>
<p>For dns-01 validation (and wildcard names), a provider publishes the TXT record the CA looks for.</p>
<div class="actions">${linkButton('/dns-providers/new', 'New DNS provider', 'primary')}</div>
${table({
  caption: 'DNS providers',
  captionHidden: true,
  columns: [
    { label: 'Name', cell: (r: dns.DnsProviderRow) => html`<a href="/dns-providers/${encodeURIComponent(r.name)}">${r.name}</a>` },
    { label: 'Type', cell: (r) => typeLabel(r.type) },
    { label: 'Certificates', cell: (r) => uses(r.id), numeric: true },
    { label: 'Created', cell: (r) => when(r.createdAt) },
  ],
  rows,
  empty: 'No DNS provider yet.',
})}
${cursorPager({ url, next: found.next, label: 'Pages of DNS providers' })}`,
    ),
  );
}

function newProviderPage(
  ctx: HandlerContext,
  pc: PageContext,
  type: DnsProviderType | undefined,
  s: { values?: Values; errors?: Errors; flash?: Flash[] } = {},
  status = 200,
): Response {
  const v = s.values ?? new URLSearchParams();
  const e = s.errors ?? {};
  const offered = offeredTypes(ctx.deps.runtime);
  const missing = DNS_PROVIDER_TYPES.filter((t) => !offered.includes(t));
  const choice = html`${type ? null : html`<p>Choose the kind of provider:</p>`}
<nav aria-label="Provider type"><ul class="type-choice">
${offered.map((t) => html`<li>${t === type ? html`<strong aria-current="page">${TYPES[t].label}</strong> (chosen)` : html`<a href="/dns-providers/new?type=${t}">${TYPES[t].label}</a>`}: ${TYPES[t].short}</li>`)}
</ul></nav>
${missing.length ? html`<p class="hint">${missing.map((t) => TYPES[t].label).join(' and ')} providers need the node host: on Workers there is no shell to run a script and no raw DNS.</p>` : null}`;
  const form = type
    ? html`<h2>${TYPES[type].label}</h2>
<p>${TYPES[type].description}</p>
<form method="post" action="/dns-providers" novalidate>
  ${csrfField(pc.session.csrfToken)}
  <input type="hidden" name="type" value="${type}">
  ${field({ name: 'name', label: 'Name', value: v.get('name'), required: true, error: e.name, hint: `How certificates refer to it: ${NAME_HINT}.`, attributes: { pattern: NAME_PATTERN.source, maxlength: 64, autocomplete: 'off' } })}
  ${TYPES[type].fields(v, e)}
  <div class="actions">${button('Save DNS provider', { variant: 'primary' })} ${linkButton('/dns-providers', 'Cancel')}</div>
</form>`
    : null;
  return page(
    layout(
      { title: type ? `New ${TYPES[type].label} DNS provider` : 'New DNS provider', session: { csrfToken: pc.session.csrfToken, section: 'dns-providers' }, flash: s.flash },
      html`<p><a href="/dns-providers">DNS providers</a></p>
<h1>New DNS provider</h1>
${choice}
${form}`,
    ),
    { status },
  );
}

function offeredType(ctx: HandlerContext, value: string | null): DnsProviderType | undefined {
  return offeredTypes(ctx.deps.runtime).find((t) => t === value);
}

async function showNewProvider(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const asked = new URL(request.url).searchParams.get('type');
  const type = offeredType(ctx, asked);
  const flash: Flash[] = asked && !type ? [{ kind: 'error', message: 'This kind of provider is not available here.' }] : [];
  return newProviderPage(ctx, pc, type, { flash }, asked && !type ? 404 : 200);
}

async function submitNewProvider(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const type = offeredType(ctx, pc.form.get('type'));
  if (!type) return newProviderPage(ctx, pc, undefined, { flash: [{ kind: 'error', message: 'Choose a kind of provider that this host offers.' }] }, 400);
  const values = new URLSearchParams(pc.form);
  for (const secret of [...TYPES[type].secrets, '_csrf']) values.delete(secret);
  const name = (pc.form.get('name') ?? '').trim();
  const fail = (errors: Errors, message: string, status: number) =>
    newProviderPage(ctx, pc, type, { values, errors, flash: [{ kind: 'error', message }] }, status);
  if (!NAME_PATTERN.test(name)) return fail({ name: name ? `Use ${NAME_HINT}.` : 'Give the provider a name.' }, 'Some fields need a second look.', 400);
  try {
    await dns.createDnsProvider(ctx.deps, byPage(pc, ctx), name, type, providerConfig(type, pc.form));
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    const placed = placeError(type, err);
    const status = err.code === 'CONFLICT' ? 409 : 400;
    return fail(placed.field ? { [placed.field]: placed.message } : {}, placed.field ? 'Some fields need a second look.' : errorText(err), status);
  }
  return redirect(`/dns-providers/${encodeURIComponent(name)}?done=created`);
}

// ---- one provider ------------------------------------------------------------------------------

const code = (text: unknown) => html`<code>${wrappable(String(text))}</code>`;

/** The configuration as the domain describes it (secrets already left out), in rows. */
function configRows(type: string, c: Record<string, any>): DetailRow[] {
  const command = (cmd: { command: string; args: string[] }) =>
    html`${code(cmd.command)}${cmd.args.length ? html`<ol class="args">${cmd.args.map((a) => html`<li>${code(a)}</li>`)}</ol>` : html` (no arguments)`}`;
  switch (type) {
    case 'script':
      return [
        { label: 'Set command', value: command(c.set) },
        { label: 'Clear command', value: command(c.clear) },
        { label: 'Environment variables', value: c.env.length ? html`${c.env.map((n: string, i: number) => html`${i ? ', ' : ''}${code(n)}`)} (values hidden)` : 'None' },
        { label: 'Time limit', value: `${c.timeoutSeconds} seconds` },
      ];
    case 'webhook':
      return [
        { label: 'URL', value: code(c.url) },
        { label: 'Shared secret', value: 'Set (hidden)' },
      ];
    case 'acme-dns':
      return [
        { label: 'Server URL', value: code(c.url) },
        { label: 'Allowed update sources', value: c.allowFrom?.length ? c.allowFrom.join(', ') : 'Any' },
      ];
    case 'rfc2136':
      return [
        { label: 'Server', value: code(c.server) },
        { label: 'Zone', value: c.zone ? code(c.zone) : 'Found from the SOA record' },
        { label: 'TSIG key', value: html`${code(c.tsig.name)} (${c.tsig.algorithm}; secret hidden)` },
        { label: 'TTL', value: `${c.ttl} seconds` },
      ];
    case 'cloudflare':
      return [
        { label: 'API token', value: 'Set (hidden)' },
        { label: 'Zone ID', value: c.zoneId ? code(c.zoneId) : 'Found by the name' },
        ...(c.apiBase ? [{ label: 'API base URL', value: code(c.apiBase) }] : []),
      ];
    default:
      return [];
  }
}

function notFound(pc: PageContext, name: string): Response {
  return page(
    layout(
      { title: 'No such DNS provider', session: { csrfToken: pc.session.csrfToken, section: 'dns-providers' } },
      html`<h1>No such DNS provider</h1><p>There is no DNS provider named <strong>${name}</strong>.</p><div class="actions">${linkButton('/dns-providers', 'All DNS providers')}</div>`,
    ),
    { status: 404 },
  );
}

async function providerPage(ctx: HandlerContext, pc: PageContext, row: dns.DnsProviderRow, o: { flash?: Flash[]; errors?: Errors } = {}, status = 200): Promise<Response> {
  const view = (await dns.dnsProviderView(ctx.deps, row)) as { config: Record<string, unknown>; cnames?: { name: string; target: string }[] };
  const users = await certificatesUsing(ctx.deps, { dnsProviderId: row.id });
  return page(
    layout(
      { title: `DNS provider ${row.name}`, session: { csrfToken: pc.session.csrfToken, section: 'dns-providers' }, flash: o.flash },
      html`<p><a href="/dns-providers">DNS providers</a></p>
<h1>DNS provider ${row.name}</h1>
${detailsTable('Configuration', [{ label: 'Type', value: typeLabel(row.type) }, ...configRows(row.type, view.config), { label: 'Created', value: when(row.createdAt) }])}
${row.type === 'acme-dns'
  ? table({
      caption: 'CNAME records to create',
      columns: [
        { label: 'Name', cell: (c: { name: string; target: string }) => code(c.name) },
        { label: 'Points to', cell: (c) => code(c.target) },
      ],
      rows: view.cnames ?? [],
      empty: 'None yet: names are registered when a certificate uses this provider.',
    })
  : null}
<section aria-labelledby="used-by"><h2 id="used-by">Certificates using it</h2>
${users.items.length
  ? html`<ul>${users.items.map((c) => html`<li><a href="/certificates/${encodeURIComponent(c.name)}">${c.name}</a></li>`)}</ul>${users.total > users.items.length ? html`<p class="muted">…and ${users.total - users.items.length} more.</p>` : null}`
  : html`<p>None.</p>`}
</section>
${confirmForm({
  action: `/dns-providers/${encodeURIComponent(row.name)}/delete`,
  csrfToken: pc.session.csrfToken,
  id: 'delete',
  legend: 'Remove this DNS provider',
  explanation: 'Certkeep forgets the provider and its secrets. Records it published are not touched.',
  confirmLabel: 'Yes, remove it from Certkeep',
  buttonLabel: 'Remove the DNS provider',
  error: o.errors?.delete,
})}`,
    ),
    { status },
  );
}

async function showProvider(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const row = await dns.findDnsProvider(ctx.deps, request.params.name);
  if (!row) return notFound(pc, request.params.name);
  return providerPage(ctx, pc, row, { flash: doneFlash(request) });
}

async function deleteProvider(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const row = await dns.findDnsProvider(ctx.deps, request.params.name);
  if (!row) return notFound(pc, request.params.name);
  if (!confirmed(pc.form)) return providerPage(ctx, pc, row, { errors: { delete: 'Tick this box to confirm.' } }, 400);
  try {
    await dns.deleteDnsProvider(ctx.deps, byPage(pc, ctx), row.name);
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    return providerPage(ctx, pc, row, { flash: [{ kind: 'error', message: errorText(err) }] }, err.code === 'CONFLICT' ? 409 : 400);
  }
  return redirect('/dns-providers?done=deleted');
}

export const dnsProvidersPages: readonly PageRoute[] = [
  ['get', '/dns-providers', listPage],
  ['post', '/dns-providers', submitNewProvider],
  ['get', '/dns-providers/new', showNewProvider],
  ['get', '/dns-providers/:name', showProvider],
  ['post', '/dns-providers/:name/delete', deleteProvider],
];
