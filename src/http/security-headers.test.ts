import { describe, expect, it } from 'vitest';
import { withSecurityHeaders } from './security-headers.ts';

const htmlResponse = () => new Response('<p>x</p>', { status: 201, statusText: 'Created', headers: { 'content-type': 'text/html; charset=utf-8', 'x-custom': 'kept' } });

/** The CSP as a map of directive → sources, so the test reads like the policy it checks. */
function directives(csp: string | null): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of (csp ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) map.set(name, sources);
  }
  return map;
}

describe('withSecurityHeaders', () => {
  it('sets the CSP issue 4 asks for', () => {
    const csp = directives(withSecurityHeaders(htmlResponse(), { secure: false }).headers.get('content-security-policy'));
    expect(Object.fromEntries(csp)).toEqual({
      'default-src': ["'self'"],
      'frame-ancestors': ["'none'"],
      'object-src': ["'none'"],
      'base-uri': ["'none'"],
      'form-action': ["'self'"],
    });
    // Nothing that would let inline code or eval back in.
    for (const sources of csp.values()) for (const s of sources) expect(s).not.toMatch(/unsafe|nonce|sha\d|\*|data:|https?:/);
  });

  it('sets nosniff, same-origin referrers and DENY framing', () => {
    const h = withSecurityHeaders(htmlResponse(), { secure: false }).headers;
    expect(h.get('x-content-type-options')).toBe('nosniff');
    expect(h.get('referrer-policy')).toBe('same-origin');
    expect(h.get('x-frame-options')).toBe('DENY');
  });

  it('sends HSTS over HTTPS only (RFC 6797 §7.2), even if a handler set it', () => {
    expect(withSecurityHeaders(htmlResponse(), { secure: true }).headers.get('strict-transport-security')).toBe('max-age=31536000');
    expect(withSecurityHeaders(htmlResponse(), { secure: false }).headers.has('strict-transport-security')).toBe(false);
    const stray = new Response('x', { headers: { 'strict-transport-security': 'max-age=1' } });
    expect(withSecurityHeaders(stray, { secure: false }).headers.has('strict-transport-security')).toBe(false);
  });

  it('replaces a weaker policy a handler set', () => {
    const res = new Response('x', { headers: { 'content-security-policy': "default-src *", 'x-frame-options': 'SAMEORIGIN' } });
    const h = withSecurityHeaders(res, { secure: false }).headers;
    expect(h.get('content-security-policy')).toMatch(/^default-src 'self';/);
    expect(h.get('x-frame-options')).toBe('DENY');
  });

  it('sets the headers on the response itself, keeping status, body and the other headers', async () => {
    const original = htmlResponse();
    const out = withSecurityHeaders(original, { secure: true });
    expect(out).toBe(original); // no copy: the body is never touched
    expect(out.status).toBe(201);
    expect(out.statusText).toBe('Created');
    expect(out.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(out.headers.get('x-custom')).toBe('kept');
    expect(await out.text()).toBe('<p>x</p>');
  });

  it('works on a response whose headers are immutable (one from fetch) and on bodiless ones', async () => {
    const immutable = Response.redirect('http://127.0.0.1/x', 302); // Response.redirect's headers are immutable
    expect(() => immutable.headers.set('x', 'y')).toThrow(TypeError);
    const out = withSecurityHeaders(immutable, { secure: false });
    expect(out).not.toBe(immutable);
    expect(out.status).toBe(302);
    expect(out.headers.get('location')).toBe('http://127.0.0.1/x');
    expect(out.headers.get('x-frame-options')).toBe('DENY');
    const notModified = withSecurityHeaders(new Response(null, { status: 304, headers: { etag: '"a"' } }), { secure: false });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe('"a"');
    expect(notModified.body).toBeNull();
  });
});
