// The QR symbol comes from @paulmillr/qr; what is checked here is what Certkeep asks of it and
// draws from it: level M in byte mode (UTF-8) at the smallest version (capacities from ISO/IEC
// 18004 Table 7), the SVG (one path, nothing external, exactly the dark modules), and that a
// real reader scans it (zbarimg reads back the SVG rendered to PNG by rsvg-convert) and an
// independent encoder (libqrencode's `qrencode`) draws the same matrix.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import encodeQR from '@paulmillr/qr';
import { describe, expect, it } from 'vitest';
import { requirePrograms, gatedDescribe } from '../../test/harness/skip.ts';
import { runDir } from '../../test/harness/tmp.ts';
import { CertkeepError } from '../errors.ts';
import { utf8 } from '../util/encoding.ts';
import { qrModules, qrSvg } from './qr.ts';

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

/** Bytes a level-M symbol of each version holds in byte mode (ISO/IEC 18004 Table 7). */
const CAPACITY: Record<number, number> = { 1: 14, 2: 26, 3: 42, 4: 62, 5: 84, 6: 106, 7: 122, 8: 152, 9: 180, 10: 213, 20: 666, 27: 1125, 40: 2331 };
const VERSIONS = Object.keys(CAPACITY).map(Number);
const sizeOf = (version: number) => 17 + 4 * version;

describe('the symbol', () => {
  it.each(VERSIONS)('is version %i for a full one of its capacity, and the next size for one byte more', (version) => {
    const full = qrModules('a'.repeat(CAPACITY[version]));
    expect(full).toHaveLength(sizeOf(version));
    expect(full.every((row) => row.length === sizeOf(version))).toBe(true);
    if (version < 40) expect(qrModules('a'.repeat(CAPACITY[version] + 1)).length).toBeGreaterThan(sizeOf(version));
  });

  it('puts an otpauth URI in version 6 to 8', () => {
    expect(qrModules(OTPAUTH).length).toBeGreaterThanOrEqual(sizeOf(6));
    expect(qrModules(OTPAUTH).length).toBeLessThanOrEqual(sizeOf(8));
  });

  it('counts UTF-8 bytes, not characters', () => {
    expect(qrModules('é'.repeat(7))).toHaveLength(sizeOf(1)); // 14 bytes
    expect(qrModules('é'.repeat(8))).toHaveLength(sizeOf(2)); // 16 bytes
  });

  it('refuses text longer than version 40 holds with BAD_REQUEST', () => {
    let error: unknown;
    try {
      qrModules('a'.repeat(2332));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CertkeepError);
    expect(error).toMatchObject({ code: 'BAD_REQUEST', details: { bytes: 2332 } });
  });

  it('has the three finder patterns and the timing patterns where a reader looks for them', () => {
    const modules = qrModules(OTPAUTH);
    const size = modules.length;
    for (const [row, col] of [[0, 0], [0, size - 7], [size - 7, 0]]) {
      expect(modules[row].slice(col, col + 7)).toEqual([true, true, true, true, true, true, true]);
      expect(modules[row + 3].slice(col, col + 7)).toEqual([true, false, true, true, true, false, true]);
    }
    for (let i = 8; i < size - 8; i++) expect(modules[6][i]).toBe(i % 2 === 0);
  });
});

describe('qrSvg', () => {
  it('is one self-contained SVG with a title, a viewBox and one crisp path', () => {
    const svg = qrSvg(OTPAUTH, { moduleSize: 3, title: 'Scan <this> & "that"' });
    const size = qrModules(OTPAUTH).length + 8;
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
      const modules = qrModules('hello');
      const size = modules.length;
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
    const text = sampleText(CAPACITY[version], version);
    expect(qrModules(text)).toHaveLength(sizeOf(version));
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
    ...VERSIONS.map((version) => [`version ${version} filled to capacity`, sampleText(CAPACITY[version], version + 100)]),
  ])('draws the same matrix for %s, with one of the eight masks', async (_what, text) => {
    // The same settings as qrModules, with each mask forced in turn: exactly one gives qrencode's symbol.
    const theirs = await qrencodeMatrix(text);
    expect(theirs).toHaveLength(qrModules(text).length);
    const ours = (mask: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7) => encodeQR(text, 'raw', { ecc: 'medium', encoding: 'byte', border: 0, mask });
    const matching = ([0, 1, 2, 3, 4, 5, 6, 7] as const).filter((mask) => JSON.stringify(ours(mask)) === JSON.stringify(theirs));
    expect(matching).toHaveLength(1);
  });
});
