// What the pages that make an ACME account (the setup wizard, the accounts page) share: reading
// the chosen CA's directory for its terms and its EAB rule, and the account key a user uploads.
import type { HandlerContext } from '../context.ts';
import { LETS_ENCRYPT, LETS_ENCRYPT_STAGING, resolveDirectoryUrl } from '../../domain/accounts.ts';
import { CertkeepError } from '../../errors.ts';
import { CA_CHOICES, type CaInfo } from '../../../templates/ca.ts';
import { fieldMessage } from '../../../templates/error-text.ts';
import { excerpt } from '../../net/outbound.ts';

/** Let's Encrypt's terms live in its repository: no need to ask its directory to show the link. */
const LETS_ENCRYPT_TERMS = 'https://letsencrypt.org/repository/';
/** A directory is a kilobyte or two; more is not a directory, and is not read. */
const MAX_DIRECTORY_BYTES = 64 * 1024;
const LOOKUP_TIMEOUT_MS = 10_000;
/** A pasted or uploaded account key is a few kilobytes at most. */
export const MAX_ACCOUNT_KEY_PEM = 16_384;
export const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Reads the CA's directory for its terms of service and whether it needs external account binding. */
export async function lookUpCa(ctx: HandlerContext, url: string): Promise<CaInfo> {
  if (!url) return { url, externalAccountRequired: false };
  if (url === LETS_ENCRYPT || url === LETS_ENCRYPT_STAGING) return { url, termsOfService: LETS_ENCRYPT_TERMS, externalAccountRequired: false };
  const failed = (why: string): CaInfo => ({ url, externalAccountRequired: false, error: `The directory at ${url} could not be read: ${why}` });
  try {
    resolveDirectoryUrl(url);
    // https only, no redirect, the private-address policy, 10 s and 64 KiB (src/net/outbound.ts).
    const res = await ctx.deps.outbound.request(url, { headers: { accept: 'application/json' }, timeoutMs: LOOKUP_TIMEOUT_MS, maxBytes: MAX_DIRECTORY_BYTES });
    const dir = parseDirectory(res.ok ? res.text() : '');
    if (!dir) {
      const said = excerpt(res.text(), [], 80);
      return failed(`it answered HTTP ${res.status}${said ? ` (${said})` : ''}, not an ACME directory`);
    }
    const tos = dir.meta?.termsOfService;
    return { url, termsOfService: typeof tos === 'string' ? tos : undefined, externalAccountRequired: dir.meta?.externalAccountRequired === true };
  } catch (err) {
    if (err instanceof CertkeepError) return failed(lowerFirst((err as { words?: string }).words ?? fieldMessage(err)));
    throw err;
  }
}

/** An ACME directory (RFC 8555 §7.1.1): an object naming at least newNonce, newAccount and newOrder. */
function parseDirectory(text: string): { meta?: { termsOfService?: unknown; externalAccountRequired?: unknown } } | undefined {
  try {
    const dir = JSON.parse(text) as Record<string, unknown>;
    const isDirectory = typeof dir === 'object' && dir !== null && ['newNonce', 'newAccount', 'newOrder'].every((k) => typeof dir[k] === 'string');
    return isDirectory ? (dir as { meta?: { termsOfService?: unknown; externalAccountRequired?: unknown } }) : undefined;
  } catch {
    return undefined;
  }
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text.charAt(0).toLowerCase() + text.slice(1) : text;
}

/** The directory URL a form chose: a CA by name, or the URL typed for "another CA". */
export function directoryOf(form: URLSearchParams): string {
  const ca = CA_CHOICES.find((c) => c.value === form.get('ca')) ?? CA_CHOICES[0];
  return ca.value === 'other' ? (form.get('directoryUrl') ?? '').trim() : ca.url;
}

/** The uploaded key file's text; the multipart body is read from a copy made before the form was read. */
export async function uploadedAccountKey(copy: Request): Promise<string | { error: string } | undefined> {
  if (!/^multipart\/form-data\b/i.test(copy.headers.get('content-type') ?? '')) return undefined;
  const file = (await copy.formData()).get('keyFile');
  if (!file || typeof file === 'string' || file.size === 0) return undefined;
  if (file.size > MAX_ACCOUNT_KEY_PEM) return { error: 'This file is too large for an account key.' };
  return file.text();
}
