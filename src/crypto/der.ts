// A minimal DER reader (X.690 §8.1): just enough to look at the outline of a structure —
// which tags sit where — before handing the bytes to a real schema parser. Key import uses it
// to tell PKCS#8, PKCS#1 and SEC1 apart, since a DER file does not say what it holds.

/** One TLV element: its tag byte and its content bytes. */
export interface DerElement {
  tag: number;
  content: Uint8Array;
  /** The whole element, tag and length included (a view of the buffer it was read from). */
  tlv: Uint8Array;
  /** Offset just past the element in the buffer it was read from. */
  end: number;
}

export const DER_TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
} as const;

/** Reads the element at `offset`; null when the bytes are not a well-formed definite-length TLV. */
export function readDer(bytes: Uint8Array, offset = 0): DerElement | null {
  if (offset + 2 > bytes.length) return null;
  const tag = bytes[offset];
  // Multi-byte tags (low bits all set) never occur in the structures we sniff.
  if ((tag & 0x1f) === 0x1f) return null;
  let length = bytes[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    // 0x80 is BER's indefinite length, not DER; more than 4 length bytes is not a key.
    if (count === 0 || count > 4 || start + count > bytes.length) return null;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i];
    start += count;
  }
  const end = start + length;
  if (end > bytes.length) return null;
  return { tag, content: bytes.subarray(start, end), tlv: bytes.subarray(offset, end), end };
}

/** The elements inside a constructed element's content; null if they do not tile it exactly. */
export function readDerChildren(content: Uint8Array): DerElement[] | null {
  const children: DerElement[] = [];
  let offset = 0;
  while (offset < content.length) {
    const child = readDer(content, offset);
    if (!child) return null;
    children.push(child);
    offset = child.end;
  }
  return children;
}

/** The top-level SEQUENCE's children, when `bytes` is exactly one SEQUENCE. */
export function readDerSequence(bytes: Uint8Array): DerElement[] | null {
  const outer = readDer(bytes);
  if (!outer || outer.tag !== DER_TAG.SEQUENCE || outer.end !== bytes.length) return null;
  return readDerChildren(outer.content);
}

/** True when `element` is an INTEGER holding the small non-negative value `value`. */
export function isDerSmallInteger(element: DerElement | undefined, value: number): boolean {
  return element?.tag === DER_TAG.INTEGER && element.content.length === 1 && element.content[0] === value;
}

/** The content octets of a dotted OID (X.690 §8.19), to compare with an OID element's `content`. */
export function derOidContent(oid: string): Uint8Array {
  const [first, second, ...rest] = oid.split('.').map(Number);
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const groups = [arc & 0x7f];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) groups.unshift((value & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return new Uint8Array(bytes);
}

/** True when `element` is an OBJECT IDENTIFIER whose content is `content` (from derOidContent). */
export function isDerOid(element: DerElement | undefined, content: Uint8Array): boolean {
  return element?.tag === DER_TAG.OID && element.content.length === content.length && content.every((b, i) => element.content[i] === b);
}
