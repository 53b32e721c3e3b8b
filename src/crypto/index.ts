// Public API of the crypto layer: keys, PEM, CSRs, certificates, at-rest encryption.
// All of it runs on WebCrypto alone, in workerd and Node alike.

export {
  type KeyType,
  type ImportedKey,
  KEY_TYPES,
  isKeyType,
  generateKeyPair,
  keyTypeOf,
  signatureParams,
  exportPkcs8,
  exportPrivateKeyPem,
  exportPublicSpki,
  keyFromPkcs8,
  importPrivateKey,
} from './keys.ts';
export { type PemBlock, pemEncode, pemDecode, splitCertificates } from './pem.ts';
export { type CsrSubject, type CreateCsrOptions, createCsr } from './csr.ts';
export {
  type ParsedCertificate,
  type CertificatePublicKey,
  type SelfSignedOptions,
  parseCertificate,
  parseIssuerCertificate,
  parseChain,
  publicKeyMatches,
  createSelfSignedCertificate,
} from './certificate.ts';
export { generateMasterKey, importMasterKey, sealSecret, openSecret, deriveFromMasterKey } from './atrest.ts';
export { type Pkcs12Options, createPkcs12 } from './pkcs12.ts';
export { type RevocationStatus, type RevocationSource, type CheckRevocationOptions, checkRevocation } from './revocation.ts';
