// Has the CA revoked a certificate we serve? Certkeep asks the way an RFC 5280 relying party
// would: the CRL at the certificate's CRL distribution point first (RFC 5280 §5, §6.3), and
// OCSP (RFC 6960) only when the certificate names a responder and no CRL gave an answer.
// Let's Encrypt no longer puts OCSP URLs in its certificates and publishes sharded CRLs
// instead, so the CRL path is the one that matters; OCSP stays for the CAs that still run it.
//
// An answer is believed only once it is checked: signed by the certificate's issuer (for OCSP
// also: by a responder the issuer delegated to), about that issuer and that serial, and
// current. Whatever cannot be checked is 'unknown' with a reason that says why — never 'good'.

import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  Extensions,
  IssuingDistributionPoint,
  SubjectPublicKeyInfo,
  Time,
  type Extension,
  id_ce_cRLReasons,
  id_ce_deltaCRLIndicator,
  id_ce_invalidityDate,
  id_ce_issuingDistributionPoint,
} from '@peculiar/asn1-x509';
import {
  BasicOCSPResponse,
  CertID,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request,
  TBSRequest,
  id_kp_OCSPSigning,
  id_pkix_ocsp_basic,
  type ResponderID,
  type SingleResponse,
} from '@peculiar/asn1-ocsp';
import { CertkeepError } from '../errors.ts';
import { OutboundError, type Outbound } from '../net/outbound.ts';
import { toHex } from '../util/encoding.ts';
import { bufferSource } from './bytes.ts';
import { parseCertificate, type ParsedCertificate } from './certificate.ts';
import { DER_TAG, readDer, readDerChildren, readDerSequence } from './der.ts';
import { pemDecode, splitCertificates } from './pem.ts';
import { x509 } from './x509.ts';

export type RevocationSource = 'crl' | 'ocsp';

export type RevocationStatus =
  | { status: 'good'; source: RevocationSource; url: string; checkedAt: Date; nextUpdate?: Date }
  /** `reason` is the RFC 5280 §5.3.1 CRLReason code (1 = keyCompromise, …) when the CA gave one. */
  | { status: 'revoked'; source: RevocationSource; url: string; checkedAt: Date; revokedAt: Date; reason?: number }
  | { status: 'unknown'; reason: string };

export interface CheckRevocationOptions {
  /** The certificate, then its chain: the issuer must be among the certificates that follow. */
  certificatePem: string;
  /** CRL distribution points and OCSP responders are CA-supplied URLs: the outbound path's policy applies. */
  outbound: Outbound;
  /** Milliseconds since the epoch; Date.now by default. */
  now?: () => number;
  /** Per request, body included; 10 s by default. */
  timeoutMs?: number;
}

/** Large CAs shard their CRLs; a single shard beyond this is not one we should hold in memory. */
const CRL_MAX_BYTES = 10 * 1024 * 1024;
/** An OCSP response is a few kilobytes, even with a delegated responder's certificate. */
const OCSP_MAX_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;
/** Tolerated disagreement between our clock and the CA's about thisUpdate and nextUpdate. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

/**
 * The revocation status of the first certificate in `certificatePem`. Network and
 * verification failures are reported as `{ status: 'unknown', reason }`; only text that holds
 * no parsable certificate throws (CertkeepError PEM_INVALID or CERT_INVALID).
 */
export async function checkRevocation(options: CheckRevocationOptions): Promise<RevocationStatus> {
  const pems = splitCertificates(options.certificatePem);
  if (pems.length === 0) throw new CertkeepError('CERT_INVALID', 'no CERTIFICATE block in the PEM text');
  const leaf = await parseCertificate(pems[0]);

  if (leaf.crlDistributionPoints.length === 0 && leaf.ocspUrls.length === 0) {
    return unknown('the certificate names no CRL distribution point or OCSP responder');
  }
  const crlUrls = leaf.crlDistributionPoints.filter(isHttpUrl);
  const ocspUrls = leaf.ocspUrls.filter(isHttpUrl);
  if (crlUrls.length === 0 && ocspUrls.length === 0) {
    return unknown('the certificate names CRL distribution points or OCSP responders only by non-HTTP URLs');
  }

  const leafNames = certificateNames(leaf.der);
  const issuer = await findIssuer(leaf, leafNames, pems.slice(1));
  if (!issuer) return unknown('the PEM holds no certificate that issued this one, so no CRL or OCSP response can be verified');

  const check: Check = {
    leaf,
    leafNames,
    issuer,
    outbound: options.outbound,
    now: new Date((options.now ?? Date.now)()),
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
  // Every CRL first, then OCSP: the first source that answers decides.
  const attempts = [
    ...crlUrls.map((url) => ({ url, ask: () => statusFromCrl(check, url) })),
    ...ocspUrls.map((url) => ({ url, ask: () => statusFromOcsp(check, url) })),
  ];
  const failures: string[] = [];
  for (const { url, ask } of attempts) {
    try {
      return await ask();
    } catch (error) {
      // Whatever a CA's server sends must not crash the caller: a surprise is one more reason.
      failures.push(error instanceof NoAnswer ? error.message : `${url}: ${messageOf(error)}`);
    }
  }
  return unknown(failures.join('; '));
}

/** What every step of one check needs. */
interface Check {
  leaf: ParsedCertificate;
  leafNames: EncodedNames;
  issuer: Issuer;
  outbound: Outbound;
  now: Date;
  timeoutMs: number;
}

interface Issuer {
  cert: InstanceType<typeof x509.X509Certificate>;
  names: EncodedNames;
  /** The subjectPublicKey BIT STRING's contents: what OCSP's key hashes are taken over. */
  keyBits: Uint8Array;
}

/** One source could not give an answer; the message becomes part of the 'unknown' reason. */
class NoAnswer extends Error {}

function noAnswer(reason: string): never {
  throw new NoAnswer(reason);
}

function unknown(reason: string): RevocationStatus {
  return { status: 'unknown', reason };
}

function isHttpUrl(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

// ---------------------------------------------------------------------------------------------
// The issuer

/**
 * The certificate among `chain` whose subject is the leaf's issuer and whose key verifies the
 * leaf's signature. Usually the first one; looking at all of them forgives a shuffled chain.
 */
async function findIssuer(leaf: ParsedCertificate, leafNames: EncodedNames, chain: string[]): Promise<Issuer | undefined> {
  const leafCert = new x509.X509Certificate(bufferSource(leaf.der));
  for (const pem of chain) {
    let cert: InstanceType<typeof x509.X509Certificate>;
    try {
      cert = new x509.X509Certificate(pem);
    } catch {
      continue;
    }
    const names = certificateNames(new Uint8Array(cert.rawData));
    if (!namesEqual(names.subject, leafNames.issuer)) continue;
    if (!(await leafCert.verify({ publicKey: cert.publicKey, signatureOnly: true }))) continue;
    return { cert, names, keyBits: subjectPublicKeyBits(cert) };
  }
  return undefined;
}

interface EncodedNames {
  issuer: Uint8Array;
  subject: Uint8Array;
}

/**
 * A certificate's issuer and subject Name fields exactly as encoded (RFC 5280 §4.1): OCSP
 * hashes these bytes, so a re-encoding by a schema library is not good enough.
 */
function certificateNames(certificateDer: Uint8Array): EncodedNames {
  const tbs = readDerSequence(certificateDer)?.[0];
  const fields = tbs ? encodedChildren(tbs.content) : null;
  // [0] version, serialNumber, signature, issuer, validity, subject, …
  const first = fields?.[0]?.[0] === CONTEXT_0 ? 1 : 0;
  const issuer = fields?.[first + 2];
  const subject = fields?.[first + 4];
  if (!issuer || !subject) throw new CertkeepError('CERT_INVALID', 'certificate has no readable issuer or subject');
  return { issuer, subject };
}

/** The complete encodings (tag, length, content) of the elements inside `content`. */
function encodedChildren(content: Uint8Array): Uint8Array[] | null {
  const children = readDerChildren(content);
  return children && children.map((child, i) => content.subarray(i === 0 ? 0 : children[i - 1].end, child.end));
}

/**
 * RFC 5280 §7.1 compares names after string preparation. A CA writes its name the same way
 * in its certificates, CRLs and OCSP responses, so equal bytes is the rule; the library's
 * string form, which decodes PrintableString and UTF8String alike, forgives a re-encoding.
 */
function namesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (bytesEqual(a, b)) return true;
  try {
    return new x509.Name(bufferSource(a)).toString() === new x509.Name(bufferSource(b)).toString();
  } catch {
    return false;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function subjectPublicKeyBits(cert: InstanceType<typeof x509.X509Certificate>): Uint8Array {
  return new Uint8Array(AsnConvert.parse(cert.publicKey.rawData, SubjectPublicKeyInfo).subjectPublicKey);
}

// ---------------------------------------------------------------------------------------------
// CRL (RFC 5280 §5; checks of §6.3.3)
//
// The CRL is read as an outline with the DER walker rather than parsed whole by the x509
// library: its X509Crl builds an object tree of every entry — measured here, 6 s and 800 MB
// for a 5 MB CRL of 100 000 entries, and by default it refuses more than about 1 300 entries
// (asn1js's limit of 10 000 nodes). The small parts — names, times, extensions, the one entry
// that matters — still go through the schema classes.

async function statusFromCrl(check: Check, url: string): Promise<RevocationStatus> {
  const body = await download(check, url, { method: 'GET' }, CRL_MAX_BYTES).catch((error: unknown) =>
    noAnswer(`CRL download failed: ${url}: ${messageOf(error)}`),
  );
  const der = crlDer(body) ?? noAnswer(`CRL ${url} is neither DER nor a PEM X509 CRL`);
  let crl: CrlOutline;
  try {
    crl = readCrl(der);
  } catch (error) {
    return noAnswer(`CRL ${url} is not a valid CRL: ${messageOf(error)}`);
  }
  const { leaf, issuer, now } = check;

  if (!namesEqual(crl.issuer, check.leafNames.issuer)) {
    noAnswer(`CRL ${url} is issued by "${nameText(crl.issuer)}", not by the certificate's issuer "${leaf.issuer}"`);
  }
  const keyUsage = issuer.cert.getExtension(x509.KeyUsagesExtension);
  if (keyUsage && !(keyUsage.usages & x509.KeyUsageFlags.cRLSign)) {
    noAnswer(`CRL ${url}: the issuer's key usage does not allow it to sign CRLs`);
  }
  const signed = await verifySignature(issuer.cert.publicKey, crl.signatureAlgorithm, crl.signature, crl.tbs);
  if (!signed) noAnswer(`CRL ${url}: the signature does not verify with the issuer's key`);
  checkCrlScope(crl, url);
  checkFreshness(`CRL ${url}`, crl.thisUpdate, crl.nextUpdate, now);

  const entryDer = findCrlEntry(crl.revokedCertificates, leaf.serialDer);
  if (!entryDer) return { status: 'good', source: 'crl', url, checkedAt: now, nextUpdate: crl.nextUpdate };
  const entry = new x509.X509CrlEntry(bufferSource(entryDer));
  const unhandled = entry.extensions.find((ext) => ext.critical && !HANDLED_ENTRY_EXTENSIONS.has(ext.type));
  if (unhandled) noAnswer(`CRL ${url}: the certificate's entry has an unsupported critical extension ${unhandled.type}`);
  return { status: 'revoked', source: 'crl', url, checkedAt: now, revokedAt: entry.revocationDate, reason: entry.reason };
}

/** CRL entry extensions we understand (RFC 5280 §5.3); certificateIssuer only occurs in indirect CRLs. */
const HANDLED_ENTRY_EXTENSIONS = new Set([id_ce_cRLReasons, id_ce_invalidityDate]);

/** A CRL body as served: DER (RFC 5280 §4.2.1.13 says so) or, from some servers, PEM. */
function crlDer(body: Uint8Array): Uint8Array | undefined {
  if (body[0] === DER_TAG.SEQUENCE) return body;
  try {
    return pemDecode(new TextDecoder().decode(body)).find((block) => block.label === 'X509 CRL')?.der;
  } catch {
    return undefined;
  }
}

/**
 * Refuses a CRL whose critical extensions we cannot honour (RFC 5280 §5.2), and one that does
 * not cover this certificate: a delta CRL lists only changes; an issuing distribution point
 * (§5.2.5) may limit the CRL to CA certificates, some reasons, or — for a sharded CRL, as Let's
 * Encrypt publishes — another shard, which would not list our serial even if it were revoked.
 */
function checkCrlScope(crl: CrlOutline, url: string): void {
  for (const { extnID, critical, extnValue } of crl.extensions) {
    if (extnID === id_ce_deltaCRLIndicator) noAnswer(`CRL ${url} is a delta CRL, not a complete one`);
    if (extnID === id_ce_issuingDistributionPoint) {
      checkIssuingDistributionPoint(AsnConvert.parse(extnValue.buffer, IssuingDistributionPoint), url);
    } else if (critical) {
      noAnswer(`CRL ${url} has an unsupported critical extension ${extnID}`);
    }
  }
}

function checkIssuingDistributionPoint(idp: IssuingDistributionPoint, url: string): void {
  if (idp.onlyContainsCACerts || idp.onlyContainsAttributeCerts) {
    noAnswer(`CRL ${url} covers only CA or attribute certificates`);
  }
  if (idp.indirectCRL) noAnswer(`CRL ${url} is an indirect CRL, which is not supported`);
  if (idp.onlySomeReasons) noAnswer(`CRL ${url} covers only some revocation reasons`);
  const point = idp.distributionPoint;
  if (!point) return;
  const uris = (point.fullName ?? []).flatMap((name) => (name.uniformResourceIdentifier ? [name.uniformResourceIdentifier] : []));
  if (!uris.includes(url)) {
    noAnswer(`CRL ${url} names another distribution point (${uris.join(', ') || 'not by URL'}) as its scope`);
  }
}

/** The parts of a CertificateList (RFC 5280 §5.1) the checks use; the entries stay encoded. */
interface CrlOutline {
  /** The signed bytes: tbsCertList as received. */
  tbs: Uint8Array;
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Uint8Array;
  issuer: Uint8Array;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** The revokedCertificates SEQUENCE's content: the entries, one after another. */
  revokedCertificates: Uint8Array;
  extensions: Extension[];
}

/**
 * CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
 * TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL, signature, issuer, thisUpdate,
 *   nextUpdate OPTIONAL, revokedCertificates SEQUENCE OF … OPTIONAL, crlExtensions [0] OPTIONAL }
 */
function readCrl(der: Uint8Array): CrlOutline {
  const [tbs, algorithm, signatureValue] = encodedChildren(sequenceContent(der)) ?? [];
  const signature = signatureValue ? readDer(signatureValue) : null;
  if (!tbs || !algorithm || signature?.tag !== DER_TAG.BIT_STRING || signature.content[0] !== 0) {
    throw new Error('not a CertificateList');
  }
  const fields = encodedChildren(sequenceContent(tbs)) ?? [];
  if (fields[0]?.[0] === DER_TAG.INTEGER) fields.shift(); // version
  const [innerAlgorithm, issuer, thisUpdate] = fields.splice(0, 3);
  if (!isTime(thisUpdate)) throw new Error('tbsCertList has no thisUpdate');
  // RFC 5280 §5.1.1.2: the algorithm inside the signed part must be the one used.
  if (!bytesEqual(innerAlgorithm, algorithm)) throw new Error('the two signature algorithm fields disagree');
  const nextUpdate = isTime(fields[0]) ? fields.shift() : undefined;
  const revoked = fields[0]?.[0] === DER_TAG.SEQUENCE ? fields.shift() : undefined;
  const extensions = fields[0]?.[0] === CONTEXT_0 ? fields.shift() : undefined;
  if (fields.length > 0) throw new Error('tbsCertList has unexpected fields');
  return {
    tbs,
    signatureAlgorithm: AsnConvert.parse(bufferSource(algorithm), AlgorithmIdentifier),
    signature: signature.content.subarray(1),
    issuer,
    thisUpdate: timeOf(thisUpdate),
    nextUpdate: nextUpdate && timeOf(nextUpdate),
    revokedCertificates: revoked ? sequenceContent(revoked) : new Uint8Array(0),
    extensions: extensions ? Array.from(AsnConvert.parse(bufferSource(readDer(extensions)!.content), Extensions)) : [],
  };
}

const CONTEXT_0 = 0xa0;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

/** The content of the single SEQUENCE that `encoded` is. */
function sequenceContent(encoded: Uint8Array): Uint8Array {
  const element = readDer(encoded);
  if (element?.tag !== DER_TAG.SEQUENCE || element.end !== encoded.length) throw new Error('expected a SEQUENCE');
  return element.content;
}

function isTime(encoded: Uint8Array | undefined): encoded is Uint8Array {
  return encoded?.[0] === UTC_TIME || encoded?.[0] === GENERALIZED_TIME;
}

function timeOf(encoded: Uint8Array): Date {
  return AsnConvert.parse(bufferSource(encoded), Time).getTime();
}

/**
 * The revokedCertificates entry for `serial`, compared as the INTEGER's content octets. Both
 * sides are read as encoded, so the sign byte a serial with its top bit set carries (and which
 * the x509 library's hex serials drop) takes part as it should, and even a non-conformant
 * negative serial finds its entry. One pass, no parsing beyond each entry's first element.
 */
function findCrlEntry(entries: Uint8Array, serial: Uint8Array): Uint8Array | undefined {
  for (let offset = 0; offset < entries.length; ) {
    const entry = readDer(entries, offset);
    if (entry?.tag !== DER_TAG.SEQUENCE) throw new Error('revokedCertificates is malformed');
    const userCertificate = readDer(entry.content);
    if (userCertificate?.tag === DER_TAG.INTEGER && bytesEqual(userCertificate.content, serial)) {
      return entries.subarray(offset, entry.end);
    }
    offset = entry.end;
  }
  return undefined;
}

/** A DER Name for messages; the raw hex when it will not decode. */
function nameText(name: Uint8Array): string {
  try {
    return new x509.Name(bufferSource(name)).toString();
  } catch {
    return toHex(name);
  }
}

// ---------------------------------------------------------------------------------------------
// OCSP (RFC 6960)

async function statusFromOcsp(check: Check, url: string): Promise<RevocationStatus> {
  const request = AsnConvert.serialize(
    new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: await certId(check, 'SHA-1') })] }) }),
  );
  const init = {
    method: 'POST',
    headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
    body: new Uint8Array(request),
  };
  const body = await download(check, url, init, OCSP_MAX_BYTES).catch((error: unknown) =>
    noAnswer(`OCSP request failed: ${url}: ${messageOf(error)}`),
  );
  const basic = basicResponse(body, url);
  const signer = await responseSigner(check, basic, url);
  const signed = await verifySignature(
    signer,
    basic.signatureAlgorithm,
    new Uint8Array(basic.signature),
    basic.tbsResponseDataRaw && new Uint8Array(basic.tbsResponseDataRaw),
  );
  if (!signed) noAnswer(`OCSP response from ${url}: the signature does not verify`);

  const single = await findSingleResponse(check, basic.tbsResponseData.responses);
  if (!single) noAnswer(`OCSP response from ${url} does not cover this certificate`);
  checkFreshness(`OCSP response from ${url}`, single.thisUpdate, single.nextUpdate, check.now);

  const { certStatus } = single;
  const checkedAt = check.now;
  if (certStatus.revoked) {
    const { revocationTime, revocationReason } = certStatus.revoked;
    return { status: 'revoked', source: 'ocsp', url, checkedAt, revokedAt: revocationTime, reason: revocationReason?.reason };
  }
  if ('good' in certStatus) return { status: 'good', source: 'ocsp', url, checkedAt, nextUpdate: single.nextUpdate };
  return noAnswer(`OCSP responder ${url} does not know this certificate`);
}

/** The BasicOCSPResponse inside a successful OCSPResponse (RFC 6960 §4.2.1). */
function basicResponse(body: Uint8Array, url: string): BasicOCSPResponse {
  let response: OCSPResponse;
  try {
    response = AsnConvert.parse(bufferSource(body), OCSPResponse);
  } catch (error) {
    return noAnswer(`OCSP response from ${url} is not valid: ${messageOf(error)}`);
  }
  if (response.responseStatus !== OCSPResponseStatus.successful) {
    noAnswer(`OCSP responder ${url} answered ${OCSPResponseStatus[response.responseStatus] ?? response.responseStatus}`);
  }
  const bytes = response.responseBytes;
  if (bytes?.responseType !== id_pkix_ocsp_basic) noAnswer(`OCSP response from ${url} is not a basic OCSP response`);
  try {
    return AsnConvert.parse(bytes.response.buffer, BasicOCSPResponse);
  } catch (error) {
    return noAnswer(`OCSP response from ${url} is not valid: ${messageOf(error)}`);
  }
}

/** RFC 6960 §4.1.1 CertID over `hash`: of the issuer's name as the leaf encodes it, of its key bits, and the serial. */
async function certId(check: Check, hash: HashName): Promise<CertID> {
  return new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: HASH_OIDS[hash], parameters: null }),
    issuerNameHash: new OctetString(await digest(hash, check.leafNames.issuer)),
    issuerKeyHash: new OctetString(await digest(hash, check.issuer.keyBits)),
    serialNumber: bufferSource(check.leaf.serialDer).slice().buffer,
  });
}

/** The response about our certificate; the responder may have hashed with another algorithm than we asked. */
async function findSingleResponse(check: Check, responses: SingleResponse[]): Promise<SingleResponse | undefined> {
  for (const single of responses) {
    const hash = hashNameOf(single.certID.hashAlgorithm.algorithm);
    if (!hash) continue;
    const expected = await certId(check, hash);
    const got = single.certID;
    if (
      bytesEqual(new Uint8Array(got.issuerNameHash.buffer), new Uint8Array(expected.issuerNameHash.buffer)) &&
      bytesEqual(new Uint8Array(got.issuerKeyHash.buffer), new Uint8Array(expected.issuerKeyHash.buffer)) &&
      bytesEqual(new Uint8Array(got.serialNumber), check.leaf.serialDer)
    ) {
      return single;
    }
  }
  return undefined;
}

/**
 * The public key that must have signed the response (RFC 6960 §4.2.2.2): the issuer's own, or
 * that of a responder certificate included in the response which the issuer signed directly,
 * which carries id-kp-OCSPSigning, and which is valid now. Either is picked by the responderID.
 */
async function responseSigner(check: Check, basic: BasicOCSPResponse, url: string) {
  const { responderID } = basic.tbsResponseData;
  const { issuer, now } = check;
  if (await identifies(responderID, issuer.names.subject, issuer.keyBits)) return issuer.cert.publicKey;

  for (const asn of basic.certs ?? []) {
    // From the parsed structure: the library keeps the tbsCertificate bytes as received.
    const cert = new x509.X509Certificate(asn);
    const names = certificateNames(new Uint8Array(cert.rawData));
    if (!(await identifies(responderID, names.subject, subjectPublicKeyBits(cert)))) continue;
    const delegated =
      namesEqual(names.issuer, issuer.names.subject) &&
      (await cert.verify({ publicKey: issuer.cert.publicKey, signatureOnly: true })) &&
      (cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []).includes(id_kp_OCSPSigning) &&
      cert.notBefore <= now &&
      now <= cert.notAfter;
    if (!delegated) {
      noAnswer(`OCSP response from ${url} is signed by "${cert.subject}", which the issuer did not authorise to answer for it`);
    }
    return cert.publicKey;
  }
  return noAnswer(`OCSP response from ${url} is signed by a responder that is neither the issuer nor a certificate in the response`);
}

/** ResponderID (RFC 6960 §4.2.2.3): by name, or by the SHA-1 hash of the key bits. */
async function identifies(responderID: ResponderID, subject: Uint8Array, keyBits: Uint8Array): Promise<boolean> {
  if (responderID.byKey) return bytesEqual(new Uint8Array(responderID.byKey.buffer), await digest('SHA-1', keyBits));
  if (responderID.byName) return namesEqual(new Uint8Array(AsnConvert.serialize(responderID.byName)), subject);
  return false;
}

/**
 * Whether `publicKey` signed `data`, with the algorithm an AlgorithmIdentifier names — for CRLs
 * and OCSP responses alike. These are the steps the x509 library takes inside its certificate
 * and CRL classes, which it does not offer for other signed structures. The key is imported
 * for the signature's hash (WebCrypto binds an RSA key to one), and ECDSA signatures arrive
 * DER-encoded where WebCrypto wants r‖s.
 */
async function verifySignature(
  publicKey: InstanceType<typeof x509.PublicKey>,
  algorithmId: AlgorithmIdentifier,
  signature: Uint8Array,
  data: Uint8Array | undefined,
): Promise<boolean> {
  if (!data) return false;
  try {
    const algorithm = new x509.AlgorithmProvider().toWebAlgorithm(algorithmId);
    const keyAlgorithm = { ...publicKey.algorithm, ...algorithm };
    const key = await publicKey.export(keyAlgorithm, ['verify']);
    const asn1Signature = bufferSource(signature);
    const webSignature =
      algorithm.name === 'ECDSA' ? new x509.AsnEcSignatureFormatter().toWebSignature(keyAlgorithm, asn1Signature) : asn1Signature;
    if (!webSignature) return false;
    return await crypto.subtle.verify(algorithm, key, webSignature, bufferSource(data));
  } catch {
    return false;
  }
}

type HashName = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

const HASH_OIDS: Record<HashName, string> = {
  'SHA-1': '1.3.14.3.2.26',
  'SHA-256': '2.16.840.1.101.3.4.2.1',
  'SHA-384': '2.16.840.1.101.3.4.2.2',
  'SHA-512': '2.16.840.1.101.3.4.2.3',
};

function hashNameOf(oid: string): HashName | undefined {
  return (Object.keys(HASH_OIDS) as HashName[]).find((name) => HASH_OIDS[name] === oid);
}

async function digest(hash: HashName, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest(hash, bufferSource(data)));
}

// ---------------------------------------------------------------------------------------------
// Shared by both sources

/** RFC 5280 §6.3.3 (a)(2) and RFC 6960 §3.2 (4)–(5): issued already, and not yet superseded. */
function checkFreshness(what: string, thisUpdate: Date, nextUpdate: Date | undefined, now: Date): void {
  if (thisUpdate.getTime() > now.getTime() + CLOCK_SKEW_MS) {
    noAnswer(`${what} is not valid yet: its thisUpdate ${thisUpdate.toISOString()} lies in the future`);
  }
  if (nextUpdate && nextUpdate.getTime() < now.getTime() - CLOCK_SKEW_MS) {
    noAnswer(`${what} is stale: its nextUpdate ${nextUpdate.toISOString()} has passed`);
  }
}

/**
 * The body of a 2xx answer through the outbound path: http or https (CRLs and OCSP are served over
 * plain http by design; their signatures are what is trusted), up to 3 redirects (CDNs in front
 * of CRLs use them), each hop checked against the private-address policy, the timeout running
 * over the body, which is refused once it grows past `maxBytes`.
 */
async function download(check: Check, url: string, init: { method: string; headers?: Record<string, string>; body?: Uint8Array<ArrayBuffer> }, maxBytes: number): Promise<Uint8Array> {
  let response;
  try {
    response = await check.outbound.request(url, { ...init, timeoutMs: check.timeoutMs, maxBytes, schemes: 'http+https', maxRedirects: 3 });
  } catch (error) {
    throw error instanceof OutboundError ? new Error(error.words) : error;
  }
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.body;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
