// Certificate and account key pairs on WebCrypto: generate, export, import, identify.
// Five key types cover what CAs accept and clients expect (CA/B Forum BR §6.1.5):
// ECDSA on P-256 and P-384, and RSA of 2048, 3072 or 4096 bits signing with PKCS#1 v1.5.

import { CertkeepError } from '../errors.ts';
import { fromUtf8, utf8 } from '../util/encoding.ts';
import { bufferSource } from './bytes.ts';
import { pemDecode, pemEncode } from './pem.ts';
import { ecJwkFromPkcs8, pkcs1ToPkcs8, pkcs8Algorithm, sec1ToPkcs8, sniffPrivateKeyFormat, type KeyAlgorithm } from './pkcs8.ts';

export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

export const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'];

/** A private key brought in from outside, with what we learned about it. */
export interface ImportedKey {
  type: KeyType;
  keyPair: CryptoKeyPair;
  /** The key re-exported as PKCS#8 DER: the form we store. */
  pkcs8: Uint8Array;
}

type KeyParams = EcKeyImportParams | RsaHashedImportParams;

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

const IMPORT_PARAMS: Record<KeyType, KeyParams> = {
  'ec-p256': { name: 'ECDSA', namedCurve: 'P-256' },
  'ec-p384': { name: 'ECDSA', namedCurve: 'P-384' },
  'rsa-2048': RSA,
  'rsa-3072': RSA,
  'rsa-4096': RSA,
};

const RSA_BITS: Partial<Record<KeyType, number>> = { 'rsa-2048': 2048, 'rsa-3072': 3072, 'rsa-4096': 4096 };

export function isKeyType(value: unknown): value is KeyType {
  return typeof value === 'string' && (KEY_TYPES as readonly string[]).includes(value);
}

/** A fresh extractable key pair (it must be exportable so that it can be stored and served). */
export async function generateKeyPair(type: KeyType): Promise<CryptoKeyPair> {
  const bits = RSA_BITS[type];
  const params: EcKeyGenParams | RsaHashedKeyGenParams = bits
    ? { ...RSA, modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]) }
    : (IMPORT_PARAMS[type] as EcKeyGenParams);
  return crypto.subtle.generateKey(params, true, ['sign', 'verify']);
}

/** Which of our key types `key` (private or public) is; KEY_UNSUPPORTED for anything else. */
export function keyTypeOf(key: CryptoKey): KeyType {
  const algorithm = key.algorithm as Partial<EcKeyAlgorithm & RsaHashedKeyAlgorithm>;
  let type: string | undefined;
  if (algorithm.name === 'ECDSA') {
    type = { 'P-256': 'ec-p256', 'P-384': 'ec-p384' }[algorithm.namedCurve ?? ''];
  } else if (algorithm.name === RSA.name && algorithm.hash?.name === RSA.hash) {
    type = `rsa-${algorithm.modulusLength}`;
  }
  if (!isKeyType(type)) {
    throw new CertkeepError('KEY_UNSUPPORTED', `unsupported key: ${describeCryptoKey(algorithm)}`);
  }
  return type;
}

function describeCryptoKey(algorithm: Partial<EcKeyAlgorithm & RsaHashedKeyAlgorithm>): string {
  return [algorithm.name, algorithm.namedCurve, algorithm.modulusLength && `${algorithm.modulusLength} bits`]
    .filter(Boolean)
    .join(' ');
}

/**
 * The signature parameters that go with a key: ECDSA hashes match the curve size
 * (RFC 5480 §4 — P-256 with SHA-256, P-384 with SHA-384); RSA uses the hash bound at import.
 */
export function signatureParams(key: CryptoKey): Algorithm | EcdsaParams {
  switch (keyTypeOf(key)) {
    case 'ec-p256': return { name: 'ECDSA', hash: 'SHA-256' };
    case 'ec-p384': return { name: 'ECDSA', hash: 'SHA-384' };
    default: return { name: RSA.name, hash: RSA.hash } as Algorithm;
  }
}

/** PKCS#8 PrivateKeyInfo DER (RFC 5208 §5). */
export async function exportPkcs8(privateKey: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('pkcs8', privateKey));
}

/** PKCS#8 as PEM, label PRIVATE KEY (RFC 7468 §10). */
export async function exportPrivateKeyPem(privateKey: CryptoKey): Promise<string> {
  return pemEncode('PRIVATE KEY', await exportPkcs8(privateKey));
}

/** SubjectPublicKeyInfo DER (RFC 5280 §4.1.2.7). */
export async function exportPublicSpki(publicKey: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('spki', publicKey));
}

/**
 * A key pair from PKCS#8 we wrote ourselves (exportPkcs8 of a generated or imported key).
 * With `type` the algorithm is not re-read from the DER; the result is still checked against it.
 */
export async function keyFromPkcs8(pkcs8: Uint8Array, type?: KeyType): Promise<CryptoKeyPair> {
  const params = type ? IMPORT_PARAMS[type] : importParamsFor(pkcs8Algorithm(pkcs8));
  const keyPair = (await importEcJwk(pkcs8, params)) ?? (await importPkcs8(pkcs8, params));
  const actual = keyTypeOf(keyPair.privateKey);
  if (type && actual !== type) {
    throw new CertkeepError('KEY_INVALID', `stored key is ${actual}, expected ${type}`);
  }
  return keyPair;
}

/**
 * A private key from outside: PEM (PKCS#8, PKCS#1 or SEC1, the last optionally after an
 * EC PARAMETERS block) or DER of the same three, told apart by their ASN.1 shape.
 * Encrypted keys, other curves and other RSA sizes are KEY_UNSUPPORTED; anything that is not
 * a key is PEM_INVALID or KEY_INVALID.
 */
export async function importPrivateKey(input: string | Uint8Array): Promise<ImportedKey> {
  const source = typeof input === 'string' ? privateKeyFromPem(input)
    : looksLikePem(input) ? privateKeyFromPem(fromUtf8(input))
    : { der: input };
  const pkcs8 = toPkcs8(source);
  const keyPair = await importPkcs8(pkcs8, importParamsFor(pkcs8Algorithm(pkcs8)));
  const type = keyTypeOf(keyPair.privateKey);
  await assertPairSigns(keyPair);
  return { type, keyPair, pkcs8: await exportPkcs8(keyPair.privateKey) };
}

/** Uploaded files may be PEM bytes. Every DER key starts with a SEQUENCE tag (0x30). */
function looksLikePem(bytes: Uint8Array): boolean {
  return bytes[0] !== 0x30 && fromUtf8(bytes.subarray(0, 4096)).includes('-----BEGIN ');
}

interface KeyDer {
  der: Uint8Array;
  /** From a preceding EC PARAMETERS block, for a SEC1 key that leaves its curve out. */
  ecParameters?: Uint8Array;
}

const KEY_LABELS = ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY'];

function privateKeyFromPem(text: string): KeyDer {
  // RFC 1421 encryption headers (openssl's "traditional" encrypted keys) before pemDecode
  // would call them bad base64: the user should hear "encrypted", not "broken".
  if (/Proc-Type:\s*4,\s*ENCRYPTED/i.test(text)) {
    throw new CertkeepError('KEY_UNSUPPORTED', 'encrypted private keys are not supported; decrypt it first');
  }
  const blocks = pemDecode(text);
  const keys = blocks.filter((block) => KEY_LABELS.includes(block.label));
  if (keys.length === 0) throw new CertkeepError('PEM_INVALID', 'no private key found in the PEM text');
  if (keys.length > 1) throw new CertkeepError('PEM_INVALID', 'the PEM text holds more than one private key');
  const [key] = keys;
  if (key.label === 'ENCRYPTED PRIVATE KEY') {
    throw new CertkeepError('KEY_UNSUPPORTED', 'encrypted private keys are not supported; decrypt it first');
  }
  return { der: key.der, ecParameters: blocks.find((block) => block.label === 'EC PARAMETERS')?.der };
}

function toPkcs8({ der, ecParameters }: KeyDer): Uint8Array {
  switch (sniffPrivateKeyFormat(der)) {
    case 'pkcs8': return der;
    case 'pkcs1': return pkcs1ToPkcs8(der);
    case 'sec1': return sec1ToPkcs8(der, ecParameters);
    case 'pkcs8-encrypted':
      throw new CertkeepError('KEY_UNSUPPORTED', 'encrypted private keys are not supported; decrypt it first');
    default:
      throw new CertkeepError('KEY_INVALID', 'not a PKCS#8, PKCS#1 or SEC1 private key');
  }
}

function importParamsFor(algorithm: KeyAlgorithm): KeyParams {
  if (algorithm.kind === 'RSA') return RSA;
  if (algorithm.kind === 'EC' && (algorithm.namedCurve === 'P-256' || algorithm.namedCurve === 'P-384')) {
    return { name: 'ECDSA', namedCurve: algorithm.namedCurve };
  }
  const what = algorithm.kind === 'EC' ? `EC curve ${algorithm.namedCurve}` : algorithm.name;
  throw new CertkeepError('KEY_UNSUPPORTED', `unsupported key algorithm: ${what} (use P-256, P-384 or RSA 2048/3072/4096)`);
}

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'key_ops'] as const;

/**
 * Imports the private key and derives its public half. PKCS#8 need not carry the public key
 * (SEC1's is optional, RSA's is implied), so it is recomputed via JWK, which every runtime's
 * export fills in: drop the private members and import what is left.
 */
async function importPkcs8(pkcs8: Uint8Array, params: KeyParams): Promise<CryptoKeyPair> {
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey('pkcs8', bufferSource(pkcs8), params, true, ['sign']);
  } catch (cause) {
    throw new CertkeepError('KEY_INVALID', 'the private key could not be read', undefined, { cause });
  }
  const jwk = await crypto.subtle.exportKey('jwk', privateKey);
  for (const member of PRIVATE_JWK_MEMBERS) delete jwk[member];
  const publicKey = await crypto.subtle.importKey('jwk', jwk, params, true, ['verify']);
  return { privateKey, publicKey };
}

/**
 * An EC key pair from the JWK its PKCS#8 holds (ecJwkFromPkcs8), or null when it is not an EC key,
 * its PKCS#8 does not carry the public point, or the runtime does not take the JWK: the caller
 * then imports the PKCS#8, which says what is wrong with a key that is really damaged.
 */
async function importEcJwk(pkcs8: Uint8Array, params: KeyParams): Promise<CryptoKeyPair | null> {
  if (!('namedCurve' in params) || (params.namedCurve !== 'P-256' && params.namedCurve !== 'P-384')) return null;
  const jwk = ecJwkFromPkcs8(pkcs8, params.namedCurve);
  if (!jwk) return null;
  const { d: _d, ...publicJwk } = jwk;
  try {
    const [privateKey, publicKey] = await Promise.all([
      crypto.subtle.importKey('jwk', jwk, params, true, ['sign']),
      crypto.subtle.importKey('jwk', publicJwk, params, true, ['verify']),
    ]);
    return { privateKey, publicKey };
  } catch {
    return null;
  }
}

/** A key whose parts do not belong together (a damaged RSA key) still imports; it cannot sign. */
async function assertPairSigns({ privateKey, publicKey }: CryptoKeyPair): Promise<void> {
  const data = bufferSource(utf8('certkeep key check'));
  const params = signatureParams(privateKey);
  try {
    const signature = await crypto.subtle.sign(params, privateKey, data);
    if (await crypto.subtle.verify(params, publicKey, signature, data)) return;
  } catch (cause) {
    throw new CertkeepError('KEY_INVALID', 'the private key cannot sign', undefined, { cause });
  }
  throw new CertkeepError('KEY_INVALID', 'the private key is inconsistent (its signatures do not verify)');
}
