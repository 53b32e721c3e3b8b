// Issuance: time to obtain one 2-name certificate through the running node host, beside certbot
// and lego against the same Pebble in the same run.
//
// First the node host listens on Pebble's httpPort and obtains certificates through its admin
// API (create + issue?wait=true, the way an operator would); then it stops, and certbot's and
// lego's standalone servers bind the same port in turn.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCertbot, runLego } from './anchors.ts';
import { startSetUpHost, twoNames, type Lab } from './lab.ts';

export interface IssuanceOptions {
  rounds: number;
  warmup: number;
  certbotRounds: number;
  legoRounds: number;
}

export interface IssuanceResult extends IssuanceOptions {
  /** Milliseconds per certificate, warm-up rounds left out. */
  certkeep: number[];
  certbot: number[];
  lego: number[];
  /** Anchor rounds that failed, with the first line of their error. */
  failures: string[];
}

export async function runIssuance(lab: Lab, opts: IssuanceOptions): Promise<IssuanceResult> {
  const result: IssuanceResult = { ...opts, certkeep: [], certbot: [], lego: [], failures: [] };
  const { host, api } = await startSetUpHost(lab, 'issuance');
  try {
    for (let i = 0; i < opts.warmup + opts.rounds; i++) {
      const name = `bench-${i}`;
      const started = performance.now();
      const created = await api.post('/api/v1/certificates', { name, domains: twoNames() });
      const issued = await api.post(`/api/v1/certificates/${name}/issue?wait=true`);
      const elapsed = performance.now() - started;
      if (created.status !== 201 || issued.status !== 200) throw new Error(`certkeep round ${i} failed: ${created.text} ${issued.text}`);
      if (i >= opts.warmup) result.certkeep.push(elapsed);
    }
  } finally {
    await host.stop();
  }

  for (const [label, run, rounds] of [
    ['certbot', runCertbot, opts.certbotRounds],
    ['lego', runLego, opts.legoRounds],
  ] as const) {
    for (let i = 0; i < rounds; i++) {
      const dir = join(lab.work, `${label}-${i}`);
      mkdirSync(dir, { recursive: true });
      try {
        result[label].push(await run({ directoryUrl: lab.pebble.directoryUrl, httpPort: lab.httpPort, domains: twoNames(), workDir: dir, caBundle: lab.ca.caCertPath }));
      } catch (err) {
        result.failures.push(`${label} round ${i}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
  return result;
}
