// The script provider: config validation, and the driver both with a recording RunScript and
// with the node host's real one running test/fixtures/dns/argv-env.mjs, which prints the argv
// and environment it received.
import { chmodSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScript } from '../../../node-host/scripts.ts';
import { makeTempDir } from '../../../test/harness/tmp.ts';
import { describeScriptConfig, scriptDriver, validateScriptConfig, type ScriptConfig } from './script.ts';
import type { DnsProviderLog, RunScript, ScriptResult } from './types.ts';

const fixtures = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../test/fixtures/dns');
const ARGV_ENV = join(fixtures, 'argv-env.mjs');
const EXIT_WITH = join(fixtures, 'exit-with.sh');
chmodSync(ARGV_ENV, 0o755);
chmodSync(EXIT_WITH, 0o755);

const VALUE = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';
const RECORD = { fqdn: '_acme-challenge.www.example.co.uk', name: 'www.example.co.uk', value: VALUE };

const CERTERA_ARGS = ['{{FullRecord}}', '{{Record}}', '{{Subject}}', '{{Domain}}', '{{Value}}'];

function config(overrides: Partial<ScriptConfig> = {}): ScriptConfig {
  return validateScriptConfig({
    set: { command: ARGV_ENV, args: ['set', ...CERTERA_ARGS] },
    clear: { command: ARGV_ENV, args: ['clear', ...CERTERA_ARGS] },
    ...overrides,
  });
}

function recorder(result: Partial<ScriptResult> = {}) {
  const calls: { command: string; args: string[]; env: Record<string, string>; timeoutMs: number }[] = [];
  const run: RunScript = async (command, args, opts) => {
    calls.push({ command, args, ...opts });
    return { code: 0, stdout: '', stderr: '', timedOut: false, ...result };
  };
  return { run, calls };
}

function logs(): { log: (entry: DnsProviderLog) => void; entries: DnsProviderLog[] } {
  const entries: DnsProviderLog[] = [];
  return { log: (entry) => entries.push(entry), entries };
}

describe('validateScriptConfig', () => {
  it('accepts the SPEC §4 shape and defaults args to none', () => {
    expect(
      validateScriptConfig({
        set: { command: '/usr/local/bin/dns-set', args: ['{{FullRecord}}', '{{Value}}'] },
        clear: { command: 'dns-clear' },
        env: { CF_API_TOKEN: 'abc' },
        timeoutSeconds: 120,
      }),
    ).toEqual({
      set: { command: '/usr/local/bin/dns-set', args: ['{{FullRecord}}', '{{Value}}'] },
      clear: { command: 'dns-clear', args: [] },
      env: { CF_API_TOKEN: 'abc' },
      timeoutSeconds: 120,
    });
  });

  it.each([
    ['a non-object', 'x', 'body'],
    ['an unknown field', { set: { command: 'a' }, clear: { command: 'b' }, shell: true }, 'shell'],
    ['a missing set', { clear: { command: 'b' } }, 'set'],
    ['a missing clear', { set: { command: 'a' } }, 'clear'],
    ['an unknown field in set', { set: { command: 'a', argv: [] }, clear: { command: 'b' } }, 'set.argv'],
    ['an empty command', { set: { command: '' }, clear: { command: 'b' } }, 'set.command'],
    ['a command with a placeholder', { set: { command: '{{Value}}' }, clear: { command: 'b' } }, 'set.command'],
    ['a command with NUL', { set: { command: 'a' }, clear: { command: 'b\0' } }, 'clear.command'],
    ['args that are not an array', { set: { command: 'a', args: '{{Value}}' }, clear: { command: 'b' } }, 'set.args'],
    ['a non-string arg', { set: { command: 'a', args: ['x', 3] }, clear: { command: 'b' } }, 'set.args[1]'],
    ['an unknown placeholder', { set: { command: 'a' }, clear: { command: 'b', args: ['{{value}}'] } }, 'clear.args[0]'],
    ['env that is not an object', { set: { command: 'a' }, clear: { command: 'b' }, env: ['A=1'] }, 'env'],
    ['a bad env name', { set: { command: 'a' }, clear: { command: 'b' }, env: { 'BAD-NAME': '1' } }, 'env.BAD-NAME'],
    ['a non-string env value', { set: { command: 'a' }, clear: { command: 'b' }, env: { FOO: 1 } }, 'env.FOO'],
    ['a zero timeout', { set: { command: 'a' }, clear: { command: 'b' }, timeoutSeconds: 0 }, 'timeoutSeconds'],
    ['a timeout over 600 s', { set: { command: 'a' }, clear: { command: 'b' }, timeoutSeconds: 601 }, 'timeoutSeconds'],
  ])('refuses %s, naming the field', (_, input, field) => {
    expect(() => validateScriptConfig(input)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST', details: { field } }));
  });

  it('names the known placeholders when refusing a typo', () => {
    expect(() => validateScriptConfig({ set: { command: 'a', args: ['{{Fqdn}}'] }, clear: { command: 'b' } })).toThrow(
      /set\.args\[0\]: unknown placeholder \{\{Fqdn\}\}; the placeholders are \{\{FullRecord\}\} \{\{Record\}\} \{\{Subject\}\} \{\{Domain\}\} \{\{Value\}\}/,
    );
  });
});

describe('describeScriptConfig', () => {
  it('shows commands, args and env names, never env values', () => {
    const described = describeScriptConfig(config({ env: { TOKEN: 'very-secret-token', ZONE: 'example.com' } }));
    expect(described).toEqual({
      set: { command: ARGV_ENV, args: ['set', ...CERTERA_ARGS] },
      clear: { command: ARGV_ENV, args: ['clear', ...CERTERA_ARGS] },
      env: ['TOKEN', 'ZONE'],
      timeoutSeconds: 60,
    });
    expect(JSON.stringify(described)).not.toContain('very-secret-token');
  });
});

describe('scriptDriver', () => {
  it('runs the set and clear commands once each with expanded args, env and timeout', async () => {
    const { run, calls } = recorder();
    const driver = scriptDriver(config({ env: { TOKEN: 't' }, timeoutSeconds: 5 }), run);
    await driver.set(RECORD, () => {});
    await driver.clear(RECORD, () => {});
    const expanded = ['_acme-challenge.www.example.co.uk', '_acme-challenge.www', 'www.example.co.uk', 'example.co.uk', VALUE];
    expect(calls).toEqual([
      { command: ARGV_ENV, args: ['set', ...expanded], env: { TOKEN: 't' }, timeoutMs: 5000 },
      { command: ARGV_ENV, args: ['clear', ...expanded], env: { TOKEN: 't' }, timeoutMs: 5000 },
    ]);
  });

  it('defaults to a 60 s timeout', async () => {
    const { run, calls } = recorder();
    await scriptDriver(config(), run).set(RECORD, () => {});
    expect(calls[0].timeoutMs).toBe(60_000);
  });

  it('fails with the exit code and the last line of stderr, and logs both streams', async () => {
    const { run } = recorder({ code: 2, stdout: 'calling API\n', stderr: 'warming up\nzone not found\n' });
    const { log, entries } = logs();
    const err = await scriptDriver(config(), run)
      .set(RECORD, log)
      .catch((e) => e);
    expect(err).toMatchObject({ code: 'DNS_PROVIDER_FAILED', details: { provider: 'script', action: 'set', exitCode: 2, timedOut: false } });
    expect(err.message).toBe(`script: set command ${ARGV_ENV} for _acme-challenge.www.example.co.uk exited with code 2: zone not found`);
    expect(entries.map((e) => e.level)).toEqual(['info', 'error']);
    expect(entries[0].message).toContain('calling API');
    expect(entries[1].message).toContain('warming up\nzone not found');
  });

  it('fails on timeout and on a signal', async () => {
    await expect(scriptDriver(config({ timeoutSeconds: 7 }), recorder({ code: null, timedOut: true }).run).set(RECORD, () => {})).rejects.toMatchObject({
      code: 'DNS_PROVIDER_FAILED',
      message: expect.stringContaining('did not finish within 7 s and was stopped'),
      details: expect.objectContaining({ timedOut: true }),
    });
    await expect(scriptDriver(config(), recorder({ code: null }).run).clear(RECORD, () => {})).rejects.toMatchObject({
      message: expect.stringContaining('was killed by a signal'),
    });
  });

  it('turns a failure to start into DNS_PROVIDER_FAILED with the reason', async () => {
    const run: RunScript = async (command) => {
      throw new Error(`command not found: ${command}`);
    };
    await expect(scriptDriver(config(), run).set(RECORD, () => {})).rejects.toMatchObject({
      code: 'DNS_PROVIDER_FAILED',
      message: `script: set command ${ARGV_ENV} for _acme-challenge.www.example.co.uk could not run: command not found: ${ARGV_ENV}`,
    });
  });

  it('keeps the last 4 KB of each stream in the log', async () => {
    const { run } = recorder({ stdout: 'x'.repeat(10_000) + 'THE END', stderr: '' });
    const { log, entries } = logs();
    await scriptDriver(config(), run).set(RECORD, log);
    const out = entries.find((e) => e.message.includes('stdout'))!.message;
    expect(out).toContain('[5911 characters before this cut]');
    expect(out.endsWith('THE END')).toBe(true);
    expect(out.length).toBeLessThan(4096 + 200);
  });

  it('cuts env values out of what the script printed', async () => {
    const token = 'cf-token-0123456789abcdef';
    const { run } = recorder({ code: 1, stdout: `+ curl -H "Authorization: Bearer ${token}"\n`, stderr: `bad token ${token}\n` });
    const { log, entries } = logs();
    const err = await scriptDriver(config({ env: { CF_TOKEN: token } }), run)
      .set(RECORD, log)
      .catch((e) => e);
    expect(err.code).toBe('DNS_PROVIDER_FAILED');
    expect(JSON.stringify(entries) + err.message).not.toContain(token);
    expect(err.message).toContain('bad token [redacted]');
  });
});

describe('scriptDriver with the node host runner', () => {
  // Were these ever run by a shell, they would only create files in a scratch directory,
  // which each test then finds.
  const dir = makeTempDir('dns-script-argv-');
  const hostile = [
    `a; touch ${dir}/semicolon`,
    `$(touch ${dir}/dollar)`,
    `\`touch ${dir}/backtick\``,
    `two\ntouch ${dir}/newline`,
    '-n',
    '--flag=with spaces',
    `\\ "quoted" > ${dir}/redirect`,
  ];

  it.each(hostile)('a value like %j arrives as exactly one argument', async (value) => {
    const { log, entries } = logs();
    await scriptDriver(config(), runScript).set({ ...RECORD, value }, log);
    const printed = entries.find((e) => e.message.includes('stdout'))!.message;
    const { argv } = JSON.parse(printed.slice(printed.indexOf('\n') + 1));
    expect(argv).toEqual(['set', '_acme-challenge.www.example.co.uk', '_acme-challenge.www', 'www.example.co.uk', 'example.co.uk', value]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('runs once per record, with the provider env and not the server environment', async () => {
    const { log, entries } = logs();
    const driver = scriptDriver(config({ set: { command: ARGV_ENV, args: ['{{Subject}}'] }, env: { DNS_VIEW: 'external' } }), runScript);
    await driver.set(RECORD, log);
    await driver.set({ fqdn: '_acme-challenge.example.co.uk', name: 'example.co.uk', value: VALUE }, log);
    const outputs = entries
      .filter((e) => e.message.includes('stdout'))
      .map((e) => JSON.parse(e.message.slice(e.message.indexOf('\n') + 1)));
    expect(outputs.map((o) => o.argv)).toEqual([['www.example.co.uk'], ['example.co.uk']]);
    expect(Object.keys(outputs[0].env).sort()).toEqual(['DNS_VIEW', 'HOME', 'LANG', 'PATH']);
  });

  it('fails on a non-zero exit of a real program', async () => {
    const driver = scriptDriver(config({ clear: { command: EXIT_WITH, args: ['4'] } }), runScript);
    await expect(driver.clear(RECORD, () => {})).rejects.toMatchObject({
      code: 'DNS_PROVIDER_FAILED',
      message: expect.stringMatching(/exited with code 4: stderr of exit-with 4$/),
    });
  });
});
