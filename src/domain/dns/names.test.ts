import { describe, expect, it } from 'vitest';
import {
  challengeRecordName,
  expandPlaceholders,
  recordRelativeToDomain,
  registrableDomain,
  subjectName,
  unknownPlaceholders,
} from './names.ts';

const VALUE = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';

describe('challengeRecordName', () => {
  it('prefixes _acme-challenge and drops a wildcard label, case and trailing dot (RFC 8555 §8.4)', () => {
    expect(challengeRecordName('www.example.com')).toBe('_acme-challenge.www.example.com');
    expect(challengeRecordName('*.example.com')).toBe('_acme-challenge.example.com');
    expect(challengeRecordName('WWW.Example.COM.')).toBe('_acme-challenge.www.example.com');
  });

  it('uses the A-label form of an internationalized name', () => {
    expect(challengeRecordName('bücher.example')).toBe('_acme-challenge.xn--bcher-kva.example');
    expect(subjectName('*.münchen.de')).toBe('xn--mnchen-3ya.de');
  });
});

describe('registrableDomain and recordRelativeToDomain', () => {
  it.each([
    ['example.com', 'example.com', '_acme-challenge'],
    ['www.example.com', 'example.com', '_acme-challenge.www'],
    ['*.www.example.com', 'example.com', '_acme-challenge.www'],
    ['a.b.example.co.uk', 'example.co.uk', '_acme-challenge.a.b'],
    ['example.co.uk', 'example.co.uk', '_acme-challenge'],
    // private suffixes are not suffixes here: github.io is the domain whose DNS serves foo.github.io
    ['foo.github.io', 'github.io', '_acme-challenge.foo'],
    ['sub.xn--mnchen-3ya.de', 'xn--mnchen-3ya.de', '_acme-challenge.sub'],
    ['shop.münchen.de', 'xn--mnchen-3ya.de', '_acme-challenge.shop'],
    // a name that is itself a public suffix is its own domain
    ['co.uk', 'co.uk', '_acme-challenge'],
  ])('%s → %s, %s', async (name, domain, relative) => {
    expect(await registrableDomain(name)).toBe(domain);
    expect(await recordRelativeToDomain(name)).toBe(relative);
  });
});

describe('expandPlaceholders', () => {
  const record = { fqdn: '_acme-challenge.www.example.co.uk', name: 'www.example.co.uk', value: VALUE };

  it('replaces every Certera placeholder', async () => {
    expect(await expandPlaceholders('{{FullRecord}}', record)).toBe('_acme-challenge.www.example.co.uk');
    expect(await expandPlaceholders('{{Record}}', record)).toBe('_acme-challenge.www');
    expect(await expandPlaceholders('{{Subject}}', record)).toBe('www.example.co.uk');
    expect(await expandPlaceholders('{{Domain}}', record)).toBe('example.co.uk');
    expect(await expandPlaceholders('{{Value}}', record)).toBe(VALUE);
    expect(await expandPlaceholders('--txt={{Value}} --name={{Record}}.{{Domain}}', record)).toBe(`--txt=${VALUE} --name=_acme-challenge.www.example.co.uk`);
  });

  it('expands in one pass: a value holding a placeholder is not expanded again', async () => {
    expect(await expandPlaceholders('{{Value}}', { ...record, value: '{{Domain}}' })).toBe('{{Domain}}');
  });

  it('leaves unknown placeholders and plain braces alone', async () => {
    expect(await expandPlaceholders('{{value}} {Value} {{ Value }}', record)).toBe('{{value}} {Value} {{ Value }}');
  });

  it('uses A-labels for internationalized names', async () => {
    const idn = { fqdn: '_acme-challenge.shop.münchen.de', name: 'shop.münchen.de', value: VALUE };
    expect(await Promise.all(['{{FullRecord}}', '{{Record}}', '{{Subject}}', '{{Domain}}'].map((t) => expandPlaceholders(t, idn)))).toEqual([
      '_acme-challenge.shop.xn--mnchen-3ya.de',
      '_acme-challenge.shop',
      'shop.xn--mnchen-3ya.de',
      'xn--mnchen-3ya.de',
    ]);
  });
});

describe('unknownPlaceholders', () => {
  it('finds typos and nothing else', () => {
    expect(unknownPlaceholders('{{FullRecord}} {{Value}}')).toEqual([]);
    expect(unknownPlaceholders('{{value}} {{Value}} {{Zone}}')).toEqual(['{{value}}', '{{Zone}}']);
  });
});
