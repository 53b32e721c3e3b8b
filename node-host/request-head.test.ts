import { describe, expect, it } from 'vitest';
import { MAX_HEAD_BYTES, readReplayableHead } from './request-head.ts';

const GET = 'GET /api/certificate/www HTTP/1.1\r\nHost: certs.example:8080\r\napikey: cka_one\r\n\r\n';

describe('readReplayableHead', () => {
  it('reads target, Host, apikey and If-None-Match, and where the next request starts', () => {
    const text = `GET /api/certificate/www?chain=false HTTP/1.1\r\nHost: h\r\nUser-Agent: curl/8\r\napikey: k\r\nIf-None-Match: "t"\r\n\r\nGET /next`;
    const head = readReplayableHead(text, 0);
    expect(head).toEqual({ target: '/api/certificate/www?chain=false', host: 'h', apiKey: 'k', ifNoneMatch: '"t"', end: text.indexOf('GET /next') });
  });

  it('reads a head that starts further on, and leaves absent fields undefined', () => {
    const text = `${GET}GET / HTTP/1.1\r\nHost: h\r\n\r\n`;
    expect(readReplayableHead(text, GET.length)).toEqual({ target: '/', host: 'h', apiKey: undefined, ifNoneMatch: undefined, end: text.length });
  });

  it('matches header names in any case and drops the blanks around values, as node:http does', () => {
    const head = readReplayableHead('GET / HTTP/1.1\r\nHOST:h\r\nApiKey: \t k  1 \t\r\nIF-NONE-MATCH:\t"a", "b"\r\n\r\n', 0);
    expect(head).toMatchObject({ host: 'h', apiKey: 'k  1', ifNoneMatch: '"a", "b"' });
  });

  it('takes one Connection: keep-alive, which HTTP/1.1 means anyway', () => {
    expect(readReplayableHead(GET.replace('\r\n\r\n', '\r\nConnection: Keep-Alive\r\n\r\n'), 0)).toMatchObject({ apiKey: 'cka_one' });
  });

  it('keeps an empty value empty', () => {
    expect(readReplayableHead('GET / HTTP/1.1\r\nHost: h\r\napikey:\r\n\r\n', 0)).toMatchObject({ apiKey: '' });
  });

  it.each([
    ['an incomplete head', GET.slice(0, -2)],
    ['another method', GET.replace('GET', 'HEAD')],
    ['a lower-case method', GET.replace('GET', 'get')],
    ['HTTP/1.0', GET.replace('HTTP/1.1', 'HTTP/1.0')],
    ['HTTP/2 in the request line', GET.replace('HTTP/1.1', 'HTTP/2.0')],
    ['an absolute-form target', GET.replace('/api', 'http://other/api')],
    ['the asterisk target', GET.replace('/api/certificate/www', '*')],
    ['a fragment in the target', GET.replace('www', 'www#x')],
    ['a backslash in the target', GET.replace('www', 'w\\w')],
    ['a non-ASCII byte in the target', GET.replace('www', 'w\xe9w')],
    ['two spaces in the request line', GET.replace('GET /', 'GET  /')],
    ['a blank line before the request', `\r\n${GET}`],
    ['no Host', 'GET / HTTP/1.1\r\napikey: k\r\n\r\n'],
    ['an empty Host', 'GET / HTTP/1.1\r\nHost: \r\n\r\n'],
    ['two Host headers', GET.replace('apikey', 'Host: other\r\napikey')],
    ['two apikey headers', GET.replace('\r\n\r\n', '\r\napikey: two\r\n\r\n')],
    ['two If-None-Match headers', GET.replace('\r\n\r\n', '\r\nIf-None-Match: a\r\nif-none-match: b\r\n\r\n')],
    ['Content-Length', GET.replace('\r\n\r\n', '\r\nContent-Length: 0\r\n\r\n')],
    ['Transfer-Encoding', GET.replace('\r\n\r\n', '\r\nTransfer-Encoding: chunked\r\n\r\n')],
    ['Connection: close', GET.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')],
    ['Connection: keep-alive, Upgrade', GET.replace('\r\n\r\n', '\r\nConnection: keep-alive, Upgrade\r\n\r\n')],
    ['two Connection headers', GET.replace('\r\n\r\n', '\r\nConnection: keep-alive\r\nConnection: keep-alive\r\n\r\n')],
    ['Keep-Alive', GET.replace('\r\n\r\n', '\r\nKeep-Alive: timeout=5\r\n\r\n')],
    ['Upgrade', GET.replace('\r\n\r\n', '\r\nUpgrade: h2c\r\n\r\n')],
    ['Expect', GET.replace('\r\n\r\n', '\r\nExpect: 100-continue\r\n\r\n')],
    ['X-Forwarded-For', GET.replace('\r\n\r\n', '\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n')],
    ['X-Forwarded-Proto', GET.replace('\r\n\r\n', '\r\nx-forwarded-proto: https\r\n\r\n')],
    ['Forwarded', GET.replace('\r\n\r\n', '\r\nForwarded: for=192.0.2.1\r\n\r\n')],
    ['a space before the colon', GET.replace('apikey:', 'apikey :')],
    ['a folded header line', GET.replace('\r\n\r\n', '\r\nX-A: a\r\n b\r\n\r\n')],
    ['a bare line feed', GET.replace('\r\napikey', '\napikey')],
    ['a control character in a value', GET.replace('cka_one', 'cka\x01one')],
    ['a byte above 0x7e in a value', GET.replace('cka_one', 'cka\xffone')],
    ['a separator in a header name', GET.replace('apikey', 'api/key')],
    ['a line without a colon', GET.replace('\r\n\r\n', '\r\nnonsense\r\n\r\n')],
  ])('refuses %s', (_label, text) => {
    expect(readReplayableHead(text, 0)).toBeUndefined();
  });

  it('refuses heads longer than MAX_HEAD_BYTES and too many header lines', () => {
    const long = GET.replace('\r\n\r\n', `\r\nX-Pad: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`);
    expect(readReplayableHead(long, 0)).toBeUndefined();
    const many = GET.replace('\r\n\r\n', `\r\n${'X-A: 1\r\n'.repeat(70)}\r\n`);
    expect(readReplayableHead(many, 0)).toBeUndefined();
    const some = GET.replace('\r\n\r\n', `\r\n${'X-A: 1\r\n'.repeat(20)}\r\n`);
    expect(readReplayableHead(some, 0)).toMatchObject({ apiKey: 'cka_one' });
  });
});
