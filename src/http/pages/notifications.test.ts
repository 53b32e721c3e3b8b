// The notification pages through the real app on a libSQL file, signed in with a real session:
// the type choice, a channel made with the form (events as checkboxes, errors next to their
// field, secrets never written back into a page), its page with masked settings, a change that
// keeps what was left empty, the test button against an HTTPS receiver, removal, and the
// delivery log with its filters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { like } from 'drizzle-orm';
import { signedInPageApp, type PageApp } from '../../../test/harness/page-app.ts';
import { decode, fieldErrorText, unlabelledControls } from '../../../test/harness/markup.ts';
import { loopbackOutbound } from '../../../test/harness/outbound.ts';
import { startReceiver, type Receiver } from '../../../test/harness/receivers.ts';
import { auditLog } from '../../db/schema.ts';
import { eventStatement } from '../../domain/events.ts';
import { Notifier } from '../../jobs/notifier.ts';

const SECRET = 'a webhook secret of thirty-two chars';

let f: PageApp;
let receiver: Receiver;
const send = (path: string, fields: Record<string, string | string[]>) => {
  const body = new URLSearchParams({ _csrf: f.csrf });
  for (const [k, v] of Object.entries(fields)) for (const value of [v].flat()) body.append(k, value);
  return f.call(path, { method: 'POST', body, headers: { origin: 'http://127.0.0.1:8080' } });
};

beforeAll(async () => {
  [f, receiver] = await Promise.all([signedInPageApp('notification-pages'), startReceiver()]);
  // The page app has no network; these pages reach the receiver on 127.0.0.1.
  f.deps.outbound = loopbackOutbound();
});
afterAll(async () => {
  f?.close();
  await receiver?.stop();
});

describe('notification pages', () => {
  it('list no channel yet, offer every type this host can send to and say why email is not among them', async () => {
    const list = await f.call('/notifications');
    expect(list.status).toBe(200);
    expect(decode(list.text)).toContain('No channel yet: nobody hears of failures.');
    const choice = await f.call('/notifications/channels/new');
    for (const type of ['slack', 'teams', 'discord', 'ntfy', 'webhook']) expect(choice.text).toContain(`href="/notifications/channels/new?type=${type}"`);
    // offlineDeps has no mailer: no SMTP settings on this "node host".
    expect(choice.text).not.toContain('?type=email');
    expect(decode(choice.text)).toContain('Email: email channels need a mail server: start Certkeep with CERTKEEP_SMTP_URL and CERTKEEP_SMTP_FROM.');
    expect((await f.call('/notifications/channels/new?type=email')).status).toBe(404);
    const form = await f.call('/notifications/channels/new?type=slack');
    expect(unlabelledControls(form.text)).toEqual([]);
    // Every event a checkbox; all but the opt-in renewals ticked.
    expect(form.text.match(/name="events"/g)).toHaveLength(10);
    expect(form.text).toMatch(/<input type="checkbox" id="field-events-2" name="events" aria-describedby="field-events-2-hint" value="certificate.renewed">/);
    expect(form.text).toMatch(/<input type="checkbox" id="field-events-1" name="events" value="certificate.renewal_failed" checked>/);
  });

  it('make a channel with the form; a mistake is named next to its field, and no secret comes back in the page', async () => {
    const slackUrl = `${receiver.origin}/services/T1/B2/pagesecretpagesecret`;
    const bad = await send('/notifications/channels', { type: 'slack', name: 'team-chat', url: 'http://hooks.example.com/services/x', events: ['certificate.expiring'], expiringDays: ['7'] });
    expect(bad.status).toBe(400);
    expect(fieldErrorText(bad.text, 'field-url')).toMatch(/^Plain http goes only to an address CERTKEEP_ALLOW_PRIVATE_TARGETS lists, and hooks\.example\.com is not one; use https$/);
    const noEvents = await send('/notifications/channels', { type: 'slack', name: 'team-chat', url: slackUrl });
    expect(noEvents.status).toBe(400);
    expect(decode(noEvents.text)).toContain('At least one event type');
    // The URL is the webhook's credential: not written back into the form.
    expect(noEvents.text).not.toContain('pagesecretpagesecret');
    const created = await send('/notifications/channels', { type: 'slack', name: 'team-chat', url: slackUrl, events: ['certificate.expiring', 'certificate.renewal_failed'], expiringDays: ['7', '1'] });
    expect(created.status).toBe(303);
    expect(created.headers.get('location')).toBe('/notifications/channels/team-chat?done=created');
    const page = await f.call('/notifications/channels/team-chat');
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('pagesecretpagesecret');
    expect(decode(page.text)).toContain(`${receiver.origin}/…cret`);
    expect(decode(page.text)).toContain('7, 1 days left');
    const webhook = await send('/notifications/channels', { type: 'webhook', name: 'hook', url: `${receiver.origin}/hook`, secret: 'short', events: ['certificate.revoked'] });
    expect(webhook.status).toBe(400);
    expect(fieldErrorText(webhook.text, 'field-secret')).toBe('At least 16 characters');
    expect(webhook.text).not.toContain('value="short"');
    expect(webhook.text).toContain(`value="${receiver.origin}/hook"`);
    const made = await send('/notifications/channels', { type: 'webhook', name: 'hook', url: `${receiver.origin}/hook`, secret: SECRET, events: ['certificate.revoked'] });
    expect(made.status, (made.text.match(/<p class="error"[^]*?<\/p>/g) ?? []).join(' ')).toBe(303);
    expect(decode((await f.call('/notifications')).text)).toMatch(/hook.*Webhook.*team-chat.*Slack/s);
  });

  it('change a channel: what is left empty keeps its value; the test button sends now and says how it went', async () => {
    const changed = await send('/notifications/channels/team-chat', { url: '', events: ['certificate.renewal_failed', 'certificate.revoked'], expiringDays: ['30'] });
    expect(changed.status).toBe(303);
    const page = decode((await f.call('/notifications/channels/team-chat')).text);
    expect(page).toContain('certificate.revoked');
    expect(page).toContain(`${receiver.origin}/…cret`);
    const tested = await send('/notifications/channels/team-chat/test', {});
    expect(tested.status).toBe(200);
    expect(decode(tested.text)).toContain(`The test message was sent: HTTP 200 from 127.0.0.1:${receiver.port}.`);
    const [got] = await receiver.waitFor('/services/T1/B2/pagesecretpagesecret');
    expect(JSON.parse(got.body).text).toContain('Test message for the notification channel "team-chat"');
    receiver.on('/hook', (_req, res) => res.writeHead(404).end('no such hook'));
    const failed = await send('/notifications/channels/hook/test', {});
    expect(failed.status).toBe(502);
    expect(decode(failed.text)).toContain(`The test message was not delivered: 127.0.0.1:${receiver.port} answered HTTP 404: no such hook`);
    const audit = await f.deps.db.db.select().from(auditLog).where(like(auditLog.action, 'notification-channel.%'));
    expect(audit.map((a) => [a.action, a.objectName, a.actorKind, a.outcome])).toEqual([
      ['notification-channel.create', 'team-chat', 'user', 'ok'],
      ['notification-channel.create', 'hook', 'user', 'ok'],
      ['notification-channel.update', 'team-chat', 'user', 'ok'],
      ['notification-channel.test', 'team-chat', 'user', 'ok'],
      ['notification-channel.test', 'hook', 'user', 'failed'],
    ]);
  });

  it('show the delivery log with filters, and refuse a filter it does not know', async () => {
    const { deps } = f;
    await deps.db.batch([
      eventStatement(deps, { type: 'certificate.revoked', dedupeKey: 'pages:1', subject: { kind: 'certificate', name: 'www' }, title: 'www was revoked (superseded)', body: 'It was.', link: '/certificates/www' }),
    ]);
    await new Notifier(deps).run();
    const log = await f.call('/notifications/log');
    expect(log.status).toBe(200);
    expect(unlabelledControls(log.text)).toEqual([]);
    const text = decode(log.text);
    expect(text).toContain('www was revoked (superseded)');
    expect(text).toMatch(/team-chat.*Sent/s);
    expect(text).toMatch(/hook.*Failed.*answered HTTP 404: no such hook/s);
    const onlyFailed = decode((await f.call('/notifications/log?state=failed&channel=&event=')).text);
    expect(onlyFailed).toContain('no such hook');
    expect(onlyFailed).not.toMatch(/<td data-label="Channel"><a href="\/notifications\/channels\/team-chat">/);
    const bad = await f.call('/notifications/log?state=lost');
    expect(bad.status).toBe(400);
    expect(decode(bad.text)).toContain('Expected one of pending, sent, failed');
  });

  it('remove a channel only when the box is ticked', async () => {
    const unticked = await send('/notifications/channels/hook/delete', {});
    expect(unticked.status).toBe(400);
    expect(fieldErrorText(unticked.text, 'confirm-delete')).toBe('Tick this box to confirm.');
    const removed = await send('/notifications/channels/hook/delete', { confirm: 'yes' });
    expect(removed.status).toBe(303);
    expect((await f.call('/notifications/channels/hook')).status).toBe(404);
    expect(decode((await f.call('/notifications?done=deleted')).text)).toContain('The notification channel was removed.');
  });
});
