import { describe, expect, it } from 'vitest';
import { CertkeepError } from '../src/errors.ts';
import { AcmeProblemError } from '../src/acme/index.ts';
import { errorField, errorText, fieldMessage } from './error-text.ts';

describe('errors in words', () => {
  it('takes the field prefix off a validation error and names the field', () => {
    const err = new CertkeepError('BAD_REQUEST', 'tsig.secret: expected base64', { field: 'tsig.secret' });
    expect(errorField(err)).toBe('tsig.secret');
    expect(fieldMessage(err)).toBe('Expected base64');
    expect(errorText(err)).toBe('Expected base64');
    expect(fieldMessage(new CertkeepError('CONFLICT', 'account "a" is used by certificate "b"'))).toBe('Account "a" is used by certificate "b"');
  });

  it("says what the CA said, with each subproblem's identifier", () => {
    const err = new AcmeProblemError({
      type: 'urn:ietf:params:acme:error:rejectedIdentifier',
      detail: 'Some names were refused',
      subproblems: [{ type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'policy forbids it', identifier: { type: 'dns', value: 'bad.example' } }],
    });
    expect(errorText(err)).toBe('The CA refused: Some names were refused (bad.example: policy forbids it)');
    expect(errorText(new AcmeProblemError({ type: 'urn:ietf:params:acme:error:serverInternal' }))).toBe('The CA refused: urn:ietf:params:acme:error:serverInternal');
  });
});
