// ACME resource types (RFC 8555 and its extensions). Each type names the section that defines it;
// fields a CA may add later are tolerated because every object is parsed as-is from JSON.

/** Account key algorithms this client signs with (RFC 7518 §3.1 names). */
export type AccountKeyAlg = 'ES256' | 'ES384' | 'RS256';

/** RFC 8555 §9.7.7: identifier types. Only `dns` (and `ip`, RFC 8738) are in use today. */
export interface AcmeIdentifier {
  type: 'dns' | 'ip' | (string & {});
  value: string;
}

/** RFC 8555 §6.7 (and RFC 7807 / 9457): a problem document, kept whole. */
export interface AcmeProblem {
  /** `urn:ietf:params:acme:error:<name>` for ACME errors (§6.7 table); `about:blank` when absent. */
  type: string;
  detail?: string;
  title?: string;
  status?: number;
  instance?: string;
  /** §6.7.1: per-identifier problems inside a compound one. */
  subproblems?: AcmeSubproblem[];
  /** Set on subproblems (§6.7.1) and on some CA problems about one identifier. */
  identifier?: AcmeIdentifier;
  /** Members a CA adds beyond the RFC (for example Boulder's `algorithms` on badSignatureAlgorithm). */
  [extension: string]: unknown;
}

/** RFC 8555 §6.7.1. */
export interface AcmeSubproblem extends AcmeProblem {
  identifier?: AcmeIdentifier;
}

/** RFC 8555 §7.1.1: the directory object, plus the extensions this client understands. */
export interface AcmeDirectory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  newAuthz?: string;
  revokeCert: string;
  keyChange: string;
  /** RFC 9773 §4: ACME Renewal Information. */
  renewalInfo?: string;
  meta?: AcmeDirectoryMeta;
  [extension: string]: unknown;
}

/** RFC 8555 §7.1.1 `meta`. */
export interface AcmeDirectoryMeta {
  termsOfService?: string;
  website?: string;
  caaIdentities?: string[];
  externalAccountRequired?: boolean;
  /** draft-ietf-acme-profiles §3: profile name → human-readable description or URL. */
  profiles?: Record<string, string>;
  [extension: string]: unknown;
}

/** RFC 8555 §7.1.6: status values of each resource. */
export type AcmeAccountStatus = 'valid' | 'deactivated' | 'revoked';
export type AcmeOrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
export type AcmeAuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
export type AcmeChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';

/** RFC 8555 §7.1.2: account object. */
export interface AcmeAccount {
  status: AcmeAccountStatus;
  contact?: string[];
  termsOfServiceAgreed?: boolean;
  /** §7.3.4: echoed by some CAs. */
  externalAccountBinding?: unknown;
  orders?: string;
  [extension: string]: unknown;
}

/** RFC 8555 §7.1.3: order object. */
export interface AcmeOrder {
  status: AcmeOrderStatus;
  expires?: string;
  identifiers: AcmeIdentifier[];
  notBefore?: string;
  notAfter?: string;
  error?: AcmeProblem;
  authorizations: string[];
  finalize: string;
  certificate?: string;
  /** draft-ietf-acme-profiles §4: the profile the CA applied. */
  profile?: string;
  /** RFC 9773 §5: the certificate this order replaces. */
  replaces?: string;
  [extension: string]: unknown;
}

/** RFC 8555 §7.1.4: authorization object. */
export interface AcmeAuthorization {
  identifier: AcmeIdentifier;
  status: AcmeAuthorizationStatus;
  expires?: string;
  challenges: AcmeChallenge[];
  wildcard?: boolean;
  [extension: string]: unknown;
}

/** RFC 8555 §8 (challenge objects) with §8.3 / §8.4 `token`. */
export interface AcmeChallenge {
  type: 'http-01' | 'dns-01' | 'tls-alpn-01' | (string & {});
  url: string;
  status: AcmeChallengeStatus;
  validated?: string;
  error?: AcmeProblem;
  token?: string;
  [extension: string]: unknown;
}

/** RFC 9773 §4.2: the renewalInfo response body. */
export interface AcmeRenewalInfoBody {
  suggestedWindow: { start: string; end: string };
  explanationURL?: string;
}

/** RFC 8555 §7.3 newAccount payload. */
export interface NewAccountPayload {
  contact?: string[];
  termsOfServiceAgreed?: boolean;
  onlyReturnExisting?: boolean;
  /** §7.3.4: a flattened JWS made by `signExternalAccountBinding`. */
  externalAccountBinding?: FlattenedJws;
}

/** RFC 8555 §7.4 newOrder payload (+ RFC 9773 §5 `replaces`, profiles draft §4 `profile`). */
export interface NewOrderPayload {
  identifiers: AcmeIdentifier[];
  notBefore?: string;
  notAfter?: string;
  replaces?: string;
  profile?: string;
}

/** RFC 7515 §7.2.2: flattened JWS JSON serialization, the only form ACME accepts (RFC 8555 §6.2). */
export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

/** RFC 8555 §6.2: the protected header members this client sends. */
export interface AcmeProtectedHeader {
  alg: AccountKeyAlg | 'HS256';
  url: string;
  /** §6.5; absent on the inner JWS of keyChange (§7.3.5) and on the EAB JWS (§7.3.4). */
  nonce?: string;
  /** Exactly one of `jwk` and `kid` (§6.2). */
  jwk?: PublicJwk;
  kid?: string;
}

/** The public JWK members RFC 7638 §3.2 requires, nothing else (no `alg`, `key_ops`, `ext`). */
export type PublicJwk =
  | { crv: 'P-256' | 'P-384'; kty: 'EC'; x: string; y: string }
  | { e: string; kty: 'RSA'; n: string };
