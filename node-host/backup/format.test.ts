// The backup file format on its own: what goes in comes out, and every way a file can be wrong
// is refused with its own code before anything is written. Some attacks rewrite the checksum
// after tampering, to show that the encryption holds by itself too.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/harness/tmp.ts';
import { BackupFileError, extractBackup, FORMAT, MAGIC, openBackup, unlockBackup, writeBackup, type BackupErrorCode, type SchemaLevel } from './format.ts';

const SCHEMA: SchemaLevel = { migrations: 4, latest: '0003_sessions', latestAt: 1795733641276 };
const PASSPHRASE = 'correct horse battery staple';
let dir: string;
let database: string;
/** 200 KiB, part random (so it does not compress away) and part repetitive: several chunks. */
let content: Buffer;

beforeAll(() => {
  dir = makeTempDir('backup-format-');
  database = join(dir, 'source.db');
  content = Buffer.concat([randomBytes(150 * 1024), Buffer.alloc(50 * 1024, 'x')]);
  writeFileSync(database, content);
});

/** The cheapest scrypt a backup may name, where the test is not about the cost. */
const CHEAP = { N: 2 ** 14, r: 8, p: 1 };

let serial = 0;
async function write(opts: { passphrase?: string; masterKey?: Uint8Array; scryptCost?: typeof CHEAP } = {}): Promise<string> {
  const path = join(dir, `b${serial++}.ckbackup`);
  const out = await open(path, 'wx');
  try {
    await writeBackup(out, { database, createdAt: new Date('2030-01-02T03:04:05Z'), certkeep: '0.1.0', schema: SCHEMA, scryptCost: CHEAP, ...opts });
  } finally {
    await out.close();
  }
  return path;
}

async function restore(path: string, passphrase?: string): Promise<{ bytes: Buffer; masterKey?: Uint8Array }> {
  const backup = await openBackup(path);
  const key = await unlockBackup(backup, passphrase);
  const target = join(dir, `restored-${serial++}.db`);
  const out = await open(target, 'wx');
  try {
    const { masterKey } = await extractBackup(backup, key, out);
    return { bytes: await readFile(target), masterKey };
  } finally {
    await out.close();
  }
}

async function refusal(promise: Promise<unknown>): Promise<BackupErrorCode> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackupFileError);
  return (err as BackupFileError).code;
}

/** A copy of `path` changed by `change`, with the trailing checksum made right again when `fixChecksum`. */
function tampered(path: string, change: (bytes: Buffer) => Buffer, fixChecksum: boolean): string {
  let bytes = change(Buffer.from(readFileSync(path)));
  if (fixChecksum) {
    const body = bytes.subarray(0, bytes.length - 32);
    bytes = Buffer.concat([body, createHash('sha256').update(body).digest()]);
  }
  const out = join(dir, `tampered-${serial++}.ckbackup`);
  writeFileSync(out, bytes);
  return out;
}

function headerOf(path: string): { length: number; json: Record<string, any> } {
  const bytes = readFileSync(path);
  const length = bytes.readUInt32BE(MAGIC.length);
  return { length, json: JSON.parse(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + length).toString('utf8')) };
}

describe('backup file format', () => {
  it('round-trips a database, and describes itself in a readable header', async () => {
    const path = await write();
    const { json } = headerOf(path);
    expect(json).toMatchObject({ format: FORMAT, createdAt: '2030-01-02T03:04:05.000Z', schema: SCHEMA, database: { bytes: content.length }, masterKey: false, encryption: null });
    const { bytes, masterKey } = await restore(path);
    expect(bytes.equals(content)).toBe(true);
    expect(masterKey).toBeUndefined();
  });

  it('round-trips encrypted, with the master key, and nothing of either is readable in the file', async () => {
    const master = randomBytes(32);
    const path = await write({ passphrase: PASSPHRASE, masterKey: master, scryptCost: undefined });
    const file = readFileSync(path);
    expect(file.includes(master)).toBe(false);
    expect(file.includes(content.subarray(0, 64))).toBe(false);
    expect(headerOf(path).json.encryption).toMatchObject({ kdf: 'scrypt', N: 2 ** 17, r: 8, p: 1, cipher: 'aes-256-gcm' });
    const { bytes, masterKey } = await restore(path, PASSPHRASE);
    expect(bytes.equals(content)).toBe(true);
    expect(Buffer.from(masterKey!).equals(master)).toBe(true);
  });

  it('refuses a wrong or missing passphrase', async () => {
    const path = await write({ passphrase: PASSPHRASE });
    const backup = await openBackup(path);
    expect(await refusal(unlockBackup(backup, 'correct horse battery stable'))).toBe('WRONG_PASSPHRASE');
    expect(await refusal(unlockBackup(backup, undefined))).toBe('PASSPHRASE_NEEDED');
  });

  it('refuses a file cut short anywhere, or with one bit changed anywhere', async () => {
    const path = await write({ passphrase: PASSPHRASE });
    const size = readFileSync(path).length;
    for (const keep of [0, 5, MAGIC.length + 2, 40, 300, Math.floor(size / 2), size - 1]) {
      const cut = tampered(path, (b) => b.subarray(0, keep), false);
      expect(await refusal(openBackup(cut)), `cut to ${keep} bytes`).toBe(keep === 0 ? 'FOREIGN' : 'CORRUPT');
    }
    for (const at of [MAGIC.length + 1, MAGIC.length + 30, Math.floor(size / 2), size - 40, size - 1]) {
      const flipped = tampered(path, (b) => ((b[at] ^= 0x01), b), false);
      expect(await refusal(openBackup(flipped)), `bit flipped at ${at}`).toBe('CORRUPT');
    }
  });

  it('refuses a file that is not a backup, and a backup of a newer format', async () => {
    const sqlite = join(dir, 'plain.db');
    writeFileSync(sqlite, Buffer.concat([Buffer.from('SQLite format 3\0'), randomBytes(100)]));
    expect(await refusal(openBackup(sqlite))).toBe('FOREIGN');

    const newer = tampered(
      await write(),
      (b) => {
        const { length, json } = headerOf(join(dir, `b${serial - 1}.ckbackup`));
        const header = Buffer.from(JSON.stringify({ ...json, format: FORMAT + 1 }));
        const len = Buffer.alloc(4);
        len.writeUInt32BE(header.length);
        return Buffer.concat([MAGIC, len, header, b.subarray(MAGIC.length + 4 + length)]);
      },
      true,
    );
    const err = await openBackup(newer).catch((e: BackupFileError) => e);
    expect((err as BackupFileError).code).toBe('NEWER');
    expect((err as BackupFileError).message).toMatch(/newer Certkeep/);
  });

  it('holds without the checksum: encrypted chunks swapped, dropped or moved under another header fail authentication', async () => {
    const path = await write({ passphrase: PASSPHRASE });
    const { length } = headerOf(path);
    const start = MAGIC.length + 4 + length;
    const sealedChunk = 64 * 1024 + 16;
    // Swap the first two chunks.
    const swapped = tampered(path, (b) => Buffer.concat([b.subarray(0, start), b.subarray(start + sealedChunk, start + 2 * sealedChunk), b.subarray(start, start + sealedChunk), b.subarray(start + 2 * sealedChunk)]), true);
    expect(await refusal(restore(swapped, PASSPHRASE))).toBe('CORRUPT');
    // Drop the last chunk: the one before it was not sealed as the last.
    const { length: _l, json } = headerOf(path);
    const payloadEnd = readFileSync(path).length - 32;
    const chunks = Math.ceil((payloadEnd - start) / sealedChunk);
    expect(chunks).toBeGreaterThan(1);
    const dropped = tampered(path, (b) => Buffer.concat([b.subarray(0, start + (chunks - 1) * sealedChunk), b.subarray(payloadEnd)]), true);
    expect(await refusal(restore(dropped, PASSPHRASE))).toBe('CORRUPT');
    // The same chunks under a header that claims a different creation time.
    const reheaded = tampered(
      path,
      (b) => {
        const header = Buffer.from(JSON.stringify({ ...json, createdAt: '2031-01-01T00:00:00.000Z' }));
        const len = Buffer.alloc(4);
        len.writeUInt32BE(header.length);
        return Buffer.concat([MAGIC, len, header, b.subarray(start)]);
      },
      true,
    );
    expect(await refusal(restore(reheaded, PASSPHRASE))).toBe('CORRUPT');
  });

  it('refuses a plain backup whose size does not match its header', async () => {
    const path = await write();
    const { length, json } = headerOf(path);
    const lying = tampered(
      path,
      (b) => {
        const header = Buffer.from(JSON.stringify({ ...json, database: { bytes: content.length - 1 } }));
        const len = Buffer.alloc(4);
        len.writeUInt32BE(header.length);
        return Buffer.concat([MAGIC, len, header, b.subarray(MAGIC.length + 4 + length)]);
      },
      true,
    );
    expect(await refusal(restore(lying))).toBe('CORRUPT');
  });
});
