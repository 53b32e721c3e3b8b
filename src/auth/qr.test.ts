// The encoder is checked three ways: golden values from the standard (Reed–Solomon, format and
// version information, capacities), a real reader (zbarimg reads back every version, 1 to 40,
// from the SVG rendered to PNG by rsvg-convert), and an independent encoder (libqrencode's
// `qrencode` draws the very same matrix once it is told our mask).
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { requirePrograms, gatedDescribe } from '../../test/harness/skip.ts';
import { runDir } from '../../test/harness/tmp.ts';
import { CertkeepError } from '../errors.ts';
import { utf8 } from '../util/encoding.ts';
import { byteCapacity, encodeQr, formatInformation, maskPenalty, qrSvg, reedSolomonEcc, versionInformation } from './qr.ts';

const run = promisify(execFile);

const OTPAUTH =
  'otpauth://totp/Certkeep:admin%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Certkeep&algorithm=SHA1&digits=6&period=30';

/** Printable ASCII that differs per seed, so every version carries different data. */
function sampleText(length: number, seed: number): string {
  let state = seed * 2654435761 + 1;
  let out = '';
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    out += String.fromCharCode(32 + (state % 95));
  }
  return out;
}

const VERSIONS = Array.from({ length: 40 }, (_, i) => i + 1);

describe('Reed–Solomon error correction', () => {
  it('matches the HELLO WORLD 1-M example (16 data codewords → 10 ECC codewords)', () => {
    const data = Uint8Array.from([32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17]);
    expect(Array.from(reedSolomonEcc(data, 10))).toEqual([196, 35, 39, 119, 235, 215, 231, 226, 93, 23]);
  });

  // A codeword data‖ecc is a multiple of the generator polynomial, so it vanishes at α^0…α^(n−1).
  // Evaluated here with a separate, bit-by-bit GF(256) multiplication.
  function gfMul(a: number, b: number): number {
    let product = 0;
    for (; b > 0; b >>= 1) {
      if (b & 1) product ^= a;
      a = a & 0x80 ? ((a << 1) ^ 0x11d) & 0xff : a << 1;
    }
    return product;
  }
  function evaluate(codeword: number[], x: number): number {
    return codeword.reduce((acc, c) => gfMul(acc, x) ^ c, 0);
  }

  it.each([7, 10, 16, 18, 22, 26, 28, 30])('gives codewords with zero syndromes for %i ECC codewords', (eccLength) => {
    const data = crypto.getRandomValues(new Uint8Array(120));
    const codeword = [...data, ...reedSolomonEcc(data, eccLength)];
    let alphaI = 1;
    for (let i = 0; i < eccLength; i++, alphaI = gfMul(alphaI, 2)) expect(evaluate(codeword, alphaI)).toBe(0);
    codeword[5] ^= 1; // and a corrupted one does not
    expect([0, 1, 2].map((i) => evaluate(codeword, [1, 2, 4][i])).some((s) => s !== 0)).toBe(true);
  });
});

describe('format and version information', () => {
  it.each([
    [0, '101010000010010'],
    [1, '101000100100101'],
    [2, '101111001111100'],
    [3, '101101101001011'],
    [4, '100010111111001'],
    [5, '100000011001110'],
    [6, '100111110010111'],
    [7, '100101010100000'],
  ])('level M, mask %i → %s', (mask, bits) => {
    expect(formatInformation(mask).toString(2).padStart(15, '0')).toBe(bits);
  });

  it.each([
    [7, '000111110010010100'],
    [8, '001000010110111100'],
    [10, '001010010011010011'],
    [40, '101000110001101001'],
  ])('version %i → %s', (version, bits) => {
    expect(versionInformation(version).toString(2).padStart(18, '0')).toBe(bits);
  });
});

describe('capacity and version choice', () => {
  it.each([
    [1, 14],
    [2, 26],
    [3, 42],
    [4, 62],
    [5, 84],
    [6, 106],
    [7, 122],
    [8, 152],
    [9, 180],
    [10, 213],
    [40, 2331],
  ])('version %i-M holds %i bytes', (version, bytes) => {
    expect(byteCapacity(version)).toBe(bytes);
  });

  it.each(VERSIONS)('picks version %i for a full one and the next for one byte more', (version) => {
    const full = encodeQr('a'.repeat(byteCapacity(version)));
    expect(full.version).toBe(version);
    expect(full.size).toBe(17 + 4 * version);
    expect(full.modules).toHaveLength(full.size);
    if (version < 40) expect(encodeQr('a'.repeat(byteCapacity(version) + 1)).version).toBe(version + 1);
  });

  it('puts an otpauth URI in version 6 to 8', () => {
    expect(encodeQr(OTPAUTH).version).toBeGreaterThanOrEqual(6);
    expect(encodeQr(OTPAUTH).version).toBeLessThanOrEqual(8);
  });

  it('counts UTF-8 bytes, not characters', () => {
    expect(encodeQr('é'.repeat(7)).version).toBe(1); // 14 bytes
    expect(encodeQr('é'.repeat(8)).version).toBe(2); // 16 bytes
  });

  it('refuses text longer than version 40 holds with BAD_REQUEST', () => {
    let error: unknown;
    try {
      encodeQr('a'.repeat(2332));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CertkeepError);
    expect(error).toMatchObject({ code: 'BAD_REQUEST', details: { bytes: 2332, maxBytes: 2331 } });
  });
});

describe('function patterns', () => {
  const { modules, size } = encodeQr(OTPAUTH);
  const finderRow = [true, true, true, true, true, true, true];
  const finderMiddle = [true, false, true, true, true, false, true];

  it('has the three finder patterns with light separators', () => {
    for (const [row, col] of [[0, 0], [0, size - 7], [size - 7, 0]]) {
      expect(modules[row].slice(col, col + 7)).toEqual(finderRow);
      expect(modules[row + 3].slice(col, col + 7)).toEqual(finderMiddle);
      expect(modules[row + 6].slice(col, col + 7)).toEqual(finderRow);
    }
    const light = (cells: boolean[]): boolean => cells.every((dark) => !dark);
    expect(light(modules[7].slice(0, 8))).toBe(true); // below the top-left finder
    expect(light(modules[7].slice(size - 8))).toBe(true); // below the top-right one
    expect(light(modules[size - 8].slice(0, 8))).toBe(true); // above the bottom-left one
    expect(light(modules.slice(0, 8).map((row) => row[7]))).toBe(true); // right of the top-left one
  });

  it('has alternating timing patterns and the dark module', () => {
    for (let i = 8; i < size - 8; i++) {
      expect(modules[6][i]).toBe(i % 2 === 0);
      expect(modules[i][6]).toBe(i % 2 === 0);
    }
    expect(modules[size - 8][8]).toBe(true);
  });
});

describe('mask choice', () => {
  it.each([['hi'], [OTPAUTH], [sampleText(250, 3)]])('uses the mask with the lowest penalty (%#)', (text) => {
    const totals = [0, 1, 2, 3, 4, 5, 6, 7].map((mask) => maskPenalty(encodeQr(text, { mask }).modules).total);
    const chosen = encodeQr(text);
    expect(totals[chosen.mask]).toBe(Math.min(...totals));
    expect(chosen.modules).toEqual(encodeQr(text, { mask: chosen.mask }).modules);
  });

  it('gives different symbols for different masks, each carrying its own format information', () => {
    const symbols = [0, 1, 2, 3, 4, 5, 6, 7].map((mask) => JSON.stringify(encodeQr('hi', { mask }).modules));
    expect(new Set(symbols).size).toBe(8);
    // Format bits 0–5 sit in row 8, columns 0–5 (most significant first).
    const { modules } = encodeQr('hi', { mask: 5 });
    const bits = modules[8].slice(0, 6).map((d) => (d ? '1' : '0')).join('');
    expect(bits).toBe(formatInformation(5).toString(2).padStart(15, '0').slice(0, 6));
  });
});

describe('maskPenalty (ISO 18004 §7.8.3 rules)', () => {
  const blank = (): boolean[][] => Array.from({ length: 21 }, () => new Array<boolean>(21).fill(false));

  it('scores an all-light 21×21 square: 42 runs of 21, 400 blocks, 0 % dark', () => {
    expect(maskPenalty(blank())).toEqual({ runs: 42 * (3 + 16), blocks: 400 * 3, finderLike: 0, balance: 100, total: 798 + 1200 + 100 });
  });

  it('scores a checkerboard at zero', () => {
    const board = blank().map((row, r) => row.map((_, c) => (r + c) % 2 === 0));
    expect(maskPenalty(board)).toEqual({ runs: 0, blocks: 0, finderLike: 0, balance: 0, total: 0 });
  });

  function withRow(pattern: string): boolean[][] {
    const square = blank();
    square[10] = [...pattern.padEnd(21, '0')].map((c) => c === '1');
    return square;
  }

  it('counts a 1:1:3:1:1 pattern with four light modules after it', () => {
    expect(maskPenalty(withRow('10001011101000010')).finderLike).toBe(40);
  });

  it('counts one against the edge, which is quiet zone', () => {
    expect(maskPenalty(withRow('1011101')).finderLike).toBe(40);
  });

  it('does not count it with only three light modules on each side', () => {
    expect(maskPenalty(withRow('10001011101000100')).finderLike).toBe(0);
  });
});

describe('qrSvg', () => {
  it('is one self-contained SVG with a title, a viewBox and one crisp path', () => {
    const svg = qrSvg(OTPAUTH, { moduleSize: 3, title: 'Scan <this> & "that"' });
    const size = encodeQr(OTPAUTH).size + 8;
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" /);
    expect(svg).toContain(`viewBox="0 0 ${size} ${size}"`);
    expect(svg).toContain(`width="${size * 3}" height="${size * 3}"`);
    expect(svg).toContain('<title>Scan &#60;this&#62; &#38; &#34;that&#34;</title>');
    expect(svg.match(/<path /g)).toHaveLength(1);
    expect(svg).toContain('shape-rendering="crispEdges"');
    // Nothing fetched or run, and the secret-bearing text is not in the markup.
    expect(svg).not.toMatch(/href|url\(|<image|<script|<style|@import/i);
    expect(svg.replace('http://www.w3.org/2000/svg', '')).not.toMatch(/https?:/);
    expect(svg).not.toContain('GEZDGNBV');
  });

  it('draws exactly the dark modules, offset by the margin', () => {
    for (const margin of [0, 4]) {
      const svg = qrSvg('hello', { margin });
      const { modules, size } = encodeQr('hello');
      const drawn = Array.from({ length: size + 2 * margin }, () => new Array<boolean>(size + 2 * margin).fill(false));
      const d = svg.match(/ d="([^"]*)"/)![1];
      for (const [, x, y, w] of d.matchAll(/M(\d+) (\d+)h(\d+)v1h-\3z/g)) {
        for (let i = 0; i < Number(w); i++) drawn[Number(y)][Number(x) + i] = true;
      }
      expect(d).toMatch(/^(M\d+ \d+h\d+v1h-\d+z)+$/);
      const inner = drawn.slice(margin, margin + size).map((row) => row.slice(margin, margin + size));
      expect(inner).toEqual(modules);
      expect(drawn.flat().filter(Boolean).length).toBe(modules.flat().filter(Boolean).length);
    }
  });

  it('uses the default title, module size 5 and margin 4', () => {
    const svg = qrSvg('hi');
    expect(svg).toContain('<title>QR code</title>');
    expect(svg).toContain('viewBox="0 0 29 29" width="145" height="145"');
  });

  it.each([8, -1, 0.5])('refuses a forced mask of %s', (mask) => {
    expect(() => encodeQr('hi', { mask })).toThrow(RangeError);
  });

  it.each([[{ moduleSize: 0 }], [{ moduleSize: Number.NaN }], [{ margin: -1 }], [{ margin: 1.5 }]])('refuses %j', (options) => {
    expect(() => qrSvg('hi', options)).toThrow(RangeError);
  });
});

const READER = ['/usr/bin/zbarimg', '/usr/bin/rsvg-convert'];
gatedDescribe(requirePrograms(READER, 'apt-get install zbar-tools librsvg2-bin'))('a real reader scans the SVG (zbarimg)', () => {
  const dir = mkdtempSync(join(runDir(), 'qr-'));
  let counter = 0;

  /** Renders the SVG as it is (no background added) and returns the bytes zbarimg reads. */
  async function scan(svg: string): Promise<Uint8Array> {
    const name = join(dir, `symbol-${counter++}`);
    writeFileSync(`${name}.svg`, svg);
    await run('rsvg-convert', ['-o', `${name}.png`, `${name}.svg`]);
    const { stdout } = await run('zbarimg', ['--raw', '--quiet', '--nodbus', '-Sdisable', '-Sqrcode.enable', `${name}.png`], {
      encoding: 'buffer',
    });
    expect(stdout[stdout.length - 1]).toBe(0x0a); // one symbol, one trailing newline
    return new Uint8Array(stdout.subarray(0, -1));
  }

  it.concurrent.each([
    ['a short text', 'hi'],
    ['an otpauth URI', OTPAUTH],
    ['a 250-byte text', sampleText(250, 250)],
    ['UTF-8 text', 'Certkeep Zürich ✓ 証明書'],
  ])('reads back %s exactly', async (_what, text) => {
    expect(await scan(qrSvg(text, { moduleSize: 4 }))).toEqual(utf8(text));
  });

  it.concurrent('reads a small rendering (2 px modules)', async () => {
    expect(await scan(qrSvg(OTPAUTH, { moduleSize: 2 }))).toEqual(utf8(OTPAUTH));
  });

  it.concurrent.each(VERSIONS)('reads back version %i filled to capacity', async (version) => {
    const text = sampleText(byteCapacity(version), version);
    expect(encodeQr(text).version).toBe(version);
    expect(await scan(qrSvg(text, { moduleSize: 4 }))).toEqual(utf8(text));
  });
});

gatedDescribe(requirePrograms(['/usr/bin/qrencode'], 'apt-get install qrencode'))('an independent encoder agrees (qrencode)', () => {
  /** qrencode's matrix for `text` in byte mode at level M, read from its ASCII art ("##" = dark). */
  async function qrencodeMatrix(text: string): Promise<boolean[][]> {
    const { stdout } = await run('qrencode', ['-l', 'M', '-8', '-m', '0', '-t', 'ASCII', '-o', '-', '--', text]);
    return stdout
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => Array.from({ length: line.length / 2 }, (_, i) => line[2 * i] === '#'));
  }

  it.concurrent.each([
    ['an otpauth URI', OTPAUTH],
    ['UTF-8 text', 'Certkeep Zürich ✓ 証明書'],
    ...VERSIONS.map((version) => [`version ${version} filled to capacity`, sampleText(byteCapacity(version), version + 100)]),
  ])('draws the same matrix for %s, with one of the eight masks', async (_what, text) => {
    const theirs = await qrencodeMatrix(text);
    expect(theirs).toHaveLength(encodeQr(text).size);
    const matching = [0, 1, 2, 3, 4, 5, 6, 7].filter((mask) => JSON.stringify(encodeQr(text, { mask }).modules) === JSON.stringify(theirs));
    expect(matching).toHaveLength(1);
  });
});
