// Building blocks for the providers' config validators. Same rules as the admin API's body
// validation (src/http/validate.ts): unknown fields are refused and every error names its field
// with a dotted path (`set.command`, `env.FOO`, `allowFrom[1]`).
import { fieldError } from '../../http/validate.ts';
import type { Outbound } from '../../net/outbound.ts';

export { fieldError };

export type ConfigObject = Record<string, unknown>;

/** `input` as a plain object holding only `allowed` keys. `field` is its path ('' for the top level). */
export function configObject(input: unknown, field: string, allowed: readonly string[]): ConfigObject {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw fieldError(field || 'body', 'expected a JSON object');
  }
  for (const key of Object.keys(input)) {
    if (!allowed.includes(key)) throw fieldError(join(field, key), 'unknown field');
  }
  return input as ConfigObject;
}

export function requiredText(obj: ConfigObject, key: string, field: string, max = 4096): string {
  const value = optionalText(obj, key, field, max);
  if (value === undefined || value === '') throw fieldError(field, 'required');
  return value;
}

/** A string without NUL (nothing downstream — argv, headers, JSON consumers — takes one). */
export function optionalText(obj: ConfigObject, key: string, field: string, max = 4096): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw fieldError(field, 'expected a string');
  if (value.length > max) throw fieldError(field, `longer than ${max} characters`);
  if (value.includes('\0')) throw fieldError(field, 'must not contain a NUL character');
  return value;
}

export function optionalInteger(obj: ConfigObject, key: string, field: string, min: number, max: number): number | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw fieldError(field, `expected an integer from ${min} to ${max}`);
  }
  return value;
}

export function optionalStringArray(obj: ConfigObject, key: string, field: string, check?: (item: string, itemField: string) => void): string[] | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw fieldError(field, 'expected an array of strings');
  if (value.length > 100) throw fieldError(field, 'at most 100 entries');
  return value.map((item, i) => {
    const itemField = `${field}[${i}]`;
    if (typeof item !== 'string') throw fieldError(itemField, 'expected a string');
    if (item.length > 4096) throw fieldError(itemField, 'longer than 4096 characters');
    if (item.includes('\0')) throw fieldError(itemField, 'must not contain a NUL character');
    check?.(item, itemField);
    return item;
  });
}

/**
 * The URL of a service the provider talks to. HTTPS, because the request carries a credential
 * or a signed instruction; plain HTTP only to an address CERTKEEP_ALLOW_PRIVATE_TARGETS lists (a
 * local test server, or a relay on the same machine), and no loopback or private address at all
 * unless that setting lists it. Credentials in the URL are refused: they would end up in logs.
 */
export function serviceUrl(obj: ConfigObject, key: string, field: string, outbound: Outbound): URL {
  const text = requiredText(obj, key, field, 2048);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fieldError(field, 'not a valid absolute URL');
  }
  if (url.username !== '' || url.password !== '') throw fieldError(field, 'must not contain a user name or password');
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw fieldError(field, 'must be an https URL');
  return outbound.checkUrl(url, field, 'https+private-http');
}

/** A base URL without its trailing slash, so that `base + '/path'` never doubles it. */
export function baseUrl(url: URL): string {
  return url.href.replace(/\/+$/, '');
}

function join(field: string, key: string): string {
  return field === '' ? key : `${field}.${key}`;
}
