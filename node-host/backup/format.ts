// The backup file: a format of our own, so that `certkeep restore` can tell a Certkeep backup
// from any other file, and refuse what it cannot restore before it writes anything.
//
//   "CERTKEEP-BACKUP\n"   16 bytes of magic
//   uint32, big-endian    length of the header (at most 16 KiB)
//   header                JSON, UTF-8 (BackupHeader): format version, when, which schema level,
//                         whether encrypted, whether the master key is inside
//   payload               gzip of [the master key (32 bytes), when included] + the SQLite file;
//                         when encrypted, that gzip stream cut into chunks of 64 KiB, each
//                         sealed with AES-256-GCM (its 16-byte tag after it)
//   SHA-256               32 bytes: of everything before it
//
// Encryption. The key comes from the passphrase through scrypt (N = 2^17, r = 8, p = 1: 128 MiB
// and about 0.4 s here, so each guess costs an attacker as much), with a random 16-byte salt per
// file, so every file has its own key. scrypt gives 64 bytes: the first 32 are the AES key, the
// other 32 key an HMAC whose value is in the header, so that a wrong passphrase is told apart from
// a damaged file. Chunks rather than one GCM message: a database of any size is sealed and opened
// with 64 KiB in memory, and each chunk is authenticated before its plaintext goes anywhere. The
// nonce of a chunk is its number and a flag for the last one (as in age's STREAM), and the whole
// header is the associated data of every chunk, so chunks cannot be reordered, dropped, cut off
// at the end, or moved under another header. The per-file key makes counter nonces safe.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';

export const MAGIC = Buffer.from('CERTKEEP-BACKUP\n', 'ascii');
export const FORMAT = 1;
const MAX_HEADER = 16 * 1024;
const CHECKSUM_BYTES = 32;
const TAG_BYTES = 16;
const CHUNK_BYTES = 64 * 1024;
const MASTER_KEY_BYTES = 32;
/** Today's scrypt cost; a file may name others within KDF_LIMITS (restore honours them). */
const SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const;
const KDF_LIMITS = { minLogN: 14, maxLogN: 20, maxR: 32, maxP: 16, maxMem: 1024 ** 3 };
const CHECK_LABEL = 'certkeep backup passphrase check';

/** How far the database's schema has come: the drizzle migrations applied to it. */
export interface SchemaLevel {
  /** Migrations applied. */
  migrations: number;
  /** The newest one's tag (as in migrations/meta/_journal.json), or null when this code does not know it. */
  latest: string | null;
  /** The newest one's timestamp (drizzle's `created_at`), or null when none is applied. */
  latestAt: number | null;
}

export interface EncryptionParams {
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  /** base64 */
  salt: string;
  cipher: 'aes-256-gcm';
  chunkBytes: number;
  /** base64 of HMAC-SHA256(second half of the derived key, CHECK_LABEL) */
  check: string;
}

export interface BackupHeader {
  format: typeof FORMAT;
  /** ISO 8601 */
  createdAt: string;
  /** The Certkeep version that wrote it. */
  certkeep: string;
  schema: SchemaLevel;
  database: { bytes: number };
  compression: 'gzip';
  /** Whether the master key is inside (only ever in an encrypted file). */
  masterKey: boolean;
  encryption: EncryptionParams | null;
}

export type BackupErrorCode = 'FOREIGN' | 'CORRUPT' | 'NEWER' | 'PASSPHRASE_NEEDED' | 'WRONG_PASSPHRASE';

/** A backup file that cannot be read; the message is one line for the operator. */
export class BackupFileError extends Error {
  constructor(
    readonly code: BackupErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BackupFileError';
  }
}

// ---- writing ---------------------------------------------------------------------------------

export interface WriteOptions {
  /** The SQLite file to put in (a snapshot nobody writes to any more). */
  database: string;
  createdAt: Date;
  certkeep: string;
  schema: SchemaLevel;
  /** Encrypt with this passphrase. */
  passphrase?: string;
  /** Put the master key in (needs a passphrase). */
  masterKey?: Uint8Array;
  /** scrypt's cost; today's default unless a test asks for a cheaper one (restore honours N ≥ 2^14). */
  scryptCost?: { N: number; r: number; p: number };
}

/** Writes a whole backup into `out` (an empty file opened for writing) and returns its header. */
export async function writeBackup(out: FileHandle, opts: WriteOptions): Promise<BackupHeader> {
  if (opts.masterKey && !opts.passphrase) throw new Error('the master key goes only into an encrypted backup');
  if (opts.masterKey && opts.masterKey.length !== MASTER_KEY_BYTES) throw new Error('a master key has 32 bytes');
  const { size } = await stat(opts.database);
  let sealing: { key: Buffer; params: EncryptionParams } | undefined;
  if (opts.passphrase) {
    const salt = randomBytes(16);
    const cost = opts.scryptCost ?? SCRYPT;
    const derived = await deriveKey(opts.passphrase, salt, cost);
    sealing = {
      key: derived.subarray(0, 32),
      params: { kdf: 'scrypt', N: cost.N, r: cost.r, p: cost.p, salt: salt.toString('base64'), cipher: 'aes-256-gcm', chunkBytes: CHUNK_BYTES, check: passphraseCheck(derived) },
    };
  }
  const header: BackupHeader = {
    format: FORMAT,
    createdAt: opts.createdAt.toISOString(),
    certkeep: opts.certkeep,
    schema: opts.schema,
    database: { bytes: size },
    compression: 'gzip',
    masterKey: opts.masterKey !== undefined,
    encryption: sealing?.params ?? null,
  };
  const head = headerBytes(header);
  const checksum = createHash('sha256');
  let position = 0;
  const put = async (bytes: Uint8Array) => {
    await out.write(bytes, 0, bytes.length, position);
    position += bytes.length;
  };
  const write = async (bytes: Uint8Array) => {
    checksum.update(bytes);
    await put(bytes);
  };
  await write(head);
  const masterKey = opts.masterKey;
  await pipeline(
    createReadStream(opts.database, { highWaterMark: CHUNK_BYTES }),
    async function* prefix(source: AsyncIterable<Buffer>) {
      if (masterKey) yield Buffer.from(masterKey);
      yield* source;
    },
    createGzip({ level: 6 }),
    sealing ? (source: AsyncIterable<Buffer>) => seal(source, sealing.key, head, CHUNK_BYTES) : async function* (source: AsyncIterable<Buffer>) { yield* source; },
    async (source: AsyncIterable<Buffer>) => {
      for await (const piece of source) await write(piece);
    },
  );
  await put(checksum.digest());
  return header;
}

function headerBytes(header: BackupHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([MAGIC, length, json]);
}

async function* seal(source: AsyncIterable<Buffer>, key: Buffer, aad: Buffer, size: number): AsyncGenerator<Buffer> {
  let index = 0;
  for await (const { chunk, last } of rechunk(source, size)) {
    const cipher = createCipheriv('aes-256-gcm', key, nonce(index++, last));
    cipher.setAAD(aad);
    yield Buffer.concat([cipher.update(chunk), cipher.final(), cipher.getAuthTag()]);
  }
}

/**
 * Cuts a stream into pieces of `size` bytes (the last may be shorter), holding one back so that
 * the last is known as such. An empty stream gives one empty last piece.
 */
async function* rechunk(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<{ chunk: Buffer; last: boolean }> {
  let parts: Buffer[] = [];
  let length = 0;
  let held: Buffer | undefined;
  for await (const piece of source) {
    parts.push(piece);
    length += piece.length;
    if (length < size) continue;
    let all = Buffer.concat(parts, length);
    while (all.length >= size) {
      if (held) yield { chunk: held, last: false };
      held = all.subarray(0, size);
      all = all.subarray(size);
    }
    parts = all.length > 0 ? [all] : [];
    length = all.length;
  }
  if (length > 0) {
    if (held) yield { chunk: held, last: false };
    yield { chunk: Buffer.concat(parts, length), last: true };
  } else {
    yield { chunk: held ?? Buffer.alloc(0), last: true };
  }
}

/** 12 bytes: the chunk's number (big-endian, bytes 3–10) and 1 in byte 11 for the last chunk. */
function nonce(index: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 3);
  n[11] = last ? 1 : 0;
  return n;
}

function passphraseCheck(derived: Buffer): string {
  return createHmac('sha256', derived.subarray(32, 64)).update(CHECK_LABEL).digest('base64');
}

function deriveKey(passphrase: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...cost, maxmem: 128 * cost.N * cost.r * cost.p + 32 * 1024 * 1024 };
  return new Promise((resolve, reject) => scryptCb(passphrase.normalize('NFC'), salt, 64, options, (err, key) => (err ? reject(err) : resolve(key))));
}

// ---- reading ---------------------------------------------------------------------------------

export interface OpenedBackup {
  path: string;
  header: BackupHeader;
  /** Magic, length and JSON: the associated data of every encrypted chunk. */
  headerBytes: Buffer;
  payloadStart: number;
  /** Exclusive. */
  payloadEnd: number;
}

/**
 * Reads and checks a backup file's header and checksum, without decrypting anything. Throws
 * BackupFileError: FOREIGN (not a Certkeep backup), NEWER (a format this version cannot read),
 * CORRUPT (damaged or truncated).
 */
export async function openBackup(path: string): Promise<OpenedBackup> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const start = await readAt(file, 0, Math.min(size, MAGIC.length + 4));
    const magicPart = start.subarray(0, MAGIC.length);
    if (!MAGIC.subarray(0, magicPart.length).equals(magicPart) || size === 0) {
      throw new BackupFileError('FOREIGN', 'not a Certkeep backup (it does not start like one)');
    }
    if (start.length < MAGIC.length + 4) throw truncated();
    const length = start.readUInt32BE(MAGIC.length);
    if (length === 0 || length > MAX_HEADER) throw new BackupFileError('CORRUPT', 'the backup is damaged: its header length is impossible');
    const payloadStart = MAGIC.length + 4 + length;
    if (payloadStart + CHECKSUM_BYTES > size) throw truncated();
    const json = await readAt(file, MAGIC.length + 4, length);
    let parsed: unknown;
    try {
      parsed = JSON.parse(json.toString('utf8'));
    } catch {
      throw new BackupFileError('CORRUPT', 'the backup is damaged: its header is not readable');
    }
    const format = (parsed as { format?: unknown } | null)?.format;
    if (typeof format === 'number' && Number.isInteger(format) && format > FORMAT) {
      throw new BackupFileError('NEWER', `the backup was written by a newer Certkeep (backup format ${format}; this version reads format ${FORMAT}): restore it with that version or a later one`);
    }
    const header = checkHeader(parsed);
    const payloadEnd = size - CHECKSUM_BYTES;
    if (payloadEnd <= payloadStart) throw truncated();
    // The checksum covers everything: a file cut short or changed anywhere is refused here,
    // before any of it is decrypted or written.
    const hash = createHash('sha256');
    await pipeline(createReadStream(path, { start: 0, end: payloadEnd - 1, highWaterMark: CHUNK_BYTES }), async (source: AsyncIterable<Buffer>) => {
      for await (const piece of source) hash.update(piece);
    });
    const stored = await readAt(file, payloadEnd, CHECKSUM_BYTES);
    if (!timingSafeEqual(hash.digest(), stored)) {
      throw new BackupFileError('CORRUPT', 'the backup is damaged or truncated: its checksum does not match its contents');
    }
    return { path, header, headerBytes: Buffer.concat([start.subarray(0, MAGIC.length + 4), json]), payloadStart, payloadEnd };
  } finally {
    await file.close();
  }
}

const truncated = () => new BackupFileError('CORRUPT', 'the backup is truncated: the file ends before its contents do');

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

function checkHeader(value: unknown): BackupHeader {
  const bad = (what: string) => new BackupFileError('CORRUPT', `the backup is damaged: its header has no valid ${what}`);
  const h = value as Partial<BackupHeader> | null;
  if (!h || typeof h !== 'object') throw bad('content');
  if (h.format !== FORMAT) throw bad('format version');
  if (typeof h.createdAt !== 'string' || Number.isNaN(Date.parse(h.createdAt))) throw bad('creation time');
  if (typeof h.certkeep !== 'string') throw bad('version');
  const s = h.schema;
  if (!s || !Number.isInteger(s.migrations) || s.migrations < 0 || !(s.latest === null || typeof s.latest === 'string') || !(s.latestAt === null || Number.isInteger(s.latestAt))) {
    throw bad('schema level');
  }
  if (!h.database || !Number.isSafeInteger(h.database.bytes) || h.database.bytes <= 0) throw bad('database size');
  if (h.compression !== 'gzip') throw bad('compression');
  if (typeof h.masterKey !== 'boolean') throw bad('master key flag');
  const e = h.encryption;
  if (e !== null) {
    if (!e || e.kdf !== 'scrypt' || e.cipher !== 'aes-256-gcm' || e.chunkBytes !== CHUNK_BYTES) throw bad('encryption parameters');
    const logN = Math.log2(e.N);
    const saltOk = typeof e.salt === 'string' && Buffer.from(e.salt, 'base64').length >= 16;
    if (
      !Number.isInteger(logN) || logN < KDF_LIMITS.minLogN || logN > KDF_LIMITS.maxLogN ||
      !Number.isInteger(e.r) || e.r < 1 || e.r > KDF_LIMITS.maxR || !Number.isInteger(e.p) || e.p < 1 || e.p > KDF_LIMITS.maxP ||
      128 * e.N * e.r * e.p > KDF_LIMITS.maxMem || !saltOk || typeof e.check !== 'string'
    ) {
      throw bad('key derivation parameters');
    }
  }
  if (h.masterKey && e === null) throw bad('encryption for the master key it says it holds');
  return h as BackupHeader;
}

/**
 * The key that opens an encrypted backup (undefined for a plain one). Throws PASSPHRASE_NEEDED
 * without a passphrase, WRONG_PASSPHRASE when it does not fit.
 */
export async function unlockBackup(backup: OpenedBackup, passphrase: string | undefined): Promise<Buffer | undefined> {
  const e = backup.header.encryption;
  if (!e) return undefined;
  if (passphrase === undefined) throw new BackupFileError('PASSPHRASE_NEEDED', 'the backup is encrypted: give its passphrase with --passphrase-file');
  const derived = await deriveKey(passphrase, Buffer.from(e.salt, 'base64'), e);
  const expected = Buffer.from(passphraseCheck(derived), 'base64');
  const stored = Buffer.from(e.check, 'base64');
  if (stored.length !== expected.length || !timingSafeEqual(stored, expected)) {
    throw new BackupFileError('WRONG_PASSPHRASE', 'wrong passphrase: it does not open this backup');
  }
  return derived.subarray(0, 32);
}

/**
 * Writes the backup's database into `out` (an empty file opened for writing) and returns the
 * master key when the backup holds one. Every chunk is authenticated before it is used; a
 * failure is CORRUPT, and `out` then holds a part that the caller deletes.
 */
export async function extractBackup(backup: OpenedBackup, key: Buffer | undefined, out: FileHandle): Promise<{ masterKey?: Uint8Array }> {
  const { header } = backup;
  const expected = header.database.bytes + (header.masterKey ? MASTER_KEY_BYTES : 0);
  const keyBytes: Buffer[] = [];
  let keyLength = 0;
  let written = 0;
  let position = 0;
  try {
    await pipeline(
      createReadStream(backup.path, { start: backup.payloadStart, end: backup.payloadEnd - 1, highWaterMark: CHUNK_BYTES + TAG_BYTES }),
      header.encryption
        ? (source: AsyncIterable<Buffer>) => unseal(source, key!, backup.headerBytes, header.encryption!.chunkBytes)
        : async function* (source: AsyncIterable<Buffer>) { yield* source; },
      createGunzip(),
      async (source: AsyncIterable<Buffer>) => {
        for await (let piece of source) {
          written += piece.length;
          if (written > expected) throw new BackupFileError('CORRUPT', 'the backup is damaged: it holds more than its header says');
          if (header.masterKey && keyLength < MASTER_KEY_BYTES) {
            const take = Math.min(MASTER_KEY_BYTES - keyLength, piece.length);
            keyBytes.push(piece.subarray(0, take));
            keyLength += take;
            piece = piece.subarray(take);
          }
          if (piece.length > 0) {
            await out.write(piece, 0, piece.length, position);
            position += piece.length;
          }
        }
      },
    );
  } catch (err) {
    if (err instanceof BackupFileError) throw err;
    throw new BackupFileError('CORRUPT', `the backup is damaged: ${(err as Error).message}`);
  }
  if (written !== expected) throw new BackupFileError('CORRUPT', 'the backup is damaged: it holds less than its header says');
  await out.sync();
  return header.masterKey ? { masterKey: new Uint8Array(Buffer.concat(keyBytes)) } : {};
}

async function* unseal(source: AsyncIterable<Buffer>, key: Buffer, aad: Buffer, chunkBytes: number): AsyncGenerator<Buffer> {
  let index = 0;
  for await (const { chunk, last } of rechunk(source, chunkBytes + TAG_BYTES)) {
    if (chunk.length < TAG_BYTES) throw new BackupFileError('CORRUPT', 'the backup is damaged: an encrypted chunk is cut short');
    const decipher = createDecipheriv('aes-256-gcm', key, nonce(index, last));
    decipher.setAAD(aad);
    decipher.setAuthTag(chunk.subarray(chunk.length - TAG_BYTES));
    const plain = decipher.update(chunk.subarray(0, chunk.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      throw new BackupFileError('CORRUPT', `the backup is damaged: encrypted chunk ${index + 1} fails authentication`);
    }
    index++;
    yield plain;
  }
}
