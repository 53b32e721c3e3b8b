// DNS messages on the wire: RFC 1035 §4 (header, question, resource records, name
// compression), EDNS(0) from RFC 6891 (the OPT pseudo-record: a bigger UDP size and the upper
// rcode bits), and the UPDATE opcode from RFC 2136. Enough for dns-01: asking TXT, SOA, NS, A,
// AAAA and CNAME questions, reading the answers, and adding or deleting TXT records.
//
// Encoding never compresses names (RFC 1035 §4.1.4 makes it optional and our messages are small);
// decoding follows compression pointers, which every server uses.
// TSIG (RFC 8945) lives in tsig.ts; this module only reads the TSIG record and says where it starts.

import { CertkeepError } from '../errors.ts';
import { concatBytes, fromUtf8, utf8 } from '../util/encoding.ts';
import { encodeName, labelsToName } from './names.ts';

/** The record types dns-01 deals in (RFC 1035 §3.2.2, AAAA: RFC 3596). */
export type RecordType = 'A' | 'NS' | 'CNAME' | 'SOA' | 'TXT' | 'AAAA';

export const TYPE_CODE: Record<RecordType, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, TXT: 16, AAAA: 28 };
const TYPE_NAME = new Map<number, RecordType>(Object.entries(TYPE_CODE).map(([name, code]) => [code, name as RecordType]));
const TYPE_OPT = 41; // RFC 6891 §6.1.1
export const TYPE_TSIG = 250; // RFC 8945 §4.2

/** RFC 1035 §3.2.4; NONE and ANY carry the "delete" meanings of RFC 2136 §2.5. */
export const CLASS_IN = 1;
export const CLASS_NONE = 254;
export const CLASS_ANY = 255;

/** RFC 2136 §1: the UPDATE opcode (a query is 0). */
export const OPCODE_UPDATE = 5;

/**
 * Response codes by number (RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 6891 §9, RFC 8945 §5.3).
 * 16–18 and 22 are also the TSIG record's error values (BADSIG, BADKEY, BADTIME, BADTRUNC).
 */
const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
  16: 'BADSIG', // also BADVERS when it comes from OPT: we only ever send EDNS version 0
  17: 'BADKEY',
  18: 'BADTIME',
  22: 'BADTRUNC',
  23: 'BADCOOKIE',
};

/** `NOERROR`, `NXDOMAIN`, … or `RCODE<n>` for a value without a mnemonic. */
export function rcodeName(code: number): string {
  return RCODE_NAMES[code] ?? `RCODE${code}`;
}

/** RFC 1035 §3.3.13. */
export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

interface RecordBase {
  /** Owner name, presentation form without the trailing dot. */
  name: string;
  class: number;
  ttl: number;
}

/**
 * A resource record (RFC 1035 §4.1.3) with its RDATA decoded for the types we use. Any other
 * type, and an empty RDATA (which only UPDATE's delete forms have), is kept as raw octets under
 * its RFC 3597 name, `TYPE<n>`.
 */
export type DnsRecord =
  | (RecordBase & { type: 'A' | 'AAAA'; address: string })
  | (RecordBase & { type: 'NS' | 'CNAME'; target: string })
  | (RecordBase & { type: 'SOA'; soa: SoaData })
  /** `value` is the record's character-strings joined, the way dns-01 reads a TXT record (RFC 8555 §8.4). */
  | (RecordBase & { type: 'TXT'; value: string; strings: string[] })
  | (RecordBase & { type: `TYPE${number}`; rdata: Uint8Array });

export interface DnsQuestion {
  name: string;
  type: RecordType | `TYPE${number}`;
  class: number;
}

/** RFC 8945 §4.2: the TSIG record's fields. */
export interface TsigRecord {
  keyName: string;
  algorithm: string;
  /** Seconds since the epoch (48 bits on the wire). */
  timeSigned: number;
  fudge: number;
  mac: Uint8Array;
  originalId: number;
  /** 0, or an rcode such as 16 (BADSIG), 17 (BADKEY), 18 (BADTIME). */
  error: number;
  otherData: Uint8Array;
}

/**
 * A decoded message. For an UPDATE (RFC 2136 §2) the same four sections are the zone,
 * prerequisite, update and additional sections.
 */
export interface DnsMessage {
  id: number;
  opcode: number;
  /** Header bits (RFC 1035 §4.1.1; AD and CD from RFC 4035 §3.2). */
  flags: { qr: boolean; aa: boolean; tc: boolean; rd: boolean; ra: boolean; ad: boolean; cd: boolean };
  /** The full rcode (header bits plus the OPT record's upper bits) by name, e.g. `NOERROR`. */
  rcode: string;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authority: DnsRecord[];
  /** The additional section without the OPT and TSIG pseudo-records, which have their own fields. */
  additional: DnsRecord[];
  edns?: { udpSize: number; version: number; dnssecOk: boolean };
  /** The TSIG record and the offset where it starts in the message (it must be the last record). */
  tsig?: TsigRecord & { offset: number };
}

/** What a resolver returns for a question. */
export type DnsResponse = DnsMessage;

/** The UDP payload size we advertise: 1232 octets avoids IP fragmentation (DNS Flag Day 2020). */
export const EDNS_UDP_SIZE = 1232;

export interface QueryOptions {
  id: number;
  name: string;
  type: RecordType;
  /** Recursion desired (default true). */
  rd?: boolean;
  /** Checking disabled: a validating resolver answers even when DNSSEC validation fails (RFC 4035 §3.2.2). */
  cd?: boolean;
  /** Adds an OPT record advertising `EDNS_UDP_SIZE` (default true). */
  edns?: boolean;
}

/** RFC 1035 §4.1: a header and one question. */
export function encodeQuery(q: QueryOptions): Uint8Array<ArrayBuffer> {
  const w = new Writer();
  const edns = q.edns ?? true;
  const flags = ((q.rd ?? true) ? 0x0100 : 0) | (q.cd ? 0x0010 : 0);
  w.header(q.id, flags, [1, 0, 0, edns ? 1 : 0]);
  w.bytes(encodeName(q.name));
  w.u16(TYPE_CODE[q.type]);
  w.u16(CLASS_IN);
  if (edns) w.opt();
  return w.finish();
}

/** One change in an UPDATE's update section (RFC 2136 §2.5). */
export type TxtUpdate =
  /** §2.5.1: add to an RRset. */
  | { op: 'add'; name: string; value: string; ttl: number }
  /** §2.5.4: delete one RR — class NONE, TTL 0, the RDATA to match. */
  | { op: 'delete'; name: string; value: string }
  /** §2.5.2: delete an RRset — class ANY, TTL 0, no RDATA. */
  | { op: 'deleteAll'; name: string };

/** RFC 2136 §2: opcode UPDATE, the zone section naming `zone` (type SOA), no prerequisites. */
export function encodeUpdate(u: { id: number; zone: string; updates: TxtUpdate[] }): Uint8Array<ArrayBuffer> {
  const w = new Writer();
  w.header(u.id, OPCODE_UPDATE << 11, [1, 0, u.updates.length, 0]);
  w.bytes(encodeName(u.zone));
  w.u16(TYPE_CODE.SOA);
  w.u16(CLASS_IN);
  for (const change of u.updates) {
    w.bytes(encodeName(change.name));
    w.u16(TYPE_CODE.TXT);
    if (change.op === 'add') {
      if (!Number.isInteger(change.ttl) || change.ttl < 0 || change.ttl > 0x7fffffff) {
        throw new CertkeepError('BAD_REQUEST', `TTL ${change.ttl} is not a whole number of seconds from 0 to 2147483647`);
      }
      w.u16(CLASS_IN);
      w.u32(change.ttl);
      w.rdata(txtRdata(change.value));
    } else {
      w.u16(change.op === 'delete' ? CLASS_NONE : CLASS_ANY);
      w.u32(0);
      w.rdata(change.op === 'delete' ? txtRdata(change.value) : new Uint8Array(0));
    }
  }
  return w.finish();
}

/**
 * RFC 1035 §3.3.14: one or more character-strings of at most 255 octets each. A longer value is
 * split, and a reader joins the strings again (RFC 8555 §8.4 reads it that way).
 */
export function txtRdata(value: string): Uint8Array {
  const octets = utf8(value);
  const parts: Uint8Array[] = [];
  for (let i = 0; i === 0 || i < octets.length; i += 255) {
    const chunk = octets.subarray(i, i + 255);
    const part = new Uint8Array(chunk.length + 1);
    part[0] = chunk.length;
    part.set(chunk, 1);
    parts.push(part);
  }
  return concatBytes(...parts);
}

/** The message's ID (first two octets), e.g. to rewrite it after TSIG verification. */
export function messageId(message: Uint8Array): number {
  if (message.length < 2) throw malformed('shorter than its ID');
  return (message[0] << 8) | message[1];
}

/** Decodes a whole message. Throws DNS_BAD_RESPONSE when it is malformed. */
export function decodeMessage(bytes: Uint8Array): DnsMessage {
  const r = new Reader(bytes);
  const id = r.u16();
  const bits = r.u16();
  const counts = [r.u16(), r.u16(), r.u16(), r.u16()];
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const name = r.name();
    const type = typeName(r.u16());
    questions.push({ name, type, class: r.u16() });
  }
  const sections = counts.slice(1).map((count) => {
    const records: Array<{ start: number; rr: RawRecord }> = [];
    for (let i = 0; i < count; i++) records.push({ start: r.offset, rr: r.record() });
    return records;
  });
  if (r.offset !== bytes.length) throw malformed(`${bytes.length - r.offset} octets after the last record`);

  const message: DnsMessage = {
    id,
    opcode: (bits >> 11) & 0xf,
    flags: {
      qr: (bits & 0x8000) !== 0,
      aa: (bits & 0x0400) !== 0,
      tc: (bits & 0x0200) !== 0,
      rd: (bits & 0x0100) !== 0,
      ra: (bits & 0x0080) !== 0,
      ad: (bits & 0x0020) !== 0,
      cd: (bits & 0x0010) !== 0,
    },
    rcode: '',
    questions,
    answers: sections[0].map(({ rr }) => decodeRecord(bytes, rr)),
    authority: sections[1].map(({ rr }) => decodeRecord(bytes, rr)),
    additional: [],
  };
  let extendedRcode = 0;
  sections[2].forEach(({ start, rr }, index) => {
    if (rr.type === TYPE_OPT) {
      // RFC 6891 §6.1.3: the TTL field holds the upper rcode bits, the version and the DO bit.
      extendedRcode = rr.ttl >>> 24;
      message.edns = { udpSize: rr.class, version: (rr.ttl >>> 16) & 0xff, dnssecOk: (rr.ttl & 0x8000) !== 0 };
    } else if (rr.type === TYPE_TSIG) {
      // RFC 8945 §5.2: the TSIG record must be the last one.
      if (index !== sections[2].length - 1) throw malformed('a TSIG record that is not the last record');
      message.tsig = { ...decodeTsig(bytes, rr), offset: start };
    } else {
      message.additional.push(decodeRecord(bytes, rr));
    }
  });
  message.rcode = rcodeName((extendedRcode << 4) | (bits & 0xf));
  return message;
}

// ---- reading ----

interface RawRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** Where the RDATA starts in the message and how long it is (names in it may point backwards). */
  rdataOffset: number;
  rdataLength: number;
}

function decodeRecord(message: Uint8Array, rr: RawRecord): DnsRecord {
  const base = { name: rr.name, class: rr.class, ttl: rr.ttl };
  const type = TYPE_NAME.get(rr.type);
  const end = rr.rdataOffset + rr.rdataLength;
  const r = new Reader(message, rr.rdataOffset);
  const raw = (): DnsRecord => ({ ...base, type: `TYPE${rr.type}`, rdata: message.slice(rr.rdataOffset, end) });
  if (type === undefined || (rr.rdataLength === 0 && type !== 'TXT')) return raw();

  let record: DnsRecord;
  switch (type) {
    case 'A':
      if (rr.rdataLength !== 4) throw malformed(`an A record of ${rr.rdataLength} octets`);
      record = { ...base, type, address: Array.from(message.subarray(r.offset, end)).join('.') };
      r.offset = end;
      break;
    case 'AAAA':
      if (rr.rdataLength !== 16) throw malformed(`an AAAA record of ${rr.rdataLength} octets`);
      record = { ...base, type, address: formatIpv6(message.subarray(r.offset, end)) };
      r.offset = end;
      break;
    case 'NS':
    case 'CNAME':
      record = { ...base, type, target: r.name() };
      break;
    case 'SOA':
      record = {
        ...base,
        type,
        soa: { mname: r.name(), rname: r.name(), serial: r.u32(), refresh: r.u32(), retry: r.u32(), expire: r.u32(), minimum: r.u32() },
      };
      break;
    case 'TXT': {
      const strings: string[] = [];
      while (r.offset < end) strings.push(fromUtf8(r.take(r.u8())));
      record = { ...base, type, strings, value: strings.join('') };
      break;
    }
  }
  if (r.offset !== end) throw malformed(`${type} RDATA of ${rr.rdataLength} octets that does not match its contents`);
  return record;
}

function decodeTsig(message: Uint8Array, rr: RawRecord): TsigRecord {
  const r = new Reader(message, rr.rdataOffset);
  const algorithm = r.name();
  const timeSigned = r.u16() * 2 ** 32 + r.u32();
  const fudge = r.u16();
  const mac = r.take(r.u16()).slice();
  const originalId = r.u16();
  const error = r.u16();
  const otherData = r.take(r.u16()).slice();
  if (r.offset !== rr.rdataOffset + rr.rdataLength) throw malformed('a TSIG record whose RDATA length does not match its contents');
  return { keyName: rr.name, algorithm, timeSigned, fudge, mac, originalId, error, otherData };
}

function typeName(code: number): DnsQuestion['type'] {
  return TYPE_NAME.get(code) ?? `TYPE${code}`;
}

/** RFC 5952 §4: lower case, leading zeros dropped, the longest run of two or more zero groups as `::`. */
export function formatIpv6(octets: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => (octets[2 * i] << 8) | octets[2 * i + 1]);
  let best = { start: -1, length: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    public offset = 0,
  ) {}

  u8(): number {
    this.need(1);
    return this.bytes[this.offset++];
  }

  u16(): number {
    this.need(2);
    const value = (this.bytes[this.offset] << 8) | this.bytes[this.offset + 1];
    this.offset += 2;
    return value;
  }

  u32(): number {
    return this.u16() * 0x10000 + this.u16();
  }

  take(length: number): Uint8Array {
    this.need(length);
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  /**
   * RFC 1035 §4.1.4. A pointer must point strictly before the label sequence that holds it, so
   * a loop is impossible and decoding always ends.
   */
  name(): string {
    const labels: Uint8Array[] = [];
    let position = this.offset;
    let resume: number | undefined; // where reading continues after the first pointer
    let wireLength = 1;
    for (;;) {
      if (position >= this.bytes.length) throw malformed('a name that runs past the end');
      const length = this.bytes[position];
      if ((length & 0xc0) === 0xc0) {
        if (position + 1 >= this.bytes.length) throw malformed('a name that runs past the end');
        const target = ((length & 0x3f) << 8) | this.bytes[position + 1];
        if (target >= position) throw malformed('a compression pointer that does not point backwards');
        resume ??= position + 2;
        position = target;
      } else if ((length & 0xc0) !== 0) {
        throw malformed(`a label type 0x${(length & 0xc0).toString(16)} (only plain labels and pointers exist)`);
      } else if (length === 0) {
        this.offset = resume ?? position + 1;
        return labelsToName(labels);
      } else {
        if (position + 1 + length > this.bytes.length) throw malformed('a label that runs past the end');
        labels.push(this.bytes.slice(position + 1, position + 1 + length));
        wireLength += length + 1;
        if (wireLength > 255) throw malformed('a name longer than 255 octets');
        position += 1 + length;
      }
    }
  }

  record(): RawRecord {
    const name = this.name();
    const type = this.u16();
    const cls = this.u16();
    const ttl = this.u32();
    const rdataLength = this.u16();
    const rdataOffset = this.offset;
    this.take(rdataLength);
    return { name, type, class: cls, ttl, rdataOffset, rdataLength };
  }

  private need(length: number): void {
    if (this.offset + length > this.bytes.length) throw malformed('a message that ends too soon');
  }
}

// ---- writing ----

class Writer {
  private readonly parts: Uint8Array[] = [];

  /** RFC 1035 §4.1.1: ID, flags, and the four section counts. */
  header(id: number, flags: number, counts: [number, number, number, number]): void {
    this.u16(id);
    this.u16(flags);
    for (const count of counts) this.u16(count);
  }

  u16(value: number): void {
    this.bytes(new Uint8Array([value >> 8, value & 0xff]));
  }

  u32(value: number): void {
    this.bytes(new Uint8Array([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]));
  }

  rdata(data: Uint8Array): void {
    this.u16(data.length);
    this.bytes(data);
  }

  /** RFC 6891 §6.1.2: root owner, type OPT, class = UDP size, TTL = extended rcode 0, version 0, no DO bit. */
  opt(): void {
    this.bytes(new Uint8Array([0]));
    this.u16(TYPE_OPT);
    this.u16(EDNS_UDP_SIZE);
    this.u32(0);
    this.rdata(new Uint8Array(0));
  }

  bytes(data: Uint8Array): void {
    this.parts.push(data);
  }

  finish(): Uint8Array<ArrayBuffer> {
    return concatBytes(...this.parts);
  }
}

function malformed(what: string): CertkeepError {
  return new CertkeepError('DNS_BAD_RESPONSE', `malformed DNS message: ${what}`);
}
