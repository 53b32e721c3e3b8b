// The core's Deps for tests that run it in process without a CA: a fresh master key, no network
// (any fetch fails loudly unless a test passes its own), a silent log. Tests override what they
// exercise (a clock, a fetch stand-in, the runtime).
import type { Database } from '../../src/db/client.ts';
import { newCaches, type Deps } from '../../src/deps.ts';
import { silentLogger } from '../../src/log.ts';
import { parseIpList } from '../../src/http/ip.ts';
import { generateMasterKey, importMasterKey } from '../../src/crypto/index.ts';
import { testOutbound } from './outbound.ts';

export async function offlineDeps(db: Database, overrides: Partial<Deps> = {}): Promise<Deps> {
  return {
    db,
    masterKey: await importMasterKey(generateMasterKey()),
    outbound: testOutbound(async (input) => {
      throw new Error(`no network in this test: ${input instanceof Request ? input.url : String(input)}`);
    }),
    now: () => Date.now(),
    sleep: async () => {},
    log: silentLogger,
    runtime: 'node',
    hostId: 'test',
    allowAdmin: parseIpList(undefined),
    allowApi: parseIpList(undefined),
    concurrency: 1,
    caches: newCaches(),
    // No dns-01 here: a test that reaches the propagation check fails on this.
    dns: { resolver: undefined as never, timeoutMs: 0, intervalMs: 0 },
    ...overrides,
  };
}
