// Validation of the names a certificate is ordered for (RFC 8555 §7.1.4 dns identifiers).
// Non-ASCII names are converted to their punycode A-label form (IDNA, via the URL parser that
// every Fetch runtime has); IP literals are refused, wildcards only as a whole left-most label.
import { CertkeepError } from '../errors.ts';

export const MAX_DOMAINS = 100;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function invalid(field: string, detail: string): CertkeepError {
  return new CertkeepError('BAD_REQUEST', `${field}: ${detail}`, { field });
}

/** Returns the normalized (lower-case, A-label, no trailing dot) form of one DNS name. */
export function normalizeDomain(input: unknown, field = 'domains'): string {
  if (typeof input !== 'string') throw invalid(field, 'each name must be a string');
  let name = input.trim().toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === '') throw invalid(field, 'empty name');
  if (name.length > 253) throw invalid(field, `name longer than 253 characters`);
  if (/^[0-9.]+$/.test(name) || name.includes(':') || name.startsWith('[')) {
    throw invalid(field, `"${input}" is an IP address; only DNS names can be ordered here`);
  }
  const wildcard = name.startsWith('*.');
  const rest = wildcard ? name.slice(2) : name;
  let ascii = rest;
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(rest)) {
    try {
      ascii = new URL(`http://${rest}/`).hostname;
    } catch {
      throw invalid(field, `"${input}" is not a valid internationalized name`);
    }
  }
  const labels = ascii.split('.');
  if (labels.length < 2) throw invalid(field, `"${input}" is not a fully qualified name`);
  for (const label of labels) {
    if (!LABEL.test(label)) throw invalid(field, `"${input}" has an invalid label "${label}"`);
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1])) throw invalid(field, `"${input}" has a numeric top-level label`);
  const out = wildcard ? `*.${ascii}` : ascii;
  if (out.length > 253) throw invalid(field, `name longer than 253 characters`);
  return out;
}

/** Validates and normalizes a certificate's name list: 1..100 names, duplicates removed, order kept. */
export function normalizeDomains(input: unknown, challenge: 'http-01' | 'dns-01', field = 'domains'): string[] {
  if (!Array.isArray(input)) throw invalid(field, 'expected an array of DNS names');
  if (input.length === 0) throw invalid(field, 'at least one name is required');
  if (input.length > MAX_DOMAINS) throw invalid(field, `at most ${MAX_DOMAINS} names per certificate, got ${input.length}`);
  const out: string[] = [];
  for (const raw of input) {
    const name = normalizeDomain(raw, field);
    if (name.startsWith('*.') && challenge === 'http-01') {
      throw invalid(field, `wildcard "${name}" can only be validated with dns-01`);
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}
