// TSIG (RFC 8945): a shared-secret HMAC over a DNS message, which is how a DNS server knows an
// UPDATE comes from someone holding the key, and how we know its answer comes from the server.
// The HMAC is WebCrypto's; MD5 (hmac-md5.sig-alg.reg.int) is not offered there, nor needed.

import { CertkeepError } from '../errors.ts';
import { concatBytes, fromBase64 } from '../util/encoding.ts';
import { CLASS_ANY, TYPE_TSIG, decodeMessage, messageId, rcodeName, type TsigRecord } from './message.ts';
import { canonicalName, encodeName, sameName } from './names.ts';

/** RFC 8945 §6 algorithm names (without the trailing dot) that WebCrypto can compute. */
export type TsigAlgorithm = 'hmac-sha1' | 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512';

/** WebCrypto's hash for each, and the length of its MAC in octets. */
const ALGORITHMS: Record<TsigAlgorithm, { hash: string; macLength: number }> = {
  'hmac-sha1': { hash: 'SHA-1', macLength: 20 },
  'hmac-sha256': { hash: 'SHA-256', macLength: 32 },
  'hmac-sha384': { hash: 'SHA-384', macLength: 48 },
  'hmac-sha512': { hash: 'SHA-512', macLength: 64 },
};

export interface TsigKey {
  /** The key's name as the server knows it, e.g. `certkeep.` (case and trailing dot do not matter). */
  name: string;
  algorithm: TsigAlgorithm;
  /** Base64 of the shared secret, as `tsig-keygen` and `keymgr -t` print it. */
  secret: string;
}

/** RFC 8945 §10: the time window a signature is good for, in seconds; 300 is the recommended value. */
export const DEFAULT_FUDGE = 300;

/** Reads an algorithm name as people write it (`HMAC-SHA256`, `hmac-sha256.`). Throws BAD_REQUEST otherwise. */
export function tsigAlgorithm(text: string): TsigAlgorithm {
  const name = text.toLowerCase().replace(/\.$/, '');
  if (Object.hasOwn(ALGORITHMS, name)) return name as TsigAlgorithm;
  throw new CertkeepError('BAD_REQUEST', `TSIG algorithm "${text}" is not supported; use one of ${Object.keys(ALGORITHMS).join(', ')}`);
}

export interface SignedMessage {
  /** The message with the TSIG record appended and ARCOUNT raised by one. */
  message: Uint8Array<ArrayBuffer>;
  /** The request MAC, which the response's MAC covers (RFC 8945 §5.3). */
  mac: Uint8Array<ArrayBuffer>;
}

/** RFC 8945 §5.1: signs a request. `now` is in milliseconds (injectable for tests). */
export async function signMessage(
  message: Uint8Array,
  key: TsigKey,
  opts: { now?: number; fudge?: number } = {},
): Promise<SignedMessage> {
  const fields: TsigFields = {
    timeSigned: Math.floor((opts.now ?? Date.now()) / 1000),
    fudge: opts.fudge ?? DEFAULT_FUDGE,
    error: 0,
    otherData: new Uint8Array(0),
  };
  const mac = await hmac('sign', key, concatBytes(message, tsigVariables(key, fields)));
  const record = tsigRecord(key, fields, mac, messageId(message));
  const signed = concatBytes(message, record);
  setArcount(signed, arcount(message) + 1);
  return { message: signed, mac };
}

/**
 * RFC 8945 §5.3.2 and §5.2: checks a response to a request we signed with `requestMac`.
 * Throws DNS_TSIG_FAILED when the response is unsigned, signed with another key, carries a TSIG
 * error (the server could not verify us: BADKEY, BADSIG, BADTIME), has a wrong MAC, or was signed
 * outside the fudge window. `now` is in milliseconds.
 */
export async function verifyResponse(
  response: Uint8Array,
  key: TsigKey,
  requestMac: Uint8Array,
  opts: { now?: number } = {},
): Promise<TsigRecord> {
  const tsig = decodeMessage(response).tsig;
  if (!tsig) throw tsigFailed('the server answered without a TSIG signature', { tsigError: 'UNSIGNED' });
  if (tsig.error !== 0) {
    throw tsigFailed(`the server could not verify our request: ${explainTsigError(tsig.error, key)}`, { tsigError: rcodeName(tsig.error) });
  }
  if (!sameName(tsig.keyName, key.name) || !sameName(tsig.algorithm, key.algorithm)) {
    throw tsigFailed(`the answer is signed with key ${tsig.keyName} (${tsig.algorithm}), not ${key.name} (${key.algorithm})`, {
      tsigError: 'WRONG_KEY',
    });
  }
  // We never ask for a truncated MAC (RFC 8945 §5.2.2.1), so only a whole one is acceptable.
  const expectedLength = ALGORITHMS[tsigAlgorithm(key.algorithm)].macLength;
  if (tsig.mac.length !== expectedLength) {
    throw tsigFailed(`the answer's MAC is ${tsig.mac.length} octets, not the ${expectedLength} of ${key.algorithm}`, { tsigError: 'BADTRUNC' });
  }

  // The MAC covers the response as it was before the TSIG record was added: ARCOUNT one lower,
  // the original ID (a forwarder may have changed the header's), then the TSIG variables.
  const unsigned = response.slice(0, tsig.offset);
  setArcount(unsigned, arcount(unsigned) - 1);
  unsigned[0] = tsig.originalId >> 8;
  unsigned[1] = tsig.originalId & 0xff;
  const data = concatBytes(u16(requestMac.length), requestMac, unsigned, tsigVariables(key, tsig));
  if (!(await hmac('verify', key, data, tsig.mac))) {
    throw tsigFailed(`the answer's TSIG signature does not verify with key ${key.name}`, { tsigError: 'BADSIG' });
  }
  const skew = Math.abs((opts.now ?? Date.now()) / 1000 - tsig.timeSigned);
  if (skew > tsig.fudge) {
    throw tsigFailed(`the answer was signed ${Math.round(skew)} s away from our clock (fudge ${tsig.fudge} s): check the clocks`, {
      tsigError: 'BADTIME',
    });
  }
  return tsig;
}

/** A sentence for a TSIG error a server reported, naming what to check. */
export function explainTsigError(error: number, key: Pick<TsigKey, 'name' | 'algorithm'>): string {
  switch (rcodeName(error)) {
    case 'BADKEY':
      // Knot also answers BADKEY when the key exists but its ACL does not allow this change.
      return `BADKEY — the server does not accept key ${key.name} (${key.algorithm}) for this change: either it has no such key (check the name and algorithm) or its policy does not let the key change this name and type`;
    case 'BADSIG':
      return `BADSIG — the signature made with key ${key.name} did not verify; check the secret`;
    case 'BADTIME':
      return 'BADTIME — our clock and the server\'s differ by more than the fudge; check both clocks';
    case 'BADTRUNC':
      return 'BADTRUNC — the server refused a truncated MAC';
    default:
      return `TSIG error ${rcodeName(error)}`;
  }
}

// ---- the pieces of RFC 8945 §4 ----

interface TsigFields {
  timeSigned: number;
  fudge: number;
  error: number;
  otherData: Uint8Array;
}

/** §4.3.3: the TSIG record's fields that the MAC covers, names in canonical (lower-case, uncompressed) form. */
function tsigVariables(key: TsigKey, f: TsigFields): Uint8Array {
  return concatBytes(
    encodeName(canonicalName(key.name)),
    u16(CLASS_ANY),
    u32(0), // TTL
    encodeName(tsigAlgorithm(key.algorithm)),
    u48(f.timeSigned),
    u16(f.fudge),
    u16(f.error),
    u16(f.otherData.length),
    f.otherData,
  );
}

/** §4.2: the record itself, appended to the additional section. */
function tsigRecord(key: TsigKey, f: TsigFields, mac: Uint8Array, originalId: number): Uint8Array {
  const rdata = concatBytes(
    encodeName(tsigAlgorithm(key.algorithm)),
    u48(f.timeSigned),
    u16(f.fudge),
    u16(mac.length),
    mac,
    u16(originalId),
    u16(f.error),
    u16(f.otherData.length),
    f.otherData,
  );
  return concatBytes(encodeName(canonicalName(key.name)), u16(TYPE_TSIG), u16(CLASS_ANY), u32(0), u16(rdata.length), rdata);
}

async function importKey(key: TsigKey): Promise<CryptoKey> {
  const { hash } = ALGORITHMS[tsigAlgorithm(key.algorithm)];
  let secret: Uint8Array<ArrayBuffer>;
  try {
    secret = fromBase64(key.secret);
  } catch {
    throw new CertkeepError('BAD_REQUEST', `the secret of TSIG key ${key.name} is not base64`);
  }
  if (secret.length === 0) throw new CertkeepError('BAD_REQUEST', `the secret of TSIG key ${key.name} is empty`);
  return crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash }, false, ['sign', 'verify']);
}

function hmac(op: 'sign', key: TsigKey, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>>;
function hmac(op: 'verify', key: TsigKey, data: Uint8Array<ArrayBuffer>, mac: Uint8Array): Promise<boolean>;
async function hmac(op: 'sign' | 'verify', key: TsigKey, data: Uint8Array<ArrayBuffer>, mac?: Uint8Array): Promise<Uint8Array<ArrayBuffer> | boolean> {
  const cryptoKey = await importKey(key);
  // crypto.subtle.verify compares in constant time.
  if (op === 'verify') return crypto.subtle.verify('HMAC', cryptoKey, mac as Uint8Array<ArrayBuffer>, data);
  return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, data));
}

function arcount(message: Uint8Array): number {
  return (message[10] << 8) | message[11];
}

function setArcount(message: Uint8Array, count: number): void {
  message[10] = count >> 8;
  message[11] = count & 0xff;
}

function u16(value: number): Uint8Array {
  return new Uint8Array([value >> 8, value & 0xff]);
}

function u32(value: number): Uint8Array {
  return new Uint8Array([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
}

/** §4.2: Time Signed is a 48-bit count of seconds. */
function u48(value: number): Uint8Array {
  const high = Math.floor(value / 2 ** 32);
  return concatBytes(u16(high), u32(value >>> 0));
}

function tsigFailed(message: string, details: Record<string, unknown>): CertkeepError {
  return new CertkeepError('DNS_TSIG_FAILED', message, details);
}
