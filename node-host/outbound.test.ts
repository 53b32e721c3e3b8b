// The node host's transport: the private-address policy applied to the addresses a name resolves
// to, with the connection made to the address that was checked (no DNS-rebinding gap), and TLS,
// DNS and connection failures named in words. Names are resolved by a resolver the test gives
// (the system's would need names pointing at loopback); everything else is real: undici, sockets,
// TLS with the run's test CA (trusted through NODE_EXTRA_CA_CERTS) and a self-signed server.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Server } from 'node:http';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseIpList } from '../src/http/ip.ts';
import { OutboundError } from '../src/net/outbound.ts';
import { testCa } from '../test/harness/ca.ts';
import { makeTempDir } from '../test/harness/tmp.ts';
import { nodeOutbound, type ResolveAll } from './outbound.ts';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});

async function listen<T extends Server>(server: T, host: string): Promise<{ port: number; hits: string[] }> {
  const hits: string[] = [];
  server.on('request', (req) => hits.push(`${host} ${req.url}`));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, host, r));
  return { port: (server.address() as AddressInfo).port, hits };
}

/** A resolver that knows a few names, as a DNS server under someone else's control would answer. */
function resolver(names: Record<string, string[]>): ResolveAll {
  return (hostname, _options, callback) => {
    const addresses = names[hostname];
    if (!addresses) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, addresses.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
}

const allow = (cidrs: string) => parseIpList(cidrs, { defaultLoopback: false });
const opts = { timeoutMs: 5_000, maxBytes: 64 * 1024, schemes: 'http+https' as const };

async function failure(p: Promise<unknown>): Promise<OutboundError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(OutboundError);
  return err as OutboundError;
}

describe('node transport: names are judged by the addresses they resolve to', () => {
  it('refuses a public-looking name that resolves to a loopback address, without connecting', async () => {
    const internal = await listen(createServer((_, res) => res.end('internal')), '127.0.0.1');
    const outbound = nodeOutbound(allow(''), { resolve: resolver({ 'ca.rebind.test': ['127.0.0.1'] }) });
    const err = await failure(outbound.request(`http://ca.rebind.test:${internal.port}/dir`, opts));
    expect(err).toMatchObject({ code: 'TARGET_REFUSED', reason: 'target-refused' });
    expect(err.words).toBe('ca.rebind.test resolves to 127.0.0.1, a loopback address; outgoing requests go there only when CERTKEEP_ALLOW_PRIVATE_TARGETS lists it');
    expect(internal.hits).toEqual([]);
  });

  it('connects only to an address that passed: of a name with an allowed and a refused address, the allowed one', async () => {
    const allowed = await listen(createServer((_, res) => res.end('allowed')), '127.0.0.1');
    const refused = createServer((_, res) => res.end('refused'));
    servers.push(refused);
    // The same port on another loopback address, so only the address decides where it lands.
    await new Promise<void>((r) => refused.listen(allowed.port, '127.0.0.3', r));
    let connectionsToRefused = 0;
    refused.on('connection', () => connectionsToRefused++);
    const outbound = nodeOutbound(allow('127.0.0.1/32'), { resolve: resolver({ 'mixed.test': ['127.0.0.3', '127.0.0.1'] }) });
    for (let i = 0; i < 3; i++) {
      expect((await outbound.request(`http://mixed.test:${allowed.port}/x`, opts)).text()).toBe('allowed');
    }
    expect(connectionsToRefused).toBe(0);
  });

  it('refuses a literal address before any lookup, as the core does', async () => {
    const internal = await listen(createServer((_, res) => res.end('internal')), '127.0.0.1');
    const err = await failure(nodeOutbound(allow('')).request(`http://127.0.0.1:${internal.port}/`, opts));
    expect(err.reason).toBe('target-refused');
    expect(internal.hits).toEqual([]);
  });

  it('names a name that is not in DNS', async () => {
    const err = await failure(nodeOutbound(allow(''), { resolve: resolver({}) }).request('https://acme.nowhere.test/dir', opts));
    expect(err).toMatchObject({ code: 'OUTBOUND_FAILED', reason: 'dns', words: 'the name acme.nowhere.test was not found in DNS (ENOTFOUND)' });
  });
});

describe('node transport: TLS failures in words', () => {
  const ca = testCa();

  it('names a certificate no trusted CA issued, with the NODE_EXTRA_CA_CERTS hint', async () => {
    const dir = makeTempDir('self-signed-');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=private-ca.test',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const server = createHttpsServer({ cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }, (_, res) => res.end('{}'));
    const { port, hits } = await listen(server, '127.0.0.1');
    const err = await failure(nodeOutbound(allow('127.0.0.1/32')).request(`https://127.0.0.1:${port}/dir`, opts));
    expect(err).toMatchObject({ code: 'OUTBOUND_FAILED', reason: 'tls-untrusted' });
    expect(err.words).toBe(`the TLS certificate of 127.0.0.1:${port} is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT); if a private CA issued it, start Certkeep with NODE_EXTRA_CA_CERTS=/path/to/ca.pem`);
    expect(hits).toEqual([]);
  });

  it('names a certificate issued for another name', async () => {
    const server = createHttpsServer({ cert: readFileSync(ca.leafCertPath), key: readFileSync(ca.leafKeyPath) }, (_, res) => res.end('{}'));
    const { port } = await listen(server, '127.0.0.1');
    const outbound = nodeOutbound(allow('127.0.0.1/32'), { resolve: resolver({ 'acme.other.test': ['127.0.0.1'] }) });
    const err = await failure(outbound.request(`https://acme.other.test:${port}/dir`, opts));
    expect(err.reason).toBe('tls-hostname');
    expect(err.words).toBe(`the TLS certificate of acme.other.test:${port} is not issued for that name (ERR_TLS_CERT_ALTNAME_INVALID)`);
    // The run's CA is trusted through NODE_EXTRA_CA_CERTS: the right name goes through.
    expect((await outbound.request(`https://127.0.0.1:${port}/dir`, opts)).text()).toBe('{}');
  });
});
