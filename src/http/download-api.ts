// The Certera-compatible download API (SPEC §5): one curl with an API key fetches a certificate
// or a key. Bodies are plain text so `curl … > file` works. Check order: a missing or unknown
// key is 401 whatever the name; then an unknown name is 404; a key of another object is 403;
// a certificate not issued yet is 404.
import { eq } from 'drizzle-orm';
import { acmeAccounts } from '../db/schema.ts';
import { CertkeepError } from '../errors.ts';
import { findApiKeyOwner } from '../domain/apikeys.ts';
import { findCertificateByName } from '../domain/certificates.ts';
import { findKeyById, findKeyByName, keyPkcs8 } from '../domain/keys.ts';
import { createPkcs12, pemDecode, pemEncode, splitCertificates } from '../crypto/index.ts';
import { sha256, toBase64, toBase64Url, utf8 } from '../util/encoding.ts';
import type { HandlerContext, RoutedRequest } from './context.ts';
import { problemResponse } from './problem.ts';

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

async function authenticate(request: Request, ctx: HandlerContext) {
  const owner = await findApiKeyOwner(ctx.deps, request.headers.get('apikey'));
  if (!owner) throw new CertkeepError('UNAUTHORIZED', 'a valid apiKey header is required');
  return owner;
}

function forbidden(): never {
  throw new CertkeepError('FORBIDDEN', 'this API key is not valid for this object');
}

export async function downloadCertificate(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const params = await readParams(request);
  const owner = await authenticate(request, ctx);
  const format = choice(params, 'format', ['pem', 'pfx', 'der'] as const, 'pem');
  const chain = choice(params, 'chain', BOOL, 'true') === 'true';
  const stagingParam = params.get('staging');
  const staging = stagingParam === null || stagingParam === '' ? undefined : choice(params, 'staging', BOOL, 'false') === 'true';
  const pfxPassword = params.get('pfxPassword');
  if (format === 'pfx' && !pfxPassword) throw new CertkeepError('BAD_REQUEST', 'pfxPassword: required for format=pfx', { field: 'pfxPassword' });

  const cert = await findCertificateByName(ctx.deps, request.params.name);
  if (!cert) throw new CertkeepError('NOT_FOUND', 'certificate does not exist');
  if (owner.ownerKind !== 'certificate' || owner.ownerId !== cert.id) forbidden();
  if (staging !== undefined) {
    const [account] = await ctx.deps.db.db.select({ staging: acmeAccounts.staging }).from(acmeAccounts).where(eq(acmeAccounts.id, cert.accountId));
    if (!account || account.staging !== staging) throw new CertkeepError('NOT_FOUND', `no ${staging ? 'staging' : 'production'} certificate with this name`);
  }
  if (!cert.pem) throw new CertkeepError('NOT_FOUND', 'certificate not yet issued');

  let body: string;
  if (format === 'der') body = toBase64(pemDecode(cert.pem)[0].der);
  else if (format === 'pfx') body = toBase64(await pfxOf(ctx, cert.pem, cert.servedKeyId, pfxPassword!, cert.name));
  else body = chain ? cert.pem : splitCertificates(cert.pem)[0];
  // A PFX is encrypted with fresh salts each time, so its bytes never repeat: its ETag is weak,
  // naming the certificate and key it holds (RFC 9110 §8.8.1).
  return format === 'pfx' ? respond(request, body, { weak: `pfx\n${cert.servedKeyId}\n${cert.pem}` }) : respond(request, body);
}

export async function downloadKey(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const params = await readParams(request);
  const owner = await authenticate(request, ctx);
  const format = choice(params, 'format', ['pem', 'der'] as const, 'pem');
  const key = await findKeyByName(ctx.deps, request.params.name);
  if (!key) throw new CertkeepError('NOT_FOUND', 'key does not exist');
  if (owner.ownerKind !== 'key' || owner.ownerId !== key.id) forbidden();
  const pkcs8 = await keyPkcs8(ctx.deps, key);
  return respond(request, format === 'der' ? toBase64(pkcs8) : pemEncode('PRIVATE KEY', pkcs8));
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

/** 200 with a strong ETag of the body, or 304 when the client already has it. */
async function respond(request: Request, body: string, opts: { weak?: string } = {}): Promise<Response> {
  const bytes = utf8(body);
  const tag = `"${toBase64Url((await sha256(opts.weak ?? bytes)).subarray(0, 18))}"`;
  const etag = opts.weak === undefined ? tag : `W/${tag}`;
  const headers = { etag, 'cache-control': 'no-store', 'content-type': 'text/plain; charset=utf-8' };
  const inm = request.headers.get('if-none-match');
  // If-None-Match compares weakly (RFC 9110 §13.1.2).
  if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === tag)) {
    return new Response(null, { status: 304, headers: { etag, 'cache-control': 'no-store' } });
  }
  return new Response(bytes, { headers });
}

