// Downloads answered from memory (src/http/download-cache.ts) stay exact when the database
// changes under them — through the host's own admin API or through another host on the same
// libSQL file — and keep the checks of the download API. Real processes, a real Pebble: host A
// listens where Pebble validates and obtains the certificate; host B shares the data directory
// (database and master key) and serves downloads from memory.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { describePebble, startPebble, type Pebble } from '../test/harness/pebble.ts';
import { freePort } from '../test/harness/ports.ts';
import { makeTempDir } from '../test/harness/tmp.ts';
import { startNodeHost, type NodeHostUnderTest } from '../test/harness/hosts.ts';
import { AdminClient, setupBody } from '../test/harness/world.ts';

describePebble('downloads from memory on two hosts sharing one database', () => {
  let pebble: Pebble;
  let a: NodeHostUnderTest;
  let b: NodeHostUnderTest;
  let apiA: AdminClient;
  let apiB: AdminClient;
  beforeAll(async () => {
    const httpPort = await freePort();
    pebble = await startPebble({ httpPort });
    const dataDir = makeTempDir('download-memory-');
    const env = { CERTKEEP_TICK_SECONDS: '3600' };
    a = await startNodeHost({ httpPort, dataDir, env });
    apiA = new AdminClient(a.baseUrl);
    const setup = await apiA.post('/api/v1/setup', setupBody(pebble));
    if (setup.status !== 201) throw new Error(`setup failed: ${setup.text}`);
    apiA.token = setup.body.token;
    // B lets only 127.0.0.1 download: answers it keeps for that address are not for others.
    b = await startNodeHost({ dataDir, env: { ...env, CERTKEEP_ALLOW_API: '127.0.0.1/32' } });
    apiB = new AdminClient(b.baseUrl, apiA.token);
  });
  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await pebble?.stop();
  });

  const download = async (host: NodeHostUnderTest, name: string, apikey: string, path = 'certificate') => {
    const res = await fetch(`${host.baseUrl}/api/${path}/${name}`, { headers: { apikey } });
    return { status: res.status, body: await res.text(), etag: res.headers.get('etag') };
  };
  /**
   * Downloads from B until its memory holds the answer: memory is filled only once the database
   * has been still for a moment after the last write (node-host/db-version.ts, QUIET_MS).
   */
  const warm = async (name: string, apikey: string) => {
    for (let i = 0; i < 3; i++) {
      expect((await download(b, name, apikey)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** One GET on its own connection from `localAddress`, written by hand as curl writes it. */
  const rawGet = (host: NodeHostUnderTest, path: string, apikey: string, localAddress: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: host.httpPort, localAddress });
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        text += chunk;
        const head = text.indexOf('\r\n\r\n');
        const length = /\r\ncontent-length: (\d+)\r\n/i.exec(text.slice(0, head));
        if (head < 0 || !length || Buffer.byteLength(text.slice(head + 4)) < Number(length[1])) return;
        socket.destroy();
        resolve({ status: Number(text.slice(9, 12)), body: text.slice(head + 4) });
      });
      socket.on('error', reject);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${host.httpPort}\r\nUser-Agent: curl/8.14.1\r\nAccept: */*\r\napikey: ${apikey}\r\n\r\n`);
    });

  async function issued(name: string) {
    const created = await apiA.post('/api/v1/certificates', { name, domains: [`${name}.example.com`] });
    expect(created.status).toBe(201);
    expect((await apiA.post(`/api/v1/certificates/${name}/issue?wait=true`)).status).toBe(200);
    return created.body as { apiKeys: string[]; key: { name: string; apiKeys: string[] } };
  }

  it('refuses a rotated API key at once, on the other host and on its own', async () => {
    const name = `rot-${randomBytes(4).toString('hex')}`;
    const cert = await issued(name);
    await warm(name, cert.apiKeys[0]);
    const pem = (await download(b, name, cert.apiKeys[0])).body;

    const rotated = await apiA.post(`/api/v1/certificates/${name}/api-keys/1`);
    expect(rotated.status).toBe(200);
    expect((await download(b, name, cert.apiKeys[0])).status).toBe(401);
    expect((await download(b, name, rotated.body.apiKey)).body).toBe(pem);
    expect((await download(b, name, cert.apiKeys[1])).body).toBe(pem);

    // The same through B's own admin API, with B's memory warm again.
    await warm(name, cert.apiKeys[1]);
    const again = await apiB.post(`/api/v1/certificates/${name}/api-keys/2`);
    expect(again.status).toBe(200);
    expect((await download(b, name, cert.apiKeys[1])).status).toBe(401);
    expect((await download(b, name, again.body.apiKey)).body).toBe(pem);
  }, 60_000);

  it('serves a renewed certificate at once, with a new ETag', async () => {
    const name = `renew-${randomBytes(4).toString('hex')}`;
    const cert = await issued(name);
    await warm(name, cert.apiKeys[0]);
    const before = await download(b, name, cert.apiKeys[0]);
    expect((await apiA.post(`/api/v1/certificates/${name}/issue?wait=true`)).status).toBe(200);
    const after = await download(b, name, cert.apiKeys[0]);
    expect(after.status).toBe(200);
    expect(after.body).not.toBe(before.body);
    expect(after.etag).not.toBe(before.etag);
  }, 60_000);

  it('stops serving a deleted certificate at once', async () => {
    const name = `del-${randomBytes(4).toString('hex')}`;
    const cert = await issued(name);
    await warm(name, cert.apiKeys[0]);
    expect((await apiA.delete(`/api/v1/certificates/${name}`)).status).toBe(204);
    expect((await download(b, name, cert.apiKeys[0])).status).toBe(401);
  }, 60_000);

  it('keeps the allow-list, the API key check and the staging guard on answers from memory', async () => {
    const name = `guard-${randomBytes(4).toString('hex')}`;
    const cert = await issued(name);
    await warm(name, cert.apiKeys[0]);
    const pem = (await download(b, name, cert.apiKeys[0])).body;
    // The same request from another loopback address, on a fresh connection each time.
    for (let i = 0; i < 2; i++) expect(await rawGet(b, `/api/certificate/${name}`, cert.apiKeys[0], '127.0.0.2')).toMatchObject({ status: 403 });
    expect(await rawGet(b, `/api/certificate/${name}`, cert.apiKeys[0], '127.0.0.1')).toEqual({ status: 200, body: pem });
    for (let i = 0; i < 2; i++) {
      expect((await rawGet(b, `/api/certificate/${name}`, `${cert.apiKeys[0]}x`, '127.0.0.1')).status).toBe(401);
      expect((await rawGet(b, `/api/certificate/${name}?staging=true`, cert.apiKeys[0], '127.0.0.1')).status).toBe(404);
    }
  }, 60_000);
});
