// The acme-dns provider. acme-dns (github.com/joohoi/acme-dns) is not packaged for Debian
// (`apt-cache policy acme-dns` finds nothing), so these tests run against a stand-in: a small
// local HTTP server implementing acme-dns's documented API — /register with its optional
// allowfrom, /update with X-Api-User / X-Api-Key checked against the registration, 43-character
// TXT values, the two most recent values kept per subdomain, and acme-dns's error bodies.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  acmeDnsCname,
  acmeDnsDriver,
  describeAcmeDnsConfig,
  registerAcmeDns,
  validateAcmeDnsConfig,
  type AcmeDnsRegistration,
} from './acme-dns.ts';
import type { DnsProviderLog } from './types.ts';
import { loopbackOutbound } from '../../../test/harness/outbound.ts';

/** The node host's outgoing path, allowed to reach the test servers on 127.0.0.1. */
const outbound = loopbackOutbound();
const validateAcmeDns = (input: unknown) => validateAcmeDnsConfig(input, outbound);

const VALUE_1 = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
const VALUE_2 = '9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI';
const VALUE_3 = 'u8Yp1Zq4tHc6Ww3Vx7Ss2Rr9Qq0Pp5Oo8Nn1Mm4Ll7K';
const ZONE = 'auth.acme-dns.test';

interface Account {
  username: string;
  password: string;
  subdomain: string;
  allowfrom: string[];
  txt: string[];
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** The stand-in acme-dns API on 127.0.0.1. */
async function acmeDnsStandIn() {
  const accounts = new Map<string, Account>();
  const requests: { path: string; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ path: req.url ?? '', body });
      const reply = (status: number, json: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      let parsed: Record<string, unknown> = {};
      if (body.length > 0) {
        try {
          parsed = JSON.parse(body);
        } catch {
          return reply(400, { error: 'malformed_json_payload' });
        }
      }
      if (req.method === 'POST' && req.url === '/register') {
        const allowfrom = Array.isArray(parsed.allowfrom) ? (parsed.allowfrom as string[]) : [];
        if (allowfrom.some((cidr) => !/^[0-9a-f.:]+\/\d+$/i.test(cidr))) return reply(400, { error: 'invalid_allowfrom_cidr' });
        const account = { username: randomUUID(), password: randomUUID().replace(/-/g, ''), subdomain: randomUUID(), allowfrom, txt: [] };
        accounts.set(account.username, account);
        return reply(201, {
          username: account.username,
          password: account.password,
          fulldomain: `${account.subdomain}.${ZONE}`,
          subdomain: account.subdomain,
          allowfrom,
        });
      }
      if (req.method === 'POST' && req.url === '/update') {
        const account = accounts.get(String(req.headers['x-api-user'] ?? ''));
        if (!account || account.password !== req.headers['x-api-key']) return reply(401, { error: 'forbidden' });
        if (parsed.subdomain !== account.subdomain) return reply(401, { error: 'forbidden' });
        if (typeof parsed.txt !== 'string' || parsed.txt.length !== 43) return reply(400, { error: 'bad_txt' });
        account.txt = [parsed.txt, ...account.txt].slice(0, 2);
        return reply(200, { txt: parsed.txt });
      }
      reply(404, { error: 'not_found' });
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  /** The TXT values the stand-in would serve for a registration's fulldomain. */
  const txtOf = (registration: AcmeDnsRegistration) => accounts.get(registration.username)?.txt ?? [];
  return { url, requests, txtOf };
}

function logs() {
  const entries: DnsProviderLog[] = [];
  return { log: (e: DnsProviderLog) => entries.push(e), entries };
}

describe('validateAcmeDnsConfig', () => {
  it('accepts a base URL and optional CIDRs, and drops a trailing slash', () => {
    expect(validateAcmeDns({ url: 'https://auth.acme-dns.io/' })).toEqual({ url: 'https://auth.acme-dns.io' });
    expect(validateAcmeDns({ url: 'https://dns.example.com/acme-dns/', allowFrom: ['192.0.2.0/24', '2001:db8::/32'] })).toEqual({
      url: 'https://dns.example.com/acme-dns',
      allowFrom: ['192.0.2.0/24', '2001:db8::/32'],
    });
    expect(validateAcmeDns({ url: 'http://127.0.0.1:8053' })).toEqual({ url: 'http://127.0.0.1:8053' });
  });

  it.each([
    ['plain http to a remote server', { url: 'http://auth.acme-dns.io' }, 'url'],
    ['a query in the URL', { url: 'https://auth.acme-dns.io/?x=1' }, 'url'],
    ['a missing URL', {}, 'url'],
    ['an address without a prefix', { url: 'https://a.example', allowFrom: ['192.0.2.1'] }, 'allowFrom[0]'],
    ['a prefix too long', { url: 'https://a.example', allowFrom: ['10.0.0.0/8', '192.0.2.0/33'] }, 'allowFrom[1]'],
    ['garbage', { url: 'https://a.example', allowFrom: ['example.com/24'] }, 'allowFrom[0]'],
    ['allowFrom as a string', { url: 'https://a.example', allowFrom: '10.0.0.0/8' }, 'allowFrom'],
    ['an unknown field', { url: 'https://a.example', password: 'x' }, 'password'],
  ])('refuses %s, naming the field', (_, input, field) => {
    expect(() => validateAcmeDns(input)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST', details: { field } }));
  });

  it('describes the config', () => {
    expect(describeAcmeDnsConfig({ url: 'https://auth.acme-dns.io' })).toEqual({ url: 'https://auth.acme-dns.io' });
    expect(describeAcmeDnsConfig({ url: 'https://a.example', allowFrom: ['10.0.0.0/8'] })).toEqual({ url: 'https://a.example', allowFrom: ['10.0.0.0/8'] });
  });
});

describe('registerAcmeDns', () => {
  it('registers a name and says which CNAME to create', async () => {
    const server = await acmeDnsStandIn();
    const registration = await registerAcmeDns({ url: server.url }, '*.WWW.example.com', outbound);
    expect(registration).toMatchObject({ name: 'www.example.com', allowFrom: [] });
    expect(registration.fulldomain).toBe(`${registration.subdomain}.${ZONE}`);
    expect(registration.password).toMatch(/^[0-9a-f]{32}$/);
    expect(acmeDnsCname(registration)).toEqual({ name: '_acme-challenge.www.example.com', target: registration.fulldomain });
    expect(server.requests).toEqual([{ path: '/register', body: '' }]);
  });

  it('sends allowfrom when configured', async () => {
    const server = await acmeDnsStandIn();
    const registration = await registerAcmeDns({ url: server.url, allowFrom: ['192.0.2.0/24'] }, 'example.com', outbound);
    expect(registration.allowFrom).toEqual(['192.0.2.0/24']);
    expect(JSON.parse(server.requests[0].body)).toEqual({ allowfrom: ['192.0.2.0/24'] });
  });

  it('fails with the server error', async () => {
    const server = await acmeDnsStandIn();
    await expect(registerAcmeDns({ url: server.url, allowFrom: ['not-a-cidr'] }, 'example.com', outbound)).rejects.toMatchObject({
      code: 'DNS_PROVIDER_FAILED',
      message: 'acme-dns: POST /register failed (HTTP 400): {"error":"invalid_allowfrom_cidr"}',
    });
  });
});

describe('acmeDnsDriver', () => {
  async function registered() {
    const server = await acmeDnsStandIn();
    const registration = await registerAcmeDns({ url: server.url }, 'example.com', outbound);
    const lookups: string[] = [];
    const lookup = async (name: string) => {
      lookups.push(name);
      return name === 'example.com' ? registration : undefined;
    };
    return { server, registration, lookups, driver: acmeDnsDriver({ url: server.url }, lookup, outbound) };
  }

  it('sets the TXT value through /update, with the registration found by the validated name', async () => {
    const { server, registration, lookups, driver } = await registered();
    const { log, entries } = logs();
    await driver.set({ fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_1 }, log);
    expect(server.txtOf(registration)).toEqual([VALUE_1]);
    expect(lookups).toEqual(['example.com']);
    expect(JSON.parse(server.requests[1].body)).toEqual({ subdomain: registration.subdomain, txt: VALUE_1 });
    expect(entries).toEqual([{ level: 'info', message: `acme-dns: TXT value set on ${registration.fulldomain} (the CNAME target of _acme-challenge.example.com)` }]);
  });

  it('holds a wildcard and its base name at once (acme-dns keeps the two newest values)', async () => {
    const { server, registration, lookups, driver } = await registered();
    await driver.set({ fqdn: '_acme-challenge.example.com', name: '*.example.com', value: VALUE_1 }, () => {});
    await driver.set({ fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_2 }, () => {});
    expect(lookups).toEqual(['example.com', 'example.com']);
    expect(server.txtOf(registration).sort()).toEqual([VALUE_1, VALUE_2].sort());
    await driver.set({ fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_3 }, () => {});
    expect(server.txtOf(registration)).toEqual([VALUE_3, VALUE_2]);
  });

  it('clears nothing (acme-dns has no delete) and says so', async () => {
    const { server, registration, driver } = await registered();
    await driver.set({ fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_1 }, () => {});
    const { log, entries } = logs();
    await driver.clear({ fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_1 }, log);
    expect(server.requests).toHaveLength(2);
    expect(server.txtOf(registration)).toEqual([VALUE_1]);
    expect(entries).toHaveLength(1);
    expect(entries[0].message).toMatch(/no delete/);
  });

  it('refuses a name without a registration and names the CNAME to create', async () => {
    const { server, driver } = await registered();
    const err = await driver.set({ fqdn: '_acme-challenge.www.example.com', name: 'www.example.com', value: VALUE_1 }, () => {}).catch((e) => e);
    expect(err).toMatchObject({ code: 'DNS_PROVIDER_FAILED', details: { provider: 'acme-dns', name: 'www.example.com', cname: '_acme-challenge.www.example.com' } });
    expect(err.message).toContain('create the CNAME record _acme-challenge.www.example.com');
    expect(server.requests).toHaveLength(1); // only the registration
  });

  it('fails on refused credentials without repeating the password', async () => {
    const { server, registration } = await registered();
    const wrong = { ...registration, password: 'not-the-password-0123456789' };
    const driver = acmeDnsDriver({ url: server.url }, async () => wrong, outbound);
    const err = await driver.set({ fqdn: '_acme-challenge.example.com', name: 'example.com', value: VALUE_1 }, () => {}).catch((e) => e);
    expect(err).toMatchObject({ code: 'DNS_PROVIDER_FAILED', details: { status: 401 } });
    expect(err.message).toBe('acme-dns: POST /update for _acme-challenge.example.com failed (HTTP 401): {"error":"forbidden"}');
    expect(err.message).not.toContain(registration.password);
    expect(server.txtOf(registration)).toEqual([]);
  });

  it('passes on the server refusing a value', async () => {
    const { driver } = await registered();
    await expect(driver.set({ fqdn: '_acme-challenge.example.com', name: 'example.com', value: 'short' }, () => {})).rejects.toMatchObject({
      code: 'DNS_PROVIDER_FAILED',
      message: expect.stringContaining('(HTTP 400): {"error":"bad_txt"}'),
    });
  });
});
