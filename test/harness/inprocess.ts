// The core in this test process, on a libSQL file, against its own Pebble: for domain tests that
// need to reach inside (a fetch that loses answers, a clock, the rows themselves). The challenge
// endpoint is served by the real app on Pebble's httpPort.
import http from 'node:http';
import { startPebble, type Pebble, type PebbleOptions } from './pebble.ts';
import { freePort } from './ports.ts';
import { makeTempDir } from './tmp.ts';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import { createRequestListener } from '../../node-host/http-adapter.ts';
import { createApp } from '../../src/app.ts';
import { newCaches, type Deps } from '../../src/deps.ts';
import { silentLogger, type Logger } from '../../src/log.ts';
import { parseIpList } from '../../src/http/ip.ts';
import { generateMasterKey, importMasterKey } from '../../src/crypto/index.ts';
import { runSetup } from '../../src/domain/setup.ts';
import { nodeDnsPropagation, nodeRfc2136Client } from '../../node-host/core.ts';
import { runScript } from '../../node-host/scripts.ts';
import { nodeTransport } from '../../node-host/outbound.ts';
import { Outbound } from '../../src/net/outbound.ts';
import { TEST_PRIVATE_TARGETS } from './outbound.ts';

export interface InProcess {
  deps: Deps;
  db: OpenedDatabase;
  pebble: Pebble;
  stop(): Promise<void>;
}

export interface InProcessOptions {
  pebble?: Omit<PebbleOptions, 'httpPort'>;
  /** Wraps the real transport (the node host's) the core's outgoing requests use towards the CA. */
  fetch?: (real: typeof fetch) => typeof fetch;
  now?: () => number;
  log?: Logger;
  /** Run setup (admin user and the `default` ACME account); default true. */
  setup?: boolean;
  /** Another database file to share (two hosts on one database). */
  databaseUrl?: string;
}

export async function startInProcess(opts: InProcessOptions = {}): Promise<InProcess> {
  const httpPort = await freePort();
  const pebble = await startPebble({ httpPort, ...opts.pebble });
  const db = await openDatabase(opts.databaseUrl ?? `file:${makeTempDir('inprocess-')}/certkeep.db`);
  const allowPrivateTargets = parseIpList(TEST_PRIVATE_TARGETS, { defaultLoopback: false });
  const realFetch = nodeTransport(allowPrivateTargets);
  const deps: Deps = {
    db: db.database,
    masterKey: await importMasterKey(generateMasterKey()),
    outbound: new Outbound({ fetch: opts.fetch ? opts.fetch(realFetch) : realFetch, allowPrivateTargets, runtime: 'node' }),
    now: opts.now ?? (() => Date.now()),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    log: opts.log ?? silentLogger,
    runtime: 'node',
    hostId: `test-${process.pid}`,
    allowAdmin: parseIpList(undefined),
    allowApi: parseIpList(undefined),
    concurrency: 8,
    caches: newCaches(),
    // dns-01 records are looked for where Pebble looks: challtestsrv's DNS server.
    dns: nodeDnsPropagation([pebble.dnsAddress]),
    runScript,
    rfc2136: nodeRfc2136Client(),
  };
  const { listener } = createRequestListener(createApp(deps), { secure: false, trustProxy: parseIpList('', { defaultLoopback: false }) });
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(httpPort, '127.0.0.1', resolve));
  if (opts.setup !== false) {
    await runSetup(deps, {}, {
      adminEmail: 'admin@example.com',
      adminPassword: 'correct horse battery staple',
      acme: { directoryUrl: pebble.directoryUrl, termsOfServiceAgreed: true },
    });
  }
  return {
    deps,
    db,
    pebble,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      db.close();
      await pebble.stop();
    },
  };
}

/** The URL of a fetch() input, whatever its form. */
export function urlOf(input: RequestInfo | URL): string {
  return input instanceof Request ? input.url : String(input);
}
