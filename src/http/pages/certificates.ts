// Pages: certificates. The list (search, 25 per page), a new one (its API keys shown once in
// the answer to the POST), the detail page with "Request now", revoke, API key replacement, edit,
// another key, delete. Handlers read the form, validate with the JSON API's rules (validate.ts,
// normalizeDomains) and call the same domain functions as src/http/admin-api.ts.
import type { HandlerContext, RoutedRequest } from '../context.ts';
import type { PageRoute } from './routes.ts';
import { page, type Html } from '../../html/html.ts';
import { CertkeepError } from '../../errors.ts';
import type { KeyType } from '../../crypto/index.ts';
import { KEY_TYPES } from '../../crypto/index.ts';
import * as certs from '../../domain/certificates.ts';
import { updateCertificate } from '../../domain/certificate-edit.ts';
import { findKeyById } from '../../domain/keys.ts';
import { listAccounts } from '../../domain/accounts.ts';
import { findDnsProviderById, listDnsProviders } from '../../domain/dns/providers.ts';
import { normalizeDomains } from '../../domain/names.ts';
import { rotateApiKey } from '../../domain/apikeys.ts';
import { certificateLeaseName, issue } from '../../domain/orders.ts';
import { isLeaseHeld } from '../../db/lease.ts';
import { NAME_HINT, NAME_PATTERN, optionalEnum, optionalString, requiredName, type Json } from '../validate.ts';
import { keyTypeLabel } from '../../../templates/format.ts';
import { messagePage } from '../../../templates/message-page.ts';
import type { Flash } from '../../../templates/layout.ts';
import type { SelectOption } from '../../../templates/components.ts';
import {
  CERTIFICATE_NOTICES,
  REVOCATION_REASONS,
  SUBJECT_FIELDS,
  certificateCreatedPage,
  certificateDetailPage,
  certificateKeyPage,
  certificatePath,
  deleteCertificatePage,
  editCertificatePage,
  newCertificatePage,
  newKeyShown,
  replacedApiKeyShown,
  revokePage,
  type CertificateDetail,
  type CertificateFormChoices,
  type OrderView,
} from '../../../templates/certificates.ts';
import { check, statusOf, type FieldErrors } from './form-errors.ts';
import { errorField, errorText, fieldMessage } from '../../../templates/error-text.ts';
import { byPage, redirect, signedIn, type PageContext } from './guard.ts';
import { downloadOrigin } from './download-origin.ts';
import { agentParts } from './agent.ts';
import { agentConfigShown } from '../../../templates/agent.ts';
import { CERTIFICATES_PER_PAGE, certificateListPage } from '../../../templates/certificate-list.ts';
import { countCertificates, pageCertificates, parseCertificateListQuery } from '../../domain/certificate-list.ts';
import { pageKeys, pageOrders } from '../../domain/lists.ts';
import { acmeDnsCnamesFor } from '../../domain/dns/providers.ts';
import { activePause, assertNotPaused } from '../../domain/ca-pace.ts';
import { acmeAccounts } from '../../db/schema.ts';
import { eq } from 'drizzle-orm';
import { deploymentsOf } from '../../domain/tracking/deployments.ts';

/** How long "Request now" waits for the order to show before answering. */
const START_WAIT_MS = 2_000;

// ---- helpers ----------------------------------------------------------------------------------

/** Domain names as Certera took them: one per line, or separated by commas or semicolons. */
export function splitDomains(text: string): string[] {
  return text.split(/[\s,;]+/).filter(Boolean);
}


function paramName(request: RoutedRequest): string {
  try {
    return decodeURIComponent(request.params.name ?? '');
  } catch {
    return request.params.name ?? '';
  }
}

function noticeOf(request: Request): Flash[] {
  const notice = new URL(request.url).searchParams.get('notice');
  const message = notice ? CERTIFICATE_NOTICES[notice] : undefined;
  return message ? [{ kind: 'success', message }] : [];
}

function notFound(pc: PageContext, name: string): Response {
  return page(
    messagePage({
      title: 'No such certificate',
      csrfToken: pc.session.csrfToken,
      section: 'certificates',
      message: `There is no certificate named “${name}”.`,
      links: [{ href: '/certificates', label: 'All certificates' }],
    }),
    { status: 404 },
  );
}

/** The signed-in context and the certificate the path names, or the response to send instead. */
async function withCertificate(request: RoutedRequest, ctx: HandlerContext): Promise<{ pc: PageContext; row: certs.CertificateRow } | Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const name = paramName(request);
  const row = await certs.findCertificateByName(ctx.deps, name);
  return row ? { pc, row } : notFound(pc, name);
}

/** Keys offered in a select; with more, the form asks for a key's name instead (the page stays small). */
export const KEY_CHOICES = 200;

/** The keys to offer in a select, or null when there are more than KEY_CHOICES. */
async function keyOptions(ctx: HandlerContext): Promise<SelectOption[] | null> {
  const page = await pageKeys(ctx.deps, { limit: KEY_CHOICES, sort: 'name', status: [], extra: {} });
  if (page.next) return null;
  return page.items.map((k) => ({ value: k.name, label: `${k.name} (${keyTypeLabel(k.type)})` }));
}

async function formChoices(ctx: HandlerContext): Promise<CertificateFormChoices> {
  const [accounts, keys, providers] = await Promise.all([listAccounts(ctx.deps), keyOptions(ctx), listDnsProviders(ctx.deps)]);
  return {
    accounts: accounts.map((a) => ({
      value: a.name,
      label: `${a.name}${a.staging ? ' (staging)' : ''}${a.status !== 'valid' ? ` (${a.status})` : ''}`,
      disabled: a.status !== 'valid',
    })),
    keys,
    dnsProviders: dnsProviderOptions(providers),
  };
}

function dnsProviderOptions(providers: ReadonlyArray<{ name: string; type: string }>): SelectOption[] {
  return providers.map((p) => ({ value: p.name, label: `${p.name} (${p.type})` }));
}

/** Everything the detail page shows, read fresh. */
/** Orders shown on the detail page; `?orders=<cursor>` shows older ones. */
export const ORDERS_PER_PAGE = 20;

async function detailOf(ctx: HandlerContext, row: certs.CertificateRow, ordersCursor?: string): Promise<CertificateDetail> {
  const { deps } = ctx;
  const [view, key, served, provider, history, running, account] = await Promise.all([
    certs.certificateView(deps, row),
    findKeyById(deps, row.keyId),
    row.servedKeyId && row.servedKeyId !== row.keyId ? findKeyById(deps, row.servedKeyId) : undefined,
    row.dnsProviderId ? findDnsProviderById(deps, row.dnsProviderId) : undefined,
    pageOrders(deps, row.id, { limit: ORDERS_PER_PAGE, cursor: ordersCursor, sort: '-created', status: [], extra: {} }),
    isLeaseHeld(deps.db, certificateLeaseName(row.id), deps.now()),
    deps.db.db.select().from(acmeAccounts).where(eq(acmeAccounts.id, row.accountId)).limit(1),
  ]);
  const domains = JSON.parse(row.domains) as string[];
  const cnames = provider?.type === 'acme-dns' ? await acmeDnsCnamesFor(deps, provider, domains) : undefined;
  const pause = account[0] ? activePause(account[0], deps.now()) : null;
  return {
    name: row.name,
    domains,
    status: view.status,
    challenge: row.challenge,
    account: view.account ? { name: view.account, staging: view.staging } : null,
    key: key ? { name: key.name, type: key.type } : null,
    servedKey: served ? { name: served.name } : null,
    dnsProvider: provider ? { name: provider.name, type: provider.type } : null,
    preferredChain: row.preferredChain,
    profile: row.profile,
    subject: row.subject ? (JSON.parse(row.subject) as Record<string, string>) : null,
    serial: row.serial,
    notBefore: row.notBefore,
    notAfter: row.notAfter,
    renewAt: row.renewAt,
    nextAttemptAt: row.nextAttemptAt,
    failureCount: row.failureCount,
    lastError: view.lastError,
    revokedAt: row.revokedAt,
    revocationReason: row.revocationReason,
    createdAt: row.createdAt,
    running,
    orders: history.items as OrderView[],
    olderOrders: history.next,
    caPause: pause && account[0] ? { account: account[0].name, until: pause.until, problem: pause.problem } : null,
    cnames,
  };
}

async function detailPage(
  request: Request,
  ctx: HandlerContext,
  pc: PageContext,
  row: certs.CertificateRow,
  extra: { flash?: Flash[]; shown?: Html; status?: number } = {},
): Promise<Response> {
  const cursor = new URL(request.url).searchParams.get('orders') ?? undefined;
  const cert = { ...(await detailOf(ctx, row, cursor)), ...(await agentParts(request, ctx, row)), deployments: await deploymentsOf(ctx.deps, row) };
  return page(
    certificateDetailPage({ csrfToken: pc.session.csrfToken, origin: await downloadOrigin(request, ctx), now: ctx.deps.now(), cert, flash: extra.flash ?? noticeOf(request), shown: extra.shown }),
    { status: extra.status ?? 200 },
  );
}

// ---- list ------------------------------------------------------------------------------------

async function listPage(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const url = new URL(request.url);
  const params = new URLSearchParams(url.searchParams);
  // "Expiring soon" reads best soonest first, unless a sort was chosen.
  if (!params.get('sort') && params.get('status') === 'expiring') params.set('sort', 'expiry');
  const query = parseCertificateListQuery(params, { defaultLimit: CERTIFICATES_PER_PAGE, ignore: ['notice', 'page'] });
  const [found, total] = await Promise.all([pageCertificates(ctx.deps, query), query.q ? null : countCertificates(ctx.deps, query)]);
  url.searchParams.delete('notice');
  return page(
    certificateListPage({
      csrfToken: pc.session.csrfToken,
      items: found.items,
      next: found.next,
      total,
      query: query.q ?? '',
      status: query.status.join(','),
      days: query.days,
      sort: query.sort,
      url,
      now: ctx.deps.now(),
      flash: noticeOf(request),
    }),
  );
}

// ---- create ----------------------------------------------------------------------------------

async function newPage(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  return page(newCertificatePage({ csrfToken: pc.session.csrfToken, values: new URLSearchParams(), errors: {}, ...(await formChoices(ctx)) }));
}

/**
 * The form as the JSON API's body would carry it, checked with the API's own rules. Empty
 * inputs mean "not given". The DNS provider is read only for dns-01 and the key type only for a
 * new key: the form shows both selects always, and the other choice makes them irrelevant.
 */
export function certificateInputOf(form: URLSearchParams, errors: FieldErrors): certs.NewCertificateInput | undefined {
  const given = (k: string) => (form.get(k) ?? '').trim() || undefined;
  const body: Json = {
    name: (form.get('name') ?? '').trim(),
    challenge: given('challenge'),
    account: given('account'),
    key: given('key'),
    keyType: given('key') ? undefined : given('keyType'),
    preferredChain: given('preferredChain'),
    profile: given('profile'),
    subject: Object.fromEntries(SUBJECT_FIELDS.map((f) => [f.key, f.key === 'C' ? given('subject.C')?.toUpperCase() : given(`subject.${f.key}`)])),
  };
  const name = check(errors, () => requiredName(body));
  const challenge = check(errors, () => optionalEnum(body, 'challenge', ['http-01', 'dns-01'] as const)) ?? 'http-01';
  const domains = check(errors, () => normalizeDomains(splitDomains(form.get('domains') ?? ''), challenge));
  const account = check(errors, () => optionalString(body, 'account', { max: 64 }));
  const key = check(errors, () => optionalString(body, 'key', { max: 64 }));
  const keyType = check(errors, () => optionalEnum(body, 'keyType', KEY_TYPES));
  const preferredChain = check(errors, () => optionalString(body, 'preferredChain', { max: 256 }));
  const profile = check(errors, () => optionalString(body, 'profile', { max: 64, pattern: /^[A-Za-z0-9._-]+$/, hint: 'a profile name offered by the CA' }));
  const subject: certs.CsrSubject = {};
  for (const f of SUBJECT_FIELDS) {
    const value =
      f.key === 'C'
        ? check(errors, () => optionalString(body, 'subject.C', { max: 2, pattern: /^[A-Z]{2}$/, hint: 'a two-letter country code' }))
        : check(errors, () => optionalString(body, `subject.${f.key}`, { max: 64 }));
    if (value) subject[f.key] = value;
  }
  if (Object.keys(errors).length > 0 || !name || !domains) return undefined;
  return {
    name,
    domains,
    challenge,
    account,
    key,
    keyType: keyType as KeyType | undefined,
    dnsProvider: challenge === 'dns-01' ? given('dnsProvider') : undefined,
    preferredChain,
    profile,
    subject: Object.keys(subject).length ? subject : undefined,
  };
}

async function create(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const errors: FieldErrors = {};
  const input = certificateInputOf(pc.form, errors);
  const again = async (status: number, message = 'Some fields need a second look.') =>
    page(newCertificatePage({ csrfToken: pc.session.csrfToken, values: pc.form, errors, message, ...(await formChoices(ctx)) }), { status });
  if (!input) return again(400);
  let result: Awaited<ReturnType<typeof certs.createCertificate>>;
  try {
    result = await certs.createCertificate(ctx.deps, byPage(pc, ctx), input);
  } catch (err) {
    if (!(err instanceof CertkeepError) || (statusOf(err) >= 500 && !err.code.startsWith('DNS_'))) throw err;
    const field = errorField(err);
    if (field) errors[field] = fieldMessage(err);
    return again(statusOf(err), field ? undefined : errorText(err));
  }
  return page(
    certificateCreatedPage({
      csrfToken: pc.session.csrfToken,
      origin: await downloadOrigin(request, ctx),
      name: result.row.name,
      apiKeys: result.apiKeys,
      key: { name: result.key.name, apiKeys: 'apiKeys' in result.key ? result.key.apiKeys : undefined },
      cnames: result.dns?.cnames,
      agent: agentConfigShown({
        baseUrl: await downloadOrigin(request, ctx),
        certificate: result.row.name,
        keyName: result.key.name,
        domains: input.domains,
        slot: 1,
        certificateApiKey: result.apiKeys[0],
        keyApiKey: 'apiKeys' in result.key ? result.key.apiKeys[0] : undefined,
      }),
    }),
    { status: 201 },
  );
}

// ---- detail and actions ------------------------------------------------------------------------

async function detail(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withCertificate(request, ctx);
  if (found instanceof Response) return found;
  return detailPage(request, ctx, found.pc, found.row);
}

/**
 * "Request now": starts an order (as the admin API's issue does) and answers once it shows — the
 * certificate's lease taken — or has already ended, so the detail page that follows shows the
 * order running (and polls) or its outcome. The order itself goes on in the background.
 */
async function requestNow(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withCertificate(request, ctx);
  if (found instanceof Response) return found;
  const { pc, row } = found;
  const { deps } = ctx;
  if (row.status === 'revoked') {
    return detailPage(request, ctx, pc, row, { status: 409, flash: [{ kind: 'error', message: 'This certificate is revoked: create a new one for these names.' }] });
  }
  try {
    await assertNotPaused(deps, row.accountId);
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    return detailPage(request, ctx, pc, row, { status: 409, flash: [{ kind: 'error', message: `Not now: ${err.message}. The order starts by itself when the pause ends.` }] });
  }
  await certs.recordIssueRequest(deps, byPage(pc, ctx), row);
  const run = issue(deps, row.id, 'manual').then(
    () => undefined,
    (err) => {
      // Someone (the scheduler, another host) is already running it: the page shows that order.
      if (!(err instanceof CertkeepError && err.code === 'LEASE_BUSY')) deps.log.error('issue failed', { certificate: row.name, err });
    },
  );
  ctx.waitUntil(run);
  let ended = false;
  void run.then(() => (ended = true));
  const deadline = deps.now() + START_WAIT_MS;
  while (!ended && deps.now() < deadline && !(await isLeaseHeld(deps.db, certificateLeaseName(row.id), deps.now()))) await deps.sleep(25);
  return redirect(certificatePath(row.name));
}

async function revokeForm(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withCertificate(request, ctx);
  if (found instanceof Response) return found;
  return page(revokePage({ csrfToken: found.pc.session.csrfToken, name: found.row.name, serial: found.row.serial }));
}

async function revoke(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withCertificate(request, ctx);
  if (found instanceof Response) return found;
  const { pc, row } = found;
  const given = pc.form.get('reason') ?? '';
  const reason = REVOCATION_REASONS.find((r) => String(r.code) === given);
  const again = (status: number, o: { error?: string; message?: string }) =>
    page(revokePage({ csrfToken: pc.session.csrfToken, name: row.name, serial: row.serial, reason: given, ...o }), { status });
  if (!reason) return again(400, { error: 'Choose one of the reasons listed.' });
  try {
    await certs.revokeCertificate(ctx.deps, byPage(pc, ctx), row.name, reason.code);
  } catch (err) {
    if (!(err instanceof CertkeepError)) throw err;
    return again(statusOf(err), { message: errorText(err) });
  }
  return redirect(`${certificatePath(row.name)}?notice=revoked`);
}

async function replaceApiKey(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withCertificate(request, ctx);
  if (found instanceof Response) return found;
  const { pc, row } = found;
  const slot = request.params.slot === '1' ? 1 : request.params.slot === '2' ? 2 : null;
  if (!slot) return notFound(pc, row.name);
  const apiKey = await rotateApiKey(ctx.deps, byPage(pc, ctx), 'certificate', row, slot);
  return detailPage(request, ctx, pc, row, {
    flash: [{ kind: 'success', message: `API key ${slot} was replaced.` }],
    shown: replacedApiKeyShown({
      origin: await downloadOrigin(request, ctx),
      name: row.name,
      slot,
      apiKey,
      agent: agentConfigShown({
        baseUrl: await downloadOrigin(request, ctx),
        certificate: row.name,
        keyName: (await findKeyById(ctx.deps, row.servedKeyId ?? row.keyId))?.name ?? null,
        domains: JSON.parse(row.domains) as string[],
        slot,
        certificateApiKey: apiKey,
      }),
    }),
  });
}

// ---- edit ------------------------------------------------------------------------------------

async function editValues(ctx: HandlerContext, row: certs.CertificateRow): Promise<URLSearchParams> {
  const provider = row.dnsProviderId ? await findDnsProviderById(ctx.deps, row.dnsProviderId) : undefined;
  return new URLSearchParams({
    domains: (JSON.parse(row.domains) as string[]).join('\n'),
    challenge: row.challenge,
    dnsProvider: provider?.name ?? '',
    preferredChain: row.preferredChain ?? '',
  });
}

async function editForm(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withCertificate(request, ctx);
  if (found instanceof Response) return found;
  const { pc, row } = found;
  if (row.status === 'revoked') return detailPage(request, ctx, pc, row, { status: 409, flash: [{ kind: 'error', message: 'A revoked certificate cannot be changed.' }] });
  return page(
    editCertificatePage({ csrfToken: pc.session.csrfToken, name: row.name, values: await editValues(ctx, row), errors: {}, dnsProviders: dnsProviderOptions(await listDnsProviders(ctx.deps)) }),
  );
}

async function edit(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withCertificate(request, ctx);
  if (found instanceof Response) return found;
  const { pc, row } = found;
  const challenge = (pc.form.get('challenge') ?? '').trim() || undefined;
  try {
    const result = await updateCertificate(ctx.deps, byPage(pc, ctx), row.name, {
      domains: splitDomains(pc.form.get('domains') ?? ''),
      challenge,
      // The provider select is read for dns-01 only, as at creation.
      dnsProvider: challenge === 'dns-01' ? (pc.form.get('dnsProvider') ?? '').trim() || null : null,
      preferredChain: pc.form.get('preferredChain') ?? '',
    });
    return redirect(`${certificatePath(row.name)}?notice=${result.reissue ? 'edited-reissue' : 'edited'}`);
  } catch (err) {
    if (!(err instanceof CertkeepError) || (statusOf(err) >= 500 && !err.code.startsWith('DNS_'))) throw err;
    const field = errorField(err);
    return page(
      editCertificatePage({
        csrfToken: pc.session.csrfToken,
        name: row.name,
        values: pc.form,
        errors: field ? { [field]: fieldMessage(err) } : {},
        message: field ? 'Some fields need a second look.' : errorText(err),
        dnsProviders: dnsProviderOptions(await listDnsProviders(ctx.deps)),
      }),
      { status: statusOf(err) },
    );
  }
}

// ---- another key -----------------------------------------------------------------------------

async function keyChoices(ctx: HandlerContext): Promise<SelectOption[] | null> {
  return keyOptions(ctx);
}

async function keyForm(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withCertificate(request, ctx);
  if (found instanceof Response) return found;
  const { pc, row } = found;
  const current = await findKeyById(ctx.deps, row.keyId);
  return page(
    certificateKeyPage({ csrfToken: pc.session.csrfToken, name: row.name, currentKey: current?.name ?? null, keys: await keyChoices(ctx), values: new URLSearchParams(), errors: {} }),
  );
}

async function changeKey(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withCertificate(request, ctx);
  if (found instanceof Response) return found;
  const { pc, row } = found;
  const given = (k: string) => (pc.form.get(k) ?? '').trim() || undefined;
  const body: Json = { key: given('key'), keyType: given('keyType'), keyName: given('keyName') };
  const errors: FieldErrors = {};
  const key = check(errors, () => optionalString(body, 'key', { max: 64 }));
  const keyType = key ? undefined : check(errors, () => optionalEnum(body, 'keyType', KEY_TYPES) ?? 'ec-p256');
  const keyName = key ? undefined : check(errors, () => optionalString(body, 'keyName', { max: 64, pattern: NAME_PATTERN, hint: NAME_HINT }));
  const again = async (status: number, message?: string) => {
    const current = await findKeyById(ctx.deps, row.keyId);
    return page(
      certificateKeyPage({ csrfToken: pc.session.csrfToken, name: row.name, currentKey: current?.name ?? null, keys: await keyChoices(ctx), values: pc.form, errors, message: message ?? 'Some fields need a second look.' }),
      { status },
    );
  };
  if (Object.keys(errors).length > 0) return again(400);
  let result: Awaited<ReturnType<typeof certs.rotateCertificateKey>>;
  try {
    result = await certs.rotateCertificateKey(ctx.deps, byPage(pc, ctx), row.name, key ? { key } : { keyType: keyType as KeyType, keyName });
  } catch (err) {
    if (!(err instanceof CertkeepError) || statusOf(err) >= 500) throw err;
    // A taken name for the new key is reported on "name" by the domain: here it is "keyName".
    const field = errorField(err) === 'name' ? 'keyName' : errorField(err);
    if (field) errors[field] = fieldMessage(err);
    return again(statusOf(err), field ? undefined : errorText(err));
  }
  if (!('apiKeys' in result)) return redirect(`${certificatePath(row.name)}?notice=key-changed`);
  const fresh = (await certs.findCertificateById(ctx.deps, row.id))!;
  return detailPage(request, ctx, pc, fresh, {
    flash: [{ kind: 'success', message: `The key ${result.name} was made; the next issuance uses it.` }],
    shown: newKeyShown({ origin: await downloadOrigin(request, ctx), keyName: result.name, apiKeys: result.apiKeys }),
  });
}

// ---- delete ----------------------------------------------------------------------------------

async function deleteForm(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withCertificate(request, ctx);
  if (found instanceof Response) return found;
  return page(deleteCertificatePage({ csrfToken: found.pc.session.csrfToken, name: found.row.name }));
}

async function remove(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withCertificate(request, ctx);
  if (found instanceof Response) return found;
  const { pc, row } = found;
  try {
    await certs.deleteCertificate(ctx.deps, byPage(pc, ctx), row.name);
  } catch (err) {
    if (!(err instanceof CertkeepError && err.code === 'CONFLICT')) throw err;
    return page(
      deleteCertificatePage({
        csrfToken: pc.session.csrfToken,
        name: row.name,
        message: 'An order for this certificate is still open (running, or waiting to retry), so it cannot be deleted now. Try again once the order has ended; the order history on the certificate\u2019s page shows it.',
      }),
      { status: 409 },
    );
  }
  return redirect('/certificates?notice=deleted');
}

export const certificatesPages: readonly PageRoute[] = [
  ['get', '/certificates', listPage],
  ['get', '/certificates/-/new', newPage],
  ['post', '/certificates', create],
  ['get', '/certificates/:name', detail],
  ['post', '/certificates/:name/issue', requestNow],
  ['get', '/certificates/:name/revoke', revokeForm],
  ['post', '/certificates/:name/revoke', revoke],
  ['post', '/certificates/:name/api-keys/:slot', replaceApiKey],
  ['get', '/certificates/:name/edit', editForm],
  ['post', '/certificates/:name/edit', edit],
  ['get', '/certificates/:name/key', keyForm],
  ['post', '/certificates/:name/key', changeKey],
  ['get', '/certificates/:name/delete', deleteForm],
  ['post', '/certificates/:name/delete', remove],
];
