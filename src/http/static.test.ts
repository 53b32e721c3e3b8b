import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { describe, expect, it } from 'vitest';
import { GENERATED_PATH, renderAssetsModule } from '../../node-host/embed-assets.ts';
import { makeTempDir } from '../../test/harness/tmp.ts';
import { assetUrl, serveStatic } from './static.ts';

const get = (path: string, headers: HeadersInit = {}, method = 'GET') => serveStatic(new Request(`http://127.0.0.1${path}`, { method, headers }));
const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const htmxDist = (file: string) => readFileSync(join(createRequire(import.meta.url).resolve('htmx.org/package.json'), '..', 'dist', file));

describe('assetUrl', () => {
  it('names each asset by its content hash', () => {
    expect(assetUrl('app.css')).toMatch(/^\/static\/app\.[0-9a-f]{16}\.css$/);
    expect(assetUrl('htmx.min.js')).toMatch(/^\/static\/htmx\.min\.[0-9a-f]{16}\.js$/);
    expect(assetUrl('favicon.svg')).toMatch(/^\/static\/favicon\.[0-9a-f]{16}\.svg$/);
    expect(assetUrl('app.js')).toMatch(/^\/static\/app\.[0-9a-f]{16}\.js$/);
  });

  it('refuses a name that is not embedded', () => {
    expect(() => assetUrl('nope.css' as never)).toThrow(/no embedded asset/);
  });
});

describe('serveStatic', () => {
  it.each([
    ['app.css', 'text/css; charset=utf-8'],
    ['htmx.min.js', 'text/javascript; charset=utf-8'],
    ['app.js', 'text/javascript; charset=utf-8'],
    ['favicon.svg', 'image/svg+xml'],
  ] as const)('serves %s with its content type, a strong ETag and a year of immutable caching', async (name, type) => {
    const res = get(assetUrl(name));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const bytes = new Uint8Array(await res.arrayBuffer());
    // The hash in the URL and the ETag is the hash of the bytes served: a strong validator.
    const hash = sha256Hex(bytes).slice(0, 16);
    expect(assetUrl(name)).toContain(`.${hash}.`);
    expect(res.headers.get('etag')).toBe(`"${hash}"`);
  });

  it('serves htmx exactly as the htmx.org package ships its minified browser build', async () => {
    const served = await get(assetUrl('htmx.min.js')).text();
    // Byte for byte, but for a trailing source-map comment (we serve no maps): 4.0.1 has none.
    expect(served).toBe(htmxDist('htmx.min.js').toString('utf8').replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n'));
    expect(served).toMatch(/^var htmx=/); // the IIFE build: window.htmx, no ES module
  });

  it('serves the plain name too, revalidated on every use', async () => {
    const res = get('/static/app.css');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, no-cache');
    expect(res.headers.get('etag')).toBe(get(assetUrl('app.css')).headers.get('etag'));
    expect(await res.text()).toBe(readFileSync(new URL('../../templates/static/app.css', import.meta.url), 'utf8'));
  });

  it('answers 304 without a body when If-None-Match names the ETag (weak comparison, lists, *)', async () => {
    const url = assetUrl('app.css');
    const etag = get(url).headers.get('etag')!;
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = get(url, { 'if-none-match': inm });
      expect(res.status, inm).toBe(304);
      expect(res.headers.get('etag')).toBe(etag);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(await res.text()).toBe('');
    }
    expect(get(url, { 'if-none-match': '"0000000000000000"' }).status).toBe(200);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = get(assetUrl('app.css'), {}, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(res.body).toBeNull();
  });

  it('answers 404 for unknown assets, stale hashes and paths outside /static/', async () => {
    for (const path of ['/static/nope.css', '/static/app.0000000000000000.css', '/static/', '/static/../package.json', '/app.css', '/static/app.css/x']) {
      const res = get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
  });

  it('answers 405 to other methods', () => {
    const res = get(assetUrl('app.css'), {}, 'POST');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('the embedded assets module', () => {
  it('is up to date with templates/static/ and the installed htmx.org (else run `npx tsx node-host/embed-assets.ts`)', () => {
    expect(readFileSync(GENERATED_PATH, 'utf8') === renderAssetsModule(), 'templates/static/assets.generated.ts is stale: run `npx tsx node-host/embed-assets.ts`').toBe(true);
  });

  it('notices an edit to a source (the staleness check can fail)', () => {
    // Render from a copy of app.css with one byte changed: the module text must differ.
    const css = join(makeTempDir('assets-'), 'app.css');
    writeFileSync(css, readFileSync(new URL('../../templates/static/app.css', import.meta.url), 'utf8') + ' ');
    expect(renderAssetsModule([{ name: 'app.css', path: css, contentType: 'text/css; charset=utf-8' }])).not.toBe(renderAssetsModule());
  });

  it('bundles for workerd (esbuild, platform neutral, as the Miniflare harness and wrangler do) and serves from the bundle', async () => {
    const outfile = join(makeTempDir('static-bundle-'), 'static.mjs');
    await build({ entryPoints: [new URL('./static.ts', import.meta.url).pathname], outfile, bundle: true, format: 'esm', platform: 'neutral', target: 'es2022', logLevel: 'error' });
    const bundled = (await import(pathToFileURL(outfile).href)) as typeof import('./static.ts');
    const url = bundled.assetUrl('htmx.min.js');
    expect(url).toBe(assetUrl('htmx.min.js'));
    const res = bundled.serveStatic(new Request(`http://127.0.0.1${url}`));
    expect(await res.text()).toBe(await get(url).text());
    expect(res.headers.get('etag')).toBe(get(url).headers.get('etag'));
  });

  it('serves the same bytes under workerd (Miniflare), with the layout that links to them', async () => {
    // A tiny Worker built from the real modules: the layout page at /, assets at /static/*.
    const dir = makeTempDir('static-workerd-');
    const mod = (rel: string) => JSON.stringify(new URL(rel, import.meta.url).pathname);
    writeFileSync(
      join(dir, 'entry.ts'),
      `import { serveStatic } from ${mod('./static.ts')};
       import { html, page } from ${mod('../html/html.ts')};
       import { layout } from ${mod('../../templates/layout.ts')};
       export default {
         fetch(request) {
           const { pathname } = new URL(request.url);
           return pathname.startsWith('/static/') ? serveStatic(request) : page(layout({ title: 'On workerd' }, html\`<h1>\${'<ok>'}</h1>\`));
         },
       };`,
    );
    const scriptPath = join(dir, 'worker.mjs');
    await build({ entryPoints: [join(dir, 'entry.ts')], outfile: scriptPath, bundle: true, format: 'esm', platform: 'neutral', target: 'es2022', conditions: ['workerd', 'worker', 'browser'], logLevel: 'error' });
    const mf = new Miniflare({ modules: true, scriptPath, compatibilityDate: '2025-09-01' });
    try {
      const pageRes = await mf.dispatchFetch('http://127.0.0.1/');
      const markup = await pageRes.text();
      expect(markup).toContain('<h1>&lt;ok&gt;</h1>');
      expect(markup).toContain(`<script src="${assetUrl('htmx.min.js')}" defer></script>`);
      for (const name of ['app.css', 'htmx.min.js', 'favicon.svg'] as const) {
        const res = await mf.dispatchFetch(`http://127.0.0.1${assetUrl(name)}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('etag')).toBe(get(assetUrl(name)).headers.get('etag'));
        expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(await res.text()).toBe(await get(assetUrl(name)).text());
      }
      const notModified = await mf.dispatchFetch(`http://127.0.0.1${assetUrl('app.css')}`, { headers: { 'if-none-match': get(assetUrl('app.css')).headers.get('etag')! } });
      expect(notModified.status).toBe(304);
    } finally {
      await mf.dispose();
    }
  });
});
