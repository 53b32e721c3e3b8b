// Answers the node host may write again without running the app: responses the core marked as
// replayable (src/http/download-cache.ts: certificate downloads), kept with the database version
// they were computed under. Servers poll their certificates many times a day; this makes a
// repeated download cost one stat() and one hash instead of a trip through the Fetch API, the
// router and the database.
//
// A replay is keyed by everything the marked answer may depend on — scheme, client address,
// Host, request target, API key (hashed: keys are never kept in clear) and If-None-Match — and
// used only while the version is the one it was computed under. The version changes with every
// database write by any process and with the HTTPS state, so a rotated API key or a renewed or
// revoked certificate is never answered from here.

export interface ReplayOptions {
  /** The download cache's version: changes with any database write; null while it cannot be told. */
  version(): string | null;
  /** SHA-256 hex of an API key. */
  hash(text: string): string;
  /** Told about every replayed answer (the node host logs them at debug level, as the app logs requests). */
  onReplay?(path: string, status: number, clientIp: string): void;
}

export interface Replay {
  version: string;
  status: number;
  statusText: string | undefined;
  /** Flat [name, value, …] list, content-length included, as res.writeHead takes it. */
  head: string[];
  body: string | Uint8Array;
}

/** Entries before the map is emptied: one or two per polling server, and each a few KB. */
const MAX_REPLAYS = 2000;

export class ReplayCache {
  readonly #entries = new Map<string, Replay>();
  #version: string | null = null;

  constructor(readonly options: ReplayOptions) {}

  /** The key of a GET without a body; undefined when the request carries no API key (nothing to replay). */
  keyOf(secure: boolean, clientIp: string, host: string | undefined, target: string, apiKey: string | undefined, ifNoneMatch: string | undefined): string | undefined {
    if (apiKey === undefined) return undefined;
    // No field can hold a line feed: Node refuses one in a header value or the request target.
    return `${secure ? 's' : 'p'}\n${clientIp}\n${host ?? ''}\n${target}\n${this.options.hash(apiKey)}\n${ifNoneMatch ?? ''}`;
  }

  /** The stored answer for `key` if the database is still at its version (everything is dropped otherwise). */
  find(key: string): Replay | undefined {
    const version = this.options.version();
    if (version !== this.#version) {
      this.#entries.clear();
      this.#version = version;
    }
    return version === null ? undefined : this.#entries.get(key);
  }

  /** Keeps an answer computed under `replay.version`, unless the version has moved on since find(). */
  store(key: string, replay: Replay): void {
    if (replay.version !== this.#version) return;
    if (this.#entries.size >= MAX_REPLAYS) this.#entries.clear();
    this.#entries.set(key, replay);
  }
}
