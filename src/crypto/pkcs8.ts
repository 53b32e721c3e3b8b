// Private key containers and how to turn each into PKCS#8, the one form WebCrypto imports.
//   PKCS#8  PrivateKeyInfo / OneAsymmetricKey   RFC 5208 §5, RFC 5958 §2   label PRIVATE KEY
//   PKCS#8  EncryptedPrivateKeyInfo             RFC 5208 §6                label ENCRYPTED PRIVATE KEY
//   PKCS#1  RSAPrivateKey                       RFC 8017 §A.1.2            label RSA PRIVATE KEY
//   SEC1    ECPrivateKey                        RFC 5915 §3                label EC PRIVATE KEY

import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { PrivateKeyInfo } from '@peculiar/asn1-pkcs8';
import { ECParameters, ECPrivateKey, id_ecPublicKey, id_secp256r1, id_secp384r1, id_secp521r1 } from '@peculiar/asn1-ecc';
import { id_rsaEncryption } from '@peculiar/asn1-rsa';
import { CertkeepError } from '../errors.ts';
import { DER_TAG, derOidContent, isDerOid, isDerSmallInteger, readDer, readDerChildren, readDerSequence } from './der.ts';
import { toBase64Url } from '../util/encoding.ts';

export type PrivateKeyFormat = 'pkcs8' | 'pkcs8-encrypted' | 'pkcs1' | 'sec1';

/** Which container a DER private key is, from the shape of its outer SEQUENCE; null if none. */
export function sniffPrivateKeyFormat(der: Uint8Array): PrivateKeyFormat | null {
  const fields = readDerSequence(der);
  if (!fields || fields.length < 2) return null;
  const [first, second, third] = fields;
  // version 0 (RFC 5208) or 1 (RFC 5958 v2 with a public key), AlgorithmIdentifier, OCTET STRING
  if ((isDerSmallInteger(first, 0) || isDerSmallInteger(first, 1)) &&
      second.tag === DER_TAG.SEQUENCE && third?.tag === DER_TAG.OCTET_STRING) return 'pkcs8';
  // encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING
  if (fields.length === 2 && first.tag === DER_TAG.SEQUENCE && second.tag === DER_TAG.OCTET_STRING) {
    return 'pkcs8-encrypted';
  }
  // version 0, then n, e, d, p, q, dP, dQ, qInv
  if (isDerSmallInteger(first, 0) && fields.length >= 9 &&
      fields.slice(0, 9).every((field) => field.tag === DER_TAG.INTEGER)) return 'pkcs1';
  // version 1 (ecPrivkeyVer1), privateKey OCTET STRING, [0] parameters, [1] publicKey
  if (isDerSmallInteger(first, 1) && second.tag === DER_TAG.OCTET_STRING) return 'sec1';
  return null;
}

/** RFC 8017 §A.1: rsaEncryption takes NULL parameters. */
export function pkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array {
  return wrap(new AlgorithmIdentifier({ algorithm: id_rsaEncryption, parameters: null }), pkcs1);
}

/**
 * RFC 5915 §3 / RFC 5480 §2.1.1: the curve moves into the AlgorithmIdentifier. It comes from the
 * key's own [0] parameters or, when the key omits them, from a separate ECParameters structure
 * (the "EC PARAMETERS" block `openssl ecparam -genkey` writes before the key).
 */
export function sec1ToPkcs8(sec1: Uint8Array, separateParameters?: Uint8Array): Uint8Array {
  let key: ECPrivateKey;
  try {
    key = AsnConvert.parse(sec1, ECPrivateKey);
  } catch (cause) {
    throw new CertkeepError('KEY_INVALID', 'EC private key is not a valid SEC1 structure', undefined, { cause });
  }
  const curve = key.parameters ?? (separateParameters && parseEcParameters(separateParameters));
  if (!curve) throw new CertkeepError('KEY_INVALID', 'EC private key does not say which curve it is on');
  if (!curve.namedCurve) throw new CertkeepError('KEY_UNSUPPORTED', 'EC keys with explicit curve parameters are not supported');
  const parameters = AsnConvert.serialize(new ECParameters({ namedCurve: curve.namedCurve }));
  return wrap(new AlgorithmIdentifier({ algorithm: id_ecPublicKey, parameters }), sec1);
}

function parseEcParameters(der: Uint8Array): ECParameters | undefined {
  try {
    return AsnConvert.parse(der, ECParameters);
  } catch {
    return undefined;
  }
}

function wrap(privateKeyAlgorithm: AlgorithmIdentifier, privateKey: Uint8Array): Uint8Array {
  const info = new PrivateKeyInfo({ privateKeyAlgorithm, privateKey: new OctetString(privateKey) });
  return new Uint8Array(AsnConvert.serialize(info));
}

/** What an AlgorithmIdentifier of a PKCS#8 or SubjectPublicKeyInfo says about its key. */
export type KeyAlgorithm =
  | { kind: 'EC'; namedCurve: string }
  | { kind: 'RSA' }
  | { kind: 'other'; name: string };

const CURVE_NAMES: Record<string, string> = {
  [id_secp256r1]: 'P-256',
  [id_secp384r1]: 'P-384',
  [id_secp521r1]: 'P-521',
};

const OTHER_NAMES: Record<string, string> = {
  '1.3.101.110': 'X25519',
  '1.3.101.111': 'X448',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.10040.4.1': 'DSA',
};

/** RFC 5480 §2.1.1 (EC: the named curve is the parameter) and RFC 8017 §A.1 (RSA). */
export function describeKeyAlgorithm(algorithm: AlgorithmIdentifier): KeyAlgorithm {
  if (algorithm.algorithm === id_rsaEncryption) return { kind: 'RSA' };
  if (algorithm.algorithm === id_ecPublicKey) {
    const oid = algorithm.parameters ? parseEcParameters(new Uint8Array(algorithm.parameters))?.namedCurve : undefined;
    return { kind: 'EC', namedCurve: oid ? (CURVE_NAMES[oid] ?? oid) : 'explicit parameters' };
  }
  return { kind: 'other', name: OTHER_NAMES[algorithm.algorithm] ?? algorithm.algorithm };
}

/** The algorithm of a PKCS#8 PrivateKeyInfo. */
export function pkcs8Algorithm(pkcs8: Uint8Array): KeyAlgorithm {
  let info: PrivateKeyInfo;
  try {
    info = AsnConvert.parse(pkcs8, PrivateKeyInfo);
  } catch (cause) {
    throw new CertkeepError('KEY_INVALID', 'private key is not a valid PKCS#8 structure', undefined, { cause });
  }
  return describeKeyAlgorithm(info.privateKeyAlgorithm);
}

/** Bytes of a private scalar and of each public coordinate, per curve (SEC 1 §2.3.7). */
const EC_FIELD_BYTES = { 'P-256': 32, 'P-384': 48 } as const;

/** The OIDs of an EC key's AlgorithmIdentifier (RFC 5480 §2.1.1, §2.1.1.1), as content octets. */
const OID_EC_PUBLIC_KEY = derOidContent(id_ecPublicKey);
const OID_CURVE: Record<keyof typeof EC_FIELD_BYTES, Uint8Array> = { 'P-256': derOidContent(id_secp256r1), 'P-384': derOidContent(id_secp384r1) };

/**
 * The JWK of an EC key whose PKCS#8 carries its public point, or null. WebCrypto's own export
 * writes the point (RFC 5915 §3, `[1] publicKey`) beside the private scalar; importing the two as
 * a JWK costs about half of importing the PKCS#8 and deriving the public key from it (OpenSSL's
 * decoder). Only for PKCS#8 Certkeep wrote itself (the curve is the one stored with the key);
 * anything but an EC key on that curve, in the expected shape and sizes, gives null (the caller
 * then imports the PKCS#8).
 */
export function ecJwkFromPkcs8(pkcs8: Uint8Array, namedCurve: keyof typeof EC_FIELD_BYTES): JsonWebKey | null {
  const size = EC_FIELD_BYTES[namedCurve];
  // PrivateKeyInfo: version, AlgorithmIdentifier, privateKey OCTET STRING (an ECPrivateKey)
  const info = readDerSequence(pkcs8);
  if (!info || info.length < 3 || info[1].tag !== DER_TAG.SEQUENCE || info[2].tag !== DER_TAG.OCTET_STRING) return null;
  // id-ecPublicKey on this named curve, and nothing else
  const algorithm = readDerChildren(info[1].content);
  if (!algorithm || algorithm.length !== 2 || !isDerOid(algorithm[0], OID_EC_PUBLIC_KEY) || !isDerOid(algorithm[1], OID_CURVE[namedCurve])) return null;
  // ECPrivateKey: version 1, privateKey OCTET STRING, [0] parameters OPTIONAL, [1] publicKey OPTIONAL
  const key = readDerSequence(info[2].content);
  if (!key || !isDerSmallInteger(key[0], 1) || key[1]?.tag !== DER_TAG.OCTET_STRING || key[1].content.length !== size) return null;
  const wrapped = key.slice(2).find((element) => element.tag === 0xa1);
  const bits = wrapped && readDer(wrapped.content);
  if (!bits || bits.tag !== DER_TAG.BIT_STRING || bits.end !== wrapped.content.length) return null;
  // No unused bits, then the uncompressed point: 04 || x || y.
  const point = bits.content;
  if (point.length !== 2 + 2 * size || point[0] !== 0 || point[1] !== 0x04) return null;
  return {
    kty: 'EC',
    crv: namedCurve,
    d: toBase64Url(key[1].content),
    x: toBase64Url(point.subarray(2, 2 + size)),
    y: toBase64Url(point.subarray(2 + size)),
    ext: true,
  };
}
