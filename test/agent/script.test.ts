// The agent as Certkeep serves it: the embedded module is the script in the repository (else run
// `npx tsx node-host/embed-agent.ts`), and the app serves those bytes at exactly one open path —
// over HTTPS once the node host has its site certificate, so it cannot be changed on the way.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_GENERATED_PATH, AGENT_SOURCE_PATH, renderAgentModule } from '../../node-host/embed-agent.ts';
import { AGENT_SCRIPT, AGENT_SHA256, AGENT_VERSION } from '../../templates/static/agent.generated.ts';
import { createApp, zoneOf } from '../../src/app.ts';
import { offlineDeps } from '../harness/deps.ts';
import { openDatabase } from '../../node-host/db.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { ROOT } from '../harness/hosts.ts';
import { SYSTEMD_SERVICE, SYSTEMD_TIMER, cronLine, installCommands } from '../../templates/agent.ts';

describe('the embedded agent', () => {
  it('is the script in agent/ (else run `npx tsx node-host/embed-agent.ts`)', () => {
    expect(readFileSync(AGENT_GENERATED_PATH, 'utf8') === renderAgentModule(), 'templates/static/agent.generated.ts is stale: run `npx tsx node-host/embed-agent.ts`').toBe(true);
    expect(AGENT_SCRIPT).toBe(readFileSync(AGENT_SOURCE_PATH, 'utf8'));
    expect(AGENT_SHA256).toBe(createHash('sha256').update(readFileSync(AGENT_SOURCE_PATH)).digest('hex'));
    expect(AGENT_SCRIPT).toContain(`\nVERSION=${AGENT_VERSION}\n`);
  });

  it('notices an edit to the script (the staleness check can fail)', () => {
    const copy = join(makeTempDir('agent-embed-'), 'certkeep-agent.sh');
    writeFileSync(copy, `${readFileSync(AGENT_SOURCE_PATH, 'utf8')}# one more line\n`);
    expect(renderAgentModule(copy)).not.toBe(renderAgentModule());
  });
});

describe('where the agent and its report live', () => {
  it('opens the script at its one path only, and puts the report with the download API', () => {
    expect(zoneOf('/agent/certkeep-agent.sh')).toBe('open');
    for (const path of ['/agent/', '/agent/certkeep-agent.sh/', '/agent/certkeep-agent.sh.bak', '/agent/x.sh', '/Agent/certkeep-agent.sh']) expect(zoneOf(path), path).toBe('admin');
    expect(zoneOf('/api/agent/report')).toBe('api');
    expect(zoneOf('/api/agent/reports')).toBe('admin');
  });

  it('redirects a plain-HTTP download from another machine to HTTPS once HTTPS serves the site certificate', async () => {
    const opened = await openDatabase(`file:${makeTempDir('agent-https-')}/certkeep.db`);
    try {
      const deps = await offlineDeps(opened.database, { httpsPort: () => 8443 });
      const app = createApp(deps);
      const get = (clientIp: string, secure: boolean) =>
        app.fetch(new Request(`${secure ? 'https' : 'http'}://certkeep.example.com/agent/certkeep-agent.sh`), { clientIp, secure, waitUntil: () => {} });
      const plain = await get('192.0.2.7', false);
      expect(plain.status).toBe(308);
      expect(plain.headers.get('location')).toBe('https://certkeep.example.com:8443/agent/certkeep-agent.sh');
      const tls = await get('192.0.2.7', true);
      expect(tls.status).toBe(200);
      expect(await tls.text()).toBe(AGENT_SCRIPT);
      // The challenge path stays on plain HTTP (SPEC §2).
      const challenge = await app.fetch(new Request(`http://certkeep.example.com/.well-known/acme-challenge/${'a'.repeat(43)}`), { clientIp: '192.0.2.7', secure: false, waitUntil: () => {} });
      expect(challenge.status).toBe(404);
    } finally {
      opened.close();
    }
  });
});

describe('the README section "On your servers"', () => {
  it('shows the same systemd units, cron line and install commands as the pages', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`${SYSTEMD_SERVICE}\n\n${SYSTEMD_TIMER}\n`);
    expect(readme).toContain(`\n${cronLine('www')}\n`);
    for (const line of installCommands(null).split('\n').filter((l) => !l.startsWith('#') && !l.includes('run --dry-run'))) {
      expect(readme).toContain(line.replace(AGENT_SHA256, '<SHA-256 from the certificate page>'));
    }
  });
});
