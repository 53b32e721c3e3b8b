// The Cloudflare provider. Cloudflare's API cannot run here, so these tests use a local
// stand-in of the four API v4 calls the driver makes, with Cloudflare's envelope
// ({"success","errors","messages","result"}), its error codes (10000 authentication, 81058
// identical record, 81044 no such record) and TXT content shown quoted, as the API returns it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { cloudflareDriver, describeCloudflareConfig, unquoteTxt, validateCloudflareConfig } from './cloudflare.ts';
import type { DnsProviderLog } from './types.ts';
import { loopbackOutbound } from '../../../test/harness/outbound.ts';

/** The node host's outgoing path, allowed to reach the test servers on 127.0.0.1. */
const outbound = loopbackOutbound();
const validateCloudflare = (input: unknown) => validateCloudflareConfig(input, outbound);

const TOKEN = 'cf-api-token-Zx9_0123456789abcdefghij';
const VALUE_1 = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
const VALUE_2 = '9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI';
const ZONE_ID = '023e105f4ecef8ad9ca31a8372d0c353';
const SUB_ZONE_ID = '372e67954025e0ba6aaa6d586b9e0b59';

interface StoredRecord {
  id: string;
  zone_id: string;
  type: string;
  name: string;
  content: string;
  ttl: number;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function cloudflareStandIn(zones: { id: string; name: string }[] = [{ id: ZONE_ID, name: 'example.com' }]) {
  const records: StoredRecord[] = [];
  const requests: { method: string; path: string; body?: unknown }[] = [];
  let nextId = 1;
  /** When set, the next request is answered with this instead. */
  let override: { status: number; body: string } | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const path = url.pathname.replace(/^\/client\/v4/, '');
      requests.push({ method: req.method ?? '', path: path + url.search, ...(raw ? { body: JSON.parse(raw) } : {}) });
      const send = (status: number, result: unknown, errors: { code: number; message: string }[] = []) =>
        res
          .writeHead(status, { 'content-type': 'application/json' })
          .end(JSON.stringify({ success: errors.length === 0, errors, messages: [], result }));
      if (override) {
        const { status, body } = override;
        override = undefined;
        return res.writeHead(status, { 'content-type': 'text/html' }).end(body);
      }
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(403, null, [{ code: 10000, message: 'Authentication error' }]);

      let m: RegExpExecArray | null;
      if (req.method === 'GET' && path === '/zones') {
        return send(200, zones.filter((z) => z.name === url.searchParams.get('name')).map((z) => ({ ...z, status: 'active' })));
      }
      if ((m = /^\/zones\/([^/]+)\/dns_records$/.exec(path))) {
        const zone = zones.find((z) => z.id === m![1]);
        if (!zone) return send(404, null, [{ code: 7003, message: 'Could not route to /zones/x/dns_records, perhaps your object identifier is invalid?' }]);
        if (req.method === 'GET') {
          const type = url.searchParams.get('type');
          const name = url.searchParams.get('name');
          return send(200, records.filter((r) => r.zone_id === zone.id && (!type || r.type === type) && (!name || r.name === name)));
        }
        if (req.method === 'POST') {
          const body = JSON.parse(raw);
          const quoted = `"${body.content}"`;
          if (records.some((r) => r.zone_id === zone.id && r.name === body.name && r.content === quoted)) {
            return send(400, null, [{ code: 81058, message: 'An identical record already exists.' }]);
          }
          const record = { id: `rec${nextId++}`, zone_id: zone.id, type: body.type, name: body.name, content: quoted, ttl: body.ttl };
          records.push(record);
          return send(200, record);
        }
      }
      if (req.method === 'DELETE' && (m = /^\/zones\/([^/]+)\/dns_records\/([^/]+)$/.exec(path))) {
        const index = records.findIndex((r) => r.zone_id === m![1] && r.id === m![2]);
        if (index < 0) return send(404, null, [{ code: 81044, message: 'Record does not exist.' }]);
        const [gone] = records.splice(index, 1);
        return send(200, { id: gone.id });
      }
      send(404, null, [{ code: 7000, message: 'No route for that URI' }]);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const apiBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
  return {
    apiBase,
    records,
    requests,
    answerNextWith(status: number, body: string) {
      override = { status, body };
    },
  };
}

function logs() {
  const entries: DnsProviderLog[] = [];
  return { log: (e: DnsProviderLog) => entries.push(e), entries };
}

describe('validateCloudflareConfig', () => {
  it('accepts a token, an optional zone id and an optional API base', () => {
    expect(validateCloudflare({ apiToken: TOKEN })).toEqual({ apiToken: TOKEN });
    expect(validateCloudflare({ apiToken: TOKEN, zoneId: ZONE_ID, apiBase: 'http://127.0.0.1:9999/client/v4/' })).toEqual({
      apiToken: TOKEN,
      zoneId: ZONE_ID,
      apiBase: 'http://127.0.0.1:9999/client/v4',
    });
  });

  it.each([
    ['a missing token', {}, 'apiToken'],
    ['a token with a space', { apiToken: 'two words' }, 'apiToken'],
    ['a zone name instead of its id', { apiToken: TOKEN, zoneId: 'example.com' }, 'zoneId'],
    ['an http API base that is not loopback', { apiToken: TOKEN, apiBase: 'http://api.cloudflare.com/client/v4' }, 'apiBase'],
    ['an unknown field', { apiToken: TOKEN, email: 'a@example.com' }, 'email'],
  ])('refuses %s, naming the field', (_, input, field) => {
    expect(() => validateCloudflare(input)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST', details: { field } }));
  });

  it('describes the config without the token', () => {
    expect(describeCloudflareConfig({ apiToken: TOKEN })).toEqual({});
    expect(describeCloudflareConfig({ apiToken: TOKEN, zoneId: ZONE_ID })).toEqual({ zoneId: ZONE_ID });
    expect(JSON.stringify(describeCloudflareConfig({ apiToken: TOKEN, zoneId: ZONE_ID, apiBase: 'https://x.example' }))).not.toContain(TOKEN);
  });
});

describe('unquoteTxt', () => {
  it.each([
    ['"abc"', 'abc'],
    ['abc', 'abc'],
    ['"ab" "cd"', 'abcd'],
    ['"a\\"b\\\\c"', 'a"b\\c'],
    ['"a\\065"', 'aA'],
    ['"unbalanced', '"unbalanced'],
  ])('%s → %s', (content, text) => {
    expect(unquoteTxt(content)).toBe(text);
  });
});

describe('cloudflareDriver', () => {
  it('finds the zone by walking up from the name and creates the TXT record', async () => {
    const cf = await cloudflareStandIn();
    const { log, entries } = logs();
    await cloudflareDriver({ apiToken: TOKEN, apiBase: cf.apiBase }, outbound).set(
      { fqdn: '_acme-challenge.a.b.example.com', name: 'a.b.example.com', value: VALUE_1 },
      log,
    );
    expect(cf.requests).toEqual([
      { method: 'GET', path: '/zones?name=a.b.example.com' },
      { method: 'GET', path: '/zones?name=b.example.com' },
      { method: 'GET', path: '/zones?name=example.com' },
      {
        method: 'POST',
        path: `/zones/${ZONE_ID}/dns_records`,
        body: { type: 'TXT', name: '_acme-challenge.a.b.example.com', content: VALUE_1, ttl: 60 },
      },
    ]);
    expect(cf.records).toHaveLength(1);
    expect(entries).toEqual([{ level: 'info', message: 'cloudflare: TXT _acme-challenge.a.b.example.com created in zone example.com' }]);
  });

  it('prefers the closest zone (a delegated subdomain zone)', async () => {
    const cf = await cloudflareStandIn([
      { id: ZONE_ID, name: 'example.com' },
      { id: SUB_ZONE_ID, name: 'b.example.com' },
    ]);
    await cloudflareDriver({ apiToken: TOKEN, apiBase: cf.apiBase }, outbound).set({ fqdn: '_acme-challenge.a.b.example.com', name: '*.a.b.example.com', value: VALUE_1 }, () => {});
    expect(cf.records.map((r) => r.zone_id)).toEqual([SUB_ZONE_ID]);
  });

  it('uses a configured zone id without looking the zone up', async () => {
    const cf = await cloudflareStandIn();
    await cloudflareDriver({ apiToken: TOKEN, apiBase: cf.apiBase, zoneId: ZONE_ID }, outbound).set({ fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_1 }, () => {});
    expect(cf.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`POST /zones/${ZONE_ID}/dns_records`]);
  });

  it('clears only the value it set: a wildcard and its base name share one record name', async () => {
    const cf = await cloudflareStandIn();
    const driver = cloudflareDriver({ apiToken: TOKEN, apiBase: cf.apiBase }, outbound);
    const wildcard = { fqdn: '_acme-challenge.example.com', name: '*.example.com', value: VALUE_1 };
    const apex = { fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_2 };
    await driver.set(wildcard, () => {});
    await driver.set(apex, () => {});
    expect(cf.records.map((r) => r.content)).toEqual([`"${VALUE_1}"`, `"${VALUE_2}"`]);

    const { log, entries } = logs();
    await driver.clear(wildcard, log);
    expect(cf.records.map((r) => r.content)).toEqual([`"${VALUE_2}"`]);
    expect(entries).toEqual([{ level: 'info', message: 'cloudflare: TXT _acme-challenge.example.com with this value removed from zone example.com' }]);
    // the zone was looked up once, by set, and remembered
    expect(cf.requests.filter((r) => r.path.startsWith('/zones?'))).toHaveLength(1);
    expect(cf.requests.find((r) => r.method === 'GET' && r.path.includes('dns_records'))?.path).toBe(
      `/zones/${ZONE_ID}/dns_records?type=TXT&name=_acme-challenge.example.com&per_page=100`,
    );
  });

  it('also matches unquoted content of older records', async () => {
    const cf = await cloudflareStandIn();
    cf.records.push({ id: 'legacy', zone_id: ZONE_ID, type: 'TXT', name: '_acme-challenge.example.com', content: VALUE_1, ttl: 120 });
    await cloudflareDriver({ apiToken: TOKEN, apiBase: cf.apiBase, zoneId: ZONE_ID }, outbound).clear({ fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_1 }, () => {});
    expect(cf.records).toEqual([]);
  });

  it('treats a missing record as cleared', async () => {
    const cf = await cloudflareStandIn();
    const { log, entries } = logs();
    await cloudflareDriver({ apiToken: TOKEN, apiBase: cf.apiBase, zoneId: ZONE_ID }, outbound).clear({ fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_1 }, log);
    expect(entries[0].message).toContain('nothing to clear');
    expect(cf.requests.some((r) => r.method === 'DELETE')).toBe(false);
  });

  it('treats "an identical record already exists" as set (a retry after a crash)', async () => {
    const cf = await cloudflareStandIn();
    const driver = cloudflareDriver({ apiToken: TOKEN, apiBase: cf.apiBase, zoneId: ZONE_ID }, outbound);
    const record = { fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_1 };
    await driver.set(record, () => {});
    const { log, entries } = logs();
    await driver.set(record, log);
    expect(cf.records).toHaveLength(1);
    expect(entries[0].message).toContain('already exists');
  });

  it('reports Cloudflare errors by code and message, never the token', async () => {
    const cf = await cloudflareStandIn();
    const err = await cloudflareDriver({ apiToken: 'wrong-token-0123456789', apiBase: cf.apiBase, zoneId: ZONE_ID }, outbound)
      .set({ fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_1 }, () => {})
      .catch((e) => e);
    expect(err).toMatchObject({ code: 'DNS_PROVIDER_FAILED', details: { provider: 'cloudflare', status: 403 } });
    expect(err.message).toBe('cloudflare: create TXT _acme-challenge.example.com failed (HTTP 403): 10000 Authentication error');
    expect(err.message).not.toContain('wrong-token');
  });

  it('says which zones it looked for when none is found', async () => {
    const cf = await cloudflareStandIn([]);
    await expect(
      cloudflareDriver({ apiToken: TOKEN, apiBase: cf.apiBase }, outbound).set({ fqdn: '_acme-challenge.www.example.co.uk', name: 'www.example.co.uk', value: VALUE_1 }, () => {}),
    ).rejects.toMatchObject({
      code: 'DNS_PROVIDER_FAILED',
      message: 'cloudflare: no zone found for www.example.co.uk (looked for www.example.co.uk, example.co.uk); the API token needs Zone:Read on the zone, or set zoneId',
    });
  });

  it('reports an answer that is not an API envelope with its status and an excerpt', async () => {
    const cf = await cloudflareStandIn();
    cf.answerNextWith(502, '<html><body>502 Bad Gateway</body></html>');
    await expect(
      cloudflareDriver({ apiToken: TOKEN, apiBase: cf.apiBase, zoneId: ZONE_ID }, outbound).clear({ fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_1 }, () => {}),
    ).rejects.toMatchObject({
      code: 'DNS_PROVIDER_FAILED',
      message: 'cloudflare: list TXT _acme-challenge.example.com failed (HTTP 502): <html><body>502 Bad Gateway</body></html>',
    });
  });

  it('reports success:false even with a 200 status', async () => {
    const cf = await cloudflareStandIn();
    cf.answerNextWith(200, JSON.stringify({ success: false, errors: [], messages: [], result: null }));
    await expect(
      cloudflareDriver({ apiToken: TOKEN, apiBase: cf.apiBase, zoneId: ZONE_ID }, outbound).set({ fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_1 }, () => {}),
    ).rejects.toMatchObject({ code: 'DNS_PROVIDER_FAILED', message: expect.stringContaining('(HTTP 200): success is false and no errors were given') });
  });
});
