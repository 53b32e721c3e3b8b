// DohResolver against a small RFC 8484 server on 127.0.0.1 that answers from a table, and
// records what it was sent. (Forwarding to a real authoritative server: test/dns/doh.knot.test.ts.)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex } from '../util/encoding.ts';
import { DohResolver } from './doh.ts';
import { decodeMessage, type DnsMessage } from './message.ts';
import { loopbackOutbound, testOutbound } from '../../test/harness/outbound.ts';

const outbound = loopbackOutbound();

/** Answer to `_acme-challenge.x.example.test TXT` from Knot, with its ID set to 0 as RFC 8484 asks. */
const TXT_ANSWER =
  '0000850000010001000000010f5f61636d652d6368616c6c656e67650178076578616d706c6504746573740000100001' +
  'c00c001000010000003c000c0b66697273742d76616c756500002904d0000000000000';

type Reply = (req: IncomingMessage, body: Uint8Array, res: ServerResponse) => void;

describe('DohResolver (RFC 8484)', () => {
  let server: Server;
  let url: string;
  let reply: Reply;
  const seen: Array<{ method?: string; contentType?: string; accept?: string; query: DnsMessage }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = new Uint8Array(Buffer.concat(chunks));
        seen.push({ method: req.method, contentType: req.headers['content-type'], accept: req.headers.accept, query: decodeMessage(body) });
        reply(req, body, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dns-query`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const dnsMessage = (hex: string): Reply => (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/dns-message' }).end(fromHex(hex));
  };

  it('POSTs an application/dns-message with ID 0 and CD set, and decodes the answer', async () => {
    reply = dnsMessage(TXT_ANSWER);
    seen.length = 0;
    const res = await new DohResolver({ url, outbound }).query('_acme-challenge.x.example.test', 'TXT');
    expect(res.answers).toEqual([expect.objectContaining({ type: 'TXT', value: 'first-value' })]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', contentType: 'application/dns-message', accept: 'application/dns-message' });
    expect(seen[0].query).toMatchObject({ id: 0, flags: { rd: true, cd: true }, questions: [{ name: '_acme-challenge.x.example.test', type: 'TXT' }] });
  });

  it('goes through the outgoing path it is given, and can leave CD off', async () => {
    reply = dnsMessage(TXT_ANSWER);
    seen.length = 0;
    const urls: string[] = [];
    const resolver = new DohResolver({
      url,
      checkingDisabled: false,
      outbound: testOutbound((input, init) => {
        urls.push(String(input));
        return fetch(input, init);
      }),
    });
    await resolver.query('_acme-challenge.x.example.test', 'TXT');
    expect(urls).toEqual([url]);
    expect(seen[0].query.flags.cd).toBe(false);
  });

  it('cannot be pointed at a server, and says it cannot', async () => {
    const resolver = new DohResolver({ url, outbound });
    expect(resolver.canTargetServers).toBe(false);
    await expect(resolver.query('example.test', 'TXT', '192.0.2.1:53')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('maps HTTP errors, wrong media types, wrong answers and silence to DNS_* codes', async () => {
    const resolver = new DohResolver({ url, timeoutMs: 300, outbound });
    const q = () => resolver.query('_acme-challenge.x.example.test', 'TXT');

    reply = (_req, _body, res) => res.writeHead(502).end('bad gateway');
    await expect(q()).rejects.toMatchObject({ code: 'DNS_NETWORK', details: { status: 502 } });

    reply = (_req, _body, res) => res.writeHead(200, { 'content-type': 'application/dns-json' }).end('{}');
    await expect(q()).rejects.toMatchObject({ code: 'DNS_BAD_RESPONSE' });

    reply = dnsMessage(TXT_ANSWER);
    await expect(resolver.query('other.example.test', 'TXT')).rejects.toMatchObject({ code: 'DNS_BAD_RESPONSE' });

    reply = (_req, _body, res) => res.writeHead(200, { 'content-type': 'application/dns-message' }).end(new Uint8Array([0, 0, 0x85]));
    await expect(q()).rejects.toMatchObject({ code: 'DNS_BAD_RESPONSE' });

    reply = () => {}; // never answers
    await expect(q()).rejects.toMatchObject({ code: 'DNS_TIMEOUT' });

    const closed = new DohResolver({ url: 'http://127.0.0.1:1/dns-query', outbound });
    await expect(closed.query('example.test', 'TXT')).rejects.toMatchObject({ code: 'DNS_NETWORK' });
  });
});
