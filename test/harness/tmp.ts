// Scratch directories for one test run, under test/.tmp/ (git-ignored), removed by the
// global teardown. Kept inside the repository so a failed run leaves its logs where a reader
// looks, and set CERTKEEP_TEST_KEEP_TMP=1 to keep them after a passing one.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The variable that tells test workers where this run's scratch directory is. */
export const RUN_DIR_ENV = 'CERTKEEP_TEST_RUN_DIR';

/** This run's scratch directory; os.tmpdir() when running outside vitest (e.g. a bench script). */
export function runDir(): string {
  return process.env[RUN_DIR_ENV] ?? tmpdir();
}

/** A new empty directory for one suite or one process, e.g. `makeTempDir('pebble-')`. */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(runDir(), prefix));
}
