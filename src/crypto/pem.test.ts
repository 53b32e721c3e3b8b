import { describe, expect, it } from 'vitest';
import { useOpenssl } from '../../test/fixtures/crypto/openssl.ts';
import { CertkeepError } from '../errors.ts';
import { pemDecode, pemEncode, splitCertificates } from './pem.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof CertkeepError ? error.code : `not a CertkeepError: ${String(error)}`;
  }
  return undefined;
}

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);

describe('pemEncode', () => {
  it('writes RFC 7468 strict form: 64-character lines and a trailing newline', () => {
    const pem = pemEncode('TEST DATA', bytes(100));
    const lines = pem.split('\n');
    expect(lines[0]).toBe('-----BEGIN TEST DATA-----');
    // 100 bytes → 136 base64 characters → 64 + 64 + 8.
    expect(lines.slice(1, 4).map((line) => line.length)).toEqual([64, 64, 8]);
    expect(lines[4]).toBe('-----END TEST DATA-----');
    expect(lines[5]).toBe('');
    expect(lines).toHaveLength(6);
  });

  it('fills the last line exactly when the base64 is a multiple of 64 characters', () => {
    // 48 bytes → 64 base64 characters: one full line, no empty line after it.
    expect(pemEncode('X', bytes(48))).toBe(`-----BEGIN X-----\n${Buffer.from(bytes(48)).toString('base64')}\n-----END X-----\n`);
  });

  it('is byte-for-byte what openssl writes', () => {
    const ssl = useOpenssl();
    ssl.run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', 'key.pem');
    ssl.run('pkcs8', '-topk8', '-nocrypt', '-in', 'key.pem', '-outform', 'DER', '-out', 'key.der');
    expect(pemEncode('PRIVATE KEY', ssl.read('key.der'))).toBe(ssl.readText('key.pem'));
  });
});

describe('pemDecode', () => {
  it('round-trips pemEncode', () => {
    for (const n of [1, 2, 3, 47, 48, 49, 500]) {
      expect(pemDecode(pemEncode('BLOB', bytes(n)))).toEqual([{ label: 'BLOB', der: bytes(n) }]);
    }
  });

  it('reads several blocks with CRLF line ends, indentation and text around them', () => {
    const a = pemEncode('CERTIFICATE', bytes(70)).replace(/\n/g, '\r\n');
    const b = pemEncode('EC PRIVATE KEY', bytes(33)).replace(/^/gm, '  ');
    const text = `Bag Attributes\r\n    friendlyName: x\r\n${a}\r\nsubject=CN = x\n${b}trailing words`;
    expect(pemDecode(text)).toEqual([
      { label: 'CERTIFICATE', der: bytes(70) },
      { label: 'EC PRIVATE KEY', der: bytes(33) },
    ]);
  });

  it('reads a PEM squashed onto one line (as environment variables often carry it)', () => {
    const oneLine = pemEncode('PRIVATE KEY', bytes(120)).replace(/\n/g, ' ');
    expect(pemDecode(oneLine)).toEqual([{ label: 'PRIVATE KEY', der: bytes(120) }]);
  });

  it('returns [] for text without blocks', () => {
    expect(pemDecode('')).toEqual([]);
    expect(pemDecode('just words, no armour')).toEqual([]);
  });

  it('refuses broken blocks with PEM_INVALID', () => {
    const good = pemEncode('CERTIFICATE', bytes(40));
    expect(codeOf(() => pemDecode(good.replace('-----END CERTIFICATE-----', '')))).toBe('PEM_INVALID');
    expect(codeOf(() => pemDecode(good.replace('END CERTIFICATE', 'END PRIVATE KEY')))).toBe('PEM_INVALID');
    expect(codeOf(() => pemDecode(good.replace(/\n[A-Za-z0-9+/]{4}/, () => '\n*#%!')))).toBe('PEM_INVALID');
    expect(codeOf(() => pemDecode('-----BEGIN X-----\n-----END X-----\n'))).toBe('PEM_INVALID');
    // RFC 1421 headers are not RFC 7468.
    expect(codeOf(() => pemDecode(good.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n')))).toBe('PEM_INVALID');
    // A BEGIN inside an unterminated block.
    expect(codeOf(() => pemDecode(good.replace('-----END CERTIFICATE-----\n', '') + good))).toBe('PEM_INVALID');
  });
});

describe('splitCertificates', () => {
  it('returns each certificate of a chain in order, normalized, and skips other blocks', () => {
    const ssl = useOpenssl();
    for (const name of ['leaf', 'ca']) {
      ssl.run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}.test`,
        '-keyout', `${name}.key`, '-out', `${name}.pem`);
    }
    const leaf = ssl.readText('leaf.pem');
    const ca = ssl.readText('ca.pem');
    const messy = `${leaf.replace(/\n/g, '\r\n')}\r\n\r\n${ssl.readText('leaf.key')}${ca.replace(/\n/g, '\n\n')}`;

    const split = splitCertificates(messy);
    expect(split).toEqual([leaf, ca]);
    // Each piece is a certificate openssl reads on its own.
    ssl.write('first.pem', split[0]);
    expect(ssl.run('x509', '-in', 'first.pem', '-noout', '-subject').stdout).toContain('leaf.test');
    expect(splitCertificates(ssl.readText('leaf.key'))).toEqual([]);
  });

  it('keeps binary content exact', () => {
    const der = bytes(1000);
    const [pem] = splitCertificates(pemEncode('CERTIFICATE', der));
    expect(pemDecode(pem)[0].der).toEqual(der);
  });
});
