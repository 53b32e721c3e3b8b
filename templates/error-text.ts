// Errors in words for the pages: a CA's problem document as the CA worded it (its `detail`,
// and each subproblem's), a validation error without the field-path prefix that the JSON API
// puts in front, so that it can stand next to its field.
import type { CertkeepError } from '../src/errors.ts';
import type { AcmeProblem } from '../src/acme/index.ts';

/** The field a validation error names (`set.command`, `tsig.secret`, `name`), if any. */
export function errorField(err: CertkeepError): string | undefined {
  const field = err.details?.field;
  return typeof field === 'string' ? field : undefined;
}

/** The message without its leading `field: `. */
export function fieldMessage(err: CertkeepError): string {
  const field = errorField(err);
  const text = field && err.message.startsWith(`${field}: `) ? err.message.slice(field.length + 2) : err.message;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The CA's problem document carried by an ACME error, if any. */
export function acmeProblemOf(err: CertkeepError): AcmeProblem | undefined {
  const problem = (err.details?.problem ?? (err as { problem?: unknown }).problem) as AcmeProblem | undefined;
  return problem && typeof problem.type === 'string' ? problem : undefined;
}

/** One sentence for a flash message: "The CA refused: <detail>" or the error's own message. */
export function errorText(err: CertkeepError): string {
  const problem = acmeProblemOf(err);
  if (!problem) return fieldMessage(err);
  const detail = problem.detail ?? problem.title ?? problem.type;
  const subs = (problem.subproblems ?? []).map((s) => `${s.identifier?.value ? `${s.identifier.value}: ` : ''}${s.detail ?? s.type}`);
  return `The CA refused: ${detail}${subs.length ? ` (${subs.join('; ')})` : ''}`;
}
