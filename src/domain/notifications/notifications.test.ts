// Notifications in this process, against real parts: the app's admin API on a libSQL file, the
// node host's own outgoing-request transport to HTTPS receivers on 127.0.0.1 (the test CA's
// certificate), and its nodemailer mailer to an SMTP server (smtp-server, the mails parsed with
// mailparser). Time is the deps' clock, moved by the tests; waiting is for requests and mails.
import { BY_CLI } from '../audit.ts';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eq, like, sql } from 'drizzle-orm';
import { openDatabase, type OpenedDatabase } from '../../../node-host/db.ts';
import { smtpMailer } from '../../../node-host/smtp.ts';
import { createApp } from '../../app.ts';
import type { Deps } from '../../deps.ts';
import { auditLog, certificates, events, notificationChannels, notificationDeliveries } from '../../db/schema.ts';
import { offlineDeps } from '../../../test/harness/deps.ts';
import { loopbackOutbound } from '../../../test/harness/outbound.ts';
import { makeTempDir } from '../../../test/harness/tmp.ts';
import { startReceiver, startSmtpSink, type Receiver, type SmtpSink } from '../../../test/harness/receivers.ts';
import { createAdminToken } from '../tokens.ts';
import { eventStatement, eventsWritten, type NewEvent } from '../events.ts';
import { Notifier } from '../../jobs/notifier.ts';
import { checkExpiring, EXPIRY_DONE } from './expiry.ts';
import { MAX_ATTEMPTS, NOTIFICATION_RETENTION_DAYS, purgeNotifications } from './outbox.ts';

const DAY = 86_400_000;
const SECRET = 'the webhook secret, 32 characters';

let opened: OpenedDatabase;
let deps: Deps;
let receiver: Receiver;
let smtp: SmtpSink;
let token: string;
let clock = Date.UTC(2030, 0, 1);
let woken = 0;
let app: ReturnType<typeof createApp>;

async function api(method: string, path: string, body?: unknown) {
  const res = await app.fetch(
    new Request(`http://127.0.0.1:8080${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    { clientIp: '127.0.0.1', secure: false, waitUntil: () => {} },
  );
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : null };
}

const deliveries = () => deps.db.db.select().from(notificationDeliveries).orderBy(notificationDeliveries.id);
const run = (timeoutMs?: number, d: Deps = deps) => new Notifier(d, { timeoutMs }).run();

let n = 0;
function event(type: NewEvent['type'], data: Record<string, unknown> = {}): NewEvent {
  n++;
  return { type, dedupeKey: `test:${type}:${n}`, subject: { kind: 'certificate', id: `c${n}`, name: `www${n}` }, title: `www${n}: ${type}`, body: `The body of ${type}.\n\nA second paragraph.`, link: `/certificates/www${n}`, data };
}

async function emit(...list: NewEvent[]) {
  await deps.db.batch(list.map((e) => eventStatement(deps, e)));
  eventsWritten(deps);
}

beforeAll(async () => {
  [receiver, smtp] = await Promise.all([startReceiver(), startSmtpSink()]);
  opened = await openDatabase(`file:${makeTempDir('notifications-')}/certkeep.db`);
  deps = await offlineDeps(opened.database, {
    now: () => clock,
    outbound: loopbackOutbound(),
    mailer: smtpMailer({ url: smtp.url, from: 'Certkeep <certkeep@example.com>' }),
    onEvents: () => void woken++,
    hostId: 'host-a',
  });
  app = createApp(deps);
  token = await createAdminToken(deps, BY_CLI, 'tests');
});
afterAll(async () => {
  opened?.close();
  await Promise.all([receiver?.stop(), smtp?.stop()]);
});

describe('channels through the admin API', () => {
  it('refuse bad input with 400 naming the field, and create nothing', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'x', type: 'pager' }, 'type'],
      [{ name: 'x' }, 'type'],
      [{ name: 'x', type: 'slack', url: 'not a url' }, 'url'],
      [{ name: 'x', type: 'slack', url: 'http://hooks.slack.example/services/T/B/X' }, 'url'],
      [{ name: 'x', type: 'webhook', url: 'https://10.1.2.3/hook', secret: SECRET }, 'url'],
      [{ name: 'x', type: 'webhook', url: `${receiver.origin}/hook`, secret: 'short' }, 'secret'],
      [{ name: 'x', type: 'webhook', url: `${receiver.origin}/hook` }, 'secret'],
      [{ name: 'x', type: 'slack', url: `${receiver.origin}/slack`, events: ['certificate.expiring', 'certificate.exploded'] }, 'events[1]'],
      [{ name: 'x', type: 'slack', url: `${receiver.origin}/slack`, events: [] }, 'events'],
      [{ name: 'x', type: 'slack', url: `${receiver.origin}/slack`, expiringDays: [7, 5] }, 'expiringDays[1]'],
      [{ name: 'x', type: 'slack', url: `${receiver.origin}/slack`, to: ['a@example.com'] }, 'to'],
      [{ name: 'x', type: 'email' }, 'to'],
      [{ name: 'x', type: 'email', to: [] }, 'to'],
      [{ name: 'x', type: 'email', to: ['ops@example.com', 'not an address'] }, 'to[1]'],
      [{ name: 'x', type: 'email', to: ['ops@example.com'], colour: 'red' }, 'colour'],
      [{ name: 'bad name!', type: 'email', to: ['ops@example.com'] }, 'name'],
    ];
    for (const [body, field] of cases) {
      const res = await api('POST', '/api/v1/notification-channels', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.type).toBe('application/problem+json');
      expect(res.body.field, JSON.stringify(body)).toBe(field);
    }
    expect(await deps.db.db.select().from(notificationChannels)).toEqual([]);
    expect(await deps.db.db.select().from(auditLog).where(eq(auditLog.action, 'notification-channel.create'))).toEqual([]);
  });

  it('seal the settings, show no secret, change what is given and keep the rest, and record who did it', async () => {
    const slackUrl = `${receiver.origin}/slack/T0001/B0002/abcdefghijklmnopqrstuvwx`;
    const created = await api('POST', '/api/v1/notification-channels', { name: 'chat', type: 'slack', url: slackUrl });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'chat', type: 'slack', url: `${receiver.origin}/…uvwx`, expiringDays: [30, 14, 7, 3, 1] });
    // Everything but the opt-in renewals.
    expect(created.body.events).not.toContain('certificate.renewed');
    expect(created.body.events).toContain('certificate.renewal_failed');
    const hook = await api('POST', '/api/v1/notification-channels', { name: 'hook', type: 'webhook', url: `${receiver.origin}/hook`, secret: SECRET, events: ['certificate.renewal_failed', 'certificate.renewed'] });
    expect(hook.body).toMatchObject({ url: `${receiver.origin}/hook`, secret: 'set', events: ['certificate.renewal_failed', 'certificate.renewed'] });
    expect((await api('POST', '/api/v1/notification-channels', { name: 'hook', type: 'ntfy', url: `${receiver.origin}/ntfy/t` })).status).toBe(409);

    const rows = await deps.db.db.select().from(notificationChannels);
    const stored = JSON.stringify(rows);
    for (const secret of [slackUrl, 'abcdefghijklmnop', SECRET]) expect(stored).not.toContain(secret);
    const listed = await api('GET', '/api/v1/notification-channels?limit=1');
    expect(listed.body.items.map((c: { name: string }) => c.name)).toEqual(['chat']);
    expect(JSON.stringify(listed.body)).not.toContain('abcdefghijklmnop');
    expect((await api('GET', `/api/v1/notification-channels?limit=1&cursor=${listed.body.next}`)).body.items[0]).toMatchObject({ name: 'hook', secret: 'set' });

    const patched = await api('PATCH', '/api/v1/notification-channels/chat', { events: ['certificate.expiring'], expiringDays: [1, 7] });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ events: ['certificate.expiring'], expiringDays: [7, 1], url: `${receiver.origin}/…uvwx` });
    expect((await api('PATCH', '/api/v1/notification-channels/chat', { secret: SECRET })).body.field).toBe('secret');
    expect((await api('PATCH', '/api/v1/notification-channels/chat', { type: 'discord' })).body.field).toBe('type');
    expect((await api('PATCH', '/api/v1/notification-channels/chat', { url: 'http://example.com/x' })).body.field).toBe('url');
    expect((await api('GET', '/api/v1/notification-channels/chat')).body.events).toEqual(['certificate.expiring']);
    expect((await api('GET', '/api/v1/notification-channels/nothing')).status).toBe(404);

    const audit = await deps.db.db.select().from(auditLog).where(like(auditLog.action, 'notification-channel.%')).orderBy(auditLog.id);
    expect(audit.map((a) => [a.action, a.objectName, a.actorKind, a.actorName])).toEqual([
      ['notification-channel.create', 'chat', 'token', 'tests'],
      ['notification-channel.create', 'hook', 'token', 'tests'],
      ['notification-channel.update', 'chat', 'token', 'tests'],
    ]);
    expect(JSON.stringify(audit)).not.toContain(SECRET);
  });

  it('refuse email where no mail can be sent: on a Worker, and on a node host without SMTP settings', async () => {
    for (const over of [{ runtime: 'worker' as const }, { mailer: undefined }]) {
      const other = createApp({ ...deps, ...over });
      const res = await other.fetch(
        new Request('http://127.0.0.1/api/v1/notification-channels', {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'mail', type: 'email', to: ['ops@example.com'] }),
        }),
        { clientIp: '127.0.0.1', secure: false, waitUntil: () => {} },
      );
      const body = await res.json();
      expect(res.status).toBe(400);
      expect(body.field).toBe('type');
      expect(body.detail).toMatch(over.runtime ? /node host/ : /CERTKEEP_SMTP_URL/);
    }
  });
});

describe('deliveries', () => {
  beforeEach(async () => {
    // Each test starts from no channels, no deliveries, no events waiting.
    await deps.db.db.delete(notificationChannels);
    await deps.db.db.delete(notificationDeliveries);
    await deps.db.db.update(events).set({ dispatchedAt: 0 });
    receiver.requests.length = 0;
  });

  it('reach every kind of channel once, each in its own format, with a link, the webhook signed', async () => {
    const all = ['certificate.renewal_failed', 'certificate.expiring'];
    for (const c of [
      { name: 'mail', type: 'email', to: ['ops@example.com', 'Oncall@Example.com', 'boss@example.com'], events: all },
      { name: 'slack', type: 'slack', url: `${receiver.origin}/slack/T1/B1/secretpathsecretpath`, events: all },
      { name: 'discord', type: 'discord', url: `${receiver.origin}/discord/123/tokentokentoken`, events: all },
      { name: 'teams', type: 'teams', url: `${receiver.origin}/teams?sig=signaturesignature`, events: all },
      { name: 'ntfy', type: 'ntfy', url: `${receiver.origin}/ntfy/certkeep-alerts`, token: 'tk_ntfytokenntfytoken', events: all },
      { name: 'hook', type: 'webhook', url: `${receiver.origin}/hook`, secret: SECRET, events: all },
      // Wants only the last warnings: the 7-day one does not reach it.
      { name: 'late', type: 'webhook', url: `${receiver.origin}/late`, secret: SECRET, events: all, expiringDays: [3, 1] },
    ]) {
      expect((await api('POST', '/api/v1/notification-channels', c)).status).toBe(201);
    }
    const failed = event('certificate.renewal_failed', { certificate: 'www', problem: { type: 'urn:ietf:params:acme:error:rejectedIdentifier' } });
    const expiring = event('certificate.expiring', { threshold: 7, daysLeft: 6 });
    const renewed = event('certificate.renewed', { serial: '0a' });
    await emit(failed, expiring, renewed);
    const result = await run();
    expect(result).toEqual({ sent: 13, retried: 0, failed: 0 });

    const mails = await smtp.waitFor(2);
    expect(mails.map((m) => m.subject).sort()).toEqual([`[Certkeep] ${expiring.title}`, `[Certkeep] ${failed.title}`].sort());
    for (const mail of mails) {
      // (The mail system writes domains in lower case.)
      expect(mail.envelopeTo).toEqual(['ops@example.com', 'Oncall@example.com', 'boss@example.com']);
      expect((mail.to as { value: Array<{ address: string }> }).value.map((a) => a.address)).toEqual(['ops@example.com', 'Oncall@example.com', 'boss@example.com']);
      expect(mail.from?.text).toBe('"Certkeep" <certkeep@example.com>');
      expect(mail.text).toContain('A second paragraph.');
      expect(mail.html).toContain('<h1');
    }
    // No site hostname: links go to the address the channel was saved from.
    expect(mails[0].text).toMatch(/Open in Certkeep: http:\/\/127\.0\.0\.1:8080\/certificates\/www\d/);

    const slack = receiver.to('/slack/T1/B1/secretpathsecretpath').map((r) => JSON.parse(r.body));
    expect(slack).toHaveLength(2);
    expect(slack[0].text).toMatch(/^:rotating_light: \*www\d+: certificate\.renewal_failed\*\nThe body/);
    expect(slack[0].text).toContain('<http://127.0.0.1:8080/certificates/www');
    expect(slack[0].blocks[0].type).toBe('section');
    const discord = receiver.to('/discord/123/tokentokentoken').map((r) => JSON.parse(r.body));
    expect(discord[0]).toMatchObject({ username: 'Certkeep', allowed_mentions: { parse: [] }, embeds: [{ title: failed.title, color: 0xc62828 }] });
    const teams = receiver.to('/teams').map((r) => JSON.parse(r.body));
    expect(teams[0]).toMatchObject({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard' } }] });
    expect(teams[0].attachments[0].content.actions[0]).toMatchObject({ type: 'Action.OpenUrl', title: 'Open in Certkeep' });
    // ntfy: JSON publishing to the server's root (here under /ntfy), the topic in the body, the token as a bearer.
    const ntfy = receiver.to('/ntfy');
    expect(ntfy.map((r) => JSON.parse(r.body).topic)).toEqual(['certkeep-alerts', 'certkeep-alerts']);
    expect(ntfy[0].headers.authorization).toBe('Bearer tk_ntfytokenntfytoken');
    expect(JSON.parse(ntfy[0].body)).toMatchObject({ title: failed.title, priority: 5, tags: ['rotating_light'] });
    expect(JSON.parse(ntfy[1].body)).toMatchObject({ title: expiring.title, priority: 4 });
    expect(JSON.parse(ntfy[0].body).click).toMatch(/^http:\/\/127\.0\.0\.1:8080\/certificates\/www/);

    const hooks = receiver.to('/hook');
    expect(hooks).toHaveLength(2);
    for (const h of hooks) {
      // What a receiver checks: the HMAC of the exact bytes, then the id and the time inside them.
      const expected = `sha256=${createHmac('sha256', SECRET).update(h.body).digest('hex')}`;
      expect(h.headers['x-certkeep-signature']).toBe(expected);
      const body = JSON.parse(h.body);
      expect(h.headers['x-certkeep-delivery']).toBe(body.id);
      expect(h.headers['x-certkeep-event']).toBe(body.type);
      expect(Date.parse(body.sentAt)).toBe(clock);
      expect(h.headers['x-certkeep-timestamp']).toBe(String(Math.floor(clock / 1000)));
    }
    expect(JSON.parse(hooks[0].body)).toMatchObject({ type: 'certificate.renewal_failed', title: failed.title, data: { type: 'certificate.renewal_failed', certificate: 'www' }, subject: { kind: 'certificate', name: failed.subject.name } });
    // A tampered body does not match the signature.
    expect(`sha256=${createHmac('sha256', SECRET).update(hooks[0].body.replace('www', 'evil')).digest('hex')}`).not.toBe(hooks[0].headers['x-certkeep-signature']);
    expect(receiver.to('/late').map((r) => JSON.parse(r.body).type)).toEqual(['certificate.renewal_failed']);

    // Once: a second run sends nothing.
    expect(await run()).toEqual({ sent: 0, retried: 0, failed: 0 });
    const log = await api('GET', '/api/v1/notifications?limit=100');
    expect(log.body.items).toHaveLength(13);
    expect(log.body.items.every((d: { state: string; attempts: number }) => d.state === 'sent' && d.attempts === 1)).toBe(true);
    expect(log.body.items.find((d: { channel: string }) => d.channel === 'late')).toMatchObject({ event: 'certificate.renewal_failed', subject: failed.title, channelType: 'webhook' });
  });

  it('retry with back-off, give up after the last attempt or a refusal that will not change, and name why', async () => {
    let answer = 500;
    receiver.on('/flaky', (_req, res) => res.writeHead(answer, { 'content-type': 'text/plain' }).end(`server trouble at /flaky/${SECRET}`));
    receiver.on('/gone', (_req, res) => res.writeHead(410).end('this hook was deleted'));
    await api('POST', '/api/v1/notification-channels', { name: 'flaky', type: 'webhook', url: `${receiver.origin}/flaky`, secret: SECRET, events: ['certificate.renewal_failed'] });
    await api('POST', '/api/v1/notification-channels', { name: 'gone', type: 'webhook', url: `${receiver.origin}/gone`, secret: SECRET, events: ['certificate.renewal_failed'] });
    await emit(event('certificate.renewal_failed'));
    expect(await run()).toEqual({ sent: 0, retried: 1, failed: 1 });
    let [flaky, gone] = await deliveries();
    expect(gone).toMatchObject({ channelName: 'gone', state: 'failed', attempts: 1, lastError: '127.0.0.1:' + receiver.port + ' answered HTTP 410: this hook was deleted' });
    expect(flaky).toMatchObject({ state: 'pending', attempts: 1, nextAttemptAt: clock + 30_000 });
    // The receiver's answer is quoted, with the channel's secret cut out.
    expect(flaky.lastError).toBe(`127.0.0.1:${receiver.port} answered HTTP 500: server trouble at /flaky/[redacted]`);
    // Not before its time.
    expect(await run()).toEqual({ sent: 0, retried: 0, failed: 0 });
    clock += 30_000;
    expect(await run()).toEqual({ sent: 0, retried: 1, failed: 0 });
    [flaky] = await deliveries();
    expect(flaky).toMatchObject({ attempts: 2, nextAttemptAt: clock + 120_000 });
    answer = 200;
    clock += 120_000;
    expect(await run()).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect((await deliveries())[0]).toMatchObject({ state: 'sent', attempts: 3, lastError: null });
    expect(receiver.to('/flaky')).toHaveLength(3);
    // The same event id every time: the receiver can tell a retry.
    expect(new Set(receiver.to('/flaky').map((r) => r.headers['x-certkeep-delivery'])).size).toBe(1);

    // A receiver that keeps failing: MAX_ATTEMPTS, then failed.
    answer = 503;
    await emit(event('certificate.renewal_failed'));
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      await run();
      clock += 7 * 3_600_000;
    }
    const last = (await deliveries()).at(-2)!;
    expect(last).toMatchObject({ channelName: 'flaky', state: 'failed', attempts: MAX_ATTEMPTS });
    expect(await run()).toEqual({ sent: 0, retried: 0, failed: 0 });
    const failedOnly = await api('GET', '/api/v1/notifications?state=failed');
    expect(failedOnly.body.items.map((d: { channel: string }) => d.channel)).toEqual(['gone', 'flaky', 'gone']);
  });

  it('follow no redirect, cut off a slow or huge receiver, and refuse a mail the server refuses', async () => {
    receiver.on('/moved', (_req, res) => res.writeHead(302, { location: `${receiver.origin}/elsewhere` }).end());
    receiver.on('/slow', () => {
      /* never answers */
    });
    receiver.on('/huge', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      const pump = () => {
        while (!res.destroyed && sent < 50 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return;
        }
        if (!res.destroyed) res.end();
      };
      res.on('drain', pump);
      pump();
    });
    for (const path of ['/moved', '/slow', '/huge']) {
      await api('POST', '/api/v1/notification-channels', { name: path.slice(1), type: 'webhook', url: `${receiver.origin}${path}`, secret: SECRET, events: ['certificate.revoked'] });
    }
    await api('POST', '/api/v1/notification-channels', { name: 'mail', type: 'email', to: ['nobody@example.com'], events: ['certificate.revoked'] });
    smtp.refuseWith(550);
    await emit(event('certificate.revoked'));
    const started = Date.now();
    expect(await run(400)).toEqual({ sent: 0, retried: 2, failed: 2 });
    expect(Date.now() - started).toBeLessThan(5_000);
    smtp.refuseWith(null);
    const byChannel = Object.fromEntries((await deliveries()).map((d) => [d.channelName, d]));
    expect(byChannel.moved).toMatchObject({ state: 'failed' });
    expect(byChannel.moved.lastError).toMatch(/redirects \(HTTP 302\) to https:\/\/127\.0\.0\.1:\d+\/elsewhere; redirects are not followed/);
    expect(receiver.to('/elsewhere')).toEqual([]);
    expect(byChannel.slow).toMatchObject({ state: 'pending', lastError: 'no complete answer within 400 ms' });
    expect(byChannel.huge).toMatchObject({ state: 'pending' });
    expect(byChannel.huge.lastError).toMatch(/larger than 64 KiB; it was not read further/);
    expect(byChannel.mail).toMatchObject({ state: 'failed' });
    expect(byChannel.mail.lastError).toMatch(/^the mail server did not take it: .*550/);
  });

  it('are sent once when two hosts send at the same time', async () => {
    const other = { ...deps, hostId: 'host-b' };
    await api('POST', '/api/v1/notification-channels', { name: 'hook', type: 'webhook', url: `${receiver.origin}/hook`, secret: SECRET, events: ['certificate.renewed'] });
    await api('POST', '/api/v1/notification-channels', { name: 'hook2', type: 'webhook', url: `${receiver.origin}/hook2`, secret: SECRET, events: ['certificate.renewed'] });
    const list = Array.from({ length: 12 }, () => event('certificate.renewed'));
    await emit(...list);
    const [a, b] = await Promise.all([run(undefined, deps), run(undefined, other)]);
    expect(a.sent + b.sent).toBe(24);
    const ids = [...receiver.to('/hook'), ...receiver.to('/hook2')].map((r) => `${r.path} ${JSON.parse(r.body).id}`);
    expect(ids).toHaveLength(24);
    expect(new Set(ids).size).toBe(24);
    expect(new Set((await deliveries()).map((d) => d.claimedBy)).size).toBeGreaterThanOrEqual(1);
  });

  it('are found by the tick for events nobody announced (a crash between the commit and the wake-up)', async () => {
    await api('POST', '/api/v1/notification-channels', { name: 'hook', type: 'webhook', url: `${receiver.origin}/hook`, secret: SECRET, events: ['certificate.revoked'] });
    await deps.db.batch([eventStatement(deps, event('certificate.revoked'))]);
    const { Scheduler } = await import('../../jobs/scheduler.ts');
    expect((await new Scheduler(deps).tick()).notificationsSent).toBe(1);
    expect(receiver.to('/hook')).toHaveLength(1);
  });
});

describe('the delivery log', () => {
  it('pages newest first, filters by state, channel and event, and refuses what it does not know', async () => {
    await deps.db.db.delete(notificationChannels);
    await deps.db.db.update(events).set({ dispatchedAt: 0 });
    receiver.on('/gone', (_req, res) => res.writeHead(410).end('this hook was deleted'));
    await api('POST', '/api/v1/notification-channels', { name: 'log-a', type: 'webhook', url: `${receiver.origin}/hook`, secret: SECRET, events: ['certificate.renewed', 'certificate.revoked'] });
    await api('POST', '/api/v1/notification-channels', { name: 'log-b', type: 'webhook', url: `${receiver.origin}/gone`, secret: SECRET, events: ['certificate.renewed'] });
    await emit(...Array.from({ length: 6 }, () => event('certificate.renewed')), event('certificate.revoked'));
    expect(await run()).toEqual({ sent: 7, retried: 0, failed: 6 });
    const all = await api('GET', '/api/v1/notifications?limit=5');
    expect(all.body.items).toHaveLength(5);
    const ids = all.body.items.map((d: { id: number }) => d.id);
    expect([...ids].sort((x: number, y: number) => y - x)).toEqual(ids);
    const next = await api('GET', `/api/v1/notifications?limit=5&cursor=${all.body.next}`);
    expect(next.body.items[0].id).toBeLessThan(ids.at(-1));
    const a = await api('GET', '/api/v1/notifications?channel=log-a&event=certificate.renewed');
    expect(a.body.items).toHaveLength(6);
    expect(a.body.items.every((d: { channel: string; event: string; state: string }) => d.channel === 'log-a' && d.event === 'certificate.renewed' && d.state === 'sent')).toBe(true);
    const failed = await api('GET', '/api/v1/notifications?state=failed&channel=log-b');
    expect(failed.body.items).toHaveLength(6);
    expect(failed.body.items[0]).toMatchObject({ channel: 'log-b', state: 'failed', attempts: 1, lastError: expect.stringContaining('HTTP 410') });
    expect((await api('GET', '/api/v1/notifications?status=sent&event=certificate.revoked')).body.items.map((d: { channel: string }) => d.channel)).toEqual(['log-a', 'hook']);
    for (const [query, field] of [
      ['state=lost', 'state'],
      ['event=certificate.exploded', 'event'],
      ['limit=0', 'limit'],
      ['cursor=nonsense', 'cursor'],
      ['colour=red', 'colour'],
    ]) {
      const res = await api('GET', `/api/v1/notifications?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.field).toBe(field);
    }
  });

  it('reads along an index whatever the filter', async () => {
    const plans: string[] = [];
    for (const where of ["state = 'failed'", "channel_name = 'hook'", "event_type = 'certificate.renewed'", 'id < 1000']) {
      const rows = await deps.db.db.all<{ detail: string }>(sql.raw(`EXPLAIN QUERY PLAN SELECT * FROM notification_deliveries WHERE ${where} ORDER BY id DESC LIMIT 51`));
      plans.push(rows.map((r) => r.detail).join('; '));
    }
    for (const plan of plans) {
      expect(plan).not.toMatch(/USE TEMP B-TREE/);
      expect(plan).toMatch(/USING (INTEGER PRIMARY KEY|(COVERING )?INDEX)/);
    }
    const due = await deps.db.db.all<{ detail: string }>(
      sql.raw("EXPLAIN QUERY PLAN SELECT id FROM notification_deliveries WHERE state = 'pending' AND next_attempt_at <= 5 AND (claimed_until IS NULL OR claimed_until < 5) ORDER BY next_attempt_at, id LIMIT 1"),
    );
    expect(due.map((r) => r.detail).join('; ')).toMatch(/USING INDEX notification_deliveries_due/);
  });
});

describe('a test message', () => {
  it('is sent at once: 200 with what the receiver said, or 502 with why, and recorded in the audit log', async () => {
    receiver.on('/refuses/T/B/slacktokenslacktoken', (_req, res) => res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":"invalid_token"}'));
    await api('POST', '/api/v1/notification-channels', { name: 'good', type: 'discord', url: `${receiver.origin}/good/1/discordtokendiscordtoken` });
    await api('POST', '/api/v1/notification-channels', { name: 'bad', type: 'slack', url: `${receiver.origin}/refuses/T/B/slacktokenslacktoken` });
    const ok = await api('POST', '/api/v1/notification-channels/good/test');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ channel: 'good', sent: true, detail: `HTTP 200 from 127.0.0.1:${receiver.port}` });
    const sent = JSON.parse((await receiver.waitFor('/good/1/discordtokendiscordtoken'))[0].body);
    expect(sent.embeds[0].title).toBe('Test message for the notification channel "good"');
    expect(sent.embeds[0].url).toBe('http://127.0.0.1:8080/notifications/channels/good');
    const bad = await api('POST', '/api/v1/notification-channels/bad/test');
    expect(bad.status).toBe(502);
    expect(bad.type).toBe('application/problem+json');
    expect(bad.body).toMatchObject({ status: 502, code: 'NOTIFICATION_FAILED', detail: `127.0.0.1:${receiver.port} answered HTTP 403: {"error":"invalid_token"}`, permanent: true });
    expect(JSON.stringify(bad.body)).not.toContain('slacktoken');
    const audit = await deps.db.db.select().from(auditLog).where(eq(auditLog.action, 'notification-channel.test')).orderBy(auditLog.id);
    expect(audit.map((a) => [a.objectName, a.outcome])).toEqual([
      ['good', 'ok'],
      ['bad', 'failed'],
    ]);
    expect((await api('POST', '/api/v1/notification-channels/nothing/test')).status).toBe(404);
  });

  it('is what deleting a channel leaves in the log: waiting deliveries end as failed', async () => {
    await emit(event('certificate.expiring', { threshold: 30 }));
    const { dispatchEvents } = await import('./outbox.ts');
    await dispatchEvents(deps);
    expect((await deliveries()).filter((d) => d.channelName === 'good' && d.state === 'pending')).toHaveLength(1);
    expect((await api('DELETE', '/api/v1/notification-channels/good')).status).toBe(204);
    expect((await deliveries()).find((d) => d.channelName === 'good' && d.eventType === 'certificate.expiring')).toMatchObject({ state: 'failed', lastError: 'the channel was removed before this was sent' });
    expect((await api('GET', '/api/v1/notification-channels/good')).status).toBe(404);
    expect(await deps.db.db.select().from(auditLog).where(eq(auditLog.action, 'notification-channel.delete'))).toHaveLength(1);
  });
});

describe('expiry thresholds', () => {
  const PEM = '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n';
  async function served(name: string, notAfter: number, extra: Partial<typeof certificates.$inferInsert> = {}) {
    const now = clock;
    await deps.db.db.insert(certificates).values({
      id: `id-${name}`, name, domains: JSON.stringify([`${name}.example.com`]), challenge: 'http-01', accountId: 'acct', keyId: 'key', status: 'valid',
      pem: PEM, serial: `${name}-01`, notBefore: now - 60 * DAY, notAfter, renewAt: notAfter - 10 * DAY, failureCount: 0, createdAt: now, updatedAt: now, ...extra,
    });
  }
  const expiring = async () =>
    (await deps.db.db.select().from(events).where(eq(events.type, 'certificate.expiring')).orderBy(events.id)).map((e) => [e.subjectName, JSON.parse(e.data).threshold, e.title]);

  it('fire once per certificate, serial and threshold, the tightest one crossed first, found by time', async () => {
    await deps.db.db.delete(events).where(eq(events.type, 'certificate.expiring'));
    await opened.database.db.run(sql`PRAGMA foreign_keys = OFF`);
    await served('five', clock + 5 * DAY + 3_600_000);
    await served('twenty', clock + 20 * DAY);
    await served('far', clock + 80 * DAY);
    await served('revoked', clock + 2 * DAY, { status: 'revoked' });
    await served('gone', clock - DAY);
    woken = 0;
    expect(await checkExpiring(deps)).toBe(2);
    expect(woken).toBe(1);
    expect(await expiring()).toEqual([
      ['five', 7, 'five expires in 5 days'],
      ['twenty', 30, 'twenty expires in 20 days'],
    ]);
    const checkAt = async (name: string) => (await deps.db.db.select().from(certificates).where(eq(certificates.name, name)))[0].expiryCheckAt;
    expect(await checkAt('five')).toBe(clock + 5 * DAY + 3_600_000 - 3 * DAY);
    expect(await checkAt('far')).toBe(clock + 50 * DAY);
    expect(await checkAt('revoked')).toBe(EXPIRY_DONE);
    expect(await checkAt('gone')).toBe(EXPIRY_DONE);
    // Nothing more until the next threshold comes.
    expect(await checkExpiring(deps)).toBe(0);
    clock += 2 * DAY + 3_600_000; // three days left
    expect(await checkExpiring(deps)).toBe(1);
    clock += 2 * DAY + 60_000; // a day left, less a minute
    expect(await checkExpiring(deps)).toBe(1);
    clock += DAY; // expired
    expect(await checkExpiring(deps)).toBe(0);
    expect((await expiring()).filter((e) => e[0] === 'five')).toEqual([
      ['five', 7, 'five expires in 5 days'],
      ['five', 3, 'five expires in 3 days'],
      ['five', 1, 'five expires within a day'],
    ]);
    expect(await checkAt('five')).toBe(EXPIRY_DONE);
    // Renewed: the thresholds start again for the new serial.
    await deps.db.db.update(certificates).set({ serial: 'five-02', notAfter: clock + 3 * DAY, expiryCheckAt: clock + 3 * DAY - 30 * DAY }).where(eq(certificates.name, 'five'));
    expect(await checkExpiring(deps)).toBe(1);
    expect((await expiring()).at(-1)).toEqual(['five', 3, 'five expires in 3 days']);
    const body = (await deps.db.db.select().from(events).where(eq(events.type, 'certificate.expiring')).orderBy(events.id)).at(-1)!.body;
    expect(body).toContain('serial five-02');
  });

  it('reads only the certificates whose time has come, along an index', async () => {
    for (const where of ['expiry_check_at >= 0 AND expiry_check_at <= 5 ORDER BY expiry_check_at', 'expiry_check_at IS NULL AND pem IS NOT NULL']) {
      const plan = (await deps.db.db.all<{ detail: string }>(sql.raw(`EXPLAIN QUERY PLAN SELECT * FROM certificates WHERE ${where} LIMIT 100`))).map((r) => r.detail).join('; ');
      expect(plan).toMatch(/USING (COVERING )?INDEX certificates_expiry_(check|unchecked)/);
      expect(plan).not.toMatch(/USE TEMP B-TREE/);
    }
  });
});

describe('the delivery log keeps NOTIFICATION_RETENTION_DAYS', () => {
  it('removes ended deliveries and their dispatched events once older, keeps what is pending, and looks at the oldest rows only', async () => {
    await deps.db.db.delete(notificationDeliveries);
    await deps.db.db.delete(events);
    const old = clock - (NOTIFICATION_RETENTION_DAYS + 1) * DAY;
    const recent = clock - DAY;
    const insertEvent = async (createdAt: number, dispatched: boolean) => {
      const [row] = await deps.db.db
        .insert(events)
        .values({ type: 'certificate.renewed', dedupeKey: `purge:${n++}`, subjectKind: 'certificate', subjectName: 'www', title: 't', body: 'b', data: '{}', createdAt, dispatchedAt: dispatched ? createdAt : null })
        .returning({ id: events.id });
      return row.id;
    };
    const deliver = (eventId: number, state: 'pending' | 'sent' | 'failed', at: number) =>
      deps.db.db.insert(notificationDeliveries).values({ eventId, eventType: 'certificate.renewed', channelId: `ch${n++}`, channelName: 'ops', channelType: 'webhook', state, createdAt: at, updatedAt: at });
    const oldSent = await insertEvent(old, true);
    await deliver(oldSent, 'sent', old);
    await deliver(oldSent, 'failed', old);
    const oldPending = await insertEvent(old, true);
    await deliver(oldPending, 'sent', old);
    await deliver(oldPending, 'pending', old);
    const oldUndispatched = await insertEvent(old, false);
    const recentSent = await insertEvent(recent, true);
    await deliver(recentSent, 'sent', recent);

    await purgeNotifications(deps);
    expect((await deps.db.db.select({ id: events.id }).from(events).orderBy(events.id)).map((r) => r.id)).toEqual([oldPending, oldUndispatched, recentSent]);
    expect((await deliveries()).map((r) => [r.eventId, r.state])).toEqual([
      [oldPending, 'pending'],
      [recentSent, 'sent'],
    ]);
    // Nothing more to remove: a second run changes nothing.
    await purgeNotifications(deps);
    expect(await deliveries()).toHaveLength(2);

    // Each statement reads the oldest rows by id only, never the whole table.
    const plans = await Promise.all(
      [sql`explain query plan select ${notificationDeliveries.id} from ${notificationDeliveries} order by ${notificationDeliveries.id} limit 500`, sql`explain query plan select ${events.id} from ${events} order by ${events.id} limit 500`].map((q) =>
        deps.db.db.all<{ detail: string }>(q),
      ),
    );
    for (const plan of plans) expect(plan.map((p) => p.detail).join('; ')).not.toMatch(/TEMP B-TREE/);
  });
});
