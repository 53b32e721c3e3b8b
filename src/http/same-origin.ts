// Requests another site's page can make a browser send, refused centrally before any handler
// reads, counts or changes anything (router `before` stage, src/app.ts).
//
// - Pages, the setup wizard (every step, its sign-in too), /login and /logout: an unsafe request
//   (POST, PUT, PATCH, DELETE) is refused with 403 when its `Origin` is another origin or `null`
//   (sandboxed frames, data: URLs), or when `Sec-Fetch-Site` says cross-site or same-site (a
//   sibling host, or another port of ours: SameSite cookies travel there). Clients that send
//   neither header — curl, scripts, the CLI — are not browsers on another site, and pass.
// - The JSON admin API (/api/v1): a request with a body must say application/json. A cross-site
//   fetch without a CORS preflight can only send text/plain, form or multipart bodies, so this
//   keeps other sites' pages away from it (POST /api/v1/setup on a fresh install needs no token).
//   A POST without a body (…/issue) is not a body of the wrong type.
// The download API (/api/certificate, /api/key) keeps its Certera-style form bodies: it opens
// nothing without an `apiKey` header, which a page on another site cannot send without asking.
import type { HandlerContext } from './context.ts';
import { problemResponse } from './problem.ts';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Paths that are not pages: APIs authenticated by a header (/api/ in any case, as the download API's paths match), and the always-open endpoints. */
const NOT_PAGES = /^\/(?:[aA][pP][iI]\/|\.well-known\/acme-challenge\/|healthz$)/;

/** Why `request` comes from another site's page, in words for the log; undefined when it does not. */
export function crossSiteReason(request: Request): string | undefined {
  const site = request.headers.get('sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') return `Sec-Fetch-Site: ${site}`;
  const origin = request.headers.get('origin');
  if (origin !== null && origin !== new URL(request.url).origin) return `Origin: ${origin}`;
  return undefined;
}

/** Middleware: 403 for an unsafe request to a page from another site. */
export function refuseCrossSite(request: Request, ctx: HandlerContext): Response | undefined {
  if (!UNSAFE.has(request.method)) return undefined;
  const path = new URL(request.url).pathname;
  if (NOT_PAGES.test(path)) return undefined;
  const reason = crossSiteReason(request);
  if (reason === undefined) return undefined;
  ctx.deps.log.info('cross-site request refused', { method: request.method, path, clientIp: ctx.clientIp, reason });
  return problemResponse(403, 'this form was sent from another site; Certkeep takes forms only from its own pages');
}

const JSON_TYPE = /^application\/(?:[^\s;/]+\+)?json\s*(?:;|$)/i;

/** Middleware: 415 for an admin API request whose body is not declared JSON. */
export function requireJsonBody(request: Request): Response | undefined {
  if (!new URL(request.url).pathname.startsWith('/api/v1/') || !hasBody(request)) return undefined;
  const type = request.headers.get('content-type');
  if (type !== null && JSON_TYPE.test(type)) return undefined;
  return problemResponse(415, `the admin API takes JSON: send the body with Content-Type: application/json${type ? ` (not ${type.slice(0, 100)})` : ''}`, { field: 'content-type' });
}

/** Whether the request carries a body, by its framing headers (the body itself is not read). */
function hasBody(request: Request): boolean {
  const length = request.headers.get('content-length');
  if (length !== null) return length.trim() !== '0';
  return request.headers.has('transfer-encoding');
}
