// The Worker's path: DNS over HTTPS. A small RFC 8484 endpoint on 127.0.0.1 forwards each
// application/dns-message body over UDP to Knot (plain dgram here, not the code under test) and
// returns Knot's answer; DohResolver and waitForTxt's DoH fallback run against it.
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rfc2136Update } from '../../node-host/dns.ts';
import { DohResolver, findZone, waitForTxt } from '../../src/dns/index.ts';
import { describeKnot, startKnot, type Knot } from '../harness/knot.ts';
import { loopbackOutbound } from '../harness/outbound.ts';

/** Sends `query` to Knot over UDP and resolves with the first datagram back. */
function forward(knot: Knot, query: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('knot did not answer'));
    }, 2000);
    socket.once('message', (answer) => {
      clearTimeout(timer);
      socket.close();
      resolve(answer);
    });
    socket.send(query, knot.port, '127.0.0.1');
  });
}

describeKnot('DNS over HTTPS to Knot DNS', () => {
  let knot: Knot;
  let server: Server;
  let url: string;
  let requests = 0;

  beforeAll(async () => {
    knot = await startKnot({ zone: 'example.test' });
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        requests += 1;
        if (req.method !== 'POST' || req.headers['content-type'] !== 'application/dns-message') {
          res.writeHead(415).end();
          return;
        }
        try {
          const answer = await forward(knot, Buffer.concat(chunks));
          res.writeHead(200, { 'content-type': 'application/dns-message', 'content-length': answer.length }).end(answer);
        } catch {
          res.writeHead(502).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dns-query`;
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await knot?.stop();
  });

  it('asks through the DoH endpoint: SOA, and the zone found from it', async () => {
    const doh = new DohResolver({ url, outbound: loopbackOutbound() });
    const soa = await doh.query('example.test', 'SOA');
    expect(soa.answers[0]).toMatchObject({ type: 'SOA', soa: { mname: 'ns1.example.test' } });
    expect(await findZone(doh, '_acme-challenge.www.example.test')).toEqual({ zone: 'example.test', name: '_acme-challenge.www.example.test' });
  });

  it('waitForTxt falls back to asking the DoH resolver, and sees a value added while it waits', async () => {
    const fqdn = `_acme-challenge.d${Date.now()}.example.test`;
    const before = requests;
    const add = setTimeout(() => {
      void rfc2136Update({ server: knot.address, zone: knot.zone, tsig: knot.tsig, add: { name: fqdn, value: 'doh-value', ttl: 60 } });
    }, 300);
    try {
      await waitForTxt({ fqdn, value: 'doh-value', resolver: new DohResolver({ url, outbound: loopbackOutbound() }), intervalMs: 100, timeoutMs: 10_000 });
    } finally {
      clearTimeout(add);
    }
    // Several rounds went through the endpoint, no discovery of NS names (DoH cannot reach them).
    expect(requests - before).toBeGreaterThanOrEqual(2);

    const err = await waitForTxt({ fqdn, value: 'not-there', resolver: new DohResolver({ url, outbound: loopbackOutbound() }), intervalMs: 100, timeoutMs: 300 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'DNS_NOT_PROPAGATED', details: { missing: [{ server: 'resolver', reason: 'answered NOERROR with only "doh-value"' }] } });
  });
});
