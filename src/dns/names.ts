// Domain names: presentation form (what people write) ⇄ wire form (RFC 1035 §3.1).
//
// Names cross the public API in presentation form without the trailing dot ("example.test",
// the root is ""); a trailing dot on input is accepted. Labels may carry RFC 1035 §5.1 escapes
// (`\.`, `\\`, `\DDD`), so every wire name has exactly one presentation form and back.
// DNS compares names without regard to ASCII case (RFC 4343): use `sameName`.

import { CertkeepError } from '../errors.ts';

const MAX_LABEL = 63;
const MAX_NAME = 255; // wire octets, length bytes and the root's zero included

/** The labels of a presentation-form name, each as raw octets. Throws BAD_REQUEST on a malformed name. */
export function nameToLabels(name: string): Uint8Array[] {
  const text = name === '.' ? '' : endsWithRootDot(name) ? name.slice(0, -1) : name;
  if (text === '') return [];
  const labels: Uint8Array[] = [];
  let current: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '.') {
      labels.push(finishLabel(current, name));
      current = [];
    } else if (ch === '\\') {
      const digits = /^\d{3}/.exec(text.slice(i + 1))?.[0];
      if (digits !== undefined) {
        const value = Number(digits);
        if (value > 255) throw invalidName(name, `escape \\${digits} is not an octet`);
        current.push(value);
        i += 3;
      } else if (i + 1 < text.length) {
        current.push(asciiCode(text[++i], name));
      } else {
        throw invalidName(name, 'it ends in a lone backslash');
      }
    } else {
      current.push(asciiCode(ch, name));
    }
  }
  labels.push(finishLabel(current, name));
  const wireLength = labels.reduce((n, l) => n + l.length + 1, 1);
  if (wireLength > MAX_NAME) throw invalidName(name, `it is ${wireLength} octets long on the wire (at most ${MAX_NAME})`);
  return labels;
}

/** RFC 1035 §3.1: length-prefixed labels ending in the root's zero octet, uncompressed. */
export function encodeName(name: string): Uint8Array {
  const labels = nameToLabels(name);
  const out = new Uint8Array(labels.reduce((n, l) => n + l.length + 1, 1));
  let offset = 0;
  for (const label of labels) {
    out[offset++] = label.length;
    out.set(label, offset);
    offset += label.length;
  }
  return out; // last octet already 0
}

/** Presentation form of wire labels: printable ASCII as is, `.` and `\` escaped, anything else as `\DDD`. */
export function labelsToName(labels: Uint8Array[]): string {
  return labels
    .map((label) =>
      Array.from(label, (b) => {
        if (b === 0x2e || b === 0x5c) return `\\${String.fromCharCode(b)}`;
        if (b > 0x20 && b < 0x7f) return String.fromCharCode(b);
        return `\\${String(b).padStart(3, '0')}`;
      }).join(''),
    )
    .join('.');
}

/** Canonical form used for comparisons: ASCII letters lower-cased octet by octet (RFC 4343), no trailing dot. */
export function canonicalName(name: string): string {
  return labelsToName(nameToLabels(name).map((label) => label.map((b) => (b >= 0x41 && b <= 0x5a ? b + 0x20 : b))));
}

/** RFC 4343: names are equal when they differ only in ASCII case. */
export function sameName(a: string, b: string): boolean {
  return canonicalName(a) === canonicalName(b);
}

/** The name one label up: `a.b.c` → `b.c`; the root has no parent (undefined). */
export function parentName(name: string): string | undefined {
  const labels = nameToLabels(name);
  return labels.length === 0 ? undefined : labelsToName(labels.slice(1));
}

/** True when `name` equals `zone` or lies below it. */
export function isInZone(name: string, zone: string): boolean {
  const n = nameToLabels(canonicalName(name));
  const z = nameToLabels(canonicalName(zone));
  if (z.length > n.length) return false;
  const tail = n.slice(n.length - z.length);
  return z.every((label, i) => labelsToName([label]) === labelsToName([tail[i]]));
}

/** A final dot ends the name unless a backslash escapes it (an odd number of backslashes before it). */
function endsWithRootDot(name: string): boolean {
  if (!name.endsWith('.')) return false;
  let backslashes = 0;
  for (let i = name.length - 2; i >= 0 && name[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 0;
}

function finishLabel(octets: number[], name: string): Uint8Array {
  if (octets.length === 0) throw invalidName(name, 'it has an empty label');
  if (octets.length > MAX_LABEL) throw invalidName(name, `a label is ${octets.length} octets long (at most ${MAX_LABEL})`);
  return new Uint8Array(octets);
}

/** Wire names are octets; an internationalized name travels as its A-label (RFC 5890). */
function asciiCode(ch: string, name: string): number {
  const code = ch.charCodeAt(0);
  if (code > 0x7f) throw invalidName(name, 'it is not ASCII (write an internationalized name in its xn-- form)');
  return code;
}

function invalidName(name: string, why: string): CertkeepError {
  return new CertkeepError('BAD_REQUEST', `"${name}" is not a valid domain name: ${why}`, { name });
}
