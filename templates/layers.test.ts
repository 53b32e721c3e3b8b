// The layers of the pages, read from the import statements: src/http (routes and handlers) uses
// templates/, templates/ uses the HTML builder in src/html/, and nothing points back up. A
// template that imported from src/http would tie the markup to the request handling it serves.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = relative(ROOT, fileURLToPath(import.meta.url)); // its examples below name src/http on purpose

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** Every module a file names in `import … from`, `export … from`, `import '…'` or `import('…')`, resolved from the repository root. */
export function importsOf(file: string, source = readFileSync(join(ROOT, file), 'utf8')): string[] {
  const specifiers = [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])([^'"]+)\1/g)].map((m) => m[2]);
  return specifiers.filter((s) => s.startsWith('.')).map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)));
}

/** The files of `dir` that import from one of `forbidden`, as "file → module". */
function crossings(dir: string, forbidden: readonly string[]): string[] {
  return tsFiles(dir).filter((file) => file !== SELF).flatMap((file) => importsOf(file).filter((m) => forbidden.some((f) => m.startsWith(f))).map((m) => `${file} → ${m}`));
}

describe('layers', () => {
  it('templates/ imports nothing from src/http/', () => {
    expect(crossings('templates', ['src/http/'])).toEqual([]);
  });

  it('the HTML builder (src/html/) imports from neither src/http/ nor templates/', () => {
    expect(crossings('src/html', ['src/http/', 'templates/'])).toEqual([]);
  });

  it('the check sees each way of naming a module (it can fail)', () => {
    const source = [
      "import { html } from '../src/http/html.ts';",
      "import type { X } from \"../src/http/context.ts\";",
      "export { y } from '../src/http/y.ts';",
      "import '../src/http/side-effect.ts';",
      "const z = await import('../src/http/z.ts');",
      "import { ok } from './components.ts';",
    ].join('\n');
    expect(importsOf('templates/x.ts', source)).toEqual([
      'src/http/html.ts',
      'src/http/context.ts',
      'src/http/y.ts',
      'src/http/side-effect.ts',
      'src/http/z.ts',
      'templates/components.ts',
    ]);
  });
});
