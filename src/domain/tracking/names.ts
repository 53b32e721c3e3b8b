// Whether a certificate is valid for the host a tracked target names (RFC 6125 §6, with the
// stricter wildcard rule of its successor RFC 9525 §6.3):
//   - a DNS name is compared with the certificate's DNS-IDs (subjectAltName dNSName), without
//     regard to case or a trailing dot; the common name counts only when there is no DNS-ID at
//     all (RFC 6125 §6.4.4);
//   - a wildcard is only the whole left-most label (`*.example.com`), stands for exactly one
//     label (not `a.b.example.com`, not `example.com`) and needs at least two labels after it
//     (`*.com` matches nothing);
//   - an IP address is compared with the iPAddress entries only (§6.2.1), IPv6 in any spelling.
import ipaddr from 'ipaddr.js';
import { x509 } from '../../crypto/x509.ts';
import { bufferSource } from '../../crypto/bytes.ts';
import { literalAddress } from '../../net/targets.ts';

/** The names a certificate is issued for, by kind. */
export interface CertificateNames {
  dns: string[];
  ip: string[];
  /** The subject's common name, if any. */
  cn: string | null;
}

/** The DNS-IDs, IP addresses and common name of a DER certificate. */
export function certificateNames(der: Uint8Array): CertificateNames {
  const cert = new x509.X509Certificate(bufferSource(der));
  const items = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
  return {
    dns: items.filter((n) => n.type === 'dns').map((n) => n.value),
    ip: items.filter((n) => n.type === 'ip').map((n) => n.value),
    cn: cert.subjectName.getField('CN')[0] ?? null,
  };
}

const canonicalDns = (name: string) => name.trim().toLowerCase().replace(/\.$/, '');

function sameAddress(a: string, b: string): boolean {
  try {
    const x = ipaddr.parse(a);
    const y = ipaddr.parse(b);
    return x.kind() === y.kind() && x.toNormalizedString() === y.toNormalizedString();
  } catch {
    return false;
  }
}

/** Whether a presented identifier (a DNS-ID, possibly a wildcard) matches a DNS host name. */
export function dnsIdMatches(presented: string, host: string): boolean {
  const id = canonicalDns(presented);
  const name = canonicalDns(host);
  if (id === '' || name === '') return false;
  if (!id.startsWith('*.')) return id === name;
  const rest = id.slice(2);
  // Only the whole left-most label may be a wildcard, and no other label may hold one.
  if (rest.includes('*') || rest.split('.').length < 2) return false;
  const dot = name.indexOf('.');
  if (dot <= 0) return false;
  return name.slice(dot + 1) === rest;
}

/** Whether a certificate with these names is valid for `host` (a DNS name or an IP address). */
export function nameMatches(names: CertificateNames, host: string): boolean {
  const literal = literalAddress(host);
  if (literal !== undefined) return names.ip.some((ip) => sameAddress(ip, literal));
  if (names.dns.length > 0) return names.dns.some((id) => dnsIdMatches(id, host));
  return names.cn !== null && names.ip.length === 0 && dnsIdMatches(names.cn, host);
}

/**
 * Whether the certificate issued for `names` (a Certkeep certificate's domains) covers `host`:
 * used to find the tracked servers that should present it.
 */
export function coveredBy(domains: readonly string[], host: string): boolean {
  return domains.some((d) => dnsIdMatches(d, host));
}
