// Transport edge cases against a tiny in-process fetch stub: the behaviours here (a badNonce
// at a chosen moment, Retry-After in both forms, a CA that keeps answering 429) cannot be
// provoked on demand from Pebble. The happy path runs against Pebble in test/.

import { describe, expect, it } from 'vitest';
import { testOutbound } from '../../test/harness/outbound.ts';
import { AcmeProblemError } from './errors.ts';
import { jwkSigner } from './jws.ts';
import { AcmeTransport, type TransportOptions } from './transport.ts';

const NEW_NONCE = 'https://ca.test/acme/new-nonce';
const URL_A = 'https://ca.test/acme/order/1';

interface Seen {
  method: string;
  url: string;
  headers: Headers;
  nonce?: string;
}

type Handler = (req: Seen, index: number) => Response | Promise<Response>;

/** A CA stub: HEAD newNonce answers nonce-N; every other request goes to `handler`. */
function stub(handler: Handler) {
  const seen: Seen[] = [];
  let nonces = 0;
  let calls = 0;
  const fetchStub = async (input: RequestInfo | URL, init?: RequestInit) => {
    const req: Seen = { method: init?.method ?? 'GET', url: String(input), headers: new Headers(init?.headers) };
    if (typeof init?.body === 'string') {
      const jws = JSON.parse(init.body);
      req.nonce = JSON.parse(Buffer.from(jws.protected, 'base64url').toString()).nonce;
    }
    seen.push(req);
    if (req.method === 'HEAD' && req.url === NEW_NONCE) {
      return new Response(null, { status: 200, headers: { 'replay-nonce': `head-${++nonces}` } });
    }
    return handler(req, calls++);
  };
  return { fetch: fetchStub as typeof fetch, seen, posts: () => seen.filter((r) => r.method === 'POST') };
}

function problem(status: number, body: Record<string, unknown> | null, headers: Record<string, string> = {}): Response {
  return new Response(body && JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  });
}

function ok(body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json', ...headers } });
}

async function setup(handler: Handler, opts: Partial<TransportOptions> = {}) {
  const ca = stub(handler);
  const sleeps: number[] = [];
  const transport = new AcmeTransport(
    {
      outbound: testOutbound(ca.fetch),
      sleep: async (ms) => void sleeps.push(ms),
      now: () => Date.parse('2025-06-01T12:00:00Z'),
      maxRetries: 3,
      maxBadNonceRetries: 3,
      maxRetryAfterMs: 60_000,
      userAgent: 'certkeep-test',
      requestTimeoutMs: 5_000,
      maxBodyBytes: 1024 * 1024,
      ...opts,
    },
    async () => NEW_NONCE,
  );
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])) as CryptoKeyPair;
  return { ca, sleeps, transport, signer: jwkSigner(keys) };
}

const badNonce = (nonce: string) =>
  problem(400, { type: 'urn:ietf:params:acme:error:badNonce', detail: 'JWS has an invalid anti-replay nonce' }, { 'replay-nonce': nonce });

describe('AcmeTransport: signed requests and nonces', () => {
  it('sends application/jose+json with a User-Agent, and reuses the Replay-Nonce of the last answer', async () => {
    const { ca, transport, signer } = await setup((_, i) => ok({ status: 'pending' }, { 'replay-nonce': `resp-${i}` }));
    await transport.post(URL_A, undefined, signer);
    await transport.post(URL_A, { a: 1 }, signer);
    const posts = ca.posts();
    expect(posts[0].headers.get('content-type')).toBe('application/jose+json');
    expect(posts[0].headers.get('user-agent')).toBe('certkeep-test');
    expect(posts.map((p) => p.nonce)).toEqual(['head-1', 'resp-0']);
    expect(ca.seen.filter((r) => r.method === 'HEAD')).toHaveLength(1);
  });

  it('retries badNonce with the nonce the error response carried', async () => {
    const { ca, transport, signer } = await setup((_, i) => (i < 2 ? badNonce(`from-error-${i}`) : ok({ done: true })));
    const res = await transport.post<{ done: boolean }>(URL_A, {}, signer);
    expect(res.body).toEqual({ done: true });
    expect(ca.posts().map((p) => p.nonce)).toEqual(['head-1', 'from-error-0', 'from-error-1']);
    expect(ca.seen.filter((r) => r.method === 'HEAD')).toHaveLength(1);
  });

  it('gives up on badNonce after maxBadNonceRetries with the problem kept whole', async () => {
    const { ca, transport, signer } = await setup(() => badNonce('again'), { maxBadNonceRetries: 2 });
    const err = await transport.post(URL_A, {}, signer).catch((e) => e);
    expect(err).toBeInstanceOf(AcmeProblemError);
    expect(err.code).toBe('ACME_PROBLEM');
    expect(err.is('badNonce')).toBe(true);
    expect(err.problem).toEqual({ type: 'urn:ietf:params:acme:error:badNonce', detail: 'JWS has an invalid anti-replay nonce', status: 400 });
    expect(ca.posts()).toHaveLength(3);
  });
});

describe('AcmeTransport: 429 / 503 and Retry-After', () => {
  const rateLimited = {
    type: 'urn:ietf:params:acme:error:rateLimited',
    detail: 'too many new orders recently',
    status: 429,
  };

  it('sleeps a delta-seconds Retry-After, then succeeds', async () => {
    const { sleeps, transport, signer } = await setup((_, i) =>
      i === 0 ? problem(429, rateLimited, { 'retry-after': '2' }) : ok({ fine: 1 }),
    );
    await expect(transport.post(URL_A, {}, signer)).resolves.toMatchObject({ body: { fine: 1 } });
    expect(sleeps).toEqual([2_000]);
  });

  it('sleeps until an HTTP-date Retry-After on a 503, then succeeds', async () => {
    const { sleeps, transport } = await setup((_, i) =>
      i === 0 ? problem(503, null, { 'retry-after': 'Sun, 01 Jun 2025 12:00:07 GMT' }) : ok({ up: true }),
    );
    await expect(transport.get(URL_A)).resolves.toMatchObject({ body: { up: true } });
    expect(sleeps).toEqual([7_000]);
  });

  it('429 that never stops: bounded retries, then a typed error with the problem and retryAfterMs', async () => {
    const { ca, sleeps, transport, signer } = await setup(() => problem(429, rateLimited, { 'retry-after': '1' }), { maxRetries: 2 });
    const err = await transport.post(URL_A, {}, signer).catch((e) => e);
    expect(err).toBeInstanceOf(AcmeProblemError);
    expect(err.code).toBe('ACME_PROBLEM');
    expect(err.status).toBe(429);
    expect(err.problem).toEqual(rateLimited);
    expect(err.retryAfterMs).toBe(1_000);
    expect(sleeps).toEqual([1_000, 1_000]);
    expect(ca.posts()).toHaveLength(3);
  });

  it('does not sleep through a Retry-After beyond the cap: it surfaces at once with retryAfterMs', async () => {
    const { ca, sleeps, transport, signer } = await setup(() => problem(429, rateLimited, { 'retry-after': '3600' }));
    const err = await transport.post(URL_A, {}, signer).catch((e) => e);
    expect(err.code).toBe('ACME_PROBLEM');
    expect(err.retryAfterMs).toBe(3_600_000);
    expect(sleeps).toEqual([]);
    expect(ca.posts()).toHaveLength(1);
  });

  it('backs off 1 s, 2 s, … on a 503 without Retry-After; a body that is no problem becomes about:blank', async () => {
    const { sleeps, transport } = await setup(() => new Response('<html>down</html>', { status: 503, statusText: 'Service Unavailable' }), {
      maxRetries: 2,
    });
    const err = await transport.get(URL_A).catch((e) => e);
    expect(sleeps).toEqual([1_000, 2_000]);
    expect(err.code).toBe('ACME_PROBLEM');
    expect(err.problem).toEqual({ type: 'about:blank', status: 503, title: 'Service Unavailable' });
  });
});

describe('AcmeTransport: errors', () => {
  it('keeps subproblems and identifiers of a compound problem', async () => {
    const doc = {
      type: 'urn:ietf:params:acme:error:rejectedIdentifier',
      detail: 'Error creating new order :: Cannot issue for 2 identifiers',
      status: 400,
      subproblems: [
        { type: 'urn:ietf:params:acme:error:malformed', detail: 'Invalid underscore', identifier: { type: 'dns', value: '_x.example.org' } },
        { type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'blocked', identifier: { type: 'dns', value: 'example.net' } },
      ],
    };
    const { transport, signer } = await setup(() => problem(400, doc));
    const err = await transport.post(URL_A, {}, signer).catch((e) => e);
    expect(err.problem).toEqual(doc);
    expect(err.details.problem).toEqual(doc);
  });

  it('turns a refused connection into ACME_NETWORK', async () => {
    const { transport } = await setup(() => {
      throw new TypeError('fetch failed');
    });
    await expect(transport.get(URL_A)).rejects.toMatchObject({ code: 'ACME_NETWORK', details: { url: URL_A } });
  });

  it('turns a 200 that is not JSON into ACME_BAD_RESPONSE', async () => {
    const { transport } = await setup(() => new Response('<html>', { status: 200 }));
    await expect(transport.get(URL_A)).rejects.toMatchObject({ code: 'ACME_BAD_RESPONSE' });
  });

  it('refuses a newNonce answer without Replay-Nonce', async () => {
    const { transport } = await setup(() => new Response(null, { status: 200 }));
    await expect(transport.newNonce('https://ca.test/other-nonce')).rejects.toMatchObject({ code: 'ACME_BAD_RESPONSE' });
  });
});
