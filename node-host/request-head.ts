// A deliberately narrow reader of HTTP/1.1 request heads, for the replay lane (replay-lane.ts):
// it recognises one shape only — `GET <origin-form target> HTTP/1.1`, well-formed header lines,
// exactly one Host, at most one apikey and one If-None-Match, and nothing that changes how the
// message is framed, whether the connection stays open, or who the client is — and says "not
// mine" to everything else, which then
// goes to node:http untouched. It is stricter than llhttp everywhere, so any head it reads is
// one node:http reads the same way: the same request target (raw, as req.url), and the same
// header values (with the surrounding blanks removed, as llhttp removes them).
//
// The text is the socket's bytes decoded as latin1, one character per byte, as node:http
// decodes heads; only printable ASCII is accepted anyway.

/** The fields of a request head that its answer may depend on (see ReplayCache.keyOf). */
export interface ReplayableHead {
  /** The request target as sent (origin-form: starts with "/"). */
  target: string;
  host: string;
  apiKey: string | undefined;
  ifNoneMatch: string | undefined;
  /** Offset just past the blank line that ends the head: where the next request starts. */
  end: number;
}

/** Heads longer than this are left to node:http (whose own limit is 16 KiB). */
export const MAX_HEAD_BYTES = 8 * 1024;
const MAX_HEADER_LINES = 64;

// The request target: path and query characters of RFC 3986 only (no "#", no quotes, no
// backslash or other characters some parsers accept and others refuse).
const REQUEST_LINE = /GET (\/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*) HTTP\/1\.1\r\n/y;
// field-name ":" OWS field-value OWS CRLF (RFC 9112 §5), the value in printable ASCII; no
// space before the colon, no line folding, no control characters, no bytes above 0x7e.
const HEADER_LINE = /([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[\t ]*((?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?)[\t ]*\r\n/y;

/**
 * Headers whose presence sends the request to node:http: framing and connection management
 * (a body, a protocol switch, an expectation), and the forwarding headers from which the
 * adapter may take another client address or scheme. Connection is read apart: only a single
 * `keep-alive` (what HTTP/1.1 means anyway, and what many clients send) stays in the lane.
 */
const REFUSED = new Set(['content-length', 'transfer-encoding', 'upgrade', 'expect', 'te', 'trailer', 'keep-alive', 'proxy-connection', 'forwarded']);

/**
 * Reads the request head starting at `start` of `text`. Undefined when it is not a complete
 * head of the one shape this reader knows (incomplete, longer than MAX_HEAD_BYTES, another
 * method or version, anything unusual): the caller then leaves the bytes to node:http.
 */
export function readReplayableHead(text: string, start: number): ReplayableHead | undefined {
  const blank = text.indexOf('\r\n\r\n', start);
  if (blank < 0 || blank + 4 - start > MAX_HEAD_BYTES) return undefined;
  const end = blank + 4;

  REQUEST_LINE.lastIndex = start;
  const line = REQUEST_LINE.exec(text);
  if (line === null) return undefined;
  const target = line[1];

  let host: string | undefined;
  let apiKey: string | undefined;
  let ifNoneMatch: string | undefined;
  let keepAlive = false;
  let at = REQUEST_LINE.lastIndex;
  for (let count = 0; at < blank + 2; count++) {
    if (count === MAX_HEADER_LINES) return undefined;
    HEADER_LINE.lastIndex = at;
    const header = HEADER_LINE.exec(text);
    // A line that does not match (or runs past the blank line, which the value pattern cannot
    // do since it holds no CR) ends the reading.
    if (header === null || HEADER_LINE.lastIndex > blank + 2) return undefined;
    at = HEADER_LINE.lastIndex;
    const name = header[1].toLowerCase();
    const value = header[2];
    if (name === 'host') {
      if (host !== undefined) return undefined;
      host = value;
    } else if (name === 'apikey') {
      if (apiKey !== undefined) return undefined;
      apiKey = value;
    } else if (name === 'if-none-match') {
      if (ifNoneMatch !== undefined) return undefined;
      ifNoneMatch = value;
    } else if (name === 'connection') {
      if (keepAlive || value.toLowerCase() !== 'keep-alive') return undefined;
      keepAlive = true;
    } else if (REFUSED.has(name) || name.startsWith('x-forwarded-')) {
      return undefined;
    }
  }
  // HTTP/1.1 requires Host (node:http answers 400 without one); an empty one names nothing.
  if (host === undefined || host === '') return undefined;
  return { target, host, apiKey, ifNoneMatch, end };
}
