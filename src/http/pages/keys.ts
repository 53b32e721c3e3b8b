// Pages: keys. The list, generate or import (PEM pasted, or a PEM/DER file uploaded), the detail
// page with the certificates that use the key and its API keys, delete once unused. The same
// domain functions and rules as the admin API's /api/v1/keys.
import type { HandlerContext, RoutedRequest } from '../context.ts';
import type { PageRoute } from './routes.ts';
import { page, type Html } from '../../html/html.ts';
import { CertkeepError } from '../../errors.ts';
import { KEY_TYPES, type KeyType } from '../../crypto/index.ts';
import { createKey, deleteKey, findKeyByName, type KeyRow } from '../../domain/keys.ts';
import { certificatesUsing, keyUsage, pageKeys, parseNameListQuery } from '../../domain/lists.ts';
import { rotateApiKey } from '../../domain/apikeys.ts';
import { optionalEnum, optionalString, requiredName, type Json } from '../validate.ts';
import { messagePage } from '../../../templates/message-page.ts';
import type { Flash } from '../../../templates/layout.ts';
import {
  KEYS_PER_PAGE,
  KEY_NOTICES,
  MAX_KEY_BYTES,
  deleteKeyPage,
  keyCreatedPage,
  keyDetailPage,
  keyListPage,
  keyPath,
  newKeyPage,
  replacedKeyApiKeyShown,
  type KeySource,
} from '../../../templates/keys.ts';
import { check, statusOf, type FieldErrors } from './form-errors.ts';
import { errorField, fieldMessage } from '../../../templates/error-text.ts';
import { byPage, redirect, signedIn, type PageContext } from './guard.ts';
import { downloadOrigin } from './download-origin.ts';


function paramName(request: RoutedRequest): string {
  try {
    return decodeURIComponent(request.params.name ?? '');
  } catch {
    return request.params.name ?? '';
  }
}

/** The certificates that use a key (the first ones by name) and how many in all. */
async function usesOf(ctx: HandlerContext, keyId: string) {
  const found = await certificatesUsing(ctx.deps, { keyId });
  return { usedBy: found.items.map((u) => ({ certificate: u.name, roles: u.roles })), usedByTotal: found.total };
}

function notFound(pc: PageContext, name: string): Response {
  return page(
    messagePage({ title: 'No such key', csrfToken: pc.session.csrfToken, section: 'keys', message: `There is no key named “${name}”.`, links: [{ href: '/keys', label: 'All keys' }] }),
    { status: 404 },
  );
}

async function withKey(request: RoutedRequest, ctx: HandlerContext): Promise<{ pc: PageContext; row: KeyRow } | Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const name = paramName(request);
  const row = await findKeyByName(ctx.deps, name);
  return row ? { pc, row } : notFound(pc, name);
}

// ---- list ------------------------------------------------------------------------------------

async function listPage(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const url = new URL(request.url);
  const query = parseNameListQuery(url.searchParams, { defaultLimit: KEYS_PER_PAGE, ignore: ['notice', 'page'] });
  const found = await pageKeys(ctx.deps, query);
  const usage = await keyUsage(ctx.deps, found.items.map((k) => k.id));
  const items = found.items.map((k) => ({ name: k.name, type: k.type, createdAt: k.createdAt, usage: usage.get(k.id) ?? null }));
  const notice = url.searchParams.get('notice');
  const flash: Flash[] = notice && KEY_NOTICES[notice] ? [{ kind: 'success', message: KEY_NOTICES[notice] }] : [];
  url.searchParams.delete('notice');
  return page(keyListPage({ csrfToken: pc.session.csrfToken, items, next: found.next, query: query.q ?? '', url, flash }));
}

// ---- create ----------------------------------------------------------------------------------

async function newPage(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  return page(newKeyPage({ csrfToken: pc.session.csrfToken, values: new URLSearchParams(), errors: {} }));
}

/** The uploaded file of a multipart form, or undefined when none was chosen. */
async function uploadedFile(request: Request): Promise<File | undefined> {
  if (!/^multipart\/form-data\b/i.test(request.headers.get('content-type') ?? '')) return undefined;
  const file = (await request.formData()).get('file');
  return file && typeof file !== 'string' && file.size > 0 ? file : undefined;
}

/** What to create: a type to generate, or key bytes/text to import — checked with the API's rules. */
async function keySourceOf(form: URLSearchParams, file: File | undefined, errors: FieldErrors): Promise<{ type: KeyType } | { pem: string | Uint8Array } | undefined> {
  if (form.get('source') === 'import') {
    const pem = check(errors, () => optionalString({ pem: (form.get('pem') ?? '').trim() || undefined }, 'pem', { max: MAX_KEY_BYTES }));
    if (errors.pem) return undefined;
    if (pem && file) errors.pem = 'Paste the key or choose a file, not both.';
    else if (file && file.size > MAX_KEY_BYTES) errors.file = `The file is larger than ${MAX_KEY_BYTES / 1024} KiB; a private key is much smaller.`;
    else if (file) return { pem: new Uint8Array(await file.arrayBuffer()) };
    else if (pem) return { pem };
    else errors.pem = 'Paste a private key here, or choose a file below.';
    return undefined;
  }
  const type = check(errors, () => optionalEnum({ type: form.get('type') || undefined } as Json, 'type', KEY_TYPES));
  return errors.type ? undefined : { type: (type ?? 'ec-p256') as KeyType };
}

async function create(request: Request, ctx: HandlerContext): Promise<Response> {
  // The form reader keeps only text fields; the uploaded file is read from a copy of the body.
  const copy = request.clone();
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  const source: KeySource = pc.form.get('source') === 'import' ? 'import' : 'generate';
  const errors: FieldErrors = {};
  const values = new URLSearchParams(pc.form);
  values.delete('pem'); // never sent back: it is a private key
  const again = (status: number, message = 'Some fields need a second look.') =>
    page(newKeyPage({ csrfToken: pc.session.csrfToken, source, values, errors, message }), { status });
  const name = check(errors, () => requiredName({ name: (pc.form.get('name') ?? '').trim() }));
  const keySource = await keySourceOf(pc.form, source === 'import' ? await uploadedFile(copy) : undefined, errors);
  if (!name || !keySource) return again(400);
  let result: Awaited<ReturnType<typeof createKey>>;
  try {
    result = await createKey(ctx.deps, byPage(pc, ctx), name, keySource);
  } catch (err) {
    if (!(err instanceof CertkeepError) || statusOf(err) >= 500) throw err;
    // Key parsing errors name no field: they are about what was pasted or uploaded.
    const field = errorField(err) ?? ('pem' in keySource && keySource.pem instanceof Uint8Array ? 'file' : 'pem');
    errors[field] = fieldMessage(err);
    return again(statusOf(err));
  }
  return page(
    keyCreatedPage({ csrfToken: pc.session.csrfToken, origin: await downloadOrigin(request, ctx), name: result.name, type: result.type, apiKeys: result.apiKeys, imported: source === 'import' }),
    { status: 201 },
  );
}

// ---- detail and actions ------------------------------------------------------------------------

async function detailResponse(request: Request, ctx: HandlerContext, pc: PageContext, row: KeyRow, extra: { flash?: Flash[]; shown?: Html } = {}): Promise<Response> {
  const uses = await usesOf(ctx, row.id);
  return page(
    keyDetailPage({
      csrfToken: pc.session.csrfToken,
      origin: await downloadOrigin(request, ctx),
      key: { name: row.name, type: row.type, createdAt: row.createdAt, spkiSha256: row.spkiSha256, ...uses },
      flash: extra.flash,
      shown: extra.shown,
    }),
  );
}

async function detail(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withKey(request, ctx);
  if (found instanceof Response) return found;
  return detailResponse(request, ctx, found.pc, found.row);
}

async function replaceApiKey(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withKey(request, ctx);
  if (found instanceof Response) return found;
  const { pc, row } = found;
  const slot = request.params.slot === '1' ? 1 : request.params.slot === '2' ? 2 : null;
  if (!slot) return notFound(pc, row.name);
  const apiKey = await rotateApiKey(ctx.deps, byPage(pc, ctx), 'key', row, slot);
  return detailResponse(request, ctx, pc, row, {
    flash: [{ kind: 'success', message: `API key ${slot} was replaced.` }],
    shown: replacedKeyApiKeyShown({ origin: await downloadOrigin(request, ctx), name: row.name, slot, apiKey }),
  });
}

async function deleteForm(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withKey(request, ctx);
  if (found instanceof Response) return found;
  return page(deleteKeyPage({ csrfToken: found.pc.session.csrfToken, name: found.row.name, ...(await usesOf(ctx, found.row.id)) }));
}

async function remove(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withKey(request, ctx);
  if (found instanceof Response) return found;
  const { pc, row } = found;
  try {
    await deleteKey(ctx.deps, byPage(pc, ctx), row.name);
  } catch (err) {
    if (!(err instanceof CertkeepError && err.code === 'CONFLICT')) throw err;
    const uses = await usesOf(ctx, row.id);
    const names = uses.usedBy.map((u) => u.certificate);
    const more = uses.usedByTotal - names.length;
    const message = `The key cannot be deleted: ${uses.usedByTotal === 1 ? `the certificate ${names[0]} uses it` : `the certificates ${names.join(', ')}${more > 0 ? ` and ${more} more` : ''} use it`}. Give ${uses.usedByTotal === 1 ? 'it' : 'each'} another key first.`;
    return page(deleteKeyPage({ csrfToken: pc.session.csrfToken, name: row.name, ...uses, message }), { status: 409 });
  }
  return redirect('/keys?notice=deleted');
}

export const keysPages: readonly PageRoute[] = [
  ['get', '/keys', listPage],
  ['get', '/keys/-/new', newPage],
  ['post', '/keys', create],
  ['get', '/keys/:name', detail],
  ['post', '/keys/:name/api-keys/:slot', replaceApiKey],
  ['get', '/keys/:name/delete', deleteForm],
  ['post', '/keys/:name/delete', remove],
];
