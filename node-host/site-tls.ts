// The HTTPS listener's certificate: the site certificate once it has been issued, a self-signed
// one until then. `refresh()` swaps the secure context when the site certificate changed, so a
// renewal needs no restart. It runs when this process obtains a certificate (Deps'
// onCertificateIssued, before the order's caller hears of it) and every half second for
// certificates obtained by another process on the same database (serve.ts).
import { createSecureContext, type SecureContext } from 'node:tls';
import { hostname } from 'node:os';
import type { Deps } from '../src/deps.ts';
import { getSettings } from '../src/domain/settings.ts';
import { findCertificateByName } from '../src/domain/certificates.ts';
import { findKeyById, keyPkcs8 } from '../src/domain/keys.ts';
import { createSelfSignedCertificate, exportPrivateKeyPem, generateKeyPair, pemEncode } from '../src/crypto/index.ts';

export class SiteTls {
  private context: SecureContext | undefined;
  private servedSerial: string | null = null;
  /** The refresh running now: refreshes run one after another, never side by side. */
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly deps: Deps) {}

  /** True once the site certificate (not the self-signed stand-in) is being served. */
  get servingSiteCertificate(): boolean {
    return this.servedSerial !== null;
  }

  get secureContext(): SecureContext {
    if (!this.context) throw new Error('SiteTls.refresh() has not run');
    return this.context;
  }

  /** Serves the site certificate if there is a new one; falls back to a self-signed certificate. */
  refresh(): Promise<void> {
    const next = this.running.then(() => this.load());
    this.running = next.catch(() => {});
    return next;
  }

  private async load(): Promise<void> {
    const site = await this.siteCertificate();
    if (site) {
      if (site.serial === this.servedSerial) return;
      const key = await findKeyById(this.deps, site.keyId);
      if (!key) return;
      this.context = createSecureContext({ cert: site.pem, key: pemEncode('PRIVATE KEY', await keyPkcs8(this.deps, key)) });
      this.servedSerial = site.serial;
      this.deps.log.info('serving the site certificate', { serial: site.serial });
      return;
    }
    if (this.context) return;
    const pair = await generateKeyPair('ec-p256');
    const name = hostname();
    const cert = await createSelfSignedCertificate({ keyPair: pair, commonName: name, altNames: [name, 'localhost'], days: 365 });
    this.context = createSecureContext({ cert, key: await exportPrivateKeyPem(pair.privateKey) });
    this.deps.log.info('serving a self-signed certificate until the site certificate is issued');
  }

  /** The site certificate as stored (two small reads); its key is read only when it is new. */
  private async siteCertificate() {
    const { siteCertificate } = await getSettings(this.deps);
    if (!siteCertificate) return null;
    const cert = await findCertificateByName(this.deps, siteCertificate);
    if (!cert?.pem || !cert.servedKeyId || !cert.serial) return null;
    return { pem: cert.pem, serial: cert.serial, keyId: cert.servedKeyId };
  }
}
