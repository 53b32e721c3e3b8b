// The node host's transport for the core's outgoing requests (src/net/outbound.ts): undici's
// fetch over an Agent whose connections resolve names themselves, check every address the
// resolver gave against the private-address policy, and hand the socket only addresses that
// passed. The address connected to is the address checked: a name that answers with a public
// address to one question and a private one to the next (DNS rebinding) gains nothing.
import { lookup as systemLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import type { Agent, fetch as UndiciFetch } from 'undici';
import type { IpList } from '../src/http/ip.ts';
import { Outbound, RefusedTargetError } from '../src/net/outbound.ts';
import { literalAddress, refusedAddress } from '../src/net/targets.ts';

/** `dns.lookup`'s shape with `all: true`: what the checked lookup asks its resolver. */
export type ResolveAll = (hostname: string, options: LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const resolveAllSystem: ResolveAll = (hostname, options, callback) => systemLookup(hostname, options, callback);

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net.connect/tls.connect: resolves with `resolve`, drops every address the policy
 * refuses, and fails with RefusedTargetError when none is left.
 */
export function checkedLookup(allow: IpList, resolve: ResolveAll = resolveAllSystem) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const allowed = addresses.filter((a) => refusedAddress(a.address, allow) === undefined);
      if (allowed.length === 0) {
        const first = addresses[0];
        const refusal = first ? refusedAddress(first.address, allow)! : { address: hostname, kind: 'unresolvable' };
        return callback(Object.assign(new RefusedTargetError(hostname, refusal), { errno: undefined }) as NodeJS.ErrnoException, []);
      }
      if (options.all) return callback(null, allowed);
      callback(null, allowed[0].address, allowed[0].family);
    });
  };
}

export interface NodeTransportOptions {
  /** The resolver behind the check (default the system's, as `dns.lookup`); tests pass their own. */
  resolve?: ResolveAll;
}

/**
 * The fetch the core's Outbound uses on the node host. A literal address in the URL never reaches
 * a lookup, so it is checked here; names are checked after resolution, in the connection itself.
 * NODE_EXTRA_CA_CERTS applies as to any TLS connection of the process.
 */
export function nodeTransport(allow: IpList, opts: NodeTransportOptions = {}): typeof fetch {
  // undici (its fetch, HTTP/2 client, WebSocket, caches and the node: modules they pull in: some
  // 5 MiB of heap) is loaded with the first outgoing request, not at start: a host that makes
  // none, as most do between renewals, never holds it.
  let client: Promise<{ agent: Agent; fetch: typeof UndiciFetch }> | undefined;
  const undici = () =>
    (client ??= import('undici').then(({ Agent, fetch }) => ({ agent: new Agent({ connect: { lookup: checkedLookup(allow, opts.resolve) as never } }), fetch })));
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const literal = literalAddress(url.hostname);
    const refusal = literal === undefined ? undefined : refusedAddress(literal, allow);
    if (refusal) throw new TypeError('fetch failed', { cause: new RefusedTargetError(url.hostname, refusal) });
    const { agent, fetch: undiciFetch } = await undici();
    return (await undiciFetch(url, { ...(init as object), dispatcher: agent } as never)) as unknown as Response;
  }) as typeof fetch;
}

/** The node host's Outbound: `CERTKEEP_ALLOW_PRIVATE_TARGETS` checked before and after resolution. */
export function nodeOutbound(allow: IpList, opts: NodeTransportOptions = {}): Outbound {
  return new Outbound({ fetch: nodeTransport(allow, opts), allowPrivateTargets: allow, runtime: 'node' });
}
