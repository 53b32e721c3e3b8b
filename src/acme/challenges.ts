// What the CA checks for each challenge type: the key authorization (RFC 8555 §8.1), served
// as-is for http-01 (§8.3) and as a SHA-256 digest in a TXT record for dns-01 (§8.4).

import { sha256, toBase64Url } from '../util/encoding.ts';
import { jwkThumbprint } from './jws.ts';

/** RFC 8555 §8.1: `token || '.' || base64url(JWK thumbprint of the account key)`. */
export async function keyAuthorization(token: string, accountKey: CryptoKeyPair | CryptoKey | JsonWebKey): Promise<string> {
  const publicKey = 'publicKey' in accountKey ? accountKey.publicKey : accountKey;
  return `${token}.${await jwkThumbprint(publicKey)}`;
}

/** RFC 8555 §8.4: the TXT record value, base64url(SHA-256(key authorization)). */
export async function dns01TxtValue(keyAuthorization: string): Promise<string> {
  return toBase64Url(await sha256(keyAuthorization));
}

/** RFC 8555 §8.3: the path the CA fetches over HTTP on port 80. */
export function http01Path(token: string): string {
  return `/.well-known/acme-challenge/${token}`;
}

/** RFC 8555 §8.4: the TXT record name for an identifier; a wildcard is validated at its base name. */
export function dns01RecordName(identifier: string): string {
  return `_acme-challenge.${identifier.replace(/^\*\./, '')}`;
}
