// X.509 certificates (RFC 5280): read the fields Certkeep acts on — validity for renewal,
// serial and key identifiers for ARI (RFC 9773) and revocation, names for display — and make
// the self-signed certificate the HTTPS listener uses before a real one exists.

import { AsnConvert } from '@peculiar/asn1-schema';
import {
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_cRLDistributionPoints,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_pe_authorityInfoAccess,
  SubjectPublicKeyInfo,
} from '@peculiar/asn1-x509';
import { RSAPublicKey } from '@peculiar/asn1-rsa';
import { CertkeepError } from '../errors.ts';
import { fromHex, randomBytes, sha256, timingSafeEqual, toHex } from '../util/encoding.ts';
import { bufferSource } from './bytes.ts';
import { DER_TAG, readDerChildren, readDerSequence } from './der.ts';
import { exportPublicSpki, isKeyType, keyTypeOf, signatureParams, type KeyType } from './keys.ts';
import { pemDecode, pemEncode, splitCertificates } from './pem.ts';
import { describeKeyAlgorithm } from './pkcs8.ts';
import { x509 } from './x509.ts';
import { certificateOutline, type CertificateOutline } from './x509-outline.ts';
import { readAuthorityInfoAccess, readAuthorityKeyIdentifier, readCrlDistributionPoints, readIsCA, readSubjectAltNames, readSubjectKeyIdentifier } from './x509-extensions.ts';

/** The certified public key (RFC 5280 §4.1.2.7). */
export interface CertificatePublicKey {
  /** SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
  /** Set when the key is one of the types Certkeep holds. */
  keyType?: KeyType;
  /** For people: "EC P-256", "RSA 2048", "Ed25519", or the algorithm OID. */
  description: string;
}

export interface ParsedCertificate {
  /** Lower-case hex without leading zeros: the form Pebble's management API takes. */
  serialNumber: string;
  /** The serial INTEGER's content octets, leading zero included: what ARI's CertID encodes. */
  serialDer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** Distinguished names in certificate order, e.g. "C=DE, O=Example, CN=example.com". */
  subject: string;
  issuer: string;
  subjectCN?: string;
  issuerCN?: string;
  /** subjectAltName dNSName and iPAddress values, in certificate order. */
  sans: string[];
  authorityKeyIdentifier?: Uint8Array;
  subjectKeyIdentifier?: Uint8Array;
  /** Hex digests of the DER certificate. */
  sha256Thumbprint: string;
  sha1Thumbprint: string;
  /** Hex SHA-256 of the SubjectPublicKeyInfo: ties a certificate to its key. */
  spkiSha256: string;
  publicKey: CertificatePublicKey;
  crlDistributionPoints: string[];
  ocspUrls: string[];
  caIssuersUrls: string[];
  isCA: boolean;
  der: Uint8Array;
  pem: string;
}

/**
 * Parses one certificate: DER bytes, or PEM text whose first CERTIFICATE block is used (the
 * leaf, for a chain). Asynchronous only because WebCrypto digests are.
 */
export async function parseCertificate(pemOrDer: string | Uint8Array): Promise<ParsedCertificate> {
  const der = typeof pemOrDer === 'string' ? firstCertificateDer(pemOrDer) : pemOrDer;
  const fields = fieldsOf(der);
  const [sha256Thumbprint, sha1Thumbprint, spkiSha256] = await Promise.all([
    sha256(der).then(toHex),
    crypto.subtle.digest('SHA-1', bufferSource(der)).then(toHex),
    sha256(fields.publicKey.spki).then(toHex),
  ]);
  return { ...fields, sha256Thumbprint, sha1Thumbprint, spkiSha256, der, pem: pemEncode('CERTIFICATE', der) };
}

type CertificateFields = Omit<ParsedCertificate, 'sha256Thumbprint' | 'sha1Thumbprint' | 'spkiSha256' | 'der' | 'pem'>;

/**
 * The parts of a certificate the fields are made of, however it was read. Names and extensions
 * are always the x509 library's classes, made from the certificate's own encoding of them.
 */
interface CertificateReader {
  serialDer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  subjectName: x509.Name;
  issuerName: x509.Name;
  /** SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
  /** The certificate's first extension with this OID, read as `type`; undefined when it has none. */
  extension<T extends x509.Extension>(oid: string, type: new (raw: BufferSource) => T): T | undefined;
  /** The same extension's Extension element, whole, for the DER readers (x509-extensions.ts); absent for the library's reader. */
  encoded?(oid: string): Uint8Array | undefined;
}

/**
 * The certificate's fields, read from its outline (crypto/x509-outline.ts): an ordinary
 * certificate, such as every one a CA issues, is not parsed whole. One that is laid out in any
 * other way, or whose outline turns out not to hold what it should, is read by the library, which
 * also says what is wrong with one that is not a certificate.
 */
function fieldsOf(der: Uint8Array): CertificateFields {
  const outline = certificateOutline(der);
  if (outline) {
    try {
      return fieldsFrom(outlineReader(outline));
    } catch {
      // The library's parse below decides.
    }
  }
  return fieldsFrom(libraryReader(der));
}

function fieldsFrom(cert: CertificateReader): CertificateFields {
  const authorityInfoAccess = decoded(cert, id_pe_authorityInfoAccess, readAuthorityInfoAccess, () => {
    const extension = cert.extension(id_pe_authorityInfoAccess, x509.AuthorityInfoAccessExtension);
    return { ocsp: accessUrls(extension, 'ocsp'), caIssuers: accessUrls(extension, 'caIssuers') };
  });
  return {
    serialNumber: toHex(cert.serialDer).replace(/^0+(?=.)/, ''),
    serialDer: cert.serialDer,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    subject: cert.subjectName.toString(),
    issuer: cert.issuerName.toString(),
    subjectCN: cert.subjectName.getField('CN')[0],
    issuerCN: cert.issuerName.getField('CN')[0],
    sans: decoded(cert, id_ce_subjectAltName, readSubjectAltNames, () => subjectAltNames(cert)),
    authorityKeyIdentifier: decoded(cert, id_ce_authorityKeyIdentifier, readAuthorityKeyIdentifier, () =>
      optionalHex(cert.extension(id_ce_authorityKeyIdentifier, x509.AuthorityKeyIdentifierExtension)?.keyId),
    ),
    subjectKeyIdentifier: decoded(cert, id_ce_subjectKeyIdentifier, readSubjectKeyIdentifier, () =>
      optionalHex(cert.extension(id_ce_subjectKeyIdentifier, x509.SubjectKeyIdentifierExtension)?.keyId),
    ),
    publicKey: describePublicKey(cert.spki),
    crlDistributionPoints: decoded(cert, id_ce_cRLDistributionPoints, readCrlDistributionPoints, () => crlDistributionPoints(cert)),
    ocspUrls: authorityInfoAccess.ocsp,
    caIssuersUrls: authorityInfoAccess.caIssuers,
    isCA: decoded(cert, id_ce_basicConstraints, readIsCA, () => cert.extension(id_ce_basicConstraints, x509.BasicConstraintsExtension)?.ca ?? false),
  };
}

/**
 * One extension's value, decoded from its DER (x509-extensions.ts) when the reader has the bytes
 * and the decoder takes them; otherwise, and when the certificate has no such extension, as the
 * x509 library reads it.
 */
function decoded<T>(cert: CertificateReader, oid: string, decode: (extension: Uint8Array) => T | null, byLibrary: () => T): T {
  const encoded = cert.encoded?.(oid);
  const value = encoded ? decode(encoded) : null;
  return value === null ? byLibrary() : value;
}

function outlineReader(outline: CertificateOutline): CertificateReader {
  return {
    serialDer: outline.serialDer,
    notBefore: outline.notBefore,
    notAfter: outline.notAfter,
    subjectName: new x509.Name(bufferSource(outline.subject)),
    issuerName: new x509.Name(bufferSource(outline.issuer)),
    spki: outline.spki.slice(),
    extension(oid, type) {
      const raw = outline.extension(oid);
      return raw ? new type(bufferSource(raw)) : undefined;
    },
    encoded: (oid) => outline.extension(oid),
  };
}

function libraryReader(der: Uint8Array): CertificateReader {
  let cert: LibraryCertificate;
  try {
    cert = new LibraryCertificate(bufferSource(der));
  } catch (cause) {
    throw new CertkeepError('CERT_INVALID', 'not a valid X.509 certificate', undefined, { cause });
  }
  return {
    serialDer: serialNumberContent(der),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    subjectName: cert.subjectName,
    issuerName: cert.issuerName,
    spki: new Uint8Array(cert.publicKey.rawData),
    extension: (oid, type) => cert.extension(oid, type),
  };
}

/**
 * The library's certificate, with its extensions read one at a time, as they are asked for: its
 * own `extensions` builds every extension of the certificate on first use (a leaf's signed
 * certificate timestamps among them).
 */
class LibraryCertificate extends x509.X509Certificate {
  extension<T extends x509.Extension>(oid: string, type: new (raw: BufferSource) => T): T | undefined {
    const found = this.asn.tbsCertificate.extensions?.find((e) => e.extnID === oid);
    return found ? new type(AsnConvert.serialize(found)) : undefined;
  }
}

/** For the test that holds the two ways of reading a certificate to the same fields. */
export const readCertificateFields = {
  byOutline(der: Uint8Array): CertificateFields | null {
    const outline = certificateOutline(der);
    return outline && fieldsFrom(outlineReader(outline));
  },
  byLibrary: (der: Uint8Array): CertificateFields => fieldsFrom(libraryReader(der)),
};

/** Issuer certificates kept parsed: a handful per CA (intermediates, cross-signs). */
const ISSUER_CACHE_SIZE = 16;
const issuerCache = new Map<string, Promise<Readonly<ParsedCertificate>>>();

/**
 * parseCertificate for the issuer certificates of a chain: every certificate a CA issues comes
 * with the same few intermediates, so they are parsed once and kept, up to ISSUER_CACHE_SIZE
 * (the least recently used goes). Keyed by the exact text; a parse that fails is not kept. The
 * result is shared: read it, never change it.
 */
export function parseIssuerCertificate(pem: string): Promise<Readonly<ParsedCertificate>> {
  let parsed = issuerCache.get(pem);
  if (parsed) issuerCache.delete(pem);
  else {
    parsed = parseCertificate(pem).then((c) => Object.freeze(c));
    parsed.catch(() => issuerCache.delete(pem));
  }
  issuerCache.set(pem, parsed);
  if (issuerCache.size > ISSUER_CACHE_SIZE) issuerCache.delete(issuerCache.keys().next().value!);
  return parsed;
}

/**
 * Every certificate of a PEM chain, in the order given (leaf first from an ACME CA);
 * [] when the text holds none, so that the caller decides what an empty chain means.
 */
export async function parseChain(pem: string): Promise<ParsedCertificate[]> {
  return Promise.all(splitCertificates(pem).map((certificate) => parseCertificate(certificate)));
}

/** Whether `cert` certifies the public key of `keyPair` (compares SubjectPublicKeyInfo DER). */
export async function publicKeyMatches(cert: ParsedCertificate, keyPair: CryptoKeyPair): Promise<boolean> {
  return timingSafeEqual(cert.publicKey.spki, await exportPublicSpki(keyPair.publicKey));
}

export interface SelfSignedOptions {
  keyPair: CryptoKeyPair;
  commonName: string;
  /** DNS names and IP addresses; the common name is used when none are given. */
  altNames?: string[];
  days: number;
}

/** A self-signed TLS server certificate, PEM. */
export async function createSelfSignedCertificate({ keyPair, commonName, altNames, days }: SelfSignedOptions): Promise<string> {
  const names = altNames?.length ? altNames : [commonName];
  const isRsa = keyTypeOf(keyPair.privateKey).startsWith('rsa');
  const usages = x509.KeyUsageFlags.digitalSignature | (isRsa ? x509.KeyUsageFlags.keyEncipherment : 0);
  // An hour of back-dating absorbs clock skew between this host and its clients.
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [commonName] }],
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * 24 * 60 * 60 * 1000),
    keys: keyPair,
    signingAlgorithm: signatureParams(keyPair.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usages, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: isIpAddress(value) ? ('ip' as const) : ('dns' as const), value }))),
      await x509.SubjectKeyIdentifierExtension.create(keyPair.publicKey),
    ],
  });
  return pemEncode('CERTIFICATE', new Uint8Array(cert.rawData));
}

function firstCertificateDer(pem: string): Uint8Array {
  const block = pemDecode(pem).find((candidate) => candidate.label === 'CERTIFICATE');
  if (!block) throw new CertkeepError('PEM_INVALID', 'no CERTIFICATE block in the PEM text');
  return block.der;
}

/**
 * The serial INTEGER's content octets exactly as encoded (RFC 5280 §4.1: the first field of
 * tbsCertificate after the optional [0] version). Read here because the x509 library drops the
 * leading zero byte that a serial with its top bit set carries, and ARI needs it.
 */
function serialNumberContent(der: Uint8Array): Uint8Array {
  const tbs = readDerSequence(der)?.[0];
  const fields = tbs ? readDerChildren(tbs.content) : null;
  const serial = fields?.[0]?.tag === 0xa0 ? fields[1] : fields?.[0];
  if (serial?.tag !== DER_TAG.INTEGER || serial.content.length === 0) {
    throw new CertkeepError('CERT_INVALID', 'certificate has no readable serial number');
  }
  return serial.content.slice();
}

function optionalHex(hex: string | undefined): Uint8Array | undefined {
  return hex ? fromHex(hex) : undefined;
}

function subjectAltNames(cert: CertificateReader): string[] {
  const san = cert.extension(id_ce_subjectAltName, x509.SubjectAlternativeNameExtension);
  return (san?.names.items ?? [])
    .filter((name) => name.type === 'dns' || name.type === 'ip')
    .map((name) => name.value);
}

function crlDistributionPoints(cert: CertificateReader): string[] {
  const extension = cert.extension(id_ce_cRLDistributionPoints, x509.CRLDistributionPointsExtension);
  // Array.from: the library's list is an Array subclass, and flatMap would keep its class.
  return Array.from(extension?.distributionPoints ?? [])
    .flatMap((point) => point.distributionPoint?.fullName ?? [])
    .flatMap((name) => (name.uniformResourceIdentifier ? [name.uniformResourceIdentifier] : []));
}

/** RFC 5280 §4.2.2.1 authorityInfoAccess URIs of one access method. */
function accessUrls(extension: x509.AuthorityInfoAccessExtension | undefined, method: 'ocsp' | 'caIssuers'): string[] {
  return (extension?.[method] ?? []).filter((name) => name.type === 'url').map((name) => name.value);
}

const EC_KEY_TYPES: Record<string, KeyType> = { 'P-256': 'ec-p256', 'P-384': 'ec-p384' };

function describePublicKey(spki: Uint8Array): CertificatePublicKey {
  const info = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  const algorithm = describeKeyAlgorithm(info.algorithm);
  switch (algorithm.kind) {
    case 'EC':
      return { spki, keyType: EC_KEY_TYPES[algorithm.namedCurve], description: `EC ${algorithm.namedCurve}` };
    case 'RSA': {
      const bits = rsaModulusBits(info.subjectPublicKey);
      const keyType = `rsa-${bits}`;
      return { spki, keyType: isKeyType(keyType) ? keyType : undefined, description: `RSA ${bits}` };
    }
    default:
      return { spki, description: algorithm.name };
  }
}

function rsaModulusBits(rsaPublicKey: ArrayBuffer): number {
  const modulus = new Uint8Array(AsnConvert.parse(rsaPublicKey, RSAPublicKey).modulus);
  const start = modulus.findIndex((byte) => byte !== 0);
  if (start < 0) return 0;
  return (modulus.length - start - 1) * 8 + (32 - Math.clz32(modulus[start]));
}

/** 16 random bytes, first byte 0x40–0x7f: positive, no leading zero (RFC 5280 §4.1.2.2). */
function randomSerial(): string {
  const serial = randomBytes(16);
  serial[0] = 0x40 | (serial[0] & 0x3f);
  return toHex(serial);
}

function isIpAddress(value: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(value) || value.includes(':');
}
