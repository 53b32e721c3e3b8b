// The ACME client's public surface. Everything else under src/acme is internal layering.

export { AcmeClient } from './client.ts';
export type { AcmeClientOptions, DownloadedCertificate, NewAccountRequest, NewOrderRequest } from './client.ts';
export { certificateIdentifier } from './ari.ts';
export type { RenewalInfo } from './ari.ts';
export { dns01RecordName, dns01TxtValue, http01Path, keyAuthorization } from './challenges.ts';
export { accountKeyAlg, jwkThumbprint, publicJwk } from './jws.ts';
export {
  ACME_ERROR_PREFIX,
  AcmeBadResponseError,
  AcmeNetworkError,
  AcmeOrderInvalidError,
  AcmeProblemError,
  AcmeTimeoutError,
  AcmeUnsupportedError,
  acmeErrorType,
} from './errors.ts';
export type * from './types.ts';
