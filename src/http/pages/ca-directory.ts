// What the pages that make an ACME account (the setup wizard, the accounts page) share: reading
// the chosen CA's directory for its terms and its EAB rule, and the account key a user uploads.
import type { HandlerContext } from '../context.ts';
import { LETS_ENCRYPT, LETS_ENCRYPT_STAGING, resolveDirectoryUrl } from '../../domain/accounts.ts';
import { CertkeepError } from '../../errors.ts';
import { CA_CHOICES, type CaInfo } from '../../../templates/ca.ts';
import { fieldMessage } from '../../../templates/error-text.ts';

/** Let's Encrypt's terms live in its repository: no need to ask its directory to show the link. */
const LETS_ENCRYPT_TERMS = 'https://letsencrypt.org/repository/';
/** A pasted or uploaded account key is a few kilobytes at most. */
export const MAX_ACCOUNT_KEY_PEM = 16_384;
export const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Reads the CA's directory for its terms of service and whether it needs external account binding. */
export async function lookUpCa(ctx: HandlerContext, url: string): Promise<CaInfo> {
  if (!url) return { url, externalAccountRequired: false };
  if (url === LETS_ENCRYPT || url === LETS_ENCRYPT_STAGING) return { url, termsOfService: LETS_ENCRYPT_TERMS, externalAccountRequired: false };
  try {
    resolveDirectoryUrl(url);
    const res = await ctx.deps.fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
    const dir = (await res.json()) as { meta?: { termsOfService?: unknown; externalAccountRequired?: unknown } };
    const tos = dir.meta?.termsOfService;
    return { url, termsOfService: typeof tos === 'string' ? tos : undefined, externalAccountRequired: dir.meta?.externalAccountRequired === true };
  } catch (err) {
    const why = err instanceof CertkeepError ? fieldMessage(err) : 'it did not answer with an ACME directory';
    return { url, externalAccountRequired: false, error: `The directory at ${url} could not be read: ${why}` };
  }
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
