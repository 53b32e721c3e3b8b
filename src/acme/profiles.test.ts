// Certificate profiles (draft-ietf-acme-profiles). Pebble 2.4.0 has none (they arrived in
// Pebble 2.7), so the client is tested against recorded Let's Encrypt responses.

import { describe, expect, it } from 'vitest';
import { testOutbound } from '../../test/harness/outbound.ts';
import { loadRecorded, replayFetch, type RecordedExchange } from '../../test/fixtures/acme/replay.ts';
import { AcmeClient } from './client.ts';

const IDENTIFIERS = [
  { type: 'dns', value: 'example.org' },
  { type: 'dns', value: 'www.example.org' },
];

async function client(exchanges: RecordedExchange[]) {
  const ca = replayFetch(exchanges);
  const accountKey = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign'])) as CryptoKeyPair;
  const acme = new AcmeClient({
    directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
    accountKey,
    accountUrl: 'https://acme-v02.api.letsencrypt.org/acme/acct/2170312345',
    outbound: testOutbound(ca.fetch),
  });
  return { acme, requests: ca.requests };
}

const recordedOrder = () => [
  loadRecorded('letsencrypt/directory'),
  loadRecorded('letsencrypt/new-nonce'),
  loadRecorded('letsencrypt/new-order-profile'),
];

describe('profiles against recorded Let\'s Encrypt responses (Pebble 2.4.0 has no profiles)', () => {
  it('sends an advertised profile in newOrder and returns the order that echoes it', async () => {
    const { acme, requests } = await client(recordedOrder());
    const { url, order } = await acme.newOrder({ identifiers: IDENTIFIERS, profile: 'shortlived' });
    expect(url).toBe('https://acme-v02.api.letsencrypt.org/acme/order/2170312345/381902113784');
    expect(order.profile).toBe('shortlived');
    expect(order.authorizations).toHaveLength(2);
    const post = requests.find((r) => r.method === 'POST')!;
    expect(post.jws?.payload).toEqual({ identifiers: IDENTIFIERS, profile: 'shortlived' });
    expect(post.jws?.header.nonce).toBe('AcT2cHb7hx0wAC6oz9eBBGqRLyIZGu0pSHf5bHBKTxKHQz8pyyKFOGCfhiwVxqbBaxw');
  });

  it('refuses a profile the directory does not list before sending anything', async () => {
    const { acme, requests } = await client(recordedOrder());
    await expect(acme.newOrder({ identifiers: IDENTIFIERS, profile: 'veryshort' })).rejects.toMatchObject({
      code: 'ACME_UNSUPPORTED',
      details: { profile: 'veryshort', available: ['classic', 'shortlived', 'tlsserver'] },
    });
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET https://acme-v02.api.letsencrypt.org/directory']);
  });

  it('refuses any profile when the CA advertises none', async () => {
    const dir = loadRecorded('letsencrypt/directory');
    delete (dir.response.body as any).meta.profiles;
    const { acme, requests } = await client([dir]);
    await expect(acme.newOrder({ identifiers: IDENTIFIERS, profile: 'classic' })).rejects.toMatchObject({ code: 'ACME_UNSUPPORTED' });
    expect(requests).toHaveLength(1);
  });

  it('fetches the directory once per client', async () => {
    const { acme, requests } = await client(recordedOrder());
    await Promise.all([acme.directory(), acme.directory()]);
    await acme.newOrder({ identifiers: IDENTIFIERS, profile: 'classic' });
    expect(requests.filter((r) => r.url.endsWith('/directory'))).toHaveLength(1);
  });
});
