// What the core asks of a host that can open raw TLS connections (the node host: node-host/
// tls-scan.ts), and what it gets back. The Worker has no such capability: there, tracked URLs
// cannot be scanned (README "Tracking").

export type StartTls = 'smtp' | 'imap' | 'pop3';

export interface TlsScanRequest {
  /** A DNS name (sent as SNI) or an IP address (no SNI), without brackets. */
  host: string;
  port: number;
  /** Upgrade a plain connection with the protocol's STARTTLS command first. */
  starttls?: StartTls;
  /**
   * Trusted beside the system's roots (and NODE_EXTRA_CA_CERTS): Certkeep's own CAs, PEM. A chain
   * that ends at one of them verifies even when that certificate is not self-signed.
   */
  trustAnchors: readonly string[];
  /** Connecting, STARTTLS and the handshake together must end within this. */
  timeoutMs: number;
}

export interface TlsScanResult {
  /** DER of each certificate, leaf first: what the server sent, completed by the trust store. */
  chain: Uint8Array[];
  /** Whether the chain verifies to a trusted root (dates aside: see `trustError`). */
  trusted: boolean;
  /** Why it does not verify, as the TLS library says (`SELF_SIGNED_CERT_IN_CHAIN`), or null. */
  trustError: string | null;
  /** The address connected to. */
  address: string;
  /** `TLSv1.3`, … */
  protocol: string | null;
}

/** Why a scan got no certificate; `reason` is stable, the message is for people. */
export type TlsScanFailure = 'target-refused' | 'dns' | 'connection-refused' | 'timeout' | 'unreachable' | 'reset' | 'starttls' | 'tls';

export class TlsScanError extends Error {
  readonly code = 'CERTKEEP_TLS_SCAN';
  constructor(
    readonly reason: TlsScanFailure,
    message: string,
  ) {
    super(message);
    this.name = 'TlsScanError';
  }
}

/** Node host only: connects, handshakes (accepting any certificate) and reports what was presented. */
export type TlsScan = (request: TlsScanRequest) => Promise<TlsScanResult>;
