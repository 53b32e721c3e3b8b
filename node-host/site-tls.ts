// The HTTPS listener's certificate: the site certificate once it has been issued, a self-signed
// one until then. `refresh()` runs on every scheduler tick and swaps the secure context when the
// site certificate changed, so a renewal needs no restart.
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

  constructor(private readonly deps: Deps) {}

  /** True once the site certificate (not the self-signed stand-in) is being served. */
  get servingSiteCertificate(): boolean {
    return this.servedSerial !== null;
  }

  get secureContext(): SecureContext {
    if (!this.context) throw new Error('SiteTls.refresh() has not run');
    return this.context;
  }

  /** Loads the site certificate if there is a new one; falls back to a self-signed certificate. */
  async refresh(): Promise<void> {
    const site = await this.siteCertificate();
    if (site) {
      if (site.serial === this.servedSerial) return;
      this.context = createSecureContext({ cert: site.pem, key: site.keyPem });
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

  private async siteCertificate() {
    const { siteCertificate } = await getSettings(this.deps);
    if (!siteCertificate) return null;
    const cert = await findCertificateByName(this.deps, siteCertificate);
    if (!cert?.pem || !cert.servedKeyId || !cert.serial) return null;
    const key = await findKeyById(this.deps, cert.servedKeyId);
    if (!key) return null;
    return { pem: cert.pem, serial: cert.serial, keyPem: pemEncode('PRIVATE KEY', await keyPkcs8(this.deps, key)) };
  }
}
