import { describe, expect, it } from 'vitest';
import { certificateCreatedPage, certificateDetailPage, certificateLivePart, newCertificatePage, REVOCATION_REASONS, revocationReasonName, type CertificateDetail } from './certificates.ts';

const NOW = Date.UTC(2030, 0, 10);

function detail(over: Partial<CertificateDetail> = {}): CertificateDetail {
  return {
    olderOrders: null, caPause: null,
    name: 'www', domains: ['www.example.com'], status: 'valid', challenge: 'http-01', account: { name: 'default', staging: false },
    key: { name: 'www', type: 'ec-p256' }, servedKey: null, dnsProvider: null, preferredChain: null, profile: null, subject: null,
    serial: '0abc', notBefore: NOW - 86_400_000, notAfter: NOW + 89 * 86_400_000, renewAt: NOW + 59 * 86_400_000, nextAttemptAt: null,
    failureCount: 0, lastError: null, revokedAt: null, revocationReason: null, createdAt: NOW - 86_400_000, running: false, orders: [],
    ...over,
  };
}

describe('the created page', () => {
  it('lists the CNAME records acme-dns needs', () => {
    const out = certificateCreatedPage({
      csrfToken: 't', origin: 'https://ck.example', name: 'w', apiKeys: ['ckc_1', 'ckc_2'], key: { name: 'w', apiKeys: ['ckk_3', 'ckk_4'] },
      cnames: [{ name: '_acme-challenge.w.example.com', target: 'abc.auth.example.org' }],
    }).toString();
    expect(out).toContain('<tr><td data-label="Name"><code>_acme-challenge.w.example.com</code></td><td data-label="Type">CNAME</td><td data-label="Points to"><code>abc.auth.example.org</code></td></tr>');
    expect(out).toContain('value="ckk_4"');
  });
});

describe('the detail page', () => {
  it('offers Request now and Revoke for an issued certificate, and says when it renews', () => {
    const out = certificateLivePart(detail(), { csrfToken: 't', now: NOW }).toString();
    expect(out).toContain('Valid until 2030-04-09 00:00 UTC (in 89 days).');
    expect(out).toContain('2030-03-10 00:00 UTC (in 59 days)');
    expect(out).toContain('action="/certificates/www/issue"');
    expect(out).toContain('href="/certificates/www/revoke"');
  });

  it('offers no Revoke before issuance, and no actions at all once revoked', () => {
    const fresh = certificateLivePart(detail({ status: 'new', serial: null, notBefore: null, notAfter: null }), { csrfToken: 't', now: NOW }).toString();
    expect(fresh).toContain('Not obtained yet.');
    expect(fresh).not.toContain('/revoke');
    const revoked = certificateDetailPage({ csrfToken: 't', origin: 'o', now: NOW, cert: detail({ status: 'revoked', revokedAt: NOW, revocationReason: 1 }) }).toString();
    expect(revoked).toContain('Revoked on 2030-01-10 00:00 UTC (keyCompromise).');
    expect(revoked).not.toContain('/issue"');
    expect(revoked).not.toContain('/revoke"');
    expect(revoked).not.toContain('/edit"');
  });

  it('links older orders by their cursor, and says when the CA asked the account to wait', () => {
    const out = certificateLivePart(
      detail({ olderOrders: 'abc=', caPause: { account: 'le prod', until: NOW + 3_600_000, problem: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many' } } }),
      { csrfToken: 't', now: NOW },
    ).toString();
    expect(out).toContain('<a href="/certificates/www?orders=abc%3D#orders-heading">Older orders</a>');
    expect(out).toContain('New orders of the ACME account <a href="/accounts/le%20prod">le prod</a> are paused until 2030-01-10 01:00 UTC');
    expect(certificateLivePart(detail(), { csrfToken: 't', now: NOW }).toString()).not.toContain('paused');
  });

  it('asks for a key by name when there are too many keys to list', () => {
    const form = (keys: { value: string; label: string }[] | null) =>
      newCertificatePage({ csrfToken: 't', values: new URLSearchParams({ key: 'mine' }), errors: {}, accounts: [], keys, dnsProviders: [] }).toString();
    expect(form([{ value: 'mine', label: 'mine (EC P-256)' }])).toContain('<option value="mine" selected>');
    const named = form(null);
    expect(named).toMatch(/<input[^>]*name="key"[^>]*value="mine"/);
    expect(named).toContain('Existing key (its name)');
  });

  it('names revocation reasons as RFC 5280 §5.3.1 does, offering a subscriber only its own', () => {
    expect(REVOCATION_REASONS.map((r) => r.code)).toEqual([0, 1, 3, 4, 5]);
    expect([0, 2, 6, 8, 9, 10, null].map(revocationReasonName)).toEqual(['unspecified', 'cACompromise', 'certificateHold', 'removeFromCRL', 'privilegeWithdrawn', 'aACompromise', 'unspecified']);
  });
});
