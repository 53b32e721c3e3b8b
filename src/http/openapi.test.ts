// GET /api/v1/openapi.json (SPEC §4.6) cannot drift from the code, checked in the app in this
// process on a libSQL file:
//   - it is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator), every $ref resolves;
//   - the (method, path) pairs the router answers under /api/ (and /metrics, /healthz, the agent
//     script) are exactly the document's, and each documented operation reaches a handler;
//   - every JSON request body's properties are the fields its handler takes: a body with one
//     unknown field is a 400 naming it, and each documented property alone (nested ones too) is
//     never refused as unknown;
//   - every documented query parameter is one the handler knows;
//   - what the handlers answer validates against the documented response schemas (Ajv, JSON
//     Schema 2020-12), whose objects allow no property the document does not name.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { openDatabase } from '../../node-host/db.ts';
import { createApp, routesOf, type App } from '../app.ts';
import { signedInPageApp, PAGE_ORIGIN, type PageApp } from '../../test/harness/page-app.ts';
import { offlineDeps } from '../../test/harness/deps.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';
import { makeLeaf } from '../../test/fixtures/tracking/pki.ts';
import { createAdminToken } from '../domain/tokens.ts';
import { BY_CLI } from '../domain/audit.ts';
import { CHANNEL_TYPES, INPUT_FIELDS, TYPE_FIELDS } from '../domain/notifications/channels.ts';
import { REPORT_FIELDS } from './agent-api.ts';
import { dispatchEvents } from '../domain/notifications/outbox.ts';
import { certificates, consumers, orderEvents, orders } from '../db/schema.ts';
import { eq } from 'drizzle-orm';
import type { OpenApiDocument, Schema } from './openapi.ts';

/**
 * The field lists the handlers really pass to the validators, recorded on the way through (the
 * real functions do the work): readJsonObject's allowed keys, and each configObject a DNS
 * provider's validator opens (its top level, `set`, `tsig`, …).
 */
const recorded = vi.hoisted(() => ({ json: [] as Array<readonly string[] | 'checked-later'>, config: [] as Array<{ field: string; allowed: readonly string[] }> }));
vi.mock('./validate.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('./validate.ts')>();
  return {
    ...real,
    readJsonObject: (request: Request, allowed: readonly string[] | 'checked-later') => {
      recorded.json.push(allowed);
      return real.readJsonObject(request, allowed);
    },
  };
});
vi.mock('../domain/dns/provider-config.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../domain/dns/provider-config.ts')>();
  return {
    ...real,
    configObject: (input: unknown, field: string, allowed: readonly string[]) => {
      recorded.config.push({ field, allowed });
      return real.configObject(input, field, allowed);
    },
  };
});

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

type Json = Record<string, any>;
type Operation = { parameters?: Json[]; requestBody?: Json; responses: Record<string, Json>; security?: unknown[] };

let app: PageApp;
let fresh: { app: App; close(): void };
let token: string;
let doc: OpenApiDocument & Json;
/** The API keys of the certificate `www`. */
let wwwApiKeys: string[];
let trackedId: string;

async function send(target: App, method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await target.fetch(new Request(PAGE_ORIGIN + path, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), redirect: 'manual' }), {
    clientIp: '127.0.0.1',
    secure: false,
    waitUntil: () => {},
  });
  const text = await res.text();
  let json: Json | undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => send(app.app, method, path, { body, headers: { authorization: `Bearer ${token}`, ...headers } });

/** A `$ref` of the document, followed. */
function deref(schema: Json): Json {
  let s = schema;
  while (s && typeof s.$ref === 'string') {
    s = s.$ref
      .slice(2)
      .split('/')
      .reduce((o: Json, part: string) => o[part.replace(/~1/g, '/').replace(/~0/g, '~')], doc as Json);
  }
  return s;
}

/** Every operation of the document: method (lower case), path, the operation. */
function operations(): Array<{ method: string; path: string; op: Operation }> {
  return Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ method, path, op })));
}

beforeAll(async () => {
  app = await signedInPageApp('openapi');
  token = await createAdminToken(app.deps, BY_CLI, 'openapi');
  // Email channels need a mail server; this one takes everything and sends nothing.
  app.deps.mailer = { from: 'certkeep@example.com', send: async () => ({ accepted: [], rejected: [], response: '250 ok' }) };

  // Something of each kind, so that every GET has an object to answer with.
  const cert = await api('POST', '/api/v1/certificates', { name: 'www', domains: ['www.example.com'] });
  expect(cert.status).toBe(201);
  wwwApiKeys = cert.json!.apiKeys;
  expect((await api('POST', '/api/v1/keys', { name: 'k1', type: 'ec-p256' })).status).toBe(201);
  expect((await api('POST', '/api/v1/dns-providers', { name: 'hook', type: 'webhook', url: 'https://dns-hook.example.com/', secret: 'a webhook secret' })).status).toBe(201);
  for (const type of CHANNEL_TYPES) {
    const fields: Record<string, Json> = {
      email: { to: ['ops@example.com'] },
      slack: { url: 'https://hooks.slack.example.com/services/T/B/X' },
      teams: { url: 'https://teams.example.com/workflows/1' },
      discord: { url: 'https://discord.example.com/api/webhooks/1/x' },
      ntfy: { url: 'https://ntfy.example.com/topic', token: 'tk_1234567890' },
      webhook: { url: 'https://hooks.example.com/certkeep', secret: 'a webhook secret of some length' },
    };
    const made = await api('POST', '/api/v1/notification-channels', { name: `ch-${type}`, type, ...fields[type] });
    expect(made.status, made.text).toBe(201);
  }
  const leaf = await makeLeaf({ names: ['tracked.example.com'] });
  const tracked = await api('POST', '/api/v1/tracking', { pem: leaf.pem });
  expect(tracked.status, tracked.text).toBe(201);
  trackedId = tracked.json!.items[0].id;
  // An order that failed (no network here): the history, the certificate's lastError, an event
  // and its deliveries.
  const issued = await api('POST', '/api/v1/certificates/www/issue?wait=true');
  expect(issued.status, issued.text).toBe(502);
  expect(await dispatchEvents(app.deps)).toBeGreaterThan(0);
  // A consumer, as a download of an issued certificate records it.
  const [www] = await app.deps.db.db.select().from(certificates).where(eq(certificates.name, 'www'));
  const now = Date.now();
  // An order as one that ended at the CA leaves it, with its log.
  await app.deps.db.batch([
    app.deps.db.db.insert(orders).values({ id: 'o1', certificateId: www.id, accountId: www.accountId, keyId: www.keyId, state: 'failed', reason: 'new', domains: www.domains, orderUrl: 'https://ca.example/order/1', error: JSON.stringify({ type: 'urn:ietf:params:acme:error:unauthorized', detail: 'no' }), createdAt: now, updatedAt: now, finishedAt: now }),
    app.deps.db.db.insert(orderEvents).values({ orderId: 'o1', at: now, level: 'error', message: 'the CA said no' }),
  ]);
  await app.deps.db.db.insert(consumers).values({ id: 'c1', certificateId: www.id, apiKeySlot: 1, clientIp: '192.0.2.7', fetchedSerial: '01ab', fetchedAt: now, reload: 'ok', installed: true, verified: null, createdAt: now, updatedAt: now });

  const res = await api('GET', '/api/v1/openapi.json');
  expect(res.status).toBe(200);
  doc = res.json as OpenApiDocument & Json;

  // An installation that is not set up yet, for POST /api/v1/setup.
  const opened = await openDatabase(`file:${makeTempDir('openapi-fresh-')}/certkeep.db`);
  fresh = { app: createApp(await offlineDeps(opened.database)), close: () => opened.close() };
});
afterAll(() => {
  app?.close();
  fresh?.close();
});

describe('GET /api/v1/openapi.json', () => {
  it('needs the admin token, answers JSON for the origin it was asked at, with an ETag', async () => {
    const without = await send(app.app, 'GET', '/api/v1/openapi.json');
    expect(without.status).toBe(401);
    expect(without.headers.get('content-type')).toBe('application/problem+json');

    const res = await api('GET', '/api/v1/openapi.json');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.json!.openapi).toBe('3.1.0');
    expect(res.json!.servers).toEqual([{ url: PAGE_ORIGIN }]);
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await api('GET', '/api/v1/openapi.json', undefined, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    // Another origin, another document (its servers), another ETag.
    const other = await app.app.fetch(new Request('https://certkeep.example.com/api/v1/openapi.json', { headers: { authorization: `Bearer ${token}`, 'if-none-match': etag } }), {
      clientIp: '127.0.0.1',
      secure: true,
      waitUntil: () => {},
    });
    expect(other.status).toBe(200);
    expect((await other.json()).servers).toEqual([{ url: 'https://certkeep.example.com' }]);
  });

  it('is a valid OpenAPI 3.1 document whose references all resolve', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(() => validator.resolveRefs()).not.toThrow();
    // operationIds are unique.
    const ids = operations().map((o) => (o.op as Json).operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

/** Paths outside /api/ that the document describes too. */
const ALSO_DESCRIBED = ['/metrics', '/healthz', '/agent/certkeep-agent.sh'];

/** A concrete path of a documented one: `{name}` → a name no object has (`{slot}` → 1). */
const concrete = (path: string, values: Record<string, string> = {}) => path.replace(/\{(\w+)\}/g, (_m, p: string) => values[p] ?? (p === 'slot' ? '1' : 'no-such-object'));

describe('the routes', () => {
  it('are exactly the documented operations', () => {
    const routes = routesOf(app.app);
    const documented = operations().map(({ method, path }) => `${method.toUpperCase()} ${path}`);
    const routed: string[] = [];
    const guards: string[] = [];
    for (const [method, pattern, , path] of routes) {
      const inScope = path !== undefined ? path.startsWith('/api/') || ALSO_DESCRIBED.includes(path) : /\\\/api\\\//.test(pattern.source) || /^\^\\?\/api/.test(pattern.source);
      if (!inScope) continue;
      if (path?.includes('*')) {
        guards.push(`${method} ${path}`);
        continue;
      }
      // A route registered as a RegExp (the download API's, in any case): the documented paths it matches.
      const paths = path !== undefined ? [path.replace(/:(\w+)/g, '{$1}')] : Object.keys(doc.paths).filter((p) => pattern.test(concrete(p)));
      expect(paths.length, `${method} ${pattern}: no documented path matches it`).toBeGreaterThan(0);
      for (const p of paths) {
        if (method === 'ALL') {
          const methods = Object.keys(doc.paths[p] ?? {});
          expect(methods.length, `${method} ${p} is not documented`).toBeGreaterThan(0);
          routed.push(...methods.map((m) => `${m.toUpperCase()} ${p}`));
        } else routed.push(`${method} ${p}`);
      }
    }
    // The one wildcard under /api/ is the admin token check in front of /api/v1 (not an operation).
    expect(guards).toEqual(['ALL /api/v1/*']);
    expect([...new Set(routed)].sort()).toEqual([...documented].sort());
  });

  it('each documented operation reaches its handler (not the catch-all 404)', async () => {
    for (const { method, path } of operations()) {
      const res = await send(app.app, method.toUpperCase(), concrete(path), { headers: { authorization: `Bearer ${token}`, apikey: 'cka_not-a-key' } });
      const caughtAll = res.status === 404 && res.json?.detail === 'no such resource';
      expect(caughtAll, `${method.toUpperCase()} ${path} is not routed`).toBe(false);
    }
  });
});

// ---- request bodies ----------------------------------------------------------------------------

/** A value of the schema's type: the first of an enum, the empty string, the minimum… (valid or not: the field is what counts). */
function sample(schema: Json): unknown {
  const s = deref(schema);
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  if (s.oneOf) return sample(s.oneOf[0]);
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== 'null') : s.type;
  switch (type) {
    case 'string':
      return '';
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object':
      return {};
    default:
      return null;
  }
}

/** A JSON body's alternatives: the schema itself, or each of its `oneOf`. */
function variants(schema: Json): Json[] {
  const s = deref(schema);
  return s.oneOf ? s.oneOf.map(deref) : [s];
}

/** Objects with named properties inside `schema`, with their dotted path: the top level first. */
function objectsIn(schema: Json, prefix = ''): Array<{ path: string; schema: Json }> {
  const s = deref(schema);
  if (!s.properties) return [];
  const out = [{ path: prefix, schema: s }];
  for (const [key, sub] of Object.entries(s.properties as Record<string, Json>)) {
    const inner = deref(sub);
    const candidates = inner.oneOf ? inner.oneOf.map(deref) : [inner];
    for (const c of candidates) if (c.type === 'object' || (Array.isArray(c.type) && c.type.includes('object'))) out.push(...objectsIn(c, `${prefix}${key}.`));
  }
  return out;
}

/** `{a: {b: value}}` from `a.b.` and `value`. */
function nest(path: string, value: Json): Json {
  return path
    .split('.')
    .filter(Boolean)
    .reduceRight((inner, key) => ({ [key]: inner }), value);
}

const isUnknownFieldError = (res: { status: number; json?: Json }, field: string) => res.status === 400 && res.json?.field === field && /unknown field/.test(res.json?.detail ?? '');

/**
 * How to call an operation with a body: which app, the path's objects, the headers, and the
 * fields that must come first for the handler to reach the others (a type's validator is chosen
 * by `type`, a name is checked before it).
 */
function callFor(method: string, path: string, variant: Json) {
  const type = deref(variant.properties?.type ?? {}).const as string | undefined;
  const base: Json = {};
  if (type !== undefined && method === 'post') Object.assign(base, { name: 'probe-new', type });
  // A PATCH of a channel edits one of that type.
  const channel = variant.title?.endsWith(' channel') ? `ch-${variant.title.split(' ')[0]}` : 'ch-webhook';
  const values = { name: path.startsWith('/api/v1/accounts') ? 'default' : path.startsWith('/api/v1/notification-channels') ? channel : 'www' };
  const target = path === '/api/v1/setup' ? fresh.app : app.app;
  const headers: Record<string, string> = path === '/api/agent/report' ? { apikey: wwwApiKeys[1] } : { authorization: `Bearer ${token}` };
  return { base, path: concrete(path, values), target, headers };
}

/** The dotted paths of a body schema's fields, as readJsonObject takes them (`acme`, `acme.eab`, `acme.eab.kid`). */
function fieldPaths(schema: Json, prefix = ''): string[] {
  return Object.entries((deref(schema).properties ?? {}) as Record<string, Json>).flatMap(([key, sub]) => {
    const inner = deref(sub);
    return [prefix + key, ...(inner.properties ? fieldPaths(inner, `${prefix}${key}.`) : [])];
  });
}

/** The object schema at a dotted path (`tsig`) of `schema`. */
const objectAt = (schema: Json, path: string) => path.split('.').filter(Boolean).reduce((s, key) => deref(s.properties[key]), deref(schema));

/** A body with every required field there: strings `x`, nested objects filled the same way. */
function filled(schema: Json): Json {
  const s = deref(schema);
  return Object.fromEntries(
    Object.entries((s.properties ?? {}) as Record<string, Json>)
      .filter(([key]) => (s.required ?? []).includes(key))
      .map(([key, sub]) => {
        const inner = deref(sub);
        if (key === 'name') return [key, 'probe-filled'];
        return [key, inner.properties ? filled(inner) : inner.type === 'string' ? 'x' : sample(inner)];
      }),
  );
}

const sorted = (list: Iterable<string>) => [...list].sort();

/** The fields the handler passed to its validators (recorded during the probes) are the documented ones. */
function expectSameFields(op: string, label: string, variant: Json) {
  const lists = recorded.json.filter((a): a is readonly string[] => a !== 'checked-later');
  if (op === 'POST /api/agent/report') {
    expect(sorted(fieldPaths(variant)), label).toEqual(sorted(REPORT_FIELDS));
  } else if (lists.length > 0) {
    for (const allowed of lists) expect(sorted(fieldPaths(variant)), `${label}: readJsonObject's fields`).toEqual(sorted(allowed));
  } else if (op.startsWith('POST /api/v1/dns-providers')) {
    expect(recorded.config.some((c) => c.field === ''), `${label}: the validator's top level was not reached`).toBe(true);
    for (const { field, allowed } of recorded.config) {
      const documented = Object.keys(objectAt(variant, field).properties).filter((k) => field !== '' || (k !== 'name' && k !== 'type'));
      expect(sorted(documented), `${label}: the fields of ${field || 'the top level'}`).toEqual(sorted(allowed));
    }
    const nested = fieldPaths(variant).filter((p) => deref(objectAt(variant, p)).properties);
    for (const p of nested) expect(recorded.config.some((c) => c.field === p), `${label}: ${p} was never checked`).toBe(true);
  } else if (op.includes('/notification-channels')) {
    const type = (deref(variant.properties.type ?? {}).const as string | undefined) ?? variant.title.split(' ')[0];
    const documented = Object.keys(variant.properties).filter((k) => k !== 'name' && k !== 'type');
    expect(sorted(documented), label).toEqual(sorted([...TYPE_FIELDS[type as keyof typeof TYPE_FIELDS].fields, 'events', 'expiringDays']));
    expect(INPUT_FIELDS.every((f) => documented.includes(f) || CHANNEL_TYPES.some((t) => (TYPE_FIELDS[t].fields as readonly string[]).includes(f)))).toBe(true);
  } else {
    throw new Error(`${label}: no record of the fields its handler takes`);
  }
}

describe('request bodies', () => {
  const bodies = () => operations().filter(({ op }) => op.requestBody?.content?.['application/json']);

  it('are documented for every handler that reads JSON', () => {
    expect(bodies().map(({ method, path }) => `${method.toUpperCase()} ${path}`).length).toBeGreaterThan(15);
  });

  it('name exactly the fields each handler takes: one unknown field is a 400 naming it, each documented one is known', async () => {
    const checked: string[] = [];
    for (const { method, path, op } of bodies()) {
      for (const variant of variants(op.requestBody!.content['application/json'].schema)) {
        const { base, path: url, target, headers } = callFor(method, path, variant);
        recorded.json.length = 0;
        recorded.config.length = 0;
        const label = `${method.toUpperCase()} ${path}${variant.title ? ` (${variant.title})` : deref(variant.properties?.type ?? {}).const ? ` (${deref(variant.properties.type).const})` : ''}`;
        // Nested objects are checked by readJsonObject before anything else; a type's validator
        // checks its own top level first, so for a oneOf only the top level is probed.
        const objects = variants(op.requestBody!.content['application/json'].schema).length > 1 ? objectsIn(variant).slice(0, 1) : objectsIn(variant);
        if (objects.length === 0) objects.push({ path: '', schema: variant });
        for (const { path: prefix, schema } of objects) {
          const unknown = await send(target, method.toUpperCase(), url, { headers, body: { ...base, ...nest(prefix, { zzUnknownField: 1 }) } });
          expect(isUnknownFieldError(unknown, `${prefix}zzUnknownField`), `${label}: ${prefix}zzUnknownField is not refused by name: ${unknown.status} ${unknown.text}`).toBe(true);
          for (const [key, sub] of Object.entries((schema.properties ?? {}) as Record<string, Json>)) {
            if (prefix === '' && key in base) continue;
            const alone = await send(target, method.toUpperCase(), url, { headers, body: { ...base, ...nest(prefix, { [key]: sample(sub) }) } });
            expect(isUnknownFieldError(alone, `${prefix}${key}`), `${label}: the documented ${prefix}${key} is refused as unknown`).toBe(false);
            expect(alone.status, `${label} ${prefix}${key}: ${alone.text}`).not.toBe(415);
            checked.push(`${label} ${prefix}${key}`);
          }
        }
        // A provider's nested settings are opened once the fields before them are there.
        if (path === '/api/v1/dns-providers') await send(target, 'POST', url, { headers, body: filled(variant) });
        expectSameFields(`${method.toUpperCase()} ${path}`, label, variant);
      }
    }
    expect(checked.length).toBeGreaterThan(80);
  });
});

// ---- query parameters --------------------------------------------------------------------------

describe('query parameters', () => {
  it('are all known to their handlers (none is an "unknown parameter")', async () => {
    let checked = 0;
    for (const { method, path, op } of operations()) {
      if (!path.startsWith('/api/v1/') || method !== 'get') continue;
      for (const p of (op.parameters ?? []).map(deref)) {
        if (p.in !== 'query') continue;
        const value = String(sample(p.schema) ?? '') || '1';
        const res = await api('GET', `${concrete(path, { name: 'www', id: trackedId })}?${new URLSearchParams({ [p.name]: value })}`);
        expect(res.status === 400 && res.json?.field === p.name && /unknown parameter/.test(res.json?.detail ?? ''), `GET ${path}: ${p.name} is not known`).toBe(false);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
    // And the check can fail: a parameter no list has.
    const res = await api('GET', '/api/v1/keys?zzUnknown=1');
    expect([res.status, res.json?.field]).toEqual([400, 'zzUnknown']);
  });
});

// ---- responses ---------------------------------------------------------------------------------

describe('responses', () => {
  const validatorFor = () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ ...structuredClone(doc), $id: 'https://certkeep.invalid/openapi.json' });
    return (method: string, path: string, status: number) => {
      const pointer = `/paths/${path.replace(/~/g, '~0').replace(/\//g, '~1')}/${method}/responses/${status}/content/application~1json/schema`;
      return ajv.compile({ $ref: `https://certkeep.invalid/openapi.json#${pointer}` });
    };
  };

  it('of every JSON GET of the admin API validate against the document', async () => {
    const compile = validatorFor();
    // Not answered with 200 here: backups are a host feature this app has none of; the revocation
    // status needs an issued certificate.
    const not200: Record<string, number> = { '/api/v1/backups': 501, '/api/v1/backups/{name}': 501, '/api/v1/certificates/{name}/revocation-status': 404 };
    let validated = 0;
    for (const { method, path, op } of operations()) {
      if (method !== 'get' || !path.startsWith('/api/v1/') || !op.responses['200']) continue;
      if (!deref(op.responses['200']).content?.['application/json']) continue;
      const values = { name: path.startsWith('/api/v1/accounts') ? 'default' : path.startsWith('/api/v1/keys') ? 'k1' : path.startsWith('/api/v1/dns-providers') ? 'hook' : path.startsWith('/api/v1/notification-channels') ? 'ch-ntfy' : 'www', id: trackedId };
      const res = await api('GET', concrete(path, values));
      if (not200[path]) {
        expect(res.status, `GET ${path}`).toBe(not200[path]);
        continue;
      }
      expect(res.status, `GET ${path}: ${res.text}`).toBe(200);
      if (path === '/api/v1/openapi.json') continue;
      const validate = compile('get', path, 200);
      expect(validate(res.json), `GET ${path}: ${JSON.stringify(validate.errors)}\n${res.text.slice(0, 2000)}`).toBe(true);
      const items = res.json!.items as unknown[] | undefined;
      if (items !== undefined) expect(items.length, `GET ${path} lists nothing: the check would prove little`).toBeGreaterThan(0);
      validated++;
    }
    expect(validated).toBeGreaterThan(15);
  });

  it('of the operations that create validate against the document', async () => {
    const compile = validatorFor();
    const cases: Array<[string, string, unknown, number]> = [
      ['post', '/api/v1/keys', { name: 'k2', type: 'ec-p384' }, 201],
      ['post', '/api/v1/certificates', { name: 'api', domains: ['api.example.com'], keyType: 'rsa-2048' }, 201],
      ['patch', '/api/v1/certificates/{name}', { domains: ['www.example.com', 'example.com'] }, 200],
      ['post', '/api/v1/certificates/{name}/key', { keyType: 'ec-p256', keyName: 'www-next' }, 200],
      ['post', '/api/v1/certificates/{name}/api-keys/{slot}', undefined, 200],
      ['post', '/api/v1/certificates/{name}/issue', undefined, 202],
      ['post', '/api/v1/keys/{name}/api-keys/{slot}', undefined, 200],
      ['post', '/api/v1/tokens', { name: 'another' }, 201],
      ['post', '/api/v1/metrics-token', undefined, 201],
      ['put', '/api/v1/settings', { renewDays: 20, staleHours: 48 }, 200],
      ['patch', '/api/v1/accounts/{name}', { maxOrdersPerHour: 300 }, 200],
      ['post', '/api/v1/dns-providers', { name: 'adns', type: 'acme-dns', url: 'https://acme-dns.example.com' }, 201],
      ['post', '/api/v1/notification-channels', { name: 'ops', type: 'slack', url: 'https://hooks.slack.example.com/services/T/B/Y', events: ['certificate.renewed'] }, 201],
      ['patch', '/api/v1/notification-channels/{name}', { token: null, expiringDays: [7, 1] }, 200],
    ];
    for (const [method, path, body, status] of cases) {
      const values = { name: path.startsWith('/api/v1/accounts') ? 'default' : path.startsWith('/api/v1/keys/') ? 'k1' : path.startsWith('/api/v1/notification-channels/') ? 'ch-ntfy' : 'www' };
      const res = await api(method.toUpperCase(), concrete(path, values), body);
      expect(res.status, `${method} ${path}: ${res.text}`).toBe(status);
      const validate = compile(method, path, status);
      expect(validate(res.json), `${method} ${path}: ${JSON.stringify(validate.errors)}\n${res.text}`).toBe(true);
    }
  });

  it('of problems validate against Problem, with the field named', async () => {
    const compile = validatorFor();
    const res = await api('POST', '/api/v1/keys', { name: 'k3', type: 'ed448' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const ajvProblem = compile('post', '/api/v1/keys', 201);
    expect(ajvProblem(res.json)).toBe(false);
    const problem = deref(doc.components.responses.BadRequest).content['application/problem+json'].schema;
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ ...structuredClone(doc), $id: 'https://certkeep.invalid/p.json' });
    const validate = ajv.compile({ $ref: `https://certkeep.invalid/p.json${problem.$ref}` });
    expect(validate(res.json), JSON.stringify(validate.errors)).toBe(true);
    expect(res.json!.field).toBe('type');
  });
});
