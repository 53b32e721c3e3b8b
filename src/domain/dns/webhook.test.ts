// The webhook provider against a real local HTTP server that checks the signature the way a
// receiver should: HMAC-SHA256 over the raw body bytes with node:crypto, constant-time compare.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DnsProviderLog } from './types.ts';
import { describeWebhookConfig, validateWebhookConfig, webhookDriver, webhookSignature } from './webhook.ts';
import { loopbackOutbound } from '../../../test/harness/outbound.ts';

/** The node host's outgoing path, allowed to reach the test servers on 127.0.0.1. */
const outbound = loopbackOutbound();
const validateWebhook = (input: unknown) => validateWebhookConfig(input, outbound);

const SECRET = 'webhook-secret-0123456789-abcdef';
const RECORD = { fqdn: '_acme-challenge.www.example.com', name: 'www.example.com', value: 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0' };

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  signatureValid: boolean;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A receiver on 127.0.0.1; `respond` decides the answer once the signature has been checked. */
async function receiver(respond: (req: Received, res: ServerResponse) => void = (_, res) => res.writeHead(204).end()) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`);
      const given = Buffer.from(String(req.headers['x-certkeep-signature'] ?? ''));
      const entry = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: raw.toString('utf8'),
        signatureValid: given.length === expected.length && timingSafeEqual(given, expected),
      };
      received.push(entry);
      if (!entry.signatureValid) res.writeHead(401).end('bad signature');
      else respond(entry, res);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/dns`;
  return { url, received };
}

function logs() {
  const entries: DnsProviderLog[] = [];
  return { log: (e: DnsProviderLog) => entries.push(e), entries };
}

describe('validateWebhookConfig', () => {
  it('accepts https to public names and addresses, and http only to an address CERTKEEP_ALLOW_PRIVATE_TARGETS lists', () => {
    expect(validateWebhook({ url: 'https://hooks.example.com/dns', secret: SECRET })).toEqual({ url: 'https://hooks.example.com/dns', secret: SECRET });
    // This suite allows 127.0.0.1/32; localhost is loopback by definition and counts as 127.0.0.1.
    for (const url of ['http://127.0.0.1:8080/x', 'https://127.0.0.1/x', 'http://localhost/x', 'https://93.184.215.14/', 'https://[2606:4700::1111]/']) {
      expect(validateWebhook({ url, secret: SECRET }).url).toBe(new URL(url).href);
    }
  });

  it.each([
    ['http://127.1.2.3/', /127\.1\.2\.3/],
    ['https://127.1.2.3/', /127\.1\.2\.3 is a loopback address/],
    ['https://10.0.0.1/dns', /private/],
    ['https://169.254.169.254/latest/meta-data/', /cloud metadata/],
    ['https://[fd00:ec2::254]/', /cloud metadata/],
    ['https://100.64.0.1/', /carrier-grade NAT/],
    ['https://[::ffff:10.1.1.1]/', /10\.1\.1\.1\) is a private/],
    ['https://[64:ff9b::a9fe:a9fe]/', /cloud metadata/],
    ['https://[::ffff:7f00:2]/', /127\.0\.0\.2\) is a loopback/],
    ['https://0.0.0.0/', /unspecified/],
    ['https://[::]/', /unspecified/],
    ['https://[fe80::1]/', /link-local/],
    ['https://2130706434/', /127\.0\.0\.2 is a loopback/],
    ['https://0x7f.0.0.3/', /127\.0\.0\.3 is a loopback/],
  ])('refuses %s at creation, naming the field and the setting', (url, words) => {
    const err = (() => {
      try {
        validateWebhook({ url, secret: SECRET });
      } catch (e) {
        return e as Error & { code: string; details: unknown };
      }
    })();
    expect(err).toMatchObject({ code: 'BAD_REQUEST', details: { field: 'url' } });
    expect(err!.message).toMatch(words);
    expect(err!.message).toMatch(/CERTKEEP_ALLOW_PRIVATE_TARGETS/);
  });

  it.each([
    ['plain http to another host', { url: 'http://hooks.example.com/dns', secret: SECRET }, 'url'],
    ['http to a private address', { url: 'http://10.0.0.1/dns', secret: SECRET }, 'url'],
    ['another scheme', { url: 'ftp://hooks.example.com/', secret: SECRET }, 'url'],
    ['a relative URL', { url: '/dns', secret: SECRET }, 'url'],
    ['credentials in the URL', { url: 'https://u:p@hooks.example.com/', secret: SECRET }, 'url'],
    ['a missing url', { secret: SECRET }, 'url'],
    ['a missing secret', { url: 'https://hooks.example.com/' }, 'secret'],
    ['a short secret', { url: 'https://hooks.example.com/', secret: 'short' }, 'secret'],
    ['a non-string secret', { url: 'https://hooks.example.com/', secret: 12345678901234567 }, 'secret'],
    ['an unknown field', { url: 'https://hooks.example.com/', secret: SECRET, method: 'PUT' }, 'method'],
    ['an array', [], 'body'],
  ])('refuses %s, naming the field', (_, input, field) => {
    expect(() => validateWebhook(input)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST', details: { field } }));
  });

  it('describes the config without the secret', () => {
    const config = validateWebhook({ url: 'https://hooks.example.com/dns', secret: SECRET });
    expect(describeWebhookConfig(config)).toEqual({ url: 'https://hooks.example.com/dns' });
  });
});

describe('webhookSignature', () => {
  it('is sha256=<hex HMAC-SHA256> as node:crypto computes it', async () => {
    const body = '{"action":"set","fqdn":"_acme-challenge.example.com","value":"x"}';
    expect(await webhookSignature(SECRET, body)).toBe(`sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`);
  });

  it('matches the RFC 4231 test case 2 HMAC-SHA-256 vector', async () => {
    expect(await webhookSignature('Jefe', 'what do ya want for nothing?')).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });
});

describe('webhookDriver', () => {
  it('POSTs a signed set and clear, exactly the SPEC body', async () => {
    const { url, received } = await receiver();
    const { log, entries } = logs();
    const driver = webhookDriver(validateWebhook({ url, secret: SECRET }), outbound);
    await driver.set(RECORD, log);
    await driver.clear(RECORD, log);
    expect(received.map((r) => [r.method, r.path, r.signatureValid, r.headers['content-type']])).toEqual([
      ['POST', '/hooks/dns', true, 'application/json'],
      ['POST', '/hooks/dns', true, 'application/json'],
    ]);
    expect(received.map((r) => JSON.parse(r.body))).toEqual([
      { action: 'set', fqdn: RECORD.fqdn, value: RECORD.value },
      { action: 'clear', fqdn: RECORD.fqdn, value: RECORD.value },
    ]);
    expect(entries).toEqual([
      { level: 'info', message: 'webhook: set _acme-challenge.www.example.com accepted (HTTP 204)' },
      { level: 'info', message: 'webhook: clear _acme-challenge.www.example.com accepted (HTTP 204)' },
    ]);
  });

  it('accepts any 2xx', async () => {
    const { url } = await receiver((_, res) => res.writeHead(202).end('queued'));
    await expect(webhookDriver({ url, secret: SECRET }, outbound).set(RECORD, () => {})).resolves.toBeUndefined();
  });

  it('fails on a non-2xx with the status and an excerpt of the body, never the secret', async () => {
    const { url } = await receiver((_, res) => res.writeHead(500).end(`zone locked\n(our config has secret=${SECRET})`));
    const err = await webhookDriver({ url, secret: SECRET }, outbound)
      .set(RECORD, () => {})
      .catch((e) => e);
    expect(err).toMatchObject({ code: 'DNS_PROVIDER_FAILED', details: { provider: 'webhook', status: 500 } });
    expect(err.message).toBe('webhook: set _acme-challenge.www.example.com failed (HTTP 500): zone locked (our config has secret=[redacted])');
  });

  it('is refused by the receiver when signed with another secret', async () => {
    const { url, received } = await receiver();
    await expect(webhookDriver({ url, secret: 'a-different-secret-of-some-length' }, outbound).set(RECORD, () => {})).rejects.toMatchObject({
      code: 'DNS_PROVIDER_FAILED',
      details: { status: 401 },
    });
    expect(received[0].signatureValid).toBe(false);
  });

  it('cuts a long error body short', async () => {
    const { url } = await receiver((_, res) => res.writeHead(400).end('e'.repeat(5000)));
    const err = await webhookDriver({ url, secret: SECRET }, outbound)
      .clear(RECORD, () => {})
      .catch((e) => e);
    expect(err.message.length).toBeLessThan(400);
    expect(err.message.endsWith('…')).toBe(true);
  });

  it('does not follow a redirect', async () => {
    const target = await receiver();
    const { url } = await receiver((_, res) => res.writeHead(307, { location: target.url }).end());
    await expect(webhookDriver({ url, secret: SECRET }, outbound).set(RECORD, () => {})).rejects.toMatchObject({
      code: 'DNS_PROVIDER_FAILED',
      message: `webhook: set _acme-challenge.www.example.com failed: it redirects (HTTP 307) to ${target.url}; redirects are not followed here: use the final URL`,
      details: { reason: 'redirect' },
    });
    expect(target.received).toHaveLength(0);
  });

  it('gives up after the timeout', async () => {
    const { url } = await receiver(() => {
      /* never answers */
    });
    const t0 = Date.now();
    await expect(webhookDriver({ url, secret: SECRET }, outbound, { timeoutMs: 300 }).set(RECORD, () => {})).rejects.toMatchObject({
      code: 'DNS_PROVIDER_FAILED',
      message: 'webhook: set _acme-challenge.www.example.com got no answer within 300 ms',
      details: { timedOut: true },
    });
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('reports a refused connection', async () => {
    const { url } = await receiver();
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    await expect(webhookDriver({ url, secret: SECRET }, outbound).set(RECORD, () => {})).rejects.toMatchObject({
      code: 'DNS_PROVIDER_FAILED',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });
});
