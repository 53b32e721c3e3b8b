// DNS providers as stored objects: validated per type, the whole configuration sealed under the
// master key (most types carry a secret), shown without secrets, turned into a driver on demand.
import { and, eq, inArray } from 'drizzle-orm';
import type { Deps } from '../../deps.ts';
import { CertkeepError } from '../../errors.ts';
import { acmeDnsRegistrations, certificates, dnsProviders } from '../../db/schema.ts';
import { openSecret, sealSecret } from '../../crypto/index.ts';
import { fromUtf8, utf8 } from '../../util/encoding.ts';
import { newId } from '../secrets.ts';
import { DNS_PROVIDER_TYPES, NODE_ONLY_PROVIDER_TYPES, type DnsProviderDriver, type DnsProviderType } from './types.ts';
import { describeScriptConfig, scriptDriver, validateScriptConfig, type ScriptConfig } from './script.ts';
import { describeWebhookConfig, validateWebhookConfig, webhookDriver, type WebhookConfig } from './webhook.ts';
import { acmeDnsCname, acmeDnsDriver, describeAcmeDnsConfig, registerAcmeDns, validateAcmeDnsConfig, type AcmeDnsConfig, type AcmeDnsRegistration } from './acme-dns.ts';
import { cloudflareDriver, describeCloudflareConfig, validateCloudflareConfig, type CloudflareConfig } from './cloudflare.ts';
import { describeRfc2136Config, rfc2136Driver, validateRfc2136Config, type Rfc2136Config } from './rfc2136.ts';
import { subjectName } from './names.ts';
import { audit, type By } from '../audit.ts';
import type { Outbound } from '../../net/outbound.ts';

export type DnsProviderRow = typeof dnsProviders.$inferSelect;

const providerAad = (id: string) => `dns-provider:${id}`;
const registrationAad = (id: string) => `acme-dns:${id}`;

/** Each type: how to check its configuration, how to show it, how to drive it. */
const TYPES: { [T in DnsProviderType]: { validate(input: unknown, outbound: Outbound): unknown; describe(config: never): unknown; driver(deps: Deps, row: DnsProviderRow, config: never): DnsProviderDriver } } = {
  script: {
    validate: validateScriptConfig,
    describe: (c: ScriptConfig) => describeScriptConfig(c),
    driver: (deps, _row, c: ScriptConfig) => {
      if (!deps.runScript) throw new CertkeepError('DNS_PROVIDER_FAILED', 'script providers work on the node host only');
      return scriptDriver(c, deps.runScript);
    },
  },
  webhook: {
    validate: validateWebhookConfig,
    describe: (c: WebhookConfig) => describeWebhookConfig(c),
    driver: (deps, _row, c: WebhookConfig) => webhookDriver(c, deps.outbound),
  },
  'acme-dns': {
    validate: validateAcmeDnsConfig,
    describe: (c: AcmeDnsConfig) => describeAcmeDnsConfig(c),
    driver: (deps, row, c: AcmeDnsConfig) => acmeDnsDriver(c, (name) => findAcmeDnsRegistration(deps, row, name), deps.outbound),
  },
  rfc2136: {
    validate: validateRfc2136Config,
    describe: (c: Rfc2136Config) => describeRfc2136Config(c),
    driver: (deps, _row, c: Rfc2136Config) => rfc2136Driver(c, deps.rfc2136),
  },
  cloudflare: {
    validate: validateCloudflareConfig,
    describe: (c: CloudflareConfig) => describeCloudflareConfig(c),
    driver: (deps, _row, c: CloudflareConfig) => cloudflareDriver(c, deps.outbound),
  },
};

export function isDnsProviderType(value: string): value is DnsProviderType {
  return (DNS_PROVIDER_TYPES as readonly string[]).includes(value);
}

/** Validates and stores a provider. `config` is the request body without `name` and `type`. */
export async function createDnsProvider(deps: Deps, by: By, name: string, type: DnsProviderType, config: unknown): Promise<DnsProviderRow> {
  if (NODE_ONLY_PROVIDER_TYPES.includes(type) && deps.runtime !== 'node') {
    throw new CertkeepError('BAD_REQUEST', `type: "${type}" providers need the node host; on Workers use webhook, acme-dns or cloudflare`, { field: 'type' });
  }
  const valid = TYPES[type].validate(config, deps.outbound);
  if (await findDnsProvider(deps, name)) throw new CertkeepError('CONFLICT', `name: a DNS provider named "${name}" already exists`, { field: 'name' });
  const { row, statement } = await prepareDnsProvider(deps, name, type, valid);
  // The configuration is not in the record: most types carry a secret.
  await deps.db.batch([statement, audit(deps, by, { action: 'dns-provider.create', object: { kind: 'dns-provider', name }, detail: { type } })]);
  deps.log.info('dns provider created', { dnsProvider: name, type });
  return row;
}

/** The row of a provider whose configuration is already valid, and its insert (to run alone or in a batch). */
export async function prepareDnsProvider(deps: Deps, name: string, type: DnsProviderType, validConfig: unknown) {
  const id = newId();
  const now = deps.now();
  const row: DnsProviderRow = {
    id,
    name,
    type,
    configSealed: await sealSecret(deps.masterKey, utf8(JSON.stringify(validConfig)), providerAad(id)),
    createdAt: now,
    updatedAt: now,
  };
  return { row, statement: deps.db.db.insert(dnsProviders).values(row) };
}

/** A stored provider's configuration, unsealed (secrets included: never for display). */
export function dnsProviderConfig(deps: Deps, row: DnsProviderRow): Promise<unknown> {
  return configOf(deps, row);
}

export async function findDnsProvider(deps: Deps, name: string): Promise<DnsProviderRow | undefined> {
  const [row] = await deps.db.db.select().from(dnsProviders).where(eq(dnsProviders.name, name)).limit(1);
  return row;
}

export async function findDnsProviderById(deps: Deps, id: string): Promise<DnsProviderRow | undefined> {
  const [row] = await deps.db.db.select().from(dnsProviders).where(eq(dnsProviders.id, id)).limit(1);
  return row;
}

export async function requireDnsProvider(deps: Deps, name: string): Promise<DnsProviderRow> {
  const row = await findDnsProvider(deps, name);
  if (!row) throw new CertkeepError('NOT_FOUND', `no DNS provider named "${name}"`);
  return row;
}

export async function listDnsProviders(deps: Deps): Promise<DnsProviderRow[]> {
  return deps.db.db.select().from(dnsProviders).orderBy(dnsProviders.name);
}

async function configOf(deps: Deps, row: DnsProviderRow): Promise<never> {
  return JSON.parse(fromUtf8(await openSecret(deps.masterKey, row.configSealed, providerAad(row.id)))) as never;
}

export async function dnsDriverFor(deps: Deps, row: DnsProviderRow): Promise<DnsProviderDriver> {
  return TYPES[row.type as DnsProviderType].driver(deps, row, await configOf(deps, row));
}

/** What the admin API shows: the configuration without secrets, and acme-dns CNAMEs to create. */
export async function dnsProviderView(deps: Deps, row: DnsProviderRow, opts: { cnames?: boolean } = {}) {
  const view: Record<string, unknown> = {
    name: row.name,
    type: row.type,
    config: TYPES[row.type as DnsProviderType].describe(await configOf(deps, row)),
    createdAt: new Date(row.createdAt).toISOString(),
  };
  if (row.type === 'acme-dns' && opts.cnames !== false) {
    const regs = await deps.db.db.select().from(acmeDnsRegistrations).where(eq(acmeDnsRegistrations.providerId, row.id));
    view.cnames = regs.map((r) => ({ name: `_acme-challenge.${r.name}`, target: r.fulldomain }));
  }
  return view;
}

export async function deleteDnsProvider(deps: Deps, by: By, name: string): Promise<void> {
  const row = await requireDnsProvider(deps, name);
  const [user] = await deps.db.db.select({ name: certificates.name }).from(certificates).where(eq(certificates.dnsProviderId, row.id)).limit(1);
  if (user) throw new CertkeepError('CONFLICT', `DNS provider "${name}" is used by certificate "${user.name}"`);
  await deps.db.batch([
    deps.db.db.delete(acmeDnsRegistrations).where(eq(acmeDnsRegistrations.providerId, row.id)),
    deps.db.db.delete(dnsProviders).where(eq(dnsProviders.id, row.id)),
    audit(deps, by, { action: 'dns-provider.delete', object: { kind: 'dns-provider', name }, detail: { type: row.type } }),
  ]);
}

/** acme-dns: the CNAME records these names need (an index lookup per provider and name, not all of the provider's). */
export async function acmeDnsCnamesFor(deps: Deps, row: DnsProviderRow, names: string[]) {
  const wanted = [...new Set(names.map(subjectName))];
  if (wanted.length === 0) return [];
  const regs = await deps.db.db
    .select()
    .from(acmeDnsRegistrations)
    .where(and(eq(acmeDnsRegistrations.providerId, row.id), inArray(acmeDnsRegistrations.name, wanted)));
  return regs.map((r) => ({ name: `_acme-challenge.${r.name}`, target: r.fulldomain }));
}

// ---- acme-dns registrations ------------------------------------------------------------------

/**
 * Registers each name (wildcards share their base name) that has no acme-dns account yet and
 * returns the CNAME records the admin must create for all of them.
 */
export async function ensureAcmeDnsRegistrations(deps: Deps, row: DnsProviderRow, names: string[]) {
  const config = (await configOf(deps, row)) as AcmeDnsConfig;
  const cnames: Array<{ name: string; target: string }> = [];
  for (const name of [...new Set(names.map(subjectName))]) {
    let reg = await findAcmeDnsRegistration(deps, row, name);
    if (!reg) {
      reg = await registerAcmeDns(config, name, deps.outbound);
      const id = newId();
      await deps.db.db.insert(acmeDnsRegistrations).values({
        id,
        providerId: row.id,
        name,
        fulldomain: reg.fulldomain,
        credentialsSealed: await sealSecret(deps.masterKey, utf8(JSON.stringify(reg)), registrationAad(id)),
        createdAt: deps.now(),
      });
    }
    cnames.push(acmeDnsCname(reg));
  }
  return cnames;
}

async function findAcmeDnsRegistration(deps: Deps, row: DnsProviderRow, name: string): Promise<AcmeDnsRegistration | undefined> {
  const [reg] = await deps.db.db
    .select()
    .from(acmeDnsRegistrations)
    .where(and(eq(acmeDnsRegistrations.providerId, row.id), eq(acmeDnsRegistrations.name, name)))
    .limit(1);
  if (!reg) return undefined;
  return JSON.parse(fromUtf8(await openSecret(deps.masterKey, reg.credentialsSealed, registrationAad(reg.id))));
}
