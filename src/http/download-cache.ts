// Downloads from memory. What the download API answers depends only on the database, so a host
// that can tell cheaply whether the database changed may keep what it read there: who an API key
// belongs to, the certificate rows, and the bytes and ETag of each served body. The node host
// can (the libSQL file's write-ahead log changes with every commit, whoever makes it, see
// node-host/db-version.ts); the Worker cannot, and reads D1 every time.
//
// Correctness rests on one rule: memory is used only while the database version is the one it
// was filled under. Every request reads the version first; a different one empties everything,
// so a rotated API key, a revoked or renewed certificate or a deleted key is seen by the very
// next request, on this host and on any other host writing the same file. A value read from the
// database is stored only if the version the request started with is still the current one, so
// a write racing with a read can leave nothing stale behind: the next request sees the new
// version and starts over.
import type { Deps } from '../deps.ts';

export interface DownloadCacheSource {
  /**
   * A token that changes whenever any writer, in this process or another, may have changed the
   * database; null while that cannot be told (then memory is neither read nor filled).
   */
  version(): string | null;
}

/** Entries per map before it is emptied: a bound on memory (bodies are a few KB each). */
const MAX_ENTRIES = 2000;

/** What one database version lets a request reuse. */
export class DownloadCacheRound {
  constructor(
    readonly cache: DownloadCache,
    readonly version: string,
  ) {}

  /** Stores a value read under this round's version, unless the version moved on meanwhile. */
  set<T>(map: Map<string, T>, key: string, value: T): void {
    if (!this.cache.isCurrent(this.version)) return;
    if (map.size >= MAX_ENTRIES) map.clear();
    map.set(key, value);
  }
}

export class DownloadCache {
  /** API key hash → owner (and slot). */
  readonly owners = new Map<string, { ownerKind: 'key' | 'certificate'; ownerId: string; slot: number }>();
  /** Certificate name → the fields a download needs. */
  readonly certificates = new Map<string, CachedCertificate>();
  /**
   * `API key owner id, name` → the certificate found by its subject when no certificate has that
   * name (which one depends on whose API key asks when several share the subject).
   */
  readonly subjects = new Map<string, CachedCertificate>();
  /** Account id → whether it is a staging account. */
  readonly staging = new Map<string, boolean>();
  /** `certificate id, format, chain` → the body and its ETag. */
  readonly bodies = new Map<string, CachedBody>();
  #version: string | null = null;

  constructor(readonly source: DownloadCacheSource) {}

  /** The round for this request, after emptying memory if the database changed; undefined when memory must not be used. */
  begin(): DownloadCacheRound | undefined {
    const version = this.source.version();
    if (version !== this.#version) {
      this.owners.clear();
      this.certificates.clear();
      this.subjects.clear();
      this.staging.clear();
      this.bodies.clear();
      this.#version = version;
    }
    return version === null ? undefined : new DownloadCacheRound(this, version);
  }

  isCurrent(version: string): boolean {
    return this.#version === version;
  }
}

export interface CachedCertificate {
  id: string;
  name: string;
  accountId: string;
  pem: string | null;
  /** The serial of `pem`'s leaf (recorded as what its consumer fetched). */
  serial: string | null;
  servedKeyId: string | null;
}

export interface CachedBody {
  bytes: Uint8Array<ArrayBuffer>;
  etag: string;
}

const caches = new WeakMap<Deps, DownloadCache>();

/** Lets downloads served with these deps use memory (node host start-up). */
export function enableDownloadCache(deps: Deps, source: DownloadCacheSource): DownloadCache {
  const cache = new DownloadCache(source);
  caches.set(deps, cache);
  return cache;
}

/** This request's round, or undefined when the host keeps no download cache or cannot use it now. */
export function downloadCacheRound(deps: Deps): DownloadCacheRound | undefined {
  return caches.get(deps)?.begin();
}
