// The certificate authorities offered by name wherever an ACME account is made (the setup wizard,
// the accounts page), and what a CA's directory said about itself.
import { LETS_ENCRYPT, LETS_ENCRYPT_STAGING } from '../src/domain/accounts.ts';
import { attrs, html, type Html } from '../src/html/html.ts';

/** The CAs offered by name; "other" takes a directory URL. */
export const CA_CHOICES = [
  { value: 'letsencrypt', label: "Let's Encrypt", url: LETS_ENCRYPT },
  { value: 'letsencrypt-staging', label: "Let's Encrypt staging (test certificates)", url: LETS_ENCRYPT_STAGING },
  { value: 'other', label: 'Another ACME CA', url: '' },
] as const;

/** What a CA's directory said about itself (RFC 8555 §7.1.1 `meta`), or why it could not be read. */
export interface CaInfo {
  /** The directory URL read ('' when none was chosen yet). */
  url: string;
  termsOfService?: string;
  externalAccountRequired: boolean;
  error?: string;
}

/**
 * The "Directory URL (another CA)" field. Its error sits in a slot that a CA look-up (htmx)
 * replaces out of band, next to the CA's part: a directory that cannot be read is said once, on
 * this field, and the message goes when another CA is chosen. The input itself is never
 * replaced, so nothing a user is typing there is lost to an answer still on its way.
 */
export function directoryUrlField(o: { value: string; error?: string; attributes: Record<string, string> }): Html {
  const input = attrs({
    type: 'url',
    id: 'field-directoryUrl',
    name: 'directoryUrl',
    'aria-describedby': 'field-directoryUrl-hint field-directoryUrl-error',
    'aria-invalid': o.error ? 'true' : null,
    value: o.value,
    ...o.attributes,
    spellcheck: 'false',
  });
  return html`<div class="field${o.error ? ' has-error' : ''}">
  <label for="field-directoryUrl">Directory URL (another CA)</label>
  <input${input}>
  <p class="hint" id="field-directoryUrl-hint">Only for "Another ACME CA", e.g. https://acme.example.com/directory</p>
  ${directoryUrlError(o.error)}
</div>`;
}

/** The slot of the directory URL field's error; `outOfBand` for a look-up's answer. */
export function directoryUrlError(error: string | undefined, outOfBand = false): Html {
  return html`<div id="directory-url-error"${outOfBand ? html` hx-swap-oob="true"` : null}>${error ? html`<p class="error" id="field-directoryUrl-error">${error}</p>` : null}</div>`;
}
