// The few X.509 extensions parseCertificate reads (RFC 5280 §4.2), decoded straight from their
// DER: the names a certificate is for, its key identifiers, whether it is a CA, and where its
// issuer, OCSP responder and CRLs are. The x509 library's classes read the same from the same
// bytes, but build a whole object model to do it: for a leaf like Let's Encrypt's, about 0.37 ms
// of the 0.84 ms a parse took (measured on this project's 2-core machine), on the thread that
// runs every order.
//
// Each reader returns null for anything it does not expect (a length it cannot read, an IPv6
// address, text that is not printable ASCII), and the caller then reads that extension with the
// library, as before. So these readers only ever answer for the ordinary case, and say so
// otherwise; the test in certificate.test.ts holds both ways to the same fields.
import { DER_TAG, derOidContent, isDerOid, readDer, readDerChildren, type DerElement } from './der.ts';

/** GeneralName's CHOICE tags (RFC 5280 §4.2.1.6) that Certkeep reads, all IMPLICIT primitives. */
const GENERAL_NAME = { DNS: 0x82, URI: 0x86, IP: 0x87 } as const;

const OCSP = derOidContent('1.3.6.1.5.5.7.48.1');
const CA_ISSUERS = derOidContent('1.3.6.1.5.5.7.48.2');

/** An Extension element's extnValue: the OCTET STRING's content, which holds the extension's own DER. */
function extensionValue(extension: Uint8Array): Uint8Array | null {
  const outer = readDer(extension);
  const parts = outer?.tag === DER_TAG.SEQUENCE ? readDerChildren(outer.content) : null;
  const value = parts?.at(-1);
  return value?.tag === DER_TAG.OCTET_STRING ? value.content : null;
}

/** The one element `bytes` holds, exactly; null when they hold anything else. */
function only(bytes: Uint8Array | null, tag: number): DerElement | null {
  const element = bytes ? readDer(bytes) : null;
  return element && element.tag === tag && element.end === bytes!.length ? element : null;
}

/** IA5String text that is printable ASCII (what DNS names and URIs are); null otherwise. */
function ascii(bytes: Uint8Array): string | null {
  for (const byte of bytes) if (byte < 0x20 || byte > 0x7e) return null;
  return String.fromCharCode(...bytes);
}

/**
 * The dNSName and (IPv4) iPAddress entries of GeneralNames, in order, each as `kind` asks; other
 * kinds of name are skipped. Null when an entry is one these readers leave to the library.
 */
function generalNames(content: Uint8Array, want: 'dns-and-ip' | 'uri'): string[] | null {
  const names = readDerChildren(content);
  if (!names) return null;
  const out: string[] = [];
  for (const name of names) {
    if (want === 'uri' ? name.tag === GENERAL_NAME.URI : name.tag === GENERAL_NAME.DNS) {
      const text = ascii(name.content);
      if (text === null) return null;
      out.push(text);
    } else if (want === 'dns-and-ip' && name.tag === GENERAL_NAME.IP) {
      if (name.content.length !== 4) return null;
      out.push(Array.from(name.content).join('.'));
    }
  }
  return out;
}

/** subjectAltName (§4.2.1.6): its DNS names and IPv4 addresses, in certificate order. */
export function readSubjectAltNames(extension: Uint8Array): string[] | null {
  const list = only(extensionValue(extension), DER_TAG.SEQUENCE);
  return list && generalNames(list.content, 'dns-and-ip');
}

/** subjectKeyIdentifier (§4.2.1.2); undefined when it is empty. */
export function readSubjectKeyIdentifier(extension: Uint8Array): Uint8Array | undefined | null {
  const keyId = only(extensionValue(extension), DER_TAG.OCTET_STRING);
  if (!keyId) return null;
  return keyId.content.length ? keyId.content.slice() : undefined;
}

/** authorityKeyIdentifier (§4.2.1.1): its keyIdentifier; undefined when it has none or an empty one. */
export function readAuthorityKeyIdentifier(extension: Uint8Array): Uint8Array | undefined | null {
  const aki = only(extensionValue(extension), DER_TAG.SEQUENCE);
  const parts = aki ? readDerChildren(aki.content) : null;
  if (!parts) return null;
  // keyIdentifier [0] IMPLICIT OCTET STRING, first when present.
  const keyId = parts[0]?.tag === 0x80 ? parts[0].content : undefined;
  return keyId?.length ? keyId.slice() : undefined;
}

/** basicConstraints (§4.2.1.9): its cA flag (DEFAULT FALSE). */
export function readIsCA(extension: Uint8Array): boolean | null {
  const constraints = only(extensionValue(extension), DER_TAG.SEQUENCE);
  const parts = constraints ? readDerChildren(constraints.content) : null;
  if (!parts) return null;
  const flag = parts[0];
  if (flag?.tag !== DER_TAG.BOOLEAN) return parts.every((p) => p.tag === DER_TAG.INTEGER) ? false : null;
  if (flag.content.length !== 1 || (flag.content[0] !== 0 && flag.content[0] !== 0xff)) return null;
  return flag.content[0] === 0xff;
}

/** authorityInfoAccess (§4.2.2.1): the URIs of its OCSP and caIssuers entries, in order. */
export function readAuthorityInfoAccess(extension: Uint8Array): { ocsp: string[]; caIssuers: string[] } | null {
  const list = only(extensionValue(extension), DER_TAG.SEQUENCE);
  const descriptions = list ? readDerChildren(list.content) : null;
  if (!descriptions) return null;
  const found = { ocsp: [] as string[], caIssuers: [] as string[] };
  for (const description of descriptions) {
    const parts = description.tag === DER_TAG.SEQUENCE ? readDerChildren(description.content) : null;
    if (parts?.length !== 2 || parts[0].tag !== DER_TAG.OID) return null;
    const into = isDerOid(parts[0], OCSP) ? found.ocsp : isDerOid(parts[0], CA_ISSUERS) ? found.caIssuers : null;
    if (!into || parts[1].tag !== GENERAL_NAME.URI) continue;
    const uri = ascii(parts[1].content);
    if (uri === null) return null;
    into.push(uri);
  }
  return found;
}

/** cRLDistributionPoints (§4.2.1.13): the URIs of each point's fullName, in order. */
export function readCrlDistributionPoints(extension: Uint8Array): string[] | null {
  const list = only(extensionValue(extension), DER_TAG.SEQUENCE);
  const points = list ? readDerChildren(list.content) : null;
  if (!points) return null;
  const uris: string[] = [];
  for (const point of points) {
    const parts = point.tag === DER_TAG.SEQUENCE ? readDerChildren(point.content) : null;
    if (!parts) return null;
    // distributionPoint [0] EXPLICIT DistributionPointName, first when present.
    if (parts[0]?.tag !== 0xa0) continue;
    const name = only(parts[0].content, parts[0].content[0]);
    // fullName [0] IMPLICIT GeneralNames; a name relative to the CRL issuer ([1]) has no URI.
    if (name?.tag === 0xa1) continue;
    if (name?.tag !== 0xa0) return null;
    const names = generalNames(name.content, 'uri');
    if (!names) return null;
    uris.push(...names);
  }
  return uris;
}
