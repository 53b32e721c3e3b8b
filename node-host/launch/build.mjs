// @ts-check
// Builds one bundle of the node host: `node build.mjs <root> <entry> <name>` bundles <entry>
// (a TypeScript file, relative to <root>) and everything it imports into a single ES module
// with esbuild, writes it and its manifest (manifest.mjs) into the cache, and prints the
// bundle's path. Exits non-zero with the reason on stderr when it cannot.
//
// It runs as a child process of the launcher so that esbuild's API and its service process
// never live in a running host. esbuild comes with tsx (a dependency), so nothing extra is
// installed and `npm install && npm start` needs no build step.
//
// Why one file and no code splitting: a dynamic import() inside the bundle becomes a lazily
// initialised part of the same file, so modules a host does not need yet cost only their
// source text, and a running host never reads the bundle again: replacing or deleting an old
// bundle cannot break it, even for a module it first needs a week later.
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FORMAT, cacheDir, manifestPath } from './manifest.mjs';

/** Packages that find a native binary at run time (by a computed require): loaded from node_modules as usual. */
const EXTERNAL = ['libsql'];

/** Files besides the bundle's own inputs whose change must rebuild it: they change how it is built. */
const buildInputs = (root) => ['package.json', 'tsconfig.json', relative(root, fileURLToPath(import.meta.url)), relative(root, fileURLToPath(new URL('manifest.mjs', import.meta.url)))];

/** Stale bundles and abandoned temporary files are removed once they are this old. */
const STALE_MS = 60_000;

/**
 * Modules that find files next to themselves (migrations, assets) use import.meta.url,
 * __dirname or __filename. In a bundle these would name the bundle's location; this plugin
 * replaces them, in every file, with the file's own location, as if it had not been bundled.
 * @type {import('esbuild').Plugin}
 */
const ownLocation = {
  name: 'own-location',
  setup(build) {
    const LOCATION = /\bimport\.meta\.(?:url|dirname|filename)\b|\b__dirname\b|\b__filename\b/g;
    const LOADERS = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.js': 'js', '.mjs': 'js', '.cjs': 'js' };
    build.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const url = pathToFileURL(args.path).href;
      const contents = source.replace(LOCATION, (token) =>
        JSON.stringify(token.endsWith('url') ? url : token.endsWith('dirname') ? dirname(args.path) : args.path),
      );
      if (contents === source) return undefined; // esbuild reads it as usual
      return { contents, loader: /** @type {'ts' | 'js'} */ (LOADERS[/** @type {keyof LOADERS} */ (extname(args.path))]) };
    });
  },
};

/** esbuild as tsx installed it: resolved through tsx, whose dependency it is. */
async function loadEsbuild(root) {
  const fromRoot = createRequire(join(root, 'package.json'));
  const fromTsx = createRequire(fromRoot.resolve('tsx/package.json'));
  const esbuild = await import(pathToFileURL(fromTsx.resolve('esbuild')).href);
  return /** @type {typeof import('esbuild')} */ (esbuild.default ?? esbuild);
}

/**
 * esbuild escapes non-ASCII text everywhere but in tagged templates and regular expressions,
 * where it would change `strings.raw`. Escaping them too keeps the whole bundle one byte per
 * character in V8 (a 1.5 MB string instead of 3 MB). Safe in every place such a character can
 * stand in JavaScript (strings, templates' cooked text, regular expressions, identifiers); only a
 * tag that reads `strings.raw` would see the escape, and none in this code base does
 * (src/html/html.ts reads the cooked strings).
 * @param {string} code
 */
export function asciiOnly(code) {
  return code.replace(/[^\0-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Writes `data` under a temporary name, then renames it to `path`: readers see all or nothing. */
function writeAtomically(path, data) {
  const temp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, data);
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/**
 * @param {string} root
 * @param {string} entry
 * @param {string} name
 * @returns {Promise<string>} the bundle's path
 */
export async function buildBundle(root, entry, name) {
  const esbuild = await loadEsbuild(root);
  const startedAt = Date.now();
  let result;
  try {
    result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [entry],
      outfile: join(cacheDir(root), `${name}.mjs`),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: EXTERNAL,
      plugins: [ownLocation],
      // CommonJS dependencies call require() for Node's built-ins: give the bundle one.
      banner: { js: "import { createRequire as __certkeepCreateRequire } from 'node:module';\nconst require = __certkeepCreateRequire(import.meta.url);" },
      // V8 keeps a module's whole source text in memory, and a single character outside Latin-1
      // (a § in a comment) doubles it to two bytes per character: no comments, no layout,
      // non-ASCII escaped. Identifiers stay, so stack traces still name functions, and
      // NODE_OPTIONS=--enable-source-maps maps them back to the TypeScript.
      minifyWhitespace: true,
      minifySyntax: true,
      charset: 'ascii',
      legalComments: 'none',
      sourcemap: 'linked',
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
  } finally {
    await esbuild.stop();
  }
  const output = (suffix) => /** @type {import('esbuild').OutputFile} */ (result.outputFiles.find((f) => f.path.endsWith(suffix)));
  const dir = cacheDir(root);
  mkdirSync(dir, { recursive: true });
  const bundleName = `${name}-${createHash('sha256').update(output('.mjs').contents).digest('hex').slice(0, 16)}.mjs`;
  const bundle = join(dir, bundleName);
  // The map first, so that a bundle on disk always finds its own.
  writeAtomically(`${bundle}.map`, output('.mjs.map').contents);
  writeAtomically(bundle, asciiOnly(output('.mjs').text).replace(/sourceMappingURL=\S+\s*$/, `sourceMappingURL=${bundleName}.map\n`));

  const inputs = [...new Set([...Object.keys(result.metafile.inputs), ...buildInputs(root)])].map((file) => {
    const stat = statSync(join(root, file));
    return /** @type {[string, number, number]} */ ([file, stat.mtimeMs, stat.size]);
  });
  // A file changed while esbuild was reading: this bundle may hold the old text. Use it for this
  // run, as a compile-on-load would, but keep no manifest, so the next start builds again. (The
  // margin covers file timestamps, which lag the clock by up to a scheduler tick.)
  const finishedAt = Date.now();
  const changedDuringBuild = inputs.some(([, mtimeMs]) => mtimeMs >= startedAt - 20 && mtimeMs <= finishedAt + 20);
  if (!changedDuringBuild) {
    writeAtomically(manifestPath(root, name), JSON.stringify({ format: FORMAT, root, bundle: bundleName, inputs }));
  }
  removeStale(dir, name, bundleName);
  return bundle;
}

/**
 * Older bundles of `name` and temporary files that a killed build left. A host reads its bundle
 * once while it starts, so only a bundle that a start may be about to import (younger than
 * STALE_MS) is kept.
 */
function removeStale(dir, name, keep) {
  const now = Date.now();
  for (const file of readdirSync(dir)) {
    const ours = (file.startsWith(`${name}-`) && /\.(mjs|map|tmp)$/.test(file)) || (file.startsWith(`${name}.json.`) && file.endsWith('.tmp'));
    if (!ours || file === keep || file === `${keep}.map`) continue;
    const path = join(dir, file);
    try {
      if (now - statSync(path).mtimeMs > STALE_MS) rmSync(path, { force: true });
    } catch {
      // Another build removed it first.
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [root, entry, name] = process.argv.slice(2);
  try {
    process.stdout.write((await buildBundle(root, entry, name)) + '\n');
  } catch (err) {
    process.stderr.write(`${/** @type {Error} */ (err).message.split('\n').slice(0, 5).join('\n')}\n`);
    process.exitCode = 1;
  }
}
