// The outgoing-request path for tests that run the core in this process. `testOutbound` puts the
// core's Outbound (scheme and private-address policy, deadline, byte cap) over a fetch stand-in or
// the real one; `loopbackOutbound` is the node host's own transport (undici, addresses checked
// after resolution) allowing 127.0.0.1, as the harness allows it for Pebble and local servers.
import { parseIpList } from '../../src/http/ip.ts';
import { Outbound } from '../../src/net/outbound.ts';
import { nodeOutbound } from '../../node-host/outbound.ts';

/** What the harness allows by default: the loopback address every test server listens on. */
export const TEST_PRIVATE_TARGETS = '127.0.0.1/32';

/** The core's Outbound over `fetch` (a stand-in, or the global one), allowing `allow` (CIDRs; '' for none). */
export function testOutbound(fetch: typeof globalThis.fetch = (i, init) => globalThis.fetch(i, init), allow = TEST_PRIVATE_TARGETS): Outbound {
  return new Outbound({ fetch, allowPrivateTargets: parseIpList(allow, { defaultLoopback: false }), runtime: 'node' });
}

/** The node host's Outbound (real connections, resolved addresses checked), allowing `allow`. */
export function loopbackOutbound(allow = TEST_PRIVATE_TARGETS): Outbound {
  return nodeOutbound(parseIpList(allow, { defaultLoopback: false }));
}
