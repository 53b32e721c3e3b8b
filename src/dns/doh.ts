// DNS over HTTPS (RFC 8484): the Worker's only way to ask DNS, since workerd has fetch and no
// UDP. A DoH resolver answers from its own recursive resolution and cache; it cannot be asked to
// query one chosen (authoritative) server, so `canTargetServers` is false and the propagation
// check falls back to asking it directly (see propagation.ts).

import { CertkeepError } from '../errors.ts';
import { OutboundError, type Outbound } from '../net/outbound.ts';
import { encodeQuery, type DnsResponse, type RecordType } from './message.ts';
import { decodeAnswer, type DnsResolver } from './resolver.ts';

export const DEFAULT_DOH_URL = 'https://cloudflare-dns.com/dns-query';

const MEDIA_TYPE = 'application/dns-message'; // RFC 8484 §6

export interface DohResolverOptions {
  /** The resolver's endpoint (default Cloudflare's). */
  url?: string;
  /** The outgoing-request path: https, or http to an address the private-target allow-list names. */
  outbound: Outbound;
  /** Per question (default 5 s). */
  timeoutMs?: number;
  /**
   * Sets CD (checking disabled, RFC 4035 §3.2.2): the resolver returns what the zone serves even
   * when its DNSSEC validation fails — we want to see the record, not judge the zone. Default true.
   */
  checkingDisabled?: boolean;
}

export class DohResolver implements DnsResolver {
  readonly canTargetServers = false;
  readonly #url: string;
  readonly #outbound: Outbound;
  readonly #timeoutMs: number;
  readonly #cd: boolean;

  constructor(opts: DohResolverOptions) {
    this.#url = opts.url ?? DEFAULT_DOH_URL;
    this.#outbound = opts.outbound;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#cd = opts.checkingDisabled ?? true;
  }

  async query(name: string, type: RecordType, server?: string): Promise<DnsResponse> {
    if (server !== undefined) {
      throw new CertkeepError('BAD_REQUEST', `DNS over HTTPS cannot send a question to ${server}; it only asks ${this.#url}`);
    }
    // RFC 8484 §4.1: ID 0, so that identical questions are cacheable by HTTP caches.
    const body = encodeQuery({ id: 0, name, type, cd: this.#cd });
    let res;
    try {
      res = await this.#outbound.request(this.#url, {
        method: 'POST',
        headers: { 'content-type': MEDIA_TYPE, accept: MEDIA_TYPE },
        body,
        timeoutMs: this.#timeoutMs,
        // A DNS message is at most 65 535 bytes (RFC 1035 §4.2.2 framing).
        maxBytes: 65_535,
        schemes: 'https+private-http',
      });
    } catch (err) {
      const timedOut = err instanceof OutboundError && err.reason === 'timeout';
      const why = err instanceof OutboundError ? err.words : String(err);
      throw new CertkeepError(
        timedOut ? 'DNS_TIMEOUT' : 'DNS_NETWORK',
        timedOut ? `${this.#url} did not answer ${name} ${type} within ${this.#timeoutMs} ms` : `cannot reach ${this.#url}: ${why}`,
        { url: this.#url },
        { cause: err },
      );
    }
    if (res.status !== 200) {
      throw new CertkeepError('DNS_NETWORK', `${this.#url} answered HTTP ${res.status} to ${name} ${type}`, { url: this.#url, status: res.status });
    }
    const contentType = res.headers.get('content-type')?.split(';')[0].trim().toLowerCase();
    if (contentType !== MEDIA_TYPE) {
      throw new CertkeepError('DNS_BAD_RESPONSE', `${this.#url} answered ${contentType ?? 'no content type'}, not ${MEDIA_TYPE}`, {
        url: this.#url,
      });
    }
    return decodeAnswer(res.body, { id: 0, name, type }, this.#url);
  }
}
