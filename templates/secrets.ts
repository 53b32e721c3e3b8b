// Download API keys on the pages: shown once, right after they were made (Certkeep keeps only
// their hashes), each in a read-only labelled input that is easy to select and copy; and the
// curl commands that fetch a certificate or key with them (SPEC §5), for the address other machines reach this server by.
// With JavaScript, each has a Copy button beside it.
import { html, type Html } from '../src/html/html.ts';
import { copyButton, field } from './components.ts';

export interface ShownKey {
  /** The input's accessible name, e.g. "Certificate API key 1". */
  label: string;
  /** A unique id suffix for the input. */
  id: string;
  value: string;
}

/**
 * The "copy these now" section. Rendered only in the answer to the POST that made the keys,
 * never on a later GET, and sent with `cache-control: no-store` (page()).
 */
export function shownOnce(o: { heading: string; keys: readonly ShownKey[]; commands?: Html; extra?: Html }): Html {
  return html`<section class="shown-once" aria-labelledby="shown-once-heading">
<h2 id="shown-once-heading">${o.heading}</h2>
<p><strong>Copy ${o.keys.length === 1 ? 'this API key' : 'these API keys'} now: ${o.keys.length === 1 ? 'it is' : 'they are'} shown only this once.</strong> Certkeep keeps only a hash; a lost key can be replaced, not shown again.</p>
${o.keys.map((k) =>
  field({
    name: `shown-${k.id}`,
    id: `shown-${k.id}`,
    label: k.label,
    value: k.value,
    autocomplete: 'off',
    attributes: { readonly: true, spellcheck: 'false', class: 'secret' },
    addon: copyButton({ target: `shown-${k.id}`, what: k.label }),
  }),
)}
${o.extra ?? null}
${o.commands ?? null}
</section>`;
}

/** What a download command needs: the object's name and, when known, one of its API keys. */
export interface DownloadTarget {
  name: string;
  apiKey?: string;
}

/** What the commands show while this server's hostname is not set. */
export const HOSTNAME_PLACEHOLDER = 'https://<certkeep-hostname>';

/**
 * Ready-to-run curl commands for a certificate (leaf + chain, PEM) and its key (PKCS#8 PEM,
 * written with umask 077 so only its owner can read it). Without a known API key the command
 * carries a placeholder to replace. `origin` is the address other machines reach Certkeep by;
 * null when no hostname is set, and then the commands carry a placeholder and say so.
 */
export function downloadCommands(o: { origin: string | null; certificate?: DownloadTarget; key?: DownloadTarget; heading?: string }): Html {
  // Unique on a page: the shown-once commands (with keys) and the page's own (placeholders).
  const id = o.certificate?.apiKey || o.key?.apiKey ? 'commands-shown' : 'commands';
  const lines: string[] = [];
  const origin = o.origin ?? HOSTNAME_PLACEHOLDER;
  if (o.certificate) {
    lines.push('# the certificate and its chain (PEM)');
    lines.push(`curl -s -H "apikey: ${o.certificate.apiKey ?? '<certificate API key>'}" ${origin}/api/certificate/${encodeURIComponent(o.certificate.name)} > ${o.certificate.name}.pem`);
  }
  if (o.key) {
    lines.push('# the private key (PEM), readable by you only');
    lines.push(`(umask 077; curl -s -H "apikey: ${o.key.apiKey ?? '<key API key>'}" ${origin}/api/key/${encodeURIComponent(o.key.name)} > ${o.key.name}.key)`);
  }
  return html`<div class="copy-row"><h3>${o.heading ?? 'Download with curl'}</h3>${copyButton({ target: id, what: lines.length > 2 ? 'the commands' : 'the command' })}</div>
<pre class="commands" id="${id}"><code>${lines.join('\n')}</code></pre>
${o.origin === null
  ? html`<p class="hint">This server's hostname is not set, so Certkeep does not know the address other machines reach it by: replace <code>${HOSTNAME_PLACEHOLDER}</code> with it, or set the hostname under <a href="/settings#hostname">Settings</a> to see it here.</p>`
  : null}`;
}
