// What a TLS client sees on the node host's HTTPS port: the certificate presented for a name, and
// how soon after its issuance a certificate is presented there.
import tls from 'node:tls';
import type { NodeHostUnderTest } from './hosts.ts';
import { normalizeSerial } from './pebble.ts';

/** The certificate the server presents for `servername` (not verified: a self-signed one counts too). */
export function presentedCertificate(port: number, servername: string): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
}

export interface Presented {
  /** Serial of the presented certificate, lower-case hex without leading zeros (as the API shows it). */
  serial: string;
  /** When a handshake first showed it (an upper bound: handshakes are ~50 ms apart). */
  seenAt: number;
  /** When the order that issued it was stored (orders.finished_at), from the host's database. */
  issuedAt: number;
}

/**
 * Handshakes with the HTTPS port every 50 ms until it presents a certificate for `hostname` with
 * a serial other than `otherThan`, for at most `timeoutMs`; then looks up when that certificate's
 * order was stored. `seenAt - issuedAt` is how long the port took to present it.
 */
export async function presentedAfterIssuance(host: NodeHostUnderTest, httpsPort: number, hostname: string, otherThan: string | null, timeoutMs: number): Promise<Presented> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const peer = await presentedCertificate(httpsPort, hostname);
    const seenAt = Date.now();
    const serial = normalizeSerial(peer.serialNumber);
    if (peer.subjectaltname === `DNS:${hostname}` && serial !== otherThan) {
      const [order] = await host.sql("select finished_at from orders where serial = ? and state = 'done'", serial);
      if (!order) throw new Error(`the HTTPS port presents ${serial}, which no order of this database issued`);
      return { serial, seenAt, issuedAt: Number(order.finished_at) };
    }
    if (Date.now() > deadline) throw new Error(`the HTTPS port still presents ${peer.subject?.CN} (${serial}) after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
