// Request body validation for the JSON admin API. Unknown fields are refused (a typo must not
// silently do nothing), every error names its field, and nothing is written before validation
// has passed.
import { CertkeepError } from '../errors.ts';
import { readCapped } from '../util/read-capped.ts';

export type Json = Record<string, unknown>;

const MAX_JSON_BYTES = 256 * 1024;

export function fieldError(field: string, detail: string): CertkeepError {
  return new CertkeepError('BAD_REQUEST', `${field}: ${detail}`, { field });
}

/**
 * Parses a JSON object body and refuses fields not in `allowed` (dotted paths for nested
 * objects). `'checked-later'` leaves that to a validator the caller runs next.
 */
export async function readJsonObject(request: Request, allowed: readonly string[] | 'checked-later'): Promise<Json> {
  const type = request.headers.get('content-type') ?? '';
  if (type && !/^application\/(.+\+)?json\b/i.test(type)) {
    throw new CertkeepError('UNSUPPORTED_MEDIA_TYPE', `expected application/json, got ${type}`);
  }
  const bytes = await readCapped(request.body, MAX_JSON_BYTES, () => fieldError('body', `larger than ${MAX_JSON_BYTES} bytes`), request.headers.get('content-length'));
  let body: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    // Untyped bodies are not taken for JSON (src/http/same-origin.ts refuses them first).
    if (!type && text.trim() !== '') throw new CertkeepError('UNSUPPORTED_MEDIA_TYPE', 'expected application/json: send Content-Type: application/json');
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    if (err instanceof CertkeepError) throw err;
    throw new CertkeepError('BAD_REQUEST', `malformed JSON: ${(err as Error).message}`, { field: 'body' });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw fieldError('body', 'expected a JSON object');
  }
  if (allowed !== 'checked-later') rejectUnknown(body as Json, allowed, '');
  return body as Json;
}

function rejectUnknown(obj: Json, allowed: readonly string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    const path = prefix + key;
    if (!allowed.includes(path)) throw fieldError(path, 'unknown field');
    const value = obj[key];
    if (value && typeof value === 'object' && !Array.isArray(value) && allowed.some((a) => a.startsWith(path + '.'))) {
      rejectUnknown(value as Json, allowed, path + '.');
    }
  }
}

export function optionalString(body: Json, field: string, opts: { max?: number; pattern?: RegExp; hint?: string } = {}): string | undefined {
  const value = pick(body, field);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw fieldError(field, 'expected a string');
  if (value.length > (opts.max ?? 4096)) throw fieldError(field, `longer than ${opts.max ?? 4096} characters`);
  if (opts.pattern && !opts.pattern.test(value)) throw fieldError(field, opts.hint ?? 'invalid value');
  return value;
}

export function requiredString(body: Json, field: string, opts: { max?: number; pattern?: RegExp; hint?: string } = {}): string {
  const value = optionalString(body, field, opts);
  if (value === undefined || value === '') throw fieldError(field, 'required');
  return value;
}

export function optionalBoolean(body: Json, field: string): boolean | undefined {
  const value = pick(body, field);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw fieldError(field, 'expected true or false');
  return value;
}

export function optionalEnum<T extends string>(body: Json, field: string, values: readonly T[]): T | undefined {
  const value = pick(body, field);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !values.includes(value as T)) {
    throw fieldError(field, `expected one of ${values.join(', ')}`);
  }
  return value as T;
}

export function optionalInteger(body: Json, field: string, min: number, max: number): number | undefined {
  const value = pick(body, field);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw fieldError(field, `expected an integer from ${min} to ${max}`);
  }
  return value;
}

/** Reads `a.b.c` from nested objects; a non-object on the way is a field error. */
export function pick(body: Json, field: string): unknown {
  let cur: unknown = body;
  const parts = field.split('.');
  for (let i = 0; i < parts.length; i++) {
    if (cur === undefined || cur === null) return undefined;
    if (typeof cur !== 'object' || Array.isArray(cur)) throw fieldError(parts.slice(0, i).join('.'), 'expected an object');
    cur = (cur as Json)[parts[i]];
  }
  return cur;
}

/** Object names (keys, certificates, accounts) as Certera allowed them: `^[a-zA-Z0-9-_.]+$`. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const NAME_HINT = 'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 64 characters';

/** Names that page paths use (`/certificates/new`…): an object so named could not be shown. */
const RESERVED_NAMES = ['new'];

export function requiredName(body: Json, field = 'name'): string {
  const name = requiredString(body, field, { max: 64, pattern: NAME_PATTERN, hint: NAME_HINT });
  if (RESERVED_NAMES.includes(name.toLowerCase())) throw fieldError(field, `"${name}" is reserved`);
  return name;
}
