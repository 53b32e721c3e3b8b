// Admin API bearer tokens. Shown once at creation; only the SHA-256 is stored.
import { eq, sql } from 'drizzle-orm';
import { preparedQuery } from '../db/prepared.ts';
import type { Deps } from '../deps.ts';
import { adminTokens } from '../db/schema.ts';
import { hashSecret, hashesEqual, looksLikeSecret, newId, newSecret } from './secrets.ts';
import { audit, type By } from './audit.ts';

export async function prepareAdminToken(deps: Deps, name: string) {
  const token = newSecret('ckt');
  const row = { id: newId(), name, tokenHash: await hashSecret(deps, token), createdAt: deps.now(), lastUsedAt: null };
  return { token, statement: deps.db.db.insert(adminTokens).values(row) };
}

export async function createAdminToken(deps: Deps, by: By, name: string): Promise<string> {
  const { token, statement } = await prepareAdminToken(deps, name);
  await deps.db.batch([statement, audit(deps, by, { action: 'token.create', object: { kind: 'token', name } })]);
  deps.log.info('admin token created', { name });
  return token;
}

const byHash = preparedQuery((db) => db.select().from(adminTokens).where(eq(adminTokens.tokenHash, sql.placeholder('hash'))).limit(1).prepare());

/** The token's row when the presented bearer token is one of ours, else null. */
export async function authenticateAdminToken(deps: Deps, presented: string | null) {
  if (!looksLikeSecret(presented) || !presented.startsWith('ckt_')) return null;
  const hash = await hashSecret(deps, presented);
  const [row] = await byHash(deps.db.db).all({ hash });
  if (!row || !hashesEqual(row.tokenHash, hash)) return null;
  return row;
}
