// PEM (RFC 7468): base64 DER between `-----BEGIN label-----` and `-----END label-----` lines.
// We write the strict form and read the lax one (§3: any text around blocks, CRLF or LF,
// whitespace inside the base64). RFC 1421 headers (`Proc-Type:` …) are not part of RFC 7468
// and are refused as invalid base64.

import { CertkeepError } from '../errors.ts';
import { fromBase64, toBase64 } from '../util/encoding.ts';

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

/** Strict RFC 7468 form: base64 in 64-character lines, LF line ends, trailing newline. */
export function pemEncode(label: string, der: Uint8Array): string {
  const body = toBase64(der).replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}${body ? '\n' : ''}-----END ${label}-----\n`;
}

// RFC 7468 §3 allows inner hyphens in labels; no label in use has one, and excluding them
// keeps a one-line PEM ("-----BEGIN X----- MIIB… -----END X-----") from swallowing its body.
const BEGIN_LINE = /-----BEGIN ([^\-\r\n]*)-----/;

/**
 * Every PEM block in `text`, in order. Text outside blocks is ignored; a block without its
 * matching END line, or with a body that is not base64, is PEM_INVALID. No blocks → [].
 */
export function pemDecode(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const beginLines = new RegExp(BEGIN_LINE.source, 'g');
  for (let begin = beginLines.exec(text); begin; begin = beginLines.exec(text)) {
    const label = begin[1];
    const endLine = `-----END ${label}-----`;
    const endAt = text.indexOf(endLine, beginLines.lastIndex);
    if (endAt < 0) throw new CertkeepError('PEM_INVALID', `PEM block "${label}" has no END line`);
    const body = text.slice(beginLines.lastIndex, endAt);
    if (body.includes('-----')) {
      throw new CertkeepError('PEM_INVALID', `PEM block "${label}" is not closed before the next one`);
    }
    let der: Uint8Array;
    try {
      der = fromBase64(body);
    } catch (cause) {
      throw new CertkeepError('PEM_INVALID', `PEM block "${label}" is not valid base64`, undefined, { cause });
    }
    if (der.length === 0) throw new CertkeepError('PEM_INVALID', `PEM block "${label}" is empty`);
    blocks.push({ label, der });
    beginLines.lastIndex = endAt + endLine.length;
  }
  return blocks;
}

/**
 * The CERTIFICATE blocks of a chain, each re-encoded in the strict form, in the order given
 * (for an ACME chain: leaf first, RFC 8555 §9.1). Blocks with other labels are skipped.
 */
export function splitCertificates(pemChain: string): string[] {
  return pemDecode(pemChain)
    .filter((block) => block.label === 'CERTIFICATE')
    .map((block) => pemEncode('CERTIFICATE', block.der));
}
