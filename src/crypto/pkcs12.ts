// PKCS#12 (RFC 7292): the password-protected bundle of key, leaf and chain that Windows, Java
// keystores and many appliances import — the download API's `format=pfx` (SPEC §5).
//
// The layout is the one `openssl pkcs12 -export` (OpenSSL 3) writes by default, so every tool
// that reads OpenSSL's files reads ours:
//
//   PFX (§4)                         version 3
//   └ authSafe: ContentInfo data      AuthenticatedSafe (§4.1), protected by the MAC below
//     ├ ContentInfo encryptedData     PBES2-encrypted SafeContents: one certBag per certificate,
//     │                               leaf first; the leaf's bag carries localKeyId (+friendlyName)
//     └ ContentInfo data              SafeContents: one pkcs8ShroudedKeyBag (§4.2.2), PBES2,
//                                     with the same localKeyId (+friendlyName)
//   └ macData (§5.2)                  HMAC-SHA-256 over the AuthenticatedSafe DER, keyed by the
//                                     PKCS#12 KDF (Appendix B) with ID 3
//
// PBES2 (RFC 8018 §6.2) is PBKDF2-HMAC-SHA-256 into AES-256-CBC; it takes the password as
// UTF-8 bytes, as OpenSSL 3 does. The MAC's KDF takes it as a BMPString (UTF-16BE) with a
// two-byte terminator (Appendix B.1). WebCrypto has PBKDF2, AES-CBC and HMAC but not that KDF,
// so it is written out here on top of crypto.subtle.digest.

import { AsnConvert, AsnProp, AsnPropTypes, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { DigestInfo } from '@peculiar/asn1-rsa';
import { ContentInfo, EncryptedContent, EncryptedContentInfo, id_data, id_encryptedData } from '@peculiar/asn1-cms';
import {
  AuthenticatedSafe,
  CertBag,
  MacData,
  PFX,
  PKCS12Attribute,
  PKCS8ShroudedKeyBag,
  SafeBag,
  SafeContents,
  id_certBag,
  id_pkcs8ShroudedKeyBag,
  id_x509Certificate,
} from '@peculiar/asn1-pfx';
import { FriendlyName, LocalKeyId, id_pkcs9_at_friendlyName, id_pkcs9_at_localKeyId } from '@peculiar/asn1-pkcs9';
import { CertkeepError } from '../errors.ts';
import { concatBytes, randomBytes, utf8 } from '../util/encoding.ts';
import { bufferSource } from './bytes.ts';
import { readDerSequence } from './der.ts';
import { pkcs8Algorithm } from './pkcs8.ts';

export interface Pkcs12Options {
  /** The private key, PKCS#8 PrivateKeyInfo DER. */
  pkcs8: Uint8Array;
  /** DER certificates, leaf first, then the chain in the order the CA sent it. */
  certificates: Uint8Array[];
  /** May be empty: some tools insist on a PFX without a password. */
  password: string;
  /** Shown by Windows' certificate store and keytool as the entry's name. */
  friendlyName?: string;
  /** For PBKDF2 and the MAC KDF alike; OpenSSL 3's default is 2048. */
  iterations?: number;
}

const DEFAULT_ITERATIONS = 2048;
/** workerd refuses PBKDF2 above 100 000 iterations; a PFX we make must be makeable on both hosts. */
const MAX_ITERATIONS = 100_000;
/** RFC 8018 §4.1 asks for at least 8 bytes; NIST SP 800-132 §5.1 for 16. */
const PBKDF2_SALT_BYTES = 16;
const AES_CBC_IV_BYTES = 16;
/** As long as the HMAC-SHA-256 key it salts. */
const MAC_SALT_BYTES = 32;

const OID = {
  pbes2: '1.2.840.113549.1.5.13', // RFC 8018 §A.4
  pbkdf2: '1.2.840.113549.1.5.12', // RFC 8018 §A.2
  hmacWithSHA256: '1.2.840.113549.2.9', // RFC 8018 §B.1.2
  aes256Cbc: '2.16.840.1.101.3.4.1.42', // RFC 8018 §B.2.5 / NIST CSOR
  sha256: '2.16.840.1.101.3.4.2.1', // RFC 5754 §2.2
} as const;

/**
 * A PFX holding the key, the leaf and its chain, encrypted and MACed with `password`.
 * Throws KEY_INVALID for a key that is not PKCS#8, CERT_INVALID for no or non-DER certificates,
 * BAD_REQUEST for an iteration count out of range or a password that is not valid Unicode.
 */
export async function createPkcs12(options: Pkcs12Options): Promise<Uint8Array> {
  const { pkcs8, certificates, password, friendlyName } = options;
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  checkInputs(options, iterations);

  // OpenSSL's choice of local key ID: the SHA-1 of the leaf certificate. It only has to be the
  // same on the key and on its certificate, so that readers can pair them.
  const localKeyId = new Uint8Array(await crypto.subtle.digest('SHA-1', bufferSource(certificates[0])));
  const attributes = bagAttributes(localKeyId, friendlyName);
  const passwordUtf8 = utf8(password);

  const certBags = certificates.map((der, index) => certificateBag(der, index === 0 ? attributes : undefined));
  const certSafe = await encryptedContentInfo(serialize(new SafeContents(certBags)), passwordUtf8, iterations);
  const keyBag = await shroudedKeyBag(pkcs8, passwordUtf8, iterations, attributes);
  const keySafe = dataContentInfo(serialize(new SafeContents([keyBag])));

  const authenticatedSafe = serialize(new AuthenticatedSafe([certSafe, keySafe]));
  const pfx = new PFX({
    version: 3,
    authSafe: dataContentInfo(authenticatedSafe),
    macData: await macData(authenticatedSafe, password, iterations),
  });
  return serialize(pfx);
}

function checkInputs({ pkcs8, certificates, password }: Pkcs12Options, iterations: number): void {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new CertkeepError('BAD_REQUEST', `PKCS#12 iteration count must be an integer from 1 to ${MAX_ITERATIONS}`);
  }
  // A lone surrogate would become U+FFFD in UTF-8 but stay itself in the BMPString, so the
  // encryption and the MAC would disagree about what the password is.
  if (/\p{Cs}/u.test(password)) {
    throw new CertkeepError('BAD_REQUEST', 'the PKCS#12 password is not valid Unicode text');
  }
  pkcs8Algorithm(pkcs8); // KEY_INVALID unless it parses as PKCS#8
  if (certificates.length === 0) {
    throw new CertkeepError('CERT_INVALID', 'a PKCS#12 file needs at least the leaf certificate');
  }
  if (certificates.some((der) => readDerSequence(der) === null)) {
    throw new CertkeepError('CERT_INVALID', 'a certificate for the PKCS#12 file is not DER');
  }
}

// --- Bags (RFC 7292 §4.2) ---------------------------------------------------------------------

/** localKeyId and, when given, friendlyName (PKCS#9, RFC 2985 §5.5.1–2). */
function bagAttributes(localKeyId: Uint8Array, friendlyName?: string): PKCS12Attribute[] {
  const attributes = [attribute(id_pkcs9_at_localKeyId, new LocalKeyId(localKeyId))];
  if (friendlyName) attributes.unshift(attribute(id_pkcs9_at_friendlyName, new FriendlyName(friendlyName)));
  return attributes;
}

function attribute(attrId: string, value: object): PKCS12Attribute {
  // Assigned, not passed: PKCS12Attribute's constructor drops its parameters (asn1-pfx 2.x).
  const result = new PKCS12Attribute();
  result.attrId = attrId;
  result.attrValues = [AsnConvert.serialize(value)];
  return result;
}

/** §4.2.3: an X.509 certificate, DER inside an OCTET STRING. */
function certificateBag(der: Uint8Array, attributes?: PKCS12Attribute[]): SafeBag {
  const certBag = new CertBag({ certId: id_x509Certificate, certValue: AsnConvert.serialize(new OctetString(der)) });
  return new SafeBag({ bagId: id_certBag, bagValue: AsnConvert.serialize(certBag), bagAttributes: attributes });
}

/** §4.2.2: the key as PKCS#8 EncryptedPrivateKeyInfo (RFC 5208 §6). */
async function shroudedKeyBag(pkcs8: Uint8Array, password: Uint8Array, iterations: number, attributes: PKCS12Attribute[]): Promise<SafeBag> {
  const { algorithm, ciphertext } = await pbes2Encrypt(pkcs8, password, iterations);
  const keyBag = new PKCS8ShroudedKeyBag({ encryptionAlgorithm: algorithm, encryptedData: new OctetString(ciphertext) });
  return new SafeBag({ bagId: id_pkcs8ShroudedKeyBag, bagValue: AsnConvert.serialize(keyBag), bagAttributes: attributes });
}

// --- ContentInfo (RFC 5652 §3, §6, §8) --------------------------------------------------------

function dataContentInfo(content: Uint8Array): ContentInfo {
  return new ContentInfo({ contentType: id_data, content: AsnConvert.serialize(new OctetString(content)) });
}

/**
 * RFC 5652 §8 EncryptedData. Declared here because asn1-cms has EncryptedContentInfo but not
 * the envelope around it; the properties are wired with AsnProp calls rather than decorator
 * syntax, which not every TypeScript transform on our hosts compiles.
 */
class EncryptedData {
  version = 0;
  encryptedContentInfo = new EncryptedContentInfo();
}
AsnProp({ type: AsnPropTypes.Integer })(EncryptedData.prototype, 'version');
AsnProp({ type: EncryptedContentInfo })(EncryptedData.prototype, 'encryptedContentInfo');

async function encryptedContentInfo(content: Uint8Array, password: Uint8Array, iterations: number): Promise<ContentInfo> {
  const { algorithm, ciphertext } = await pbes2Encrypt(content, password, iterations);
  const encrypted = new EncryptedData();
  encrypted.encryptedContentInfo = new EncryptedContentInfo({
    contentType: id_data,
    contentEncryptionAlgorithm: algorithm,
    encryptedContent: new EncryptedContent({ value: new OctetString(ciphertext) }),
  });
  return new ContentInfo({ contentType: id_encryptedData, content: AsnConvert.serialize(encrypted) });
}

// --- PBES2 (RFC 8018 §6.2, §A.2, §A.4) --------------------------------------------------------

/** PBKDF2-params; keyLength is left out, as AES-256 fixes it. */
class Pbkdf2Params {
  salt = new OctetString();
  iterationCount = 0;
  prf = new AlgorithmIdentifier();
}
AsnProp({ type: OctetString })(Pbkdf2Params.prototype, 'salt');
AsnProp({ type: AsnPropTypes.Integer })(Pbkdf2Params.prototype, 'iterationCount');
AsnProp({ type: AlgorithmIdentifier })(Pbkdf2Params.prototype, 'prf');

class Pbes2Params {
  keyDerivationFunc = new AlgorithmIdentifier();
  encryptionScheme = new AlgorithmIdentifier();
}
AsnProp({ type: AlgorithmIdentifier })(Pbes2Params.prototype, 'keyDerivationFunc');
AsnProp({ type: AlgorithmIdentifier })(Pbes2Params.prototype, 'encryptionScheme');

interface Encrypted {
  algorithm: AlgorithmIdentifier;
  ciphertext: Uint8Array;
}

/** Fresh salt and IV per call: the key bag and the certificate bags never share a key. */
async function pbes2Encrypt(plaintext: Uint8Array, password: Uint8Array, iterations: number): Promise<Encrypted> {
  const salt = randomBytes(PBKDF2_SALT_BYTES);
  const iv = randomBytes(AES_CBC_IV_BYTES);
  const passwordKey = await crypto.subtle.importKey('raw', bufferSource(password), 'PBKDF2', false, ['deriveKey']);
  const key = await crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    passwordKey,
    { name: 'AES-CBC', length: 256 },
    false,
    ['encrypt'],
  );
  // WebCrypto's AES-CBC pads as PKCS#7, which is the padding RFC 8018 §B.2.5 prescribes.
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CBC', iv }, key, bufferSource(plaintext)));

  const kdf = new Pbkdf2Params();
  kdf.salt = new OctetString(salt);
  kdf.iterationCount = iterations;
  kdf.prf = new AlgorithmIdentifier({ algorithm: OID.hmacWithSHA256, parameters: null });
  const params = new Pbes2Params();
  params.keyDerivationFunc = new AlgorithmIdentifier({ algorithm: OID.pbkdf2, parameters: AsnConvert.serialize(kdf) });
  params.encryptionScheme = new AlgorithmIdentifier({ algorithm: OID.aes256Cbc, parameters: AsnConvert.serialize(new OctetString(iv)) });
  return { algorithm: new AlgorithmIdentifier({ algorithm: OID.pbes2, parameters: AsnConvert.serialize(params) }), ciphertext };
}

// --- MAC (RFC 7292 §5.2, Appendix B) ----------------------------------------------------------

async function macData(authenticatedSafe: Uint8Array, password: string, iterations: number): Promise<MacData> {
  const macSalt = randomBytes(MAC_SALT_BYTES);
  const keyBytes = await derivePkcs12Key('SHA-256', bmpPassword(password), macSalt, PKCS12_KDF_ID.mac, iterations, 32);
  const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, bufferSource(authenticatedSafe));
  return new MacData({
    mac: new DigestInfo({
      digestAlgorithm: new AlgorithmIdentifier({ algorithm: OID.sha256, parameters: null }),
      digest: new OctetString(mac),
    }),
    macSalt: new OctetString(macSalt),
    iterations,
  });
}

/** Appendix B.1: the password as a BMPString — UTF-16 big-endian — plus a two-byte zero terminator. */
function bmpPassword(password: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) {
    const unit = password.charCodeAt(i);
    bytes[2 * i] = unit >> 8;
    bytes[2 * i + 1] = unit & 0xff;
  }
  return bytes;
}

/** Appendix B.3: what the derived bytes are for. */
export const PKCS12_KDF_ID = { key: 1, iv: 2, mac: 3 } as const;

/** u: digest length, v: block length, both in bytes (Appendix B.2). */
const KDF_HASHES = {
  'SHA-1': { u: 20, v: 64 },
  'SHA-256': { u: 32, v: 64 },
} as const;

/**
 * The PKCS#12 key derivation function (RFC 7292 Appendix B.2), `length` bytes. `password` is
 * already in its BMPString form with terminator (empty for "no password", Appendix B.1).
 * SHA-1 is here for the published test vectors; PFX files we write use SHA-256.
 */
export async function derivePkcs12Key(
  hash: keyof typeof KDF_HASHES,
  password: Uint8Array,
  salt: Uint8Array,
  id: number,
  iterations: number,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const { u, v } = KDF_HASHES[hash];
  const diversifier = new Uint8Array(v).fill(id); // D
  const input = concatBytes(fillBlocks(salt, v), fillBlocks(password, v)); // I = S || P
  const blocks = Math.ceil(length / u);
  const output = new Uint8Array(blocks * u);
  for (let i = 0; i < blocks; i++) {
    let a = new Uint8Array(await crypto.subtle.digest(hash, concatBytes(diversifier, input)));
    for (let round = 1; round < iterations; round++) a = new Uint8Array(await crypto.subtle.digest(hash, a));
    output.set(a, i * u);
    if (i + 1 < blocks) addToEachBlock(input, fillBlocks(a, v, v), v);
  }
  return output.slice(0, length);
}

/** `bytes` repeated to fill `length` bytes, by default the next multiple of `v` (nothing for nothing). */
function fillBlocks(bytes: Uint8Array, v: number, length = v * Math.ceil(bytes.length / v)): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = bytes[i % bytes.length];
  return out;
}

/** Step 6B: every v-byte block I_j of `input` becomes (I_j + B + 1) mod 2^(8v), big-endian. */
function addToEachBlock(input: Uint8Array, b: Uint8Array, v: number): void {
  for (let start = 0; start < input.length; start += v) {
    let carry = 1;
    for (let k = v - 1; k >= 0; k--) {
      const sum = input[start + k] + b[k] + carry;
      input[start + k] = sum & 0xff;
      carry = sum >> 8;
    }
  }
}

function serialize(value: object): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(value));
}
