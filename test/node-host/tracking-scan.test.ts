// Tracking scans against real TLS servers on loopback: `openssl s_server` (a chain up to one of
// Certkeep's own CAs; then another certificate in its place), node:tls choosing by SNI (self-
// signed, another name, expired, an IP address without SNI, IPv6), mail servers that upgrade on
// STARTTLS (SMTP, IMAP, POP3), and the private-address policy refusing a name that resolves
// where it must not go. The app runs in this process with the node host's real scanner
// (test/harness/tracking-app.ts); what a user sees is checked: the API's items, the history, and
// the event rows the notifications would send.
import { BY_CLI } from '../../src/domain/audit.ts';
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { certificates, events } from '../../src/db/schema.ts';
import { createCertificate } from '../../src/domain/certificates.ts';
import { backfillIssued } from '../../src/domain/tracking/tracking.ts';
import { trackingTick } from '../../src/domain/tracking/scan.ts';
import { nodeTlsScan } from '../../node-host/tls-scan.ts';
import type { ResolveAll } from '../../node-host/outbound.ts';
import { parseIpList } from '../../src/http/ip.ts';
import { TlsScanError } from '../../src/domain/tracking/scan-types.ts';
import { freePort } from '../harness/ports.ts';
import { trackingApp, type TrackingApp } from '../harness/tracking-app.ts';
import { makeCa, makeLeaf, type Issued } from '../fixtures/tracking/pki.ts';
import { startMailServer, startSServer, startSilentServer, startSniServer, type TestServer } from '../fixtures/tracking/servers.ts';

/** Names ending in .inside.test resolve to a private address; 127-2.test to 127.0.0.2; every other name to 127.0.0.1. */
const resolve: ResolveAll = (name, _options, callback) =>
  callback(null, [{ address: name.endsWith('.inside.test') ? '10.0.0.8' : name.endsWith('127-2.test') ? '127.0.0.2' : '127.0.0.1', family: 4 }]);

let f: TrackingApp;
let root: Issued;
let intermediate: Issued;
const servers: Array<{ close(): Promise<void> } | { stop(): Promise<void> }> = [];

beforeAll(async () => {
  f = await trackingApp({ resolve });
  root = await makeCa('Tracking Test Root');
  intermediate = await makeCa('Tracking Test Intermediate', root);
  // A certificate Certkeep obtained from this CA: the top of its chain (the intermediate) is one
  // of Certkeep's own CAs from now on, the way Pebble's is in the contract suite.
  const { row } = await createCertificate(f.deps, BY_CLI, { name: 'own', domains: ['own.example.test'], challenge: 'http-01' });
  const own = await makeLeaf({ names: ['own.example.test'], issuer: intermediate });
  await f.deps.db.db.update(certificates).set({ status: 'valid', pem: own.pem + intermediate.pem }).where(eq(certificates.id, row.id));
  await backfillIssued(f.deps);
});
afterAll(async () => {
  await Promise.allSettled(servers.map((s) => ('close' in s ? s.close() : s.stop())));
  f?.close();
});

/** Adds a URL; its first scan starts in the background, and is waited for here. */
async function track(url: string, starttls?: string) {
  const added = await f.api('POST', '/api/v1/tracking', { url, ...(starttls ? { starttls } : {}) });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  await f.settled();
  return added.body.id as string;
}

async function scan(id: string) {
  const res = await f.api('POST', `/api/v1/tracking/${id}/scan?wait=true`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const eventsOf = async (id: string) =>
  (await f.deps.db.db.select().from(events).where(eq(events.subjectId, id)).orderBy(events.id)).map((e) => ({ type: e.type, title: e.title, body: e.body, data: JSON.parse(e.data) }));

describe('openssl s_server', () => {
  it("verifies a chain up to Certkeep's own CA, records a change of certificate once, with its event and history", async () => {
    const port = await freePort();
    const first = await makeLeaf({ names: ['www.shop.test', 'shop.test'], issuer: intermediate });
    let server = await startSServer(port, first, [intermediate]);
    servers.push(server);
    const id = await track(`https://www.shop.test:${port}`);
    const item = await scan(id);
    expect(item).toMatchObject({ source: 'url', target: `www.shop.test:${port}`, subject: 'www.shop.test', sans: ['www.shop.test', 'shop.test'], issuer: 'Tracking Test Intermediate', chainValid: true, nameMatches: true, lastError: null });
    expect(item.serial).toBe(first.serial.replace(/^0+/, '').toLowerCase());
    expect(item.lastScanAt).not.toBeNull();
    expect(item.history).toHaveLength(1);
    // Scanned again, unchanged: no new history, no event.
    expect((await scan(id)).history).toHaveLength(1);
    expect(await eventsOf(id)).toEqual([]);

    // The server is given another certificate (stopped by pid, started again on the same port).
    await server.stop();
    const second = await makeLeaf({ names: ['www.shop.test'], issuer: intermediate, to: 30 });
    server = await startSServer(port, second, [intermediate]);
    servers.push(server);
    const changed = await scan(id);
    expect(changed.serial).toBe(second.serial.replace(/^0+/, '').toLowerCase());
    expect(changed.history.map((h: { sha256: string }) => h.sha256)).toEqual([changed.sha256, item.sha256]);
    expect(Date.parse(changed.changedAt)).toBeGreaterThanOrEqual(Date.parse(item.changedAt));
    const [event] = await eventsOf(id);
    expect(event.type).toBe('tracking.changed');
    expect(event.title).toBe(`www.shop.test:${port} presents another certificate`);
    expect(event.body).toContain(`serial ${changed.serial}`);
    expect(event.body).toContain(`Before, it presented the certificate for www.shop.test (serial ${item.serial}`);
    expect(event.data.old.sha256).toBe(item.sha256);
    expect(event.data.new.sha256).toBe(changed.sha256);
    expect((await scan(id)).history).toHaveLength(2);
    expect(await eventsOf(id)).toHaveLength(1);
    await server.stop();
  });
});

describe('node:tls', () => {
  let sni: TestServer;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    const ipLeaf = await makeLeaf({ names: ['127.0.0.1'], issuer: intermediate, commonName: 'loopback' });
    sni = await startSniServer('127.0.0.1', port, { leaf: ipLeaf, chain: [intermediate] }, {
      'self.shop.test': { leaf: await makeLeaf({ names: ['self.shop.test'] }) },
      'wrong.shop.test': { leaf: await makeLeaf({ names: ['other.example.test', '*.elsewhere.test'], issuer: intermediate }), chain: [intermediate] },
      'old.shop.test': { leaf: await makeLeaf({ names: ['old.shop.test'], issuer: intermediate, from: -100, to: -3 }), chain: [intermediate] },
      'a.wild.shop.test': { leaf: await makeLeaf({ names: ['*.wild.shop.test'], issuer: intermediate }), chain: [intermediate] },
    });
    servers.push(sni);
  });

  it('says when a chain is self-signed or the name is another, with one problem event each however often it is scanned', async () => {
    const self = await track(`self.shop.test:${port}`);
    const item = await scan(self);
    expect(item).toMatchObject({ subject: 'self.shop.test', chainValid: false, nameMatches: true, lastError: null });
    await scan(self);
    const selfEvents = await eventsOf(self);
    expect(selfEvents.map((e) => [e.type, e.data.problem])).toEqual([['tracking.problem', 'untrusted']]);
    expect(selfEvents[0].body).toMatch(/does not lead to a trusted root \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);

    const wrong = await track(`wrong.shop.test:${port}`);
    expect(await scan(wrong)).toMatchObject({ subject: 'other.example.test', chainValid: true, nameMatches: false });
    await scan(wrong);
    const wrongEvents = await eventsOf(wrong);
    expect(wrongEvents.map((e) => [e.type, e.data.problem])).toEqual([['tracking.problem', 'name-mismatch']]);
    expect(wrongEvents[0].body).toContain('not valid for wrong.shop.test (it names other.example.test, *.elsewhere.test)');
    // A wildcard covers one label.
    expect(await scan(await track(`a.wild.shop.test:${port}`))).toMatchObject({ nameMatches: true, chainValid: true });

    const problems = await f.api('GET', '/api/v1/tracking?status=problems&sort=subject');
    expect(problems.body.items.map((i: { id: string }) => i.id)).toEqual([wrong, self]);
    expect((await f.api('GET', '/api/v1/tracking?status=untrusted')).body.items.map((i: { id: string }) => i.id)).toEqual([self]);
    expect((await f.api('GET', '/api/v1/tracking?status=mismatch')).body.items.map((i: { id: string }) => i.id)).toEqual([wrong]);
    // Each scan sent the target's name as SNI.
    expect(sni.servernames).toContain('self.shop.test');
    expect(sni.servernames).toContain('wrong.shop.test');
  });

  it('tells an expired certificate by its dates, not as an untrusted chain', async () => {
    const old = await track(`old.shop.test:${port}`);
    const item = await scan(old);
    expect(item).toMatchObject({ chainValid: true, nameMatches: true });
    expect(item.daysLeft).toBeLessThan(0);
    expect((await f.api('GET', '/api/v1/tracking?status=expired')).body.items.map((i: { id: string }) => i.id)).toContain(old);
    expect(await eventsOf(old)).toEqual([]);
  });

  it('connects to an IP address without SNI and matches it against the IP addresses of the certificate', async () => {
    const before = { names: sni.servernames.length, connections: sni.connections };
    const id = await track(`127.0.0.1:${port}`);
    expect(await scan(id)).toMatchObject({ subject: 'loopback', sans: ['127.0.0.1'], nameMatches: true, chainValid: true });
    // Two scans (the first one, and this one), neither with a name.
    expect(sni.connections - before.connections).toBe(2);
    expect(sni.servernames.length).toBe(before.names);
  });

  it('scans an IPv6 address', async (ctx) => {
    const v6port = await freePort();
    let v6: TestServer;
    try {
      v6 = await startSniServer('::1', v6port, { leaf: await makeLeaf({ names: ['::1'], issuer: intermediate, commonName: 'v6 loopback' }), chain: [intermediate] }, {});
    } catch (err) {
      console.warn(`[skip] IPv6: cannot listen on ::1 here (${(err as Error).message})`);
      ctx.skip();
      return;
    }
    servers.push(v6);
    const id = await track(`[::1]:${v6port}`);
    expect(await scan(id)).toMatchObject({ target: `[::1]:${v6port}`, subject: 'v6 loopback', nameMatches: true, chainValid: true, lastError: null });
    expect(v6.connections).toBe(2);
    expect(v6.servernames).toEqual([]);
  });
});

describe('STARTTLS', () => {
  it('upgrades SMTP (EHLO, STARTTLS), IMAP (a001 STARTTLS) and POP3 (STLS), then reads the certificate', async () => {
    for (const protocol of ['smtp', 'imap', 'pop3'] as const) {
      const port = await freePort();
      const leaf = await makeLeaf({ names: [`mail.${protocol}.test`], issuer: intermediate });
      const mail = await startMailServer(port, protocol, leaf, [intermediate]);
      servers.push(mail);
      const id = await track(`mail.${protocol}.test:${port}`, protocol);
      const item = await scan(id);
      expect(item, protocol).toMatchObject({ starttls: protocol, subject: `mail.${protocol}.test`, chainValid: true, nameMatches: true, lastError: null });
      // Two scans, each the same dialogue, each sending the name as SNI once in TLS.
      const dialogue = protocol === 'smtp' ? ['EHLO certkeep.invalid', 'STARTTLS'] : protocol === 'imap' ? ['a001 STARTTLS'] : ['STLS'];
      expect(mail.sessions, protocol).toEqual([dialogue, dialogue]);
      expect(mail.servernames, protocol).toEqual([`mail.${protocol}.test`, `mail.${protocol}.test`]);
    }
  });

  it('says so when a mail server offers no STARTTLS, and when it talks without end', async () => {
    const port = await freePort();
    const plain = await startMailServer(port, 'smtp', await makeLeaf({ names: ['plain.test'] }), [], { offerStartTls: false });
    servers.push(plain);
    const id = await track(`plain.test:${port}`, 'smtp');
    const item = await scan(id);
    expect(item.lastError).toBe(`plain.test:${port} does not offer STARTTLS (not in its EHLO answer)`);
    expect(plain.sessions).toEqual([['EHLO certkeep.invalid'], ['EHLO certkeep.invalid']]);
    const [problem] = await eventsOf(id);
    expect(problem.data.problem).toBe('unreachable');
    expect(problem.body).toContain('over SMTP STARTTLS');

    // The scanner itself: a line longer than it reads, and a server that never answers.
    const scanner = nodeTlsScan({ allow: parseIpList('127.0.0.1/32', { defaultLoopback: false }) });
    const longPort = await freePort();
    servers.push(await startMailServer(longPort, 'smtp', await makeLeaf({ names: ['long.test'] }), [], { longLine: true }));
    await expect(scanner({ host: '127.0.0.1', port: longPort, starttls: 'smtp', trustAnchors: [], timeoutMs: 5000 })).rejects.toMatchObject({ reason: 'starttls', message: expect.stringMatching(/line longer than 2048 bytes/) });
    const silentPort = await freePort();
    const silent = await startSilentServer('127.0.0.1', silentPort);
    servers.push(silent);
    const started = Date.now();
    await expect(scanner({ host: '127.0.0.1', port: silentPort, trustAnchors: [], timeoutMs: 400 })).rejects.toMatchObject({ reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(3000);
    await expect(scanner({ host: '127.0.0.1', port: silentPort, starttls: 'imap', trustAnchors: [], timeoutMs: 400 })).rejects.toBeInstanceOf(TlsScanError);
  });
});

describe('what cannot be reached', () => {
  it('refuses a name that resolves to an address the policy does not allow, and never connects there', async () => {
    // Something listens on 127.0.0.2 (loopback, but not in the allowed 127.0.0.1/32).
    const port = await freePort();
    const listener = net.createServer((s) => s.destroy());
    listener.listen(port, '127.0.0.2');
    await once(listener, 'listening');
    let connections = 0;
    listener.on('connection', () => connections++);
    try {
      const id = await track(`sneaky.127-2.test:${port}`);
      const item = await scan(id);
      expect(item.lastError).toMatch(/127\.0\.0\.2, a loopback address; tracking targets go there only when CERTKEEP_ALLOW_PRIVATE_TARGETS lists it/);
      expect(connections).toBe(0);
      const inside = await scan(await track('db.inside.test:5432'));
      expect(inside.lastError).toMatch(/10\.0\.0\.8, a private \(RFC 1918\) address/);
      expect(inside.chainValid).toBeNull();
    } finally {
      listener.close();
    }
  });

  it('raises "unreachable" once while nothing answers, and clears it when the server is back', async () => {
    const port = await freePort();
    const id = await track(`down.shop.test:${port}`);
    const down = await scan(id);
    expect(down.lastError).toMatch(/nothing accepts connections at down\.shop\.test:\d+ \(127\.0\.0\.1: connection refused\)/);
    await scan(id);
    expect((await eventsOf(id)).map((e) => e.data.problem)).toEqual(['unreachable']);
    expect((await f.api('GET', '/api/v1/tracking?status=unreachable')).body.items.map((i: { id: string }) => i.id)).toContain(id);
    const back = await startSniServer('127.0.0.1', port, { leaf: await makeLeaf({ names: ['down.shop.test'], issuer: intermediate }), chain: [intermediate] }, {});
    servers.push(back);
    const up = await scan(id);
    expect(up).toMatchObject({ lastError: null, chainValid: true, nameMatches: true });
    expect((await f.api('GET', '/api/v1/tracking?status=problems')).body.items.map((i: { id: string }) => i.id)).not.toContain(id);
    // Down again later: a new problem, a new event.
    await back.close();
    f.clock.now += 60_000;
    await scan(id);
    expect((await eventsOf(id)).map((e) => e.data.problem)).toEqual(['unreachable', 'unreachable']);
  });

  it('scans what is due at the tick, and the interval follows scanHours', async () => {
    const port = await freePort();
    const server = await startSniServer('127.0.0.1', port, { leaf: await makeLeaf({ names: ['due.shop.test'], issuer: intermediate }), chain: [intermediate] }, {});
    servers.push(server);
    const id = await track(`due.shop.test:${port}`);
    const first = (await f.api('GET', `/api/v1/tracking/${id}`)).body;
    expect(first.lastScanAt).not.toBeNull();
    expect(server.connections).toBe(1);
    // Not due again before scanHours (4 by default) have passed.
    f.clock.now += 3 * 3_600_000;
    await trackingTick(f.deps);
    expect(server.connections).toBe(1);
    expect((await f.api('PUT', '/api/v1/settings', { scanHours: 0 })).body.field).toBe('scanHours');
    const set = await f.api('PUT', '/api/v1/settings', { scanHours: 2 });
    expect(set.body.scanHours).toBe(2);
    // Two hours after its last scan: due at this tick.
    await trackingTick(f.deps);
    expect(server.connections).toBe(2);
    expect(Date.parse((await f.api('GET', `/api/v1/tracking/${id}`)).body.lastScanAt)).toBe(f.clock.now);
  });
});
