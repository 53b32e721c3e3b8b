// /setup: the first-run wizard. One form in three parts — the admin account, the ACME account
// (the CA's terms linked; EAB fields when the CA requires them), the server's hostname — then the
// site certificate obtained with live progress (htmx polling; a refreshing page without JS).
// On the Worker the setup token comes first.
import type { HandlerContext } from '../context.ts';
import { html, page, type Html } from '../html.ts';
import { layout } from '../../../templates/layout.ts';
import { button, checkboxField, field, selectField } from '../../../templates/components.ts';
import { isSetupDone, runSetup, SITE_CERTIFICATE } from '../../domain/setup.ts';
import { LETS_ENCRYPT, LETS_ENCRYPT_STAGING } from '../../domain/accounts.ts';
import { normalizeDomain } from '../../domain/names.ts';
import { findUserByEmail, createSession } from '../../domain/sessions.ts';
import { certificateStatus, findCertificateByName } from '../../domain/certificates.ts';
import { CertkeepError } from '../../errors.ts';
import { issue } from '../../domain/orders.ts';
import { timingSafeEqual, utf8 } from '../../util/encoding.ts';
import { formOf, sessionCookie, sessionOf } from '../session.ts';
import { redirect } from './guard.ts';

const LETS_ENCRYPT_TERMS = 'https://letsencrypt.org/repository/';

const CAS = [
  { value: 'letsencrypt', label: "Let's Encrypt", url: LETS_ENCRYPT },
  { value: 'letsencrypt-staging', label: "Let's Encrypt staging (test certificates)", url: LETS_ENCRYPT_STAGING },
  { value: 'other', label: 'Another ACME CA (directory URL below)', url: '' },
];

interface CaInfo {
  url: string;
  termsOfService?: string;
  externalAccountRequired: boolean;
  error?: string;
}

/** Reads the CA's directory for its terms of service and whether it needs EAB. */
async function caInfo(ctx: HandlerContext, url: string): Promise<CaInfo> {
  if (!url) return { url, externalAccountRequired: false };
  // Let's Encrypt's terms live in its repository; no need to ask its directory to show the link.
  if (url === LETS_ENCRYPT || url === LETS_ENCRYPT_STAGING) return { url, termsOfService: LETS_ENCRYPT_TERMS, externalAccountRequired: false };
  try {
    const res = await ctx.deps.fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
    const dir = (await res.json()) as { meta?: { termsOfService?: string; externalAccountRequired?: boolean } };
    const tos = dir.meta?.termsOfService;
    return { url, termsOfService: typeof tos === 'string' ? tos : undefined, externalAccountRequired: dir.meta?.externalAccountRequired === true };
  } catch {
    return { url, externalAccountRequired: false, error: `The directory at ${url} could not be read.` };
  }
}

function directoryOf(form: URLSearchParams): string {
  const ca = CAS.find((c) => c.value === form.get('ca')) ?? CAS[0];
  return ca.value === 'other' ? (form.get('directoryUrl') ?? '').trim() : ca.url;
}

function termsPart(info: CaInfo): Html {
  return html`<div id="ca-terms">
  ${info.error ? html`<p class="error">${info.error}</p>` : null}
  ${info.termsOfService
    ? html`<p>Read the CA's <a href="${info.termsOfService}" rel="noreferrer" target="_blank">terms of service</a> before you accept them.</p>`
    : null}
  ${info.externalAccountRequired
    ? html`<p>This CA requires external account binding: enter the key ID and HMAC key it gave you.</p>
  ${field({ name: 'eabKid', label: 'EAB key ID', required: true })}
  ${field({ name: 'eabHmacKey', label: 'EAB HMAC key', hint: 'base64url, as the CA shows it', required: true, attributes: { autocomplete: 'off' } })}`
    : null}
</div>`;
}

interface FormState {
  values: URLSearchParams;
  errors: Record<string, string>;
  info: CaInfo;
  message?: string;
}

function setupPage(ctx: HandlerContext, s: FormState, status = 200): Response {
  const v = (k: string) => s.values.get(k) ?? '';
  const worker = ctx.deps.runtime === 'worker';
  return page(
    layout(
      { title: 'Set up Certkeep', flash: s.message ? [{ kind: 'error', message: s.message }] : [] },
      html`<h1>Set up Certkeep</h1>
<p>Three things and Certkeep is ready: who administers it, which CA issues its certificates, and ${worker ? 'optionally ' : ''}the name it is reached by.</p>
<form method="post" action="/setup">
  ${worker
    ? html`<fieldset><legend>Setup token</legend>
    ${field({ name: 'setupToken', label: 'Setup token', type: 'password', required: true, error: s.errors.setupToken, hint: 'The SETUP_TOKEN secret you set with wrangler.' })}
  </fieldset>`
    : null}
  <fieldset><legend>1. Administrator</legend>
    ${field({ name: 'adminEmail', label: 'Email', type: 'email', value: v('adminEmail'), required: true, autocomplete: 'username', error: s.errors.adminEmail })}
    ${field({ name: 'adminPassword', label: 'Password', type: 'password', required: true, autocomplete: 'new-password', hint: 'At least 10 characters.', error: s.errors.adminPassword })}
    ${field({ name: 'adminPassword2', label: 'Password again', type: 'password', required: true, autocomplete: 'new-password', error: s.errors.adminPassword2 })}
  </fieldset>
  <fieldset><legend>2. ACME account</legend>
    ${selectField({
      name: 'ca',
      label: 'Certificate authority',
      options: CAS.map((c) => ({ value: c.value, label: c.label })),
      value: v('ca') || 'letsencrypt',
      attributes: { 'hx-post': '/setup/ca', 'hx-trigger': 'change', 'hx-target': '#ca-terms', 'hx-swap': 'outerHTML', 'hx-include': '[name=directoryUrl]' },
    })}
    ${field({ name: 'directoryUrl', label: 'Directory URL (another CA)', type: 'url', value: v('directoryUrl'), error: s.errors.directoryUrl, hint: 'Only for "Another ACME CA", e.g. https://acme.example.com/directory' })}
    ${field({ name: 'acmeEmail', label: 'Contact email for the CA', type: 'email', value: v('acmeEmail'), hint: 'Defaults to the administrator\u2019s email.', error: s.errors.acmeEmail })}
    ${termsPart(s.info)}
    ${checkboxField({ name: 'acceptTos', label: "I accept the CA's terms of service", checked: v('acceptTos') === 'on', required: true, error: s.errors.acceptTos })}
    <div class="actions">${button('Look up this CA', { name: 'action', value: 'check' })}</div>
  </fieldset>
  <fieldset><legend>3. Server</legend>
    ${field({
      name: 'hostname',
      label: 'Hostname of this server',
      value: v('hostname'),
      error: s.errors.hostname,
      hint: worker ? 'Optional on Workers: Cloudflare serves HTTPS.' : 'Certkeep obtains its own certificate for it. Port 80 must reach this server. Leave empty to skip.',
    })}
  </fieldset>
  <div class="actions">${button('Set up', { variant: 'primary', name: 'action', value: 'finish' })}</div>
</form>`,
    ),
    { status },
  );
}

export async function showSetup(request: Request, ctx: HandlerContext): Promise<Response> {
  if (await isSetupDone(ctx.deps)) return redirect('/');
  const values = new URLSearchParams({ ca: 'letsencrypt' });
  return setupPage(ctx, { values, errors: {}, info: await caInfo(ctx, LETS_ENCRYPT) });
}

/** htmx: the terms/EAB part for the CA just chosen. */
export async function setupCaPart(request: Request, ctx: HandlerContext): Promise<Response> {
  if (await isSetupDone(ctx.deps)) return new Response(null, { status: 409 });
  return page(termsPart(await caInfo(ctx, directoryOf(await formOf(request)))));
}

export async function submitSetup(request: Request, ctx: HandlerContext): Promise<Response> {
  if (await isSetupDone(ctx.deps)) return redirect('/');
  const form = await formOf(request);
  const directoryUrl = directoryOf(form);
  const info = await caInfo(ctx, directoryUrl);
  const values = new URLSearchParams(form);
  for (const secret of ['adminPassword', 'adminPassword2', 'setupToken', 'eabHmacKey']) values.delete(secret);
  if (form.get('action') === 'check') return setupPage(ctx, { values, errors: {}, info });

  const errors: Record<string, string> = {};
  if (ctx.deps.runtime === 'worker') {
    const given = form.get('setupToken') ?? '';
    const expected = ctx.deps.setupToken ?? '';
    if (!expected || !timingSafeEqual(utf8(given), utf8(expected))) errors.setupToken = 'This is not the setup token.';
  }
  const adminEmail = (form.get('adminEmail') ?? '').trim();
  const password = form.get('adminPassword') ?? '';
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(adminEmail)) errors.adminEmail = 'Enter an email address.';
  if (password.length < 10) errors.adminPassword = 'At least 10 characters.';
  else if (password !== form.get('adminPassword2')) errors.adminPassword2 = 'The two passwords differ.';
  if (!directoryUrl) errors.directoryUrl = 'Enter the directory URL of the CA.';
  if (form.get('acceptTos') !== 'on') errors.acceptTos = "The CA's terms of service must be accepted.";
  let hostname: string | undefined;
  const hostInput = (form.get('hostname') ?? '').trim();
  if (hostInput) {
    try {
      hostname = normalizeDomain(hostInput, 'hostname');
      if (hostname.startsWith('*.')) errors.hostname = 'The hostname cannot be a wildcard.';
    } catch (err) {
      errors.hostname = (err as Error).message.replace(/^hostname: /, '');
    }
  }
  if (Object.keys(errors).length > 0) return setupPage(ctx, { values, errors, info, message: 'Some fields need a second look.' }, 400);

  try {
    await runSetup(ctx.deps, {
      adminEmail,
      adminPassword: password,
      acme: {
        directoryUrl,
        email: (form.get('acmeEmail') ?? '').trim() || undefined,
        termsOfServiceAgreed: true,
        eab: form.get('eabKid') ? { kid: form.get('eabKid')!.trim(), hmacKey: (form.get('eabHmacKey') ?? '').trim() } : undefined,
      },
      hostname,
    });
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    const problem = err.details?.problem as { detail?: string } | undefined;
    const field = err.details?.field as string | undefined;
    const message = problem?.detail ? `The CA refused: ${problem.detail}` : err.message;
    return setupPage(ctx, { values, errors: field ? { [field.replace(/^acme\./, '')]: message } : {}, info, message }, err.code === 'CONFLICT' ? 409 : 400);
  }
  if (hostname) {
    // Start on the site certificate now rather than at the next tick (on Workers, the next cron).
    const site = await findCertificateByName(ctx.deps, SITE_CERTIFICATE);
    if (site) ctx.waitUntil(issue(ctx.deps, site.id, 'new').catch((err) => ctx.deps.log.info('site certificate left to the scheduler', { err })));
  }
  const user = await findUserByEmail(ctx.deps, adminEmail);
  const { token } = await createSession(ctx.deps, user!.id);
  return redirect(hostname ? '/setup/progress' : '/', { 'set-cookie': sessionCookie(token, ctx.secure) });
}

/** The site certificate's progress: htmx polls the #progress part; without JS the page refreshes. */
export async function setupProgress(request: Request, ctx: HandlerContext): Promise<Response> {
  if (!(await sessionOf(ctx.deps, request, ctx.secure))) return redirect('/login?next=/setup/progress');
  const cert = await findCertificateByName(ctx.deps, SITE_CERTIFICATE);
  if (!cert) return redirect('/');
  const status = certificateStatus(cert, ctx.deps.now());
  const done = status === 'valid';
  const failed = !done && !!cert.lastError;
  const problem = failed ? (JSON.parse(cert.lastError!) as { type?: string; detail?: string }) : undefined;
  const domain = (JSON.parse(cert.domains) as string[])[0];
  const part = html`<div id="progress"${done || failed ? null : html` hx-get="/setup/progress" hx-trigger="every 1s" hx-select="#progress" hx-swap="outerHTML"`} role="status">
  ${done
    ? html`<p>The certificate for <strong>${domain}</strong> is ready (serial ${cert.serial}); HTTPS now serves it.</p><p><a class="button primary" href="/">Go to the dashboard</a></p>`
    : failed
      ? html`<p class="error">The CA could not issue the certificate for <strong>${domain}</strong>: ${problem?.detail ?? problem?.type}</p>
<p>Check that ${domain} resolves to this server and that port 80 reaches it, then try again from the certificate's page. Certkeep also retries by itself.</p>
<p><a class="button primary" href="/">Go to the dashboard</a></p>`
      : html`<p>Obtaining a certificate for <strong>${domain}</strong>… (${status})</p>`}
</div>`;
  const head = done || failed ? undefined : html`<noscript><meta http-equiv="refresh" content="2"></noscript>`;
  return page(layout({ title: 'Site certificate', head }, html`<h1>Site certificate</h1>${part}`));
}
