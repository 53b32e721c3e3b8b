// The `certkeep` command line (SPEC §3). Exit 0 on success; 1 with a one-line reason on stderr
// on failure; 2 on bad usage. Every command answers --help.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { loadSettings, SettingsError, describeSettings } from '../settings.ts';
import { createNodeCore, stdoutLogger, type NodeCore } from '../core.ts';
import { databaseFilePath } from '../db-version.ts';
import { isSetupDone, runSetup } from '../../src/domain/setup.ts';
import { createAdminToken } from '../../src/domain/tokens.ts';
import { createMetricsToken } from '../../src/domain/metrics-token.ts';
import { CLI_ACTOR } from '../../src/domain/audit.ts';
import { changePassword, findUserByEmail, unlockUser } from '../../src/domain/sessions.ts';
import { createLogger } from '../../src/log.ts';
import { CertkeepError } from '../../src/errors.ts';
import { BY_CLI } from '../../src/domain/audit.ts';
import { UsageError } from './usage.ts';
import { isOrdersThread } from '../orders-thread.ts';
import { backupCommand, restoreCommand } from './backup.ts';

interface Command {
  usage: string;
  summary: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<void>;
}

const settingsHelp = () =>
  '\nSettings (environment, or <data dir>/config.json):\n' +
  describeSettings()
    .map((s) => `  ${s.name.padEnd(30)} ${s.meaning} (default: ${s.default})`)
    .join('\n');

const COMMANDS: Record<string, Command> = {
  serve: {
    usage: 'certkeep serve',
    summary: 'run the node host: HTTP + HTTPS listeners and the scheduler',
    options: {},
    async run() {
      const settings = await loadSettings();
      // Loaded here: the orders thread runs this file too, and needs none of the listeners' code.
      const { serve } = await import('../serve.ts');
      const starting = serve(settings);
      // From the start: a signal that comes while the server starts stops it once it has.
      // Ctrl-C in a terminal reaches both npm and node, and npm passes it on: one stop is enough.
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'shutting down', signal }) + '\n');
        starting
          .then((server) => server.stop())
          .then(
            () => process.exit(0),
            () => process.exit(1),
          );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGHUP', () => void starting.then((server) => server.reload(), () => {}));
      await starting;
      await new Promise(() => {});
    },
  },
  setup: {
    usage:
      'certkeep setup --admin-email E --admin-password-file F --acme-directory URL --acme-email E --accept-tos [--hostname H] [--token-file F]',
    summary: 'what the setup wizard does, non-interactively; prints a new admin API token',
    options: {
      'admin-email': { type: 'string' },
      'admin-password-file': { type: 'string' },
      'acme-directory': { type: 'string' },
      'acme-email': { type: 'string' },
      'accept-tos': { type: 'boolean' },
      hostname: { type: 'string' },
      'token-file': { type: 'string' },
      'eab-kid': { type: 'string' },
      'eab-hmac-key': { type: 'string' },
    },
    async run(v) {
      for (const name of ['admin-email', 'admin-password-file', 'acme-directory'] as const) {
        if (!v[name]) throw new UsageError(`--${name} is required`);
      }
      if (!v['accept-tos']) throw new UsageError("--accept-tos is required: the CA's terms of service must be accepted");
      if (!!v['eab-kid'] !== !!v['eab-hmac-key']) throw new UsageError('--eab-kid and --eab-hmac-key go together');
      const password = (await readFile(String(v['admin-password-file']), 'utf8')).replace(/\r?\n$/, '');
      if (password.length < 10) throw new Error('the admin password must have at least 10 characters');
      const settings = await loadSettings();
      const core = await createNodeCore(settings, quietLogger(settings.logLevel));
      try {
        const { normalizeDomain } = await import('../../src/domain/names.ts');
        const { token } = await runSetup(core.deps, BY_CLI, {
          adminEmail: String(v['admin-email']),
          adminPassword: password,
          acme: {
            directoryUrl: String(v['acme-directory']),
            email: v['acme-email'] ? String(v['acme-email']) : undefined,
            termsOfServiceAgreed: true,
            eab: v['eab-kid'] ? { kid: String(v['eab-kid']), hmacKey: String(v['eab-hmac-key']) } : undefined,
          },
          hostname: v.hostname ? normalizeDomain(String(v.hostname), 'hostname') : undefined,
        });
        await emitToken(token, v['token-file']);
      } finally {
        core.db.close();
      }
    },
  },
  user: {
    usage: 'certkeep user unlock EMAIL | certkeep user password EMAIL --password-file F',
    summary: 'unlock an account after failed sign-ins (and lift the sign-in limit of every address), or set a new password (ends its sessions)',
    options: { 'password-file': { type: 'string' } },
    async run(v, positionals) {
      const [action, email, ...rest] = positionals;
      if (!email || rest.length > 0 || !['unlock', 'password'].includes(action)) {
        throw new UsageError('expected: certkeep user unlock EMAIL, or certkeep user password EMAIL --password-file F');
      }
      if (action === 'password' && !v['password-file']) throw new UsageError('--password-file is required');
      const core = await openSetUpInstallation();
      try {
        if (action === 'unlock') {
          await unlockUser(core.deps, BY_CLI, email);
          process.stdout.write(`${email} can sign in again\n`);
        } else {
          const user = await findUserByEmail(core.deps, email);
          if (!user) throw new Error(`no user with email ${email}`);
          const password = (await readFile(String(v['password-file']), 'utf8')).replace(/\r?\n$/, '');
          await changePassword(core.deps, BY_CLI, user, password);
          await unlockUser(core.deps, BY_CLI, email);
          process.stdout.write(`password of ${email} changed; its sessions ended\n`);
        }
      } finally {
        core.db.close();
      }
    },
  },
  import: {
    usage: 'certkeep import certera FILE [--acme-directory URL] [--acme-staging-directory URL] [--hostname H] [--dry-run]',
    summary:
      "import a Certera 2.x Certera.db (read-only): ACME accounts, keys, certificates with their current chain and API keys, the admin with their password, the DNS-01 script settings; a second run adds nothing. --acme-directory and --acme-staging-directory say where Certera's production and staging accounts live (default Let's Encrypt's); --hostname (Certera's SiteHostname) makes the imported certificate for it Certkeep's HTTPS certificate; --dry-run writes nothing",
    options: { 'acme-directory': { type: 'string' }, 'acme-staging-directory': { type: 'string' }, hostname: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    async run(v, positionals) {
      const [source, file, ...rest] = positionals;
      if (source !== 'certera' || !file || rest.length > 0) throw new UsageError('expected: certkeep import certera FILE');
      const { resolveDirectoryUrl, LETS_ENCRYPT, LETS_ENCRYPT_STAGING } = await import('../../src/domain/accounts.ts');
      const directory = (option: string, fallback: string) => {
        try {
          return resolveDirectoryUrl(typeof v[option] === 'string' ? String(v[option]) : fallback).url;
        } catch (err) {
          throw new UsageError(`--${option}: ${(err as Error).message.replace(/^directoryUrl: /, '')}`);
        }
      };
      const options = {
        directoryUrl: directory('acme-directory', LETS_ENCRYPT),
        stagingDirectoryUrl: directory('acme-staging-directory', LETS_ENCRYPT_STAGING),
        dryRun: v['dry-run'] === true,
        siteHostname: typeof v.hostname === 'string' ? v.hostname : undefined,
      };
      const settings = await loadSettings();
      const core = await createNodeCore(settings, quietLogger(settings.logLevel));
      try {
        const { importCerteraFile } = await import('./import-certera.ts');
        const { formatImportReport } = await import('../../src/domain/certera/report.ts');
        const report = await importCerteraFile(core.deps, file, options);
        process.stdout.write(formatImportReport(report, file));
      } finally {
        core.db.close();
      }
    },
  },
  token: {
    usage: 'certkeep token create [--name N] | certkeep token create --metrics',
    summary: 'print a new admin API token; with --metrics, the token that opens /metrics only (it replaces the one before)',
    options: { name: { type: 'string' }, metrics: { type: 'boolean' } },
    async run(v, positionals) {
      if (positionals[0] !== 'create' || positionals.length !== 1) throw new UsageError('expected: certkeep token create [--name N], or certkeep token create --metrics');
      if (v.metrics && v.name !== undefined) throw new UsageError('--metrics takes no --name: there is one metrics token');
      const core = await openSetUpInstallation();
      try {
        if (v.metrics) await emitToken(await createMetricsToken(core.deps, BY_CLI), undefined);
        else await emitToken(await createAdminToken(core.deps, BY_CLI, v.name ? String(v.name) : 'cli'), undefined);
      } finally {
        core.db.close();
      }
    },
  },
  audit: {
    usage: 'certkeep audit verify',
    summary:
      "check the audit log's chain: every sealed record as it was written, none removed or inserted since (from where retention's purge left off); names the first record that breaks it and exits 1. Prints the chain's last place and hash: keep them elsewhere to tell later that nothing was cut off the end",
    options: {},
    async run(_v, positionals) {
      if (positionals[0] !== 'verify' || positionals.length !== 1) throw new UsageError('expected: certkeep audit verify');
      const core = await openSetUpInstallation();
      try {
        const { verifyAudit } = await import('../../src/domain/audit-chain.ts');
        const result = await verifyAudit(core.deps);
        if (!result.ok) {
          const at = result.broken ? `record ${result.broken.id} (${new Date(result.broken.at).toISOString()}, ${result.broken.action} by ${result.broken.actorName}${result.broken.seq !== null ? `, place ${result.broken.seq}` : ''})` : 'the anchor';
          throw new Error(`the audit log was tampered with: ${at}: ${result.problem} (${result.records} records before it verified)`);
        }
        const lines = [
          `audit log verified: ${result.records} sealed record${result.records === 1 ? '' : 's'}${result.anchor ? ` after the ${result.anchor.seq} removed by retention (up to ${new Date(result.anchor.at).toISOString()})` : ''}`,
          result.head ? `last: place ${result.head.seq}, record ${result.head.id} of ${new Date(result.head.at).toISOString()}, hash ${result.head.hash}` : 'no record is sealed yet',
          `not yet sealed: ${result.unsealed} (the running server seals them at its next tick; downloads once their hour has ended)`,
        ];
        process.stdout.write(lines.join('\n') + '\n');
      } finally {
        core.db.close();
      }
    },
  },
  backup: backupCommand,
  restore: restoreCommand,
};

/**
 * The installation a command such as `token create` works on: one that has been set up. Nothing
 * is created for a data directory that holds none (a mistyped CERTKEEP_DATA_DIR, or a command
 * run in the wrong directory), and a token is never made for a database without an administrator.
 */
async function openSetUpInstallation(): Promise<NodeCore> {
  const settings = await loadSettings(process.env, { existing: true });
  const notSetUp = () => new Error(`${settings.dataDir} has not been set up: run "certkeep setup" or the setup wizard first, or set CERTKEEP_DATA_DIR to the server's data directory`);
  const file = databaseFilePath(settings.databaseUrl);
  if (file !== undefined && !existsSync(file)) throw notSetUp();
  const core = await createNodeCore(settings, quietLogger(settings.logLevel));
  if (await isSetupDone(core.deps).catch(() => false)) return core;
  core.db.close();
  throw notSetUp();
}

/** CLI commands log to stderr only at warn and above, so stdout carries just the answer. */
function quietLogger(level: string) {
  return level === 'debug' ? stdoutLogger('debug') : createLogger('warn', (line) => process.stderr.write(line + '\n'));
}

async function emitToken(token: string, file: string | boolean | undefined): Promise<void> {
  if (typeof file === 'string') await writeFile(file, token + '\n', { mode: 0o600 });
  else process.stdout.write(token + '\n');
}

function mainHelp(): string {
  const lines = Object.values(COMMANDS).map((c) => `  ${c.usage}\n      ${c.summary}`);
  return `Usage: certkeep <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "certkeep <command> --help" for a command's options.\n${settingsHelp()}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`certkeep: unknown command "${name}"\n\n${mainHelp()}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`certkeep ${name}: ${(err as Error).message}\nUsage: ${command.usage}\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(`Usage: ${command.usage}\n\n${command.summary}\n${name === 'serve' ? settingsHelp() + '\n' : ''}`);
    return 0;
  }
  if (!['token', 'user', 'import', 'backup', 'restore', 'audit'].includes(name) && parsed.positionals.length > 0) {
    process.stderr.write(`certkeep ${name}: unexpected argument "${parsed.positionals[0]}"\nUsage: ${command.usage}\n`);
    return 2;
  }
  try {
    await command.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`certkeep ${name}: ${err.message}\nUsage: ${command.usage}\n`);
      return 2;
    }
    process.stderr.write(`certkeep ${name}: ${oneLine(err)}\n`);
    return 1;
  }
}

function oneLine(err: unknown): string {
  if (err instanceof SettingsError) return err.message.replace(/\s*\n\s*/g, '; ');
  if (err instanceof CertkeepError) {
    const problem = err.details?.problem as { detail?: string; type?: string } | undefined;
    return problem ? `${err.message}: ${problem.detail ?? problem.type}` : err.message;
  }
  const problem = (err as { problem?: { type?: string; detail?: string } }).problem;
  if (problem) return `the ACME server said: ${problem.detail ?? problem.type}`;
  return (err as Error)?.message ?? String(err);
}

if (isOrdersThread()) await (await import('../orders-thread.ts')).runOrdersThread();
else process.exitCode = await main(process.argv.slice(2));
