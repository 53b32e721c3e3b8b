// The headers that keep a browser strict about our pages (issue 4): nothing loads or runs unless it
// comes from our own origin, nothing frames us, nothing is sniffed into another type.

/**
 * `default-src 'self'` covers scripts, styles, fonts, images and fetches: no inline script or
 * style, no eval (htmx's `hx-on` and `js:` values therefore stay unused), no `javascript:` URL.
 * htmx's own indicator stylesheet is switched off by the layout's htmx-config and lives in app.css.
 * `form-action` and `base-uri` do not fall back to default-src, so they are named.
 */
export const CONTENT_SECURITY_POLICY = "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'";

/** One year, as issue 4 asks; no includeSubDomains: other hosts under the name are not ours to bind. */
export const STRICT_TRANSPORT_SECURITY = 'max-age=31536000';

export interface SecurityHeaderOptions {
  /** The request came over HTTPS (RequestContext.secure): only then is HSTS sent (RFC 6797 §7.2). */
  secure: boolean;
}

/**
 * `response` with the security headers set (replacing any a handler set). The headers are set in
 * place, sparing a second Response around the same body. A response whose headers are immutable
 * (one from fetch(), Response.redirect()) is copied instead.
 */
export function withSecurityHeaders(response: Response, options: SecurityHeaderOptions): Response {
  try {
    setSecurityHeaders(response.headers, options);
    return response;
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    const copy = new Response(response.body, response);
    setSecurityHeaders(copy.headers, options);
    return copy;
  }
}

function setSecurityHeaders(headers: Headers, { secure }: SecurityHeaderOptions): void {
  headers.set('content-security-policy', CONTENT_SECURITY_POLICY);
  headers.set('x-content-type-options', 'nosniff');
  headers.set('referrer-policy', 'same-origin');
  // For browsers without CSP frame-ancestors.
  headers.set('x-frame-options', 'DENY');
  if (secure) headers.set('strict-transport-security', STRICT_TRANSPORT_SECURITY);
  else headers.delete('strict-transport-security');
}
