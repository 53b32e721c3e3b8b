// A host under test wired to its own Pebble: the fixture every Pebble contract suite starts with.
// Pebble's validator connects to the host's HTTP port for http-01, and every name resolves to
// 127.0.0.1 through challtestsrv.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startPebble, type Pebble, type PebbleOptions } from './pebble.ts';
import { freePort } from './ports.ts';
import { startHost, type HostKind, type HostUnderTest, type HostOptions } from './hosts.ts';
import { makeTempDir } from './tmp.ts';
import { startDohForwarder } from './dns-helpers.ts';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export class AdminClient {
  constructor(
    readonly baseUrl: string,
    public token?: string,
  ) {}

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  get = <T = any>(path: string, headers?: Record<string, string>) => this.request<T>('GET', path, undefined, headers);
  post = <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => this.request<T>('POST', path, body ?? {}, headers);
  delete = <T = any>(path: string) => this.request<T>('DELETE', path);
}

export interface World {
  kind: HostKind;
  host: HostUnderTest;
  pebble: Pebble;
  api: AdminClient;
  /** A fresh random name under example.com (challtestsrv resolves every name to 127.0.0.1). */
  domain(label?: string): string;
  /** A fresh object name. */
  name(prefix?: string): string;
  stop(): Promise<void>;
}

export interface WorldOptions {
  pebble?: Omit<PebbleOptions, 'httpPort'>;
  host?: Omit<HostOptions, 'httpPort'>;
  /** Run POST /api/v1/setup (default true). */
  setup?: boolean;
}

export async function startWorld(kind: HostKind, opts: WorldOptions = {}): Promise<World> {
  const httpPort = await freePort();
  const pebble = await startPebble({ httpPort, ...opts.pebble });
  // dns-01 records are looked for where Pebble looks: challtestsrv's DNS server (the Worker
  // reaches it through a DoH relay, as it has only DNS over HTTPS).
  const doh = kind === 'worker' ? await startDohForwarder(pebble.dnsAddress) : undefined;
  const dnsEnv: Record<string, string> = kind === 'node' ? { CERTKEEP_DNS_SERVERS: pebble.dnsAddress } : { DOH_URL: doh!.url };
  let host: HostUnderTest;
  try {
    host = await startHost(kind, { httpPort, ...opts.host, env: { ...dnsEnv, ...opts.host?.env } });
  } catch (err) {
    await Promise.allSettled([pebble.stop(), doh?.stop()]);
    throw err;
  }
  const api = new AdminClient(host.baseUrl);
  const world: World = {
    kind,
    host,
    pebble,
    api,
    domain: (label = 'test') => `${label}-${randomBytes(5).toString('hex')}.example.com`,
    name: (prefix = 'c') => `${prefix}-${randomBytes(5).toString('hex')}`,
    async stop() {
      await Promise.allSettled([host.stop(), pebble.stop(), doh?.stop()]);
    },
  };
  if (opts.setup !== false) {
    const res = await api.post('/api/v1/setup', setupBody(pebble), host.setupHeaders);
    if (res.status !== 201) {
      await world.stop();
      throw new Error(`setup failed: ${res.status} ${res.text}\n${host.logs().slice(-4000)}`);
    }
    api.token = res.body.token;
  }
  return world;
}

export function setupBody(pebble: Pebble, extra: Record<string, unknown> = {}) {
  return {
    adminEmail: 'admin@example.com',
    adminPassword: 'correct horse battery staple',
    acme: { directoryUrl: pebble.directoryUrl, email: 'admin@example.com', termsOfServiceAgreed: true },
    ...extra,
  };
}

/** Creates a certificate and waits for its order; returns the API keys. Throws with the problem on failure. */
export async function issueCertificate(world: World, body: Record<string, unknown>) {
  const created = await world.api.post('/api/v1/certificates', body);
  if (created.status !== 201) throw new Error(`create failed: ${created.status} ${created.text}`);
  const issued = await world.api.post(`/api/v1/certificates/${body.name}/issue?wait=true`);
  if (issued.status !== 200) throw new Error(`issue failed: ${issued.status} ${issued.text}\n${world.host.logs().slice(-3000)}`);
  return { created: created.body, certificate: issued.body };
}

/**
 * Waits until every named certificate is valid, as the scheduler obtains it (no `issue`, which
 * would place another order if the first has ended); returns the ms that took. Throws when one is
 * invalid, or with the host's log when the time is up.
 */
export async function waitUntilValid(world: World, names: string[], timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const states = await Promise.all(names.map(async (n) => (await world.api.get(`/api/v1/certificates/${n}`)).body));
    const failed = states.find((c) => c.status === 'invalid');
    if (failed) throw new Error(`${failed.name} failed: ${JSON.stringify(failed.lastError)}`);
    if (states.every((c) => c.status === 'valid')) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`not valid after ${timeoutMs} ms: ${states.map((c) => `${c.name}=${c.status}`).join(', ')}\n${world.host.logs().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs openssl with the given args; returns stdout (throws with stderr on failure). */
export function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Writes text to a fresh temp file and returns its path. */
export function tempFile(name: string, content: string): string {
  const path = join(makeTempDir('f-'), name);
  writeFileSync(path, content);
  return path;
}
