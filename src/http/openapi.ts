// GET /api/v1/openapi.json (SPEC §4.6): an OpenAPI 3.1 description of the admin API, the download
// API, the agent's report, /metrics and /healthz. Written by hand, from the handlers and their
// validators; src/http/openapi.test.ts keeps it equal to them: every route the router answers is
// here and every operation here is routed, every JSON body's properties are exactly the fields its
// handler takes, and real answers validate against the response schemas. Enumerations and ranges
// come from the constants the validators use, so that they cannot disagree.
import { KEY_TYPES } from '../crypto/index.ts';
import { CERTIFICATE_FILTERS, CERTIFICATE_SORTS, MAX_EXPIRING_DAYS } from '../domain/certificate-list.ts';
import { AUDIT_FILTERS } from '../domain/audit-list.ts';
import { AUDIT_OUTCOMES } from '../domain/audit.ts';
import { CONSUMER_FILTERS, RELOAD_OUTCOMES } from '../domain/consumers.ts';
import { DNS_PROVIDER_TYPES } from '../domain/dns/types.ts';
import { MAX_SCRIPT_TIMEOUT_SECONDS } from '../domain/dns/script.ts';
import { EVENT_TYPES } from '../domain/events.ts';
import { NAME_SORTS, ORDER_SORTS } from '../domain/lists.ts';
import { CHANNEL_TYPES, EXPIRY_THRESHOLDS } from '../domain/notifications/channels.ts';
import { DELIVERY_SORTS, DELIVERY_STATES } from '../domain/notifications/outbox.ts';
import { DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY } from '../domain/paging.ts';
import { MAX_ORDERS_PER_HOUR } from '../domain/ca-pace.ts';
import { RENEW_DAYS_MAX, RENEW_DAYS_MIN } from '../domain/renewal.ts';
import { AUDIT_RETENTION, STALE_HOURS_MAX, STALE_HOURS_MIN } from '../domain/settings.ts';
import { SCAN_HOURS_MAX, SCAN_HOURS_MIN } from '../domain/tracking/scan.ts';
import { STARTTLS_PROTOCOLS } from '../domain/tracking/targets.ts';
import { TRACKING_FILTERS, TRACKING_SORTS, TRACKING_SOURCES } from '../domain/tracking/list.ts';
import { EXPOSITION_CONTENT_TYPE } from '../metrics/exposition.ts';
import { sha256, toBase64Url, utf8 } from '../util/encoding.ts';
import { MAX_FORM_BYTES } from './download-api.ts';
import { MAX_REPORT_BYTES } from './agent-api.ts';
import type { HandlerContext } from './context.ts';
import { NAME_PATTERN } from './validate.ts';
import { OPENAPI_PATH } from './openapi-path.ts';

export { OPENAPI_PATH };

// ---- schema helpers ------------------------------------------------------------------------------

export type Schema = { [key: string]: unknown };

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const int = (minimum?: number, maximum?: number, extra: Schema = {}): Schema => ({ type: 'integer', ...(minimum !== undefined ? { minimum } : {}), ...(maximum !== undefined ? { maximum } : {}), ...extra });
const bool = (extra: Schema = {}): Schema => ({ type: 'boolean', ...extra });
const arr = (items: Schema, extra: Schema = {}): Schema => ({ type: 'array', items, ...extra });
const oneOfEnum = (values: readonly (string | number)[], extra: Schema = {}): Schema => ({ enum: [...values], ...extra });
const time: Schema = { type: 'string', format: 'date-time' };
/** `schema` or null (JSON Schema 2020-12, as OpenAPI 3.1 uses it). */
const orNull = (schema: Schema): Schema => {
  if (typeof schema.type === 'string') return { ...schema, type: [schema.type, 'null'] };
  if (Array.isArray(schema.enum)) return { ...schema, enum: [...schema.enum, null] };
  return { oneOf: [schema, { type: 'null' }] };
};
/** An object of exactly these properties; `required` lists the ones always present (default: all). */
const obj = (properties: Record<string, Schema>, required: readonly string[] = Object.keys(properties), extra: Schema = {}): Schema => ({
  type: 'object',
  properties,
  ...(required.length ? { required: [...required] } : {}),
  additionalProperties: false,
  ...extra,
});
/** A request body: the fields its handler takes, every one optional unless listed. */
const body = (properties: Record<string, Schema>, required: readonly string[] = [], extra: Schema = {}): Schema => obj(properties, required, extra);

const name = (extra: Schema = {}): Schema => str({ pattern: NAME_PATTERN.source, maxLength: 64, ...extra });
const email = str({ format: 'email', maxLength: 254 });
const keyType = oneOfEnum(KEY_TYPES);
const apiKeyPair = arr(str(), { minItems: 2, maxItems: 2, description: 'The two API keys (slots 1 and 2), shown this once.' });
const eab = body({ kid: str({ maxLength: 1024 }), hmacKey: str({ maxLength: 1024, pattern: '^[A-Za-z0-9_-]+={0,2}$', description: 'base64url' }) }, ['kid', 'hmacKey'], {
  description: 'External account binding (RFC 8555 §7.3.4).',
});

// ---- parameters ----------------------------------------------------------------------------------

type Param = { name: string; in: 'path' | 'query' | 'header'; required?: boolean; description?: string; schema: Schema };

const pathParam = (n: string, description: string, schema: Schema = str()): Param => ({ name: n, in: 'path', required: true, description, schema });
const query = (n: string, description: string, schema: Schema = str()): Param => ({ name: n, in: 'query', description, schema });
const P = (n: string) => ({ $ref: `#/components/parameters/${n}` });

const listParams = (opts: { q?: boolean; sorts?: readonly string[]; status?: { values: readonly string[]; several: boolean } } = {}) => [
  P('limit'),
  P('cursor'),
  ...(opts.q ? [P('q')] : []),
  ...(opts.status
    ? [query('status', opts.status.several ? 'Only items in these states (several separated by commas).' : 'Only items in this state.', opts.status.several ? str({ description: `comma-separated: ${opts.status.values.join(', ')}` }) : oneOfEnum(opts.status.values))]
    : []),
  ...(opts.sorts ? [query('sort', 'Order of the list.', oneOfEnum(opts.sorts, { default: opts.sorts[0] }))] : []),
];

const waitParam = (what: string) => query('wait', `\`true\`: answer when ${what} ends instead of at once.`, oneOfEnum(['true', 'false']));

// ---- responses -----------------------------------------------------------------------------------

const R = (n: string) => ({ $ref: `#/components/responses/${n}` });
const json = (schema: Schema, description: string) => ({ description, content: { 'application/json': { schema } } });
const noContent = { description: 'Done; no body.' };
const listOf = (item: string, description: string) => json(obj({ items: arr(ref(item)), next: orNull(str()) }), description);

const PROBLEMS: Record<number, [string, string]> = {
  400: ['BadRequest', 'A parameter or field is wrong: `field` names it.'],
  401: ['Unauthorized', 'The credential is missing or not valid.'],
  403: ['Forbidden', 'The address is not on the allow-list, plain HTTP where HTTPS is required, or a credential of something else.'],
  404: ['NotFound', 'No such object (or not issued yet).'],
  409: ['Conflict', 'The object is in a state that does not allow this (in use, exists already, …).'],
  413: ['PayloadTooLarge', 'The body is larger than the endpoint takes.'],
  415: ['UnsupportedMediaType', 'The body is not declared `application/json`.'],
  429: ['TooManyRequests', 'Too many failed credentials from this address; `Retry-After` says when to try again.'],
  501: ['NotImplemented', 'Not available on this host (the Worker): the detail says what there is instead.'],
  502: ['BadGateway', 'The CA, DNS provider or receiver refused or failed; an ACME problem is relayed whole.'],
};

type Op = {
  summary: string;
  description?: string;
  tags: string[];
  operationId: string;
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
  security?: unknown[];
};

/** An operation: its answers, the listed problems, and those every operation of its zone can give. */
function op(o: {
  id: string;
  summary: string;
  description?: string;
  tag: string;
  params?: unknown[];
  body?: Schema;
  ok: Record<number, unknown>;
  problems?: number[];
  zone?: 'admin' | 'setup' | 'download' | 'open' | 'metrics';
}): Op {
  const zone = o.zone ?? 'admin';
  const problems = new Set(o.problems ?? []);
  if (zone === 'admin') [401, 403, 429].forEach((s) => problems.add(s));
  if (zone === 'admin' || zone === 'setup') {
    if (o.body) [400, 415].forEach((s) => problems.add(s));
  }
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(o.ok)) responses[status] = response;
  for (const status of [...problems].sort()) responses[String(status)] = R(PROBLEMS[status][0]);
  return {
    summary: o.summary,
    ...(o.description ? { description: o.description } : {}),
    tags: [o.tag],
    operationId: o.id,
    ...(o.params?.length ? { parameters: o.params } : {}),
    ...(o.body ? { requestBody: { required: true, content: { 'application/json': { schema: o.body } } } } : {}),
    responses,
    security: zone === 'admin' ? [{ adminToken: [] }] : zone === 'download' ? [{ apiKey: [] }] : zone === 'metrics' ? [{}, { metricsToken: [] }] : [],
  };
}

// ---- resources -----------------------------------------------------------------------------------

const problemObject = obj({ type: str(), detail: str(), title: str(), status: int(), instance: str(), subproblems: arr({ type: 'object' }), identifier: { type: 'object' } }, ['type'], {
  additionalProperties: true,
  description: 'An ACME problem document (RFC 8555 §6.7) as the CA sent it.',
});

const certificateProperties: Record<string, Schema> = {
  name: str(),
  domains: arr(str()),
  challenge: oneOfEnum(['http-01', 'dns-01']),
  account: orNull(str()),
  staging: bool(),
  status: oneOfEnum(['new', 'pending', 'valid', 'invalid', 'expired', 'revoked']),
  serial: orNull(str()),
  notBefore: orNull(time),
  notAfter: orNull(time),
  renewAt: orNull(time),
  nextAttemptAt: orNull(time),
  failureCount: int(0),
  lastError: orNull(ref('AcmeProblem')),
  revokedAt: orNull(time),
  createdAt: orNull(time),
  caPause: ref('CaPause'),
};

const consumerProperties: Record<string, Schema> = {
    apiKeySlot: oneOfEnum([1, 2]),
    address: str(),
    host: orNull(str()),
    agentVersion: orNull(str()),
    fetchedSerial: orNull(str()),
    fetchedAt: orNull(time),
    installedSerial: orNull(str()),
    installedAt: orNull(time),
    reload: orNull(oneOfEnum(RELOAD_OUTCOMES)),
    verified: orNull(bool()),
    reportedSerial: orNull(str()),
    reportedAt: orNull(time),
    installed: orNull(bool()),
    behind: bool({ description: 'It has not fetched (or installed) the current serial.' }),
    behindSince: orNull(time),
    stale: bool({ description: 'Behind for `staleHours` or more.' }),
    firstSeenAt: time,
  };

const schemas: Record<string, Schema> = {
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details (`application/problem+json`). `field` names the request field or parameter at fault.',
    properties: {
      type: str({ description: '`about:blank`, or the ACME problem type the CA sent.' }),
      title: str(),
      status: int(100, 599),
      detail: str(),
      field: str(),
      code: str({ description: 'Certkeep\u2019s error code (`BAD_REQUEST`, `NOT_FOUND`, …).' }),
      'invalid-params': arr(obj({ name: str(), reason: str() })),
      acme: problemObject,
      subproblems: arr({ type: 'object' }),
    },
    required: ['type', 'title', 'status', 'detail'],
  },
  AcmeProblem: problemObject,
  CaPause: orNull(obj({ until: time, problem: orNull(ref('AcmeProblem')) })),
  Account: obj({
    name: str(),
    directoryUrl: str({ format: 'uri' }),
    email: orNull(str()),
    staging: bool(),
    termsOfServiceAgreed: bool(),
    status: oneOfEnum(['pending', 'valid', 'deactivated']),
    accountUrl: orNull(str()),
    keyType: str(),
    maxOrdersPerHour: orNull(int(1, MAX_ORDERS_PER_HOUR)),
    pause: { ...ref('CaPause'), description: 'The CA asked to wait: no new order for this account before `until`.' },
    createdAt: time,
  }),
  Key: obj({ name: str(), type: keyType, createdAt: time }),
  CreatedKey: obj({ name: str(), type: keyType, apiKeys: apiKeyPair }),
  ApiKey: obj({ apiKey: str({ description: 'The new API key of that slot, shown this once; the other slot keeps working.' }) }),
  Settings: obj({
    renewDays: orNull(int(RENEW_DAYS_MIN, RENEW_DAYS_MAX)),
    siteCertificate: orNull(str()),
    hostname: orNull(str()),
    auditRetentionDays: int(AUDIT_RETENTION.min, AUDIT_RETENTION.max),
    scanHours: int(SCAN_HOURS_MIN, SCAN_HOURS_MAX),
    staleHours: int(STALE_HOURS_MIN, STALE_HOURS_MAX),
  }),
  DnsProvider: obj(
    {
      name: str(),
      type: oneOfEnum(DNS_PROVIDER_TYPES),
      config: { type: 'object', description: 'The settings without their secrets (tokens, HMAC keys, env values).' },
      createdAt: time,
      cnames: arr(obj({ name: str(), target: str() }), { description: 'acme-dns: the CNAME records to publish (on the provider\u2019s own GET).' }),
    },
    ['name', 'type', 'config', 'createdAt'],
  ),
  Certificate: obj(certificateProperties),
  Cnames: obj({ cnames: arr(obj({ name: str(), target: str() })) }, ['cnames'], { description: 'acme-dns: the CNAME records the names need.' }),
  CreatedCertificate: obj(
    {
      name: str(),
      apiKeys: apiKeyPair,
      key: obj({ name: str(), apiKeys: apiKeyPair }, ['name'], { description: 'The key; its API keys only when it was made here.' }),
      dns: ref('Cnames'),
    },
    ['name', 'apiKeys', 'key'],
  ),
  EditedCertificate: obj({ ...certificateProperties, changed: arr(str(), { description: 'The fields that changed.' }), dns: ref('Cnames') }, [...Object.keys(certificateProperties), 'changed'], {
    description: 'The certificate, what changed, and acme-dns CNAMEs when the names need them.',
  }),
  Order: obj({
    id: str(),
    state: oneOfEnum(['placing', 'placed', 'authorizing', 'finalizing', 'downloading', 'done', 'failed', 'abandoned']),
    reason: str(),
    domains: arr(str()),
    orderUrl: orNull(str()),
    serial: orNull(str()),
    thumbprint: orNull(str()),
    notBefore: orNull(time),
    notAfter: orNull(time),
    error: orNull(ref('AcmeProblem')),
    createdAt: time,
    finishedAt: orNull(time),
    log: arr(obj({ at: time, level: oneOfEnum(['info', 'warn', 'error']), message: str() })),
  }),
  RevocationStatus: obj(
    {
      name: str(),
      serial: orNull(str()),
      status: oneOfEnum(['good', 'revoked', 'unknown']),
      source: oneOfEnum(['crl', 'ocsp']),
      url: str(),
      checkedAt: time,
      nextUpdate: time,
      revokedAt: time,
      reason: { type: ['integer', 'string'], description: 'revoked: the CRLReason code when the CA gave one; unknown: why the status is not known.' },
    },
    ['name', 'serial', 'status'],
  ),
  Consumer: obj(consumerProperties),
  ConsumerOfCertificate: obj({ certificate: str(), ...consumerProperties }),
  Dashboard: obj({
    attention: obj({
      failing: int(0),
      expiringSoon: int(0),
      expiringDays: int(1),
      staleConsumers: int(0),
      staleHours: int(1),
      failedInstalls: int(0),
      trackedProblems: orNull(int(0)),
    }),
    timeline: obj({
      from: time,
      until: time,
      atRisk: str({ description: 'The rule that makes a certificate at risk, in words.' }),
      weeks: arr(obj({ start: time, expiring: int(0), planned: int(0), atRisk: int(0), tracked: orNull(int(0)) })),
    }),
  }),
  AuditRecord: obj({
    id: int(),
    at: time,
    actor: obj({ kind: oneOfEnum(['user', 'token', 'api-key', 'anonymous', 'cli', 'system']), id: orNull(str()), name: str() }, ['kind', 'name']),
    action: str({ examples: ['certificate.create'] }),
    object: orNull(obj({ kind: orNull(str()), name: orNull(str()) })),
    clientIp: orNull(str()),
    outcome: oneOfEnum(AUDIT_OUTCOMES),
    count: int(1, undefined, { description: 'How many times: 1, or the downloads an aggregated record stands for (from `at` to `lastAt`).' }),
    lastAt: orNull(time),
    detail: { description: 'What else the record says (JSON), or null.' },
    sealed: bool({ description: 'Whether the record is in the hash chain yet.' }),
    seq: orNull(int()),
  }),
  NotificationChannel: obj(
    {
      name: str(),
      type: oneOfEnum(CHANNEL_TYPES),
      events: arr(oneOfEnum(Object.keys(EVENT_TYPES))),
      expiringDays: arr(oneOfEnum(EXPIRY_THRESHOLDS)),
      to: arr(str(), { description: 'email' }),
      url: str({ description: 'The receiver; a chat webhook\u2019s URL masked (it is its credential).' }),
      secret: oneOfEnum(['set'], { description: 'webhook: the HMAC key is set (never shown).' }),
      token: orNull(oneOfEnum(['set'], { description: 'ntfy: whether an access token is set.' })),
      createdAt: time,
      updatedAt: time,
    },
    ['name', 'type', 'events', 'expiringDays', 'createdAt', 'updatedAt'],
  ),
  Delivery: obj({
    id: int(),
    event: oneOfEnum(Object.keys(EVENT_TYPES)),
    eventId: int(),
    subject: orNull(str()),
    about: orNull(obj({ kind: str(), name: str() })),
    link: orNull(str()),
    channel: str(),
    channelType: oneOfEnum(CHANNEL_TYPES),
    state: oneOfEnum(DELIVERY_STATES),
    attempts: int(0),
    lastError: orNull(str()),
    nextAttemptAt: orNull(time),
    createdAt: time,
    sentAt: orNull(time),
  }),
  TrackingItem: obj(
    {
      id: str(),
      source: oneOfEnum(TRACKING_SOURCES),
      target: str({ description: 'url: `host:port` as tracked.' }),
      subject: orNull(str()),
      sans: arr(str()),
      issuer: orNull(str()),
      serial: orNull(str()),
      sha256: orNull(str()),
      notBefore: orNull(time),
      notAfter: orNull(time),
      daysLeft: orNull(int()),
      chainValid: orNull(bool()),
      nameMatches: orNull(bool()),
      lastScanAt: orNull(time),
      lastError: orNull(str()),
      changedAt: orNull(time),
      history: arr(obj({ sha256: str(), seenAt: time })),
      starttls: orNull(oneOfEnum(STARTTLS_PROTOCOLS)),
      certificate: orNull(str({ description: 'The certificate Certkeep serves that presents this one, if any.' })),
    },
    ['id', 'source', 'subject', 'sans', 'issuer', 'serial', 'sha256', 'notBefore', 'notAfter', 'daysLeft', 'chainValid', 'nameMatches', 'lastScanAt', 'lastError', 'changedAt', 'history', 'starttls', 'certificate'],
  ),
  Backup: obj({ name: str(), createdAt: time, bytes: int(0) }),
};

// ---- request bodies ------------------------------------------------------------------------------

const certificateSubject = body(
  { CN: str({ maxLength: 64 }), O: str({ maxLength: 64 }), OU: str({ maxLength: 64 }), C: str({ pattern: '^[A-Z]{2}$' }), ST: str({ maxLength: 64 }), L: str({ maxLength: 64 }) },
  [],
  { description: 'Subject fields of the CSR, where the CA honours them.' },
);

const scriptCommand = body({ command: str({ maxLength: 4096 }), args: arr(str({ maxLength: 4096 }), { maxItems: 100 }) }, ['command']);
const dnsProviderBodies: Record<string, Schema> = {
  script: body(
    {
      name: name(),
      type: { const: 'script' },
      set: scriptCommand,
      clear: scriptCommand,
      env: { type: 'object', additionalProperties: str(), description: 'Environment of the commands (values are never shown again).' },
      timeoutSeconds: int(1, MAX_SCRIPT_TIMEOUT_SECONDS),
    },
    ['name', 'type', 'set', 'clear'],
    { description: 'Node host only. Arguments take `{{FullRecord}} {{Record}} {{Subject}} {{Domain}} {{Value}}`.' },
  ),
  webhook: body({ name: name(), type: { const: 'webhook' }, url: str({ format: 'uri', maxLength: 2048 }), secret: str({ maxLength: 1024 }) }, ['name', 'type', 'url', 'secret']),
  'acme-dns': body({ name: name(), type: { const: 'acme-dns' }, url: str({ format: 'uri', maxLength: 2048 }), allowFrom: arr(str({ description: 'CIDR' })) }, ['name', 'type', 'url']),
  rfc2136: body(
    {
      name: name(),
      type: { const: 'rfc2136' },
      server: str({ maxLength: 300, description: '`host:port` of the primary' }),
      zone: str({ maxLength: 253 }),
      tsig: body({ name: str({ maxLength: 253 }), algorithm: str({ maxLength: 32, default: 'hmac-sha256' }), secret: str({ maxLength: 1024 }) }, ['name', 'secret']),
      ttl: int(1, 86_400, { default: 60 }),
    },
    ['name', 'type', 'server', 'tsig'],
    { description: 'Node host only.' },
  ),
  cloudflare: body(
    { name: name(), type: { const: 'cloudflare' }, apiToken: str({ maxLength: 1024 }), zoneId: str({ pattern: '^[0-9a-f]{32}$' }), apiBase: str({ format: 'uri', maxLength: 2048 }) },
    ['name', 'type', 'apiToken'],
  ),
};

const eventList = arr(oneOfEnum(Object.keys(EVENT_TYPES)), { minItems: 1, description: 'The events the channel hears; by default all but `certificate.renewed`.' });
const expiringDays = arr(oneOfEnum(EXPIRY_THRESHOLDS), { minItems: 1, description: 'Which `*.expiring` thresholds (days left) it hears.' });
const channelUrl = str({ format: 'uri', maxLength: 2048 });
const channelFields: Record<string, Record<string, Schema>> = {
  email: { to: arr(str({ format: 'email' }), { minItems: 1, maxItems: 50 }) },
  slack: { url: channelUrl },
  teams: { url: channelUrl },
  discord: { url: channelUrl },
  ntfy: { url: channelUrl, token: orNull(str({ maxLength: 1024 })) },
  webhook: { url: channelUrl, secret: str({ minLength: 16, maxLength: 1024 }) },
};
const channelRequired: Record<string, string[]> = { email: ['to'], slack: ['url'], teams: ['url'], discord: ['url'], ntfy: ['url'], webhook: ['url', 'secret'] };
const channelCreateBodies = Object.fromEntries(
  CHANNEL_TYPES.map((t) => [
    t,
    body({ name: name(), type: { const: t }, ...channelFields[t], events: eventList, expiringDays }, ['name', 'type', ...channelRequired[t]], t === 'email' ? { description: 'Node host with CERTKEEP_SMTP_URL only.' } : {}),
  ]),
);
const channelEditBodies = Object.fromEntries(
  CHANNEL_TYPES.map((t) => [t, body({ ...channelFields[t], events: eventList, expiringDays }, [], { title: `${t} channel` })]),
);

// ---- the document --------------------------------------------------------------------------------

const nameParam = (what: string) => pathParam('name', `The ${what}\u2019s name.`);
const slotParam = pathParam('slot', 'Which of the two API keys.', oneOfEnum(['1', '2']));
const idParam = pathParam('id', 'The tracked item\u2019s id.');

const DOWNLOAD_NOTE =
  'Parameters may come from the query string or from a form body (`application/x-www-form-urlencoded` or `multipart/form-data`, on a GET too), their names in any case; the path matches in any case, as Certera\u2019s did.';

const downloadParam = (n: string, description: string, schema: Schema) => query(n, description, schema);
const certificateDownloadParams = [
  pathParam('name', 'The certificate\u2019s name, or its subject (primary domain).'),
  downloadParam('format', 'pem: leaf then chain; pfx: base64 of a PKCS#12 with the key (needs pfxPassword); der: base64 of the leaf.', oneOfEnum(['pem', 'pfx', 'der'], { default: 'pem' })),
  downloadParam('chain', 'PEM only: include the chain.', oneOfEnum(['true', 'false'], { default: 'true' })),
  downloadParam('staging', 'When given, must match the certificate\u2019s account (404 otherwise).', oneOfEnum(['true', 'false'])),
  downloadParam('pfxPassword', 'Required for format=pfx; not only whitespace.', str()),
];
const keyDownloadParams = [pathParam('name', 'The key\u2019s name.'), downloadParam('format', 'pem: PKCS#8 PEM; der: base64 of the PKCS#8.', oneOfEnum(['pem', 'der'], { default: 'pem' }))];
const downloadForm = (params: Param[]) => ({
  required: false,
  description: `The same parameters as a form (at most ${MAX_FORM_BYTES} bytes).`,
  content: Object.fromEntries(
    ['application/x-www-form-urlencoded', 'multipart/form-data'].map((type) => [
      type,
      { schema: body(Object.fromEntries(params.filter((p) => p.in === 'query').map((p) => [p.name, str()]))) },
    ]),
  ),
});
const downloadOk = (what: string) => ({
  description: `The ${what}, as text (\`curl … > file\` works). Every 200 carries an ETag.`,
  headers: { ETag: { schema: str() } },
  content: { 'text/plain; charset=utf-8': { schema: str() } },
});
const notModified = { description: 'Not modified: `If-None-Match` named the current ETag.', headers: { ETag: { schema: str() } } };

function downloadOp(id: string, summary: string, params: Param[], what: string, method: 'get' | 'post'): Op {
  const o = op({
    id: `${id}${method === 'post' ? 'ByPost' : ''}`,
    summary,
    description: DOWNLOAD_NOTE,
    tag: 'Download API',
    params: [...params, { name: 'If-None-Match', in: 'header', schema: str() }],
    ok: { 200: downloadOk(what), 304: notModified },
    problems: [400, 401, 403, 404, 413, 429],
    zone: 'download',
  });
  return { ...o, requestBody: downloadForm(params) };
}

const paths: Record<string, Record<string, Op>> = {
  // ---- open ----
  '/healthz': {
    get: op({
      id: 'healthz',
      summary: 'Health: whether the database answers',
      tag: 'Operations',
      zone: 'open',
      ok: { 200: json(obj({ status: { const: 'ok' } }), 'The database answers.'), 503: json(obj({ status: { const: 'unavailable' } }), 'The database does not answer.') },
    }),
  },
  '/metrics': {
    get: op({
      id: 'metrics',
      summary: 'Prometheus metrics',
      description: 'Without an Authorization header: for addresses on the admin allow-list. From anywhere with the metrics token (`Authorization: Bearer ckm_…`); an admin token does not open it. Any other method is 405.',
      tag: 'Operations',
      zone: 'metrics',
      ok: { 200: { description: 'The text exposition format.', content: { [EXPOSITION_CONTENT_TYPE]: { schema: str() } } } },
      problems: [401, 403, 429],
    }),
  },
  '/agent/certkeep-agent.sh': {
    get: op({
      id: 'agentScript',
      summary: 'The consumer agent (POSIX sh)',
      description: 'Public; revalidated with its ETag (its SHA-256, as the certificate page shows it) and a `Repr-Digest`.',
      tag: 'Agent',
      zone: 'open',
      params: [{ name: 'If-None-Match', in: 'header', schema: str() }],
      ok: { 200: { description: 'The script.', headers: { ETag: { schema: str() }, 'Repr-Digest': { schema: str() } }, content: { 'text/plain; charset=utf-8': { schema: str() } } }, 304: notModified },
    }),
    head: op({ id: 'agentScriptHead', summary: 'The agent\u2019s headers (ETag, Repr-Digest)', tag: 'Agent', zone: 'open', ok: { 200: { description: 'The headers of the GET, no body.' }, 304: notModified } }),
  },
  '/api/test': {
    get: op({ id: 'certeraTest', summary: 'Certera\u2019s connectivity check', description: 'Always 200 with no body; the path matches in any case.', tag: 'Download API', zone: 'open', ok: { 200: { description: 'Reachable.' } } }),
  },
  // ---- download API ----
  '/api/certificate/{name}': {
    get: downloadOp('downloadCertificate', 'Download a certificate', certificateDownloadParams, 'certificate', 'get'),
    post: downloadOp('downloadCertificate', 'Download a certificate (parameters as a form)', certificateDownloadParams, 'certificate', 'post'),
  },
  '/api/key/{name}': {
    get: downloadOp('downloadKey', 'Download a private key', keyDownloadParams, 'key', 'get'),
    post: downloadOp('downloadKey', 'Download a private key (parameters as a form)', keyDownloadParams, 'key', 'post'),
  },
  '/api/agent/report': {
    post: op({
      id: 'agentReport',
      summary: 'The agent\u2019s report after a run',
      description: `Authenticated by one of the certificate\u2019s API keys. At most ${MAX_REPORT_BYTES} bytes. The consumers list then carries what it says.`,
      tag: 'Agent',
      zone: 'download',
      body: body(
        {
          certificate: str({ maxLength: 64 }),
          serial: str({ maxLength: 100, description: 'The installed certificate\u2019s serial, in hex.' }),
          installed: bool(),
          reload: oneOfEnum(RELOAD_OUTCOMES),
          verified: orNull(bool()),
          host: str({ maxLength: 253, pattern: '^[\\x21-\\x7e]+$' }),
          agentVersion: str({ maxLength: 32, pattern: '^[0-9A-Za-z.+-]+$' }),
        },
        ['certificate', 'serial', 'installed', 'reload'],
      ),
      ok: { 204: noContent },
      problems: [400, 401, 403, 404, 415, 429],
    }),
  },
  // ---- admin API ----
  '/api/v1/setup': {
    post: op({
      id: 'setup',
      summary: 'First setup: the administrator and the default ACME account',
      description: 'Only before setup (afterwards 409), from an allowed admin address. On the Worker also the `Setup-Token` header (the SETUP_TOKEN secret). Registers the ACME account named `default`.',
      tag: 'Setup',
      zone: 'setup',
      params: [{ name: 'Setup-Token', in: 'header', description: 'Worker only: the SETUP_TOKEN secret.', schema: str() }],
      body: body(
        {
          adminEmail: email,
          adminPassword: str({ minLength: 10, maxLength: 1024 }),
          acme: body(
            { directoryUrl: str({ maxLength: 2048, description: 'The CA\u2019s ACME directory URL.' }), email: email, termsOfServiceAgreed: { const: true }, eab },
            ['directoryUrl', 'termsOfServiceAgreed'],
          ),
          hostname: str({ maxLength: 253, description: 'Node host: the name the site certificate is requested for.' }),
        },
        ['adminEmail', 'adminPassword', 'acme'],
      ),
      ok: { 201: json(obj({ token: str({ description: 'A new admin API token, shown this once.' }) }), 'Set up.') },
      problems: [400, 401, 403, 409, 429, 502],
    }),
  },
  [OPENAPI_PATH]: {
    get: op({
      id: 'openapi',
      summary: 'This description',
      tag: 'Operations',
      params: [{ name: 'If-None-Match', in: 'header', schema: str() }],
      ok: { 200: { description: 'OpenAPI 3.1.', headers: { ETag: { schema: str() } }, content: { 'application/json': { schema: { type: 'object' } } } }, 304: notModified },
    }),
  },
  '/api/v1/tokens': {
    post: op({
      id: 'createToken',
      summary: 'Create an admin API token',
      tag: 'Tokens',
      body: body({ name: str({ maxLength: 64, default: 'api' }) }),
      ok: { 201: json(obj({ name: str(), token: str({ description: 'Shown this once.' }) }), 'Created.') },
    }),
  },
  '/api/v1/metrics-token': {
    get: op({ id: 'getMetricsToken', summary: 'Whether there is a metrics token', tag: 'Tokens', ok: { 200: json(obj({ exists: bool(), createdAt: orNull(time) }), 'Its state.') } }),
    post: op({
      id: 'createMetricsToken',
      summary: 'Create the metrics token (the one before it stops working)',
      tag: 'Tokens',
      body: body({}, [], { description: 'Empty, or no body.' }),
      ok: { 201: json(obj({ token: str({ description: '`ckm_…`, shown this once.' }) }), 'Created.') },
    }),
    delete: op({ id: 'deleteMetricsToken', summary: 'Remove the metrics token', tag: 'Tokens', ok: { 204: noContent }, problems: [404] }),
  },
  '/api/v1/accounts': {
    get: op({ id: 'listAccounts', summary: 'ACME accounts', tag: 'ACME accounts', params: listParams({ q: true, sorts: NAME_SORTS }), ok: { 200: listOf('Account', 'A page of accounts.') }, problems: [400] }),
    post: op({
      id: 'createAccount',
      summary: 'Register (or import) an ACME account',
      tag: 'ACME accounts',
      body: body(
        {
          name: name(),
          directoryUrl: str({ maxLength: 2048 }),
          email,
          termsOfServiceAgreed: bool({ default: false }),
          staging: bool(),
          eab,
          keyType,
          keyPem: str({ maxLength: 16384, description: 'An existing account key (PEM) to import.' }),
          maxOrdersPerHour: int(1, MAX_ORDERS_PER_HOUR),
        },
        ['name', 'directoryUrl'],
      ),
      ok: { 201: json(ref('Account'), 'Registered.') },
      problems: [409, 502],
    }),
  },
  '/api/v1/accounts/{name}': {
    get: op({ id: 'getAccount', summary: 'An ACME account', tag: 'ACME accounts', params: [nameParam('account')], ok: { 200: json(ref('Account'), 'The account.') }, problems: [404] }),
    patch: op({
      id: 'editAccount',
      summary: 'Pace the account\u2019s new orders',
      tag: 'ACME accounts',
      params: [nameParam('account')],
      body: body({ maxOrdersPerHour: orNull(int(1, MAX_ORDERS_PER_HOUR)) }),
      ok: { 200: json(ref('Account'), 'The account.') },
      problems: [404],
    }),
    delete: op({ id: 'deleteAccount', summary: 'Delete an ACME account', tag: 'ACME accounts', params: [nameParam('account')], ok: { 204: noContent }, problems: [404, 409] }),
  },
  '/api/v1/accounts/{name}/key-rollover': {
    post: op({
      id: 'rolloverAccountKey',
      summary: 'Roll the account key over (RFC 8555 §7.3.5)',
      tag: 'ACME accounts',
      params: [nameParam('account')],
      body: body({ keyType }),
      ok: { 200: json(ref('Account'), 'The account with its new key.') },
      problems: [404, 409, 502],
    }),
  },
  '/api/v1/accounts/{name}/deactivate': {
    post: op({ id: 'deactivateAccount', summary: 'Deactivate the account at the CA', tag: 'ACME accounts', params: [nameParam('account')], ok: { 200: json(ref('Account'), 'Deactivated.') }, problems: [404, 409, 502] }),
  },
  '/api/v1/keys': {
    get: op({ id: 'listKeys', summary: 'Private keys', tag: 'Keys', params: listParams({ q: true, sorts: NAME_SORTS }), ok: { 200: listOf('Key', 'A page of keys.') }, problems: [400] }),
    post: op({
      id: 'createKey',
      summary: 'Generate (`type`) or import (`pem`) a key',
      tag: 'Keys',
      body: body({ name: name(), type: { ...keyType, default: 'ec-p256' }, pem: str({ maxLength: 65536 }) }, ['name'], { description: 'Either `type` or `pem`, not both.' }),
      ok: { 201: json(ref('CreatedKey'), 'Created, with its two API keys (shown this once).') },
      problems: [409],
    }),
  },
  '/api/v1/keys/{name}': {
    get: op({ id: 'getKey', summary: 'A key', tag: 'Keys', params: [nameParam('key')], ok: { 200: json(ref('Key'), 'The key (never its private part).') }, problems: [404] }),
    delete: op({ id: 'deleteKey', summary: 'Delete a key', tag: 'Keys', params: [nameParam('key')], ok: { 204: noContent }, problems: [404, 409] }),
  },
  '/api/v1/keys/{name}/api-keys/{slot}': {
    post: op({ id: 'rotateKeyApiKey', summary: 'Rotate one of the key\u2019s API keys', tag: 'Keys', params: [nameParam('key'), slotParam], ok: { 200: json(ref('ApiKey'), 'The new API key.') }, problems: [400, 404] }),
  },
  '/api/v1/settings': {
    get: op({ id: 'getSettings', summary: 'Runtime settings', tag: 'Settings', ok: { 200: json(ref('Settings'), 'The settings.') } }),
    put: op({
      id: 'updateSettings',
      summary: 'Change settings (what is left out stays)',
      tag: 'Settings',
      body: body({
        renewDays: orNull(int(RENEW_DAYS_MIN, RENEW_DAYS_MAX, { description: 'Renew this many days before expiry; null: a third of the lifetime, or the CA\u2019s ARI window.' })),
        hostname: str({ maxLength: 253, description: 'Node host: the name this server is reached by; the site certificate is made for it.' }),
        auditRetentionDays: int(AUDIT_RETENTION.min, AUDIT_RETENTION.max),
        scanHours: int(SCAN_HOURS_MIN, SCAN_HOURS_MAX),
        staleHours: orNull(int(STALE_HOURS_MIN, STALE_HOURS_MAX)),
      }),
      ok: { 200: json(ref('Settings'), 'The settings now.') },
      problems: [409],
    }),
  },
  '/api/v1/dns-providers': {
    get: op({ id: 'listDnsProviders', summary: 'DNS providers (dns-01)', tag: 'DNS providers', params: listParams({ q: true, sorts: NAME_SORTS }), ok: { 200: listOf('DnsProvider', 'A page of providers.') }, problems: [400] }),
    post: op({
      id: 'createDnsProvider',
      summary: 'Add a DNS provider',
      tag: 'DNS providers',
      body: { oneOf: DNS_PROVIDER_TYPES.map((t) => ref(`DnsProvider_${t}`)), discriminator: { propertyName: 'type', mapping: Object.fromEntries(DNS_PROVIDER_TYPES.map((t) => [t, `#/components/schemas/DnsProvider_${t}`])) } },
      ok: { 201: json(ref('DnsProvider'), 'Added.') },
      problems: [409, 502],
    }),
  },
  '/api/v1/dns-providers/{name}': {
    get: op({ id: 'getDnsProvider', summary: 'A DNS provider', tag: 'DNS providers', params: [nameParam('provider')], ok: { 200: json(ref('DnsProvider'), 'The provider.') }, problems: [404] }),
    delete: op({ id: 'deleteDnsProvider', summary: 'Delete a DNS provider', tag: 'DNS providers', params: [nameParam('provider')], ok: { 204: noContent }, problems: [404, 409] }),
  },
  '/api/v1/certificates': {
    get: op({
      id: 'listCertificates',
      summary: 'Certificates',
      tag: 'Certificates',
      params: [
        ...listParams({ q: true, sorts: CERTIFICATE_SORTS, status: { values: CERTIFICATE_FILTERS, several: true } }),
        query('days', '`status=expiring`: within this many days.', int(1, MAX_EXPIRING_DAYS, { default: 30 })),
      ],
      ok: { 200: listOf('Certificate', 'A page of certificates.') },
      problems: [400],
    }),
    post: op({
      id: 'createCertificate',
      summary: 'Add a certificate (its first order starts at once)',
      description: 'With no `key`, a new key of `keyType` (default ec-p256) named after the certificate is made.',
      tag: 'Certificates',
      body: body(
        {
          name: name(),
          domains: arr(str(), { minItems: 1 }),
          challenge: oneOfEnum(['http-01', 'dns-01'], { default: 'http-01' }),
          account: str({ maxLength: 64, default: 'default' }),
          key: str({ maxLength: 64, description: 'An existing key.' }),
          keyType,
          dnsProvider: str({ maxLength: 64, description: 'dns-01: the provider.' }),
          preferredChain: str({ maxLength: 256 }),
          profile: str({ maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'An ACME profile the CA offers.' }),
          subject: certificateSubject,
        },
        ['name', 'domains'],
      ),
      ok: { 201: json(ref('CreatedCertificate'), 'Created, with its two API keys (and its new key\u2019s) shown this once.') },
      problems: [409, 502],
    }),
  },
  '/api/v1/certificates/{name}': {
    get: op({ id: 'getCertificate', summary: 'A certificate', tag: 'Certificates', params: [nameParam('certificate')], ok: { 200: json(ref('Certificate'), 'The certificate.') }, problems: [404] }),
    patch: op({
      id: 'editCertificate',
      summary: 'Change names, challenge, DNS provider or preferred chain',
      tag: 'Certificates',
      params: [nameParam('certificate')],
      body: body({ domains: arr(str(), { minItems: 1 }), challenge: oneOfEnum(['http-01', 'dns-01']), dnsProvider: orNull(str({ maxLength: 64 })), preferredChain: orNull(str({ maxLength: 256 })) }),
      ok: { 200: json(ref('EditedCertificate'), 'The certificate.') },
      problems: [404, 409, 502],
    }),
    delete: op({ id: 'deleteCertificate', summary: 'Delete a certificate and its history', tag: 'Certificates', params: [nameParam('certificate')], ok: { 204: noContent }, problems: [404, 409] }),
  },
  '/api/v1/certificates/{name}/issue': {
    post: op({
      id: 'issueCertificate',
      summary: 'Start an order now (clears any back-off)',
      tag: 'Certificates',
      params: [nameParam('certificate'), waitParam('the order')],
      ok: { 200: json(ref('Certificate'), '`wait=true`: the order ended well.'), 202: json(obj({ name: str(), status: { const: 'pending' } }), 'Started.') },
      problems: [404, 409, 429, 502],
    }),
  },
  '/api/v1/certificates/{name}/orders': {
    get: op({ id: 'certificateOrders', summary: 'Issuance history, newest first', tag: 'Certificates', params: [nameParam('certificate'), ...listParams({ sorts: ORDER_SORTS })], ok: { 200: listOf('Order', 'A page of orders.') }, problems: [400, 404] }),
  },
  '/api/v1/certificates/{name}/consumers': {
    get: op({ id: 'certificateConsumers', summary: 'Who fetches this certificate', tag: 'Consumers', params: [nameParam('certificate'), P('limit'), P('cursor')], ok: { 200: listOf('Consumer', 'A page of consumers.') }, problems: [400, 404] }),
  },
  '/api/v1/certificates/{name}/revoke': {
    post: op({
      id: 'revokeCertificate',
      summary: 'Revoke the certificate at the CA',
      tag: 'Certificates',
      params: [nameParam('certificate')],
      body: body({ reason: int(0, 10, { not: { const: 7 }, default: 0, description: 'RFC 5280 §5.3.1 CRLReason (7 is not used).' }) }),
      ok: { 200: json(ref('Certificate'), 'Revoked.') },
      problems: [404, 409, 502],
    }),
  },
  '/api/v1/certificates/{name}/revocation-status': {
    get: op({ id: 'certificateRevocationStatus', summary: 'The served certificate\u2019s revocation status (CRL or OCSP)', tag: 'Certificates', params: [nameParam('certificate')], ok: { 200: json(ref('RevocationStatus'), 'What the CA says.') }, problems: [404] }),
  },
  '/api/v1/certificates/{name}/api-keys/{slot}': {
    post: op({ id: 'rotateCertificateApiKey', summary: 'Rotate one of the certificate\u2019s API keys', tag: 'Certificates', params: [nameParam('certificate'), slotParam], ok: { 200: json(ref('ApiKey'), 'The new API key.') }, problems: [400, 404] }),
  },
  '/api/v1/certificates/{name}/key': {
    post: op({
      id: 'rotateCertificateKey',
      summary: 'Move the certificate to another key (used from its next order)',
      tag: 'Certificates',
      params: [nameParam('certificate')],
      body: body({ key: str({ maxLength: 64, description: 'An existing key.' }), keyType, keyName: name({ description: 'The new key\u2019s name.' }) }, [], { description: '`{"key"}` or `{"keyType","keyName"?}`.' }),
      ok: { 200: json(obj({ name: str(), key: obj({ name: str(), type: keyType, apiKeys: apiKeyPair }, ['name']) }), 'The certificate\u2019s key now; a new key\u2019s API keys shown this once.') },
      problems: [404, 409],
    }),
  },
  '/api/v1/consumers': {
    get: op({
      id: 'listConsumers',
      summary: 'Every certificate\u2019s consumers',
      tag: 'Consumers',
      params: listParams({ sorts: ['default'], status: { values: CONSUMER_FILTERS, several: false } }),
      ok: { 200: listOf('ConsumerOfCertificate', 'A page of consumers.') },
      problems: [400],
    }),
  },
  '/api/v1/dashboard': {
    get: op({ id: 'dashboard', summary: 'What needs attention, and the expiry timeline', tag: 'Operations', ok: { 200: json(ref('Dashboard'), 'The dashboard\u2019s figures.') } }),
  },
  '/api/v1/audit': {
    get: op({
      id: 'listAudit',
      summary: 'The audit log, newest first',
      tag: 'Audit',
      params: [
        P('limit'),
        P('cursor'),
        query('sort', 'Newest first.', oneOfEnum(['-at'])),
        ...AUDIT_FILTERS.map((f) =>
          f === 'outcome'
            ? query(f, 'Only records with this outcome.', oneOfEnum(AUDIT_OUTCOMES))
            : f === 'since' || f === 'until'
              ? query(f, f === 'since' ? 'From this time on (a date, or date and time; UTC unless a zone is given).' : 'Before this time.', str({ examples: ['2026-05-01', '2026-05-01T12:00Z'] }))
              : query(f, { actor: 'Who (a user\u2019s email, a token\u2019s name, …).', action: 'What, e.g. certificate.create.', object: 'Which object, by name.' }[f] ?? f, str()),
        ),
        query('format', '`jsonl`: every record the filters select, as JSON lines (a download).', oneOfEnum(['json', 'jsonl'], { default: 'json' })),
      ],
      ok: {
        200: {
          description: 'A page of records; or with `format=jsonl`, all of them as JSON lines.',
          content: { 'application/json': { schema: obj({ items: arr(ref('AuditRecord')), next: orNull(str()) }) }, 'application/jsonl': { schema: str() } },
        },
      },
      problems: [400],
    }),
  },
  '/api/v1/notification-channels': {
    get: op({ id: 'listChannels', summary: 'Notification channels', tag: 'Notifications', params: listParams({ q: true, sorts: NAME_SORTS }), ok: { 200: listOf('NotificationChannel', 'A page of channels.') }, problems: [400] }),
    post: op({
      id: 'createChannel',
      summary: 'Add a notification channel',
      tag: 'Notifications',
      body: { oneOf: CHANNEL_TYPES.map((t) => ref(`NotificationChannel_${t}`)), discriminator: { propertyName: 'type', mapping: Object.fromEntries(CHANNEL_TYPES.map((t) => [t, `#/components/schemas/NotificationChannel_${t}`])) } },
      ok: { 201: json(ref('NotificationChannel'), 'Added.') },
      problems: [409],
    }),
  },
  '/api/v1/notification-channels/{name}': {
    get: op({ id: 'getChannel', summary: 'A notification channel', tag: 'Notifications', params: [nameParam('channel')], ok: { 200: json(ref('NotificationChannel'), 'The channel (secrets as "set").') }, problems: [404] }),
    patch: op({
      id: 'editChannel',
      summary: 'Change a channel (what is left out stays; `token: null` removes an ntfy token)',
      description: 'The fields of the channel\u2019s own type; a channel keeps its name and type.',
      tag: 'Notifications',
      params: [nameParam('channel')],
      body: { oneOf: CHANNEL_TYPES.map((t) => ref(`NotificationChannelEdit_${t}`)) },
      ok: { 200: json(ref('NotificationChannel'), 'The channel.') },
      problems: [404],
    }),
    delete: op({ id: 'deleteChannel', summary: 'Remove a channel (its pending deliveries fail)', tag: 'Notifications', params: [nameParam('channel')], ok: { 204: noContent }, problems: [404] }),
  },
  '/api/v1/notification-channels/{name}/test': {
    post: op({
      id: 'testChannel',
      summary: 'Send a test message now',
      tag: 'Notifications',
      params: [nameParam('channel')],
      ok: { 200: json(obj({ channel: str(), sent: { const: true }, detail: str() }), 'The receiver took it.') },
      problems: [404, 502],
    }),
  },
  '/api/v1/notifications': {
    get: op({
      id: 'listNotifications',
      summary: 'The delivery log, newest first',
      tag: 'Notifications',
      params: [
        ...listParams({ sorts: DELIVERY_SORTS }),
        query('state', 'Only deliveries in this state.', oneOfEnum(DELIVERY_STATES)),
        query('status', 'The same as `state` (not both).', oneOfEnum(DELIVERY_STATES)),
        query('channel', 'Only this channel\u2019s.', str({ maxLength: 64 })),
        query('event', 'Only this event type\u2019s.', oneOfEnum(Object.keys(EVENT_TYPES))),
      ],
      ok: { 200: listOf('Delivery', 'A page of deliveries.') },
      problems: [400],
    }),
  },
  '/api/v1/tracking': {
    get: op({
      id: 'listTracking',
      summary: 'Tracked certificates (URLs, uploads, issued)',
      tag: 'Tracking',
      params: [
        ...listParams({ q: true, sorts: TRACKING_SORTS, status: { values: TRACKING_FILTERS, several: true } }),
        query('days', '`status=expiring`: within this many days.', int(1, 3650, { default: 30 })),
        query('source', 'Only these sources (several separated by commas).', str({ description: `comma-separated: ${TRACKING_SOURCES.join(', ')}` })),
      ],
      ok: { 200: listOf('TrackingItem', 'A page of tracked items.') },
      problems: [400],
    }),
    post: op({
      id: 'createTracking',
      summary: 'Track a server (`url`, node host) or upload certificates (`pem`)',
      tag: 'Tracking',
      body: body(
        {
          url: str({ description: '`[https://]host[:port]`' }),
          starttls: oneOfEnum(STARTTLS_PROTOCOLS, { description: 'With `url` only.' }),
          pem: str({ maxLength: 256 * 1024, description: 'PEM (or DER as base64); several certificates allowed.' }),
        },
        [],
        { description: 'Either `url` (with `starttls`?) or `pem`.' },
      ),
      ok: { 201: json({ oneOf: [ref('TrackingItem'), obj({ items: arr(ref('TrackingItem')) })] }, 'A url: the item (scanned in the background). A pem: `{"items"}`, one per certificate.') },
      problems: [409],
    }),
  },
  '/api/v1/tracking/{id}': {
    get: op({ id: 'getTracking', summary: 'A tracked item with its history', tag: 'Tracking', params: [idParam], ok: { 200: json(ref('TrackingItem'), 'The item.') }, problems: [404] }),
    delete: op({ id: 'deleteTracking', summary: 'Stop tracking', tag: 'Tracking', params: [idParam], ok: { 204: noContent }, problems: [404, 409] }),
  },
  '/api/v1/tracking/{id}/scan': {
    post: op({
      id: 'scanTracking',
      summary: 'Scan a tracked URL now (node host)',
      tag: 'Tracking',
      params: [idParam, waitParam('the scan')],
      ok: { 200: json(ref('TrackingItem'), '`wait=true`: the item after the scan.'), 202: json(obj({ id: str(), status: { const: 'scanning' } }), 'Started.') },
      problems: [404, 409],
    }),
  },
  '/api/v1/backups': {
    get: op({ id: 'listBackups', summary: 'Scheduled backups, newest first (node host)', tag: 'Backups', params: [P('limit'), P('cursor')], ok: { 200: listOf('Backup', 'A page of backups.') }, problems: [400, 501] }),
  },
  '/api/v1/backups/{name}': {
    get: op({
      id: 'downloadBackup',
      summary: 'Download a backup (node host)',
      tag: 'Backups',
      params: [pathParam('name', 'The backup\u2019s file name.')],
      ok: { 200: { description: 'The backup file.', content: { 'application/octet-stream': { schema: str({ contentMediaType: 'application/octet-stream' }) } } } },
      problems: [404, 501],
    }),
  },
};

const components = {
  securitySchemes: {
    adminToken: { type: 'http', scheme: 'bearer', description: 'An admin API token (`ckt_…`): `certkeep setup`, `certkeep token create`, or POST /api/v1/tokens.' },
    apiKey: { type: 'apiKey', in: 'header', name: 'apiKey', description: 'One of the certificate\u2019s or the key\u2019s two API keys (header name in any case).' },
    metricsToken: { type: 'http', scheme: 'bearer', description: 'The metrics token (`ckm_…`): opens /metrics and nothing else.' },
  },
  parameters: {
    limit: { name: 'limit', in: 'query', description: 'Items per page.', schema: int(1, MAX_LIMIT, { default: DEFAULT_LIMIT }) },
    cursor: { name: 'cursor', in: 'query', description: 'The `next` of the previous page.', schema: str() },
    q: { name: 'q', in: 'query', description: 'Part of the name (or of a domain).', schema: str({ maxLength: MAX_QUERY }) },
  },
  responses: Object.fromEntries(
    Object.entries(PROBLEMS).map(([status, [n, description]]) => [
      n,
      {
        description,
        ...(status === '429' ? { headers: { 'Retry-After': { schema: int(0) } } } : {}),
        content: { 'application/problem+json': { schema: ref('Problem') } },
      },
    ]),
  ),
  schemas: {
    ...schemas,
    ...Object.fromEntries(Object.entries(dnsProviderBodies).map(([t, s]) => [`DnsProvider_${t}`, s])),
    ...Object.fromEntries(Object.entries(channelCreateBodies).map(([t, s]) => [`NotificationChannel_${t}`, s])),
    ...Object.fromEntries(Object.entries(channelEditBodies).map(([t, s]) => [`NotificationChannelEdit_${t}`, s])),
  },
};

/** The document, with `servers` the origin it is served from. */
export function openApiDocument(origin: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Certkeep',
      version: '1',
      summary: 'ACME central validation server: admin API, Certera-compatible download API, agent report, metrics.',
      description:
        'Admin API (`/api/v1`): `Authorization: Bearer <admin token>`, behind CERTKEEP_ALLOW_ADMIN; request bodies are JSON (`Content-Type: application/json`), unknown fields are refused with a 400 naming them. Lists answer `{"items","next"}` and take `limit` (1–500, default 100) and `cursor`. Download API (`/api/certificate`, `/api/key`): header `apiKey`, behind CERTKEEP_ALLOW_API. Errors are `application/problem+json` (RFC 9457).',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: origin }],
    tags: ['Setup', 'Tokens', 'ACME accounts', 'Keys', 'Certificates', 'Consumers', 'DNS providers', 'Settings', 'Tracking', 'Notifications', 'Audit', 'Backups', 'Operations', 'Download API', 'Agent'].map((n) => ({ name: n })),
    paths,
    components,
  };
}

export type OpenApiDocument = ReturnType<typeof openApiDocument>;

/** GET /api/v1/openapi.json: the document for the origin it was asked at, with an ETag. */
export async function openApiEndpoint(request: Request, _ctx: HandlerContext): Promise<Response> {
  const origin = new URL(request.url).origin;
  const text = JSON.stringify(openApiDocument(origin));
  const etag = `"${toBase64Url((await sha256(utf8(text))).subarray(0, 18))}"`;
  const headers = { etag, 'cache-control': 'private, no-cache', vary: 'authorization' };
  const inm = request.headers.get('if-none-match');
  if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) return new Response(null, { status: 304, headers });
  return new Response(text, { headers: { ...headers, 'content-type': 'application/json' } });
}
