import { describe, expect, it } from 'vitest';
import { certificateCreatedPage, certificateDetailPage, certificateLivePart, REVOCATION_REASONS, revocationReasonName, type CertificateDetail } from './certificates.ts';

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
      csrfToken: 't', origin: 'https://ck.example', name: 'w', apiKeys: ['cka_1', 'cka_2'], key: { name: 'w', apiKeys: ['cka_3', 'cka_4'] },
      cnames: [{ name: '_acme-challenge.w.example.com', target: 'abc.auth.example.org' }],
    }).toString();
    expect(out).toContain('<tr><td><code>_acme-challenge.w.example.com</code></td><td>CNAME</td><td><code>abc.auth.example.org</code></td></tr>');
    expect(out).toContain('value="cka_4"');
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

  it('names revocation reasons as RFC 5280 §5.3.1 does, offering a subscriber only its own', () => {
    expect(REVOCATION_REASONS.map((r) => r.code)).toEqual([0, 1, 3, 4, 5]);
    expect([0, 2, 6, 8, 9, 10, null].map(revocationReasonName)).toEqual(['unspecified', 'cACompromise', 'certificateHold', 'removeFromCRL', 'privilegeWithdrawn', 'aACompromise', 'unspecified']);
  });
});
