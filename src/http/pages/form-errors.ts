// Field errors for page forms. The domain and the JSON API's validators throw CertkeepErrors
// that name their field (`details.field`, message "field: detail"); a page shows each message
// next to its field instead of stopping at the first. The wording comes from
// templates/error-text.ts, shared by every page.
import { CertkeepError } from '../../errors.ts';
import { errorField, fieldMessage } from '../../../templates/error-text.ts';

export type FieldErrors = Record<string, string>;

/**
 * Runs one validation: its value, or undefined with the message stored under its field (the
 * first message per field wins). Errors that name no field are not validation: they propagate.
 */
export function check<T>(errors: FieldErrors, run: () => T): T | undefined {
  try {
    return run();
  } catch (err) {
    const field = err instanceof CertkeepError ? errorField(err) : undefined;
    if (!field) throw err;
    errors[field] ??= fieldMessage(err as CertkeepError);
    return undefined;
  }
}

/** The HTTP status a page answers a refused form with. */
export function statusOf(err: CertkeepError): number {
  if (err.code === 'CONFLICT' || err.code === 'LEASE_BUSY') return 409;
  if (err.code === 'NOT_FOUND') return 404;
  if (err.code.startsWith('ACME_') || err.code.startsWith('DNS_')) return 502;
  return 400;
}
