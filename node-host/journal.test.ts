import { describe, expect, it } from 'vitest';
import { journalPriorities } from './journal.ts';

describe('journal priorities', () => {
  const stdout = () => ({ dev: 2049, ino: 123456 });

  it('prefix each line with its syslog priority when stdout is the stream systemd named', () => {
    expect(journalPriorities({ JOURNAL_STREAM: '2049:123456' }, stdout)).toEqual({ error: '<3>', warn: '<4>', info: '<6>', debug: '<7>' });
  });

  it('leave the lines alone anywhere else: no variable, another stream (a pipe, a file), or garbage', () => {
    expect(journalPriorities({}, stdout)).toBeUndefined();
    expect(journalPriorities({ JOURNAL_STREAM: '2049:654321' }, stdout)).toBeUndefined();
    expect(journalPriorities({ JOURNAL_STREAM: 'yes' }, stdout)).toBeUndefined();
    expect(
      journalPriorities({ JOURNAL_STREAM: '2049:123456' }, () => {
        throw new Error('EBADF');
      }),
    ).toBeUndefined();
  });
});
