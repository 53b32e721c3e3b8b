// Logging into the systemd journal. The node host writes JSON lines on stdout; when stdout is the
// journal's stream, each line starts with its syslog priority (`<3>` for error … `<7>` for
// debug), which journald removes and keeps as the entry's PRIORITY (SyslogLevelPrefix=, on by
// default), so `journalctl -p warning` and the unit's LogLevelMax= see real levels. systemd sets
// JOURNAL_STREAM to the device and inode of that stream; anything else on stdout (a terminal, a
// pipe, a file) gets the lines as they are.
import type { Stats } from 'node:fs';
import type { LogLevel } from '../src/log.ts';

const PRIORITY: Record<LogLevel, string> = { error: '<3>', warn: '<4>', info: '<6>', debug: '<7>' };

/** The prefixes by level when stdout is the journal, else undefined. */
export function journalPriorities(env: NodeJS.ProcessEnv, stdout: () => Pick<Stats, 'dev' | 'ino'>): Record<LogLevel, string> | undefined {
  const match = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!match) return undefined;
  let st: Pick<Stats, 'dev' | 'ino'>;
  try {
    st = stdout();
  } catch {
    return undefined;
  }
  return String(st.dev) === match[1] && String(st.ino) === match[2] ? PRIORITY : undefined;
}
