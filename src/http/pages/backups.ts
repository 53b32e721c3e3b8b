// /backups: the node host's scheduled backups, listed and downloaded (deps.backups). A backup
// holds the whole database — private keys sealed under the master key, which is not in it, and
// the hashes of passwords, tokens and API keys — so a download asks for the password again (and
// the second factor when it is on), as the account page does for its changes. On the Worker the
// page says what D1 offers instead.
import type { HandlerContext, RoutedRequest } from '../context.ts';
import { html, page } from '../../html/html.ts';
import { layout, type Flash } from '../../../templates/layout.ts';
import { button, csrfField, linkButton, table } from '../../../templates/components.ts';
import { detailsTable, wrappable } from '../../../templates/details.ts';
import { formatTime } from '../../../templates/format.ts';
import { messagePage } from '../../../templates/message-page.ts';
import type { BackupEntry } from '../../deps.ts';
import { backupFileResponse } from '../backups-api.ts';
import { problemResponse } from '../problem.ts';
import { LOCKED, reauthErrors, reauthFields } from './account.ts';
import { byPage, signedIn, type PageContext } from './guard.ts';
import { record } from '../../domain/audit.ts';
import type { PageRoute } from './routes.ts';

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const backupPath = (name: string) => `/backups/${encodeURIComponent(name)}`;

function workerPage(pc: PageContext): Response {
  return page(
    layout(
      { title: 'Backups', session: { csrfToken: pc.session.csrfToken, section: 'backups' } },
      html`<h1>Backups</h1>
<p>Scheduled backups are a feature of the node host, which writes them into its data directory. This Worker's database is D1, which keeps its own history:</p>
<ul>
  <li><strong>Time Travel</strong> restores the database to any minute of the last 30 days: <code>npx wrangler d1 time-travel restore DB --timestamp 2030-01-02T03:04:05Z</code> (<code>time-travel info</code> shows the bookmark for a time).</li>
  <li><strong>Export</strong> writes an SQL dump you can keep elsewhere: <code>npx wrangler d1 export DB --remote --output certkeep.sql</code>.</li>
</ul>
<p>Keep the <code>MASTER_KEY</code> secret somewhere apart from any dump: without it the stored private keys cannot be read, and with it anyone holding the dump can read them.</p>`,
    ),
  );
}

function listPage(ctx: HandlerContext, pc: PageContext, entries: BackupEntry[]): Response {
  const backups = ctx.deps.backups!;
  const schedule = backups.schedule();
  return page(
    layout(
      { title: 'Backups', session: { csrfToken: pc.session.csrfToken, section: 'backups' } },
      html`<h1>Backups</h1>
${'off' in schedule
  ? html`<p>Scheduled backups are <strong>off</strong>: ${schedule.off}.</p>`
  : html`<p>The server writes a backup every <strong>${schedule.everyHours === 1 ? 'hour' : `${schedule.everyHours} hours`}</strong> and keeps the newest <strong>${schedule.keep}</strong> (<code>CERTKEEP_BACKUP_HOURS</code>, <code>CERTKEEP_BACKUP_KEEP</code>).</p>`}
<p>Each file holds the whole database. The private keys in it are sealed with the master key, which is not in it: keep the master key and the backups in different places. Downloading asks for your password again.</p>
${table({
  caption: html`In ${wrappable(backups.directory)}`,
  columns: [
    { label: 'Taken', cell: (b: BackupEntry) => formatTime(b.createdAt) },
    { label: 'Size', numeric: true, cell: (b: BackupEntry) => formatBytes(b.bytes) },
    { label: 'File', cell: (b: BackupEntry) => html`<a href="${backupPath(b.name)}">${b.name}</a>` },
  ],
  rows: entries,
  empty: 'No scheduled backup yet.',
})}
<h2>Restore</h2>
<p>On the node host, into an empty data directory: <code>certkeep restore FILE</code>, then start the server. With a backup that does not hold the master key, put the old <code>master.key</code> into the data directory first (or set <code>CERTKEEP_MASTER_KEY</code>).</p>`,
    ),
  );
}

function downloadPage(pc: PageContext, entry: BackupEntry, o: { errors?: Record<string, string>; flash?: Flash[] } = {}, status = 200): Response {
  return page(
    layout(
      { title: 'Download a backup', session: { csrfToken: pc.session.csrfToken, section: 'backups' }, flash: o.flash },
      html`<h1>Download a backup</h1>
${detailsTable('The backup', [
  { label: 'File', value: entry.name },
  { label: 'Taken', value: formatTime(entry.createdAt) },
  { label: 'Size', value: formatBytes(entry.bytes) },
])}
<p>The file holds everything Certkeep stores: the private keys (sealed with the master key, which is not in it), the ACME accounts, and the hashes of passwords, tokens and API keys. Keep it where only administrators can read it.</p>
<form method="post" action="${backupPath(entry.name)}">
  ${csrfField(pc.session.csrfToken)}
  ${reauthFields(pc, 'dl', o.errors ?? {})}
  <div class="actions">${button('Download', { variant: 'primary' })} ${linkButton('/backups', 'All backups')}</div>
</form>`,
    ),
    { status },
  );
}

async function showBackups(request: Request, ctx: HandlerContext): Promise<Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  if (!ctx.deps.backups) return workerPage(pc);
  return listPage(ctx, pc, await ctx.deps.backups.list());
}

async function withBackup(request: RoutedRequest, ctx: HandlerContext): Promise<{ pc: PageContext; entry: BackupEntry } | Response> {
  const pc = await signedIn(request, ctx);
  if (pc instanceof Response) return pc;
  if (!ctx.deps.backups) return workerPage(pc);
  let name = request.params.name ?? '';
  try {
    name = decodeURIComponent(name);
  } catch {
    // shown as it came
  }
  const entry = (await ctx.deps.backups.list()).find((b) => b.name === name);
  if (entry) return { pc, entry };
  return page(
    messagePage({ title: 'No such backup', csrfToken: pc.session.csrfToken, section: 'backups', message: `There is no backup named “${name}”; old ones are deleted as new ones are taken.`, links: [{ href: '/backups', label: 'All backups' }] }),
    { status: 404 },
  );
}

async function showDownload(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  const found = await withBackup(request, ctx);
  if (found instanceof Response) return found;
  return downloadPage(found.pc, found.entry);
}

/**
 * SPEC §7: a form from another site is refused before anything is checked or counted (the
 * password check counts failed attempts). Sec-Fetch-Site when the browser sends it, else Origin.
 */
function fromAnotherSite(request: Request): boolean {
  const site = request.headers.get('sec-fetch-site');
  if (site !== null) return site !== 'same-origin' && site !== 'none';
  const origin = request.headers.get('origin');
  if (origin === null) return false;
  try {
    return new URL(origin).host !== new URL(request.url).host;
  } catch {
    return true;
  }
}

async function submitDownload(request: RoutedRequest, ctx: HandlerContext): Promise<Response> {
  if (fromAnotherSite(request)) return problemResponse(403, 'a backup is downloaded only through a form of this site');
  const found = await withBackup(request, ctx);
  if (found instanceof Response) return found;
  const { pc, entry } = found;
  const refused = await reauthErrors(pc, ctx, 'dl');
  if (refused) return downloadPage(pc, entry, { errors: refused.errors, flash: refused.locked ? [LOCKED] : [] }, refused.locked ? 429 : 400);
  const response = await backupFileResponse(ctx.deps, entry.name);
  if (!response) return downloadPage(pc, entry, { flash: [{ kind: 'error', message: 'The backup was deleted meanwhile (a newer one replaced it).' }] }, 404);
  // No download without its record.
  await record(ctx.deps, byPage(pc, ctx), { action: 'backup.download', object: { kind: 'backup', name: entry.name }, detail: { bytes: entry.bytes } }).catch(async (err) => {
    await response.body?.cancel();
    throw err;
  });
  ctx.deps.log.info('backup downloaded', { name: entry.name, email: pc.session.user.email, clientIp: ctx.clientIp });
  return response;
}

export const backupsPages: readonly PageRoute[] = [
  ['get', '/backups', showBackups],
  ['get', '/backups/:name', showDownload as PageRoute[2]],
  ['post', '/backups/:name', submitDownload as PageRoute[2]],
];
