// The `cloudflare` dns-01 provider, through the Cloudflare API v4 — the Worker's native one.
//
// Every answer is an envelope {"success","errors":[{"code","message"}],"messages","result"}
// (developers.cloudflare.com/api). Calls used:
//   GET    /zones?name=<zone>                              find the zone (unless zoneId is set)
//   POST   /zones/{zone}/dns_records {"type":"TXT","name","content","ttl"}
//   GET    /zones/{zone}/dns_records?type=TXT&name=<fqdn>  the values at one name
//   DELETE /zones/{zone}/dns_records/{record}
// The token needs Zone:DNS:Edit on the zone (and Zone:Zone:Read to find it by name).
import { CertkeepError } from '../../errors.ts';
import { registrableDomain, subjectName } from './names.ts';
import { baseUrl, configObject, fieldError, optionalText, requiredText, serviceUrl } from './provider-config.ts';
import { bodyExcerpt, callProvider, parseJson, statusError, type ProviderCall } from './provider-http.ts';
import type { DnsProviderDriver } from './types.ts';
import type { Outbound } from '../../net/outbound.ts';

export const CLOUDFLARE_API_BASE = 'https://api.cloudflare.com/client/v4';
/** Short, so that a record left behind by a crash stops mattering soon. */
export const CLOUDFLARE_TXT_TTL = 60;
/** "An identical record already exists": a retried set after a crash. */
const IDENTICAL_RECORD_EXISTS = 81058;
/** "Record does not exist": someone else removed it first. */
const RECORD_DOES_NOT_EXIST = 81044;
const ZONE_ID = /^[0-9a-f]{32}$/;

export interface CloudflareConfig {
  apiToken: string;
  /** The zone's id (32 hex digits); without it, the zone is found by name. */
  zoneId?: string;
  /** Default CLOUDFLARE_API_BASE; tests point it at a local stand-in. */
  apiBase?: string;
}

/** Validates `{"apiToken","zoneId"?,"apiBase"?}` (the provider's fields without `name` and `type`). */
export function validateCloudflareConfig(input: unknown, outbound: Outbound): CloudflareConfig {
  const obj = configObject(input, '', ['apiToken', 'zoneId', 'apiBase']);
  const apiToken = requiredText(obj, 'apiToken', 'apiToken', 1024);
  if (!/^[\x21-\x7e]+$/.test(apiToken)) throw fieldError('apiToken', 'expected printable characters without spaces');
  const zoneId = optionalText(obj, 'zoneId', 'zoneId', 64);
  if (zoneId !== undefined && !ZONE_ID.test(zoneId)) throw fieldError('zoneId', 'expected the zone id: 32 lower-case hex digits');
  const config: CloudflareConfig = { apiToken };
  if (zoneId !== undefined) config.zoneId = zoneId;
  if (obj.apiBase !== undefined && obj.apiBase !== null) {
    const url = serviceUrl(obj, 'apiBase', 'apiBase', outbound);
    if (url.search || url.hash) throw fieldError('apiBase', 'the base URL takes no query or fragment');
    config.apiBase = baseUrl(url);
  }
  return config;
}

/** What the admin API shows: never the token. */
export function describeCloudflareConfig(config: CloudflareConfig): { zoneId?: string; apiBase?: string } {
  const out: { zoneId?: string; apiBase?: string } = {};
  if (config.zoneId !== undefined) out.zoneId = config.zoneId;
  if (config.apiBase !== undefined) out.apiBase = config.apiBase;
  return out;
}

export function cloudflareDriver(config: CloudflareConfig, outbound: Outbound, opts: { timeoutMs?: number } = {}): DnsProviderDriver {
  const api = cloudflareApi(config, outbound, opts.timeoutMs);
  /** Zone ids by validated name, so that clear does not look again what set found. */
  const zones = new Map<string, { id: string; label: string }>();

  const zoneOf = async (recordName: string): Promise<{ id: string; label: string }> => {
    if (config.zoneId !== undefined) return { id: config.zoneId, label: config.zoneId };
    const name = subjectName(recordName);
    const known = zones.get(name);
    if (known) return known;
    const found = await findZone(api, name);
    zones.set(name, found);
    return found;
  };

  return {
    async set(record, log) {
      const zone = await zoneOf(record.name);
      const outcome = await api.call('POST', `/zones/${encodeURIComponent(zone.id)}/dns_records`, `create TXT ${record.fqdn}`, {
        type: 'TXT',
        name: record.fqdn,
        content: record.value,
        ttl: CLOUDFLARE_TXT_TTL,
      }, [IDENTICAL_RECORD_EXISTS]);
      log({
        level: 'info',
        message: outcome.tolerated
          ? `cloudflare: TXT ${record.fqdn} with this value already exists in zone ${zone.label}`
          : `cloudflare: TXT ${record.fqdn} created in zone ${zone.label}`,
      });
    },

    async clear(record, log) {
      const zone = await zoneOf(record.name);
      const query = new URLSearchParams({ type: 'TXT', name: record.fqdn, per_page: '100' });
      const { result } = await api.call('GET', `/zones/${encodeURIComponent(zone.id)}/dns_records?${query}`, `list TXT ${record.fqdn}`);
      const matching = objects(result).filter(
        (r) => typeof r.id === 'string' && typeof r.content === 'string' && unquoteTxt(r.content) === record.value,
      );
      if (matching.length === 0) {
        log({ level: 'info', message: `cloudflare: no TXT ${record.fqdn} with this value in zone ${zone.label}; nothing to clear` });
        return;
      }
      for (const r of matching) {
        await api.call('DELETE', `/zones/${encodeURIComponent(zone.id)}/dns_records/${encodeURIComponent(r.id as string)}`, `delete TXT ${record.fqdn}`, undefined, [
          RECORD_DOES_NOT_EXIST,
        ]);
      }
      log({ level: 'info', message: `cloudflare: TXT ${record.fqdn} with this value removed from zone ${zone.label}` });
    },
  };
}

/**
 * Cloudflare shows TXT content in presentation form, quoted (`"abc"`), while older records come
 * unquoted; a long value may be split into several quoted strings. Answers the joined text.
 */
export function unquoteTxt(content: string): string {
  if (!/^\s*"(?:[^"\\]|\\.)*"(?:\s+"(?:[^"\\]|\\.)*")*\s*$/.test(content)) return content;
  return [...content.matchAll(/"((?:[^"\\]|\\.)*)"/g)]
    .map((m) => m[1].replace(/\\(\d{3}|.)/g, (_, e: string) => (e.length === 3 ? String.fromCharCode(Number(e)) : e)))
    .join('');
}

/** The objects in an envelope's `result` list (anything else is ignored). */
function objects(result: unknown): Record<string, unknown>[] {
  return Array.isArray(result) ? result.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null) : [];
}

interface CloudflareApi {
  /** The envelope's `result`; throws DNS_PROVIDER_FAILED unless success (or an error code in `tolerate`). */
  call(method: string, path: string, what: string, body?: unknown, tolerate?: number[]): Promise<{ result: unknown; tolerated: boolean }>;
}

function cloudflareApi(config: CloudflareConfig, outbound: Outbound, timeoutMs: number | undefined): CloudflareApi {
  const base = config.apiBase ?? CLOUDFLARE_API_BASE;
  return {
    async call(method, path, what, body, tolerate = []) {
      const call: ProviderCall = {
        provider: 'cloudflare',
        what,
        url: base + path,
        init: {
          method,
          headers: {
            authorization: `Bearer ${config.apiToken}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        },
        timeoutMs,
        secrets: [config.apiToken],
      };
      const answer = await callProvider(outbound, call);
      const envelope = parseJson(answer.text) as { success?: unknown; errors?: unknown; result?: unknown } | undefined;
      if (typeof envelope !== 'object' || envelope === null || typeof envelope.success !== 'boolean') {
        throw statusError(call, answer);
      }
      const errors = Array.isArray(envelope.errors) ? envelope.errors.map(describeApiError) : [];
      if (envelope.success === true && answer.status >= 200 && answer.status < 300) return { result: envelope.result, tolerated: false };
      if (errors.some((e) => e.code !== undefined && tolerate.includes(e.code))) return { result: undefined, tolerated: true };
      const said = errors.length > 0 ? errors.map((e) => e.text).join('; ') : 'success is false and no errors were given';
      throw statusError(call, answer, bodyExcerpt(said, call.secrets));
    },
  };
}

/** `9109 Invalid access token`, with nested `error_chain` entries after it. */
function describeApiError(error: unknown): { code?: number; text: string } {
  const e = (error ?? {}) as { code?: unknown; message?: unknown; error_chain?: unknown };
  const code = typeof e.code === 'number' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : JSON.stringify(error);
  const chain = Array.isArray(e.error_chain) ? e.error_chain.map((c) => describeApiError(c).text) : [];
  return { code, text: [code !== undefined ? `${code} ${message}` : message, ...chain].join(' ← ') };
}

/** Walks up from the name to its registrable domain: the first name Cloudflare has a zone for. */
async function findZone(api: CloudflareApi, name: string): Promise<{ id: string; label: string }> {
  const domain = await registrableDomain(name);
  const candidates: string[] = [];
  for (let candidate = name; ; candidate = candidate.slice(candidate.indexOf('.') + 1)) {
    candidates.push(candidate);
    if (candidate === domain || !candidate.includes('.')) break;
  }
  for (const candidate of candidates) {
    const query = new URLSearchParams({ name: candidate });
    const { result } = await api.call('GET', `/zones?${query}`, `find zone ${candidate}`);
    const zone = objects(result).find((z) => typeof z.id === 'string' && z.name === candidate);
    if (zone) return { id: zone.id as string, label: candidate };
  }
  throw new CertkeepError(
    'DNS_PROVIDER_FAILED',
    `cloudflare: no zone found for ${name} (looked for ${candidates.join(', ')}); the API token needs Zone:Read on the zone, or set zoneId`,
    { provider: 'cloudflare', name },
  );
}
