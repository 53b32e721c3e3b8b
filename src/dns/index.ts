// The DNS layer's public surface: wire format, TSIG, DNS over HTTPS, zone discovery, the
// propagation check and RFC 2136 updates. Transports that need sockets live in node-host/dns.ts.

export {
  type RecordType,
  type DnsRecord,
  type DnsQuestion,
  type DnsMessage,
  type DnsResponse,
  type SoaData,
  type TsigRecord,
  type TxtUpdate,
  type QueryOptions,
  encodeQuery,
  encodeUpdate,
  decodeMessage,
  rcodeName,
} from './message.ts';
export { canonicalName, sameName, isInZone } from './names.ts';
export { type TsigKey, type TsigAlgorithm, type SignedMessage, tsigAlgorithm, signMessage, verifyResponse } from './tsig.ts';
export { type DnsResolver, decodeAnswer, parseServer, formatServer, randomId } from './resolver.ts';
export { type DohResolverOptions, DohResolver, DEFAULT_DOH_URL } from './doh.ts';
export { type ZoneOf, type FindZoneOptions, type NameServer, findZone, nameServers, txtValues } from './zone.ts';
export { type WaitForTxtOptions, type MissingAt, waitForTxt } from './propagation.ts';
export { type DnsExchange, type SendUpdateOptions, sendUpdate } from './update.ts';
