// The scale benchmark's anchor: the project's own ACME client with nothing around it — no
// database, no scheduler, no HTTP API. http-01 tokens live in a Map served by a tiny node:http
// server on Pebble's httpPort; keys and certificates stay in memory. It is what "a bare
// WebCrypto client" costs, and Certkeep's scheduler is measured against it.
//
// Run as its own process (so the memory benchmark can sample its RSS beside the node host's):
//   node --import tsx bench/bare-client.ts <directoryUrl> <httpPort> <count> <inFlight> <label>
// It prints one JSON line `{"ready":true}` once its account exists and its server listens, waits
// for SIGUSR2 (so that its idle memory can be sampled first), obtains <count> 2-name
// certificates with <inFlight> in flight, prints `{"ms":…,"count":…,"cpuMs":…,"orderMs":…}` (time
// from the first order to the last certificate, the CPU time that took, and one order's mean time
// from newOrder to its certificate downloaded) and exits.
import { createServer } from 'node:http';
import { AcmeClient } from '../src/acme/index.ts';
import { createCsr, generateKeyPair } from '../src/crypto/index.ts';
import { parseIpList } from '../src/http/ip.ts';
import { nodeOutbound } from '../node-host/outbound.ts';

const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

async function main(): Promise<void> {
  const [directoryUrl, port, count, inFlight, label] = process.argv.slice(2);
  const tokens = new Map<string, string>();
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    const answer = url.startsWith(CHALLENGE_PREFIX) ? tokens.get(url.slice(CHALLENGE_PREFIX.length)) : undefined;
    if (answer === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port), '127.0.0.1', resolve);
  });

  // The same outgoing path as Certkeep's node host, allowed to reach Pebble on loopback.
  const outbound = nodeOutbound(parseIpList('127.0.0.1/32', { defaultLoopback: false }));
  const client = new AcmeClient({ directoryUrl, accountKey: await generateKeyPair('ec-p256'), outbound });
  await client.newAccount({ termsOfServiceAgreed: true, contact: ['mailto:bench@example.com'] });

  let orderMsTotal = 0;
  /** One certificate, start to finish: the flow every ACME client runs (RFC 8555 §7.4). */
  const obtain = async (i: number): Promise<void> => {
    const domains = [`www-${label}-${i}.example.com`, `api-${label}-${i}.example.com`];
    const keyPair = await generateKeyPair('ec-p256');
    const placing = performance.now();
    const { url, order } = await client.newOrder({ identifiers: domains.map((value) => ({ type: 'dns' as const, value })) });
    await Promise.all(
      order.authorizations.map(async (authzUrl) => {
        const authz = await client.getAuthorization(authzUrl);
        if (authz.status === 'valid') return;
        const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
        tokens.set(challenge.token!, await client.keyAuthorization(challenge.token!));
        await client.respondToChallenge(challenge.url);
        await client.waitForAuthorization(authzUrl);
        tokens.delete(challenge.token!);
      }),
    );
    const ready = await client.waitForOrder(url, ['ready']);
    const finalized = await client.finalizeOrder(ready.finalize, await createCsr({ keyPair, domains }));
    const valid = finalized.status === 'valid' ? finalized : await client.waitForOrder(url, ['valid']);
    const { pem } = await client.downloadCertificate(valid.certificate!);
    if (!pem.includes('BEGIN CERTIFICATE')) throw new Error(`certificate ${i}: no PEM`);
    orderMsTotal += performance.now() - placing;
  };

  const go = new Promise<void>((resolve) => process.once('SIGUSR2', () => resolve()));
  console.log(JSON.stringify({ ready: true }));
  await go;

  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  let next = 0;
  const worker = async () => {
    while (next < Number(count)) await obtain(next++);
  };
  await Promise.all(Array.from({ length: Number(inFlight) }, worker));
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  console.log(JSON.stringify({ ms, count: Number(count), cpuMs: (cpu.user + cpu.system) / 1000, orderMs: orderMsTotal / Number(count) }));
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
