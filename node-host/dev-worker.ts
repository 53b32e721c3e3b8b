// `npm run dev:worker`: the same app under `wrangler dev` (workerd, local D1) on port 8787.
// Creates .dev.vars with a fresh MASTER_KEY and SETUP_TOKEN on first use (git-ignored), applies
// the migrations to the local D1, then hands over to wrangler.
import { existsSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { spawnSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const wrangler = fileURLToPath(new URL('../node_modules/wrangler/bin/wrangler.js', import.meta.url));

if (!existsSync(`${root}/.dev.vars`)) {
  const token = randomBytes(24).toString('base64url');
  writeFileSync(
    `${root}/.dev.vars`,
    `MASTER_KEY=${randomBytes(32).toString('base64')}\nSETUP_TOKEN=${token}\nALLOW_ADMIN=*\nALLOW_API=*\n`,
    { mode: 0o600 },
  );
  console.log(`Created .dev.vars; the setup token is ${token}`);
}

const migrate = spawnSync(process.execPath, [wrangler, 'd1', 'migrations', 'apply', 'DB', '--local'], { cwd: root, stdio: 'inherit', env: { ...process.env, CI: 'true' } });
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const dev = spawn(process.execPath, [wrangler, 'dev', '--port', '8787', '--test-scheduled', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => dev.kill(signal));
dev.on('exit', (code) => process.exit(code ?? 0));
