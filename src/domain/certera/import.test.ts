// The two readings of Certera's DNS-01 settings that decide what the script provider runs: the
// argument string as .NET split it into argv, and the NAME=VALUE environment lines.
import { describe, expect, it } from 'vitest';
import { certeraEnvironment, splitArguments } from './import.ts';

describe('splitArguments (ProcessStartInfo.Arguments as .NET splits it)', () => {
  it.each([
    ['set {{FullRecord}} {{Value}}', ['set', '{{FullRecord}}', '{{Value}}']],
    ['  -a   b\t c  ', ['-a', 'b', 'c']],
    ['--zone "my zone" {{Domain}}', ['--zone', 'my zone', '{{Domain}}']],
    ['"" x', ['', 'x']],
    ['"say ""hi""" end', ['say "hi"', 'end']],
    ['C:\\scripts\\dns.ps1 -Record {{Record}}', ['C:\\scripts\\dns.ps1', '-Record', '{{Record}}']],
    ['a\\"b "c\\\\" d', ['a"b', 'c\\', 'd']],
    ['ab"c d"e', ['abc de']],
    ['', []],
  ])('%j → %j', (text, argv) => {
    expect(splitArguments(text)).toEqual(argv);
  });
});

describe('certeraEnvironment', () => {
  it('reads NAME=VALUE lines (LF or CRLF), trimmed, the value kept whole after the first =', () => {
    expect(certeraEnvironment('API_TOKEN = abc=def \r\nZONE=example.com\n\n')).toEqual({ API_TOKEN: 'abc=def', ZONE: 'example.com' });
    expect(certeraEnvironment(null)).toBeUndefined();
    expect(certeraEnvironment('  \n')).toBeUndefined();
  });

  it('refuses a line without =, which made Certera fail before the script ran', () => {
    expect(() => certeraEnvironment('ZONE=example.com\nTOKEN')).toThrow(/line 2 is not NAME=VALUE/);
  });
});
