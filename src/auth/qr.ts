// A QR code encoder, enough for otpauth URIs: byte mode (UTF-8), error correction level M,
// versions 1–40, drawn as a self-contained SVG. Section numbers refer to ISO/IEC 18004:2015.
//
// The pipeline, one function per step:
//   text → data codewords (§7.4: mode, count, bytes, terminator, padding)
//        → blocks + Reed–Solomon ECC over GF(256) (§7.5), interleaved (§7.6)
//        → matrix: function patterns (§6.3), data in the two-column zigzag (§7.7.3)
//        → the mask with the lowest penalty (§7.8) → format and version information (§7.9, §7.10)
//        → SVG.

import { CertkeepError } from '../errors.ts';
import { utf8 } from '../util/encoding.ts';

export interface QrCode {
  /** 1–40; the symbol is 17 + 4·version modules wide. */
  version: number;
  /** The data mask pattern (0–7) written into the format information. */
  mask: number;
  size: number;
  /** Row-major, `modules[row][col]`, true = dark. Without the quiet zone. */
  modules: boolean[][];
}

export interface QrSvgOptions {
  /** Width of one module in CSS pixels (default 5). The SVG scales; this sets its intrinsic size. */
  moduleSize?: number;
  /** Quiet zone in modules (default 4, what §6.3.8 requires; readers may fail with less). */
  margin?: number;
  /** Accessible name of the image (default "QR code"). Not the encoded text, which may be a secret. */
  title?: string;
}

/**
 * An SVG image of the QR code for `text`: a light background and one path of dark modules,
 * in module units so edges fall on pixels (`crispEdges`). Nothing external is referenced.
 */
export function qrSvg(text: string, options: QrSvgOptions = {}): string {
  const moduleSize = options.moduleSize ?? 5;
  const margin = options.margin ?? 4;
  if (!(moduleSize > 0) || !Number.isFinite(moduleSize)) throw new RangeError('moduleSize must be a positive number');
  if (!Number.isInteger(margin) || margin < 0) throw new RangeError('margin must be a non-negative integer');
  const qr = encodeQr(text);
  const extent = qr.size + 2 * margin;
  const pixels = extent * moduleSize;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${extent} ${extent}" width="${pixels}" height="${pixels}" role="img">` +
    `<title>${escapeXml(options.title ?? 'QR code')}</title>` +
    `<rect width="${extent}" height="${extent}" fill="#fff"/>` +
    `<path fill="#000" shape-rendering="crispEdges" d="${darkModulesPath(qr.modules, margin)}"/>` +
    `</svg>`
  );
}

/** One rectangle per horizontal run of dark modules, offset by the quiet zone. */
function darkModulesPath(modules: boolean[][], margin: number): string {
  let d = '';
  modules.forEach((row, y) => {
    for (let x = 0; x < row.length; ) {
      if (!row[x]) {
        x++;
        continue;
      }
      const start = x;
      while (x < row.length && row[x]) x++;
      d += `M${start + margin} ${y + margin}h${x - start}v1h-${x - start}z`;
    }
  });
  return d;
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The QR code for the UTF-8 bytes of `text` in the smallest version that holds them at level M.
 * `mask` forces a mask pattern instead of choosing the one with the lowest penalty (for tests
 * that compare with other encoders). Throws BAD_REQUEST when the text does not fit (2331 bytes).
 */
export function encodeQr(text: string, options: { mask?: number } = {}): QrCode {
  if (options.mask !== undefined && !(Number.isInteger(options.mask) && options.mask >= 0 && options.mask <= 7)) {
    throw new RangeError('mask must be 0..7');
  }
  const data = utf8(text);
  const version = smallestVersionFor(data.length);
  const template = functionPatterns(version);
  const codewords = interleavedCodewords(dataCodewords(data, version), version);
  const unmasked = placeData(template, codewords);

  const candidates = options.mask === undefined ? [0, 1, 2, 3, 4, 5, 6, 7] : [options.mask];
  let best: { mask: number; grid: Grid; score: number } | null = null;
  for (const mask of candidates) {
    const grid = applyMask(unmasked, mask);
    drawFormatInformation(grid, mask);
    // The penalty is scored on the finished symbol, format information included (§7.8.3).
    const score = candidates.length === 1 ? 0 : maskPenalty(grid.toRows()).total;
    if (best === null || score < best.score) best = { mask, grid, score };
  }
  const { mask, grid } = best!;
  return { version, mask, size: grid.size, modules: grid.toRows() };
}

// ---------------------------------------------------------------------------------------------
// Capacity (§7.5.1, Table 9, level M)

/** Error correction codewords per block, level M, versions 1–40. */
const ECC_PER_BLOCK_M = [
  10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  28, 28, 28, 28, 28, 28, 28, 28, 28, 28,
];
/** Number of error correction blocks, level M, versions 1–40. */
const BLOCKS_M = [
  1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37,
  38, 40, 43, 45, 47, 49,
];
/** Format information bits for the level (§7.9.1, Table 12): M is 00. */
const LEVEL_M_BITS = 0b00;
const MAX_VERSION = 40;

interface BlockLayout {
  totalCodewords: number;
  eccPerBlock: number;
  blocks: number;
  dataCodewords: number;
}

const layouts = new Map<number, BlockLayout>();

/** Codeword counts of a version. The total is counted from the modules left free by the function patterns. */
function blockLayout(version: number): BlockLayout {
  let layout = layouts.get(version);
  if (!layout) {
    const totalCodewords = Math.floor(functionPatterns(version).freeModules() / 8);
    const eccPerBlock = ECC_PER_BLOCK_M[version - 1];
    const blocks = BLOCKS_M[version - 1];
    layout = { totalCodewords, eccPerBlock, blocks, dataCodewords: totalCodewords - eccPerBlock * blocks };
    layouts.set(version, layout);
  }
  return layout;
}

/** Byte mode character count indicator length (§7.4.1, Table 3). */
function countBits(version: number): number {
  return version <= 9 ? 8 : 16;
}

/** How many bytes a version holds in byte mode at level M. */
export function byteCapacity(version: number): number {
  return Math.floor((blockLayout(version).dataCodewords * 8 - 4 - countBits(version)) / 8);
}

function smallestVersionFor(bytes: number): number {
  for (let version = 1; version <= MAX_VERSION; version++) {
    if (bytes <= byteCapacity(version)) return version;
  }
  throw new CertkeepError('BAD_REQUEST', 'text too long for a QR code', { bytes, maxBytes: byteCapacity(MAX_VERSION) });
}

// ---------------------------------------------------------------------------------------------
// Data codewords (§7.4)

/** Mode indicator, count, the bytes, up to four terminator zeros, zero bits to a byte, pad codewords. */
function dataCodewords(data: Uint8Array, version: number): Uint8Array {
  const capacity = blockLayout(version).dataCodewords;
  const bits = new BitBuffer();
  bits.push(0b0100, 4); // byte mode (§7.4.2, Table 2)
  bits.push(data.length, countBits(version));
  for (const byte of data) bits.push(byte, 8);
  bits.push(0, Math.min(4, capacity * 8 - bits.length)); // terminator (§7.4.9)
  bits.push(0, (8 - (bits.length % 8)) % 8);
  const out = new Uint8Array(capacity);
  out.set(bits.toBytes());
  // Pad codewords 11101100 and 00010001, alternating (§7.4.10).
  for (let i = bits.length / 8, pad = 0xec; i < capacity; i++, pad ^= 0xec ^ 0x11) out[i] = pad;
  return out;
}

class BitBuffer {
  private readonly bits: number[] = [];

  get length(): number {
    return this.bits.length;
  }

  /** Appends the low `count` bits of `value`, most significant first. */
  push(value: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) this.bits.push((value >>> i) & 1);
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(Math.ceil(this.bits.length / 8));
    this.bits.forEach((bit, i) => (out[i >> 3] |= bit << (7 - (i & 7))));
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Blocks, error correction and interleaving (§7.5, §7.6)

/**
 * Splits the data into the version's blocks (shorter blocks first, the rest one codeword
 * longer), computes each block's ECC, and interleaves: the i-th data codeword of every block
 * in turn, then the i-th ECC codeword of every block.
 */
function interleavedCodewords(data: Uint8Array, version: number): Uint8Array {
  const { totalCodewords, eccPerBlock, blocks } = blockLayout(version);
  const longBlocks = totalCodewords % blocks;
  const shortDataLength = Math.floor(totalCodewords / blocks) - eccPerBlock;
  const dataBlocks: Uint8Array[] = [];
  let offset = 0;
  for (let b = 0; b < blocks; b++) {
    const length = shortDataLength + (b >= blocks - longBlocks ? 1 : 0);
    dataBlocks.push(data.subarray(offset, offset + length));
    offset += length;
  }
  const eccBlocks = dataBlocks.map((block) => reedSolomonEcc(block, eccPerBlock));

  const out: number[] = [];
  for (let i = 0; i <= shortDataLength; i++) {
    for (const block of dataBlocks) if (i < block.length) out.push(block[i]);
  }
  for (let i = 0; i < eccPerBlock; i++) {
    for (const block of eccBlocks) out.push(block[i]);
  }
  return Uint8Array.from(out);
}

// GF(256) with the QR code's field polynomial x^8 + x^4 + x^3 + x^2 + 1 (§7.5.2), generator α = 2.
const GF_EXP = new Uint8Array(512);
const GF_LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < 255; i++) {
  GF_EXP[i] = x;
  GF_LOG[x] = i;
  x = x & 0x80 ? ((x << 1) ^ 0x11d) & 0xff : x << 1;
}
for (let i = 255; i < 512; i++) GF_EXP[i] = GF_EXP[i - 255]; // so products need no modulo

function gfMultiply(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : GF_EXP[GF_LOG[a] + GF_LOG[b]];
}

const generators = new Map<number, Uint8Array>();

/** The generator polynomial (x − α^0)(x − α^1)…(x − α^(n−1)), coefficients highest degree first. */
function generatorPolynomial(degree: number): Uint8Array {
  let poly = generators.get(degree);
  if (!poly) {
    let product = [1];
    for (let i = 0; i < degree; i++) {
      const next = new Array<number>(product.length + 1).fill(0);
      product.forEach((coefficient, j) => {
        next[j] ^= coefficient; // · x
        next[j + 1] ^= gfMultiply(coefficient, GF_EXP[i]); // · α^i (minus is plus in GF(2^8))
      });
      product = next;
    }
    poly = Uint8Array.from(product);
    generators.set(degree, poly);
  }
  return poly;
}

/**
 * The `eccLength` Reed–Solomon error correction codewords of a block: the remainder of
 * data(x)·x^eccLength divided by the generator polynomial (§7.5.2), by long division.
 */
export function reedSolomonEcc(data: Uint8Array, eccLength: number): Uint8Array {
  const generator = generatorPolynomial(eccLength);
  const remainder = new Uint8Array(eccLength);
  for (const byte of data) {
    const factor = byte ^ remainder[0];
    remainder.copyWithin(0, 1);
    remainder[eccLength - 1] = 0;
    for (let i = 0; i < eccLength; i++) remainder[i] ^= gfMultiply(generator[i + 1], factor);
  }
  return remainder;
}

// ---------------------------------------------------------------------------------------------
// The matrix

/** A square of modules that remembers which ones belong to function patterns. */
class Grid {
  readonly dark: Uint8Array;
  readonly reserved: Uint8Array;

  constructor(readonly size: number) {
    this.dark = new Uint8Array(size * size);
    this.reserved = new Uint8Array(size * size);
  }

  /** Sets a function-pattern module (never touched by data or masks). */
  setFunction(row: number, col: number, dark: boolean): void {
    this.dark[row * this.size + col] = dark ? 1 : 0;
    this.reserved[row * this.size + col] = 1;
  }

  isReserved(row: number, col: number): boolean {
    return this.reserved[row * this.size + col] === 1;
  }

  isDark(row: number, col: number): boolean {
    return this.dark[row * this.size + col] === 1;
  }

  setData(row: number, col: number, dark: boolean): void {
    this.dark[row * this.size + col] = dark ? 1 : 0;
  }

  freeModules(): number {
    return this.reserved.reduce((n, r) => n + (r ? 0 : 1), 0);
  }

  clone(): Grid {
    const copy = new Grid(this.size);
    copy.dark.set(this.dark);
    copy.reserved.set(this.reserved);
    return copy;
  }

  toRows(): boolean[][] {
    return Array.from({ length: this.size }, (_, row) => Array.from({ length: this.size }, (_, col) => this.isDark(row, col)));
  }
}

/**
 * Centre coordinates of alignment patterns per version (§6.3.6, Annex E, Table E.1): every
 * pair of them is a centre, except the three that fall on finder patterns.
 */
const ALIGNMENT_CENTRES: number[][] = [
  [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50],
  [6, 30, 54], [6, 32, 58], [6, 34, 62], [6, 26, 46, 66], [6, 26, 48, 70], [6, 26, 50, 74], [6, 30, 54, 78],
  [6, 30, 56, 82], [6, 30, 58, 86], [6, 34, 62, 90], [6, 28, 50, 72, 94], [6, 26, 50, 74, 98],
  [6, 30, 54, 78, 102], [6, 28, 54, 80, 106], [6, 32, 58, 84, 110], [6, 30, 58, 86, 114], [6, 34, 62, 90, 118],
  [6, 26, 50, 74, 98, 122], [6, 30, 54, 78, 102, 126], [6, 26, 52, 78, 104, 130], [6, 30, 56, 82, 108, 134],
  [6, 34, 60, 86, 112, 138], [6, 30, 58, 86, 114, 142], [6, 34, 62, 90, 118, 146], [6, 30, 54, 78, 102, 126, 150],
  [6, 24, 50, 76, 102, 128, 154], [6, 28, 54, 80, 106, 132, 158], [6, 32, 58, 84, 110, 136, 162],
  [6, 26, 54, 82, 110, 138, 166], [6, 30, 58, 86, 114, 142, 170],
];

const templates = new Map<number, Grid>();

/**
 * The empty symbol of a version: finder patterns with their separators (§6.3.3), timing
 * patterns (§6.3.5), alignment patterns (§6.3.6), the dark module, version information
 * (§7.10) and the reserved (still light) format information area.
 */
function functionPatterns(version: number): Grid {
  const cached = templates.get(version);
  if (cached) return cached.clone();
  const size = 17 + 4 * version;
  const grid = new Grid(size);

  for (let i = 0; i < size; i++) {
    grid.setFunction(6, i, i % 2 === 0);
    grid.setFunction(i, 6, i % 2 === 0);
  }
  for (const [row, col] of [[0, 0], [0, size - 7], [size - 7, 0]]) {
    // 7×7 rings around the 3×3 centre: dark, light, dark; then a light separator ring.
    for (let dr = -1; dr <= 7; dr++) {
      for (let dc = -1; dc <= 7; dc++) {
        const r = row + dr;
        const c = col + dc;
        if (r < 0 || r >= size || c < 0 || c >= size) continue;
        const ring = Math.max(Math.abs(dr - 3), Math.abs(dc - 3));
        grid.setFunction(r, c, ring !== 2 && ring !== 4);
      }
    }
  }
  const centres = ALIGNMENT_CENTRES[version - 1];
  const last = centres.length - 1;
  centres.forEach((row, i) => {
    centres.forEach((col, j) => {
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return;
      for (let dr = -2; dr <= 2; dr++) {
        for (let dc = -2; dc <= 2; dc++) grid.setFunction(row + dr, col + dc, Math.max(Math.abs(dr), Math.abs(dc)) !== 1);
      }
    });
  });

  drawFormatInformation(grid, 0); // reserves the area; overwritten once the mask is chosen
  if (version >= 7) drawVersionInformation(grid, version);
  templates.set(version, grid);
  return grid.clone();
}

/**
 * Fills the free modules with the codeword bits, most significant first, in the zigzag of
 * §7.7.3: two-module-wide columns from the right edge, alternately upwards and downwards,
 * skipping the vertical timing pattern. Remainder bits stay light.
 */
function placeData(template: Grid, codewords: Uint8Array): Grid {
  const grid = template.clone();
  const size = grid.size;
  const totalBits = codewords.length * 8;
  let bit = 0;
  let upwards = true;
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    for (let k = 0; k < size; k++) {
      const row = upwards ? size - 1 - k : k;
      for (const col of [right, right - 1]) {
        if (grid.isReserved(row, col)) continue;
        const dark = bit < totalBits && ((codewords[bit >> 3] >>> (7 - (bit & 7))) & 1) === 1;
        grid.setData(row, col, dark);
        bit++;
      }
    }
    upwards = !upwards;
  }
  return grid;
}

/** Data mask conditions (§7.8.2, Table 10), i = row, j = column: where true, the module is inverted. */
const MASKS: Array<(i: number, j: number) => boolean> = [
  (i, j) => (i + j) % 2 === 0,
  (i) => i % 2 === 0,
  (_i, j) => j % 3 === 0,
  (i, j) => (i + j) % 3 === 0,
  (i, j) => (Math.floor(i / 2) + Math.floor(j / 3)) % 2 === 0,
  (i, j) => ((i * j) % 2) + ((i * j) % 3) === 0,
  (i, j) => (((i * j) % 2) + ((i * j) % 3)) % 2 === 0,
  (i, j) => (((i + j) % 2) + ((i * j) % 3)) % 2 === 0,
];

function applyMask(unmasked: Grid, mask: number): Grid {
  const grid = unmasked.clone();
  const condition = MASKS[mask];
  for (let row = 0; row < grid.size; row++) {
    for (let col = 0; col < grid.size; col++) {
      if (!grid.isReserved(row, col) && condition(row, col)) grid.setData(row, col, !grid.isDark(row, col));
    }
  }
  return grid;
}

// ---------------------------------------------------------------------------------------------
// Format and version information (§7.9, §7.10)

/** Remainder of `value` (already shifted left by the generator's degree) modulo a BCH generator. */
function bchRemainder(value: number, generator: number): number {
  const degree = 31 - Math.clz32(generator);
  for (let bit = 31 - Math.clz32(value); bit >= degree; bit--) {
    if (value & (1 << bit)) value ^= generator << (bit - degree);
  }
  return value;
}

/** The 15 format bits for level M and `mask`: BCH(15,5) with generator 0x537, XORed with 0x5412 (§7.9.1). */
export function formatInformation(mask: number): number {
  const data = (LEVEL_M_BITS << 3) | mask;
  return ((data << 10) | bchRemainder(data << 10, 0x537)) ^ 0x5412;
}

/** The 18 version bits: the version and its BCH(18,6) remainder, generator 0x1f25 (§7.10, Annex D). */
export function versionInformation(version: number): number {
  return (version << 12) | bchRemainder(version << 12, 0x1f25);
}

/**
 * Writes the format information twice (§7.9.1, Figure 25), most significant bit first:
 * along row 8 and up column 8 around the top-left finder, and split between the bottom-left
 * (column 8, upwards from the bottom) and top-right (row 8, rightwards) finders. Also the
 * always-dark module next to the bottom-left copy.
 */
function drawFormatInformation(grid: Grid, mask: number): void {
  const size = grid.size;
  const bits = formatInformation(mask);
  const bitAt = (i: number): boolean => ((bits >>> (14 - i)) & 1) === 1; // i = 0 is the MSB
  const aroundTopLeft: Array<[number, number]> = [
    [8, 0], [8, 1], [8, 2], [8, 3], [8, 4], [8, 5], [8, 7], [8, 8],
    [7, 8], [5, 8], [4, 8], [3, 8], [2, 8], [1, 8], [0, 8],
  ];
  aroundTopLeft.forEach(([row, col], i) => grid.setFunction(row, col, bitAt(i)));
  for (let i = 0; i < 7; i++) grid.setFunction(size - 1 - i, 8, bitAt(i));
  for (let i = 7; i < 15; i++) grid.setFunction(8, size - 15 + i, bitAt(i));
  grid.setFunction(size - 8, 8, true);
}

/**
 * Writes the version information twice (§7.10, Figure 27), least significant bit first: a
 * 6×3 block left of the top-right finder, filled row by row, and its transpose, a 3×6 block
 * above the bottom-left finder.
 */
function drawVersionInformation(grid: Grid, version: number): void {
  const bits = versionInformation(version);
  for (let i = 0; i < 18; i++) {
    const dark = ((bits >>> i) & 1) === 1;
    const near = Math.floor(i / 3);
    const far = grid.size - 11 + (i % 3);
    grid.setFunction(near, far, dark);
    grid.setFunction(far, near, dark);
  }
}

// ---------------------------------------------------------------------------------------------
// Mask evaluation (§7.8.3, Table 11)

export interface MaskPenalty {
  /** N1: 3 + (run − 5) for each run of five or more same-colour modules in a row or column. */
  runs: number;
  /** N2: 3 for each 2×2 block of one colour (overlapping blocks each count). */
  blocks: number;
  /** N3: 40 for each 1:1:3:1:1 dark–light–dark–light–dark pattern with four light modules on one side. */
  finderLike: number;
  /** N4: 10 for each full 5 % that the dark proportion is away from 50 %. */
  balance: number;
  total: number;
}

/** The penalty of a finished symbol; the mask with the lowest total is the one used. */
export function maskPenalty(modules: boolean[][]): MaskPenalty {
  const size = modules.length;
  const columns = modules[0].map((_, col) => modules.map((row) => row[col]));
  const lines = [...modules, ...columns];

  let runs = 0;
  let finderLike = 0;
  for (const line of lines) {
    for (let start = 0; start < size; ) {
      let end = start;
      while (end < size && line[end] === line[start]) end++;
      if (end - start >= 5) runs += 3 + (end - start - 5);
      start = end;
    }
    for (let start = 0; start + 7 <= size; start++) {
      if (isFinderCore(line, start) && (isLightSpan(line, start - 4, start) || isLightSpan(line, start + 7, start + 11))) {
        finderLike += 40;
      }
    }
  }

  let blocks = 0;
  for (let row = 0; row + 1 < size; row++) {
    for (let col = 0; col + 1 < size; col++) {
      const colour = modules[row][col];
      if (modules[row][col + 1] === colour && modules[row + 1][col] === colour && modules[row + 1][col + 1] === colour) blocks += 3;
    }
  }

  const dark = modules.reduce((n, row) => n + row.filter(Boolean).length, 0);
  const balance = 10 * Math.floor(Math.abs((dark * 100) / (size * size) - 50) / 5);

  return { runs, blocks, finderLike, balance, total: runs + blocks + finderLike + balance };
}

/** dark, light, dark×3, light, dark starting at `start`. */
function isFinderCore(line: boolean[], start: number): boolean {
  const pattern = [true, false, true, true, true, false, true];
  return pattern.every((dark, k) => line[start + k] === dark);
}

/** Whether modules [from, to) are all light; beyond the edge is the light quiet zone. */
function isLightSpan(line: boolean[], from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (i >= 0 && i < line.length && line[i]) return false;
  return true;
}
