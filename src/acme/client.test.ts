// AcmeClient flow details that need a CA to answer in a particular way at a particular moment
// (Retry-After on a poll, an order that turns invalid, a slow CA): a small in-process CA stub.
// The full flows run against Pebble in test/acme-client.pebble.test.ts.

import { describe, expect, it } from 'vitest';
import { testOutbound } from '../../test/harness/outbound.ts';
import { AcmeClient } from './client.ts';
import { AcmeOrderInvalidError, AcmeProblemError } from './errors.ts';

const BASE = 'https://ca.test';
const DIRECTORY = {
  newNonce: `${BASE}/nonce`,
  newAccount: `${BASE}/new-acct`,
  newOrder: `${BASE}/new-order`,
  revokeCert: `${BASE}/revoke`,
  keyChange: `${BASE}/key-change`,
};

type Route = (payload: unknown, header: Record<string, unknown>) => Response;

function json(body: unknown, init: { status?: number; headers?: Record<string, string> } = {}): Response {
  return new Response(JSON.stringify(body), {
    status: init.status ?? 200,
    headers: { 'content-type': 'application/json', 'replay-nonce': `n${Math.random().toString(36).slice(2)}`, ...init.headers },
  });
}

/** A CA whose POST routes answer in turn from a list (the last answer repeats). */
function stubCa(routes: Record<string, Route[]>) {
  const log: Array<{ url: string; header: Record<string, unknown>; payload: unknown }> = [];
  const fetchStub = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    if (url === `${BASE}/dir`) return json(DIRECTORY);
    if (init?.method === 'HEAD') return new Response(null, { headers: { 'replay-nonce': 'head' } });
    const jws = JSON.parse(String(init?.body));
    const header = JSON.parse(Buffer.from(jws.protected, 'base64url').toString());
    const raw = Buffer.from(jws.payload, 'base64url').toString();
    const payload = raw ? JSON.parse(raw) : '';
    log.push({ url, header, payload });
    const answers = routes[url];
    if (!answers) return json({ type: 'urn:ietf:params:acme:error:malformed' }, { status: 404 });
    const answer = answers.length > 1 ? answers.shift()! : answers[0];
    return answer(payload, header);
  };
  return { fetch: fetchStub as typeof fetch, log };
}

async function makeClient(routes: Record<string, Route[]>, opts: { accountUrl?: string; now?: () => number } = {}) {
  const ca = stubCa(routes);
  const sleeps: number[] = [];
  const accountKey = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])) as CryptoKeyPair;
  const acme = new AcmeClient({
    directoryUrl: `${BASE}/dir`,
    accountKey,
    accountUrl: 'accountUrl' in opts ? opts.accountUrl : `${BASE}/acct/1`,
    outbound: testOutbound(ca.fetch),
    sleep: async (ms) => void sleeps.push(ms),
    now: opts.now ?? (() => 0),
  });
  return { acme, ca, sleeps };
}

const ORDER_URL = `${BASE}/order/1`;
const AUTHZ_URL = `${BASE}/authz/1`;
const order = (status: string, extra: Record<string, unknown> = {}) => ({
  status,
  identifiers: [{ type: 'dns', value: 'a.example.com' }],
  authorizations: [AUTHZ_URL],
  finalize: `${BASE}/finalize/1`,
  ...extra,
});

describe('polling', () => {
  it('polls fast at first and doubles the delay (25, 50, 100 ms …) when the CA names no Retry-After', async () => {
    const { acme, sleeps } = await makeClient({
      [ORDER_URL]: [() => json(order('pending')), () => json(order('pending')), () => json(order('pending')), () => json(order('ready'))],
    });
    await expect(acme.waitForOrder(ORDER_URL, ['ready'])).resolves.toMatchObject({ status: 'ready' });
    expect(sleeps).toEqual([25, 50, 100]);
  });

  it('honours the Retry-After of a processing order', async () => {
    const { acme, sleeps } = await makeClient({
      [ORDER_URL]: [
        () => json(order('processing'), { headers: { 'retry-after': '3' } }),
        () => json(order('valid', { certificate: `${BASE}/cert/1` })),
      ],
    });
    await expect(acme.waitForOrder(ORDER_URL, ['valid'])).resolves.toMatchObject({ status: 'valid' });
    expect(sleeps).toEqual([3_000]);
  });

  it('treats valid as past ready', async () => {
    const { acme } = await makeClient({ [ORDER_URL]: [() => json(order('valid'))] });
    await expect(acme.waitForOrder(ORDER_URL, ['ready'])).resolves.toMatchObject({ status: 'valid' });
  });

  it('gives up at the deadline with ACME_TIMEOUT', async () => {
    const { acme, sleeps } = await makeClient({ [ORDER_URL]: [() => json(order('processing'))] });
    await expect(acme.waitForOrder(ORDER_URL, ['valid'], { timeoutMs: 1_000 })).rejects.toMatchObject({
      code: 'ACME_TIMEOUT',
      details: { url: ORDER_URL, lastStatus: 'processing' },
    });
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(1_000);
  });

  it('does not poll before a Retry-After that reaches past the deadline', async () => {
    const { acme, sleeps } = await makeClient({
      [ORDER_URL]: [() => json(order('processing'), { headers: { 'retry-after': '120' } })],
    });
    await expect(acme.waitForOrder(ORDER_URL, ['valid'], { timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'ACME_TIMEOUT' });
    expect(sleeps).toEqual([]);
  });
});

describe('failures keep the CA\'s problem documents', () => {
  const challengeError = {
    type: 'urn:ietf:params:acme:error:unauthorized',
    detail: 'Invalid response from http://a.example.com/.well-known/acme-challenge/tok: 404',
    status: 403,
  };
  const invalidAuthz = {
    status: 'invalid',
    identifier: { type: 'dns', value: 'a.example.com' },
    challenges: [
      { type: 'dns-01', url: `${BASE}/chall/2`, status: 'pending', token: 'tok' },
      { type: 'http-01', url: `${BASE}/chall/1`, status: 'invalid', token: 'tok', error: challengeError },
    ],
  };

  it('waitForAuthorization throws the failed challenge\'s problem with its identifier', async () => {
    const { acme } = await makeClient({ [AUTHZ_URL]: [() => json({ ...invalidAuthz, status: 'pending' }), () => json(invalidAuthz)] });
    const err = await acme.waitForAuthorization(AUTHZ_URL).catch((e) => e);
    expect(err).toBeInstanceOf(AcmeProblemError);
    expect(err.code).toBe('ACME_PROBLEM');
    expect(err.problem).toEqual({ ...challengeError, identifier: { type: 'dns', value: 'a.example.com' } });
  });

  it('waitForOrder throws ACME_ORDER_INVALID carrying the order error and the authorization problems', async () => {
    const orderError = { type: 'urn:ietf:params:acme:error:unauthorized', detail: 'authorizations failed', status: 403 };
    const { acme } = await makeClient({
      [ORDER_URL]: [() => json(order('invalid', { error: orderError }))],
      [AUTHZ_URL]: [() => json(invalidAuthz)],
    });
    const err = await acme.waitForOrder(ORDER_URL, ['ready']).catch((e) => e);
    expect(err).toBeInstanceOf(AcmeOrderInvalidError);
    expect(err.code).toBe('ACME_ORDER_INVALID');
    expect(err.problem).toEqual(orderError);
    expect(err.authorizationProblems).toEqual([{ ...challengeError, identifier: { type: 'dns', value: 'a.example.com' } }]);
  });
});

describe('account URL', () => {
  it('is looked up once with onlyReturnExisting when unknown, even for concurrent requests', async () => {
    const { acme, ca } = await makeClient(
      {
        [`${BASE}/new-acct`]: [() => json({ status: 'valid' }, { headers: { location: `${BASE}/acct/9` } })],
        [ORDER_URL]: [() => json(order('pending'))],
      },
      { accountUrl: undefined },
    );
    await Promise.all([acme.getOrder(ORDER_URL), acme.getOrder(ORDER_URL)]);
    expect(acme.accountUrl).toBe(`${BASE}/acct/9`);
    const lookups = ca.log.filter((r) => r.url === `${BASE}/new-acct`);
    expect(lookups).toHaveLength(1);
    expect(lookups[0].payload).toEqual({ onlyReturnExisting: true });
    expect(lookups[0].header.jwk).toBeDefined();
    expect(ca.log.filter((r) => r.url === ORDER_URL).map((r) => r.header.kid)).toEqual([`${BASE}/acct/9`, `${BASE}/acct/9`]);
  });

  it('refuses an account key it cannot sign with at construction', async () => {
    const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-521' }, false, ['sign'])) as CryptoKeyPair;
    expect(() => new AcmeClient({ directoryUrl: `${BASE}/dir`, accountKey: keys, outbound: testOutbound() })).toThrow(
      expect.objectContaining({ code: 'KEY_UNSUPPORTED' }),
    );
  });
});
