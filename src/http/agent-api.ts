// The consumer agent's side of Certkeep (SPEC §4.8, §4.5): the agent script itself (public), the
// report it sends after a run (download API zone, a certificate API key), and the admin API's
// list of a certificate's consumers.
import { CertkeepError } from '../errors.ts';
import { readCapped } from '../util/read-capped.ts';
import { findApiKeyOwner } from '../domain/apikeys.ts';
import { requireCertificate, findCertificateByName } from '../domain/certificates.ts';
import {
  RELOAD_OUTCOMES,
  consumerView,
  listConsumers,
  normalizeSerial,
  pageConsumers,
  parseConsumerListQuery,
  recordAgentReport,
  staleRule,
  type AgentReport,
  type ConsumerCursor,
} from '../domain/consumers.ts';
import { AGENT_SCRIPT, AGENT_SHA256 } from '../../templates/static/agent.generated.ts';
import { fromBase64Url, fromHex, fromUtf8, toBase64, toBase64Url, utf8 } from '../util/encoding.ts';
import type { HandlerContext, RoutedRequest } from './context.ts';
import { problemResponse } from './problem.ts';
import { fieldError, optionalBoolean, optionalEnum, optionalString, requiredString, type Json } from './validate.ts';

export const AGENT_SCRIPT_PATH = '/agent/certkeep-agent.sh';
export const AGENT_REPORT_PATH = '/api/agent/report';

// ---- GET /agent/certkeep-agent.sh ------------------------------------------------------------------

const SCRIPT_ETAG = `"${AGENT_SHA256}"`;
const SCRIPT_DIGEST = `sha-256=:${toBase64(fromHex(AGENT_SHA256))}:`;

/**
 * The agent, for anyone (it holds no secret): GET and HEAD, revalidated on every use, an ETag
 * and a Repr-Digest (RFC 9530) from its SHA-256 — the hash the certificate page shows.
 */
export function agentScript(request: Request): Response {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return problemResponse(405, 'the agent is read with GET or HEAD', {}, { allow: 'GET, HEAD' });
  }
  const headers = new Headers({ etag: SCRIPT_ETAG, 'cache-control': 'public, no-cache', 'repr-digest': SCRIPT_DIGEST });
  const inm = request.headers.get('if-none-match');
  if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === SCRIPT_ETAG)) return new Response(null, { status: 304, headers });
  headers.set('content-type', 'text/plain; charset=utf-8');
  headers.set('content-disposition', 'inline; filename="certkeep-agent.sh"');
  return new Response(request.method === 'HEAD' ? null : AGENT_SCRIPT, { headers });
}

// ---- POST /api/agent/report --------------------------------------------------------------------------

/** A report is a couple of hundred bytes; anything far larger is not one. */
export const MAX_REPORT_BYTES = 4096;

export const REPORT_FIELDS = ['certificate', 'serial', 'installed', 'reload', 'verified', 'host', 'agentVersion'];

/**
 * The agent's report after a run, authenticated by one of the certificate's API keys (header
 * `apiKey`): 204 once recorded. 401 without a valid key; 400 naming the field for a body that is
 * too large, malformed, incomplete or names a serial the certificate never had lately; 404 for
 * an unknown certificate; 403 for a key of another certificate (or a key's own API key). Nothing
 * is recorded unless every check passed.
 */
export async function agentReport(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const { deps } = ctx;
  const owner = await findApiKeyOwner(deps, request.headers.get('apikey'));
  if (!owner) throw new CertkeepError('UNAUTHORIZED', 'a valid apiKey header is required (one of the certificate\u2019s API keys)');
  const body = await readReport(request);
  const name = requiredString(body, 'certificate', { max: 64 });
  const report: AgentReport = {
    serial: serialOf(body),
    installed: requiredBoolean(body, 'installed'),
    reload: optionalEnum(body, 'reload', RELOAD_OUTCOMES) ?? missing('reload', `required: one of ${RELOAD_OUTCOMES.join(', ')}`),
    verified: optionalBoolean(body, 'verified') ?? null,
    host: optionalString(body, 'host', { max: 253, pattern: /^[\x21-\x7e]+$/, hint: 'a host name (printable characters, no spaces)' }) ?? null,
    agentVersion: optionalString(body, 'agentVersion', { max: 32, pattern: /^[0-9A-Za-z.+-]+$/, hint: 'a version such as 1.0.0' }) ?? null,
  };
  const cert = await findCertificateByName(deps, name);
  if (!cert) throw new CertkeepError('NOT_FOUND', `no certificate named "${name}"`);
  if (owner.ownerKind !== 'certificate' || owner.ownerId !== cert.id) {
    throw new CertkeepError('FORBIDDEN', 'this API key is not valid for this certificate');
  }
  await recordAgentReport(deps, { certificate: cert, slot: owner.slot, clientIp: ctx.clientIp, report });
  return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
}

function missing(field: string, detail: string): never {
  throw fieldError(field, detail);
}

function requiredBoolean(body: Json, field: string): boolean {
  return optionalBoolean(body, field) ?? missing(field, 'required: true or false');
}

function serialOf(body: Json): string {
  const text = requiredString(body, 'serial', { max: 100 });
  return normalizeSerial(text) ?? missing('serial', 'expected the certificate serial number in hex');
}

/** The JSON object of a report, read with a byte cap (the stream is never read past it). */
async function readReport(request: Request): Promise<Json> {
  const type = request.headers.get('content-type') ?? '';
  if (type && !/^application\/json\b/i.test(type)) throw new CertkeepError('UNSUPPORTED_MEDIA_TYPE', `expected application/json, got ${type}`);
  const bytes = await readCapped(request.body, MAX_REPORT_BYTES, () => fieldError('body', `larger than ${MAX_REPORT_BYTES} bytes`), request.headers.get('content-length'));
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw fieldError('body', 'expected a JSON object (SPEC §4.8)');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fieldError('body', 'expected a JSON object');
  for (const key of Object.keys(parsed)) if (!REPORT_FIELDS.includes(key)) throw fieldError(key, 'unknown field');
  return parsed as Json;
}

// ---- GET /api/v1/certificates/{name}/consumers ---------------------------------------------------------

/** `{"items","next"}` (SPEC §4.1): `limit` 1–500 (100), `cursor` from the previous page's `next`. */
export async function certificateConsumers(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const params = new URL(request.url).searchParams;
  const limit = limitOf(params.get('limit'));
  const after = cursorOf(params.get('cursor'));
  const cert = await requireCertificate(ctx.deps, request.params.name);
  const [{ rows, next }, rule] = await Promise.all([listConsumers(ctx.deps, cert.id, { limit, after }), staleRule(ctx.deps)]);
  return Response.json({ items: rows.map((r) => consumerView(r, cert.serial, rule)), next: next ? encodeCursor(next) : null });
}

// ---- GET /api/v1/consumers ---------------------------------------------------------------------------

/**
 * Every certificate's consumers (SPEC §4.1 paging): `status` none (newest first), `behind`,
 * `stale` (behind for `staleHours`; oldest first) or `failed` (the latest agent report says the
 * install failed; newest first). Each item is a consumer as the certificate's list shows it,
 * with its certificate's name.
 */
export async function allConsumers(request: Request, ctx: HandlerContext): Promise<Response> {
  const query = parseConsumerListQuery(new URL(request.url).searchParams);
  const rule = await staleRule(ctx.deps);
  const page = await pageConsumers(ctx.deps, query, rule);
  return Response.json({ items: page.items.map((c) => ({ certificate: c.certificate, ...consumerView(c.row, c.currentSerial, rule) })), next: page.next });
}

function limitOf(raw: string | null): number {
  if (raw === null || raw === '') return 100;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 500) throw fieldError('limit', 'expected an integer from 1 to 500');
  return n;
}

function encodeCursor(c: ConsumerCursor): string {
  return toBase64Url(utf8(JSON.stringify([c.slot, c.clientIp])));
}

function cursorOf(raw: string | null): ConsumerCursor | undefined {
  if (raw === null || raw === '') return undefined;
  try {
    const [slot, clientIp] = JSON.parse(fromUtf8(fromBase64Url(raw))) as unknown[];
    if (typeof slot === 'number' && Number.isInteger(slot) && typeof clientIp === 'string' && clientIp.length <= 64) return { slot, clientIp };
  } catch {
    // falls through to the field error
  }
  throw fieldError('cursor', 'not a cursor this list gave (use the "next" of the previous page)');
}
