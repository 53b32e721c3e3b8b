import { describe, expect, it } from 'vitest';
import { daysLeft, formatDate, formatTime, keyTypeLabel, problemInWords, problemSummary, relativeDays } from './format.ts';
import { downloadCommands, shownOnce } from './secrets.ts';

const DAY = 86_400_000;
const T = Date.UTC(2030, 4, 6, 7, 8, 9);

describe('times', () => {
  it('are shown in UTC to the minute, or as a dash', () => {
    expect(formatTime(T)).toBe('2030-05-06 07:08 UTC');
    expect(formatTime(new Date(T).toISOString())).toBe('2030-05-06 07:08 UTC');
    expect(formatTime(null)).toBe('—');
    expect(formatTime('not a date')).toBe('—');
    expect(formatDate(T)).toBe('2030-05-06');
  });

  it('count whole days left, and say them in words', () => {
    expect(daysLeft(T + 89.9 * DAY, T)).toBe(89);
    expect(relativeDays(T + 89.9 * DAY, T)).toBe('in 89 days');
    expect(relativeDays(T + 1.5 * DAY, T)).toBe('in 1 day');
    expect(relativeDays(T + 3_600_000, T)).toBe('today');
    expect(relativeDays(T - 2.5 * DAY, T)).toBe('3 days ago');
    expect(relativeDays(T - 0.5 * DAY, T)).toBe('1 day ago');
  });
});

describe('key types', () => {
  it('have their usual names', () => {
    expect(['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'other'].map(keyTypeLabel)).toEqual(['EC P-256', 'EC P-384', 'RSA 2048', 'RSA 3072', 'RSA 4096', 'other']);
  });
});

describe('problems in words', () => {
  it('explain RFC 8555 §6.7 types and Certkeep’s own, and fall back for others', () => {
    expect(problemSummary({ type: 'urn:ietf:params:acme:error:caa' })).toMatch(/CAA record/);
    expect(problemSummary({ type: 'urn:ietf:params:acme:error:rateLimited' })).toMatch(/rate limit/);
    expect(problemSummary({ type: 'urn:certkeep:problem:dns-provider-failed' })).toMatch(/DNS provider/);
    expect(problemSummary({ type: 'urn:example:something-new' })).toBe('The attempt failed.');
  });

  it('keep the CA’s detail and each subproblem, escaped', () => {
    const out = problemInWords({
      type: 'urn:ietf:params:acme:error:compound',
      detail: 'two <em>bad</em> names',
      subproblems: [
        { type: 'urn:ietf:params:acme:error:dns', detail: 'NXDOMAIN', identifier: { type: 'dns', value: 'a.example.com' } },
        { type: 'urn:ietf:params:acme:error:caa', detail: 'CAA forbids', identifier: { type: 'dns', value: 'b.example.com' } },
      ],
    }).toString();
    expect(out).toContain('The CA said: two &lt;em&gt;bad&lt;/em&gt; names');
    expect(out).toContain('<li><strong>a.example.com</strong>: The CA could not look the name up in DNS. NXDOMAIN</li>');
    expect(out).toContain('<li><strong>b.example.com</strong>: A CAA record');
    expect(out).toContain('<code>urn:ietf:params:acme:error:compound</code>');
    expect(problemInWords({ type: 'urn:certkeep:problem:acme-network', detail: 'ECONNREFUSED' }).toString()).toContain('Details: ECONNREFUSED');
    expect(problemInWords(null).toString()).toBe('');
  });
});

describe('shown-once API keys and curl commands', () => {
  it('put each key in a labelled read-only input and build commands for the origin', () => {
    const out = shownOnce({
      heading: 'Keys',
      keys: [{ label: 'Certificate API key 1', id: 'c1', value: 'ckc_abc' }],
      commands: downloadCommands({ origin: 'https://certkeep.example.com', certificate: { name: 'www', apiKey: 'ckc_abc' }, key: { name: 'www' } }),
    }).toString();
    expect(out).toContain('<label for="shown-c1">Certificate API key 1</label>');
    expect(out).toMatch(/<input type="text" id="shown-c1" name="shown-c1" value="ckc_abc" autocomplete="off" readonly/);
    expect(out).toContain('Copy this API key now: it is shown only this once.');
    expect(out).toContain('curl -s -H &quot;apikey: ckc_abc&quot; https://certkeep.example.com/api/certificate/www &gt; www.pem');
    expect(out).toContain('(umask 077; curl -s -H &quot;apikey: &lt;key API key&gt;&quot; https://certkeep.example.com/api/key/www &gt; www.key)');
  });
});
