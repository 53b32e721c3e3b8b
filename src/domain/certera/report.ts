// The import's report as the command line prints it: counts per kind, then every item that was
// not imported with the reason, every new API key (once), notes, and what was written.
import type { CerteraImportReport, ImportKind, ImportOutcome } from './import.ts';

const KINDS: Array<[ImportKind, string]> = [
  ['account', 'ACME accounts'],
  ['key', 'keys'],
  ['certificate', 'certificates'],
  ['user', 'users'],
  ['dns-provider', 'DNS providers'],
  ['notification-channel', 'notification channels'],
  ['setting', 'settings'],
  ['tracking', 'tracking'],
];

const KIND_WORD: Record<ImportKind, string> = {
  account: 'ACME account',
  key: 'key',
  certificate: 'certificate',
  user: 'user',
  'dns-provider': 'DNS provider',
  'notification-channel': 'notification channel',
  setting: 'setting',
  tracking: 'tracked',
};

export function formatImportReport(report: CerteraImportReport, file: string): string {
  const lines: string[] = [];
  lines.push(`Certera database ${file}: ${report.migrations.length} migrations, the last ${report.migrations.at(-1)}`);
  lines.push('');
  const head = report.dryRun ? 'to import' : 'imported';
  lines.push(`${''.padEnd(22)}${head.padStart(10)}${'already here'.padStart(14)}${'skipped'.padStart(9)}`);
  const count = (kind: ImportKind, outcome: ImportOutcome) => report.items.filter((i) => i.kind === kind && i.outcome === outcome).length;
  for (const [kind, label] of KINDS) {
    lines.push(`${label.padEnd(22)}${String(count(kind, 'imported')).padStart(10)}${String(count(kind, 'present')).padStart(14)}${String(count(kind, 'skipped')).padStart(9)}`);
  }
  for (const { what, count: n } of report.notAvailable) lines.push(`${what}: ${n} not imported (feature not available)`);

  const section = (title: string, entries: string[]) => {
    if (entries.length === 0) return;
    lines.push('', title, ...entries.map((e) => `  ${e}`));
  };
  section(
    report.dryRun ? 'To import:' : 'Imported:',
    report.items.filter((i) => i.outcome === 'imported').map((i) => `${KIND_WORD[i.kind]} "${i.name}": ${i.detail}`),
  );
  section(
    'Already here:',
    report.items.filter((i) => i.outcome === 'present').map((i) => `${KIND_WORD[i.kind]} "${i.name}": ${i.detail}`),
  );
  section(
    'Skipped:',
    report.items.filter((i) => i.outcome === 'skipped').map((i) => `${KIND_WORD[i.kind]} "${i.name}": ${i.detail}`),
  );
  section(
    report.dryRun ? 'New API keys (made when imported; none exists yet):' : 'New API keys (Certera had none usable; shown only now):',
    report.newApiKeys.map((k) => `${k.kind} "${k.name}" API key ${k.slot}: ${report.dryRun ? '(made at import)' : k.apiKey}`),
  );
  section('Notes:', report.notes);

  lines.push('');
  const imported = report.items.some((i) => i.outcome === 'imported');
  if (report.dryRun) lines.push(imported ? 'Dry run: nothing was written.' : 'Dry run: nothing new to import; nothing was written.');
  else if (report.written > 0) lines.push(`Written in one transaction (${report.written} statements).`);
  else lines.push('Nothing new to import: what this file holds is here already. Nothing was written.');
  return lines.join('\n') + '\n';
}
