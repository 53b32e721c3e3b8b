import { describe, expect, it } from 'vitest';
import { parseLinks, retryAfterMs } from './headers.ts';

describe('retryAfterMs', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');

  it('reads delta-seconds', () => {
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
  });

  it('reads an HTTP-date (IMF-fixdate) relative to now, and a past date as 0', () => {
    expect(retryAfterMs('Sun, 01 Jun 2025 12:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Sun, 01 Jun 2025 11:00:00 GMT', now)).toBe(0);
  });

  it('ignores what is neither', () => {
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('-5', now)).toBeUndefined();
    expect(retryAfterMs('1.5', now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});

describe('parseLinks', () => {
  const base = 'https://ca.test/acme/cert/1';

  it('reads several links joined by commas, resolving relative targets', () => {
    const header =
      '<https://ca.test/dir>;rel="index", </acme/cert/1/1>; rel="alternate", <https://ca.test/acme/cert/1/2>;rel=alternate';
    expect(parseLinks(header, base)).toEqual([
      { url: 'https://ca.test/dir', rel: 'index' },
      { url: 'https://ca.test/acme/cert/1/1', rel: 'alternate' },
      { url: 'https://ca.test/acme/cert/1/2', rel: 'alternate' },
    ]);
  });

  it('keeps commas inside quoted parameters and splits space-separated relation types', () => {
    const header = '<https://ca.test/a>; title="x, y"; rel="up Alternate", <https://ca.test/b>; rel="index"';
    expect(parseLinks(header, base)).toEqual([
      { url: 'https://ca.test/a', rel: 'up' },
      { url: 'https://ca.test/a', rel: 'alternate' },
      { url: 'https://ca.test/b', rel: 'index' },
    ]);
  });

  it('returns nothing for an absent header', () => {
    expect(parseLinks(null, base)).toEqual([]);
  });
});
