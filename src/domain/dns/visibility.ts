// Before a dns-01 challenge is answered, its TXT values must be visible where the CA will look.
import type { Deps } from '../../deps.ts';
import { waitForTxt } from '../../dns/index.ts';
import type { DnsChallengeRecord } from './types.ts';

/** How long and how often dns-01 records are looked for before the order gives up. */
export const DNS_PROPAGATION = { timeoutMs: 120_000, intervalMs: 2_000 };

/** Resolves when every record is visible (SPEC: at the zone's authoritative servers, or at CERTKEEP_DNS_SERVERS). */
export async function waitUntilVisible(deps: Deps, records: DnsChallengeRecord[]): Promise<void> {
  const { resolver, servers, timeoutMs, intervalMs } = deps.dns;
  await Promise.all(
    records.flatMap((record) =>
      (servers ?? [resolver]).map((r) =>
        waitForTxt({ fqdn: record.fqdn, value: record.value, resolver: r, timeoutMs, intervalMs, now: deps.now, sleep: deps.sleep }),
      ),
    ),
  );
}
