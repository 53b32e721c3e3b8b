// QR codes for otpauth URIs, drawn as a self-contained SVG. The symbol itself (byte mode, UTF-8,
// error correction level M, the smallest version that holds the text, the mask with the lowest
// penalty) comes from @paulmillr/qr, a small maintained encoder with no dependencies that runs on
// Node and workerd alike; the SVG is ours, so that it is one path with no style attribute or
// element, which the pages' CSP would refuse.
import encodeQR from '@paulmillr/qr';
import { CertkeepError } from '../errors.ts';
import { utf8 } from '../util/encoding.ts';

export interface QrSvgOptions {
  /** Width of one module in CSS pixels (default 5). The SVG scales; this sets its intrinsic size. */
  moduleSize?: number;
  /** Quiet zone in modules (default 4, what ISO/IEC 18004 §6.3.8 requires; readers may fail with less). */
  margin?: number;
  /** Accessible name of the image (default "QR code"). Not the encoded text, which may be a secret. */
  title?: string;
}

/**
 * The modules of the QR code for `text`: row-major, `modules[row][col]`, true = dark, without the
 * quiet zone. Throws BAD_REQUEST when the text does not fit in a version 40 symbol.
 */
export function qrModules(text: string): boolean[][] {
  try {
    return encodeQR(text, 'raw', { ecc: 'medium', encoding: 'byte', border: 0 });
  } catch (e) {
    const bytes = utf8(text).length;
    throw new CertkeepError('BAD_REQUEST', `text of ${bytes} bytes does not fit in a QR code`, { bytes }, { cause: e });
  }
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
  const modules = qrModules(text);
  const extent = modules.length + 2 * margin;
  const pixels = extent * moduleSize;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${extent} ${extent}" width="${pixels}" height="${pixels}" role="img">` +
    `<title>${escapeXml(options.title ?? 'QR code')}</title>` +
    `<rect width="${extent}" height="${extent}" fill="#fff"/>` +
    `<path fill="#000" shape-rendering="crispEdges" d="${darkModulesPath(modules, margin)}"/>` +
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
