// The tracking pages through the real app on a libSQL file, signed in with a real session: the
// merged list with its days-left badges (red under 7 days, amber under 21, as Certera) and
// problem badges, uploading a DER file and refusing one with a key in it, adding a server that is
// scanned at once (a node:tls server on loopback), "Scan now", stopping, the Worker's notice, and
// the certificate page saying when a server still presents an earlier certificate ("renewed but
// never deployed").
import { BY_CLI } from '../../domain/audit.ts';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { certificates, trackingHistory, trackingTargets } from '../../db/schema.ts';
import { createCertificate } from '../../domain/certificates.ts';
import { issuedStatements } from '../../domain/tracking/tracking.ts';
import { parseIpList } from '../ip.ts';
import { nodeTlsScan } from '../../../node-host/tls-scan.ts';
import { signedInPageApp, type PageApp } from '../../../test/harness/page-app.ts';
import { toLoopback } from '../../../test/harness/tracking-app.ts';
import { fieldErrorText, decode, unlabelledControls } from '../../../test/harness/markup.ts';
import { freePort } from '../../../test/harness/ports.ts';
import { makeCa, makeLeaf, type Issued } from '../../../test/fixtures/tracking/pki.ts';

let f: PageApp;
beforeEach(async () => {
  f = await signedInPageApp('tracking-pages');
});
afterEach(() => f.close());

const send = (path: string, body: URLSearchParams | FormData) => {
  body.set('_csrf', f.csrf);
  return f.call(path, { method: 'POST', body });
};
const canScan = () => {
  f.deps.tlsScan = nodeTlsScan({ allow: parseIpList('127.0.0.1/32', { defaultLoopback: false }), resolve: toLoopback });
};
const text = (markup: string) => decode(markup.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').replace(/ ([,.:])/g, '$1'));

/** A node:tls server on loopback presenting `leaf` (changeable), for the pages that scan. */
async function tlsServer(leaf: Issued, chain: Issued[]) {
  const port = await freePort();
  let current = tls.createSecureContext({ cert: leaf.pem + chain.map((c) => c.pem).join(''), key: leaf.keyPem });
  const server = tls.createServer({ SNICallback: (_n, cb) => cb(null, current) }, (s) => s.end());
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    present(next: Issued) {
      current = tls.createSecureContext({ cert: next.pem + chain.map((c) => c.pem).join(''), key: next.keyPem });
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('the list', () => {
  it('shows days left as badges and the problems of each target', async () => {
    const pems = [];
    for (const [name, to] of [['red.example.com', 5], ['amber.example.com', 15], ['fine.example.com', 60], ['gone.example.com', -2]] as const) {
      pems.push((await makeLeaf({ names: [name], from: -80, to })).pem);
    }
    const body = new FormData();
    body.set('source', 'upload');
    body.set('pem', pems.join(''));
    const uploaded = await send('/tracking', body);
    expect(uploaded.status).toBe(303);
    expect(uploaded.headers.get('location')).toBe('/tracking?source=upload&notice=uploaded');
    // A server with problems, as its scans found them.
    const [row] = await f.deps.db.db.select().from(trackingTargets).where(eq(trackingTargets.subject, 'fine.example.com'));
    await f.deps.db.db.update(trackingTargets).set({ chainValid: false, nameMatches: false, problems: 'unreachable,untrusted,name-mismatch', problemRank: 0 }).where(eq(trackingTargets.id, row.id));

    const page = await f.call('/tracking?sort=expiry');
    expect(page.status).toBe(200);
    expect(unlabelledControls(page.text)).toEqual([]);
    const rows = [...page.text.matchAll(/<tr><td data-label="Certificate">([\s\S]*?)<\/tr>/g)].map((m) => text(m[1]));
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(/^\s*gone\.example\.com .* Expired/);
    expect(page.text).toMatch(/red\.example\.com[\s\S]*?<span class="badge expired">4 days left<\/span>/);
    expect(page.text).toMatch(/amber\.example\.com[\s\S]*?<span class="badge pending">14 days left<\/span>/);
    expect(page.text).toMatch(/fine\.example\.com[\s\S]*?<span class="muted">59 days left<\/span>/);
    expect(rows[3]).toContain('Unreachable Untrusted Name mismatch');
    expect(text(page.text)).toContain('Needs attention: 1 expired, 2 expiring within 21 days, 1 with a problem.');
    // Filters and sorts are the API's, in SQL.
    const problems = await f.call('/tracking?status=problems');
    expect([...problems.text.matchAll(/<tr><td data-label="Certificate">/g)]).toHaveLength(1);
    expect((await f.call('/tracking?sort=size')).status).toBe(400);
    // Without a scanner (a Worker) the page says that servers are not scanned here.
    expect(text(page.text)).toContain('Scans are a node-host feature.');
  });
});

describe('adding', () => {
  it('uploads a DER file, and refuses a file with a private key in it, storing nothing', async () => {
    const leaf = await makeLeaf({ names: ['der.example.com'], to: 30 });
    const der = new FormData();
    der.set('source', 'upload');
    der.set('file', new File([leaf.der as Uint8Array<ArrayBuffer>], 'der.crt'));
    const res = await send('/tracking', der);
    expect(res.status).toBe(303);
    const detail = await f.call(res.headers.get('location')!);
    expect(text(detail.text)).toContain('The certificates were added.');
    expect(detail.text).toContain('<h1>der.example.com</h1>');

    const keyed = new FormData();
    keyed.set('source', 'upload');
    keyed.set('file', new File([(await makeLeaf({ names: ['keyed.example.com'] })).pem + leaf.keyPem], 'bundle.pem'));
    const refused = await send('/tracking', keyed);
    expect(refused.status).toBe(400);
    expect(fieldErrorText(refused.text, 'field-file')).toMatch(/private key/);
    expect(refused.text).not.toContain(leaf.keyPem.split('\n')[1]);
    expect(await f.deps.db.db.select().from(trackingTargets)).toHaveLength(1);
    // A URL that cannot be: the error is on its field.
    canScan();
    const bad = new URLSearchParams({ source: 'url', url: 'www.example.com:99999' });
    const badRes = await send('/tracking', bad);
    expect(badRes.status).toBe(400);
    expect(fieldErrorText(badRes.text, 'field-url')).toMatch(/^Port out of range: "99999" \(1 to 65535\)/);
  });

  it('adds a server and scans it at once; "Scan now" and stopping work from its page', async () => {
    canScan();
    const ca = await makeCa('Page Test CA');
    const server = await tlsServer(await makeLeaf({ names: ['web.example.com'], issuer: ca }), [ca]);
    try {
      const added = await send('/tracking', new URLSearchParams({ source: 'url', url: `web.example.com:${server.port}` }));
      expect(added.status).toBe(303);
      const path = added.headers.get('location')!.replace(/\?.*/, '');
      const page = await f.call(path);
      expect(unlabelledControls(page.text)).toEqual([]);
      expect(text(page.text)).toContain(`Server web.example.com:${server.port}`);
      expect(page.text).toContain('<h1>web.example.com</h1>');
      // Not one of Certkeep's CAs: untrusted, said in words and as a badge.
      expect(text(page.text)).toMatch(/Chain Untrusted SELF_SIGNED_CERT_IN_CHAIN: it does not lead to a root of this system or to one of Certkeep’s own CAs/);
      expect(text(page.text)).toContain('valid for web.example.com');
      const scanned = await send(`${path}/scan`, new URLSearchParams());
      expect(scanned.headers.get('location')).toBe(`${path}?notice=scanned`);
      expect((await f.call(`${path}/delete`)).status).toBe(200);
      expect((await send(`${path}/delete`, new URLSearchParams())).headers.get('location')).toBe('/tracking?notice=deleted');
      expect(await f.deps.db.db.select().from(trackingTargets)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('on a Worker: the add page offers uploads only, and says why', async () => {
    const page = await f.call('/tracking/-/new');
    expect(page.status).toBe(200);
    expect(unlabelledControls(page.text)).toEqual([]);
    expect(page.text).not.toContain('name="url"');
    expect(text(page.text)).toContain('Scans are a node-host feature. This server runs as a Cloudflare Worker');
    expect(page.text).toContain('name="pem"');
  });
});

describe('the certificate page', () => {
  it('says when a tracked server still presents the earlier certificate after a renewal, and since when', async () => {
    canScan();
    const ca = await makeCa('Renewal CA');
    const first = await makeLeaf({ names: ['app.example.com'], issuer: ca });
    const { row } = await createCertificate(f.deps, BY_CLI, { name: 'app', domains: ['app.example.com', '*.app.example.com'], challenge: 'http-01' });
    const store = async (leaf: Issued) => {
      await f.deps.db.batch([
        f.deps.db.db.update(certificates).set({ status: 'valid', pem: leaf.pem + ca.pem, serial: leaf.serial.replace(/^0+/, '').toLowerCase() }).where(eq(certificates.id, row.id)),
        ...(await issuedStatements(f.deps, row.id, leaf.pem + ca.pem)),
      ]);
    };
    await store(first);
    const server = await tlsServer(first, [ca]);
    const wild = await tlsServer(await makeLeaf({ names: ['other.example.com'], issuer: ca }), [ca]);
    try {
      for (const url of [`app.example.com:${server.port}`, `api.app.example.com:${wild.port}`, `unrelated.example.com:${server.port}`]) {
        expect((await send('/tracking', new URLSearchParams({ source: 'url', url }))).status).toBe(303);
      }
      let page = await f.call('/certificates/app');
      expect(text(page.text)).toContain(`app.example.com:${server.port} Current presents the current serial`);
      // A wildcard name covers the server one label below; a server of another name is not listed.
      expect(text(page.text)).toContain(`api.app.example.com:${wild.port} Another certificate presents serial`);
      expect(page.text).not.toContain('unrelated.example.com');

      // Renewed: Certkeep serves the new certificate, the server still presents the first one.
      const renewed = await makeLeaf({ names: ['app.example.com'], issuer: ca });
      f.deps.now = () => Date.now() + 1000;
      await store(renewed);
      page = await f.call('/certificates/app');
      const firstSerial = first.serial.replace(/^0+/, '').toLowerCase();
      expect(text(page.text)).toMatch(new RegExp(`app\\.example\\.com:${server.port} Renewed but never deployed still presents the earlier serial ${firstSerial} \\(since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\\), although the current one was obtained`));

      // Deployed: the next scan sees the new one.
      server.present(renewed);
      const [target] = await f.deps.db.db.select().from(trackingTargets).where(eq(trackingTargets.host, 'app.example.com'));
      await send(`/tracking/${target.id}/scan`, new URLSearchParams());
      page = await f.call('/certificates/app');
      expect(text(page.text)).toContain(`app.example.com:${server.port} Current presents the current serial`);
      expect(await f.deps.db.db.select().from(trackingHistory).where(eq(trackingHistory.targetId, target.id))).toHaveLength(2);
    } finally {
      await server.close();
      await wild.close();
    }
  });
});
