// Notifications on both hosts (SPEC §4.3): the channels API with its refusals, a test message
// to an HTTPS receiver on 127.0.0.1 (the test CA's certificate), email where the host can send
// it (the node host, through an SMTP server in this process) and refused where it cannot (the
// Worker), and a renewal that Pebble refuses (its domainBlocklist) reaching a channel once, not
// again the same day, and again the next day — the day moved through the database. On the node
// host, a delivery cut off by kill -9 reaches the receiver once after a restart.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS, startNodeHost, type NodeHostUnderTest } from '../harness/hosts.ts';
import { issueCertificate, startWorld, type World } from '../harness/world.ts';
import { startReceiver, startSmtpSink, type Receiver, type SmtpSink } from '../harness/receivers.ts';

const BLOCKED = 'blocked.example.com';
const SECRET = 'a shared secret of the receiver';
const DAY = 86_400_000;

for (const kind of HOST_KINDS) {
  describePebble(`notifications on the ${kind} host`, () => {
    let world: World;
    let receiver: Receiver;
    let smtp: SmtpSink | undefined;
    let restarted: NodeHostUnderTest | undefined;

    beforeAll(async () => {
      receiver = await startReceiver();
      smtp = kind === 'node' ? await startSmtpSink() : undefined;
      const env: Record<string, string> = smtp ? { CERTKEEP_SMTP_URL: smtp.url, CERTKEEP_SMTP_FROM: 'certkeep@example.com' } : {};
      world = await startWorld(kind, { pebble: { config: { domainBlocklist: [BLOCKED] } }, host: { env } });
    });
    afterAll(async () => {
      await restarted?.stop();
      await world?.stop();
      await Promise.all([receiver?.stop(), smtp?.stop()]);
    });

    it('keeps channels through the API: secrets sealed and masked, bad input refused with the field named, nothing half-created', async () => {
      const { api } = world;
      for (const [body, field] of [
        [{ name: 'x', type: 'carrier-pigeon', url: `${receiver.origin}/x` }, 'type'],
        [{ name: 'x', type: 'slack', url: 'hooks.slack.com/services/T/B/X' }, 'url'],
        [{ name: 'x', type: 'discord', url: 'http://discord.example.com/api/webhooks/1/x' }, 'url'],
        [{ name: 'x', type: 'webhook', url: `${receiver.origin}/hook`, secret: SECRET, events: ['certificate.exploded'] }, 'events[0]'],
        [{ name: 'x', type: 'ntfy', url: `${receiver.origin}/ntfy/topic`, secret: SECRET }, 'secret'],
      ] as const) {
        const res = await api.post('/api/v1/notification-channels', body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(res.body.field).toBe(field);
      }
      const email = await api.post('/api/v1/notification-channels', { name: 'mail', type: 'email', to: ['ops@example.com', 'oncall@example.com'] });
      if (kind === 'worker') {
        // A Worker cannot send mail: declared, not half-working.
        expect(email.status).toBe(400);
        expect(email.body).toMatchObject({ field: 'type' });
        expect(email.body.detail).toMatch(/node host/);
      } else {
        expect(email.status, email.text).toBe(201);
        expect((await api.post('/api/v1/notification-channels', { name: 'nobody', type: 'email' })).body.field).toBe('to');
      }
      expect((await api.get('/api/v1/notification-channels')).body.items.map((c: { name: string }) => c.name)).toEqual(kind === 'node' ? ['mail'] : []);

      const slackUrl = `${receiver.origin}/services/T0000/B0000/verysecretslacktoken`;
      const slack = await api.post('/api/v1/notification-channels', { name: 'chat', type: 'slack', url: slackUrl, events: ['certificate.renewal_failed'] });
      expect(slack.status, slack.text).toBe(201);
      expect(slack.body.url).toBe(`${receiver.origin}/…oken`);
      const stored = await world.host.sql("SELECT * FROM notification_channels WHERE name = 'chat'");
      expect(JSON.stringify(stored)).not.toContain('verysecretslacktoken');
      const patched = await api.request('PATCH', '/api/v1/notification-channels/chat', { events: ['certificate.renewal_failed', 'certificate.revoked'] });
      expect(patched.body).toMatchObject({ events: ['certificate.renewal_failed', 'certificate.revoked'], url: `${receiver.origin}/…oken` });
      // The URL kept its value: a test message reaches it.
      const tested = await api.post('/api/v1/notification-channels/chat/test');
      expect(tested.status, tested.text).toBe(200);
      expect(JSON.parse((await receiver.waitFor('/services/T0000/B0000/verysecretslacktoken'))[0].body).text).toContain('Test message for the notification channel "chat"');
      expect((await api.delete('/api/v1/notification-channels/chat')).status).toBe(204);
      expect((await api.get('/api/v1/notification-channels/chat')).status).toBe(404);
    });

    it('sends a test message now: 200 when the receiver takes it, 502 with the receiver’s answer when not, and never follows a redirect', async () => {
      const { api } = world;
      receiver.on('/refuses', (_req, res) => res.writeHead(401).end(`unknown signature (${SECRET})`));
      receiver.on('/moved', (_req, res) => res.writeHead(307, { location: `${receiver.origin}/hook` }).end());
      for (const [name, path] of [['signed', '/signed'], ['refuses', '/refuses'], ['moved', '/moved']]) {
        expect((await api.post('/api/v1/notification-channels', { name, type: 'webhook', url: `${receiver.origin}${path}`, secret: SECRET })).status).toBe(201);
      }
      const ok = await api.post('/api/v1/notification-channels/signed/test');
      expect(ok.status, ok.text).toBe(200);
      const [got] = await receiver.waitFor('/signed');
      expect(got.headers['x-certkeep-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(got.body).digest('hex')}`);
      expect(JSON.parse(got.body)).toMatchObject({ type: 'test', title: 'Test message for the notification channel "signed"' });
      const refused = await api.post('/api/v1/notification-channels/refuses/test');
      expect(refused.status).toBe(502);
      expect(refused.headers.get('content-type')).toBe('application/problem+json');
      expect(refused.body.detail).toBe(`127.0.0.1:${receiver.port} answered HTTP 401: unknown signature ([redacted])`);
      const moved = await api.post('/api/v1/notification-channels/moved/test');
      expect(moved.status).toBe(502);
      expect(moved.body.detail).toMatch(/redirects \(HTTP 307\) to https:\/\/127\.0\.0\.1:\d+\/hook; redirects are not followed/);
      expect(receiver.to('/hook')).toEqual([]);
      if (smtp) {
        const mail = await api.post('/api/v1/notification-channels/mail/test');
        expect(mail.status, mail.text).toBe(200);
        const [sent] = await smtp.waitFor(1);
        expect(sent.envelopeTo).toEqual(['ops@example.com', 'oncall@example.com']);
        expect(sent.subject).toBe('[Certkeep] Test message for the notification channel "mail"');
      }
      for (const name of ['signed', 'refuses', 'moved']) await api.delete(`/api/v1/notification-channels/${name}`);
    });

    it('tells a channel of a failing renewal once, with the CA’s problem, not again the same day, and again the next day', async () => {
      const { api } = world;
      expect((await api.post('/api/v1/notification-channels', { name: 'failures', type: 'webhook', url: `${receiver.origin}/failures`, secret: SECRET, events: ['certificate.renewal_failed'] })).status).toBe(201);
      const name = world.name('blocked');
      // Its order starts as it is created, and Pebble refuses the name.
      expect((await api.post('/api/v1/certificates', { name, domains: [BLOCKED] })).status).toBe(201);
      const [first] = await receiver.waitFor('/failures', 1);
      const message = JSON.parse(first.body);
      expect(message).toMatchObject({ type: 'certificate.renewal_failed', title: `Obtaining ${name} failed: rejectedIdentifier`, subject: { kind: 'certificate', name } });
      expect(message.body).toMatch(/^Obtaining the certificate .* failed\. The CA's problem:\n\nrejectedIdentifier: .+/);
      expect(message.body).toContain('No certificate has been issued for it yet');
      expect(message.data.problem.type).toBe('urn:ietf:params:acme:error:rejectedIdentifier');
      const events = async () => Number((await world.host.sql("SELECT count(*) AS n FROM events WHERE type = 'certificate.renewal_failed' AND subject_name = ?", name))[0].n);

      // It fails again the same day: no second event, so no second message.
      expect((await api.post(`/api/v1/certificates/${name}/issue?wait=true`)).status).toBe(502);
      expect(await events()).toBe(1);

      // A day later (the run of failures began 25 hours ago): it is news again.
      await world.host.sql('UPDATE certificates SET failing_since = failing_since - ? WHERE name = ?', DAY + 3_600_000, name);
      expect((await api.post(`/api/v1/certificates/${name}/issue?wait=true`)).status).toBe(502);
      expect(await events()).toBe(2);
      const [, second] = await receiver.waitFor('/failures', 2);
      expect(JSON.parse(second.body).body).toMatch(/It has been failing for 1 day; this message comes at most once a day/);
      // The receiver has the message before the host has its answer and records the delivery sent.
      const log = async () => (await api.get('/api/v1/notifications?channel=failures')).body.items.map((d: { state: string; event: string }) => [d.event, d.state]);
      await expect.poll(log).toEqual([
        ['certificate.renewal_failed', 'sent'],
        ['certificate.renewal_failed', 'sent'],
      ]);
      expect(receiver.to('/failures')).toHaveLength(2);
    });

    it('sends at the scheduler’s tick (the Worker’s cron) what no request announced', async () => {
      const { api } = world;
      expect((await api.post('/api/v1/notification-channels', { name: 'ticked', type: 'ntfy', url: `${receiver.origin}/ntfy/ticked`, events: ['certificate.revoked'] })).status).toBe(201);
      // An event committed by a process that died before it could say so.
      await world.host.sql(
        `INSERT INTO events (type, dedupe_key, subject_kind, subject_id, subject_name, title, body, link, data, created_at) VALUES ('certificate.revoked', ?, 'certificate', NULL, 'www', 'www was revoked (superseded)', 'It was.', '/certificates/www', '{"type":"certificate.revoked"}', ?)`,
        `tick:${kind}`,
        Date.now(),
      );
      await world.host.tick();
      const [got] = await receiver.waitFor('/ntfy', 1);
      expect(JSON.parse(got.body)).toMatchObject({ topic: 'ticked', title: 'www was revoked (superseded)', priority: 4 });
      await api.delete('/api/v1/notification-channels/ticked');
    });

    it('tells of an issued certificate (when asked to) and of its revocation', async () => {
      const { api } = world;
      expect((await api.post('/api/v1/notification-channels', { name: 'lifecycle', type: 'webhook', url: `${receiver.origin}/lifecycle`, secret: SECRET, events: ['certificate.renewed', 'certificate.revoked'] })).status).toBe(201);
      const name = world.name('life');
      await issueCertificate(world, { name, domains: [world.domain()] });
      const [issued] = await receiver.waitFor('/lifecycle', 1);
      const serial = (await api.get(`/api/v1/certificates/${name}`)).body.serial;
      expect(JSON.parse(issued.body)).toMatchObject({ type: 'certificate.renewed', title: expect.stringMatching(new RegExp(`^${name} was issued: valid until \\d{4}-`)), data: { serial } });
      expect((await api.post(`/api/v1/certificates/${name}/revoke`, { reason: 4 })).status).toBe(200);
      const [, revoked] = await receiver.waitFor('/lifecycle', 2);
      expect(JSON.parse(revoked.body)).toMatchObject({ type: 'certificate.revoked', title: `${name} was revoked (superseded)`, data: { serial, reason: 4 } });
    });

    if (kind === 'node') {
      it('sends a delivery cut off by kill -9 once the host is back, and the receiver gets it once', async () => {
        const { api } = world;
        const host = world.host as NodeHostUnderTest;
        // The receiver holds the first request open: the host dies with the delivery in flight.
        receiver.on('/held', () => {});
        expect((await api.post('/api/v1/notification-channels', { name: 'held', type: 'webhook', url: `${receiver.origin}/held`, secret: SECRET, events: ['certificate.renewal_failed'] })).status).toBe(201);
        const name = world.name('crash');
        expect((await api.post('/api/v1/certificates', { name, domains: [BLOCKED] })).status).toBe(201);
        const [inFlight] = await receiver.waitFor('/held', 1);
        process.kill(host.process.pid, 'SIGKILL');
        await host.process.exited;
        expect(await inFlight.done).toBe(false);
        const [row] = await host.sql("SELECT state, attempts, claimed_until FROM notification_deliveries WHERE channel_name = 'held'");
        expect(row).toMatchObject({ state: 'pending', attempts: 1 });
        // The dead host's claim would run out in half a minute: that time passes in the database.
        await host.sql("UPDATE notification_deliveries SET claimed_until = 0 WHERE channel_name = 'held'");
        receiver.on('/held', (_req, res) => res.writeHead(204).end());
        restarted = await startNodeHost({ httpPort: world.host.httpPort, dataDir: host.dataDir, env: { CERTKEEP_DNS_SERVERS: world.pebble.dnsAddress } });
        const [, again] = await receiver.waitFor('/held', 2);
        expect(again.headers['x-certkeep-delivery']).toBe(inFlight.headers['x-certkeep-delivery']);
        expect(await again.done).toBe(true);
        // The host records what the receiver answered; a tick or two later it is in the log.
        let state = '';
        for (let i = 0; i < 20 && state !== 'sent'; i++) {
          await restarted.tick();
          state = (await restarted.sql("SELECT state FROM notification_deliveries WHERE channel_name = 'held'"))[0].state as string;
        }
        const [after] = await restarted.sql("SELECT state, attempts FROM notification_deliveries WHERE channel_name = 'held'");
        expect(after).toMatchObject({ state: 'sent', attempts: 2 });
        // Answered once, and not sent again at the next tick.
        await restarted.tick();
        expect(receiver.to('/held').map((r) => r.answered)).toEqual([false, true]);
      });
    }
  });
}
