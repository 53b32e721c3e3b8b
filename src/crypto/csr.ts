// PKCS#10 certificate signing requests (RFC 2986) for ACME finalize (RFC 8555 §7.4):
// every name goes into subjectAltName as a dNSName; the CN, if any, repeats one of them.

import { CertkeepError } from '../errors.ts';
import { signatureParams } from './keys.ts';
import { x509 } from './x509.ts';

/** Optional subject attributes. CAs such as Let's Encrypt ignore all but CN. */
export interface CsrSubject {
  CN?: string;
  O?: string;
  OU?: string;
  C?: string;
  ST?: string;
  L?: string;
}

export interface CreateCsrOptions {
  keyPair: CryptoKeyPair;
  domains: string[];
  subject?: CsrSubject;
}

/** RFC 5280 Appendix A.1: ub-common-name INTEGER ::= 64. */
const MAX_CN_LENGTH = 64;

// Order of the RDNs in the subject, most general first, as X.500 names are usually written.
const SUBJECT_ORDER = ['C', 'ST', 'L', 'O', 'OU'] as const;

/**
 * DER CSR for `domains`, signed with the key pair's private key (ECDSA with the curve's hash,
 * or RSA PKCS#1 v1.5 with SHA-256). The CN is subject.CN or else the first domain, left out when
 * that domain is longer than a CN may be (the SAN alone then carries it, as RFC 8555 allows).
 */
export async function createCsr({ keyPair, domains, subject = {} }: CreateCsrOptions): Promise<Uint8Array> {
  if (domains.length === 0) throw new CertkeepError('BAD_REQUEST', 'a CSR needs at least one domain');
  if (subject.CN !== undefined && subject.CN.length > MAX_CN_LENGTH) {
    throw new CertkeepError('BAD_REQUEST', `the common name is longer than ${MAX_CN_LENGTH} characters`);
  }
  const commonName = subject.CN ?? (domains[0].length <= MAX_CN_LENGTH ? domains[0] : undefined);

  const name: Record<string, string[]>[] = [];
  for (const attribute of SUBJECT_ORDER) {
    const value = subject[attribute];
    if (value) name.push({ [attribute]: [value] });
  }
  if (commonName) name.push({ CN: [commonName] });

  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys: keyPair,
    signingAlgorithm: signatureParams(keyPair.privateKey),
    extensions: [new x509.SubjectAlternativeNameExtension(domains.map((value) => ({ type: 'dns' as const, value })))],
  });
  return new Uint8Array(csr.rawData);
}
