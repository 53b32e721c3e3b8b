// `certkeep audit verify` on a real data dir (node host only: the Worker has no CLI): the CLI's own
// changes are in the log (a token made), verify passes and names the chain's
// last place and hash, and an edited record makes it exit 1 naming that record.
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../node-host/settings.ts';
import { createNodeCore } from '../../node-host/core.ts';
import { createLogger } from '../../src/log.ts';
import { sealAndPurge } from '../../src/domain/audit-chain.ts';
import { BY_CLI } from '../../src/domain/audit.ts';
import { unlockUser } from '../../src/domain/sessions.ts';
import { runCli } from '../harness/hosts.ts';
import { setUpDataDir } from '../harness/installation.ts';
import { makeTempDir } from '../harness/tmp.ts';

describe('certkeep audit verify', () => {
  it('passes on the log as written, and names the first record that was changed', async () => {
    const dir = makeTempDir('audit-cli-');
    const env = { CERTKEEP_DATA_DIR: dir, CERTKEEP_LOG_LEVEL: 'warn' };
    await setUpDataDir(dir);
    expect((await runCli(['token', 'create', '--name', 'deploy'], env)).code).toBe(0);

    const core = await createNodeCore(await loadSettings(env), createLogger('error', () => {}));
    let tokenRecord: number;
    try {
      await unlockUser(core.deps, BY_CLI, 'admin@example.com');
      // What the running server's tick does.
      expect(await sealAndPurge(core.deps)).toEqual({ sealed: 3, purged: 0 });
      const rows = (await core.db.client.execute('select id, action, actor_name from audit_log order by id')).rows;
      expect(rows.map((r) => [r.action, r.actor_name])).toEqual([
        ['setup.admin', 'admin@example.com'],
        ['token.create', 'certkeep CLI'],
        ['user.unlock', 'certkeep CLI'],
      ]);
      tokenRecord = Number(rows[1].id);
    } finally {
      core.db.close();
    }

    const ok = await runCli(['audit', 'verify'], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^audit log verified: 3 sealed records\nlast: place 3, record \d+ of \S+, hash [0-9a-f]{64}\nnot yet sealed: 0 /);

    const tamper = await createNodeCore(await loadSettings(env), createLogger('error', () => {}));
    try {
      await tamper.db.client.execute(`update audit_log set detail = '{"name":"other"}' where id = ${tokenRecord}`);
    } finally {
      tamper.db.close();
    }
    const broken = await runCli(['audit', 'verify'], env);
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim().split('\n')).toHaveLength(1);
    expect(broken.stderr).toMatch(new RegExp(`the audit log was tampered with: record ${tokenRecord} \\(\\S+, token\\.create by certkeep CLI, place 2\\): this record was changed`));
  });
});
