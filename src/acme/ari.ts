// ACME Renewal Information (RFC 9773): the certificate identifier that names a certificate to
// the CA's renewalInfo resource and to newOrder's `replaces`, and the reading of its answer.

import { x509 } from '../crypto/x509.ts';
import { CertkeepError } from '../errors.ts';
import { fromHex, toBase64Url } from '../util/encoding.ts';
import { AcmeBadResponseError } from './errors.ts';
import type { AcmeRenewalInfoBody } from './types.ts';

/** What renewalInfo says about one certificate (RFC 9773 §4.2, §4.3). */
export interface RenewalInfo {
  suggestedWindow: { start: Date; end: Date };
  explanationURL?: string;
  /** When to ask again (the response's Retry-After, §4.3). */
  retryAfterMs?: number;
}

/**
 * RFC 9773 §4.1: base64url(keyIdentifier of the Authority Key Identifier extension) "."
 * base64url(the serial number's DER content octets, with the leading zero a positive serial
 * whose top bit is set carries).
 */
export function certificateIdentifier(cert: string | Uint8Array): string {
  let parsed: InstanceType<typeof x509.X509Certificate>;
  try {
    parsed = new x509.X509Certificate(typeof cert === 'string' ? cert : new Uint8Array(cert));
  } catch (cause) {
    throw new CertkeepError('CERT_INVALID', 'not a readable X.509 certificate', undefined, { cause });
  }
  const keyId = parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
  if (!keyId) throw new CertkeepError('CERT_INVALID', 'the certificate has no authority key identifier');
  return `${toBase64Url(fromHex(keyId))}.${toBase64Url(serialContentOctets(parsed.serialNumber))}`;
}

/**
 * The DER INTEGER content octets of a serial that @peculiar/x509 hands out as hex with the
 * sign octet stripped: the minimal big-endian bytes, plus a 0x00 when the top bit is set
 * (X.690 §8.3.2; serials are positive, RFC 5280 §4.1.2.2).
 */
function serialContentOctets(hex: string): Uint8Array {
  let digits = hex.replace(/^(00)+/, '');
  if (digits.length % 2) digits = `0${digits}`;
  if (digits === '' || parseInt(digits.slice(0, 2), 16) >= 0x80) digits = `00${digits}`;
  return fromHex(digits);
}

/** RFC 9773 §4.2: the renewalInfo URL of a certificate identifier. */
export function renewalInfoUrl(renewalInfoBase: string, identifier: string): string {
  return `${renewalInfoBase.replace(/\/+$/, '')}/${identifier}`;
}

/** RFC 9773 §4.2: a renewalInfo body as dates; a window that is not one is a bad response. */
export function parseRenewalInfo(body: AcmeRenewalInfoBody, url: string, retryAfterMs?: number): RenewalInfo {
  const start = new Date(body.suggestedWindow.start);
  const end = new Date(body.suggestedWindow.end);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end.getTime() < start.getTime()) {
    throw new AcmeBadResponseError(`${url}: suggestedWindow is not a time window`, { url });
  }
  return {
    suggestedWindow: { start, end },
    ...(typeof body.explanationURL === 'string' && { explanationURL: body.explanationURL }),
    ...(retryAfterMs !== undefined && { retryAfterMs }),
  };
}
