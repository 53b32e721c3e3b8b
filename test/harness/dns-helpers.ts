// dns-01 plumbing for the contract suites: a webhook receiver that publishes TXT records in
// challtestsrv (the DNS server Pebble asks), and a DNS-over-HTTPS endpoint that forwards to it, for
// the Worker's propagation check (which speaks only DoH).
import http from 'node:http';
import dgram from 'node:dgram';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Pebble } from './pebble.ts';

export interface WebhookCall {
  action: 'set' | 'clear';
  fqdn: string;
  value: string;
}

export interface DnsWebhook {
  url: string;
  secret: string;
  calls: WebhookCall[];
  /** Answer with this status instead of doing the work (a broken provider). */
  failWith: number | undefined;
  stop(): Promise<void>;
}

/** A webhook provider endpoint that checks the signature and sets/clears TXT in challtestsrv. */
export async function startDnsWebhook(pebble: Pebble): Promise<DnsWebhook> {
  const secret = 'webhook-secret-0123456789abcdef';
  const hook: DnsWebhook = { url: '', secret, calls: [], failWith: undefined, stop: () => new Promise((r) => server.close(() => r())) };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
      const given = Buffer.from(String(req.headers['x-certkeep-signature'] ?? ''));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        res.writeHead(401).end('bad signature');
        return;
      }
      const call = JSON.parse(body.toString()) as WebhookCall;
      hook.calls.push(call);
      if (hook.failWith) {
        res.writeHead(hook.failWith).end('the DNS API is down');
        return;
      }
      if (call.action === 'set') await pebble.setTxt(call.fqdn, call.value);
      else await pebble.clearTxt(call.fqdn);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dns`;
  return hook;
}

/** RFC 8484 POST endpoint that relays each query to `dnsAddress` over UDP. */
export async function startDohForwarder(dnsAddress: string): Promise<{ url: string; stop(): Promise<void> }> {
  const [host, port] = [dnsAddress.slice(0, dnsAddress.lastIndexOf(':')), Number(dnsAddress.slice(dnsAddress.lastIndexOf(':') + 1))];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const socket = dgram.createSocket('udp4');
      const timer = setTimeout(() => {
        socket.close();
        res.writeHead(504).end();
      }, 3000);
      socket.once('message', (answer) => {
        clearTimeout(timer);
        socket.close();
        res.writeHead(200, { 'content-type': 'application/dns-message' }).end(answer);
      });
      socket.send(Buffer.concat(chunks), port, host);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dns-query`, stop: () => new Promise((r) => server.close(() => r())) };
}
