// deploy/certkeep.service, the unit a sysadmin installs: systemd's own checker finds nothing to
// say about it, its sandbox is the one the README describes, and `systemd-analyze security`
// rates it (the figure the README quotes). The unit runs /usr/bin/node; the copy checked here
// names this test's node instead, since verify wants the program to exist.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { gatedDescribe, requireProgram } from '../harness/skip.ts';
import { NODE_FLAGS, ROOT } from '../harness/hosts.ts';
import { makeTempDir } from '../harness/tmp.ts';

const ANALYZE = '/usr/bin/systemd-analyze';
const UNIT = readFileSync(join(ROOT, 'deploy/certkeep.service'), 'utf8');

/** `systemd-analyze verify` on a copy of `text` named certkeep.service: exit code and what it said. */
function verify(text: string): { status: number | null; said: string } {
  const dir = makeTempDir('unit-');
  const file = join(dir, 'certkeep.service');
  writeFileSync(file, text.replaceAll('/usr/bin/node ', `${process.execPath} `));
  const res = spawnSync(ANALYZE, ['verify', file], { encoding: 'utf8', cwd: dir });
  return { status: res.status, said: (res.stdout + res.stderr).trim() };
}

gatedDescribe(requireProgram(ANALYZE, 'apt-get install systemd'))('deploy/certkeep.service', () => {
  it('passes systemd-analyze verify without a word, and the check notices a mistake', () => {
    expect(verify(UNIT)).toEqual({ status: 0, said: '' });
    const broken = verify(UNIT.replace('ProtectSystem=strict', 'ProtectSystem=stricter').replace('SystemCallFilter=@system-service', 'SystemCallFilter=@system-servic'));
    expect(broken.said).toMatch(/protect system value.*stricter/i);
    expect(broken.said).toMatch(/system call group.*@system-servic/i);
  });

  it('runs unprivileged in a sandbox with only the capability to bind ports 80 and 443', () => {
    const settings = new Map<string, string[]>();
    for (const line of UNIT.split('\n')) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line);
      if (m) settings.set(m[1], [...(settings.get(m[1]) ?? []), m[2]]);
    }
    const one = (key: string) => settings.get(key)?.join(' ');
    expect(one('DynamicUser')).toBe('yes');
    expect(one('StateDirectory')).toBe('certkeep');
    expect(one('Environment')).toBe('CERTKEEP_DATA_DIR=%S/certkeep');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('AmbientCapabilities')).toBe('CAP_NET_BIND_SERVICE');
    expect(one('CapabilityBoundingSet')).toBe('CAP_NET_BIND_SERVICE');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('SystemCallFilter')).toBe('@system-service ~@privileged @resources');
    expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one('SyslogIdentifier')).toBe('certkeep');
    expect(settings.has('LogLevelMax')).toBe(false); // CERTKEEP_LOG_LEVEL decides, reloadable
    // node with the same V8 flags as npm start (node-host/bin/certkeep.mjs).
    expect(one('ExecStart')).toBe(`/usr/bin/node ${NODE_FLAGS.join(' ')} /opt/certkeep/node-host/bin/certkeep.mjs serve`);
    // V8 writes machine code: this one would stop node at its first function.
    expect(settings.has('MemoryDenyWriteExecute')).toBe(false);

    const report = execFileSync(ANALYZE, ['security', '--offline=yes', join(ROOT, 'deploy/certkeep.service')], { encoding: 'utf8', cwd: makeTempDir('unit-') });
    const exposure = Number(/Overall exposure level for certkeep\.service: ([\d.]+)/.exec(report)?.[1]);
    expect(exposure).toBeLessThanOrEqual(2);
  });
});
