// safeNext: after sign-in only a place on our own origin, as the browser's URL parser reads it.
import { describe, expect, it } from 'vitest';
import { safeNext } from './guard.ts';

const ORIGIN = 'https://certkeep.example.com';

describe('safeNext', () => {
  it('refuses every value a browser would take to another site', () => {
    // Tabs and line breaks are dropped by browsers (the tab trick: /%09/evil.example arrives as
    // "/\t/evil.example" and becomes //evil.example), backslashes read as slashes, leading spaces
    // and control characters trimmed, dot segments resolved.
    const attacks = [
      '/\t/evil.example', '\t//evil.example', '/\n/evil.example', '/\r\n/evil.example', '/\r/evil.example',
      '//evil.example', '///evil.example', '/\\evil.example', '\\\\evil.example', '/\\/evil.example', '\\/evil.example',
      ' //evil.example', '\u0000//evil.example', '/./\t/evil.example', '/.//evil.example', '/..//evil.example',
      'https://evil.example/', 'HTTPS://evil.example', 'http://certkeep.example.com/', 'https://certkeep.example.com:8443/',
      'https://certkeep.example.com.evil.example/', 'https://user@evil.example/', 'http:evil.example', '//certkeep.example.com@evil.example',
      'javascript:alert(1)', 'data:text/html,hi', '',
    ];
    for (const next of attacks) expect(safeNext(next, ORIGIN), JSON.stringify(next)).toBe('/');
    expect(safeNext(null, ORIGIN)).toBe('/');
  });

  it('keeps a local path with its query and fragment, reduced to them', () => {
    expect(safeNext('/certificates?q=www#list', ORIGIN)).toBe('/certificates?q=www#list');
    expect(safeNext('/keys/a%20b', ORIGIN)).toBe('/keys/a%20b');
    expect(safeNext('https://certkeep.example.com/settings', ORIGIN)).toBe('/settings');
    expect(safeNext('/%09/evil.example', ORIGIN)).toBe('/%09/evil.example'); // an encoded tab in a local path
    expect(safeNext('/a/../keys', ORIGIN)).toBe('/keys');
    expect(safeNext('evil.example', ORIGIN)).toBe('/evil.example'); // a relative path stays here
  });
});
