// A throwaway certificate authority for one test run, made with openssl.
//
// Pebble ships no certificate for its own HTTPS, so the global setup makes a CA and a leaf for
// `localhost` + `IP:127.0.0.1`, and trusts the CA through NODE_EXTRA_CA_CERTS. Node reads that
// variable once, at start-up: it must be in the environment of every process that talks to
// Pebble (vitest's forks inherit the global setup's process.env; so do children they spawn).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCa {
  caCertPath: string;
  /** The CA's private key, for tests that need another certificate the test run trusts. */
  caKeyPath: string;
  /** Leaf for `localhost` and `IP:127.0.0.1`, signed by the CA (Pebble's own HTTPS). */
  leafCertPath: string;
  leafKeyPath: string;
}

/** The variable that tells test workers where the global setup put the CA. */
export const CA_DIR_ENV = 'CERTKEEP_TEST_CA_DIR';

const files = (dir: string): TestCa => ({
  caCertPath: join(dir, 'ca.pem'),
  caKeyPath: join(dir, 'ca.key'),
  leafCertPath: join(dir, 'localhost.pem'),
  leafKeyPath: join(dir, 'localhost.key'),
});

/** The run's CA, as made by the global setup. */
export function testCa(): TestCa {
  const dir = process.env[CA_DIR_ENV];
  if (!dir) {
    throw new Error(`${CA_DIR_ENV} is not set: run tests with vitest (its global setup makes the test CA), or call createTestCa()`);
  }
  return files(dir);
}

/**
 * Makes a fresh EC P-256 CA and a `localhost` leaf in `dir`. Two days of validity: enough for
 * any run, useless afterwards. A random serial and a random CN suffix keep two runs' CAs apart.
 */
export async function createTestCa(dir: string): Promise<TestCa> {
  mkdirSync(dir, { recursive: true });
  const ca = files(dir);
  const tag = randomBytes(4).toString('hex');

  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', ca.caKeyPath]);
  await run('openssl', [
    'req', '-x509', '-new', '-key', ca.caKeyPath, '-sha256', '-days', '2',
    '-subj', `/O=Certkeep tests/CN=Certkeep test CA ${tag}`,
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-addext', 'subjectKeyIdentifier=hash',
    '-out', ca.caCertPath,
  ]);

  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', ca.leafKeyPath]);
  const csrPath = join(dir, 'localhost.csr');
  await run('openssl', ['req', '-new', '-key', ca.leafKeyPath, '-subj', '/CN=localhost', '-out', csrPath]);
  // Strict verifiers (Python 3.13+, Go) want SAN, EKU and key identifiers on the leaf.
  const extPath = join(dir, 'localhost.ext');
  writeFileSync(
    extPath,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
      '',
    ].join('\n'),
  );
  await run('openssl', [
    'x509', '-req', '-in', csrPath, '-CA', ca.caCertPath, '-CAkey', ca.caKeyPath,
    '-set_serial', `0x${positiveSerialHex()}`, '-days', '2', '-sha256', '-extfile', extPath, '-out', ca.leafCertPath,
  ]);
  return ca;
}

/**
 * Writes the PEM bundle that NODE_EXTRA_CA_CERTS should point at: the user's own extra CAs
 * (if they had set the variable) followed by ours, so that setting it for tests takes nothing away.
 */
export function writeTrustBundle(outPath: string, caCertPath: string, userExtraCaFile: string | undefined): string {
  const parts: string[] = [];
  if (userExtraCaFile) parts.push(readFileSync(userExtraCaFile, 'utf8').trimEnd());
  parts.push(readFileSync(caCertPath, 'utf8').trimEnd());
  writeFileSync(outPath, `${parts.join('\n')}\n`);
  return outPath;
}

/** 16 random bytes with the top bit clear: a positive INTEGER with no leading zero byte. */
function positiveSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x10;
  return bytes.toString('hex');
}
