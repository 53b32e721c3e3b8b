// /static/*: the stylesheet, the favicon and htmx, served from our own origin on both hosts. The
// bytes are embedded in templates/static/assets.generated.ts (node-host/embed-assets.ts), because
// workerd has no filesystem.
//
// URLs carry the content hash (/static/app.3e063871200626aa.css), so a response may be cached for
// a year and never revalidated: a new version has a new URL. The plain name (/static/app.css)
// is served too, for people and tools that type it, with revalidation on every use.
import { EMBEDDED_ASSETS, assetUrl, hashedName, type EmbeddedAsset } from '../../templates/assets.ts';
import { problemResponse } from './problem.ts';

export type { AssetName } from '../../templates/assets.ts';
/** Kept here too: tests and tools that serve assets ask the server module where they are. */
export { assetUrl };

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'public, no-cache';

/** pathname → what to serve and how long it may be cached. */
const ROUTES = new Map<string, { asset: EmbeddedAsset; cacheControl: string }>(
  EMBEDDED_ASSETS.flatMap((asset) => [
    [`/static/${hashedName(asset)}`, { asset, cacheControl: IMMUTABLE }],
    [`/static/${asset.name}`, { asset, cacheControl: REVALIDATE }],
  ]),
);

/**
 * The handler for /static/*: GET and HEAD, a strong ETag from the content hash, 304 when the
 * client's If-None-Match already names it (RFC 9110 §13.1.2), 404 for anything not embedded.
 */
export function serveStatic(request: Request): Response {
  const route = ROUTES.get(new URL(request.url).pathname);
  if (!route) return problemResponse(404, 'no such static asset');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return problemResponse(405, 'static assets are read with GET or HEAD', {}, { allow: 'GET, HEAD' });
  }
  const { asset, cacheControl } = route;
  const etag = `"${asset.hash}"`;
  const headers = new Headers({ etag, 'cache-control': cacheControl });
  if (matchesEtag(request.headers.get('if-none-match'), etag)) return new Response(null, { status: 304, headers });
  headers.set('content-type', asset.contentType);
  return new Response(request.method === 'HEAD' ? null : asset.body, { status: 200, headers });
}

/** If-None-Match uses the weak comparison: W/"x" matches "x"; `*` matches any current representation. */
function matchesEtag(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
