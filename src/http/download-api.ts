// The Certera-compatible download API (SPEC §5): one curl with an API key fetches a certificate
// or a key. Bodies are plain text so `curl … > file` works. Check order: a missing or unknown
// key is 401 whatever the name; then an unknown name is 404; a key of another object is 403;
// a certificate not issued yet is 404.
//
// Downloads are the hot path of a deployment (every server polls): where the host offers it,
// what they read from the database is kept in memory for as long as the database is unchanged
// (download-cache.ts), so a repeated download costs no query and no hashing of the body.
import { eq } from 'drizzle-orm';
import { acmeAccounts } from '../db/schema.ts';
import { CertkeepError } from '../errors.ts';
import { findApiKeyOwnerByHash, isApiKey, type ApiKeyOwner, type ApiKeyOwnerKind } from '../domain/apikeys.ts';
import { hashSecret } from '../domain/secrets.ts';
import { refuseCredential } from '../domain/throttle.ts';
import { findCertificateByName } from '../domain/certificates.ts';
import { recordDownload } from '../domain/consumers.ts';
import { findKeyById, findKeyByName, keyPkcs8 } from '../domain/keys.ts';
import { createPkcs12, pemDecode, pemEncode, splitCertificates } from '../crypto/index.ts';
import { sha256, toBase64, toBase64Url, utf8 } from '../util/encoding.ts';
import type { HandlerContext, RoutedRequest } from './context.ts';
import { downloadCacheRound, type CachedBody, type CachedCertificate, type DownloadCacheRound } from './download-cache.ts';

/** Query parameters, merged with a form body when there is one (Certera's docs use `curl -d`). */
async function readParams(request: Request): Promise<URLSearchParams> {
  const params = new URL(request.url).searchParams;
  const type = request.headers.get('content-type') ?? '';
  if (request.method === 'POST' && /^application\/x-www-form-urlencoded\b/i.test(type)) {
    const form = new URLSearchParams(await request.text());
    for (const [k, v] of form) if (!params.has(k)) params.set(k, v);
  }
  return params;
}

function choice<T extends string>(params: URLSearchParams, name: string, values: readonly T[], fallback: T): T {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  const value = raw.toLowerCase() as T;
  if (!values.includes(value)) throw new CertkeepError('BAD_REQUEST', `${name}: expected one of ${values.join(', ')}`, { field: name });
  return value;
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
  if (!memory) return findApiKeyOwnerByHash(ctx.deps, await hashSecret(presented));
  const hash = memory.hash(presented);
  const known = memory.cache.owners.get(hash);
  if (known) return known;
  const owner = await findApiKeyOwnerByHash(ctx.deps, hash);
  if (owner) memory.set(memory.cache.owners, hash, owner);
  return owner;
}

async function certificateNamed(ctx: HandlerContext, name: string, memory: DownloadCacheRound | undefined): Promise<CachedCertificate | undefined> {
  const known = memory?.cache.certificates.get(name);
  if (known) return known;
  const row = await findCertificateByName(ctx.deps, name);
  if (!row) return undefined;
  const cert: CachedCertificate = { id: row.id, name: row.name, accountId: row.accountId, pem: row.pem, serial: row.serial, servedKeyId: row.servedKeyId };
  memory?.set(memory.cache.certificates, name, cert);
  return cert;
}

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
  const params = await readParams(request);
  const owner = await authenticate(request, ctx, memory);
  const format = choice(params, 'format', ['pem', 'pfx', 'der'] as const, 'pem');
  const chain = choice(params, 'chain', BOOL, 'true') === 'true';
  const stagingParam = params.get('staging');
  const staging = stagingParam === null || stagingParam === '' ? undefined : choice(params, 'staging', BOOL, 'false') === 'true';
  const pfxPassword = params.get('pfxPassword');
  if (format === 'pfx' && !pfxPassword) throw new CertkeepError('BAD_REQUEST', 'pfxPassword: required for format=pfx', { field: 'pfxPassword' });

  const cert = await certificateNamed(ctx, request.params.name, memory);
  if (!cert) throw new CertkeepError('NOT_FOUND', 'certificate does not exist');
  if (owner.ownerKind !== 'certificate' || owner.ownerId !== cert.id) forbidden('certificate', owner, request.params.name);
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
  const params = await readParams(request);
  const owner = await authenticate(request, ctx, memory);
  const format = choice(params, 'format', ['pem', 'der'] as const, 'pem');
  const key = await findKeyByName(ctx.deps, request.params.name);
  if (!key) throw new CertkeepError('NOT_FOUND', 'key does not exist');
  if (owner.ownerKind !== 'key' || owner.ownerId !== key.id) forbidden('key', owner, request.params.name);
  // Private keys are unsealed for each download and never kept in memory.
  const pkcs8 = await keyPkcs8(ctx.deps, key);
  return respond(request, await bodyWithTag(format === 'der' ? toBase64(pkcs8) : pemEncode('PRIVATE KEY', pkcs8)));
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
