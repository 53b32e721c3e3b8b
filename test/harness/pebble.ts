// Pebble (Let's Encrypt's test ACME server, Debian `pebble` 2.4.0) and pebble-challtestsrv
// (its mock DNS), started per suite on free ports and stopped by process id.
// Facts this relies on are in /work/shared/PEBBLE.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { testCa, type TestCa } from './ca.ts';
import { freePort } from './ports.ts';
import { startProcess, type RunningProcess } from './processes.ts';
import { gatedDescribe, requirePrograms } from './skip.ts';
import { makeTempDir } from './tmp.ts';

export const PEBBLE_BIN = '/usr/bin/pebble';
export const CHALLTESTSRV_BIN = '/usr/bin/pebble-challtestsrv';

/** `describe` for suites that need Pebble: runs, skips with a notice, or fails in CI (SPEC §8). */
export const describePebble: typeof import('vitest').describe = gatedDescribe(
  requirePrograms([PEBBLE_BIN, CHALLTESTSRV_BIN], 'apt-get install pebble'),
);

export interface PebbleOptions {
  /** The port Pebble's validator connects to for http-01: the server under test. */
  httpPort: number;
  /** Pebble's environment, over the defaults (e.g. `{ PEBBLE_WFE_NONCEREJECT: '60' }`). */
  env?: Record<string, string>;
  /** Keys merged into the `"pebble"` object of its config (e.g. `externalAccountMACKeys`). */
  config?: Record<string, unknown>;
  /**
   * `-strict` (default true). In 2.4.0 strict mode only adds RFC 8555 checks: a challenge
   * POST body must be exactly `{}` (§7.5.1) and a JWS payload must not carry the ACME v1
   * `resource` field. A conforming client passes both, so strict catches our mistakes.
   */
  strict?: boolean;
  /** Pebble's own HTTPS certificate; default the run's test CA (testCa()). */
  ca?: TestCa;
  /**
   * `host:port` of the DNS server Pebble resolves through (`-dnsserver`), e.g. a real
   * authoritative server (test/harness/knot.ts). Default: challtestsrv's, which still runs either
   * way, but whose TXT and A records Pebble then no longer sees.
   */
  dnsServer?: string;
}

export interface Pebble {
  /** `https://127.0.0.1:<port>/dir` — the certificate covers `127.0.0.1` and `localhost`. */
  directoryUrl: string;
  /** `https://127.0.0.1:<port>` (roots, intermediates, certificate status). */
  managementUrl: string;
  /** `http://127.0.0.1:<port>` — challtestsrv's management API. */
  challtestsrvUrl: string;
  /** `127.0.0.1:<port>` — challtestsrv's DNS server (UDP and TCP), which Pebble resolves through. */
  dnsAddress: string;
  pids: { pebble: number; challtestsrv: number };
  /** `"Valid"`, `"Revoked"`, or `"NotFound"` when Pebble has no such certificate. Any hex form is accepted. */
  certStatus(serialHex: string): Promise<string>;
  /** PEM of every root (`/roots/0` is the default chain's), fetched per run: keys are new at every start. */
  roots(): Promise<string[]>;
  intermediates(): Promise<string[]>;
  /** Adds a TXT value (values accumulate); `host` with or without the trailing dot. */
  setTxt(host: string, value: string): Promise<void>;
  /** Removes every TXT value of `host`. */
  clearTxt(host: string): Promise<void>;
  /** Any other challtestsrv management call, e.g. `('add-a', { host: 'x.', addresses: ['127.0.0.1'] })`. */
  challtestsrv(endpoint: string, body: Record<string, unknown>): Promise<void>;
  /** Pebble's and challtestsrv's output so far, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

const DEFAULT_ENV = {
  PEBBLE_VA_NOSLEEP: '1', // no random 0–15 s sleep before each validation
  PEBBLE_AUTHZREUSE: '0', // every order gets fresh authorizations
  PEBBLE_WFE_NONCEREJECT: '0', // suites that test badNonce retries turn this up
};

/** Starts challtestsrv and Pebble; retries with new ports if one was taken meanwhile. */
export async function startPebble(opts: PebbleOptions): Promise<Pebble> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      lastError = err;
      if (!/address already in use/i.test(String(err))) throw err;
    }
  }
  throw lastError;
}

async function startOnce(opts: PebbleOptions): Promise<Pebble> {
  const ca = opts.ca ?? testCa();
  const caPem = readFileSync(ca.caCertPath, 'utf8');
  const dir = makeTempDir('pebble-');

  const [dnsPort, challMgmtPort, listenPort, mgmtPort, tlsPort] = await Promise.all([
    freePort({ udp: true }),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const dnsAddress = `127.0.0.1:${dnsPort}`;
  const challtestsrvUrl = `http://127.0.0.1:${challMgmtPort}`;

  const challtestsrv = await startProcess(
    CHALLTESTSRV_BIN,
    [
      '-management', `127.0.0.1:${challMgmtPort}`,
      '-dns01', dnsAddress,
      // Only the DNS server: http-01 answers come from the server under test on httpPort.
      '-http01', '',
      '-https01', '',
      '-tlsalpn01', '',
      '-defaultIPv4', '127.0.0.1',
      // Pebble asks AAAA first; an empty default makes every name resolve to 127.0.0.1 only.
      '-defaultIPv6', '',
    ],
    {
      logFile: join(dir, 'challtestsrv.log'),
      readyWhen: async () => (await fetch(`${challtestsrvUrl}/`)).status > 0 && (await dnsAnswers(dnsPort)),
      readyTimeoutMs: 15_000,
    },
  );

  let pebble: RunningProcess;
  try {
    const configPath = join(dir, 'pebble-config.json');
    writeFileSync(
      configPath,
      JSON.stringify(
        {
          pebble: {
            listenAddress: `127.0.0.1:${listenPort}`,
            managementListenAddress: `127.0.0.1:${mgmtPort}`,
            certificate: ca.leafCertPath,
            privateKey: ca.leafKeyPath,
            httpPort: opts.httpPort,
            tlsPort,
            ocspResponderURL: '',
            externalAccountBindingRequired: false,
            ...opts.config,
          },
        },
        null,
        2,
      ),
    );
    const directoryUrl = `https://127.0.0.1:${listenPort}/dir`;
    pebble = await startProcess(
      PEBBLE_BIN,
      ['-config', configPath, '-dnsserver', opts.dnsServer ?? dnsAddress, `-strict=${opts.strict ?? true}`],
      {
        env: { ...DEFAULT_ENV, ...opts.env },
        logFile: join(dir, 'pebble.log'),
        readyWhen: async () => (await get(directoryUrl, caPem)).status === 200,
        readyTimeoutMs: 15_000,
      },
    );
  } catch (err) {
    await challtestsrv.stop();
    throw err;
  }

  const managementUrl = `https://127.0.0.1:${mgmtPort}`;
  const challtestsrvCall = async (endpoint: string, body: Record<string, unknown>): Promise<void> => {
    const res = await fetch(`${challtestsrvUrl}/${endpoint}`, { method: 'POST', body: JSON.stringify(body) });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`challtestsrv ${endpoint}: HTTP ${res.status}`);
  };
  const pemList = async (path: string): Promise<string[]> => {
    const pems: string[] = [];
    for (let n = 0; ; n++) {
      const res = await get(`${managementUrl}${path}${n}`, caPem);
      if (res.status === 404) return pems;
      if (res.status !== 200) throw new Error(`pebble ${path}${n}: HTTP ${res.status}`);
      pems.push(res.body);
    }
  };

  return {
    directoryUrl: `https://127.0.0.1:${listenPort}/dir`,
    managementUrl,
    challtestsrvUrl,
    dnsAddress,
    pids: { pebble: pebble.pid, challtestsrv: challtestsrv.pid },
    async certStatus(serialHex) {
      const res = await get(`${managementUrl}/cert-status-by-serial/${normalizeSerial(serialHex)}`, caPem);
      if (res.status === 404) return 'NotFound';
      if (res.status !== 200) throw new Error(`pebble cert-status-by-serial: HTTP ${res.status}`);
      return (JSON.parse(res.body) as { Status: string }).Status;
    },
    roots: () => pemList('/roots/'),
    intermediates: () => pemList('/intermediates/'),
    setTxt: (host, value) => challtestsrvCall('set-txt', { host: fqdn(host), value }),
    clearTxt: (host) => challtestsrvCall('clear-txt', { host: fqdn(host) }),
    challtestsrv: challtestsrvCall,
    logs: () => `--- pebble ---\n${pebble.output()}\n--- challtestsrv ---\n${challtestsrv.output()}`,
    async stop() {
      await Promise.all([pebble.stop(), challtestsrv.stop()]);
    },
  };
}

/** Pebble's management API wants lower-case hex without leading zeros (Go's big.Int.Text(16)). */
export function normalizeSerial(serialHex: string): string {
  const hex = serialHex.replace(/[:\s]/g, '').toLowerCase().replace(/^0+/, '');
  if (!/^[0-9a-f]*$/.test(hex)) throw new Error(`not a hex serial: ${serialHex}`);
  return hex === '' ? '0' : hex;
}

function fqdn(host: string): string {
  return host.endsWith('.') ? host : `${host}.`;
}

/** True once challtestsrv's DNS server answers an A query (any name gets the default address). */
async function dnsAnswers(port: number): Promise<boolean> {
  const resolver = new Resolver({ timeout: 300, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const addresses = await resolver.resolve4('harness-ready.example.com');
  return addresses.includes('127.0.0.1');
}

/**
 * GET over HTTPS trusting exactly `caPem`. The harness does not depend on NODE_EXTRA_CA_CERTS
 * for its own calls, so it also works from a script started without it (bench).
 */
function get(url: string, caPem: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: caPem, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: GET ${url}`)));
    req.on('error', reject);
    req.end();
  });
}
