// The `acme-dns` dns-01 provider: a server running acme-dns (github.com/joohoi/acme-dns), a
// tiny DNS server with an HTTP API that serves nothing but dns-01 TXT records.
//
// How it fits together: each validated name gets its own registration on the acme-dns server
// (a random subdomain of the server's zone plus credentials that can update only that one).
// The admin then delegates the name's challenge record once, by hand:
//     _acme-challenge.www.example.com.  CNAME  <fulldomain of the registration>.
// From then on Certkeep writes the TXT value through the API and never needs credentials for
// the real zone. API (acme-dns README):
//   POST /register  [{"allowfrom":["192.0.2.0/24"]}]  → 201 {username,password,fulldomain,subdomain,allowfrom}
//   POST /update    X-Api-User, X-Api-Key; {"subdomain","txt"} → 200 {"txt"}
// acme-dns keeps the two most recent values of a subdomain (a wildcard and its base name need
// two at once) and has no delete: clearing is a no-op, the old values are simply overwritten.
import { CertkeepError } from '../../errors.ts';
import { normalizeIp } from '../../http/ip.ts';
import { challengeRecordName, subjectName } from './names.ts';
import { baseUrl, configObject, fieldError, optionalStringArray, serviceUrl } from './provider-config.ts';
import { callProvider, parseJson, statusError, type ProviderCall } from './provider-http.ts';
import type { DnsProviderDriver } from './types.ts';
import type { Outbound } from '../../net/outbound.ts';

export interface AcmeDnsConfig {
  /** The API's base URL, e.g. `https://auth.acme-dns.io` (no trailing slash). */
  url: string;
  /** CIDRs the server accepts updates from (its `allowfrom`), given to each new registration. */
  allowFrom?: string[];
}

/** One name's registration on the acme-dns server. `password` is a secret: store it sealed. */
export interface AcmeDnsRegistration {
  /** The validated name (no `*.`), e.g. `www.example.com`; wildcard and base name share it. */
  name: string;
  username: string;
  password: string;
  /** `<subdomain>.<the server's zone>`: the CNAME target. */
  fulldomain: string;
  subdomain: string;
  allowFrom: string[];
}

/** Validates `{"url","allowFrom"?}` (the provider's fields without `name` and `type`). */
export function validateAcmeDnsConfig(input: unknown, outbound: Outbound): AcmeDnsConfig {
  const obj = configObject(input, '', ['url', 'allowFrom']);
  const url = serviceUrl(obj, 'url', 'url', outbound);
  if (url.search || url.hash) throw fieldError('url', 'the base URL takes no query or fragment');
  const allowFrom = optionalStringArray(obj, 'allowFrom', 'allowFrom', checkCidr);
  return allowFrom === undefined ? { url: baseUrl(url) } : { url: baseUrl(url), allowFrom };
}

/** What the admin API shows (nothing here is secret). */
export function describeAcmeDnsConfig(config: AcmeDnsConfig): { url: string; allowFrom?: string[] } {
  return config.allowFrom === undefined ? { url: config.url } : { url: config.url, allowFrom: [...config.allowFrom] };
}

/** The delegation the admin must publish for a registration. */
export function acmeDnsCname(registration: AcmeDnsRegistration): { name: string; target: string } {
  return { name: challengeRecordName(registration.name), target: registration.fulldomain };
}

/** Registers `name` (a wildcard counts as its base name) with the acme-dns server. */
export async function registerAcmeDns(
  config: AcmeDnsConfig,
  name: string,
  outbound: Outbound,
  opts: { timeoutMs?: number } = {},
): Promise<AcmeDnsRegistration> {
  const call: ProviderCall = {
    provider: 'acme-dns',
    what: 'POST /register',
    url: `${config.url}/register`,
    init: {
      method: 'POST',
      ...(config.allowFrom?.length
        ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ allowfrom: config.allowFrom }) }
        : {}),
    },
    timeoutMs: opts.timeoutMs,
    secrets: [],
  };
  const answer = await callProvider(outbound, call);
  if (answer.status !== 201 && answer.status !== 200) throw statusError(call, answer);
  const reply = parseJson(answer.text) as Record<string, unknown> | undefined;
  const text = (key: string): string => {
    const value = reply?.[key];
    if (typeof value !== 'string' || value === '') {
      throw new CertkeepError('DNS_PROVIDER_FAILED', `acme-dns: POST /register answered without "${key}"`, { provider: 'acme-dns' });
    }
    return value;
  };
  const fulldomain = text('fulldomain').replace(/\.$/, '').toLowerCase();
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)+$/.test(fulldomain)) {
    throw new CertkeepError('DNS_PROVIDER_FAILED', `acme-dns: POST /register answered with an invalid fulldomain`, { provider: 'acme-dns' });
  }
  const allowFrom = Array.isArray(reply?.allowfrom) ? reply.allowfrom.filter((v): v is string => typeof v === 'string') : [];
  return { name: subjectName(name), username: text('username'), password: text('password'), fulldomain, subdomain: text('subdomain'), allowFrom };
}

/**
 * The driver. `lookup` finds the registration of a validated name (no `*.`); a name without one
 * cannot be validated through acme-dns, and the error says what to set up.
 */
export function acmeDnsDriver(
  config: AcmeDnsConfig,
  lookup: (name: string) => Promise<AcmeDnsRegistration | undefined>,
  outbound: Outbound,
  opts: { timeoutMs?: number } = {},
): DnsProviderDriver {
  return {
    async set(record, log) {
      const name = subjectName(record.name);
      const registration = await lookup(name);
      if (!registration) {
        const cname = challengeRecordName(name);
        throw new CertkeepError(
          'DNS_PROVIDER_FAILED',
          `acme-dns: ${name} is not registered with ${config.url}; register it, then create the CNAME record ${cname} pointing at the fulldomain the registration shows`,
          { provider: 'acme-dns', name, cname },
        );
      }
      const call: ProviderCall = {
        provider: 'acme-dns',
        what: `POST /update for ${record.fqdn}`,
        url: `${config.url}/update`,
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-user': registration.username, 'x-api-key': registration.password },
          body: JSON.stringify({ subdomain: registration.subdomain, txt: record.value }),
        },
        timeoutMs: opts.timeoutMs,
        secrets: [registration.password],
      };
      const answer = await callProvider(outbound, call);
      if (answer.status !== 200) throw statusError(call, answer);
      log({ level: 'info', message: `acme-dns: TXT value set on ${registration.fulldomain} (the CNAME target of ${record.fqdn})` });
    },
    async clear(record, log) {
      log({
        level: 'info',
        message: `acme-dns: nothing to clear for ${record.fqdn}; acme-dns has no delete and replaces old values with newer ones`,
      });
    },
  };
}

/** acme-dns takes CIDRs only (Go's net.ParseCIDR): `192.0.2.0/24`, `2001:db8::/32`. */
function checkCidr(item: string, field: string): void {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(item);
  const ok = match !== null && normalizeIp(match[1]) !== undefined && Number(match[2]) <= (match[1].includes(':') ? 128 : 32);
  if (!ok) throw fieldError(field, 'expected a CIDR such as 192.0.2.0/24 or 2001:db8::/32');
}
