// Choosing among a certificate's chains (RFC 8555 §7.4.2 alternates) the way certbot's
// --preferred-chain does: by the issuer common name of the topmost certificate of each chain,
// so "ISRG Root X1" picks the chain that ends just below (or at) that root.

import { x509 } from '../crypto/x509.ts';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Topmost certificates whose issuer CN is known: a CA sends the same few with every certificate. */
const ISSUER_CN_CACHE_SIZE = 16;
const issuerCnCache = new Map<string, string | undefined>();

/** The issuer CN of the last certificate of a PEM chain, or undefined when it has none. */
export function chainIssuer(pem: string): string | undefined {
  const blocks = pem.match(PEM_BLOCK);
  const topmost = blocks?.[blocks.length - 1];
  if (!topmost) return undefined;
  if (issuerCnCache.has(topmost)) {
    const known = issuerCnCache.get(topmost);
    // The least recently used goes first when the cache is full.
    issuerCnCache.delete(topmost);
    issuerCnCache.set(topmost, known);
    return known;
  }
  let cn: string | undefined;
  try {
    cn = new x509.X509Certificate(topmost).issuerName.getField('CN')[0];
  } catch {
    cn = undefined;
  }
  issuerCnCache.set(topmost, cn);
  if (issuerCnCache.size > ISSUER_CN_CACHE_SIZE) issuerCnCache.delete(issuerCnCache.keys().next().value!);
  return cn;
}

/** Index of the first chain whose topmost issuer CN is `preferred`; -1 when none is. */
export function findPreferredChain(chains: string[], preferred: string): number {
  const wanted = preferred.trim();
  return chains.findIndex((pem) => chainIssuer(pem) === wanted);
}
