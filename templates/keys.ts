// The key pages: the list, the two ways to add a key (generate, or import a PEM pasted or
// uploaded), the page shown once after creation, the detail page (which certificates use the
// key, its API keys, curl) and the delete confirmation. Key material is never shown: a key is
// identified by the SHA-256 of its public key.
import { html, type Html } from '../src/html/html.ts';
import { layout, type Flash } from './layout.ts';
import { button, csrfField, field, linkButton, postButton, selectField, textareaField } from './components.ts';
import { cursorPager } from './pager.ts';
import { formatTime, keyTypeLabel } from './format.ts';
import { downloadCommands, shownOnce } from './secrets.ts';
import { KEY_TYPE_OPTIONS, certificatePath } from './certificates.ts';

/** Page size of the list. */
export const KEYS_PER_PAGE = 25;
export const NEW_KEY_PATH = '/keys/-/new';
export const keyPath = (name: string) => `/keys/${encodeURIComponent(name)}`;

/** Largest key file accepted for import, as for a pasted PEM (the admin API's limit). */
export const MAX_KEY_BYTES = 65_536;

const session = (csrfToken: string) => ({ csrfToken, section: 'keys' as const });

export interface KeyUse {
  certificate: string;
  /** `next`: its next issuance uses the key; `served`: the served certificate was made with it. */
  roles: ReadonlyArray<'next' | 'served'>;
}

// ---- list ----------------------------------------------------------------------------------------

export interface KeyListItem {
  name: string;
  type: string;
  createdAt: number;
  /** How many certificates use it, and the first of them by name; null: none. */
  usage: { count: number; first: string } | null;
}

function certificateLinks(usage: KeyListItem['usage']): Html {
  if (!usage) return html`<span class="muted">unused</span>`;
  const more = usage.count - 1;
  return html`<a href="${certificatePath(usage.first)}">${usage.first}</a>${more > 0 ? html` and ${more} more` : null}`;
}

export function keyListPage(o: {
  csrfToken: string;
  items: readonly KeyListItem[];
  next: string | null;
  query: string;
  url: URL;
  flash?: readonly Flash[];
}): Html {
  const rows = o.items.map(
    (k) =>
      html`<tr><td data-label="Name"><a href="${keyPath(k.name)}">${k.name}</a></td><td data-label="Type">${keyTypeLabel(k.type)}</td><td data-label="Created" class="nowrap">${formatTime(k.createdAt)}</td><td data-label="Used by">${certificateLinks(k.usage)}</td></tr>`,
  );
  const empty = o.query
    ? html`No key name contains “${o.query}”.`
    : o.url.searchParams.has('cursor')
      ? html`No more keys.`
      : html`No keys yet. A new certificate makes its own, or <a href="${NEW_KEY_PATH}">add one</a>.`;
  return layout(
    { title: 'Keys', session: session(o.csrfToken), flash: o.flash },
    html`<h1>Keys</h1>
<p>Private keys for certificates. Certkeep stores them encrypted and never shows them; servers download them with a key's API keys.</p>
<div class="actions">${linkButton(NEW_KEY_PATH, 'New key', 'primary')}</div>
<form method="get" action="/keys" role="search">
  ${field({ name: 'q', label: 'Search by name', type: 'search', value: o.query, attributes: { autocomplete: 'off', spellcheck: 'false' } })}
  <div class="actions">${button('Search')}${o.query ? linkButton('/keys', 'Show all') : null}</div>
</form>
<div class="table-wrap"><table class="stack">
<caption class="visually-hidden">Keys</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Created</th><th scope="col">Used by</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td class="empty" colspan="4">${empty}</td></tr>`}</tbody>
</table></div>
${cursorPager({ url: o.url, next: o.next, label: 'Pages of keys' })}`,
  );
}

// ---- new -------------------------------------------------------------------------------------------

export type KeySource = 'generate' | 'import';

export interface NewKeyOptions {
  csrfToken: string;
  /** Which of the two forms was sent: its values and errors are shown in it. */
  source?: KeySource;
  values: URLSearchParams;
  errors: Readonly<Record<string, string>>;
  message?: string;
}

export function newKeyPage(o: NewKeyOptions): Html {
  const mine = (source: KeySource) => (o.source === source ? { v: (k: string) => o.values.get(k) ?? '', e: o.errors } : { v: () => '', e: {} as Record<string, string> });
  const gen = mine('generate');
  const imp = mine('import');
  return layout(
    { title: 'New key', session: session(o.csrfToken), flash: o.message ? [{ kind: 'error', message: o.message }] : [] },
    html`<p class="breadcrumb"><a href="/keys">Keys</a></p>
<h1>New key</h1>
<section aria-labelledby="generate-heading">
<h2 id="generate-heading">Generate a key</h2>
<form method="post" action="/keys" novalidate>
  ${csrfField(o.csrfToken)}
  <input type="hidden" name="source" value="generate">
  ${field({ name: 'name', id: 'field-generate-name', label: 'Name of the new key', value: gen.v('name'), required: true, error: gen.e.name, hint: 'Letters, digits, ".", "_" and "-".', attributes: { autocomplete: 'off', spellcheck: 'false', maxlength: 64 } })}
  ${selectField({ name: 'type', id: 'field-generate-type', label: 'Type', options: KEY_TYPE_OPTIONS, value: gen.v('type') || 'ec-p256', error: gen.e.type, hint: 'EC P-256 suits nearly every client; RSA 2048 the oldest ones.' })}
  <div class="actions">${button('Generate key', { variant: 'primary' })}</div>
</form>
</section>
<section aria-labelledby="import-heading">
<h2 id="import-heading">Import a key</h2>
<p>An unencrypted private key: PKCS#8 (“BEGIN PRIVATE KEY”), PKCS#1 (“BEGIN RSA PRIVATE KEY”) or SEC1 (“BEGIN EC PRIVATE KEY”), as PEM text or a PEM or DER file.</p>
<form method="post" action="/keys" enctype="multipart/form-data" novalidate>
  ${csrfField(o.csrfToken)}
  <input type="hidden" name="source" value="import">
  ${field({ name: 'name', id: 'field-import-name', label: 'Name of the imported key', value: imp.v('name'), required: true, error: imp.e.name, attributes: { autocomplete: 'off', spellcheck: 'false', maxlength: 64 } })}
  ${textareaField({ name: 'pem', id: 'field-import-pem', label: 'Private key (PEM)', rows: 8, error: imp.e.pem, hint: 'Paste it here, or choose a file below.', attributes: { autocomplete: 'off' } })}
  ${field({ name: 'file', id: 'field-import-file', label: 'Or a key file', type: 'file', error: imp.e.file, hint: 'PEM or DER, at most 64 KiB.', attributes: { accept: '.pem,.key,.der,application/x-pem-file,application/pkcs8' } })}
  <div class="actions">${button('Import key', { variant: 'primary' })}</div>
</form>
</section>
<div class="actions">${linkButton('/keys', 'Cancel')}</div>`,
  );
}

export function keyCreatedPage(o: { csrfToken: string; origin: string | null; name: string; type: string; apiKeys: readonly string[]; imported: boolean }): Html {
  return layout(
    {
      title: `Key ${o.name} created`,
      session: session(o.csrfToken),
      flash: [{ kind: 'success', message: html`The ${keyTypeLabel(o.type)} key <strong>${o.name}</strong> was ${o.imported ? 'imported' : 'generated'}.` }],
    },
    html`<h1>Key ${o.name} created</h1>
${shownOnce({
  heading: 'API keys for downloading',
  keys: o.apiKeys.map((value, i) => ({ label: `Key API key ${i + 1}`, id: `key-${i + 1}`, value })),
  commands: downloadCommands({ origin: o.origin, key: { name: o.name, apiKey: o.apiKeys[0] } }),
})}
<div class="actions">${linkButton(keyPath(o.name), 'Go to the key', 'primary')}${linkButton('/keys', 'All keys')}</div>`,
  );
}

// ---- detail and delete ---------------------------------------------------------------------------

export interface KeyDetail {
  name: string;
  type: string;
  createdAt: number;
  spkiSha256: string;
  /** The first of the certificates that use it, by name. */
  usedBy: readonly KeyUse[];
  /** How many use it in all. */
  usedByTotal: number;
}

function usesPart(uses: readonly KeyUse[], total: number): Html {
  if (uses.length === 0) return html`<p>No certificate uses this key.</p>`;
  const role = (u: KeyUse) =>
    u.roles.includes('next') && u.roles.includes('served')
      ? 'served certificate and next issuance'
      : u.roles.includes('served')
        ? 'served certificate (until its next issuance)'
        : 'next issuance';
  return html`<ul>${uses.map((u) => html`<li><a href="${certificatePath(u.certificate)}">${u.certificate}</a> <span class="muted">(${role(u)})</span></li>`)}</ul>
${total > uses.length ? html`<p class="muted">…and ${total - uses.length} more.</p>` : null}`;
}

export function keyDetailPage(o: { csrfToken: string; origin: string | null; key: KeyDetail; flash?: readonly Flash[]; shown?: Html }): Html {
  const k = o.key;
  const path = keyPath(k.name);
  return layout(
    { title: `Key ${k.name}`, session: session(o.csrfToken), flash: o.flash },
    html`<p class="breadcrumb"><a href="/keys">Keys</a></p>
<h1>${k.name}</h1>
${o.shown ?? null}
<div class="table-wrap"><table class="details">
<caption class="visually-hidden">Key</caption>
<tbody>
<tr><th scope="row">Type</th><td>${keyTypeLabel(k.type)}</td></tr>
<tr><th scope="row">Created</th><td>${formatTime(k.createdAt)}</td></tr>
<tr><th scope="row">Public key SHA-256</th><td><code>${k.spkiSha256.replace(/(.{8})(?=.)/g, '$1 ')}</code><br><span class="muted">Compare: <code>openssl pkey -in ${k.name}.key -pubout -outform DER | sha256sum</code></span></td></tr>
</tbody></table></div>
<section aria-labelledby="uses-heading"><h2 id="uses-heading">Certificates using it</h2>
${usesPart(k.usedBy, k.usedByTotal)}
</section>
<section aria-labelledby="download-heading"><h2 id="download-heading">Download</h2>
<p>Servers fetch the private key with one of its two API keys. They are shown only when made; replace one to get a new one (the other keeps working meanwhile).</p>
${downloadCommands({ origin: o.origin, key: { name: k.name }, heading: 'Command' })}
<div class="actions">
  ${postButton({ action: `${path}/api-keys/1`, csrfToken: o.csrfToken, label: 'Replace API key 1' })}
  ${postButton({ action: `${path}/api-keys/2`, csrfToken: o.csrfToken, label: 'Replace API key 2' })}
</div>
</section>
<section aria-labelledby="delete-heading"><h2 id="delete-heading">Delete</h2>
<p>${k.usedBy.length ? 'A key can be deleted once no certificate uses it.' : 'Deleting removes the key and its API keys for good.'}</p>
<div class="actions">${linkButton(`${path}/delete`, 'Delete…', 'danger')}</div>
</section>`,
  );
}

export function replacedKeyApiKeyShown(o: { origin: string | null; name: string; slot: number; apiKey: string }): Html {
  return shownOnce({
    heading: `New API key ${o.slot}`,
    keys: [{ label: `Key API key ${o.slot}`, id: `key-${o.slot}`, value: o.apiKey }],
    extra: html`<p>The old API key ${o.slot} no longer works; API key ${o.slot === 1 ? 2 : 1} is unchanged.</p>`,
    commands: downloadCommands({ origin: o.origin, key: { name: o.name, apiKey: o.apiKey } }),
  });
}

export function deleteKeyPage(o: { csrfToken: string; name: string; usedBy: readonly KeyUse[]; usedByTotal: number; message?: string }): Html {
  const path = keyPath(o.name);
  return layout(
    { title: `Delete ${o.name}`, session: session(o.csrfToken), flash: o.message ? [{ kind: 'error', message: o.message }] : [] },
    html`<p class="breadcrumb"><a href="/keys">Keys</a> / <a href="${path}">${o.name}</a></p>
<h1>Delete key ${o.name}?</h1>
${o.usedBy.length
  ? html`<p>It cannot be deleted while certificates use it. Give each of these another key first (“Use another key” on its page):</p>${usesPart(o.usedBy, o.usedByTotal)}
<div class="actions">${linkButton(path, 'Back to the key')}</div>`
  : html`<p>The private key and its two API keys are removed for good; servers can no longer download it.</p>
<form method="post" action="${path}/delete">
  ${csrfField(o.csrfToken)}
  <div class="actions">${button('Delete the key', { variant: 'danger' })}${linkButton(path, 'Cancel')}</div>
</form>`}`,
  );
}

export const KEY_NOTICES: Readonly<Record<string, string>> = {
  deleted: 'The key was deleted.',
};
