// The whole loop against real parts: certkeep-agent (under dash, then under bash) fetches from a
// running Certkeep (node host) whose certificates come from Pebble, installs them for a real
// nginx, reloads it, checks with TLS that nginx presents the new serial, and reports back; the
// consumers list then shows it. The config is the very block the certificate page offers
// (templates/agent.ts), with this machine's paths and ports. Reloads are counted by a reload
// command that appends to a log before it runs `nginx -s reload`.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHALLTESTSRV_BIN, PEBBLE_BIN } from '../harness/pebble.ts';
import { gatedDescribe, requirePrograms } from '../harness/skip.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { issueCertificate, startWorld, type World } from '../harness/world.ts';
import { agentConfigBlock } from '../../templates/agent.ts';
import { AGENT_VERSION } from '../../templates/static/agent.generated.ts';
import { SHELLS, fileState, linesOf, reloadScript, runAgent, writeConfig, type Shell } from './agent-harness.ts';
import { NGINX_BIN, presentedSerial, startTlsNginx, type TlsNginx } from './nginx-tls.ts';

const describeLoop = gatedDescribe(
  requirePrograms([PEBBLE_BIN, CHALLTESTSRV_BIN, NGINX_BIN, '/bin/dash', '/bin/bash', '/usr/bin/curl', '/usr/bin/openssl'], 'apt-get install pebble nginx-light dash curl openssl'),
);

/** The page's config block as key → value, with overrides (this machine's paths and ports). */
function blockOf(text: string, overrides: Record<string, string>): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const line of text.split('\n').slice(1)) {
    const m = /^([a-z-]+) = (.*)$/.exec(line);
    if (m) keys[m[1]] = m[2];
  }
  return { ...keys, ...overrides };
}

describeLoop('certkeep-agent with Certkeep, Pebble and nginx', () => {
  let world: World;
  let nginx: TlsNginx;
  let dir: string;

  beforeAll(async () => {
    dir = makeTempDir('agent-loop-');
    [world, nginx] = await Promise.all([startWorld('node'), startTlsNginx(join(makeTempDir('nginx-')), SHELLS)]);
  });
  afterAll(async () => {
    await Promise.allSettled([world?.stop(), nginx?.stop()]);
  });

  for (const shell of SHELLS) {
    describe(`under ${shell}`, () => {
      let name: string;
      let domain: string;
      let config: string;
      let block: Record<string, string>;
      let state: string;
      let log: string;
      let serials: string[];
      const site = () => nginx.sites[shell];
      const run = (args: string[] = []) => runAgent(shell as Shell, ['run', '-c', config, ...args], { CERTKEEP_AGENT_STATE_DIR: state });
      const installed = () => ({ fullchain: fileState(site().fullchain), key: fileState(site().key) });
      const consumer = async () => {
        const res = await world.api.get(`/api/v1/certificates/${name}/consumers`);
        expect(res.status).toBe(200);
        expect(res.body.items).toHaveLength(1);
        return res.body.items[0];
      };
      const renew = async () => {
        const res = await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`);
        expect(res.status, res.text).toBe(200);
        serials.push(res.body.serial);
        return res.body.serial as string;
      };

      beforeAll(async () => {
        name = world.name(shell);
        domain = world.domain(shell);
        const { created, certificate } = await issueCertificate(world, { name, domains: [domain] });
        serials = [certificate.serial];
        const base = join(dir, shell);
        state = `${base}-state`;
        log = `${base}-reloads.log`;
        const page = agentConfigBlock({
          baseUrl: world.host.baseUrl,
          certificate: name,
          keyName: created.key.name,
          domains: [domain],
          slot: 1,
          certificateApiKey: created.apiKeys[0],
          keyApiKey: created.key.apiKeys[0],
        });
        block = blockOf(page, {
          fullchain: site().fullchain,
          key: site().key,
          reload: reloadScript(makeTempDir(`reload-${shell}-`), 'reload', log, nginx.reloadCommand),
          verify: `127.0.0.1:${site().port}`,
        });
        config = writeConfig(`${base}.conf`, { [shell]: block });
      });

      it('installs the certificate for nginx, reloads it once, sees it presented and reports it', async () => {
        expect(presentedSerial(site().port, domain)).not.toBe(serials[0]);
        const first = await run();
        expect(first.stderr).toBe('');
        expect(first.code).toBe(0);
        expect(first.stdout).toMatch(new RegExp(`^${shell}: installed certificate ${serials[0]} \\(valid until [^)]+\\) to ${site().fullchain} ${site().key}; reloaded; 127\\.0\\.0\\.1:${site().port} presents it\\n$`));
        expect(presentedSerial(site().port, domain)).toBe(serials[0]);
        expect(linesOf(log)).toBe(1);
        expect(installed().key?.mode).toBe(0o600);
        expect(await consumer()).toMatchObject({
          apiKeySlot: 1, address: '127.0.0.1', installedSerial: serials[0], installed: true, reload: 'ok', verified: true, agentVersion: AGENT_VERSION, behind: false,
        });
      });

      it('does nothing on a second run with nothing new: a 304, no reload, the files untouched', async () => {
        const before = installed();
        const etag = readFileSync(join(state, `${shell}.etag`), 'utf8').trim();
        // The ETag kept is the one Certkeep answers 304 to.
        const check = await fetch(`${world.host.baseUrl}/api/certificate/${name}`, { headers: { apikey: block['certificate-api-key'], 'if-none-match': etag } });
        expect(check.status).toBe(304);
        const reportedAt = (await consumer()).reportedAt;
        const again = await run();
        expect(again).toEqual({ code: 0, stdout: `${shell}: unchanged (serial ${serials[0]})\n`, stderr: '' });
        expect(installed()).toEqual(before);
        expect(linesOf(log)).toBe(1);
        expect((await consumer()).reportedAt).toBe(reportedAt);
      });

      it('installs a renewal at the next run, reloading once, and then rests again', async () => {
        const serial = await renew();
        expect((await consumer()).behind).toBe(true);
        const next = await run();
        expect(next.code, next.stderr).toBe(0);
        expect(next.stdout).toContain(`${shell}: installed certificate ${serial} `);
        expect(presentedSerial(site().port, domain)).toBe(serial);
        expect(linesOf(log)).toBe(2);
        expect(await consumer()).toMatchObject({ installedSerial: serial, behind: false, verified: true });
        expect((await run()).stdout).toBe(`${shell}: unchanged (serial ${serial})\n`);
        expect(linesOf(log)).toBe(2);
      });

      it('with --dry-run says what it would install and changes nothing', async () => {
        const serial = await renew();
        const before = installed();
        const reportedAt = (await consumer()).reportedAt;
        const dry = await run(['--dry-run']);
        expect(dry.code, dry.stderr).toBe(0);
        // The key stays the same across renewals: only the chain file would change.
        expect(dry.stdout).toMatch(new RegExp(`^${shell}: would install certificate ${serial} \\(valid until [^)]+\\) to ${site().fullchain} and run: `));
        expect(installed()).toEqual(before);
        expect(linesOf(log)).toBe(2);
        expect(presentedSerial(site().port, domain)).toBe(serials[1]);
        expect((await consumer()).reportedAt).toBe(reportedAt);
      });

      it('puts the previous files back when the reload fails; nginx keeps serving the installed certificate', async () => {
        const pending = serials[2];
        const before = installed();
        const flakyLog = `${log}.flaky`;
        // Refuses once (the new files), then reloads nginx (with the old ones put back).
        writeConfig(config, { [shell]: { ...block, reload: reloadScript(makeTempDir(`flaky-${shell}-`), 'flaky', flakyLog, nginx.reloadCommand, { failTimes: 1 }) } });
        const failed = await run();
        expect(failed.code).toBe(1);
        expect(failed.stdout).toBe('');
        expect(failed.stderr).toMatch(new RegExp(`^${shell}: the reload failed \\(".*flaky\\.sh" exited with 3: simulated failure: the service refused\\); the previous files are back and reloading with them worked\\n$`));
        expect(installed().fullchain?.bytes).toBe(before.fullchain?.bytes);
        expect(installed().key?.bytes).toBe(before.key?.bytes);
        expect(linesOf(flakyLog)).toBe(2);
        // nginx is up and still presents the certificate installed before.
        expect(presentedSerial(site().port, domain)).toBe(serials[1]);
        expect(await consumer()).toMatchObject({ installedSerial: serials[1], reportedSerial: pending, installed: false, reload: 'failed', behind: true });

        // With a reload that works, the next run installs it.
        writeConfig(config, { [shell]: block });
        const fixed = await run();
        expect(fixed.code, fixed.stderr).toBe(0);
        expect(presentedSerial(site().port, domain)).toBe(pending);
        expect(await consumer()).toMatchObject({ installedSerial: pending, installed: true, reload: 'ok', verified: true, behind: false });
      });
    });
  }
  // The same certificate as PKCS#12 for servers that want one file (IIS, Java): the password comes
  // from a file, never the command line; openssl opens what was installed with it.
  it('installs a PFX from Certkeep that openssl opens with the password, and replaces it after a renewal (dash)', async () => {
    const name = world.name('pfx');
    const domain = world.domain('pfx');
    const { created, certificate } = await issueCertificate(world, { name, domains: [domain] });
    const base = makeTempDir('agent-pfx-');
    const pwFile = join(base, 'pfx-password');
    writeFileSync(pwFile, 'correct horse "pfx" \\ battery\n', { mode: 0o600 });
    const files = { pfx: join(base, 'www.pfx'), cert: join(base, 'www.crt') };
    const config = writeConfig(join(base, 'agent.conf'), {
      pfx: { url: world.host.baseUrl, certificate: name, 'certificate-api-key': created.apiKeys[0], ...files, 'pfx-password-file': pwFile, 'expect-names': domain },
    });
    const run = () => runAgent('dash', ['run', '-c', config], { CERTKEEP_AGENT_STATE_DIR: join(base, 'state') });
    const inPfx = () => {
      const opened = (args: string[]) => execFileSync('openssl', ['pkcs12', '-in', files.pfx, '-passin', `file:${pwFile}`, ...args], { encoding: 'utf8' });
      const serial = execFileSync('openssl', ['x509', '-noout', '-serial'], { input: opened(['-nokeys', '-clcerts']), encoding: 'utf8' }).trim().replace(/^serial=0*/, '').toLowerCase();
      const keyPub = execFileSync('openssl', ['pkey', '-pubout'], { input: opened(['-nocerts', '-nodes']), encoding: 'utf8' });
      const certPub = execFileSync('openssl', ['x509', '-noout', '-pubkey', '-in', files.cert], { encoding: 'utf8' });
      return { serial, keyMatchesCert: keyPub === certPub };
    };

    const first = await run();
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(new RegExp(`^pfx: installed certificate ${certificate.serial} \\(valid until [^)]+\\) to ${files.cert} ${files.pfx}\\n$`));
    expect(inPfx()).toEqual({ serial: certificate.serial, keyMatchesCert: true });
    expect(fileState(files.pfx)?.mode).toBe(0o600);
    expect((await run()).stdout).toBe(`pfx: unchanged (serial ${certificate.serial})\n`);

    const renewed = await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`);
    expect(renewed.status).toBe(200);
    const next = await run();
    expect(next.code, next.stderr).toBe(0);
    expect(inPfx()).toEqual({ serial: renewed.body.serial, keyMatchesCert: true });
  });
});
