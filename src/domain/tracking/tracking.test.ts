// Tracking through the real app on a libSQL file, in this process (no server to scan here:
// test/node-host/tracking-scan.test.ts scans real TLS servers): uploads of PEM and DER, a
// private key in an upload refused with nothing stored, every bad input a 400 naming its field,
// the merged list paged in SQL along indexes (EXPLAIN QUERY PLAN), issued certificates tracked by
// themselves (and filled in for those issued before tracking existed), and the expiry notices
// found by time at the tick, once per threshold.
import { BY_CLI } from '../audit.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import * as schema from '../../db/schema.ts';
import { auditLog, certificates, events, trackingHistory, trackingTargets } from '../../db/schema.ts';
import { trackingApp, type TrackingApp } from '../../../test/harness/tracking-app.ts';
import { toBase64 } from '../../util/encoding.ts';
import { createCertificate } from '../certificates.ts';
import { DAY, makeCa, makeLeaf } from '../../../test/fixtures/tracking/pki.ts';
import { pageTracking, parseTrackingListQuery, trackingCounts } from './list.ts';
import { addUrlTarget, backfillIssued, issuedStatements } from './tracking.ts';
import { parseTrackingTarget } from './targets.ts';
import { expiryNotices, expiryStep } from './scan.ts';

type Fixture = TrackingApp;
const fixture = (opts: { worker?: boolean } = {}) => trackingApp(opts);

let f: Fixture;
afterEach(() => f?.close());

const rowCount = async (table: typeof trackingTargets | typeof trackingHistory | typeof events) => (await f.deps.db.db.select().from(table)).length;

describe('uploads', () => {
  beforeEach(async () => {
    f = await fixture();
  });

  it('tracks each certificate of a PEM upload, takes DER as base64, and keeps a chain with its leaf', async () => {
    const ca = await makeCa('Upload Test CA');
    const a = await makeLeaf({ names: ['a.example.com', 'www.a.example.com'], issuer: ca, to: 40 });
    const b = await makeLeaf({ names: ['b.example.com'], issuer: ca, to: 90 });
    const several = await f.api('POST', '/api/v1/tracking', { pem: `${a.pem}${b.pem}${ca.pem}` });
    expect(several.status, JSON.stringify(several.body)).toBe(201);
    // Two end-entity certificates: two entries; the CA certificate is their chain.
    expect(several.body.items.map((i: any) => i.subject).sort()).toEqual(['a.example.com', 'b.example.com']);
    const itemA = several.body.items.find((i: any) => i.subject === 'a.example.com');
    expect(Object.keys(itemA).sort()).toEqual(
      ['certificate', 'changedAt', 'chainValid', 'daysLeft', 'history', 'id', 'issuer', 'lastError', 'lastScanAt', 'nameMatches', 'notAfter', 'notBefore', 'sans', 'serial', 'sha256', 'source', 'starttls', 'subject'].sort(),
    );
    expect(itemA).toMatchObject({ source: 'upload', sans: ['a.example.com', 'www.a.example.com'], issuer: 'Upload Test CA', chainValid: null, nameMatches: null, lastScanAt: null, lastError: null });
    expect(itemA.daysLeft).toBe(Math.floor((Date.parse(itemA.notAfter) - f.clock.now) / DAY));
    expect([39, 40]).toContain(itemA.daysLeft);
    expect(itemA.serial).toBe(a.serial.replace(/^0+/, '').toLowerCase());
    expect(itemA.history).toEqual([{ sha256: itemA.sha256, seenAt: itemA.changedAt }]);

    const der = await makeLeaf({ names: ['der.example.com'], to: 10 });
    const fromDer = await f.api('POST', '/api/v1/tracking', { pem: toBase64(der.der) });
    expect(fromDer.status, JSON.stringify(fromDer.body)).toBe(201);
    expect(fromDer.body.items).toHaveLength(1);
    expect(fromDer.body.items[0].subject).toBe('der.example.com');

    // The same certificate again is refused, the whole upload with it.
    const again = await f.api('POST', '/api/v1/tracking', { pem: `${(await makeLeaf({ names: ['new.example.com'] })).pem}${b.pem}` });
    expect(again.status).toBe(409);
    expect(again.body.field).toBe('pem');
    expect(await rowCount(trackingTargets)).toBe(3);
    // Each addition is in the audit log, by the token that made it.
    const audit = await f.deps.db.db.select().from(auditLog).where(eq(auditLog.action, 'tracking.create'));
    expect(audit.map((a) => a.actorName)).toEqual(['tracking', 'tracking']);
  });

  it('refuses an upload with a private key in it, and stores nothing', async () => {
    const leaf = await makeLeaf({ names: ['keyed.example.com'] });
    for (const pem of [`${leaf.pem}${leaf.keyPem}`, `${leaf.keyPem}${leaf.pem}`]) {
      const res = await f.api('POST', '/api/v1/tracking', { pem });
      expect(res.status).toBe(400);
      expect(res.type).toBe('application/problem+json');
      expect(res.body.field).toBe('pem');
      expect(res.body.detail).toMatch(/private key/);
      // The key is not repeated back.
      expect(JSON.stringify(res.body)).not.toContain(leaf.keyPem.split('\n')[1]);
    }
    // A DER private key (PKCS#8) is refused as a key, not as "not a certificate".
    const pkcs8 = leaf.keyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    const der = await f.api('POST', '/api/v1/tracking', { pem: pkcs8 });
    expect(der.status).toBe(400);
    expect(der.body.detail).toMatch(/private key/);
    expect(await rowCount(trackingTargets)).toBe(0);
    expect(await rowCount(trackingHistory)).toBe(0);
  });

  it('answers bad input with a 400 naming the field, creating nothing', async () => {
    const cases: Array<[unknown, string]> = [
      [{ pem: '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n' }, 'pem'],
      [{ pem: '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n' }, 'pem'],
      [{ pem: '-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n' }, 'pem'],
      [{ pem: 'hello, world' }, 'pem'],
      [{ pem: '' }, 'pem'],
      [{}, 'url'],
      [{ url: 'www.example.com', pem: 'x' }, 'pem'],
      [{ pem: 'x', starttls: 'smtp' }, 'starttls'],
      [{ url: 'https://exa mple.com' }, 'url'],
      [{ url: 'http://www.example.com' }, 'url'],
      [{ url: 'ftp://www.example.com' }, 'url'],
      [{ url: 'www.example.com:70000' }, 'url'],
      [{ url: 'www.example.com:0' }, 'url'],
      [{ url: 'www.example.com:' }, 'url'],
      [{ url: 'www.example.com/path' }, 'url'],
      [{ url: 'user@www.example.com' }, 'url'],
      [{ url: '2001:db8::1' }, 'url'],
      [{ url: '[2001:db8::zz]:443' }, 'url'],
      [{ url: '*.example.com' }, 'url'],
      [{ url: 'www..example.com' }, 'url'],
      [{ url: 42 }, 'url'],
      [{ url: 'mail.example.com', starttls: 'ftp' }, 'starttls'],
      // The private-address policy: a literal private address not allowed here.
      [{ url: '10.1.2.3:443' }, 'url'],
      [{ url: '[fd00::1]:443' }, 'url'],
      [{ url: '169.254.169.254' }, 'url'],
      [{ url: '[::ffff:10.0.0.1]' }, 'url'],
      [{ colour: 'red' }, 'colour'],
    ];
    for (const [body, field] of cases) {
      const res = await f.api('POST', '/api/v1/tracking', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.type, JSON.stringify(body)).toBe('application/problem+json');
      expect(res.body.field, JSON.stringify(body)).toBe(field);
    }
    expect(await rowCount(trackingTargets)).toBe(0);
    expect(await rowCount(events)).toBe(0);
    // Unknown ids and list parameters.
    expect((await f.api('GET', '/api/v1/tracking/nope')).status).toBe(404);
    expect((await f.api('DELETE', '/api/v1/tracking/nope')).status).toBe(404);
    for (const [path, field] of [
      ['/api/v1/tracking?sort=colour', 'sort'],
      ['/api/v1/tracking?status=lost', 'status'],
      ['/api/v1/tracking?source=mine', 'source'],
      ['/api/v1/tracking?limit=501', 'limit'],
      ['/api/v1/tracking?cursor=x', 'cursor'],
      ['/api/v1/tracking?days=0&status=expiring', 'days'],
    ]) {
      const res = await f.api('GET', path);
      expect(res.status, path).toBe(400);
      expect(res.body.field, path).toBe(field);
    }
  });

  it('refuses a duplicate URL, and takes IPv6 literals and the STARTTLS ports', async () => {
    const first = await f.api('POST', '/api/v1/tracking', { url: 'https://WWW.Example.com' });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ source: 'url', target: 'www.example.com:443', starttls: null, lastScanAt: null, subject: null });
    for (const url of ['www.example.com', 'www.example.com:443', 'https://www.example.com:443/']) {
      const dup = await f.api('POST', '/api/v1/tracking', { url });
      expect(dup.status, url).toBe(409);
      expect(dup.body.field).toBe('url');
    }
    expect((await f.api('POST', '/api/v1/tracking', { url: '[0:0::1]:8443' })).body.target).toBe('[::1]:8443');
    expect((await f.api('POST', '/api/v1/tracking', { url: 'mail.example.com', starttls: 'smtp' })).body).toMatchObject({ target: 'mail.example.com:25', starttls: 'smtp' });
    expect((await f.api('POST', '/api/v1/tracking', { url: 'mail.example.com', starttls: 'imap' })).body.target).toBe('mail.example.com:143');
    expect((await f.api('POST', '/api/v1/tracking', { url: 'mail.example.com', starttls: 'pop3' })).body.target).toBe('mail.example.com:110');
    // Implicit TLS on a mail port is a plain TLS target; the same port with STARTTLS is another.
    expect((await f.api('POST', '/api/v1/tracking', { url: 'mail.example.com:25' })).status).toBe(201);
    expect((await f.api('POST', '/api/v1/tracking', { url: 'mail.example.com:25', starttls: 'smtp' })).status).toBe(409);
    // Deleted, it can be added again.
    expect((await f.api('DELETE', `/api/v1/tracking/${first.body.id}`)).status).toBe(204);
    expect((await f.api('POST', '/api/v1/tracking', { url: 'www.example.com' })).status).toBe(201);
    expect((await f.deps.db.db.select().from(auditLog).where(eq(auditLog.action, 'tracking.delete'))).map((a) => a.objectName)).toEqual(['www.example.com:443']);
  });
});

describe('on a Worker', () => {
  it('takes uploads, and answers a URL with a 400 saying scans are a node-host feature', async () => {
    f = await fixture({ worker: true });
    const res = await f.api('POST', '/api/v1/tracking', { url: 'www.example.com' });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('url');
    expect(res.body.detail).toMatch(/node host/);
    expect(await rowCount(trackingTargets)).toBe(0);
    expect((await f.api('POST', '/api/v1/tracking', { pem: (await makeLeaf({ names: ['w.example.com'] })).pem })).status).toBe(201);
  });
});

describe('issued certificates', () => {
  beforeEach(async () => {
    f = await fixture();
  });

  /** A certificate with a served chain, as an order stores it. */
  async function issued(name: string, chainPem: string) {
    const { row } = await createCertificate(f.deps, BY_CLI, { name, domains: [`${name}.example.com`], challenge: 'http-01' });
    await f.deps.db.db.update(certificates).set({ status: 'valid', pem: chainPem }).where(eq(certificates.id, row.id));
    return row;
  }

  it('fills in the certificates issued before tracking existed, once, and keeps them in step', async () => {
    const ca = await makeCa('Issuing CA');
    const leaves = await Promise.all(['c1', 'c2', 'c3'].map((n) => makeLeaf({ names: [`${n}.example.com`], issuer: ca })));
    for (const [i, leaf] of leaves.entries()) await issued(`c${i + 1}`, leaf.pem + ca.pem);
    await createCertificate(f.deps, BY_CLI, { name: 'never', domains: ['never.example.com'], challenge: 'http-01' });
    expect(await backfillIssued(f.deps, 2)).toBe(2);
    expect(await backfillIssued(f.deps, 2)).toBe(2);
    expect(await backfillIssued(f.deps, 2)).toBe(0);
    const list = await f.api('GET', '/api/v1/tracking?source=issued&sort=subject');
    expect(list.body.items.map((i: any) => [i.subject, i.certificate, i.issuer])).toEqual([
      ['c1.example.com', 'c1', 'Issuing CA'],
      ['c2.example.com', 'c2', 'Issuing CA'],
      ['c3.example.com', 'c3', 'Issuing CA'],
    ]);
    // The CA at the top of the chains is one of Certkeep's own now.
    expect((await f.deps.db.db.select().from(schema.trackingAnchors)).map((a) => a.subject)).toEqual([ca.cert.subject]);
    // Renewed: the same row, a new certificate, the history grows.
    const c1 = list.body.items[0];
    const renewed = await makeLeaf({ names: ['c1.example.com'], issuer: ca });
    await f.deps.db.batch(await issuedStatements(f.deps, (await f.deps.db.db.select().from(certificates).where(eq(certificates.name, 'c1')))[0].id, renewed.pem + ca.pem));
    const after = await f.api('GET', `/api/v1/tracking/${c1.id}`);
    expect(after.body.serial).not.toBe(c1.serial);
    expect(after.body.history.map((h: any) => h.sha256)).toEqual([after.body.sha256, c1.sha256]);
    // Not deleted on its own; gone with its certificate.
    expect((await f.api('DELETE', `/api/v1/tracking/${c1.id}`)).status).toBe(409);
    expect((await f.api('DELETE', '/api/v1/certificates/c1')).status).toBe(204);
    expect((await f.api('GET', `/api/v1/tracking/${c1.id}`)).status).toBe(404);
    expect(await f.deps.db.db.select().from(trackingHistory).where(eq(trackingHistory.targetId, c1.id))).toEqual([]);
    // An upload of a certificate Certkeep serves is a duplicate.
    const dup = await f.api('POST', '/api/v1/tracking', { pem: leaves[1].pem });
    expect(dup.status).toBe(409);
    expect(dup.body.detail).toMatch(/Certkeep serves it/);
  });

  it('shows an issued certificate once when a tracked server presents it (the server row stands for it)', async () => {
    const ca = await makeCa('Issuing CA');
    const leaf = await makeLeaf({ names: ['shown.example.com'], issuer: ca });
    const cert = await issued('shown', leaf.pem + ca.pem);
    await backfillIssued(f.deps);
    const url = { body: await addUrlTarget(f.deps, BY_CLI, parseTrackingTarget('shown.example.com')) };
    expect((await f.api('GET', '/api/v1/tracking')).body.items.map((i: any) => i.source).sort()).toEqual(['issued', 'url']);
    // As a scan would record it: the server presents the issued certificate.
    const [row] = await f.deps.db.db.select().from(trackingTargets).where(eq(trackingTargets.certificateId, cert.id));
    await f.deps.db.db.update(trackingTargets).set({ sha256: row.sha256, subject: row.subject, subjectKey: row.subjectKey, notAfter: row.notAfter, expiryKey: row.expiryKey }).where(eq(trackingTargets.id, url.body.id));
    const items = (await f.api('GET', '/api/v1/tracking')).body.items;
    expect(items.map((i: any) => [i.source, i.certificate])).toEqual([['url', 'shown']]);
  });
});

describe('the list', () => {
  beforeEach(async () => {
    f = await fixture();
  });

  /** Uploads expiring at different times, some with problems, and URLs never scanned. */
  async function seed(count: number): Promise<void> {
    const pems: string[] = [];
    for (let i = 0; i < count; i++) pems.push((await makeLeaf({ names: [`s${String(i).padStart(2, '0')}.example.com`], from: -100, to: ((i * 7) % 40) - 5 })).pem);
    expect((await f.api('POST', '/api/v1/tracking', { pem: pems.join('') })).status).toBe(201);
    // Added without their first scan (the API starts one): never scanned, no expiry yet.
    for (let i = 0; i < 3; i++) await addUrlTarget(f.deps, BY_CLI, parseTrackingTarget(`u${i}.example.com`));
    // Problems, as scans would have found them.
    const ids = (await f.deps.db.db.select({ id: trackingTargets.id }).from(trackingTargets).where(eq(trackingTargets.source, 'upload'))).map((r) => r.id);
    for (const id of ids.slice(0, 3)) await f.deps.db.db.update(trackingTargets).set({ problems: 'untrusted', problemRank: 0, chainValid: false }).where(eq(trackingTargets.id, id));
  }

  async function allPages(path: string): Promise<any[]> {
    const out: any[] = [];
    let next: string | null = null;
    for (let guard = 0; guard < 100; guard++) {
      const res = await f.api('GET', `${path}${next ? `&cursor=${encodeURIComponent(next)}` : ''}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['items', 'next']);
      out.push(...res.body.items);
      next = res.body.next;
      if (!next) return out;
    }
    throw new Error('no end of pages');
  }

  it('pages through every item once in each order, and filters', async () => {
    await seed(12);
    const byExpiry = await allPages('/api/v1/tracking?limit=4&sort=expiry');
    expect(byExpiry).toHaveLength(15);
    const known = byExpiry.filter((i) => i.notAfter);
    expect(known.map((i) => Date.parse(i.notAfter))).toEqual(known.map((i) => Date.parse(i.notAfter)).sort((a, b) => a - b));
    // Not scanned yet: last, both ways.
    expect(byExpiry.slice(-3).map((i) => i.source)).toEqual(['url', 'url', 'url']);
    const latest = await allPages('/api/v1/tracking?limit=5&sort=-expiry');
    expect(latest.slice(0, 12).map((i) => i.id)).toEqual(known.map((i) => i.id).reverse());
    expect(latest.slice(-3).map((i) => i.source)).toEqual(['url', 'url', 'url']);
    const bySubject = await allPages('/api/v1/tracking?limit=7&sort=subject');
    const subjectKeys = bySubject.map((i) => (i.subject ?? i.target.replace(/:\d+$/, '')).toLowerCase());
    expect(subjectKeys).toEqual([...subjectKeys].sort());
    expect((await allPages('/api/v1/tracking?limit=6&sort=-subject')).map((i) => i.id)).toEqual(bySubject.map((i) => i.id).reverse());
    expect((await allPages('/api/v1/tracking?limit=4&sort=source')).map((i) => i.source)).toEqual([...Array(12).fill('upload'), 'url', 'url', 'url'].sort());
    const problemsFirst = await allPages('/api/v1/tracking?limit=2&sort=problems');
    expect(problemsFirst.slice(0, 3).every((i) => i.chainValid === false)).toBe(true);
    expect(problemsFirst).toHaveLength(15);

    const now = f.clock.now;
    const expired = await allPages('/api/v1/tracking?status=expired&limit=2');
    expect(expired.length).toBeGreaterThan(0);
    expect(expired.every((i) => Date.parse(i.notAfter) <= now && i.daysLeft < 0)).toBe(true);
    const expiring = await allPages('/api/v1/tracking?status=expiring&days=14');
    expect(expiring.every((i) => Date.parse(i.notAfter) > now && Date.parse(i.notAfter) <= now + 14 * DAY)).toBe(true);
    expect((await allPages('/api/v1/tracking?status=untrusted')).length).toBe(3);
    expect((await allPages('/api/v1/tracking?status=problems,expired')).length).toBe(new Set([...expired.map((i) => i.id), ...problemsFirst.slice(0, 3).map((i) => i.id)]).size);
    expect((await allPages('/api/v1/tracking?source=url')).map((i) => i.target).sort()).toEqual(['u0.example.com:443', 'u1.example.com:443', 'u2.example.com:443']);
    expect((await allPages('/api/v1/tracking?q=S0')).length).toBe(10);
    expect((await allPages('/api/v1/tracking?q=u1.example')).map((i) => i.target)).toEqual(['u1.example.com:443']);
    expect(await allPages('/api/v1/tracking?q=%25')).toEqual([]);
    // A cursor of another order is refused.
    const first = await f.api('GET', '/api/v1/tracking?limit=2&sort=subject');
    expect((await f.api('GET', `/api/v1/tracking?sort=expiry&cursor=${encodeURIComponent(first.body.next)}`)).body.field).toBe('cursor');
  });

  it('reads every page along an index: no full scan, no sort of all rows', async () => {
    await seed(12);
    const plans = async (run: () => Promise<unknown>) => {
      f.sent.length = 0;
      await run();
      const out: Array<{ sql: string; plan: string }> = [];
      for (const { sql, params } of f.sent.filter((s) => /^select/i.test(s.sql) && s.sql.includes('"tracking_targets"'))) {
        const rows = (await f.opened.client.execute({ sql: `explain query plan ${sql}`, args: params as never })).rows;
        out.push({ sql, plan: rows.map((r) => String(r.detail)).join('\n') });
      }
      return out;
    };
    for (const { sql, plan } of await plans(() => trackingCounts(f.deps))) {
      expect(plan, `counts: ${sql}\n${plan}`).not.toMatch(/^SCAN tracking_targets$|SCAN tracking_targets(?! USING)/m);
    }
    for (const params of ['sort=expiry', 'sort=-expiry', 'sort=subject', 'sort=-subject', 'sort=source', 'sort=problems', 'status=problems&sort=problems', 'status=expired', 'status=expiring&days=10']) {
      for (const query of [params, `${params}&cursor=`]) {
        let path = query;
        if (query.endsWith('cursor=')) {
          const first = await pageTracking(f.deps, parseTrackingListQuery(new URLSearchParams(`${params}&limit=3`)));
          if (!first.next) continue;
          path = `${params}&cursor=${encodeURIComponent(first.next!)}`;
        }
        for (const { sql, plan } of await plans(() => pageTracking(f.deps, parseTrackingListQuery(new URLSearchParams(`${path}&limit=3`))))) {
          const where = `${path}: ${sql}\n${plan}`;
          expect(plan, where).not.toMatch(/^SCAN tracking_targets$|SCAN tracking_targets(?! USING)/m);
          expect(plan, where).not.toMatch(/TEMP B-TREE/);
        }
      }
    }
  });
});

describe('expiry notices', () => {
  beforeEach(async () => {
    f = await fixture();
  });

  it('steps through 30, 14, 7, 3 and 1 days', () => {
    const notAfter = Date.UTC(2030, 0, 31);
    expect(expiryStep(notAfter, notAfter - 40 * DAY)).toEqual({ threshold: null, next: notAfter - 30 * DAY });
    expect(expiryStep(notAfter, notAfter - 29 * DAY)).toEqual({ threshold: 30, next: notAfter - 14 * DAY });
    expect(expiryStep(notAfter, notAfter - 5 * DAY)).toEqual({ threshold: 7, next: notAfter - 3 * DAY });
    expect(expiryStep(notAfter, notAfter - DAY / 2)).toEqual({ threshold: 1, next: null });
    expect(expiryStep(notAfter, notAfter + 1)).toEqual({ threshold: null, next: null });
  });

  it('writes tracking.expiring once per threshold as time passes, and none for issued certificates', async () => {
    const leaf = await makeLeaf({ names: ['soon.example.com'], to: 20 });
    const upload = (await f.api('POST', '/api/v1/tracking', { pem: leaf.pem })).body.items[0];
    // A certificate Certkeep serves, expiring sooner: certificate.expiring is its notice, not this.
    const served = await createCertificate(f.deps, BY_CLI, { name: 'served', domains: ['served.example.com'], challenge: 'http-01' });
    await f.deps.db.db.update(certificates).set({ status: 'valid', pem: (await makeLeaf({ names: ['served.example.com'], to: 5 })).pem }).where(eq(certificates.id, served.row.id));
    await backfillIssued(f.deps);
    const notAfter = Date.parse(upload.notAfter);
    const expiring = async () =>
      (await f.deps.db.db.select().from(events).where(eq(events.type, 'tracking.expiring'))).map((e) => ({ key: e.dedupeKey, title: e.title, data: JSON.parse(e.data) }));
    // 20 days left: the 30-day notice, once, however often the tick looks. The leaf's notAfter was
    // taken from the wall clock after the fixture's clock started, and rounded down to the second:
    // pin the clock to it, or "20 days" reads 21 whenever more than a second went by in between.
    f.clock.now = notAfter - 20 * DAY + 1000;
    expect(await expiryNotices(f.deps)).toBe(1);
    expect(await expiryNotices(f.deps)).toBe(0);
    expect(await expiring()).toEqual([{ key: `tracking.expiring:${upload.id}:${upload.sha256}:30`, title: 'soon.example.com expires in 20 days', data: expect.objectContaining({ threshold: 30, subject: 'soon.example.com' }) }]);
    // Ten days on: 14 is crossed. Then straight to 2 days left: 3 (7 is skipped, not sent late).
    f.clock.now = notAfter - 10 * DAY - 1000;
    expect(await expiryNotices(f.deps)).toBe(1);
    f.clock.now = notAfter - 2 * DAY;
    expect(await expiryNotices(f.deps)).toBe(1);
    f.clock.now = notAfter - 2 * DAY + 3_600_000;
    expect(await expiryNotices(f.deps)).toBe(0);
    f.clock.now = notAfter + DAY;
    expect(await expiryNotices(f.deps)).toBe(0);
    expect((await expiring()).map((e) => e.data.threshold)).toEqual([30, 14, 3]);
    // The query walks the partial index of notices, not the targets.
    f.sent.length = 0;
    await expiryNotices(f.deps);
    const select = f.sent.find((s) => /^select/i.test(s.sql) && s.sql.includes('expiry_notice_at'))!;
    const plan = (await f.opened.client.execute({ sql: `explain query plan ${select.sql}`, args: select.params as never })).rows.map((r) => String(r.detail)).join('\n');
    expect(plan).toMatch(/USING INDEX tracking_expiry_notice/);
  });
});
