// The JSON admin API (SPEC §4). Handlers parse and validate, call one domain function and shape
// the answer; the business rules live in src/domain.
import { CertkeepError } from '../errors.ts';
import type { KeyType } from '../crypto/index.ts';
import { KEY_TYPES, checkRevocation } from '../crypto/index.ts';
import * as accounts from '../domain/accounts.ts';
import * as keys from '../domain/keys.ts';
import * as certs from '../domain/certificates.ts';
import { updateCertificate } from '../domain/certificate-edit.ts';
import * as dns from '../domain/dns/providers.ts';
import { DNS_PROVIDER_TYPES } from '../domain/dns/types.ts';
import { issue } from '../domain/orders.ts';
import { rotateApiKey } from '../domain/apikeys.ts';
import { normalizeDomain, normalizeDomains } from '../domain/names.ts';
import { runSetup, isSetupDone, setSiteHostname, siteHostnameOf } from '../domain/setup.ts';
import { AUDIT_RETENTION, STALE_HOURS_MAX, STALE_HOURS_MIN, getSettings, setAuditRetention } from '../domain/settings.ts';
import { setStaleHours } from '../domain/consumers.ts';
import { SCAN_HOURS_MAX, SCAN_HOURS_MIN, setScanHours } from '../domain/tracking/scan.ts';
import { RENEW_DAYS_MAX, RENEW_DAYS_MIN, setRenewDays } from '../domain/renewal.ts';
import { authenticateAdminToken, createAdminToken } from '../domain/tokens.ts';
import { refuseCredential } from '../domain/throttle.ts';
import { isLeaseHeld } from '../db/lease.ts';
import * as lists from '../domain/lists.ts';
import { certificateApiView, pageCertificates, parseCertificateListQuery } from '../domain/certificate-list.ts';
import { assertNotPaused, MAX_ORDERS_PER_HOUR } from '../domain/ca-pace.ts';
import { certificateLeaseName } from '../domain/orders.ts';
import { timingSafeEqual, utf8 } from '../util/encoding.ts';
import type { By } from '../domain/audit.ts';
import type { HandlerContext, RoutedRequest } from './context.ts';
import { acmeProblemResponse } from './problem.ts';
import {
  type Json,
  fieldError,
  optionalBoolean,
  optionalEnum,
  optionalInteger,
  optionalString,
  pick,
  readJsonObject,
  requiredName,
  requiredString,
  NAME_HINT,
  NAME_PATTERN,
} from './validate.ts';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const created = (body: unknown) => Response.json(body, { status: 201 });

/** Middleware: a valid admin bearer token, else 401 (429 once the address has failed too often). */
export async function requireAdmin(request: Request, ctx: HandlerContext): Promise<Response | undefined> {
  const header = request.headers.get('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  const token = match ? await authenticateAdminToken(ctx.deps, match[1]) : null;
  if (!token) {
    throw await refuseCredential(ctx.deps, 'admin-token', ctx.clientIp, new CertkeepError('UNAUTHORIZED', 'a valid admin token is required (Authorization: Bearer …)'));
  }
  ctx.actor = { kind: 'token', id: token.id, name: token.name };
  return undefined;
}

/** Who makes this request (the token requireAdmin checked) and from where: for the audit log. */
export function by(ctx: HandlerContext): By {
  if (!ctx.actor) throw new CertkeepError('UNAUTHORIZED', 'a valid admin token is required (Authorization: Bearer …)');
  return { actor: ctx.actor, clientIp: ctx.clientIp };
}

// ---- setup ---------------------------------------------------------------------------------

export async function setup(request: Request, ctx: HandlerContext): Promise<Response> {
  if (ctx.deps.runtime === 'worker') {
    const presented = request.headers.get('setup-token') ?? '';
    const expected = ctx.deps.setupToken ?? '';
    if (!expected) throw new CertkeepError('FORBIDDEN', 'the SETUP_TOKEN secret is not set on this Worker (wrangler secret put SETUP_TOKEN)');
    if (!timingSafeEqual(utf8(presented), utf8(expected))) {
      throw await refuseCredential(ctx.deps, 'admin-token', ctx.clientIp, new CertkeepError('UNAUTHORIZED', 'a valid Setup-Token header is required'));
    }
  }
  if (await isSetupDone(ctx.deps)) throw new CertkeepError('CONFLICT', 'setup has already been completed');
  const body = await readJsonObject(request, [
    'adminEmail',
    'adminPassword',
    'acme',
    'acme.directoryUrl',
    'acme.email',
    'acme.termsOfServiceAgreed',
    'acme.eab',
    'acme.eab.kid',
    'acme.eab.hmacKey',
    'hostname',
  ]);
  const adminEmail = requiredString(body, 'adminEmail', { max: 254, pattern: EMAIL, hint: 'expected an email address' });
  const adminPassword = requiredString(body, 'adminPassword', { max: 1024 });
  if (adminPassword.length < 10) throw fieldError('adminPassword', 'at least 10 characters');
  const hostname = optionalString(body, 'hostname', { max: 253 });
  const result = await runSetup(ctx.deps, { clientIp: ctx.clientIp }, {
    adminEmail,
    adminPassword,
    acme: {
      directoryUrl: requiredString(body, 'acme.directoryUrl', { max: 2048 }),
      email: optionalString(body, 'acme.email', { max: 254, pattern: EMAIL, hint: 'expected an email address' }),
      termsOfServiceAgreed: optionalBoolean(body, 'acme.termsOfServiceAgreed') ?? false,
      eab: eabOf(body, 'acme.eab'),
    },
    hostname: hostname ? normalizeHostname(hostname) : undefined,
  });
  return created(result);
}

function normalizeHostname(hostname: string): string {
  const name = normalizeDomain(hostname, 'hostname');
  if (name.startsWith('*.')) throw fieldError('hostname', 'the site hostname cannot be a wildcard');
  return name;
}

function eabOf(body: Json, field: string): { kid: string; hmacKey: string } | undefined {
  if (pick(body, field) === undefined || pick(body, field) === null) return undefined;
  return {
    kid: requiredString(body, `${field}.kid`, { max: 1024 }),
    hmacKey: requiredString(body, `${field}.hmacKey`, { max: 1024, pattern: /^[A-Za-z0-9_-]+={0,2}$/, hint: 'expected base64url' }),
  };
}

export async function createToken(request: Request, ctx: HandlerContext): Promise<Response> {
  const body = await readJsonObject(request, ['name']);
  const name = optionalString(body, 'name', { max: 64 }) ?? 'api';
  return created({ name, token: await createAdminToken(ctx.deps, by(ctx), name) });
}

// ---- ACME accounts ---------------------------------------------------------------------------

/** SPEC §4.1: `{"items","next"}`; `limit`, `cursor`, `q` (part of the name), `sort` (name, -name). */
export async function listAccounts(request: Request, ctx: HandlerContext) {
  const page = await lists.pageAccounts(ctx.deps, lists.parseNameListQuery(new URL(request.url).searchParams));
  const now = ctx.deps.now();
  return Response.json({ items: page.items.map((row) => accounts.accountView(row, now)), next: page.next });
}

export async function getAccount(request: RoutedRequest, ctx: HandlerContext) {
  return Response.json(accounts.accountView(await accounts.requireAccount(ctx.deps, request.params.name), ctx.deps.now()));
}

/** `{"maxOrdersPerHour": 1..100000 | null}`: pacing of the account's new orders (the accounts page's twin). */
export async function editAccount(request: RoutedRequest, ctx: HandlerContext) {
  const body = await readJsonObject(request, ['maxOrdersPerHour']);
  let row = await accounts.requireAccount(ctx.deps, request.params.name);
  if ('maxOrdersPerHour' in body) {
    const value = body.maxOrdersPerHour === null ? null : optionalInteger(body, 'maxOrdersPerHour', 1, MAX_ORDERS_PER_HOUR);
    row = await accounts.setAccountPacing(ctx.deps, by(ctx), row.name, value ?? null);
  }
  return Response.json(accounts.accountView(row, ctx.deps.now()));
}

export async function createAccount(request: Request, ctx: HandlerContext) {
  const body = await readJsonObject(request, ['name', 'directoryUrl', 'email', 'termsOfServiceAgreed', 'staging', 'eab', 'eab.kid', 'eab.hmacKey', 'keyType', 'keyPem', 'maxOrdersPerHour']);
  const row = await accounts.createAccount(ctx.deps, by(ctx), {
    name: requiredName(body),
    directoryUrl: requiredString(body, 'directoryUrl', { max: 2048 }),
    email: optionalString(body, 'email', { max: 254, pattern: EMAIL, hint: 'expected an email address' }),
    termsOfServiceAgreed: optionalBoolean(body, 'termsOfServiceAgreed') ?? false,
    staging: optionalBoolean(body, 'staging'),
    eab: eabOf(body, 'eab'),
    keyType: optionalEnum(body, 'keyType', ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const),
    keyPem: optionalString(body, 'keyPem', { max: 16384 }),
    maxOrdersPerHour: optionalInteger(body, 'maxOrdersPerHour', 1, MAX_ORDERS_PER_HOUR),
  });
  return created(accounts.accountView(row, ctx.deps.now()));
}

export async function rolloverAccountKey(request: RoutedRequest, ctx: HandlerContext) {
  const body = await readJsonObject(request, ['keyType']);
  const keyType = optionalEnum(body, 'keyType', ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const);
  return Response.json(accounts.accountView(await accounts.rolloverAccountKey(ctx.deps, by(ctx), request.params.name, keyType), ctx.deps.now()));
}

export async function deactivateAccount(request: RoutedRequest, ctx: HandlerContext) {
  return Response.json(accounts.accountView(await accounts.deactivateAccount(ctx.deps, by(ctx), request.params.name), ctx.deps.now()));
}

export async function deleteAccount(request: RoutedRequest, ctx: HandlerContext) {
  await accounts.deleteAccount(ctx.deps, by(ctx), request.params.name);
  return new Response(null, { status: 204 });
}

// ---- keys ------------------------------------------------------------------------------------

/** SPEC §4.1: `{"items","next"}`; `limit`, `cursor`, `q` (part of the name), `sort` (name, -name). */
export async function listKeys(request: Request, ctx: HandlerContext) {
  const page = await lists.pageKeys(ctx.deps, lists.parseNameListQuery(new URL(request.url).searchParams));
  return Response.json({ items: page.items.map(keys.keyView), next: page.next });
}

export async function getKey(request: RoutedRequest, ctx: HandlerContext) {
  const row = await keys.findKeyByName(ctx.deps, request.params.name);
  if (!row) throw new CertkeepError('NOT_FOUND', `no key named "${request.params.name}"`);
  return Response.json(keys.keyView(row));
}

export async function createKey(request: Request, ctx: HandlerContext) {
  const body = await readJsonObject(request, ['name', 'type', 'pem']);
  const name = requiredName(body);
  const type = optionalEnum(body, 'type', KEY_TYPES);
  const pem = optionalString(body, 'pem', { max: 65536 });
  if (type && pem) throw fieldError('pem', 'give either type (to generate) or pem (to import), not both');
  const result = await keys.createKey(ctx.deps, by(ctx), name, pem ? { pem } : { type: (type ?? 'ec-p256') as KeyType });
  return created(result);
}

export async function rotateKeyApiKey(request: RoutedRequest, ctx: HandlerContext) {
  const row = await keys.findKeyByName(ctx.deps, request.params.name);
  if (!row) throw new CertkeepError('NOT_FOUND', `no key named "${request.params.name}"`);
  return Response.json({ apiKey: await rotateApiKey(ctx.deps, by(ctx), 'key', row, slotOf(request)) });
}

export async function deleteKey(request: RoutedRequest, ctx: HandlerContext) {
  await keys.deleteKey(ctx.deps, by(ctx), request.params.name);
  return new Response(null, { status: 204 });
}

function slotOf(request: RoutedRequest): 1 | 2 {
  const slot = request.params.slot;
  if (slot !== '1' && slot !== '2') throw fieldError('slot', 'expected 1 or 2');
  return Number(slot) as 1 | 2;
}

// ---- settings ----------------------------------------------------------------------------------

export async function getAppSettings(_r: Request, ctx: HandlerContext) {
  const { renewDays, siteCertificate, auditRetentionDays, scanHours, staleHours } = await getSettings(ctx.deps);
  return Response.json({ renewDays, siteCertificate, hostname: await siteHostnameOf(ctx.deps), auditRetentionDays, scanHours, staleHours });
}

/**
 * `{"renewDays": 10..45 | null, "hostname"?, "auditRetentionDays"?, "scanHours"?, "staleHours"?}`:
 * the settings page's twin. `hostname` (node host) is the name other machines reach this server
 * by: the site certificate is made for it, or moved to it. `auditRetentionDays` (7..3650): how
 * long audit records are kept. `scanHours` (1..168): hours between two tracking scans of a
 * server. `staleHours` (1..720 | null): hours after a renewal before a consumer without the new
 * serial is stale (null: 24).
 */
export async function updateAppSettings(request: Request, ctx: HandlerContext) {
  const body = await readJsonObject(request, ['renewDays', 'hostname', 'auditRetentionDays', 'scanHours', 'staleHours']);
  const hostname = optionalString(body, 'hostname', { max: 253 });
  if (hostname !== undefined && ctx.deps.runtime !== 'node') {
    throw fieldError('hostname', 'a Worker is reached at the address Cloudflare serves it on; there is no site certificate to make');
  }
  if (hostname !== undefined && hostname.trim() === '') throw fieldError('hostname', 'required: one DNS name');
  // Everything is checked before anything is changed.
  const renewDays = 'renewDays' in body ? { value: body.renewDays === null ? null : (optionalInteger(body, 'renewDays', RENEW_DAYS_MIN, RENEW_DAYS_MAX) ?? null) } : undefined;
  const retention = optionalInteger(body, 'auditRetentionDays', AUDIT_RETENTION.min, AUDIT_RETENTION.max);
  const scanHours = optionalInteger(body, 'scanHours', SCAN_HOURS_MIN, SCAN_HOURS_MAX);
  const staleHours = 'staleHours' in body ? { value: optionalInteger(body, 'staleHours', STALE_HOURS_MIN, STALE_HOURS_MAX) ?? null } : undefined;
  if (hostname !== undefined) await setSiteHostname(ctx.deps, by(ctx), hostname.trim());
  if (renewDays) await setRenewDays(ctx.deps, by(ctx), renewDays.value);
  if (retention !== undefined) await setAuditRetention(ctx.deps, by(ctx), retention);
  if (scanHours !== undefined) await setScanHours(ctx.deps, by(ctx), scanHours);
  if (staleHours) await setStaleHours(ctx.deps, staleHours.value, by(ctx));
  return getAppSettings(request, ctx);
}

// ---- DNS providers -----------------------------------------------------------------------------

/**
 * SPEC §4.1: `{"items","next"}`; `limit`, `cursor`, `q` (part of the name), `sort` (name, -name).
 * An acme-dns provider's CNAME records (one per name it serves) are on its own GET.
 */
export async function listDnsProviders(request: Request, ctx: HandlerContext) {
  const page = await lists.pageDnsProviders(ctx.deps, lists.parseNameListQuery(new URL(request.url).searchParams));
  return Response.json({ items: await Promise.all(page.items.map((row) => dns.dnsProviderView(ctx.deps, row, { cnames: false }))), next: page.next });
}

export async function getDnsProvider(request: RoutedRequest, ctx: HandlerContext) {
  return Response.json(await dns.dnsProviderView(ctx.deps, await dns.requireDnsProvider(ctx.deps, request.params.name)));
}

/** `{"name","type",…the type's own fields}` (SPEC §4); the type's validator refuses unknown fields. */
export async function createDnsProvider(request: Request, ctx: HandlerContext) {
  const body = await readJsonObject(request, 'checked-later');
  const name = requiredName(body);
  const type = optionalEnum(body, 'type', DNS_PROVIDER_TYPES);
  if (!type) throw fieldError('type', `required: one of ${DNS_PROVIDER_TYPES.join(', ')}`);
  const { name: _n, type: _t, ...config } = body;
  const row = await dns.createDnsProvider(ctx.deps, by(ctx), name, type, config);
  return created(await dns.dnsProviderView(ctx.deps, row));
}

export async function deleteDnsProvider(request: RoutedRequest, ctx: HandlerContext) {
  await dns.deleteDnsProvider(ctx.deps, by(ctx), request.params.name);
  return new Response(null, { status: 204 });
}

// ---- certificates ------------------------------------------------------------------------------

/**
 * SPEC §4.1: `{"items","next"}`; `limit` (1–500, 100), `cursor`, `q` (part of the name or a domain),
 * `status` (new, pending, valid, invalid, expired, revoked, failing, expiring; several separated
 * by commas), `days` (expiring within, default 30), `sort` (name, -name, expiry, -expiry).
 */
export async function listCertificates(request: Request, ctx: HandlerContext) {
  const page = await pageCertificates(ctx.deps, parseCertificateListQuery(new URL(request.url).searchParams));
  return Response.json({ items: page.items.map(certificateApiView), next: page.next });
}

export async function getCertificate(request: RoutedRequest, ctx: HandlerContext) {
  return Response.json(await certs.certificateView(ctx.deps, await certs.requireCertificate(ctx.deps, request.params.name)));
}

export async function createCertificate(request: Request, ctx: HandlerContext) {
  const body = await readJsonObject(request, [
    'name', 'domains', 'challenge', 'account', 'key', 'keyType', 'dnsProvider', 'preferredChain', 'profile',
    'subject', 'subject.CN', 'subject.O', 'subject.OU', 'subject.C', 'subject.ST', 'subject.L',
  ]);
  const name = requiredName(body);
  const challenge = optionalEnum(body, 'challenge', ['http-01', 'dns-01'] as const) ?? 'http-01';
  const domains = normalizeDomains(body.domains, challenge);
  const key = optionalString(body, 'key', { max: 64 });
  const keyType = optionalEnum(body, 'keyType', KEY_TYPES);
  if (key && keyType) throw fieldError('keyType', 'give either key (an existing key) or keyType (a new key), not both');
  const subject = subjectOf(body);
  const result = await certs.createCertificate(ctx.deps, by(ctx), {
    name,
    domains,
    challenge,
    account: optionalString(body, 'account', { max: 64 }),
    key,
    keyType: keyType as KeyType | undefined,
    dnsProvider: optionalString(body, 'dnsProvider', { max: 64 }),
    preferredChain: optionalString(body, 'preferredChain', { max: 256 }),
    profile: optionalString(body, 'profile', { max: 64, pattern: /^[A-Za-z0-9._-]+$/, hint: 'a profile name offered by the CA' }),
    subject,
  });
  return created({ name: result.row.name, apiKeys: result.apiKeys, key: result.key, ...(result.dns ? { dns: result.dns } : {}) });
}

function subjectOf(body: Json): certs.CsrSubject | undefined {
  if (body.subject === undefined || body.subject === null) return undefined;
  const out: certs.CsrSubject = {};
  for (const field of ['CN', 'O', 'OU', 'ST', 'L'] as const) {
    const value = optionalString(body, `subject.${field}`, { max: 64 });
    if (value) out[field] = value;
  }
  const c = optionalString(body, 'subject.C', { max: 2, pattern: /^[A-Z]{2}$/, hint: 'a two-letter country code' });
  if (c) out.C = c;
  return out;
}

/**
 * Starts an order now (clearing any back-off). With `?wait=true` it answers when the order
 * ends: 200 with the certificate's state, or 502 with the ACME problem. If the scheduler is
 * already running an order for it, waits for that one.
 */
export async function issueCertificate(request: RoutedRequest, ctx: HandlerContext) {
  const { deps } = ctx;
  let cert = await certs.requireCertificate(deps, request.params.name);
  if (cert.status === 'revoked') throw new CertkeepError('CONFLICT', `certificate "${cert.name}" is revoked; create a new one`);
  // The CA asked this account to wait: a forced order would only be refused again.
  await assertNotPaused(deps, cert.accountId);
  await certs.recordIssueRequest(deps, by(ctx), cert);
  const wait = new URL(request.url).searchParams.get('wait') === 'true';
  const run = async () => {
    try {
      return await issue(deps, cert.id, 'manual');
    } catch (err) {
      if (!(err instanceof CertkeepError && err.code === 'LEASE_BUSY')) throw err;
      // Someone else runs it: wait for them to finish and report their outcome.
      const deadline = deps.now() + 10 * 60_000;
      while (deps.now() < deadline && (await isLeaseHeld(deps.db, certificateLeaseName(cert.id), deps.now()))) await deps.sleep(100);
      return null;
    }
  };
  if (!wait) {
    ctx.waitUntil(run().catch((err) => deps.log.error('issue failed', { err })));
    return Response.json({ name: cert.name, status: 'pending' }, { status: 202 });
  }
  const outcome = await run();
  cert = (await certs.findCertificateById(deps, cert.id))!;
  if (outcome && !outcome.ok) return acmeProblemResponse(outcome.problem, 502, { certificate: await certs.certificateView(deps, cert) });
  if (!outcome && cert.lastError) return acmeProblemResponse(JSON.parse(cert.lastError), 502, { certificate: await certs.certificateView(deps, cert) });
  return Response.json(await certs.certificateView(deps, cert));
}

/** SPEC §4.1: `{"items","next"}`, newest first; `limit`, `cursor`. */
export async function certificateOrders(request: RoutedRequest, ctx: HandlerContext) {
  const query = lists.parseOrderListQuery(new URL(request.url).searchParams);
  const cert = await certs.requireCertificate(ctx.deps, request.params.name);
  return Response.json(await lists.pageOrders(ctx.deps, cert.id, query));
}

export async function revokeCertificate(request: RoutedRequest, ctx: HandlerContext) {
  const body = await readJsonObject(request, ['reason']);
  const reason = optionalInteger(body, 'reason', 0, 10) ?? 0;
  if (reason === 7) throw fieldError('reason', 'reason 7 is not used (RFC 5280 §5.3.1)');
  const row = await certs.revokeCertificate(ctx.deps, by(ctx), request.params.name, reason);
  return Response.json(await certs.certificateView(ctx.deps, row));
}

/** The served certificate's revocation status, from its CRL distribution point (or OCSP responder). */
export async function certificateRevocationStatus(request: RoutedRequest, ctx: HandlerContext) {
  const cert = await certs.requireCertificate(ctx.deps, request.params.name);
  if (!cert.pem) throw new CertkeepError('NOT_FOUND', `certificate "${cert.name}" has not been issued`);
  const status = await checkRevocation({ certificatePem: cert.pem, outbound: ctx.deps.outbound, now: ctx.deps.now });
  return Response.json({ name: cert.name, serial: cert.serial, ...status });
}

export async function rotateCertificateApiKey(request: RoutedRequest, ctx: HandlerContext) {
  const cert = await certs.requireCertificate(ctx.deps, request.params.name);
  return Response.json({ apiKey: await rotateApiKey(ctx.deps, by(ctx), 'certificate', cert, slotOf(request)) });
}

/** Rotates the certificate onto another key: `{"key"}` (existing) or `{"keyType","keyName"?}` (new). */
export async function rotateCertificateKey(request: RoutedRequest, ctx: HandlerContext) {
  const body = await readJsonObject(request, ['key', 'keyType', 'keyName']);
  const key = optionalString(body, 'key', { max: 64 });
  const keyType = optionalEnum(body, 'keyType', KEY_TYPES);
  const keyName = optionalString(body, 'keyName', { max: 64, pattern: NAME_PATTERN, hint: NAME_HINT });
  if (key && (keyType || keyName)) throw fieldError('key', 'give either key (an existing key) or keyType (a new key)');
  if (!key && !keyType) throw fieldError('keyType', 'required (or key)');
  const result = await certs.rotateCertificateKey(ctx.deps, by(ctx), request.params.name, key ? { key } : { keyType: keyType as KeyType, keyName });
  return Response.json({ name: request.params.name, key: result });
}

/** `{"domains"?,"challenge"?,"dnsProvider"?,"preferredChain"?}`: the edit page's twin. */
export async function editCertificate(request: RoutedRequest, ctx: HandlerContext) {
  const body = await readJsonObject(request, ['domains', 'challenge', 'dnsProvider', 'preferredChain']);
  const result = await updateCertificate(ctx.deps, by(ctx), request.params.name, {
    domains: body.domains,
    challenge: optionalEnum(body, 'challenge', ['http-01', 'dns-01'] as const),
    dnsProvider: 'dnsProvider' in body ? (optionalString(body, 'dnsProvider', { max: 64 }) ?? null) : undefined,
    preferredChain: 'preferredChain' in body ? (optionalString(body, 'preferredChain', { max: 256 }) ?? null) : undefined,
  });
  return Response.json({
    ...(await certs.certificateView(ctx.deps, result.row)),
    changed: result.changed,
    ...(result.dns ? { dns: result.dns } : {}),
  });
}

export async function deleteCertificate(request: RoutedRequest, ctx: HandlerContext) {
  await certs.deleteCertificate(ctx.deps, by(ctx), request.params.name);
  return new Response(null, { status: 204 });
}
