// The names a dns-01 provider works with, and the placeholders a script's arguments may carry.
//
// Placeholders are Certera's, so that its users' set/cleanup scripts keep working:
//   {{FullRecord}}  _acme-challenge.<name>                 _acme-challenge.www.example.co.uk
//   {{Record}}      the same, relative to {{Domain}}         _acme-challenge.www
//   {{Subject}}     the name being validated                www.example.co.uk
//   {{Domain}}      its registrable domain (public suffix)  example.co.uk
//   {{Value}}       the TXT value                           base64url(SHA-256(key authorization))
// Every name is in its ASCII (A-label) form: a script that passes it on to a DNS API or nsupdate
// must not have to know IDNA.
import type { DnsChallengeRecord } from './types.ts';

/** The label under which RFC 8555 §8.4 publishes a dns-01 TXT record. */
export const CHALLENGE_LABEL = '_acme-challenge';

export const PLACEHOLDERS = ['FullRecord', 'Record', 'Subject', 'Domain', 'Value'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** `{{Anything}}`: used both to expand the known placeholders and to refuse unknown ones. */
const PLACEHOLDER_PATTERN = /\{\{([^{}]*)\}\}/g;

/** `*.www.example.com` → `_acme-challenge.www.example.com` (a wildcard shares its base name's record). */
export function challengeRecordName(name: string): string {
  return `${CHALLENGE_LABEL}.${subjectName(name)}`;
}

/** The name dns-01 validates, as `{{Subject}}` shows it: `*.WWW.Example.com.` → `www.example.com`. */
export function subjectName(name: string): string {
  const ascii = asciiName(name);
  return ascii.startsWith('*.') ? ascii.slice(2) : ascii;
}

/**
 * The registrable domain of `name` by the ICANN section of the public suffix list
 * (`www.example.co.uk` → `example.co.uk`). Private suffixes such as `github.io` are not treated
 * as suffixes: whoever runs the DNS for `foo.github.io` is the owner of `github.io`.
 * A name that has no registrable domain (it is itself a public suffix) is its own domain.
 * tldts (the list as a trie: over 1 MiB of heap) is loaded with the first question, not at start:
 * only dns-01 through a script or Cloudflare asks it.
 */
export async function registrableDomain(name: string): Promise<string> {
  const ascii = subjectName(name);
  const { getDomain } = await import('tldts');
  return getDomain(ascii, { allowPrivateDomains: false }) ?? ascii;
}

/** `_acme-challenge` plus the labels left of the registrable domain: `www.example.com` → `_acme-challenge.www`. */
export async function recordRelativeToDomain(name: string): Promise<string> {
  const ascii = subjectName(name);
  const domain = await registrableDomain(ascii);
  const sub = ascii === domain ? '' : ascii.slice(0, ascii.length - domain.length - 1);
  return sub === '' ? CHALLENGE_LABEL : `${CHALLENGE_LABEL}.${sub}`;
}

/**
 * Replaces the placeholders in one argument. One pass over the template: a value that itself
 * contains `{{Value}}` is not expanded again. Unknown placeholders are left as written
 * (the script provider's validator refuses them before they get here).
 */
export async function expandPlaceholders(template: string, record: DnsChallengeRecord): Promise<string> {
  const values: Record<Placeholder, string> = {
    FullRecord: asciiName(record.fqdn),
    Record: await recordRelativeToDomain(record.name),
    Subject: subjectName(record.name),
    Domain: await registrableDomain(record.name),
    Value: record.value,
  };
  return template.replace(PLACEHOLDER_PATTERN, (whole, key: string) =>
    (PLACEHOLDERS as readonly string[]).includes(key) ? values[key as Placeholder] : whole,
  );
}

/** The `{{…}}` in a template that are not placeholders (typos such as `{{value}}`). */
export function unknownPlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER_PATTERN)]
    .filter((match) => !(PLACEHOLDERS as readonly string[]).includes(match[1]))
    .map((match) => match[0]);
}

/** Lower-case A-label form without a trailing dot; IDNA through the URL parser every Fetch runtime has. */
function asciiName(name: string): string {
  const trimmed = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(trimmed)) return trimmed;
  const wildcard = trimmed.startsWith('*.');
  const host = new URL(`http://${wildcard ? trimmed.slice(2) : trimmed}/`).hostname;
  return wildcard ? `*.${host}` : host;
}
