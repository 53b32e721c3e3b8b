// Suites that need an installed program (Pebble, Chromium) — SPEC §8: they run when the
// program is present, are skipped with a one-line notice when it is not, and with CI=true a
// missing program is a failure, not a skip.
import { accessSync, constants } from 'node:fs';
import { describe, it } from 'vitest';

export type Gate = { mode: 'run' } | { mode: 'skip' | 'fail'; reason: string };

/**
 * Decides what a suite needing `programs` does on this machine. Pure apart from the file
 * checks, so the rule itself is testable with made-up paths and environments.
 */
export function requirePrograms(programs: string[], hint: string, env: NodeJS.ProcessEnv = process.env): Gate {
  const missing = programs.filter((p) => !isExecutable(p));
  if (missing.length === 0) return { mode: 'run' };
  const reason = `${missing.join(', ')} not installed (${hint})`;
  return { mode: isCi(env) ? 'fail' : 'skip', reason };
}

/** `requirePrograms` for a single program, e.g. `requireProgram('/usr/bin/chromium', 'apt-get install chromium')`. */
export function requireProgram(path: string, hint: string, env: NodeJS.ProcessEnv = process.env): Gate {
  return requirePrograms([path], hint, env);
}

/** CI=true (or 1) turns a skip into a failure. */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  return env.CI === 'true' || env.CI === '1';
}

/**
 * A `describe` that obeys `gate`: plain `describe` when the programs are there; `describe.skip`
 * plus a one-line notice when not; in CI a suite of one test that fails with the reason.
 * Modifiers keep the rule: `.only`, `.concurrent`, `.each(table)`… of a skipped suite are
 * skipped, of a failing one fail; `.skip` and `.todo` are vitest's own.
 */
export function gatedDescribe(gate: Gate): typeof describe {
  if (gate.mode === 'run') return describe;
  const { reason } = gate;
  const register =
    gate.mode === 'skip'
      ? (args: unknown[]): void => {
          console.warn(`[skip] ${suiteName(args[0])}: ${reason}`);
          (describe.skip as (...a: unknown[]) => void)(...args);
        }
      : (args: unknown[]): void => {
          describe(suiteName(args[0]), () => {
            it('has the programs it needs', () => {
              throw new Error(reason);
            });
          });
        };
  // describe's modifiers are properties of a chainable function, so a Proxy (not a copy)
  // is what keeps every one of them on the same rule.
  const gated: typeof describe = new Proxy(describe, {
    apply: (_target, _this, args: unknown[]) => register(args),
    get: (target, prop) => {
      // An explicit .skip/.todo is the author's choice and stays a plain skip, even in CI.
      if (prop === 'skip' || prop === 'todo') return Reflect.get(target, prop);
      if (prop === 'each' || prop === 'for') return () => (...args: unknown[]) => register(args);
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? gated : value;
    },
  });
  return gated;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function suiteName(name: unknown): string {
  if (typeof name === 'string') return name;
  return typeof name === 'function' ? name.name : String(name);
}
