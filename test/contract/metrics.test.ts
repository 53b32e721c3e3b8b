// GET /metrics (SPEC §4.6) on both hosts, against Pebble and a real Prometheus (Debian 2.42):
//  - the admin allow-list reads it without a token; another address gets 403 and nothing else,
//    with nothing changed; the metrics token opens it from anywhere, an admin token or a wrong
//    token does not (401);
//  - what it says after a real issuance and a real refusal by the CA (a blocked name): promtool
//    accepts the exposition, the certificate's expiry matches the API's, the orders and the CA's
//    problem are counted; the node host adds its process and download figures, the Worker not;
//  - Prometheus scrapes the node host (once from the allow-list, once with the token from a
//    credentials file), its HTTP API answers a query for the issued certificate, and it loads the
//    suggested alert rules, which promtool checks and unit-tests.
// Clients outside the allow-list: on the node host a connection from 127.0.0.2, on the Worker
// CF-Connecting-IP.
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_KINDS, ROOT, type NodeHostUnderTest } from '../harness/hosts.ts';
import { issueCertificate, startWorld, type World } from '../harness/world.ts';
import { describePrometheus, parseExposition, promtool, seriesKey, startPrometheus, type PrometheusServer } from '../harness/prometheus.ts';

const RULES = join(ROOT, 'deploy/prometheus-rules.yml');
const RULES_TEST = join(ROOT, 'test/fixtures/prometheus/rules-test.yml');
const BLOCKED = 'blocked.example.com';
const OUTSIDE = '127.0.0.2';
const EXPOSITION = 'text/plain; version=0.0.4; charset=utf-8';

interface Sent {
  status: number;
  type: string | undefined;
  text: string;
}

/** GET from `from` (a loopback address: the connection's source on the node host, CF-Connecting-IP on the Worker). */
function get(world: World, path: string, o: { from?: string; headers?: Record<string, string> } = {}): Promise<Sent> {
  const from = o.from ?? '127.0.0.1';
  const headers = { ...(world.kind === 'worker' ? { 'cf-connecting-ip': from } : {}), ...o.headers };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: world.host.httpPort, localAddress: from, method: 'GET', path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], text }));
    });
    req.on('error', reject);
    req.end();
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const count = async (world: World, table: string) => Number(Object.values((await world.host.sql(`select count(*) as n from ${table}`))[0])[0]);

for (const kind of HOST_KINDS) {
  describePrometheus(`/metrics on the ${kind} host`, () => {
    let world: World;
    let prometheus: PrometheusServer | undefined;
    let issued: { name: string; apiKeys: string[] };
    let refused: string;
    let metricsToken: string;

    beforeAll(async () => {
      world = await startWorld(kind, {
        pebble: { config: { domainBlocklist: [BLOCKED] } },
        host: { env: kind === 'node' ? { CERTKEEP_ALLOW_ADMIN: '127.0.0.1' } : { ALLOW_ADMIN: '127.0.0.1' } },
      });
      issued = (await issueCertificate(world, { name: world.name('ok'), domains: [world.domain()] })).created;
      // The CA refuses this name (rejectedIdentifier): a failed order and a counted problem.
      refused = world.name('refused');
      expect((await world.api.post('/api/v1/certificates', { name: refused, domains: [`x.${BLOCKED}`] })).status).toBe(201);
      const attempt = await world.api.post(`/api/v1/certificates/${refused}/issue?wait=true`);
      expect(attempt.status, attempt.text).toBe(502);
      const created = await world.api.post('/api/v1/metrics-token');
      expect(created.status, created.text).toBe(201);
      metricsToken = created.body.token;
    });
    afterAll(async () => {
      await prometheus?.stop();
      await world?.stop();
    });

    it('serves the allow-list an exposition promtool accepts: the certificates, the expiry, the orders and the CA problem', async () => {
      // A download and a refused one first, for the node host's counts.
      await fetch(`${world.host.baseUrl}/api/certificate/${issued.name}`, { headers: { apikey: issued.apiKeys[0] } });
      await fetch(`${world.host.baseUrl}/api/certificate/${issued.name}`, { headers: { apikey: 'ckc_' + 'A'.repeat(32) } });
      const res = await get(world, '/metrics');
      expect(res.status, res.text).toBe(200);
      expect(res.type).toBe(EXPOSITION);
      const lint = await promtool(['check', 'metrics'], res.text);
      expect({ code: lint.code, out: lint.stdout + lint.stderr }).toEqual({ code: 0, out: '' });

      const m = parseExposition(res.text);
      expect(m.get(seriesKey('certkeep_certificates', { status: 'valid' }))).toBe(1);
      expect(m.get(seriesKey('certkeep_certificates', { status: 'invalid' }))).toBe(1);
      expect(m.get('certkeep_certificates_failing')).toBe(1);
      const { body: cert } = await world.api.get(`/api/v1/certificates/${issued.name}`);
      const expected = (Date.parse(cert.notAfter) - Date.now()) / 1000;
      expect(Math.abs(m.get(seriesKey('certkeep_certificate_expires_in_seconds', { certificate: issued.name }))! - expected)).toBeLessThan(30);
      expect(m.has(seriesKey('certkeep_certificate_expires_in_seconds', { certificate: refused }))).toBe(false);
      const sum = (prefix: string, outcome: string) => [...m].filter(([k]) => k.startsWith(prefix) && k.includes(`outcome="${outcome}"`)).reduce((n, [, v]) => n + v, 0);
      expect(sum('certkeep_orders_total', 'issued')).toBe(1);
      // The refused certificate's orders: the one its creation started (at once on the Worker,
      // in the request's waitUntil; on the node host when the scheduler wakes, unless the forced
      // one came first) and the forced one. Each failed once, and each counted its problem once.
      const { body: refusedOrders } = await world.api.get(`/api/v1/certificates/${refused}/orders`);
      const failedOrders = refusedOrders.items.length;
      expect(failedOrders === 1 || failedOrders === 2, JSON.stringify(refusedOrders.items)).toBe(true);
      expect(sum('certkeep_orders_total', 'failed')).toBe(failedOrders);
      expect(m.get(seriesKey('certkeep_acme_problems_total', { type: 'urn:ietf:params:acme:error:rejectedIdentifier' }))).toBe(failedOrders);
      // The refused certificate waits out its back-off: nothing is due.
      expect(m.get('certkeep_scheduler_due_certificates')).toBe(0);
      expect(m.get('certkeep_scheduler_lag_seconds')).toBe(0);
      if (kind === 'node') {
        expect(m.get(seriesKey('certkeep_downloads_total', { kind: 'certificate', outcome: 'ok' }))).toBe(1);
        expect(m.get(seriesKey('certkeep_downloads_total', { kind: 'certificate', outcome: 'unauthorized' }))).toBe(1);
        expect(m.get('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
        expect(Math.abs(m.get('process_start_time_seconds')! - Date.now() / 1000)).toBeLessThan(600);
        expect(m.get('process_open_fds')).toBeGreaterThan(3);
        expect(m.has('nodejs_eventloop_lag_seconds')).toBe(true);
      } else {
        // An isolate is no process to scrape: the Worker shows the database's figures only.
        expect([...m.keys()].filter((k) => !k.startsWith('certkeep_') || k.startsWith('certkeep_downloads'))).toEqual([]);
      }
    });

    it('refuses an address outside the allow-list without the token with 403, showing and changing nothing', async () => {
      const before = [await count(world, 'rate_limits'), await count(world, 'audit_log'), await count(world, 'settings')];
      const res = await get(world, '/metrics', { from: OUTSIDE });
      expect(res.status).toBe(403);
      expect(res.type).toBe('application/problem+json');
      expect(JSON.parse(res.text).detail).toMatch(/CERTKEEP_ALLOW_ADMIN/);
      expect(res.text).not.toContain('certkeep_');
      expect(res.text).not.toContain(issued.name);
      expect([await count(world, 'rate_limits'), await count(world, 'audit_log'), await count(world, 'settings')]).toEqual(before);
    });

    it('opens to the metrics token from outside; an admin token or a wrong one is 401; the token opens nothing else', async () => {
      const ok = await get(world, '/metrics', { from: OUTSIDE, headers: bearer(metricsToken) });
      expect(ok.status).toBe(200);
      expect(ok.text).toContain(`certkeep_certificate_expires_in_seconds{certificate="${issued.name}"}`);
      for (const token of [world.api.token!, 'ckm_' + 'A'.repeat(32)]) {
        const res = await get(world, '/metrics', { from: OUTSIDE, headers: bearer(token) });
        expect(res.status).toBe(401);
        expect(res.text).not.toContain('certkeep_');
      }
      expect((await get(world, '/api/v1/certificates', { headers: bearer(metricsToken) })).status).toBe(401);
      const audit = await world.host.sql("select actor_kind, outcome from audit_log where action = 'metrics-token.create'");
      expect(audit).toEqual([{ actor_kind: 'token', outcome: 'ok' }]);
    });

    if (kind === 'node') {
      // A real Prometheus on the node host (on the Worker, promtool's check of the exposition above stands for it).
      it('is scraped by Prometheus, from the allow-list and with the token, whose API then answers for the certificate; the alert rules load', async () => {
        prometheus = await startPrometheus(
          [
            { job: 'certkeep', baseUrl: world.host.baseUrl },
            { job: 'certkeep-token', baseUrl: world.host.baseUrl, bearerToken: metricsToken },
          ],
          { ruleFiles: [RULES] },
        );
        const up = await prometheus.waitFor('up', (r) => r.length === 2 && r.every((s) => s.value === 1));
        expect(up.map((s) => s.metric.job).sort()).toEqual(['certkeep', 'certkeep-token']);
        const valid = await prometheus.waitFor('certkeep_certificates{status="valid"}', (r) => r.length === 2);
        expect(valid.map((s) => s.value)).toEqual([1, 1]);
        const [expiry] = await prometheus.query(`certkeep_certificate_expires_in_seconds{job="certkeep",certificate="${issued.name}"}`);
        expect(expiry.value).toBeGreaterThan(86_400);
        const [problem] = await prometheus.query('sum(certkeep_acme_problems_total{job="certkeep",type="urn:ietf:params:acme:error:rejectedIdentifier"})');
        // One per order of the refused certificate (its creation's and the forced one may be two).
        const { body: refusedOrders } = await world.api.get(`/api/v1/certificates/${refused}/orders`);
        expect(problem.value).toBe(refusedOrders.items.length);
        const failing = await prometheus.query('certkeep_certificates_failing');
        expect(failing.map((s) => s.value)).toEqual([1, 1]);
        // The rules file as a running Prometheus loads it: every rule of the group evaluated without error.
        type Rules = { data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> } };
        const rules = async () => ((await (await fetch(`${prometheus!.url}/api/v1/rules`)).json()) as Rules).data.groups.flatMap((g) => g.rules.map((r) => `${r.name}:${r.health}`));
        await expect
          .poll(rules, { timeout: 10_000 })
          .toEqual(['CertkeepDown:ok', 'CertkeepCertificateExpiringSoon:ok', 'CertkeepCertificateExpiring:ok', 'CertkeepRenewalsFailing:ok', 'CertkeepSchedulerLagging:ok']);
      });

      it('makes a new metrics token with certkeep token create --metrics, which replaces the one before', async () => {
        const host = world.host as NodeHostUnderTest;
        const made = await host.cli(['token', 'create', '--metrics'], { CERTKEEP_LOG_LEVEL: 'info' });
        expect(made.code, made.stderr).toBe(0);
        const token = made.stdout.trim();
        expect(token).toMatch(/^ckm_[A-Za-z0-9_-]{32}$/);
        expect((await get(world, '/metrics', { from: OUTSIDE, headers: bearer(token) })).status).toBe(200);
        expect((await get(world, '/metrics', { from: OUTSIDE, headers: bearer(metricsToken) })).status).toBe(401);
        const bad = await host.cli(['token', 'create', '--metrics', '--name', 'x'], { CERTKEEP_LOG_LEVEL: 'info' });
        expect(bad.code).toBe(2);
        expect(await world.host.sql("select actor_kind from audit_log where action = 'metrics-token.create' order by id")).toEqual([{ actor_kind: 'token' }, { actor_kind: 'cli' }]);
      });
    }
  });
}

describePrometheus('the suggested alert rules', () => {
  it('pass promtool check rules, and its unit tests: each alert fires when it should, once however many hosts report it', async () => {
    const check = await promtool(['check', 'rules', RULES]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/SUCCESS: 5 rules found/);
    const test = await promtool(['test', 'rules', RULES_TEST]);
    expect(test.code, test.stdout + test.stderr).toBe(0);
  });
});
