// The certificate page's "On your servers" and consumers, through the real app on a libSQL file,
// signed in: the agent's SHA-256 on the page is the hash of the bytes the app serves; the config
// block, systemd units and cron line for the chosen API key slot, with the site hostname or a
// placeholder said plainly; the API keys filled in only in the answers that made them; the
// consumers table with the ones behind flagged and what agents wrote escaped.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { certificates, consumers } from '../../db/schema.ts';
import { createCertificate } from '../../domain/certificates.ts';
import { settingStatement } from '../../domain/settings.ts';
import { newId } from '../../domain/secrets.ts';
import { signedInPageApp, type PageApp } from '../../../test/harness/page-app.ts';
import { decode, unlabelledControls } from '../../../test/harness/markup.ts';
import { cronLine } from '../../../templates/agent.ts';
import { BY_CLI } from '../../domain/audit.ts';

let f: PageApp;
beforeEach(async () => {
  f = await signedInPageApp('agent-pages');
});
afterEach(() => f.close());

/** The text of the <pre> with this id, as a reader copies it. */
function block(markup: string, id: string): string {
  const inner = new RegExp(`<pre class="commands" id="${id}"><code>([\\s\\S]*?)</code></pre>`).exec(markup)?.[1];
  if (inner === undefined) throw new Error(`no block #${id}`);
  return decode(inner);
}

const post = (path: string, form: Record<string, string>) =>
  f.call(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...form, _csrf: f.csrf }).toString() });

describe('the certificate page, on your servers', () => {
  it('shows the SHA-256 of the very agent the app serves, and how to install and run it', async () => {
    await createCertificate(f.deps, BY_CLI, { name: 'www', domains: ['www.example.com', 'example.com'], challenge: 'http-01' });
    const res = await f.call('/certificates/www');
    expect(res.status).toBe(200);
    const served = await f.call('/agent/certkeep-agent.sh', {}, false);
    expect(served.status).toBe(200);
    const sha = createHash('sha256').update(served.text, 'utf8').digest('hex');
    expect(/<code id="agent-sha256">([0-9a-f]{64})<\/code>/.exec(res.text)?.[1]).toBe(sha);
    const install = block(res.text, 'agent-install');
    expect(install).toContain(`echo "${sha}  /tmp/certkeep-agent" | sha256sum -c - && install -m 755 /tmp/certkeep-agent /usr/local/bin/certkeep-agent`);
    expect(unlabelledControls(res.text)).toEqual([]);
  });

  it('without a site hostname, uses a placeholder address and says to replace it', async () => {
    await createCertificate(f.deps, BY_CLI, { name: 'www', domains: ['www.example.com', 'example.com'], challenge: 'http-01' });
    const text = (await f.call('/certificates/www')).text;
    expect(decode(text.replace(/<[^>]+>/g, ''))).toContain('No site hostname is configured, so these lines say https://certkeep.example.com: replace it');
    expect(block(text, 'agent-config')).toBe(
      [
        '[www]',
        'url = https://certkeep.example.com',
        'certificate = www',
        'certificate-api-key = <certificate API key 1>',
        'key-api-key = <API key 1 of the key www>',
        'fullchain = /etc/ssl/certkeep/www.pem',
        'key = /etc/ssl/certkeep/www.key',
        'reload = systemctl reload nginx',
        'verify = 127.0.0.1:443',
        'expect-names = www.example.com example.com',
      ].join('\n'),
    );
    expect(block(text, 'agent-install')).toContain('curl -fsS -o /tmp/certkeep-agent https://certkeep.example.com/agent/certkeep-agent.sh');
  });

  it('with the site hostname from setup, uses it; the slot chooser picks the API key slot', async () => {
    await createCertificate(f.deps, BY_CLI, { name: 'site', domains: ['certkeep.corp.example'], challenge: 'http-01' });
    await settingStatement(f.deps, 'siteCertificate', 'site');
    await createCertificate(f.deps, BY_CLI, { name: 'www', domains: ['www.example.com'], challenge: 'http-01' });
    const text = (await f.call('/certificates/www?agent-slot=2')).text;
    expect(text).not.toContain('No site hostname is configured');
    const config = block(text, 'agent-config');
    expect(config).toContain('url = https://certkeep.corp.example\n');
    expect(config).toContain('certificate-api-key = <certificate API key 2>\n');
    expect(config).toContain('key-api-key = <API key 2 of the key www>\n');
    expect(text).toContain('<option value="2" selected>API key 2</option>');
    expect(block(text, 'agent-install')).toContain('https://certkeep.corp.example/agent/certkeep-agent.sh');
  });

  it('offers a systemd service with a timer that spreads a fleet, and a cron line that does too', async () => {
    await createCertificate(f.deps, BY_CLI, { name: 'www', domains: ['www.example.com'], challenge: 'http-01' });
    const text = (await f.call('/certificates/www')).text;
    const units = block(text, 'agent-systemd');
    expect(units).toContain('ExecStart=/usr/local/bin/certkeep-agent run --quiet');
    expect(units).toContain('StateDirectory=certkeep-agent');
    expect(units).toMatch(/\[Timer\]\nOnCalendar=hourly\nRandomizedDelaySec=1h\n/);
    expect(units).toContain('systemctl enable --now certkeep-agent.timer');
    const cron = block(text, 'agent-cron');
    expect(cron).toBe(cronLine('www'));
    expect(cron).toMatch(/^\d{1,2} \* \* \* \* root sleep \$\(\( \$\(od -An -N1 -tu1 \/dev\/urandom\) \* 14 \)\) && \/usr\/local\/bin\/certkeep-agent run --quiet$/);
    // crontab reads % as a newline: the line must have none.
    expect(cron).not.toContain('%');
  });

  it('fills in the API keys only in the answers that made them', async () => {
    const created = await post('/certificates', { name: 'fresh', domains: 'fresh.example.com' });
    expect(created.status).toBe(201);
    const keys = [...created.text.matchAll(/value="(ck[ck]_[A-Za-z0-9_-]{32})"/g)].map((m) => m[1]);
    expect(keys).toHaveLength(4);
    const shown = block(created.text, 'agent-config-shown');
    expect(shown).toContain(`certificate-api-key = ${keys[0]}\n`);
    expect(shown).toContain(`key-api-key = ${keys[2]}\n`);

    const replaced = await post('/certificates/fresh/api-keys/2', {});
    expect(replaced.status).toBe(200);
    const [newKey] = [...replaced.text.matchAll(/value="(ck[ck]_[A-Za-z0-9_-]{32})"/g)].map((m) => m[1]);
    const again = block(replaced.text, 'agent-config-shown');
    expect(again).toContain(`certificate-api-key = ${newKey}\n`);
    expect(again).toContain('key-api-key = <API key 2 of the key fresh>\n');
    // A later GET shows no key.
    expect((await f.call('/certificates/fresh')).text).not.toMatch(/ck[cka]_[A-Za-z0-9_-]{32}/);
  });
});

describe('the certificate page, consumers', () => {
  it('lists each consumer with what it fetched, installed and presents, flags those behind, and escapes what agents wrote', async () => {
    const { row } = await createCertificate(f.deps, BY_CLI, { name: 'www', domains: ['www.example.com'], challenge: 'http-01' });
    await f.deps.db.db.update(certificates).set({ serial: 'bb02' }).where(eq(certificates.id, row.id));
    const now = Date.now();
    const consumer = (clientIp: string, fields: Partial<typeof consumers.$inferInsert>) => ({
      id: newId(), certificateId: row.id, apiKeySlot: 1, clientIp, createdAt: now, updatedAt: now, ...fields,
    });
    expect((await f.call('/certificates/www')).text).toContain('No server has reported yet.');
    await f.deps.db.db.insert(consumers).values([
      consumer('192.0.2.10', { host: 'web1', installedSerial: 'bb02', installedAt: now, reportedSerial: 'bb02', reportedAt: now, installed: true, reload: 'ok', verified: true, agentVersion: '1.0.0' }),
      consumer('192.0.2.11', { host: '<script>alert(1)</script>', installedSerial: 'aa01', installedAt: now - 86_400_000, reportedSerial: 'bb02', reportedAt: now, installed: false, reload: 'failed', verified: false }),
      consumer('192.0.2.12', { apiKeySlot: 2, fetchedSerial: 'aa01', fetchedAt: now }),
    ]);
    const text = (await f.call('/certificates/www')).text;
    const table = /<table id="consumers-table"[^>]*>([\s\S]*?)<\/table>/.exec(text)![1];
    const rows = table.split('<tr>').slice(2);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toContain('<code>192.0.2.10</code><br>web1');
    expect(rows[0]).toContain('<span class="badge valid">Current</span>');
    expect(decode(rows[0])).toContain('installed, reloaded, presents it');
    expect(rows[1]).toContain('<span class="badge invalid">Install failed</span>');
    expect(rows[1]).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(rows[1]).not.toContain('<script>');
    expect(decode(rows[1])).toContain('not installed, reload failed, previous files put back, does not present it');
    expect(rows[1]).toContain('<code>aa01</code> <span class="muted">(not the current one)</span>');
    expect(rows[2]).toContain('<span class="badge expired">Behind</span>');
    expect(rows[2]).toContain('API key 2');
    expect(decode(rows[2])).toContain('no agent report');
    expect(text).toContain('<strong>2 need attention.</strong>');
  });
});
