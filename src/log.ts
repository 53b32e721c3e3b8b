// Structured logging: one JSON object per line. The core never logs secrets; fields are
// chosen by the caller, and `redact` strips the ones that look like secrets as a second line
// of defence.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  /** Whether debug lines are written: lets hot paths skip building their fields. */
  readonly debugEnabled: boolean;
}

const SECRET_FIELD = /pass(word)?|secret|token|apikey|api_key|privatekey|private_key|hmac|jwk|pem|authorization/i;

/** Replaces values of secret-looking fields; recursion is shallow on purpose (fields are flat). */
export function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = SECRET_FIELD.test(k) ? '[redacted]' : v instanceof Error ? describeError(v) : v;
  }
  return out;
}

function describeError(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  return out;
}

/**
 * A logger writing lines at `level` and above. `level` may be a function, read at every line, so
 * that a host can change it while running (the node host does on SIGHUP); children follow it.
 */
export function createLogger(level: LogLevel | (() => LogLevel), write: (line: string, level: LogLevel) => void, base: LogFields = {}): Logger {
  const min = typeof level === 'function' ? () => LOG_LEVELS.indexOf(level()) : ((fixed) => () => fixed)(LOG_LEVELS.indexOf(level));
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(lvl) < min()) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...redact({ ...base, ...fields }) }), lvl);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(level, write, { ...base, ...fields }),
    get debugEnabled() {
      return min() === 0;
    },
  };
}

export const silentLogger: Logger = createLogger('error', () => {});
