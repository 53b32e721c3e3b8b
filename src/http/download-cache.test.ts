import { describe, expect, it } from 'vitest';
import type { Deps } from '../deps.ts';
import { DownloadCache, downloadCacheRound, enableDownloadCache } from './download-cache.ts';

function source(initial: string | null) {
  const state = { version: initial };
  return { state, source: { version: () => state.version } };
}

const owner = { ownerKind: 'certificate' as const, ownerId: 'c1', slot: 1 };

describe('DownloadCache', () => {
  it('keeps what a round stores while the version holds', () => {
    const { source: s } = source('v1');
    const cache = new DownloadCache(s);
    const round = cache.begin()!;
    round.set(cache.owners, 'h', owner);
    expect(cache.begin()!.cache.owners.get('h')).toEqual(owner);
  });

  it('empties everything when the version changes', () => {
    const { state, source: s } = source('v1');
    const cache = new DownloadCache(s);
    const round = cache.begin()!;
    round.set(cache.owners, 'h', owner);
    round.set(cache.certificates, 'www', { id: 'c1', name: 'www', accountId: 'a', pem: 'PEM', serial: 'aa01', servedKeyId: 'k' });
    round.set(cache.subjects, 'c1\nwww.example.com', { id: 'c1', name: 'www', accountId: 'a', pem: 'PEM', serial: 'aa01', servedKeyId: 'k' });
    round.set(cache.staging, 'a', false);
    round.set(cache.bodies, 'c1\npem\ntrue', { bytes: new Uint8Array([1]), etag: '"e"' });
    state.version = 'v2';
    expect(cache.begin()).toBeDefined();
    expect([cache.owners.size, cache.certificates.size, cache.subjects.size, cache.staging.size, cache.bodies.size]).toEqual([0, 0, 0, 0, 0]);
  });

  it('is not used, and forgets, while the version cannot be told', () => {
    const { state, source: s } = source('v1');
    const cache = new DownloadCache(s);
    cache.begin()!.set(cache.owners, 'h', owner);
    state.version = null;
    expect(cache.begin()).toBeUndefined();
    expect(cache.owners.size).toBe(0);
    // Back to the very same version: what was forgotten stays forgotten.
    state.version = 'v1';
    expect(cache.begin()!.cache.owners.get('h')).toBeUndefined();
  });

  it('refuses what a round read under a version that has moved on', () => {
    const { state, source: s } = source('v1');
    const cache = new DownloadCache(s);
    const slow = cache.begin()!; // a request that read the database before a write…
    state.version = 'v2';
    cache.begin(); // …while another request saw the write
    slow.set(cache.owners, 'h', owner);
    expect(cache.owners.size).toBe(0);
  });

  it('belongs to the deps it was enabled for', () => {
    const { source: s } = source('v1');
    const deps = {} as Deps;
    expect(downloadCacheRound(deps)).toBeUndefined();
    enableDownloadCache(deps, s);
    expect(downloadCacheRound(deps)?.version).toBe('v1');
    expect(downloadCacheRound({} as Deps)).toBeUndefined();
  });
});
