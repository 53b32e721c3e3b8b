// A data directory that has been set up, for node-host tests that need an installation (an
// administrator, so that `certkeep token create` works) but no CA: the wizard's first step run
// in process, and setup marked complete without an ACME account, which these tests never use.
import { loadSettings } from '../../node-host/settings.ts';
import { createNodeCore } from '../../node-host/core.ts';
import { createLogger } from '../../src/log.ts';
import { settings } from '../../src/db/schema.ts';
import { SETUP_COMPLETED, startSetup } from '../../src/domain/setup.ts';

export const ADMIN = { email: 'admin@example.com', password: 'a long test password' };

export async function setUpDataDir(dataDir: string, env: Record<string, string> = {}): Promise<void> {
  const loaded = await loadSettings({ ...env, CERTKEEP_DATA_DIR: dataDir });
  const core = await createNodeCore(loaded, createLogger('error', () => {}));
  try {
    await startSetup(core.deps, {}, ADMIN);
    const now = Date.now();
    await core.deps.db.db.insert(settings).values({ key: SETUP_COMPLETED, value: JSON.stringify(now), updatedAt: now });
  } finally {
    core.db.close();
  }
}
