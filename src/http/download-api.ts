// The Certera-compatible download API (SPEC §5): one curl with an API key fetches a certificate
// or a key. Bodies are plain text so `curl … > file` works. Check order: a missing or unknown
// key is 401 whatever the name; then an unknown name is 404; a key of another object is 403;
// a certificate not issued yet is 404.
//
// Certera's clients (its docs' curl calls, its PowerShell module) are answered as Certera
// (ASP.NET Core MVC) answered them: paths and parameter names in any case (src/app.ts routes
// them), the parameters from a form body on a GET too, a certificate found by its subject when
// no certificate has the name, a whitespace-only pfxPassword refused, GET /api/test → 200.
// Where SPEC §5 differs on purpose (keys as PKCS#8, `staging` only filtering when given, 400
// for a value it does not know), SPEC wins; README "Download API" lists both.
//
// Downloads are the hot path of a deployment (every server polls): where the host offers it,
// what they read from the database is kept in memory for as long as the database is unchanged
// (download-cache.ts), so a repeated download costs no query and no hashing of the body.
import { eq } from 'drizzle-orm';
import { acmeAccounts } from '../db/schema.ts';
import { CertkeepError } from '../errors.ts';
import { readCapped } from '../util/read-capped.ts';
import { findApiKeyOwnerByHash, isApiKey, type ApiKeyOwner, type ApiKeyOwnerKind } from '../domain/apikeys.ts';
import { hashSecret } from '../domain/secrets.ts';
import { refuseCredential } from '../domain/throttle.ts';
import { findCertificateByName, findCertificateBySubject, type CertificateRow } from '../domain/certificates.ts';
import { recordDownload } from '../domain/consumers.ts';
import { normalizeDomain } from '../domain/names.ts';
import { findKeyById, findKeyByName, keyPkcs8 } from '../domain/keys.ts';
import { createPkcs12, pemDecode, pemEncode, splitCertificates } from '../crypto/index.ts';
import { sha256, toBase64, toBase64Url, utf8 } from '../util/encoding.ts';
import type { HandlerContext, RoutedRequest } from './context.ts';
import { downloadCacheRound, type CachedBody, type CachedCertificate, type DownloadCacheRound } from './download-cache.ts';

/**
 * The parameters as Certera (ASP.NET Core MVC model binding) read them: from a form body
 * (urlencoded or multipart, on a GET as on a POST) first, then from the query string; names in
 * any case; the first of repeated values.
 */
interface Params {
  get(name: string): string | null;
}

/** Largest form body read for the parameters (a few short words; a password at most). */
export const MAX_FORM_BYTES = 16 * 1024;

const FORM_TYPE = /^(?:application\/x-www-form-urlencoded|multipart\/form-data)\s*(?:;|$)/i;

async function readParams(request: Request, ctx: HandlerContext): Promise<Params> {
  const values = new Map<string, string>();
  const add = (name: string, value: string) => {
    const key = name.toLowerCase();
    if (!values.has(key)) values.set(key, value);
  };
  const type = request.headers.get('content-type') ?? '';
  if (FORM_TYPE.test(type)) {
    const bytes = await formBytes(request, ctx);
    if (bytes !== undefined && bytes.length > 0) {
      let form: FormData;
      try {
        form = await new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': type } }).formData();
      } catch {
        throw new CertkeepError('BAD_REQUEST', `body: not a valid ${type.split(';')[0].trim().toLowerCase()} form`, { field: 'body' });
      }
      for (const [name, value] of form) if (typeof value === 'string') add(name, value);
    }
  }
  for (const [name, value] of new URL(request.url).searchParams) add(name, value);
  return { get: (name) => values.get(name.toLowerCase()) ?? null };
}

/** The body's bytes, at most MAX_FORM_BYTES: a GET's from the host (node), or the Request's own. */
async function formBytes(request: Request, ctx: HandlerContext): Promise<Uint8Array | undefined> {
  if (request.method === 'GET' && ctx.getBody !== undefined) {
    if (ctx.getBody.length > MAX_FORM_BYTES) throw tooLarge();
    return ctx.getBody;
  }
  if (request.body === null) return undefined;
  return readCapped(request.body, MAX_FORM_BYTES, tooLarge);
}

const tooLarge = () => new CertkeepError('PAYLOAD_TOO_LARGE', `body: the form is larger than ${MAX_FORM_BYTES} bytes`, { field: 'body' });

function choice<T extends string>(params: Params, name: string, values: readonly T[], fallback: T): T {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  const value = raw.toLowerCase() as T;
  if (!values.includes(value)) throw new CertkeepError('BAD_REQUEST', `${name}: expected one of ${values.join(', ')}`, { field: name });
  return value;
}

/** .NET's String.IsNullOrWhiteSpace (Char.IsWhiteSpace), which Certera checked pfxPassword with. */
const DOTNET_BLANK = /^[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;

/** The name in the path, percent-decoded as ASP.NET's routing did (`www%2Eexample.com`). */
function nameOf(request: RoutedRequest): string {
  try {
    return decodeURIComponent(request.params.name);
  } catch {
    return request.params.name;
  }
}

const BOOL = ['true', 'false'] as const;

async function authenticate(request: Request, ctx: HandlerContext, memory: DownloadCacheRound | undefined): Promise<ApiKeyOwner> {
  const presented = request.headers.get('apikey');
  const owner = isApiKey(presented) ? await apiKeyOwner(ctx, presented, memory) : null;
  // Counted only here, on the way to a 401: a valid key costs nothing more.
  if (!owner) throw await refuseCredential(ctx.deps, 'api-key', ctx.clientIp, new CertkeepError('UNAUTHORIZED', 'a valid apiKey header is required'));
  return owner;
}

/** Only keys that exist are remembered: unknown ones are asked again, so guessing fills no memory. */
async function apiKeyOwner(ctx: HandlerContext, presented: string, memory: DownloadCacheRound | undefined): Promise<ApiKeyOwner | null> {
  const hash = await hashSecret(ctx.deps, presented);
  if (!memory) return findApiKeyOwnerByHash(ctx.deps, hash);
  const known = memory.cache.owners.get(hash);
  if (known) return known;
  const owner = await findApiKeyOwnerByHash(ctx.deps, hash);
  if (owner) memory.set(memory.cache.owners, hash, owner);
  return owner;
}

/**
 * The certificate named `name`; or, when none has that name, the one whose subject (first name)
 * it is, as Certera looked certificates up (`/api/certificate/www.example.com`). Several
 * certificates may share a subject: the one the presented API key opens is chosen, else the
 * oldest (which then answers 403).
 */
async function certificateFor(ctx: HandlerContext, name: string, owner: ApiKeyOwner, memory: DownloadCacheRound | undefined): Promise<CachedCertificate | undefined> {
  const known = memory?.cache.certificates.get(name);
  if (known) return known;
  // Remembered only while the database is unchanged, so the name is still no certificate's.
  const subjectKey = `${owner.ownerId}\n${name}`;
  const bySubject = memory?.cache.subjects.get(subjectKey);
  if (bySubject) return bySubject;
  const row = await findCertificateByName(ctx.deps, name);
  if (row) {
    const cert = cached(row);
    memory?.set(memory.cache.certificates, name, cert);
    return cert;
  }
  let subject: string;
  try {
    subject = normalizeDomain(name);
  } catch {
    return undefined; // not a DNS name: no certificate's subject either
  }
  const match = await findCertificateBySubject(ctx.deps, subject, owner.ownerKind === 'certificate' ? owner.ownerId : null);
  if (!match) return undefined;
  const cert = cached(match);
  memory?.set(memory.cache.subjects, subjectKey, cert);
  return cert;
}

const cached = (row: CertificateRow): CachedCertificate => ({ id: row.id, name: row.name, accountId: row.accountId, pem: row.pem, serial: row.serial, servedKeyId: row.servedKeyId });

async function isStagingAccount(ctx: HandlerContext, accountId: string, memory: DownloadCacheRound | undefined): Promise<boolean | undefined> {
  const known = memory?.cache.staging.get(accountId);
  if (known !== undefined) return known;
  const [account] = await ctx.deps.db.db.select({ staging: acmeAccounts.staging }).from(acmeAccounts).where(eq(acmeAccounts.id, accountId));
  if (account) memory?.set(memory.cache.staging, accountId, account.staging);
  return account?.staging;
}

/**
 * 403 for a valid API key of another object, saying which kind of key this endpoint wants: a
 * certificate's two API keys open /api/certificate/{name}, a key's two open /api/key/{name}.
 * The presenter learns the kind of the key they hold, never the name of what it opens.
 */
function forbidden(wanted: ApiKeyOwnerKind, owner: ApiKeyOwner, name: string): never {
  const endpoint = wanted === 'certificate' ? `/api/certificate/${name}` : `/api/key/${name}`;
  const needs = `one of the ${wanted}'s own two API keys (${wanted === 'certificate' ? 'ckc_' : 'ckk_'}…, or an older cka_…)`;
  const detail =
    owner.ownerKind === wanted
      ? `this API key belongs to another ${wanted}; ${endpoint} needs ${needs}`
      : `this is a ${owner.ownerKind === 'certificate' ? "certificate's" : "key's"} API key; ${endpoint} needs ${needs}`;
  throw new CertkeepError('FORBIDDEN', detail);
}

export async function downloadCertificate(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const memory = downloadCacheRound(ctx.deps);
  const params = await readParams(request, ctx);
  const owner = await authenticate(request, ctx, memory);
  const format = choice(params, 'format', ['pem', 'pfx', 'der'] as const, 'pem');
  const chain = choice(params, 'chain', BOOL, 'true') === 'true';
  const stagingParam = params.get('staging');
  const staging = stagingParam === null || stagingParam === '' ? undefined : choice(params, 'staging', BOOL, 'false') === 'true';
  const pfxPassword = params.get('pfxPassword');
  if (format === 'pfx' && (pfxPassword === null || DOTNET_BLANK.test(pfxPassword))) {
    throw new CertkeepError('BAD_REQUEST', `pfxPassword: ${pfxPassword ? 'only whitespace' : 'required for format=pfx'}`, { field: 'pfxPassword' });
  }

  const name = nameOf(request);
  const cert = await certificateFor(ctx, name, owner, memory);
  if (!cert) throw new CertkeepError('NOT_FOUND', 'certificate does not exist');
  if (owner.ownerKind !== 'certificate' || owner.ownerId !== cert.id) forbidden('certificate', owner, name);
  if (staging !== undefined && (await isStagingAccount(ctx, cert.accountId, memory)) !== staging) {
    throw new CertkeepError('NOT_FOUND', `no ${staging ? 'staging' : 'production'} certificate with this name`);
  }
  const pem = cert.pem;
  if (!pem) throw new CertkeepError('NOT_FOUND', 'certificate not yet issued');

  let body: CachedBody | undefined;
  if (format === 'pfx') {
    // A PFX is encrypted with fresh salts each time, so its bytes never repeat (and are never
    // kept): its ETag is weak, naming the certificate and key it holds (RFC 9110 §8.8.1).
    const pfx = toBase64(await pfxOf(ctx, pem, cert.servedKeyId, pfxPassword!, cert.name));
    body = await bodyWithTag(pfx, { weak: `pfx\n${cert.servedKeyId}\n${pem}` });
  } else {
    const bodyKey = `${cert.id}\n${format}\n${chain}`;
    body = memory?.cache.bodies.get(bodyKey);
    if (!body) {
      body = await bodyWithTag(format === 'der' ? toBase64(pemDecode(pem)[0].der) : chain ? pem : splitCertificates(pem)[0]);
      memory?.set(memory.cache.bodies, bodyKey, body);
    }
  }
  await recordConsumer(ctx, cert, owner);
  return respond(request, body);
}

/**
 * SPEC §4.5: the consumer (certificate, API key slot, address) now has the current serial —
 * whether it gets the body or a 304. Written only when that changes (domain/consumers.ts), so
 * downloads from memory stay in memory. A failure to record is logged; the download is served.
 */
async function recordConsumer(ctx: HandlerContext, cert: CachedCertificate, owner: ApiKeyOwner): Promise<void> {
  if (!cert.serial) return;
  try {
    await recordDownload(ctx.deps, { certificateId: cert.id, slot: owner.slot, clientIp: ctx.clientIp, serial: cert.serial });
  } catch (err) {
    ctx.deps.log.warn('could not record the consumer of a download', { certificate: cert.name, clientIp: ctx.clientIp, err });
  }
}

export async function downloadKey(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const memory = downloadCacheRound(ctx.deps);
  const params = await readParams(request, ctx);
  const owner = await authenticate(request, ctx, memory);
  const format = choice(params, 'format', ['pem', 'der'] as const, 'pem');
  // By name only, as Certera did for keys.
  const name = nameOf(request);
  const key = await findKeyByName(ctx.deps, name);
  if (!key) throw new CertkeepError('NOT_FOUND', 'key does not exist');
  if (owner.ownerKind !== 'key' || owner.ownerId !== key.id) forbidden('key', owner, name);
  // Private keys are unsealed for each download and never kept in memory.
  const pkcs8 = await keyPkcs8(ctx.deps, key);
  return respond(request, await bodyWithTag(format === 'der' ? toBase64(pkcs8) : pemEncode('PRIVATE KEY', pkcs8)));
}

/**
 * `GET /api/test`: Certera's connectivity check (its TestController answered `Ok()`: 200, no
 * body). Open like /healthz: Certera let it past its allow-lists, setup and HTTPS redirect.
 */
export function certeraTest(): Response {
  return new Response(null, { status: 200, headers: { 'cache-control': 'no-store' } });
}

/** PKCS#12 with the served certificate's key, the leaf and the chain as the CA sent it. */
async function pfxOf(ctx: HandlerContext, pem: string, keyId: string | null, password: string, name: string): Promise<Uint8Array> {
  const key = keyId ? await findKeyById(ctx.deps, keyId) : undefined;
  if (!key) throw new CertkeepError('NOT_FOUND', 'the key of this certificate is gone');
  return createPkcs12({
    pkcs8: await keyPkcs8(ctx.deps, key),
    certificates: pemDecode(pem).filter((b) => b.label === 'CERTIFICATE').map((b) => b.der),
    password,
    friendlyName: name,
  });
}

/** The body's bytes and its ETag: strong, from the bytes; or weak, from what `weak` names. */
async function bodyWithTag(body: string, opts: { weak?: string } = {}): Promise<CachedBody> {
  const bytes = utf8(body);
  const tag = `"${toBase64Url((await sha256(opts.weak ?? bytes)).subarray(0, 18))}"`;
  return { bytes, etag: opts.weak === undefined ? tag : `W/${tag}` };
}

const BODY_HEADERS = { 'cache-control': 'no-store', 'content-type': 'text/plain; charset=utf-8' };

/** 200 with the body and its ETag, or 304 when the client already has it. */
function respond(request: Request, { bytes, etag }: CachedBody): Response {
  const inm = request.headers.get('if-none-match');
  // If-None-Match compares weakly (RFC 9110 §13.1.2).
  if (inm && inm.split(',').some((t) => weakTag(t.trim()) === weakTag(etag))) {
    return new Response(null, { status: 304, headers: { etag, 'cache-control': 'no-store' } });
  }
  return new Response(bytes, { headers: { etag, ...BODY_HEADERS } });
}

const weakTag = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag);
