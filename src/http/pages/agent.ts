// What the certificate page needs for "On your servers" and its consumers: Certkeep's address as
// servers reach it (download-origin.ts), the chosen API key slot, and the first page of consumers.
import type { Deps } from '../../deps.ts';
import type { HandlerContext } from '../context.ts';
import type { CertificateRow } from '../../domain/certificates.ts';
import { downloadOrigin } from './download-origin.ts';
import { consumerView, listConsumers, staleRule } from '../../domain/consumers.ts';
import { findKeyById } from '../../domain/keys.ts';
import { certificatePath } from '../../../templates/certificates.ts';
import type { AgentSectionOptions, ConsumersSectionOptions } from '../../../templates/agent.ts';

/** Consumers shown on the page; the API lists the rest. */
export const CONSUMERS_ON_PAGE = 50;

/** `?agent-slot=2` picks the second API key for the config block; anything else is the first. */
export function agentSlotOf(request: Request): 1 | 2 {
  return new URL(request.url).searchParams.get('agent-slot') === '2' ? 2 : 1;
}

/** The parts of the certificate page about the agent and the consumers. */
export async function agentParts(request: Request, ctx: HandlerContext, row: CertificateRow): Promise<{ agent: AgentSectionOptions; consumers: ConsumersSectionOptions }> {
  const { deps } = ctx;
  const [baseUrl, key, page, rule] = await Promise.all([
    downloadOrigin(request, ctx),
    findKeyById(deps, row.servedKeyId ?? row.keyId),
    listConsumers(deps, row.id, { limit: CONSUMERS_ON_PAGE }),
    staleRule(deps),
  ]);
  return {
    agent: {
      baseUrl,
      certificate: row.name,
      keyName: key?.name ?? null,
      domains: JSON.parse(row.domains) as string[],
      slot: agentSlotOf(request),
      path: certificatePath(row.name),
    },
    consumers: {
      consumers: page.rows.map((c) => consumerView(c, row.serial, rule)),
      staleHours: rule.staleHours,
      more: page.next !== null,
      currentSerial: row.serial,
      name: row.name,
    },
  };
}
