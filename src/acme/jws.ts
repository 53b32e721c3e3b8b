// Hand-written JWS for ACME (RFC 8555 §6.2): flattened JSON serialization (RFC 7515 §7.2.2),
// signed with WebCrypto. ECDSA signatures from WebCrypto are already the raw r||s
// concatenation JWS wants (RFC 7518 §3.4), so no DER conversion is needed.

import { CertkeepError } from '../errors.ts';
import { fromBase64Url, sha256, toBase64Url, utf8 } from '../util/encoding.ts';
import type { AccountKeyAlg, AcmeProtectedHeader, FlattenedJws, PublicJwk } from './types.ts';

type SignParams = AlgorithmIdentifier | EcdsaParams;

/** RFC 7518 §3.1 `alg` for an account key: ES256 (P-256), ES384 (P-384) or RS256. */
export function accountKeyAlg(key: CryptoKey): AccountKeyAlg {
  const algorithm = key.algorithm as KeyAlgorithm & { namedCurve?: string; hash?: { name: string } };
  if (algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-256') return 'ES256';
  if (algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-384') return 'ES384';
  if (algorithm.name === 'RSASSA-PKCS1-v1_5' && algorithm.hash?.name === 'SHA-256') return 'RS256';
  throw new CertkeepError('KEY_UNSUPPORTED', 'account keys must be ECDSA P-256, ECDSA P-384 or RSASSA-PKCS1-v1_5 with SHA-256', {
    algorithm: algorithm.name,
  });
}

/** The WebCrypto parameters that produce the JWS signature for `key` (RFC 7518 §3.2–3.4). */
function signParams(key: CryptoKey): SignParams {
  if (key.algorithm.name === 'HMAC') return 'HMAC';
  const alg = accountKeyAlg(key);
  if (alg === 'RS256') return 'RSASSA-PKCS1-v1_5';
  return { name: 'ECDSA', hash: alg === 'ES256' ? 'SHA-256' : 'SHA-384' };
}

const jwkCache = new WeakMap<CryptoKey, Promise<PublicJwk>>();

/**
 * The public JWK with only the members RFC 7638 §3.2 requires, in lexicographic order, so the
 * same object serves the `jwk` header and the thumbprint input.
 */
export function publicJwk(key: CryptoKey | JsonWebKey): Promise<PublicJwk> {
  if (!isCryptoKey(key)) return Promise.resolve(requiredMembers(key));
  let cached = jwkCache.get(key);
  if (!cached) {
    if (key.type !== 'public') {
      return Promise.reject(new CertkeepError('KEY_INVALID', 'expected a public key'));
    }
    cached = crypto.subtle.exportKey('jwk', key).then(requiredMembers);
    jwkCache.set(key, cached);
    cached.catch(() => jwkCache.delete(key)); // a failure is reported, not remembered
  }
  return cached;
}

function isCryptoKey(key: CryptoKey | JsonWebKey): key is CryptoKey {
  return typeof CryptoKey !== 'undefined' ? key instanceof CryptoKey : 'algorithm' in key;
}

function requiredMembers(jwk: JsonWebKey): PublicJwk {
  if (jwk.kty === 'EC' && (jwk.crv === 'P-256' || jwk.crv === 'P-384') && jwk.x && jwk.y) {
    return { crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y };
  }
  if (jwk.kty === 'RSA' && jwk.e && jwk.n) return { e: jwk.e, kty: 'RSA', n: jwk.n };
  throw new CertkeepError('KEY_UNSUPPORTED', 'only EC P-256/P-384 and RSA public keys can be used', { kty: jwk.kty });
}

const thumbprintCache = new WeakMap<CryptoKey, Promise<string>>();

/** RFC 7638 §3: base64url(SHA-256(JSON of the required members in lexicographic order)). */
export function jwkThumbprint(publicKey: CryptoKey | JsonWebKey): Promise<string> {
  const compute = async () => toBase64Url(await sha256(JSON.stringify(await publicJwk(publicKey))));
  if (!isCryptoKey(publicKey)) return compute();
  let cached = thumbprintCache.get(publicKey);
  if (!cached) {
    cached = compute();
    thumbprintCache.set(publicKey, cached);
    cached.catch(() => thumbprintCache.delete(publicKey));
  }
  return cached;
}

/**
 * Signs `payload` (raw bytes; empty for POST-as-GET, RFC 8555 §6.3) under `header` with
 * `privateKey`, giving the flattened JSON serialization. The header is serialized once
 * and the signature covers exactly the bytes sent (RFC 7515 §5.1).
 */
export async function signFlattened(
  header: AcmeProtectedHeader | Record<string, unknown>,
  payload: Uint8Array,
  privateKey: CryptoKey,
): Promise<FlattenedJws> {
  const protectedB64 = toBase64Url(JSON.stringify(header));
  const payloadB64 = toBase64Url(payload);
  // A fresh copy gives WebCrypto the ArrayBuffer-backed view its types ask for.
  const signingInput = new Uint8Array(utf8(`${protectedB64}.${payloadB64}`));
  const signature = await crypto.subtle.sign(signParams(privateKey), privateKey, signingInput);
  return { protected: protectedB64, payload: payloadB64, signature: toBase64Url(signature) };
}

/** Something that signs one ACME request for `url` with a fresh `nonce`. */
export interface RequestSigner {
  sign(url: string, nonce: string, payload: Uint8Array): Promise<FlattenedJws>;
}

/** RFC 8555 §6.2: `jwk` form, for newAccount and revocation by the certificate key. */
export function jwkSigner(keys: CryptoKeyPair): RequestSigner {
  const alg = accountKeyAlg(keys.privateKey);
  return {
    async sign(url, nonce, payload) {
      const jwk = await publicJwk(keys.publicKey);
      return signFlattened({ alg, jwk, nonce, url }, payload, keys.privateKey);
    },
  };
}

/** RFC 8555 §6.2: `kid` form (the account URL), for every request once the account exists. */
export function kidSigner(privateKey: CryptoKey, kid: string): RequestSigner {
  const alg = accountKeyAlg(privateKey);
  return {
    sign: (url, nonce, payload) => signFlattened({ alg, kid, nonce, url }, payload, privateKey),
  };
}

/** RFC 8555 §7.3.5: the inner JWS of keyChange — signed by the new key, `jwk` header, no nonce. */
export async function signKeyChange(
  newKey: CryptoKeyPair,
  opts: { url: string; accountUrl: string; oldPublicKey: CryptoKey },
): Promise<FlattenedJws> {
  const header = { alg: accountKeyAlg(newKey.privateKey), jwk: await publicJwk(newKey.publicKey), url: opts.url };
  const payload = { account: opts.accountUrl, oldKey: await publicJwk(opts.oldPublicKey) };
  return signFlattened(header, utf8(JSON.stringify(payload)), newKey.privateKey);
}

/**
 * RFC 8555 §7.3.4: the external account binding — an HS256 JWS over the account's public JWK,
 * `kid` = the CA-issued key identifier, `url` = the newAccount URL, no nonce.
 */
export async function signExternalAccountBinding(opts: {
  kid: string;
  /** The CA-issued MAC key, base64url as CAs hand it out. */
  hmacKey: string;
  url: string;
  accountPublicKey: CryptoKey | JsonWebKey;
}): Promise<FlattenedJws> {
  let keyBytes: Uint8Array<ArrayBuffer>;
  try {
    keyBytes = new Uint8Array(fromBase64Url(opts.hmacKey));
  } catch {
    throw new CertkeepError('KEY_INVALID', 'the EAB HMAC key is not base64url');
  }
  const macKey = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const jwk = await publicJwk(opts.accountPublicKey);
  return signFlattened({ alg: 'HS256', kid: opts.kid, url: opts.url }, utf8(JSON.stringify(jwk)), macKey);
}
