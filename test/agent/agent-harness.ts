// Running agent/certkeep-agent.sh from tests: under a chosen shell (dash or bash), with its own
// config and state directory, and what it leaves behind (the files' bytes, inode, time and mode),
// plus certificates crafted for the checks it must make (other names, expired, a foreign key).
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { x509 } from '../../src/crypto/x509.ts';
import { ROOT } from '../harness/hosts.ts';

export const AGENT = join(ROOT, 'agent/certkeep-agent.sh');
export const SHELLS = ['dash', 'bash'] as const;
export type Shell = (typeof SHELLS)[number];

export interface AgentRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `<shell> certkeep-agent.sh <args>`; never throws for a non-zero exit. */
export function runAgent(shell: Shell, args: string[], env: Record<string, string> = {}): Promise<AgentRun> {
  return new Promise((resolve, reject) => {
    execFile(shell, [AGENT, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
      resolve({ code: err ? ((err as { code: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

/** An INI config from blocks of key → value, mode 0600 as the agent wants it. */
export function writeConfig(path: string, blocks: Record<string, Record<string, string>>): string {
  const text = Object.entries(blocks)
    .map(([name, keys]) => [`[${name}]`, ...Object.entries(keys).map(([k, v]) => `${k} = ${v}`)].join('\n'))
    .join('\n\n');
  writeFileSync(path, `# written by a test\n${text}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

export interface FileState {
  bytes: string;
  ino: number;
  mtimeMs: number;
  mode: number;
}

/** What a file is now, or null when it does not exist. */
export function fileState(path: string): FileState | null {
  if (!existsSync(path)) return null;
  const st = statSync(path);
  return { bytes: readFileSync(path, 'utf8'), ino: st.ino, mtimeMs: st.mtimeMs, mode: st.mode & 0o777 };
}

/** A reload command (its words split on spaces by the agent) that appends a line to `log` and then runs `then`. */
export function reloadScript(dir: string, name: string, log: string, then: string[] = [], opts: { failTimes?: number } = {}): string {
  const path = join(dir, `${name}.sh`);
  const count = join(dir, `${name}.count`);
  writeFileSync(
    path,
    `#!/bin/sh
echo reload >> ${log}
n=$(cat ${count} 2>/dev/null || echo 0)
echo $((n + 1)) > ${count}
if [ "$n" -lt ${opts.failTimes ?? 0} ]; then echo "simulated failure: the service refused" >&2; exit 3; fi
${then.length ? `exec ${then.join(' ')}` : 'exit 0'}
`,
    { mode: 0o755 },
  );
  return path;
}

export function linesOf(path: string): number {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
}

// ---- crafted certificates ------------------------------------------------------------------------

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

export interface TestIssuer {
  pem: string;
  issue(o: { names: string[]; notBefore?: Date; notAfter?: Date; keys?: CryptoKeyPair }): Promise<{ chain: string; keyPem: string; serial: string }>;
}

/** A throwaway CA whose leaves have the names and dates a test asks for. */
export async function testIssuer(): Promise<TestIssuer> {
  const caKeys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=certkeep agent test CA',
    notBefore: new Date(Date.now() - 86_400_000 * 400),
    notAfter: new Date(Date.now() + 86_400_000 * 400),
    keys: caKeys,
    signingAlgorithm: EC,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const caPem = ca.toString('pem');
  let next = 0x4000;
  return {
    pem: caPem,
    async issue({ names, notBefore = new Date(Date.now() - 3_600_000), notAfter = new Date(Date.now() + 86_400_000 * 30), keys }) {
      const leafKeys = keys ?? ((await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair);
      const serial = (next++).toString(16);
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: serial,
        subject: `CN=${names[0]}`,
        issuer: ca.subject,
        notBefore,
        notAfter,
        publicKey: leafKeys.publicKey,
        signingKey: caKeys.privateKey,
        signingAlgorithm: EC,
        extensions: [new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value })))],
      });
      return { chain: `${leaf.toString('pem')}\n${caPem}\n`, keyPem: await pkcs8Pem(leafKeys.privateKey), serial };
    },
  };
}

export async function newKeyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
}
