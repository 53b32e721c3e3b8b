// `certkeep import certera`: a Certera install becomes Certkeep objects, so that every server keeps
// fetching the same names with the same API keys, and the administrator signs in with the same
// password.
//
// Everything is decided first (read Certera, read what Certkeep holds, ask the CA about each
// account), then written in one batch: a refusal anywhere before it leaves nothing behind, and a
// failed batch writes nothing. A second run finds what the first one wrote and writes nothing new.
//
// What counts as "already here" (idempotence), and what happens on a clash with an object of the
// same name that did not come from this file:
// - ACME accounts are the same account when directory and key are the same; their names are
//   Certkeep's own (`default` for the first production account when there is none yet, else
//   `certera-<id>`), never seen by a server, so a taken name is simply not used.
// - Keys and certificates are the same when name and key (for a certificate: one of its API
//   keys) are. A different object already holding the name is left alone and the Certera one is
//   skipped with the reason: renaming it would change the URL its servers fetch, and replacing
//   the Certkeep one would break the servers that use it. Delete or rename one and run again.
// - A user with the same email is left as it is (its own password, its own second factor).
// - The DNS provider `certera-dns01` is the same when its configuration is.
//
// - Notification channels (`certera-email`, `certera-slack`) are the same when type, settings and
//   events are.
// - Tracked URLs are the same target when address, port and STARTTLS are; uploaded certificates
//   the same when their SHA-256 is (also against the certificates Certkeep serves, which are
//   tracked by themselves: the imported ones too).
import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Deps } from '../../deps.ts';
import { audit, type By } from '../audit.ts';
import type { Statement } from '../../db/client.ts';
import { CertkeepError } from '../../errors.ts';
import { acmeAccounts, apiKeys, certificates, keys, trackingTargets, users } from '../../db/schema.ts';
import { AcmeClient } from '../../acme/index.ts';
import { AcmeProblemError } from '../../acme/errors.ts';
import { exportPublicSpki, importPrivateKey, keyFromPkcs8, openSecret, parseChain, pemDecode, sealSecret, type CsrSubject, type ImportedKey, type KeyType } from '../../crypto/index.ts';
import { fromBase32, toBase32 } from '../../auth/totp.ts';
import { hashRecoveryCode } from '../../auth/recovery.ts';
import { fromBase64, sha256, toHex, utf8 } from '../../util/encoding.ts';
import { NAME_HINT, NAME_PATTERN } from '../../http/validate.ts';
import { accountAad, DEFAULT_ACCOUNT, type AccountRow } from '../accounts.ts';
import { API_KEY_PREFIX, isCerteraApiKey, type ApiKeyOwnerKind } from '../apikeys.ts';
import { findCertificateByName, newCertificateRow, type CertificateRow } from '../certificates.ts';
import { keyAad, type KeyRow } from '../keys.ts';
import { normalizeDomains } from '../names.ts';
import { aspNetIdentityHash } from '../passwords.ts';
import { renewalTime } from '../renewal.ts';
import { hashSecret, newId, newSecret } from '../secrets.ts';
import { totpAad } from '../sessions.ts';
import { getSettings, settingStatement } from '../settings.ts';
import { isSetupDone } from '../setup.ts';
import { dnsProviderConfig, findDnsProvider, prepareDnsProvider } from '../dns/providers.ts';
import { validateScriptConfig, type ScriptConfig } from '../dns/script.ts';
import { readCertera, type CerteraNotificationSetting, type CerteraReader, type CerteraSnapshot } from './source.ts';
import { openChannel, prepareChannel, type ChannelType } from '../notifications/channels.ts';
import { auditStatement, CLI_ACTOR } from '../audit.ts';
import type { EventType } from '../events.ts';
import { notificationChannels } from '../../db/schema.ts';
import { issuedStatements, uploadStatements, urlTargetRow } from '../tracking/tracking.ts';
import { parseTrackingTarget, type TrackingTarget } from '../tracking/targets.ts';
import { parseUpload, type UploadedCertificate } from '../tracking/upload.ts';

export interface CerteraImportOptions {
  /** Where Certera's production accounts live (Certera: Let's Encrypt). */
  directoryUrl: string;
  /** Where its staging accounts live (Certera: Let's Encrypt's staging CA). */
  stagingDirectoryUrl: string;
  /** Decide and report, write nothing (and register nothing at a CA). */
  dryRun: boolean;
  /**
   * Certera's `SiteHostname` (its config.json, not its database): the imported certificate for
   * it, which Certera's setup named after the hostname, becomes Certkeep's HTTPS certificate.
   */
  siteHostname?: string;
}

export type ImportKind = 'account' | 'key' | 'certificate' | 'user' | 'dns-provider' | 'notification-channel' | 'setting' | 'tracking';
export type ImportOutcome = 'imported' | 'present' | 'skipped';

export interface ImportItem {
  kind: ImportKind;
  name: string;
  outcome: ImportOutcome;
  /** What was done, or why not. */
  detail: string;
}

export interface CerteraImportReport {
  migrations: string[];
  dryRun: boolean;
  items: ImportItem[];
  /** Certera data Certkeep has no feature for yet, counted. */
  notAvailable: Array<{ what: string; count: number }>;
  /** Things the administrator should know that are not about one item's outcome. */
  notes: string[];
  /**
   * API keys made here because Certera's slot was empty or held something weaker than a key
   * Certera makes: shown now, never again (only their hashes are stored).
   */
  newApiKeys: Array<{ kind: ApiKeyOwnerKind; name: string; slot: 1 | 2; apiKey: string }>;
  /** Statements written in the one batch (0 for a dry run, or when nothing was new). */
  written: number;
}

/** The Certkeep DNS provider that takes over Certera's DNS-01 script settings. */
export const CERTERA_DNS_PROVIDER = 'certera-dns01';
/** Certera's `RenewCertificateDays` when it was never saved, and its allowed range. */
const CERTERA_RENEW_DAYS = { default: 30, min: 10, max: 45 };
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Names the pages' paths use (src/http/validate.ts): an object so named could not be shown. */
const RESERVED_NAMES = ['new'];

type ParsedKey = ImportedKey & { spki: string };

interface Context {
  deps: Deps;
  source: CerteraSnapshot;
  options: CerteraImportOptions;
  report: CerteraImportReport;
  statements: Statement[];
  /** Each Certera key, parsed once: the key, or why it cannot be read. */
  parsedKeys: Map<number, ParsedKey | { error: string }>;
  /** Certera account id → the Certkeep account (imported now or found), or why there is none. */
  accounts: Map<number, { id: string; name: string; outcome: ImportOutcome } | { problem: string }>;
  /** Certera key id → the Certkeep key (imported now or found), or why there is none. */
  keys: Map<number, { id: string; name: string; spki: string } | { problem: string }>;
  /** SPKI hash → Certkeep key id, for every key the certificates may be served with. */
  keysBySpki: Map<string, string>;
  /** API key hashes already in Certkeep, with their owners, and those planned here. */
  existingHashes: Map<string, { ownerKind: ApiKeyOwnerKind; ownerId: string }>;
  plannedHashes: Set<string>;
  plannedCertificateNames: Map<string, boolean>;
  /** The Certkeep DNS provider for Certera's dns-01 certificates, when there is one. */
  dnsProviderId: string | null;
  renewDays: number;
  certificatesBefore: number;
  usersBefore: number;
  defaultAccountPlanned: boolean;
  /** SHA-256s of the certificates tracked after this import (imported certificates, uploads planned here). */
  plannedTrackedSha256: Set<string>;
}

type Step = (ctx: Context) => Promise<void>;

/** Certera data without a Certkeep feature yet: counted, not imported. */
const notAvailable =
  (what: string, count: (source: CerteraSnapshot) => number): Step =>
  async (ctx) => {
    const n = count(ctx.source);
    if (n > 0) ctx.report.notAvailable.push({ what, count: n });
  };

const STEPS: Step[] = [
  importAccounts,
  importKeys,
  importDnsProvider,
  importCertificates,
  importUsers,
  importNotifications,
  importSettings,
  importTracking,
];

/**
 * Reads the Certera database behind `reader`, imports it (unless `dryRun`) and says what was done.
 * Throws (BAD_REQUEST) before anything is written when the file is not a Certera database or
 * carries an unknown migration, and (ACME_NETWORK, ACME_TIMEOUT…) when a CA cannot be asked.
 */
export async function importCertera(deps: Deps, by: By, reader: CerteraReader, options: CerteraImportOptions): Promise<CerteraImportReport> {
  const source = await readCertera(reader);
  const ctx = await newContext(deps, source, options);
  for (const step of STEPS) await step(ctx);
  if (!options.dryRun) {
    // One record per run, in the import's batch: what was imported, found and skipped, by kind.
    const counts: Record<string, Record<ImportOutcome, number>> = {};
    for (const item of ctx.report.items) {
      counts[item.kind] ??= { imported: 0, present: 0, skipped: 0 };
      counts[item.kind][item.outcome]++;
    }
    await deps.db.batch([...ctx.statements, audit(deps, by, { action: 'import.certera', detail: { counts, statements: ctx.statements.length } })]);
    ctx.report.written = ctx.statements.length;
    deps.log.info('certera import written', { statements: ctx.statements.length });
  }
  return ctx.report;
}

async function newContext(deps: Deps, source: CerteraSnapshot, options: CerteraImportOptions): Promise<Context> {
  const parsedKeys = new Map<number, ParsedKey | { error: string }>();
  for (const key of source.keys) parsedKeys.set(key.id, await parseKey(key.pem));

  // Which of Certera's API keys Certkeep already knows, and whose they are.
  const hashes = await Promise.all(
    [...source.keys, ...source.certificates].flatMap((o) => [o.apiKey1, o.apiKey2]).filter(isCerteraApiKey).map((k) => hashSecret(deps, k)),
  );
  const existingHashes = new Map<string, { ownerKind: ApiKeyOwnerKind; ownerId: string }>();
  for (let i = 0; i < hashes.length; i += 100) {
    const rows = await deps.db.db
      .select({ keyHash: apiKeys.keyHash, ownerKind: apiKeys.ownerKind, ownerId: apiKeys.ownerId })
      .from(apiKeys)
      .where(inArray(apiKeys.keyHash, hashes.slice(i, i + 100)));
    for (const r of rows) existingHashes.set(r.keyHash, { ownerKind: r.ownerKind, ownerId: r.ownerId });
  }

  const report: CerteraImportReport = { migrations: source.migrations, dryRun: options.dryRun, items: [], notAvailable: [], notes: [], newApiKeys: [], written: 0 };
  const renewSetting = source.settings.get('RenewCertificateDays');
  let renewDays = CERTERA_RENEW_DAYS.default;
  if (renewSetting != null) {
    const n = Number(renewSetting);
    if (Number.isInteger(n) && n >= CERTERA_RENEW_DAYS.min && n <= CERTERA_RENEW_DAYS.max) renewDays = n;
    else report.notes.push(`Certera's RenewCertificateDays "${renewSetting}" is outside ${CERTERA_RENEW_DAYS.min}–${CERTERA_RENEW_DAYS.max}: ${renewDays} is used`);
  }
  const [{ n: certificatesBefore }] = await deps.db.db.select({ n: sqlCount() }).from(certificates);
  const [{ n: usersBefore }] = await deps.db.db.select({ n: sqlCount() }).from(users);
  return {
    deps,
    source,
    options,
    report,
    statements: [],
    parsedKeys,
    accounts: new Map(),
    keys: new Map(),
    keysBySpki: new Map(),
    existingHashes,
    plannedHashes: new Set(),
    plannedCertificateNames: new Map(),
    dnsProviderId: null,
    renewDays,
    certificatesBefore,
    usersBefore,
    defaultAccountPlanned: false,
    plannedTrackedSha256: new Set(),
  };
}

const sqlCount = () => sql<number>`count(*)`.mapWith(Number);

async function parseKey(pem: string): Promise<ParsedKey | { error: string }> {
  try {
    const imported = await importPrivateKey(pem);
    return { ...imported, spki: toHex(await sha256(await exportPublicSpki(imported.keyPair.publicKey))) };
  } catch (err) {
    return { error: err instanceof CertkeepError ? err.message : 'not a private key' };
  }
}

function record(ctx: Context, kind: ImportKind, name: string, outcome: ImportOutcome, detail: string): void {
  ctx.report.items.push({ kind, name, outcome, detail });
}

function nameProblem(name: string): string | null {
  if (!NAME_PATTERN.test(name)) return `Certkeep names are ${NAME_HINT}; rename it in Certera and import again`;
  if (RESERVED_NAMES.includes(name.toLowerCase())) return `"${name}" is reserved in Certkeep; rename it in Certera and import again`;
  return null;
}

// ---- ACME accounts -------------------------------------------------------------------------------

async function importAccounts(ctx: Context): Promise<void> {
  const { deps, options } = ctx;
  // Existing accounts by directory and key: unsealed once each (an install has a handful).
  const existing = await Promise.all(
    (await deps.db.db.select().from(acmeAccounts)).map(async (row) => {
      const pair = await keyFromPkcs8(await openSecret(deps.masterKey, row.keySealed, accountAad(row.id)), row.keyType as KeyType);
      return { row, identity: `${row.directoryUrl}\n${toHex(await sha256(await exportPublicSpki(pair.publicKey)))}` };
    }),
  );
  const takenNames = new Set(existing.map((e) => e.row.name));
  for (const account of ctx.source.accounts) {
    const label = `${account.email || 'no email'}, ${account.staging ? 'staging' : 'production'}`;
    const display = `Certera account ${account.id} (${label})`;
    const skip = (why: string) => {
      ctx.accounts.set(account.id, { problem: `its ACME account was not imported (${why})` });
      record(ctx, 'account', display, 'skipped', why);
    };
    const keyRow = ctx.source.keys.find((k) => k.id === account.keyId);
    const key = ctx.parsedKeys.get(account.keyId);
    if (!keyRow || !key) {
      skip(`its key (Certera key id ${account.keyId}) is missing`);
      continue;
    }
    if ('error' in key) {
      skip(`its key "${keyRow.name}" cannot be read: ${key.error}`);
      continue;
    }
    const directoryUrl = account.staging ? options.stagingDirectoryUrl : options.directoryUrl;
    const found = existing.find((e) => e.identity === `${directoryUrl}\n${key.spki}`);
    if (found) {
      ctx.accounts.set(account.id, { id: found.row.id, name: found.row.name, outcome: 'present' });
      record(ctx, 'account', found.row.name, 'present', `${label}: this key's account at ${directoryUrl} is here already`);
      continue;
    }

    // Certera kept no account URL: the CA finds the account by its key (RFC 8555 §7.3.1).
    const client = new AcmeClient({ directoryUrl, accountKey: key.keyPair, outbound: deps.outbound, sleep: deps.sleep, now: deps.now });
    let accountUrl: string | null = null;
    let how: string;
    try {
      const { url, account: state } = await client.newAccount({ onlyReturnExisting: true });
      if (state.status !== 'valid') {
        skip(`the CA at ${directoryUrl} says this account is ${state.status}`);
        continue;
      }
      accountUrl = url;
      how = `found at ${directoryUrl}`;
    } catch (err) {
      if (!(err instanceof AcmeProblemError)) throw unreachable(err, display, directoryUrl);
      if (!err.is('accountDoesNotExist')) {
        skip(`the CA at ${directoryUrl} refused to look it up: ${err.problem.detail ?? err.problem.type}`);
        continue;
      }
      if (!account.termsOfServiceAgreed) {
        skip(`${directoryUrl} does not know it, and its terms of service were never accepted in Certera`);
        continue;
      }
      if (options.dryRun) {
        how = `not known at ${directoryUrl}: it would be registered anew`;
      } else {
        try {
          const contact = EMAIL.test(account.email) ? [`mailto:${account.email}`] : undefined;
          accountUrl = (await client.newAccount({ contact, termsOfServiceAgreed: true })).url;
        } catch (regErr) {
          if (!(regErr instanceof AcmeProblemError)) throw unreachable(regErr, display, directoryUrl);
          skip(`not known at ${directoryUrl}, and registering it anew was refused: ${regErr.problem.detail ?? regErr.problem.type}`);
          continue;
        }
        how = `registered anew at ${directoryUrl} (the CA did not know it)`;
      }
    }

    let name = !account.staging && !takenNames.has(DEFAULT_ACCOUNT) ? DEFAULT_ACCOUNT : `certera-${account.id}`;
    for (let n = 2; takenNames.has(name); n++) name = `certera-${account.id}-${n}`;
    takenNames.add(name);
    if (name === DEFAULT_ACCOUNT) ctx.defaultAccountPlanned = true;
    const id = newId();
    const now = deps.now();
    const row: AccountRow = {
      id,
      name,
      directoryUrl,
      email: EMAIL.test(account.email) ? account.email : null,
      staging: account.staging,
      termsOfServiceAgreed: account.termsOfServiceAgreed,
      accountUrl,
      status: 'valid',
      keyType: key.type,
      keySealed: await sealSecret(deps.masterKey, key.pkcs8, accountAad(id)),
      nextKeySealed: null,
      eabKid: null,
      maxOrdersPerHour: null,
      pausedUntil: null,
      pauseProblem: null,
      createdAt: now,
      updatedAt: now,
    };
    ctx.statements.push(deps.db.db.insert(acmeAccounts).values(row));
    // Another Certera account with the same key at the same CA is this one.
    existing.push({ row, identity: `${directoryUrl}\n${key.spki}` });
    ctx.accounts.set(account.id, { id, name, outcome: 'imported' });
    record(ctx, 'account', name, 'imported', `${label}: ${how}`);
  }
}

function unreachable(err: unknown, what: string, directoryUrl: string): CertkeepError {
  const reason = err instanceof Error ? err.message : String(err);
  return new CertkeepError(err instanceof CertkeepError ? err.code : 'ACME_NETWORK', `${what}: the CA at ${directoryUrl} could not be asked (${reason}); nothing was imported`, undefined, {
    cause: err,
  });
}

// ---- keys ----------------------------------------------------------------------------------------

async function importKeys(ctx: Context): Promise<void> {
  const { deps, source } = ctx;
  for (const certeraKey of source.keys) {
    const { name } = certeraKey;
    const parsed = ctx.parsedKeys.get(certeraKey.id)!;
    const forCertificates = source.certificates.some((c) => c.keyId === certeraKey.id);
    const ofAccounts = source.accounts.filter((a) => a.keyId === certeraKey.id);
    if (!forCertificates && ofAccounts.length > 0) {
      // An ACME account key: it lives with its account (sealed), and is not offered for download.
      const planned = ofAccounts.map((a) => ctx.accounts.get(a.id));
      const names = planned.map((a) => (a && 'name' in a ? `"${a.name}"` : '(not imported)'));
      const outcomes = planned.map((a) => (a && 'outcome' in a ? a.outcome : 'skipped'));
      const outcome = outcomes.includes('imported') ? 'imported' : outcomes.includes('present') ? 'present' : 'skipped';
      record(ctx, 'key', name, outcome, `the key of ACME account ${names.join(', ')}: kept with the account, not offered by the download API`);
      continue;
    }
    const skip = (why: string) => {
      ctx.keys.set(certeraKey.id, { problem: `its key "${name}" was not imported (${why})` });
      record(ctx, 'key', name, 'skipped', why);
    };
    const badName = nameProblem(name);
    if (badName) {
      skip(badName);
      continue;
    }
    if ('error' in parsed) {
      skip(`its PEM cannot be read: ${parsed.error}`);
      continue;
    }
    const existing = (await deps.db.db.select().from(keys).where(eq(keys.name, name)).limit(1))[0];
    if (existing) {
      if (existing.spkiSha256 === parsed.spki) {
        ctx.keys.set(certeraKey.id, { id: existing.id, name, spki: parsed.spki });
        ctx.keysBySpki.set(parsed.spki, existing.id);
        record(ctx, 'key', name, 'present', 'this key is here already');
      } else {
        skip(`Certkeep already has a different key named "${name}"`);
      }
      continue;
    }
    const id = newId();
    const apiKeyRows = await apiKeysOf(ctx, 'key', name, id, [certeraKey.apiKey1, certeraKey.apiKey2]);
    if ('problem' in apiKeyRows) {
      skip(apiKeyRows.problem);
      continue;
    }
    const now = deps.now();
    const row: KeyRow = {
      id,
      name,
      type: parsed.type,
      keySealed: await sealSecret(deps.masterKey, parsed.pkcs8, keyAad(id)),
      spkiSha256: parsed.spki,
      createdAt: now,
      updatedAt: now,
    };
    ctx.statements.push(deps.db.db.insert(keys).values(row), apiKeyRows.insert);
    apiKeyRows.commit();
    ctx.keys.set(certeraKey.id, { id, name, spki: parsed.spki });
    ctx.keysBySpki.set(parsed.spki, id);
    record(ctx, 'key', name, 'imported', `${parsed.type}${apiKeyRows.made ? `, ${apiKeyRows.made}` : ''}`);
  }
}

/**
 * The two API key rows of an object: Certera's keys as they are (hashed), or new ones for a slot
 * that held none or something weaker (reported once). Refused when a key is in use elsewhere.
 */
type ApiKeyRows = { problem: string } | { insert: Statement; made: string; commit(): void };

async function apiKeysOf(ctx: Context, ownerKind: ApiKeyOwnerKind, name: string, ownerId: string, values: [string | null, string | null]): Promise<ApiKeyRows> {
  const now = ctx.deps.now();
  const rows: Array<typeof apiKeys.$inferInsert> = [];
  const made: Array<{ slot: 1 | 2; apiKey: string }> = [];
  for (const slot of [1, 2] as const) {
    const value = values[slot - 1];
    let plain: string;
    if (isCerteraApiKey(value)) {
      plain = value;
    } else {
      plain = newSecret(API_KEY_PREFIX[ownerKind]);
      made.push({ slot, apiKey: plain });
    }
    const keyHash = await hashSecret(ctx.deps, plain);
    if (ctx.existingHashes.has(keyHash) || ctx.plannedHashes.has(keyHash) || rows.some((r) => r.keyHash === keyHash)) {
      return { problem: `its API key ${slot} is already in use by another object in Certkeep` };
    }
    rows.push({ id: newId(), ownerKind, ownerId, slot, keyHash, createdAt: now });
  }
  return {
    insert: ctx.deps.db.db.insert(apiKeys).values(rows),
    made: made.length ? `new API key ${made.map((m) => m.slot).join(' and ')} (Certera's was empty or malformed)` : '',
    commit() {
      for (const r of rows) ctx.plannedHashes.add(r.keyHash);
      for (const m of made) ctx.report.newApiKeys.push({ kind: ownerKind, name, ...m });
    },
  };
}

// ---- the DNS-01 script settings -------------------------------------------------------------------

async function importDnsProvider(ctx: Context): Promise<void> {
  const { deps, source } = ctx;
  const setting = (name: string) => source.settings.get(name) ?? null;
  const setScript = setting('Dns01SetScript');
  const dnsCertificates = source.certificates.filter(isDns01).length;
  if (!setScript) {
    if (dnsCertificates > 0) ctx.report.notes.push(`${dnsCertificates} dns-01 certificate(s) but no DNS-01 set script in Certera: give them a DNS provider (PATCH /api/v1/certificates/{name}) before they are renewed`);
    return;
  }
  const cleanupScript = setting('Dns01CleanupScript');
  let config: ScriptConfig;
  try {
    const env = certeraEnvironment(setting('Dns01SetEnvironmentVariables'));
    config = validateScriptConfig({
      set: { command: setScript.trim(), args: splitArguments(setting('Dns01SetScriptArguments') ?? '') },
      // Certera ran no cleanup when none was set; `true` does nothing, successfully.
      clear: cleanupScript ? { command: cleanupScript.trim(), args: splitArguments(setting('Dns01CleanupScriptArguments') ?? '') } : { command: 'true', args: [] },
      ...(env ? { env } : {}),
    });
  } catch (err) {
    record(ctx, 'dns-provider', CERTERA_DNS_PROVIDER, 'skipped', `Certera's DNS-01 script settings do not make a valid script provider: ${(err as Error).message}`);
    return;
  }
  if (!cleanupScript) ctx.report.notes.push(`no DNS-01 cleanup script in Certera: "${CERTERA_DNS_PROVIDER}" runs \`true\` to clear, so records stay as Certera left them`);
  const existing = await findDnsProvider(deps, CERTERA_DNS_PROVIDER);
  if (existing) {
    if (existing.type === 'script' && JSON.stringify(await dnsProviderConfig(deps, existing)) === JSON.stringify(config)) {
      ctx.dnsProviderId = existing.id;
      record(ctx, 'dns-provider', CERTERA_DNS_PROVIDER, 'present', 'the same script settings are here already');
    } else {
      record(ctx, 'dns-provider', CERTERA_DNS_PROVIDER, 'skipped', `Certkeep already has a different DNS provider named "${CERTERA_DNS_PROVIDER}"`);
    }
    return;
  }
  const { row, statement } = await prepareDnsProvider(deps, CERTERA_DNS_PROVIDER, 'script', config);
  ctx.statements.push(statement);
  ctx.dnsProviderId = row.id;
  const envNames = Object.keys(config.env ?? {});
  record(ctx, 'dns-provider', CERTERA_DNS_PROVIDER, 'imported', `script: set ${config.set.command}, clear ${config.clear.command}${envNames.length ? `, environment ${envNames.join(', ')}` : ''}`);
}

function isDns01(c: { challengeType: string | null }): boolean {
  return c.challengeType?.trim().toLowerCase() === 'dns-01';
}

/**
 * Certera's environment setting: one `NAME=VALUE` per line, both trimmed (EnvironmentVariableHelper
 * and ProcessRunner). A line without `=` made Certera fail before running the script: refused.
 */
export function certeraEnvironment(text: string | null): Record<string, string> | undefined {
  if (!text || text.trim() === '') return undefined;
  const env: Record<string, string> = {};
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new CertkeepError('BAD_REQUEST', `environment line ${i + 1} is not NAME=VALUE`);
    env[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return env;
}

/**
 * Certera's argument string as the argv it became: .NET splits ProcessStartInfo.Arguments the way
 * Windows programs split a command line — spaces or tabs between arguments, double quotes around
 * one with spaces (`""` inside them is a quote), and backslashes literal unless they precede a
 * quote (then each pair is one backslash, and an odd one escapes the quote).
 */
export function splitArguments(text: string): string[] {
  const args: string[] = [];
  let current = '';
  let started = false;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') {
      let n = 0;
      while (text[i + n] === '\\') n++;
      if (text[i + n] === '"') {
        current += '\\'.repeat(Math.floor(n / 2));
        if (n % 2 === 1) {
          current += '"';
          i += n;
        } else {
          i += n - 1;
        }
      } else {
        current += '\\'.repeat(n);
        i += n - 1;
      }
      started = true;
    } else if (ch === '"') {
      if (quoted && text[i + 1] === '"') {
        current += '"';
        i++;
      } else {
        quoted = !quoted;
      }
      started = true;
    } else if (!quoted && (ch === ' ' || ch === '\t')) {
      if (started) args.push(current);
      current = '';
      started = false;
    } else {
      current += ch;
      started = true;
    }
  }
  if (started) args.push(current);
  return args;
}

// ---- certificates --------------------------------------------------------------------------------

async function importCertificates(ctx: Context): Promise<void> {
  const { deps, source } = ctx;
  // Certera's names are unique per account, Certkeep's overall: production first (what Certera
  // served when `staging` was not asked for), then by id.
  const staging = (accountId: number) => source.accounts.find((a) => a.id === accountId)?.staging ?? false;
  const ordered = [...source.certificates].sort((a, b) => Number(staging(a.accountId)) - Number(staging(b.accountId)) || a.id - b.id);
  for (const c of ordered) {
    const { name } = c;
    const skip = (why: string) => record(ctx, 'certificate', name, 'skipped', why);
    const badName = nameProblem(name);
    if (badName) {
      skip(badName);
      continue;
    }
    if (ctx.plannedCertificateNames.has(name)) {
      skip(`Certera has two certificates named "${name}"; the ${ctx.plannedCertificateNames.get(name) ? 'staging' : 'production'} one is imported under this name (Certkeep names are unique)`);
      continue;
    }
    const existing = await findCertificateByName(deps, name);
    if (existing) {
      const owners = await Promise.all([c.apiKey1, c.apiKey2].filter(isCerteraApiKey).map(async (k) => ctx.existingHashes.get(await hashSecret(deps, k))));
      if (owners.some((owner) => owner?.ownerKind === 'certificate' && owner.ownerId === existing.id)) {
        ctx.plannedCertificateNames.set(name, staging(c.accountId));
        record(ctx, 'certificate', name, 'present', 'this certificate is here already (its served certificate is left as it is)');
      } else {
        skip(`Certkeep already has a different certificate named "${name}"`);
      }
      continue;
    }
    const account = ctx.accounts.get(c.accountId) ?? { problem: `its ACME account (Certera id ${c.accountId}) is missing` };
    if ('problem' in account) {
      skip(account.problem);
      continue;
    }
    const key = ctx.keys.get(c.keyId) ?? { problem: `its key (Certera key id ${c.keyId}) was not imported` };
    if ('problem' in key) {
      skip(key.problem);
      continue;
    }
    const challenge = isDns01(c) ? 'dns-01' : 'http-01';
    let domains: string[];
    try {
      const sans = (c.sans ?? '').split(/\r\n|\r|\n|,|;/).map((s) => s.trim()).filter(Boolean);
      domains = normalizeDomains([c.subject.trim(), ...sans], challenge);
    } catch (err) {
      skip(`its names cannot be ordered: ${(err as Error).message.replace(/^domains: /, '')}`);
      continue;
    }
    const notes: string[] = [];
    const subject = csrSubject(c.csr, notes);
    const id = newId();
    let row: CertificateRow = newCertificateRow(deps, id, {
      name,
      domains,
      challenge,
      accountId: account.id,
      keyId: key.id,
      dnsProviderId: challenge === 'dns-01' ? (ctx.dnsProviderId ?? undefined) : undefined,
      subject,
    });
    if (challenge === 'dns-01' && !ctx.dnsProviderId) notes.push('dns-01 without a DNS provider: give it one before its renewal');

    let served = 'no completed order in Certera: due now, obtained at the scheduler\'s next tick';
    let trackedStatements: Statement[] = [];
    let trackedSha256: string | null = null;
    if (c.chainPem) {
      const current = await currentCertificate(ctx, c.chainPem, key);
      if ('problem' in current) {
        served = `${current.problem}: due now, obtained anew at the scheduler's next tick`;
      } else {
        const now = deps.now();
        const renewAt = renewalTime(current.notBefore, current.notAfter, ctx.renewDays);
        row = { ...row, status: 'valid', pem: current.pem, servedKeyId: current.keyId, serial: current.serial, notBefore: current.notBefore, notAfter: current.notAfter, renewAt, ariCheckAt: now };
        // Tracked by itself, as every certificate Certkeep serves (domain/tracking).
        trackedStatements = await issuedStatements(deps, id, current.pem);
        trackedSha256 = current.sha256;
        served = `serving ${current.serial}, valid until ${iso(current.notAfter)}, renewal from ${iso(renewAt)}${current.keyId !== key.id ? ' (issued for an earlier key, which serves until the renewal)' : ''}`;
      }
    }
    const apiKeyRows = await apiKeysOf(ctx, 'certificate', name, id, [c.apiKey1, c.apiKey2]);
    if ('problem' in apiKeyRows) {
      skip(apiKeyRows.problem);
      continue;
    }
    ctx.statements.push(deps.db.db.insert(certificates).values(row), apiKeyRows.insert, ...trackedStatements);
    if (trackedSha256) ctx.plannedTrackedSha256.add(trackedSha256);
    apiKeyRows.commit();
    ctx.plannedCertificateNames.set(name, staging(c.accountId));
    const detail = [`${domains.join(', ')}; ${challenge}; account "${account.name}"; key "${key.name}"`, served, apiKeyRows.made, ...notes].filter(Boolean).join('; ');
    record(ctx, 'certificate', name, 'imported', detail);
  }
}

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The chain Certera served, if it can be served here: every block a certificate, the leaf's key one we hold. */
async function currentCertificate(ctx: Context, chainPem: string, key: { id: string; spki: string }) {
  let chain;
  try {
    const blocks = pemDecode(chainPem);
    if (blocks.length === 0 || blocks.some((b) => b.label !== 'CERTIFICATE')) return { problem: 'its latest certificate is not a PEM chain of certificates' } as const;
    chain = await parseChain(chainPem);
  } catch {
    return { problem: 'its latest certificate cannot be read' } as const;
  }
  const leaf = chain[0];
  // Certera served its current key beside the chain even after the key was changed; the chain
  // is served here with the key it was issued for, when that key is among the imported ones.
  const keyId = leaf.spkiSha256 === key.spki ? key.id : ctx.keysBySpki.get(leaf.spkiSha256);
  if (!keyId) return { problem: 'its latest certificate was issued for a key that is not imported' } as const;
  return { pem: chainPem, keyId, serial: leaf.serialNumber, notBefore: leaf.notBefore.getTime(), notAfter: leaf.notAfter.getTime(), sha256: leaf.sha256Thumbprint };
}

/** Certera's CSR fields as Certkeep's subject; a country that is not two letters is left out. */
function csrSubject(csr: Record<keyof CsrSubject, string | null>, notes: string[]): CsrSubject | undefined {
  const subject: CsrSubject = {};
  for (const field of ['CN', 'O', 'OU', 'ST', 'L'] as const) {
    const value = csr[field]?.trim();
    if (!value) continue;
    if (value.length > 64) notes.push(`CSR ${field} longer than 64 characters left out`);
    else subject[field] = value;
  }
  const country = csr.C?.trim();
  if (country) {
    if (/^[A-Za-z]{2}$/.test(country)) subject.C = country.toUpperCase();
    else notes.push(`CSR country "${country}" is not a two-letter code: left out`);
  }
  return Object.keys(subject).length ? subject : undefined;
}

// ---- users ---------------------------------------------------------------------------------------

async function importUsers(ctx: Context): Promise<void> {
  const { deps, source } = ctx;
  for (const u of source.users) {
    const email = (u.email ?? u.userName ?? '').trim().toLowerCase();
    if (!EMAIL.test(email) || email.length > 254) {
      record(ctx, 'user', email || `Certera user ${u.id}`, 'skipped', 'no usable email address');
      continue;
    }
    const [existing] = await deps.db.db.select({ id: users.id }).from(users).where(eq(users.email, email)).limit(1);
    if (existing) {
      record(ctx, 'user', email, 'present', 'a Certkeep user with this email is here already: kept as it is, with its own password');
      continue;
    }
    const passwordHash = u.passwordHash ? aspNetIdentityHash(u.passwordHash) : null;
    if (!passwordHash) {
      record(ctx, 'user', email, 'skipped', 'its password hash is not one ASP.NET Core Identity writes');
      continue;
    }
    const id = newId();
    const now = deps.now();
    let totpSecretSealed: string | null = null;
    let recoveryCodes: string | null = null;
    let secondFactor = '';
    if (u.twoFactorEnabled) {
      let secret: string | null = null;
      try {
        secret = u.authenticatorKey ? toBase32(fromBase32(u.authenticatorKey)) : null;
      } catch {
        secret = null;
      }
      if (secret) {
        totpSecretSealed = await sealSecret(deps.masterKey, utf8(secret), totpAad(id));
        recoveryCodes = JSON.stringify(await Promise.all(u.recoveryCodes.map(hashRecoveryCode)));
        secondFactor = `; two-factor sign-in with the same authenticator app and its ${u.recoveryCodes.length} unused recovery code(s)`;
      } else {
        ctx.report.notes.push(`${email} had two-factor sign-in in Certera, but its authenticator key is missing or unreadable: sign in with the password alone and set it up again`);
      }
    }
    ctx.statements.push(
      deps.db.db.insert(users).values({ id, email, passwordHash, failedLogins: 0, lockedUntil: null, totpSecretSealed, totpLastStep: null, recoveryCodes, createdAt: now, updatedAt: now }),
    );
    record(ctx, 'user', email, 'imported', `signs in with the Certera password (replaced by Certkeep's own hash at the first sign-in)${secondFactor}`);
  }
}

// ---- notification settings -------------------------------------------------------------------------

/** The Certkeep channels of Certera's notification settings. */
export const CERTERA_EMAIL_CHANNEL = 'certera-email';
export const CERTERA_SLACK_CHANNEL = 'certera-slack';

/**
 * Certera's kinds of alert as Certkeep's events: expiry warnings (of issued and tracked
 * certificates), changes of a tracked certificate, and failures to obtain a certificate.
 */
function certeraEvents(n: CerteraNotificationSetting): EventType[] {
  return [
    ...(n.expiration && n.expirationDays.length > 0 ? (['certificate.expiring', 'tracking.expiring'] as const) : []),
    ...(n.change ? (['tracking.changed'] as const) : []),
    ...(n.acquisitionFailure ? (['certificate.renewal_failed'] as const) : []),
  ];
}

/**
 * Certera's notification settings (one row per user) become channels: mail to the user and the
 * additional recipients, and the Slack webhook, each subscribed to the events of the kinds that
 * were on, with the same expiry thresholds.
 */
async function importNotifications(ctx: Context): Promise<void> {
  const { deps, source } = ctx;
  const many = source.notifications.length > 1;
  for (const n of source.notifications) {
    const user = source.users.find((u) => u.id === n.userId);
    const suffix = many ? `-${n.userId}` : '';
    const events = certeraEvents(n);
    const base = { events, expiringDays: n.expirationDays.length ? n.expirationDays : undefined };
    if (n.expiration && n.expirationDays.length === 0) ctx.report.notes.push(`Certera's expiry alerts were on without any day chosen, so it sent none: the imported channels do not send expiry warnings either`);
    const wanted: Array<{ name: string; type: ChannelType; input: Record<string, unknown> } | { name: string; skip: string }> = [];
    if (n.sendEmail) {
      const candidates = [(user?.email ?? user?.userName ?? '').toLowerCase(), ...(n.additionalRecipients ?? '').split(/[,;\s]+/)].map((a) => a.trim()).filter(Boolean);
      const valid = candidates.filter((a) => EMAIL.test(a) && a.length <= 254);
      const to = valid.filter((a, i) => valid.findIndex((b) => b.toLowerCase() === a.toLowerCase()) === i);
      const bad = candidates.filter((a) => !valid.includes(a));
      if (bad.length) ctx.report.notes.push(`not email addresses, left out of "${CERTERA_EMAIL_CHANNEL}${suffix}": ${bad.join(', ')}`);
      wanted.push(to.length ? { name: `${CERTERA_EMAIL_CHANNEL}${suffix}`, type: 'email', input: { ...base, to } } : { name: `${CERTERA_EMAIL_CHANNEL}${suffix}`, skip: 'no usable email address' });
    }
    if (n.sendSlack) {
      wanted.push(
        n.slackWebhookUrl ? { name: `${CERTERA_SLACK_CHANNEL}${suffix}`, type: 'slack', input: { ...base, url: n.slackWebhookUrl.trim() } } : { name: `${CERTERA_SLACK_CHANNEL}${suffix}`, skip: 'Slack was on, but no webhook URL was set' },
      );
    }
    for (const w of wanted) {
      if ('skip' in w) {
        record(ctx, 'notification-channel', w.name, 'skipped', w.skip);
        continue;
      }
      if (events.length === 0) {
        record(ctx, 'notification-channel', w.name, 'skipped', 'no kind of alert was on in Certera');
        continue;
      }
      let prepared;
      try {
        // Imported as Certera had it, whether or not this host can send mail yet (a note says so).
        prepared = await prepareChannel(deps, { name: w.name, type: w.type, input: w.input }, { hostCheck: false });
      } catch (err) {
        record(ctx, 'notification-channel', w.name, 'skipped', `Certera's settings do not make a valid ${w.type} channel: ${(err as Error).message}`);
        continue;
      }
      const [existing] = await deps.db.db.select().from(notificationChannels).where(eq(notificationChannels.name, w.name)).limit(1);
      if (existing) {
        const open = await openChannel(deps, existing);
        const same = existing.type === w.type && JSON.stringify(open.config) === JSON.stringify(prepared.config) && existing.events === prepared.row.events && existing.expiringDays === prepared.row.expiringDays;
        record(ctx, 'notification-channel', w.name, same ? 'present' : 'skipped', same ? 'the same channel is here already' : `Certkeep already has a different notification channel named "${w.name}"`);
        continue;
      }
      ctx.statements.push(
        prepared.statement,
        auditStatement(deps, CLI_ACTOR, { action: 'notification-channel.create', object: { kind: 'notification-channel', name: w.name }, detail: { type: w.type, from: 'certera import' } }),
      );
      const days = JSON.parse(prepared.row.expiringDays) as number[];
      const to = w.type === 'email' ? `to ${(prepared.config.to ?? []).join(', ')}` : 'to the Slack webhook';
      record(ctx, 'notification-channel', w.name, 'imported', `${w.type} ${to}; events ${events.join(', ')}${events.includes('certificate.expiring') ? `; expiry warnings at ${days.join(', ')} days left` : ''}`);
      if (w.type === 'email' && !deps.mailer) ctx.report.notes.push(`"${w.name}" sends mail once Certkeep runs with CERTKEEP_SMTP_URL and CERTKEEP_SMTP_FROM (Certera's mail server settings are in its own config, not its database)`);
    }
  }
}

// ---- settings ------------------------------------------------------------------------------------

async function importSettings(ctx: Context): Promise<void> {
  const { deps } = ctx;
  const current = await getSettings(deps);
  if (current.renewDays === ctx.renewDays) {
    record(ctx, 'setting', 'renewDays', 'present', `${ctx.renewDays} days before expiry`);
  } else if (current.renewDays === null && ctx.certificatesBefore === 0) {
    ctx.statements.push(settingStatement(deps, 'renewDays', ctx.renewDays));
    record(ctx, 'setting', 'renewDays', 'imported', `renew ${ctx.renewDays} days before expiry (Certera's RenewCertificateDays), unless the CA's renewal window (ARI) says otherwise`);
  } else {
    record(
      ctx,
      'setting',
      'renewDays',
      'skipped',
      `Certkeep's own renewal rule is kept (${current.renewDays === null ? 'a third of the lifetime' : `${current.renewDays} days`}); the imported certificates' first renewal is still ${ctx.renewDays} days before expiry`,
    );
  }

  if (ctx.options.siteHostname) siteCertificate(ctx, ctx.options.siteHostname, current.siteCertificate);

  if (await isSetupDone(deps)) return;
  const userPlanned = ctx.report.items.some((i) => i.kind === 'user' && i.outcome === 'imported');
  const [defaultAccount] = await deps.db.db.select({ id: acmeAccounts.id }).from(acmeAccounts).where(eq(acmeAccounts.name, DEFAULT_ACCOUNT)).limit(1);
  if (ctx.usersBefore === 0 && userPlanned && (defaultAccount || ctx.defaultAccountPlanned)) {
    ctx.statements.push(settingStatement(deps, 'setupCompletedAt', deps.now()));
    record(ctx, 'setting', 'setup', 'imported', 'setup is complete: sign in with the Certera administrator\'s email and password');
  } else {
    ctx.report.notes.push('setup is not complete: open Certkeep in a browser to finish it');
  }
}

/** Certera's own HTTPS certificate (setup named it after the hostname) as Certkeep's site certificate. */
function siteCertificate(ctx: Context, hostname: string, current: string | null): void {
  const host = hostname.trim().toLowerCase();
  const candidates = ctx.source.certificates.filter((c) => c.subject.trim().toLowerCase() === host && ctx.plannedCertificateNames.get(c.name) !== undefined);
  const certificate = candidates.find((c) => c.name.toLowerCase() === host) ?? candidates[0];
  if (!certificate) {
    record(ctx, 'setting', 'siteCertificate', 'skipped', `no imported certificate for ${host}: Certkeep keeps serving HTTPS with ${current ? `"${current}"` : 'a self-signed certificate'}`);
  } else if (current === certificate.name) {
    record(ctx, 'setting', 'siteCertificate', 'present', `"${certificate.name}" serves HTTPS`);
  } else if (current) {
    record(ctx, 'setting', 'siteCertificate', 'skipped', `Certkeep serves HTTPS with its own site certificate "${current}" already`);
  } else {
    ctx.statements.push(settingStatement(ctx.deps, 'siteCertificate', certificate.name));
    record(ctx, 'setting', 'siteCertificate', 'imported', `"${certificate.name}" serves HTTPS for ${host}, and is renewed like every certificate`);
  }
}

// ---- tracking ------------------------------------------------------------------------------------

/**
 * Certera's tracking page: its tracked URLs (`https://host[:port]`) become tracked servers,
 * scanned by the node host from its next tick on; its uploaded certificates become uploads.
 */
async function importTracking(ctx: Context): Promise<void> {
  const { deps, source } = ctx;
  const now = deps.now();
  const plannedTargets = new Map<string, string>();
  const { scanHours } = await getSettings(deps);
  for (const u of source.tracked.urls) {
    const name = u.uri ?? `Certera tracked URL ${u.id}`;
    const skip = (why: string) => record(ctx, 'tracking', name, 'skipped', why);
    if (!u.uri) {
      skip('it has no address');
      continue;
    }
    let target: TrackingTarget;
    try {
      target = parseTrackingTarget(u.uri);
      deps.outbound.checkUrl(`https://${target.target}/`, 'url');
    } catch (err) {
      skip(`its address cannot be tracked: ${(err as Error).message.replace(/^url: /, '')}`);
      continue;
    }
    const [existing] = await deps.db.db.select({ id: trackingTargets.id }).from(trackingTargets).where(eq(trackingTargets.targetKey, target.key)).limit(1);
    if (existing) {
      record(ctx, 'tracking', name, 'present', `${target.target} is tracked here already`);
      continue;
    }
    if (plannedTargets.has(target.key)) {
      skip(`the same server as ${plannedTargets.get(target.key)}`);
      continue;
    }
    plannedTargets.set(target.key, name);
    ctx.statements.push(deps.db.db.insert(trackingTargets).values(urlTargetRow(target, now)));
    record(ctx, 'tracking', name, 'imported', `the server ${target.target}, scanned by the node host from its next tick on, then every ${scanHours} hours`);
  }
  for (const up of source.tracked.uploads) {
    const name = up.subject ?? `Certera upload ${up.id}`;
    const skip = (why: string) => record(ctx, 'tracking', name, 'skipped', why);
    if (!up.rawData) {
      skip('Certera kept no certificate for it');
      continue;
    }
    let uploaded: UploadedCertificate[];
    try {
      uploaded = await parseUpload(fromBase64(up.rawData.replace(/\s+/g, '')), 'pem');
    } catch (err) {
      skip(`its certificate cannot be read: ${(err as Error).message.replace(/^pem: /, '')}`);
      continue;
    }
    const sha256 = uploaded[0].leaf.sha256Thumbprint;
    const [existing] = await deps.db.db
      .select({ source: trackingTargets.source })
      .from(trackingTargets)
      .where(and(eq(trackingTargets.sha256, sha256), ne(trackingTargets.source, 'url')))
      .limit(1);
    if (existing || ctx.plannedTrackedSha256.has(sha256)) {
      record(ctx, 'tracking', name, 'present', existing?.source === 'upload' ? 'this certificate is tracked here already' : 'Certkeep serves this certificate, and tracks it by itself');
      continue;
    }
    ctx.plannedTrackedSha256.add(sha256);
    ctx.statements.push(...uploadStatements(deps, uploaded, now).statements);
    const leaf = uploaded[0].leaf;
    record(ctx, 'tracking', name, 'imported', `an uploaded certificate, serial ${leaf.serialNumber}, valid until ${iso(leaf.notAfter.getTime())}`);
  }
}
