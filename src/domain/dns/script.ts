// The `script` dns-01 provider (node host): the admin's own programs publish and remove the
// record, as Certera's DNS-01 set/cleanup scripts did.
//
// The command runs directly with an argv array, never through a shell: each configured argument
// is one argv entry after its placeholders ({{FullRecord}} {{Record}} {{Subject}} {{Domain}}
// {{Value}}, see names.ts) are replaced, so no value can add an argument or a command. It runs
// once per record, gets the provider's `env` on top of a minimal environment (the host's
// RunScript supplies PATH, HOME and LANG — never the server's own environment), and succeeds
// when it exits 0 within the timeout. Its output goes to the order's log, trimmed to its end,
// where the reason for a failure usually is.
import { CertkeepError } from '../../errors.ts';
import { expandPlaceholders, PLACEHOLDERS, unknownPlaceholders } from './names.ts';
import { configObject, fieldError, optionalInteger, optionalStringArray, requiredText, type ConfigObject } from './provider-config.ts';
import { redact } from './provider-http.ts';
import type { DnsChallengeRecord, DnsProviderDriver, DnsProviderLog, RunScript, ScriptResult } from './types.ts';

export interface ScriptCommand {
  /** An executable: a path, or a name looked up in PATH. */
  command: string;
  /** argv after the command; each entry may hold placeholders. */
  args: string[];
}

export interface ScriptConfig {
  set: ScriptCommand;
  clear: ScriptCommand;
  /** Added to the script's minimal environment; values are secrets (API tokens, TSIG keys). */
  env?: Record<string, string>;
  /** 1..600; default 60. */
  timeoutSeconds?: number;
}

export const DEFAULT_SCRIPT_TIMEOUT_SECONDS = 60;
export const MAX_SCRIPT_TIMEOUT_SECONDS = 600;
/** Each of stdout and stderr keeps this much of its end in the order's log. */
export const SCRIPT_LOG_CHARS = 4096;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_ENV_ENTRIES = 100;
/**
 * Env values at least this long are cut out of the output a script prints (a `set -x` trace
 * would otherwise copy an API token into the order's log). Shorter values are too likely to be
 * ordinary words to replace everywhere.
 */
const REDACT_MIN_LENGTH = 6;

/** Validates `{"set","clear","env"?,"timeoutSeconds"?}` (the provider's fields without `name` and `type`). */
export function validateScriptConfig(input: unknown): ScriptConfig {
  const obj = configObject(input, '', ['set', 'clear', 'env', 'timeoutSeconds']);
  const config: ScriptConfig = { set: scriptCommand(obj, 'set'), clear: scriptCommand(obj, 'clear') };
  const env = scriptEnv(obj.env);
  if (env !== undefined) config.env = env;
  const timeoutSeconds = optionalInteger(obj, 'timeoutSeconds', 'timeoutSeconds', 1, MAX_SCRIPT_TIMEOUT_SECONDS);
  if (timeoutSeconds !== undefined) config.timeoutSeconds = timeoutSeconds;
  return config;
}

/** What the admin API shows: commands and arguments, the names of the env variables, never their values. */
export function describeScriptConfig(config: ScriptConfig): {
  set: ScriptCommand;
  clear: ScriptCommand;
  env: string[];
  timeoutSeconds: number;
} {
  return {
    set: { command: config.set.command, args: [...config.set.args] },
    clear: { command: config.clear.command, args: [...config.clear.args] },
    env: Object.keys(config.env ?? {}).sort(),
    timeoutSeconds: config.timeoutSeconds ?? DEFAULT_SCRIPT_TIMEOUT_SECONDS,
  };
}

export function scriptDriver(config: ScriptConfig, runScript: RunScript): DnsProviderDriver {
  const timeoutSeconds = config.timeoutSeconds ?? DEFAULT_SCRIPT_TIMEOUT_SECONDS;
  const secrets = Object.values(config.env ?? {}).filter((value) => value.length >= REDACT_MIN_LENGTH);

  const run = async (action: 'set' | 'clear', record: DnsChallengeRecord, log: (entry: DnsProviderLog) => void): Promise<void> => {
    const { command, args } = config[action];
    const what = `script: ${action} command ${command} for ${record.fqdn}`;
    let result: ScriptResult;
    try {
      result = await runScript(command, await Promise.all(args.map((arg) => expandPlaceholders(arg, record))), {
        env: { ...config.env },
        timeoutMs: timeoutSeconds * 1000,
      });
    } catch (err) {
      const reason = redact(err instanceof Error ? err.message : String(err), secrets);
      throw new CertkeepError('DNS_PROVIDER_FAILED', `${what} could not run: ${reason}`, { provider: 'script', action });
    }
    const ok = result.code === 0 && !result.timedOut;
    const stdout = tail(redact(result.stdout, secrets));
    const stderr = tail(redact(result.stderr, secrets));
    if (stdout) log({ level: 'info', message: `${what}: stdout:\n${stdout}` });
    if (stderr) log({ level: ok ? 'warn' : 'error', message: `${what}: stderr:\n${stderr}` });
    if (ok) {
      log({ level: 'info', message: `${what} succeeded` });
      return;
    }
    const outcome = result.timedOut
      ? `did not finish within ${timeoutSeconds} s and was stopped`
      : result.code === null
        ? 'was killed by a signal'
        : `exited with code ${result.code}`;
    const lastLine = stderr.trimEnd().split('\n').pop()?.slice(-200);
    throw new CertkeepError('DNS_PROVIDER_FAILED', `${what} ${outcome}${lastLine ? `: ${lastLine}` : ''}`, {
      provider: 'script',
      action,
      exitCode: result.code,
      timedOut: result.timedOut,
    });
  };

  return {
    set: (record, log) => run('set', record, log),
    clear: (record, log) => run('clear', record, log),
  };
}

function scriptCommand(parent: ConfigObject, key: 'set' | 'clear'): ScriptCommand {
  if (parent[key] === undefined || parent[key] === null) throw fieldError(key, 'required');
  const obj = configObject(parent[key], key, ['command', 'args']);
  const command = requiredText(obj, 'command', `${key}.command`);
  if (command.includes('{{')) throw fieldError(`${key}.command`, 'placeholders are replaced in args only');
  const args =
    optionalStringArray(obj, 'args', `${key}.args`, (arg, field) => {
      const unknown = unknownPlaceholders(arg);
      if (unknown.length > 0) {
        throw fieldError(field, `unknown placeholder ${unknown[0]}; the placeholders are ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(' ')}`);
      }
    }) ?? [];
  return { command, args };
}

function scriptEnv(input: unknown): Record<string, string> | undefined {
  if (input === undefined || input === null) return undefined;
  if (typeof input !== 'object' || Array.isArray(input)) throw fieldError('env', 'expected an object of NAME: value strings');
  const entries = Object.entries(input);
  if (entries.length > MAX_ENV_ENTRIES) throw fieldError('env', `at most ${MAX_ENV_ENTRIES} variables`);
  const env: Record<string, string> = {};
  for (const [name, value] of entries) {
    const field = `env.${name}`;
    if (!ENV_NAME.test(name)) throw fieldError(field, 'a variable name is letters, digits and "_", not starting with a digit');
    if (typeof value !== 'string') throw fieldError(field, 'expected a string');
    if (value.length > 4096) throw fieldError(field, 'longer than 4096 characters');
    if (value.includes('\0')) throw fieldError(field, 'must not contain a NUL character');
    env[name] = value;
  }
  return env;
}

/** The last SCRIPT_LOG_CHARS characters, saying how much was cut. */
function tail(text: string): string {
  if (text.length <= SCRIPT_LOG_CHARS) return text;
  return `[${text.length - SCRIPT_LOG_CHARS} characters before this cut]\n${text.slice(-SCRIPT_LOG_CHARS)}`;
}
