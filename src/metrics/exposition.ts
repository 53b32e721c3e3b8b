// The Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): per metric family a `# HELP`
// line, a `# TYPE` line, then one line per series, `name{label="value",…} number`.
//
// Escaping: in HELP text a backslash and a line feed (`\\`, `\n`); in label values also the
// double quote (`\"`). Numbers are Go's float syntax: integers as they are, `NaN`, `+Inf`, `-Inf`.

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge';

export interface Sample {
  labels?: Readonly<Record<string, string>>;
  value: number;
}

export interface MetricFamily {
  /** `certkeep_…`, snake case, with its unit (`_seconds`, `_bytes`) and `_total` for counters. */
  name: string;
  help: string;
  type: MetricType;
  samples: readonly Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function labelsOf(labels: Readonly<Record<string, string>> | undefined, family: string): string {
  if (!labels) return '';
  // Sorted, so that a series reads the same whichever order its labels were given in.
  const names = Object.keys(labels).sort();
  if (names.length === 0) return '';
  const parts = names.map((name) => {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`${family}: bad label name ${JSON.stringify(name)}`);
    return `${name}="${escapeLabelValue(labels[name])}"`;
  });
  return `{${parts.join(',')}}`;
}

/**
 * The exposition of these families, in the order given. A family without samples is left out
 * (its HELP and TYPE alone would announce a metric that has no series).
 */
export function renderExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (family.samples.length === 0) continue;
    if (!NAME.test(family.name)) throw new Error(`bad metric name ${JSON.stringify(family.name)}`);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) lines.push(`${family.name}${labelsOf(sample.labels, family.name)} ${formatValue(sample.value)}`);
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}
