// The admin UI's session cookie and CSRF check.
//
// The cookie is HttpOnly, SameSite=Strict, Path=/; over HTTPS it is `__Host-certkeep` and
// Secure, over plain HTTP (loopback and setup only) `certkeep`. Every POST from a page carries
// the session's CSRF token, in the `_csrf` form field or the `X-CSRF-Token` header (htmx).
import type { Deps } from '../deps.ts';
import { loadSession, type ActiveSession } from '../domain/sessions.ts';
import { timingSafeEqual, utf8 } from '../util/encoding.ts';
import { CSRF_FIELD, CSRF_HEADER } from '../../templates/components.ts';

export const SECURE_COOKIE = '__Host-certkeep';
export const PLAIN_COOKIE = 'certkeep';

function cookieName(secure: boolean): string {
  return secure ? SECURE_COOKIE : PLAIN_COOKIE;
}

export function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.get('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(token: string, secure: boolean): string {
  return `${cookieName(secure)}=${token}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${cookieName(secure)}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}

export async function sessionOf(deps: Deps, request: Request, secure: boolean): Promise<ActiveSession | null> {
  return loadSession(deps, readCookie(request, cookieName(secure)));
}

/** The form body of a POST (url-encoded or multipart), or an empty one. */
export async function formOf(request: Request): Promise<URLSearchParams> {
  const type = request.headers.get('content-type') ?? '';
  if (/^application\/x-www-form-urlencoded\b/i.test(type)) return new URLSearchParams(await request.text());
  if (/^multipart\/form-data\b/i.test(type)) {
    const out = new URLSearchParams();
    for (const [k, v] of await request.formData()) if (typeof v === 'string') out.append(k, v);
    return out;
  }
  return new URLSearchParams();
}

/** True when the request carries the session's CSRF token (constant-time compare). */
export function csrfOk(request: Request, form: URLSearchParams, session: { csrfToken: string }): boolean {
  const presented = request.headers.get(CSRF_HEADER) ?? form.get(CSRF_FIELD) ?? '';
  return presented.length > 0 && timingSafeEqual(utf8(presented), utf8(session.csrfToken));
}
