// RFC 2136 dynamic update of TXT records, signed with TSIG (RFC 8945). Transport-free: the host
// hands in `exchange` (one message out, one back), the node host over TCP or UDP.

import { CertkeepError } from '../errors.ts';
import { OPCODE_UPDATE, decodeMessage, encodeUpdate, rcodeName, type TxtUpdate } from './message.ts';
import { randomId } from './resolver.ts';
import { explainTsigError, signMessage, verifyResponse, type TsigKey } from './tsig.ts';

/** Sends one DNS message and resolves with the server's reply. */
export type DnsExchange = (message: Uint8Array) => Promise<Uint8Array>;

export interface SendUpdateOptions {
  exchange: DnsExchange;
  /** For messages only: who `exchange` talks to. */
  server: string;
  zone: string;
  tsig: TsigKey;
  /** Applied in order, all or nothing (RFC 2136 §3.4: the server applies the whole section or none). */
  updates: TxtUpdate[];
  /** Milliseconds; injectable for tests. */
  now?: () => number;
}

/**
 * Sends a signed UPDATE and checks the answer: it must carry a valid TSIG from the same key and
 * rcode NOERROR. Throws DNS_TSIG_FAILED when the server rejected our key or signature (or its
 * answer does not verify), DNS_UPDATE_FAILED for any other refusal, DNS_BAD_RESPONSE for an
 * answer to something else.
 */
export async function sendUpdate(opts: SendUpdateOptions): Promise<void> {
  const now = opts.now ?? Date.now;
  const id = randomId();
  const unsigned = encodeUpdate({ id, zone: opts.zone, updates: opts.updates });
  const { message, mac } = await signMessage(unsigned, opts.tsig, { now: now() });
  const answer = await opts.exchange(message);

  const response = decodeMessage(answer);
  if (!response.flags.qr || response.id !== id || response.opcode !== OPCODE_UPDATE) {
    throw new CertkeepError('DNS_BAD_RESPONSE', `${opts.server} answered something other than our update`, { server: opts.server });
  }
  const details = { server: opts.server, zone: opts.zone, rcode: response.rcode };
  // RFC 8945 §5.3.2: when the server cannot verify us it answers unsigned, with the reason in
  // the TSIG record's error field (and rcode NOTAUTH).
  if (response.tsig && response.tsig.error !== 0) {
    throw new CertkeepError(
      'DNS_TSIG_FAILED',
      `${opts.server} rejected the update's signature: ${explainTsigError(response.tsig.error, opts.tsig)}`,
      { ...details, tsigError: rcodeName(response.tsig.error) },
    );
  }
  // An unsigned refusal is still a refusal (a forger could only make us fail, which dropping the
  // packet does too); an unsigned success is never believed.
  if (!response.tsig && response.rcode !== 'NOERROR') {
    throw new CertkeepError('DNS_UPDATE_FAILED', refusal(response.rcode, opts), details);
  }
  await verifyResponse(answer, opts.tsig, mac, { now: now() });
  if (response.rcode !== 'NOERROR') throw new CertkeepError('DNS_UPDATE_FAILED', refusal(response.rcode, opts), details);
}

/** RFC 2136 §2.2 rcodes as a sentence that says what to check. */
function refusal(rcode: string, opts: SendUpdateOptions): string {
  const prefix = `${opts.server} refused the update of zone ${opts.zone} (${rcode})`;
  switch (rcode) {
    case 'REFUSED':
      return `${prefix}: key ${opts.tsig.name} may not make this change (check the server's update policy or ACL for these names and the TXT type)`;
    case 'NOTAUTH':
      return `${prefix}: the server is not authoritative for the zone (point the update at its primary)`;
    case 'NOTZONE':
      return `${prefix}: a record name is outside the zone`;
    case 'NOTIMP':
      return `${prefix}: the server does not support dynamic updates`;
    case 'SERVFAIL':
      return `${prefix}: the server failed to apply it (see its logs)`;
    case 'FORMERR':
      return `${prefix}: the server could not parse the message`;
    default:
      return prefix;
  }
}
