// Uploaded public certificates: PEM text (one or several CERTIFICATE blocks) or DER (one, or
// several back to back), also DER as base64 text through the JSON API. A private key anywhere in
// the upload refuses all of it — nothing is stored, and the key is not kept or echoed. Anything
// that is not a certificate is a 400 naming `pem` (or the page's `file`).
//
// Each end-entity certificate becomes a tracked entry, with the CA certificates of the same
// upload that issued it as its chain; CA certificates are entries of their own only when the
// upload holds nothing else (someone tracking their private root).
import { CertkeepError } from '../../errors.ts';
import { importPrivateKey, parseCertificate, pemDecode, type ParsedCertificate } from '../../crypto/index.ts';
import { readDer } from '../../crypto/der.ts';
import { fromBase64, fromUtf8 } from '../../util/encoding.ts';

/** Largest upload taken (a certificate is a few KiB; a long chain a few tens). */
export const MAX_UPLOAD_BYTES = 256 * 1024;
/** Most certificates one upload may hold. */
export const MAX_UPLOAD_CERTIFICATES = 50;

export interface UploadedCertificate {
  leaf: ParsedCertificate;
  /** The CA certificates of the upload that issued it, in order up the chain. */
  chain: ParsedCertificate[];
}

function bad(field: string, detail: string): CertkeepError {
  return new CertkeepError('BAD_REQUEST', `${field}: ${detail}`, { field });
}

const KEY_LABEL = /PRIVATE KEY/;

/** Whether bytes read as text are PEM (or base64) rather than DER: DER always starts with a SEQUENCE. */
function isText(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] !== 0x30;
}

/**
 * The certificates of an upload, or a 400 naming `field`: no certificate, something else than
 * certificates (a private key, a request), too many, or too large.
 */
export async function parseUpload(input: string | Uint8Array, field = 'pem'): Promise<UploadedCertificate[]> {
  const size = typeof input === 'string' ? input.length : input.byteLength;
  if (size === 0) throw bad(field, 'required: a certificate, as PEM or DER');
  if (size > MAX_UPLOAD_BYTES) throw bad(field, `larger than ${MAX_UPLOAD_BYTES / 1024} KiB`);
  const ders = typeof input === 'string' || isText(input) ? await fromText(typeof input === 'string' ? input : fromUtf8(input), field) : await fromDer(input, field);
  if (ders.length > MAX_UPLOAD_CERTIFICATES) throw bad(field, `more than ${MAX_UPLOAD_CERTIFICATES} certificates in one upload`);
  const parsed: ParsedCertificate[] = [];
  for (const [i, der] of ders.entries()) {
    try {
      parsed.push(await parseCertificate(der));
    } catch {
      throw bad(field, ders.length === 1 ? 'not an X.509 certificate' : `certificate ${i + 1} of the upload is not an X.509 certificate`);
    }
  }
  // The same certificate twice in one file counts once.
  const unique = parsed.filter((c, i) => parsed.findIndex((o) => o.sha256Thumbprint === c.sha256Thumbprint) === i);
  const leaves = unique.filter((c) => !c.isCA);
  const cas = unique.filter((c) => c.isCA);
  if (leaves.length === 0) return cas.map((leaf) => ({ leaf, chain: [] }));
  return leaves.map((leaf) => ({ leaf, chain: chainOf(leaf, cas) }));
}

/** The CA certificates that issued `leaf`, up the chain, matched by name (at most 10). */
function chainOf(leaf: ParsedCertificate, cas: ParsedCertificate[]): ParsedCertificate[] {
  const chain: ParsedCertificate[] = [];
  let current = leaf;
  for (let depth = 0; depth < 10 && current.issuer !== current.subject; depth++) {
    const issuer = cas.find((c) => c.subject === current.issuer && !chain.includes(c));
    if (!issuer) break;
    chain.push(issuer);
    current = issuer;
  }
  return chain;
}

async function fromText(text: string, field: string): Promise<Uint8Array[]> {
  if (text.includes('-----BEGIN')) {
    let blocks;
    try {
      blocks = pemDecode(text);
    } catch (err) {
      throw bad(field, `the PEM text cannot be read: ${(err as Error).message}`);
    }
    const key = blocks.find((b) => KEY_LABEL.test(b.label));
    if (key) throw privateKeyRefused(field, `a private key (a ${key.label} block)`);
    const other = blocks.find((b) => b.label !== 'CERTIFICATE');
    if (other) throw bad(field, `a ${other.label} is not a certificate: upload CERTIFICATE blocks only`);
    return blocks.map((b) => b.der);
  }
  if (/Proc-Type:|PRIVATE KEY/i.test(text)) throw privateKeyRefused(field, 'a private key');
  const compact = text.replace(/\s+/g, '');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    let der: Uint8Array;
    try {
      der = fromBase64(compact);
    } catch {
      throw bad(field, 'expected PEM CERTIFICATE blocks, or a DER certificate as base64');
    }
    return fromDer(der, field);
  }
  throw bad(field, 'expected PEM CERTIFICATE blocks (-----BEGIN CERTIFICATE-----), or a DER certificate');
}

/** One DER certificate, or several back to back. A DER private key is refused as such. */
async function fromDer(bytes: Uint8Array, field: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const element = readDer(bytes, offset);
    if (!element || element.tag !== 0x30) break;
    out.push(bytes.subarray(offset, element.end));
    offset = element.end;
  }
  if (out.length === 0 || offset !== bytes.length) throw bad(field, 'neither PEM nor DER: not a certificate');
  for (const der of out) {
    try {
      await parseCertificate(der);
    } catch {
      if (await isPrivateKey(der)) throw privateKeyRefused(field, 'a private key (DER)');
    }
  }
  return out;
}

async function isPrivateKey(der: Uint8Array): Promise<boolean> {
  try {
    await importPrivateKey(der);
    return true;
  } catch (err) {
    // An unsupported kind of key is still a key.
    return err instanceof CertkeepError && err.code === 'KEY_UNSUPPORTED';
  }
}

function privateKeyRefused(field: string, what: string): CertkeepError {
  return bad(field, `the upload holds ${what}: upload only the public certificate; nothing was stored (and the key is not kept)`);
}
