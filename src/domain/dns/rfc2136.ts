// `rfc2136` (node host): TSIG-signed DNS UPDATEs to the zone's primary server.
import { CertkeepError } from '../../errors.ts';
import { configObject, fieldError, optionalInteger, optionalText, requiredText } from './provider-config.ts';
import type { DnsProviderDriver, Rfc2136Client, Rfc2136Target } from './types.ts';

export interface Rfc2136Config extends Rfc2136Target {
  ttl: number;
}

const ALGORITHMS = ['hmac-sha256', 'hmac-sha384', 'hmac-sha512', 'hmac-sha1'];

export function validateRfc2136Config(input: unknown): Rfc2136Config {
  const obj = configObject(input, '', ['server', 'zone', 'tsig', 'ttl']);
  const server = requiredText(obj, 'server', 'server', 300);
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+|[0-9a-fA-F:]+)(:\d{1,5})?$/.test(server)) throw fieldError('server', 'expected host or host:port');
  const tsig = configObject(obj.tsig, 'tsig', ['name', 'algorithm', 'secret']);
  const algorithm = (optionalText(tsig, 'algorithm', 'tsig.algorithm', 32) ?? 'hmac-sha256').toLowerCase();
  if (!ALGORITHMS.includes(algorithm)) throw fieldError('tsig.algorithm', `expected one of ${ALGORITHMS.join(', ')}`);
  const secret = requiredText(tsig, 'secret', 'tsig.secret', 1024);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(secret)) throw fieldError('tsig.secret', 'expected base64');
  return {
    server,
    zone: optionalText(obj, 'zone', 'zone', 253),
    tsig: { name: requiredText(tsig, 'name', 'tsig.name', 253), algorithm, secret },
    ttl: optionalInteger(obj, 'ttl', 'ttl', 1, 86_400) ?? 60,
  };
}

export function describeRfc2136Config(config: Rfc2136Config) {
  return { server: config.server, zone: config.zone ?? null, tsig: { name: config.tsig.name, algorithm: config.tsig.algorithm }, ttl: config.ttl };
}

export function rfc2136Driver(config: Rfc2136Config, client: Rfc2136Client | undefined): DnsProviderDriver {
  const require = () => {
    if (!client) throw new CertkeepError('DNS_PROVIDER_FAILED', 'rfc2136 providers work on the node host only');
    return client;
  };
  return {
    async set(record, log) {
      await require().add(config, { fqdn: record.fqdn, value: record.value, ttl: config.ttl });
      log({ level: 'info', message: `rfc2136: added TXT at ${record.fqdn} on ${config.server}` });
    },
    async clear(record, log) {
      await require().delete(config, { fqdn: record.fqdn, value: record.value });
      log({ level: 'info', message: `rfc2136: deleted TXT value at ${record.fqdn} on ${config.server}` });
    },
  };
}
