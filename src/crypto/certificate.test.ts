import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { useOpenssl, type Openssl } from '../../test/fixtures/crypto/openssl.ts';
import { CertkeepError } from '../errors.ts';
import { toHex } from '../util/encoding.ts';
import { createSelfSignedCertificate, parseCertificate, parseChain, parseIssuerCertificate, publicKeyMatches, readCertificateFields } from './certificate.ts';
import { readFileSync } from 'node:fs';
import { chainIssuer } from '../acme/chains.ts';
import { exportPrivateKeyPem, generateKeyPair, importPrivateKey, type KeyType } from './keys.ts';
import { pemDecode } from './pem.ts';
import { DER_TAG, readDer, readDerChildren } from './der.ts';
import { certificateOutline } from './x509-outline.ts';
import { readAuthorityInfoAccess, readAuthorityKeyIdentifier, readCrlDistributionPoints, readIsCA, readSubjectAltNames, readSubjectKeyIdentifier } from './x509-extensions.ts';
import { id_ce_authorityKeyIdentifier, id_ce_basicConstraints, id_ce_cRLDistributionPoints, id_ce_subjectAltName, id_ce_subjectKeyIdentifier, id_pe_authorityInfoAccess } from '@peculiar/asn1-x509';

const CA_CONFIG = `[req]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[dn]
O = Certkeep Tests
CN = Certkeep Test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
`;

const LEAF_EXTENSIONS = `basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:leaf.example.test, DNS:www.leaf.example.test, IP:127.0.0.1, email:ops@example.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:http://crl.example.test/ca.crl
authorityInfoAccess = OCSP;URI:http://ocsp.example.test, caIssuers;URI:http://ca.example.test/ca.der
`;

/** More forms of the extensions parseCertificate reads: several URIs, a URI among the names, the issuer in the AKI, a path length. */
const MORE_EXTENSIONS = `basicConstraints = CA:TRUE, pathlen:0
subjectAltName = DNS:a.more.example.test, URI:https://more.example.test/, IP:192.0.2.1, DNS:b.more.example.test
authorityKeyIdentifier = keyid:always, issuer:always
crlDistributionPoints = URI:http://crl1.example.test/a.crl, URI:http://crl2.example.test/b.crl
authorityInfoAccess = caIssuers;URI:http://ca.example.test/ca.der, OCSP;URI:http://ocsp1.example.test, OCSP;URI:http://ocsp2.example.test
`;

/** The serial's top bit is set, so its DER INTEGER carries a leading zero byte. */
const LEAF_SERIAL = 'c0ffee00112233445566778899aabbcc';

/** An EC P-384 CA made by `openssl req -x509`, and an RSA-2048 leaf it signed. */
function makeCaAndLeaf(ssl: Openssl): void {
  ssl.write('ca.cnf', CA_CONFIG);
  ssl.write('leaf.ext', LEAF_EXTENSIONS);
  ssl.run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', 'ca.key',
    '-out', 'ca.pem', '-config', 'ca.cnf', '-days', '30', '-set_serial', '0x0102');
  ssl.run('genrsa', '-traditional', '-out', 'leaf.key', '2048');
  ssl.run('req', '-new', '-key', 'leaf.key', '-subj', '/C=DE/O=Example/CN=leaf.example.test', '-out', 'leaf.csr');
  ssl.run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x${LEAF_SERIAL}`,
    '-days', '10', '-extfile', 'leaf.ext', '-out', 'leaf.pem');
}

/** `openssl x509 -noout <args>` on a PEM file, stdout. */
function x509(ssl: Openssl, file: string, ...args: string[]): string {
  return ssl.run('x509', '-in', file, '-noout', ...args).stdout;
}

/** "AB:CD:…" → "abcd…" */
const colonHex = (text: string) => text.trim().replace(/:/g, '').toLowerCase();

function opensslSpkiSha256(ssl: Openssl, file: string): string {
  ssl.write(`${file}.pub`, x509(ssl, file, '-pubkey'));
  ssl.run('pkey', '-pubin', '-in', `${file}.pub`, '-outform', 'DER', '-out', `${file}.spki`);
  return createHash('sha256').update(ssl.read(`${file}.spki`)).digest('hex');
}

describe('parseCertificate on certificates made by openssl', () => {
  it('reads what `openssl x509` reports about a leaf', async () => {
    const ssl = useOpenssl();
    makeCaAndLeaf(ssl);
    const cert = await parseCertificate(ssl.readText('leaf.pem'));

    const serial = /^serial=([0-9A-F]+)$/m.exec(x509(ssl, 'leaf.pem', '-serial'))![1];
    expect(cert.serialNumber).toBe(serial.toLowerCase());
    expect(cert.serialNumber).toBe(LEAF_SERIAL);
    expect(toHex(cert.serialDer)).toBe(`00${LEAF_SERIAL}`);

    const dates = x509(ssl, 'leaf.pem', '-dates', '-dateopt', 'iso_8601');
    const date = (name: string) => new Date(new RegExp(`^${name}=(.*)$`, 'm').exec(dates)![1].replace(' ', 'T'));
    expect(cert.notBefore).toEqual(date('notBefore'));
    expect(cert.notAfter).toEqual(date('notAfter'));
    expect(cert.notAfter.getTime() - cert.notBefore.getTime()).toBe(10 * 24 * 3600 * 1000);

    const san = x509(ssl, 'leaf.pem', '-ext', 'subjectAltName').split('\n')[1].trim();
    expect(san).toBe('DNS:leaf.example.test, DNS:www.leaf.example.test, IP Address:127.0.0.1, email:ops@example.test');
    expect(cert.sans).toEqual(['leaf.example.test', 'www.leaf.example.test', '127.0.0.1']);

    const nameopt = ['-nameopt', 'sep_comma_plus_space'];
    expect(`subject=${cert.subject}\n`).toBe(x509(ssl, 'leaf.pem', '-subject', ...nameopt));
    expect(`issuer=${cert.issuer}\n`).toBe(x509(ssl, 'leaf.pem', '-issuer', ...nameopt));
    expect(cert.subjectCN).toBe('leaf.example.test');
    expect(cert.issuerCN).toBe('Certkeep Test CA');

    const ski = x509(ssl, 'leaf.pem', '-ext', 'subjectKeyIdentifier').split('\n')[1];
    const caSki = x509(ssl, 'ca.pem', '-ext', 'subjectKeyIdentifier').split('\n')[1];
    const aki = x509(ssl, 'leaf.pem', '-ext', 'authorityKeyIdentifier').split('\n')[1];
    expect(toHex(cert.subjectKeyIdentifier!)).toBe(colonHex(ski));
    expect(toHex(cert.authorityKeyIdentifier!)).toBe(colonHex(aki));
    expect(colonHex(aki)).toBe(colonHex(caSki));

    expect(cert.sha256Thumbprint).toBe(colonHex(x509(ssl, 'leaf.pem', '-fingerprint', '-sha256').split('=')[1]));
    expect(cert.sha1Thumbprint).toBe(colonHex(x509(ssl, 'leaf.pem', '-fingerprint', '-sha1').split('=')[1]));
    expect(cert.spkiSha256).toBe(opensslSpkiSha256(ssl, 'leaf.pem'));

    expect(x509(ssl, 'leaf.pem', '-ext', 'crlDistributionPoints')).toContain('URI:http://crl.example.test/ca.crl');
    expect(cert.crlDistributionPoints).toEqual(['http://crl.example.test/ca.crl']);
    expect(x509(ssl, 'leaf.pem', '-ocsp_uri').trim()).toBe('http://ocsp.example.test');
    expect(cert.ocspUrls).toEqual(['http://ocsp.example.test']);
    expect(cert.caIssuersUrls).toEqual(['http://ca.example.test/ca.der']);

    expect(cert.isCA).toBe(false);
    expect(cert.publicKey).toMatchObject({ keyType: 'rsa-2048', description: 'RSA 2048' });
    expect(cert.der).toEqual(pemDecode(ssl.readText('leaf.pem'))[0].der);
    expect(cert.pem).toBe(ssl.readText('leaf.pem'));
  });

  it('reads the CA: CA flag, EC key, short serial without leading zeros, no optional extensions', async () => {
    const ssl = useOpenssl();
    makeCaAndLeaf(ssl);
    const ca = await parseCertificate(ssl.readText('ca.pem'));
    expect(x509(ssl, 'ca.pem', '-serial')).toBe('serial=0102\n');
    expect(ca.serialNumber).toBe('102');
    expect(ca.serialDer).toEqual(new Uint8Array([0x01, 0x02]));
    expect(ca.isCA).toBe(true);
    expect(ca.publicKey).toMatchObject({ keyType: 'ec-p384', description: 'EC P-384' });
    expect(ca.subject).toBe(ca.issuer);
    expect(ca.authorityKeyIdentifier).toBeUndefined();
    expect(ca.crlDistributionPoints).toEqual([]);
    expect(ca.ocspUrls).toEqual([]);
    expect(ca.sans).toEqual([]);
  });

  it('takes DER, and PEM with CRLF and text around it', async () => {
    const ssl = useOpenssl();
    makeCaAndLeaf(ssl);
    const pem = ssl.readText('leaf.pem');
    const fromPem = await parseCertificate(pem);
    const fromDer = await parseCertificate(pemDecode(pem)[0].der);
    const fromMessy = await parseCertificate(`subject=whatever\r\n${pem.replace(/\n/g, '\r\n')}`);
    expect(fromDer).toEqual(fromPem);
    expect(fromMessy).toEqual(fromPem);
  });

  it('reads a certificate one of whose extensions that Certkeep does not read is malformed', async () => {
    // Only the extensions Certkeep acts on are decoded: a key usage that is a NULL instead of a
    // BIT STRING (the library refuses to decode it) does not keep the rest from being read.
    const ssl = useOpenssl();
    makeCaAndLeaf(ssl);
    ssl.write('odd.ext', 'subjectAltName = DNS:odd.example.test\n2.5.29.15 = critical, DER:05:00\n');
    ssl.run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x0a0b', '-days', '10', '-extfile', 'odd.ext', '-out', 'odd.pem');
    const cert = await parseCertificate(ssl.readText('odd.pem'));
    expect(cert.sans).toEqual(['odd.example.test']);
    expect(cert.serialNumber).toBe('a0b');
    expect(cert.subjectCN).toBe('leaf.example.test');
    expect(cert.isCA).toBe(false);
  });

  it('refuses what is not a certificate', async () => {
    const codeOf = (input: string | Uint8Array) =>
      parseCertificate(input).then(() => 'parsed', (e: unknown) => (e instanceof CertkeepError ? e.code : String(e)));
    expect(await codeOf(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05]))).toBe('CERT_INVALID');
    expect(await codeOf(new Uint8Array(0))).toBe('CERT_INVALID');
    expect(await codeOf('-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n')).toBe('CERT_INVALID');
    expect(await codeOf('no pem here')).toBe('PEM_INVALID');
    expect(await codeOf('-----BEGIN PRIVATE KEY-----\nMAMCAQU=\n-----END PRIVATE KEY-----\n')).toBe('PEM_INVALID');
  });
});

describe('reading a certificate from its outline', () => {
  // parseCertificate reads an ordinary certificate from its DER outline (x509-outline.ts) and
  // anything else with the x509 library: both ways must give the same fields.
  const sameBothWays = (der: Uint8Array, name: string) => {
    const byOutline = readCertificateFields.byOutline(der);
    expect(byOutline, name).not.toBeNull();
    expect(byOutline, name).toEqual(readCertificateFields.byLibrary(der));
  };

  it('gives what the library gives, for certificates of every shape openssl and Certkeep make', async () => {
    const ssl = useOpenssl();
    makeCaAndLeaf(ssl);
    ssl.write('odd.ext', 'subjectAltName = DNS:odd.example.test\n2.5.29.15 = critical, DER:05:00\n');
    ssl.run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x0a0b', '-days', '10', '-extfile', 'odd.ext', '-out', 'odd.pem');
    // Names that need escaping, a multi-valued RDN, UTF-8, a domain component and an e-mail
    // address; an IPv6 address; a serial of zero; a notAfter past 2049 (a GeneralizedTime).
    ssl.write('rich.ext', 'subjectAltName = DNS:*.rich.example.test, IP:2001:db8::1, URI:https://rich.example.test/\nbasicConstraints = CA:FALSE\n');
    ssl.run('req', '-new', '-key', 'leaf.key', '-utf8', '-multivalue-rdn', '-out', 'rich.csr',
      '-subj', '/DC=test/DC=example/O=Bäcker\\, Müller & Co+OU=Ops "A"/CN=#rich; <x>/emailAddress=ops@rich.example.test');
    ssl.run('x509', '-req', '-in', 'rich.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0', '-days', '12000', '-extfile', 'rich.ext', '-out', 'rich.pem');
    // No extensions at all.
    ssl.run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x7f', '-days', '1', '-out', 'bare.pem');
    // Every extension the DER readers decode, in more of its forms (x509-extensions.ts).
    ssl.write('more.ext', MORE_EXTENSIONS);
    ssl.run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x0c', '-days', '5', '-extfile', 'more.ext', '-out', 'more.pem');
    expect(x509(ssl, 'rich.pem', '-enddate')).toMatch(/20[5-9]\d GMT/);

    const pems = new Map(['ca.pem', 'leaf.pem', 'odd.pem', 'rich.pem', 'bare.pem', 'more.pem'].map((f) => [f, ssl.readText(f)]));
    for (const type of ['ec-p256', 'ec-p384', 'rsa-2048'] as KeyType[]) {
      pems.set(type, await createSelfSignedCertificate({ keyPair: await generateKeyPair(type), commonName: `self-${type}`, altNames: [`${type}.example.test`, '192.0.2.7'], days: 3 }));
    }
    for (const [name, pem] of pems) sameBothWays(pemDecode(pem)[0].der, name);

    const rich = await parseCertificate(ssl.readText('rich.pem'));
    expect(rich.sans).toEqual(['*.rich.example.test', '2001:db8::1']);
    expect(rich.serialNumber).toBe('0');
    expect(rich.subjectCN).toBe('#rich; <x>');
    expect(rich.subject).toContain('Bäcker');
  });

  it('decodes the extensions it reads from their DER, and leaves to the library what those readers do not expect', async () => {
    const ssl = useOpenssl();
    makeCaAndLeaf(ssl);
    ssl.write('more.ext', MORE_EXTENSIONS);
    ssl.run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x0c', '-days', '5', '-extfile', 'more.ext', '-out', 'more.pem');
    ssl.write('v6.ext', 'subjectAltName = DNS:v6.example.test, IP:2001:db8::1\n');
    ssl.run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x0d', '-days', '5', '-extfile', 'v6.ext', '-out', 'v6.pem');
    const outline = (file: string) => certificateOutline(pemDecode(ssl.readText(file))[0].der)!;

    const leaf = outline('leaf.pem');
    expect(readSubjectAltNames(leaf.extension(id_ce_subjectAltName)!)).toEqual(['leaf.example.test', 'www.leaf.example.test', '127.0.0.1']);
    expect(readAuthorityInfoAccess(leaf.extension(id_pe_authorityInfoAccess)!)).toEqual({ ocsp: ['http://ocsp.example.test'], caIssuers: ['http://ca.example.test/ca.der'] });
    expect(readCrlDistributionPoints(leaf.extension(id_ce_cRLDistributionPoints)!)).toEqual(['http://crl.example.test/ca.crl']);
    expect(readIsCA(leaf.extension(id_ce_basicConstraints)!)).toBe(false);
    expect(toHex(readSubjectKeyIdentifier(leaf.extension(id_ce_subjectKeyIdentifier)!)!)).toBe(colonHex(x509(ssl, 'leaf.pem', '-ext', 'subjectKeyIdentifier').split('\n')[1]));
    expect(toHex(readAuthorityKeyIdentifier(leaf.extension(id_ce_authorityKeyIdentifier)!)!)).toBe(colonHex(x509(ssl, 'ca.pem', '-ext', 'subjectKeyIdentifier').split('\n')[1]));
    expect(readIsCA(outline('ca.pem').extension(id_ce_basicConstraints)!)).toBe(true);

    const more = outline('more.pem');
    expect(readSubjectAltNames(more.extension(id_ce_subjectAltName)!)).toEqual(['a.more.example.test', '192.0.2.1', 'b.more.example.test']);
    expect(readAuthorityInfoAccess(more.extension(id_pe_authorityInfoAccess)!)).toEqual({
      ocsp: ['http://ocsp1.example.test', 'http://ocsp2.example.test'],
      caIssuers: ['http://ca.example.test/ca.der'],
    });
    expect(readCrlDistributionPoints(more.extension(id_ce_cRLDistributionPoints)!)).toEqual(['http://crl1.example.test/a.crl', 'http://crl2.example.test/b.crl']);
    expect(readIsCA(more.extension(id_ce_basicConstraints)!)).toBe(true);
    expect(readAuthorityKeyIdentifier(more.extension(id_ce_authorityKeyIdentifier)!)).toBeInstanceOf(Uint8Array);

    // An IPv6 address is the library's to write out: the reader declines, and the fields are still the library's.
    const v6 = pemDecode(ssl.readText('v6.pem'))[0].der;
    expect(readSubjectAltNames(certificateOutline(v6)!.extension(id_ce_subjectAltName)!)).toBeNull();
    expect((await parseCertificate(v6)).sans).toEqual(['v6.example.test', '2001:db8::1']);
    expect(readCertificateFields.byOutline(v6)).toEqual(readCertificateFields.byLibrary(v6));

    // Not an extension the readers expect: no answer, rather than a wrong one.
    expect(readSubjectAltNames(new Uint8Array([0x30, 0x03, 0x04, 0x01, 0x05]))).toBeNull();
    expect(readIsCA(new Uint8Array([0x30, 0x06, 0x04, 0x04, 0x30, 0x02, 0x01, 0x00]).subarray(0, 7))).toBeNull();
  });

  it('leaves to the library what is not laid out as an ordinary certificate, which still refuses what is not one', async () => {
    const ssl = useOpenssl();
    makeCaAndLeaf(ssl);
    const der = pemDecode(ssl.readText('leaf.pem'))[0].der;
    const refusal = (input: Uint8Array) => parseCertificate(input).then(() => 'parsed', (e: unknown) => (e instanceof CertkeepError ? e.code : String(e)));

    // A byte after the certificate.
    const trailing = new Uint8Array([...der, 0]);
    expect(readCertificateFields.byOutline(trailing)).toBeNull();
    expect(await refusal(trailing)).toBe('CERT_INVALID');

    // A signature that is an OCTET STRING instead of a BIT STRING.
    const [, , signature] = readDerChildren(readDer(der)!.content)!;
    const notBits = der.slice();
    notBits[der.length - signature.tlv.length] = DER_TAG.OCTET_STRING;
    expect(readCertificateFields.byOutline(notBits)).toBeNull();
    expect(await refusal(notBits)).toBe('CERT_INVALID');

    // A notBefore in month 13: the outline does not let it roll over into the next year.
    const notBefore = der.findIndex((byte, i) => byte === 0x17 && der[i + 1] === 13);
    const month13 = der.slice();
    month13.set([0x31, 0x33], notBefore + 4);
    expect(readCertificateFields.byOutline(month13)).toBeNull();
    expect(readCertificateFields.byOutline(der)).not.toBeNull();

    // RFC 9773's example is valid in the year 1 (a GeneralizedTime): read by the library.
    const example = readFileSync(new URL('../../test/fixtures/acme/rfc9773-example.pem', import.meta.url), 'utf8');
    expect(readCertificateFields.byOutline(pemDecode(example)[0].der)).toBeNull();
    expect(await parseCertificate(example)).toMatchObject({ serialNumber: '87654321', subjectCN: 'example.com' });
  });
});

describe('parseChain', () => {
  it('parses leaf then issuer, in the order given', async () => {
    const ssl = useOpenssl();
    makeCaAndLeaf(ssl);
    const chain = await parseChain(ssl.readText('leaf.pem') + '\n' + ssl.readText('ca.pem'));
    expect(chain.map((c) => c.subjectCN)).toEqual(['leaf.example.test', 'Certkeep Test CA']);
    expect(chain[0].issuer).toBe(chain[1].subject);
    expect(chain[0].authorityKeyIdentifier).toEqual(chain[1].subjectKeyIdentifier);
  });

  it('returns [] for text without certificates', async () => {
    expect(await parseChain('')).toEqual([]);
  });
});

describe('publicKeyMatches', () => {
  it('is true for the certificate key and false for another', async () => {
    const ssl = useOpenssl();
    makeCaAndLeaf(ssl);
    const leaf = await parseCertificate(ssl.readText('leaf.pem'));
    const leafKey = await importPrivateKey(ssl.readText('leaf.key'));
    const caKey = await importPrivateKey(ssl.readText('ca.key'));
    expect(await publicKeyMatches(leaf, leafKey.keyPair)).toBe(true);
    expect(await publicKeyMatches(leaf, caKey.keyPair)).toBe(false);
    expect(await publicKeyMatches(leaf, await generateKeyPair('rsa-2048'))).toBe(false);
  });
});

describe('createSelfSignedCertificate', () => {
  for (const type of ['ec-p256', 'rsa-2048'] as KeyType[]) {
    it(`${type}: openssl accepts it and it certifies the key`, async () => {
      const ssl = useOpenssl();
      const keyPair = await generateKeyPair(type);
      const pem = await createSelfSignedCertificate({ keyPair, commonName: 'certkeep.local', altNames: ['certkeep.local', 'localhost', '127.0.0.1', '::1'], days: 7 });
      ssl.write('cert.pem', pem);
      ssl.write('key.pem', await exportPrivateKeyPem(keyPair.privateKey));

      // The certificate's key is the key: `openssl x509 -pubkey` vs `openssl pkey -pubout`.
      expect(x509(ssl, 'cert.pem', '-pubkey')).toBe(ssl.run('pkey', '-in', 'key.pem', '-pubout').stdout);
      // Its self-signature verifies and it may serve TLS.
      expect(ssl.run('verify', '-CAfile', 'cert.pem', '-purpose', 'sslserver', 'cert.pem').stdout).toContain('cert.pem: OK');

      const text = x509(ssl, 'cert.pem', '-text');
      expect(text).toContain('DNS:certkeep.local, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
      expect(text).toContain('CA:FALSE');
      expect(text).toContain('TLS Web Server Authentication');
      expect(text).toContain(type === 'rsa-2048' ? 'Digital Signature, Key Encipherment' : 'Digital Signature\n');
      expect(text).toContain('Subject: CN = certkeep.local');

      const parsed = await parseCertificate(pem);
      expect(parsed.notAfter.getTime() - parsed.notBefore.getTime()).toBe(7 * 24 * 3600 * 1000);
      expect(parsed.notBefore.getTime()).toBeLessThan(Date.now());
      expect(parsed.serialDer[0] & 0x80).toBe(0);
      expect(parsed.subjectKeyIdentifier).toBeDefined();
      expect(await publicKeyMatches(parsed, keyPair)).toBe(true);
    });
  }

  it('defaults the SAN to the common name, and differs in serial each time', async () => {
    const keyPair = await generateKeyPair('ec-p256');
    const options = { keyPair, commonName: 'only.example.test', days: 1 };
    const [a, b] = await Promise.all([createSelfSignedCertificate(options), createSelfSignedCertificate(options)]);
    const [pa, pb] = await Promise.all([parseCertificate(a), parseCertificate(b)]);
    expect(pa.sans).toEqual(['only.example.test']);
    expect(pa.serialNumber).not.toBe(pb.serialNumber);
  });

  it('serves TLS from Node to a client that trusts it, for a name and for an IP address', async () => {
    const keyPair = await generateKeyPair('ec-p256');
    const cert = await createSelfSignedCertificate({ keyPair, commonName: 'localhost', altNames: ['localhost', '127.0.0.1'], days: 1 });
    const server = tls.createServer({ key: await exportPrivateKeyPem(keyPair.privateKey), cert }, (socket) => socket.end('hello'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      for (const servername of ['localhost', undefined]) {
        const socket = tls.connect({ host: '127.0.0.1', port, servername, ca: cert });
        await once(socket, 'secureConnect');
        expect(socket.authorized).toBe(true);
        socket.destroy();
      }
      // And a client that does not trust it refuses it.
      const untrusting = tls.connect({ host: '127.0.0.1', port, servername: 'localhost' });
      const [error] = (await once(untrusting, 'error')) as [NodeJS.ErrnoException];
      expect(error.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    } finally {
      server.close();
    }
  });
});

describe('parseIssuerCertificate', () => {
  it('parses an issuer once and keeps at most 16, the least recently used going first', async () => {
    const keyPair = await generateKeyPair('ec-p256');
    const pems = await Promise.all(Array.from({ length: 17 }, (_, i) => createSelfSignedCertificate({ keyPair, commonName: `issuer ${i}`, days: 1 })));
    const first = await parseIssuerCertificate(pems[0]);
    const fresh = await parseCertificate(pems[0]);
    expect({ ...first }).toEqual(fresh);
    expect(Object.isFrozen(first)).toBe(true);
    expect(await parseIssuerCertificate(pems[0])).toBe(first);
    expect(chainIssuer(pems[0])).toBe('issuer 0');
    // 16 others, then the first is asked again: it had gone, and is parsed anew.
    for (const pem of pems.slice(1)) await parseIssuerCertificate(pem);
    const again = await parseIssuerCertificate(pems[0]);
    expect(again).not.toBe(first);
    expect(again.subject).toBe(first.subject);
    // One used again moves to the end: a new one then pushes out the oldest, not it.
    const second = await parseIssuerCertificate(pems[2]);
    await parseIssuerCertificate(pems[1]);
    expect(await parseIssuerCertificate(pems[2])).toBe(second);
    for (const pem of pems) expect(chainIssuer(pem)).toBe((await parseIssuerCertificate(pem)).issuerCN);
  });
});
