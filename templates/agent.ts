// The consumer agent on the certificate page (SPEC §4.8, §4.5): "On your servers" — the agent's
// install commands with its SHA-256, the config block for a chosen API key slot, a systemd
// service and timer, a cron line — and the consumers table (who fetched, installed and presents
// which serial; those behind the current one flagged). The generators return plain text so the
// README and tests can use the very same lines.
import { attrs, html, type Html } from '../src/html/html.ts';
import type { ConsumerView } from '../src/domain/consumers.ts';
import { AGENT_SHA256, AGENT_VERSION } from './static/agent.generated.ts';
import { copyButton, table } from './components.ts';
import { formatTime } from './format.ts';

/** Where the agent is served, on both hosts. */
export const AGENT_PATH = '/agent/certkeep-agent.sh';
export const AGENT_BIN = '/usr/local/bin/certkeep-agent';
export const AGENT_CONFIG = '/etc/certkeep/agent.conf';
/** Used when no site hostname is configured: the admin must put Certkeep's address in. */
export const PLACEHOLDER_URL = 'https://certkeep.example.com';
/** Where the example block puts the files (the directory is made by the install commands). */
export const TLS_DIR = '/etc/ssl/certkeep';

export interface AgentBlockOptions {
  /** Certkeep's address as the servers reach it; null: the placeholder. */
  baseUrl: string | null;
  certificate: string;
  /** The key the certificate is served with (its private key is downloaded by its own name). */
  keyName: string | null;
  domains: readonly string[];
  slot: 1 | 2;
  /** The API keys themselves, only in the answer that made them (shown once). */
  certificateApiKey?: string;
  keyApiKey?: string;
}

/** The block for /etc/certkeep/agent.conf: one certificate, installed for nginx. */
export function agentConfigBlock(o: AgentBlockOptions): string {
  const lines = [
    `[${o.certificate}]`,
    `url = ${o.baseUrl ?? PLACEHOLDER_URL}`,
    `certificate = ${o.certificate}`,
    `certificate-api-key = ${o.certificateApiKey ?? `<certificate API key ${o.slot}>`}`,
  ];
  if (o.keyName) {
    if (o.keyName !== o.certificate) lines.push(`key-name = ${o.keyName}`);
    lines.push(`key-api-key = ${o.keyApiKey ?? `<API key ${o.slot} of the key ${o.keyName}>`}`);
  }
  lines.push(`fullchain = ${TLS_DIR}/${o.certificate}.pem`);
  if (o.keyName) lines.push(`key = ${TLS_DIR}/${o.certificate}.key`);
  lines.push('reload = systemctl reload nginx', 'verify = 127.0.0.1:443');
  if (o.domains.length) lines.push(`expect-names = ${o.domains.join(' ')}`);
  return lines.join('\n');
}

/** Download, check against the SHA-256, install; make the directories the config block uses. */
export function installCommands(baseUrl: string | null): string {
  return [
    `curl -fsS -o /tmp/certkeep-agent ${baseUrl ?? PLACEHOLDER_URL}${AGENT_PATH}`,
    `echo "${AGENT_SHA256}  /tmp/certkeep-agent" | sha256sum -c - && install -m 755 /tmp/certkeep-agent ${AGENT_BIN}`,
    `install -d -m 700 /etc/certkeep && install -d -m 755 ${TLS_DIR}`,
    `# put the block below into ${AGENT_CONFIG} (chmod 600: it holds API keys), then:`,
    `${AGENT_BIN} run --dry-run`,
  ].join('\n');
}

export const SYSTEMD_SERVICE = `# /etc/systemd/system/certkeep-agent.service
[Unit]
Description=Certkeep agent: install renewed certificates
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=${AGENT_BIN} run --quiet
# The ETags and undelivered reports live in /var/lib/certkeep-agent.
StateDirectory=certkeep-agent
StateDirectoryMode=0700`;

/** Hourly, each server at its own random point of the hour (so a fleet does not come at once). */
export const SYSTEMD_TIMER = `# /etc/systemd/system/certkeep-agent.timer
[Unit]
Description=Run the Certkeep agent every hour

[Timer]
OnCalendar=hourly
RandomizedDelaySec=1h
FixedRandomDelay=true
Persistent=true

[Install]
WantedBy=timers.target`;

export const SYSTEMD_ENABLE = 'systemctl daemon-reload && systemctl enable --now certkeep-agent.timer';

/**
 * The cron alternative (/etc/cron.d/certkeep-agent): hourly at a minute derived from the
 * certificate's name, then a random sleep of up to an hour so that servers spread out.
 */
export function cronLine(certificate: string): string {
  let minute = 0;
  for (const c of certificate) minute = (minute * 31 + c.charCodeAt(0)) % 60;
  return `${minute} * * * * root sleep $(( $(od -An -N1 -tu1 /dev/urandom) * 14 )) && ${AGENT_BIN} run --quiet`;
}

function commands(id: string, heading: string, text: string): Html {
  return html`<div class="copy-row"><h3>${heading}</h3>${copyButton({ target: id, what: heading.toLowerCase() })}</div>
<pre class="commands" id="${id}"><code>${text}</code></pre>`;
}

export interface AgentSectionOptions extends Omit<AgentBlockOptions, 'certificateApiKey' | 'keyApiKey'> {
  /** The page's own path, for the slot chooser (a GET form: works without JavaScript). */
  path: string;
}

/** "On your servers": the agent, its config block for the chosen slot, systemd and cron. */
export function agentSection(o: AgentSectionOptions): Html {
  const slotOptions = ([1, 2] as const).map((n) => html`<option${attrs({ value: String(n), selected: n === o.slot })}>API key ${n}</option>`);
  return html`<section aria-labelledby="agent-heading" id="agent"><h2 id="agent-heading">On your servers</h2>
<p>The Certkeep agent (<code>certkeep-agent</code> ${AGENT_VERSION}, a shell script that needs only curl and openssl) fetches this certificate when it changes, checks it, installs it without a half-written file, reloads the server, checks that the server presents it and tells Certkeep, which lists it above under consumers. Check the script you download against its SHA-256:</p>
<pre class="commands"><code id="agent-sha256">${AGENT_SHA256}</code></pre>
${o.baseUrl
  ? null
  : html`<div class="flash"><p class="info"><strong>No site hostname is configured</strong>, so these lines say <code>${PLACEHOLDER_URL}</code>: replace it with the address your servers reach Certkeep at.</p></div>`}
<form method="get" action="${o.path}#agent" class="inline">
  <label for="agent-slot">API key for this server</label>
  <select id="agent-slot" name="agent-slot">${slotOptions}</select>
  <button type="submit" class="button secondary">Show</button>
</form>
<p>Put the certificate's API key ${o.slot}${o.keyName ? html` and API key ${o.slot} of the key ${o.keyName}` : null} where the block says so: Certkeep shows API keys only when they are made (replace one above to get a new one). Servers that use the other slot keep working while one is replaced.</p>
${commands('agent-install', 'Install the agent', installCommands(o.baseUrl))}
${commands('agent-config', `Config block (${AGENT_CONFIG})`, agentConfigBlock(o))}
${commands('agent-systemd', 'systemd service and timer', `${SYSTEMD_SERVICE}\n\n${SYSTEMD_TIMER}\n\n# then:\n${SYSTEMD_ENABLE}`)}
${commands('agent-cron', 'A cron line instead (/etc/cron.d/certkeep-agent)', cronLine(o.certificate))}
</section>`;
}

/** A config block with the API keys just made, in a shown-once answer. */
export function agentConfigShown(o: AgentBlockOptions): Html {
  return commands('agent-config-shown', `Config block for the agent (${AGENT_CONFIG})`, agentConfigBlock(o));
}

// ---- consumers ---------------------------------------------------------------------------------

export interface ConsumersSectionOptions {
  consumers: readonly ConsumerView[];
  /** The `staleHours` setting: a consumer behind for this long is stale. */
  staleHours: number;
  /** More consumers than shown. */
  more: boolean;
  currentSerial: string | null;
  name: string;
}

function serialCell(serial: string | null, at: string | null, current: string | null): Html {
  if (!serial) return html`—`;
  const mark = current && serial !== current ? html` <span class="muted">(not the current one)</span>` : null;
  return html`<code>${serial}</code>${mark}<br><span class="muted">${formatTime(at)}</span>`;
}

export function consumerStateCell(c: ConsumerView): Html {
  if (c.installed === false) return html`<span class="badge invalid">Install failed</span>`;
  if (c.verified === false) return html`<span class="badge invalid">Not presented</span>`;
  if (c.stale) return html`<span class="badge invalid">Stale</span><br><span class="muted">behind since ${formatTime(c.behindSince)}</span>`;
  if (c.behind) return html`<span class="badge expired">Behind</span>`;
  return html`<span class="badge valid">Current</span>`;
}

/** Why a consumer is in trouble, or null. */
export function needsAttention(c: ConsumerView): boolean {
  return c.behind || c.stale || c.installed === false || c.verified === false;
}

const RELOAD_WORDS: Record<string, string> = { ok: 'reloaded', failed: 'reload failed, previous files put back', skipped: 'no reload' };

function lastReport(c: ConsumerView): Html {
  if (!c.reportedAt) return html`<span class="muted">no agent report</span>`;
  const verified = c.verified === true ? 'presents it' : c.verified === false ? 'does not present it' : 'not checked';
  return html`${c.installed ? 'installed' : 'not installed'}, ${RELOAD_WORDS[c.reload ?? ''] ?? c.reload ?? '—'}, ${verified}<br><span class="muted">${formatTime(c.reportedAt)}${c.agentVersion ? ` · agent ${c.agentVersion}` : ''}</span>`;
}

/** Who uses this certificate: one row per API key slot and address. */
export function consumersSection(o: ConsumersSectionOptions): Html {
  const behind = o.consumers.filter(needsAttention).length;
  const stale = o.consumers.filter((c) => c.stale).length;
  const consumersTable = table<ConsumerView>({
    id: 'consumers-table',
    caption: `Consumers of ${o.name}`,
    captionHidden: true,
    columns: [
      { label: 'Server', cell: (c) => html`<code>${c.address}</code>${c.host ? html`<br>${c.host}` : null}<br><span class="muted">API key ${c.apiKeySlot}</span>` },
      { label: 'State', cell: consumerStateCell },
      { label: 'Fetched', cell: (c) => serialCell(c.fetchedSerial, c.fetchedAt, o.currentSerial) },
      { label: 'Installed', cell: (c) => serialCell(c.installedSerial, c.installedAt, o.currentSerial) },
      { label: 'Last agent report', cell: lastReport },
    ],
    rows: o.consumers,
    empty: 'No server has reported yet. Servers appear here once they fetch the certificate or their agent reports.',
  });
  return html`<section aria-labelledby="consumers-heading" id="consumers"><h2 id="consumers-heading">Consumers</h2>
<p>The servers that fetch this certificate, by API key and address${o.currentSerial ? html`; the current serial is <code>${o.currentSerial}</code>` : null}.${behind ? html` <strong>${behind} need${behind === 1 ? 's' : ''} attention.</strong>` : null}</p>
${stale
  ? html`<div class="flash"><p class="error" id="consumers-stale"><strong>${stale} stale:</strong> ${stale === 1 ? 'it has' : 'they have'} not fetched the current serial ${o.staleHours} hours or more after the renewal (the <a href="/settings#consumers">staleHours</a> setting). Look at the agent or the fetching script on ${stale === 1 ? 'that server' : 'those servers'}.</p></div>`
  : null}
${consumersTable}
${o.more ? html`<p class="muted">More consumers than shown here: <code>GET /api/v1/certificates/${o.name}/consumers</code> lists them all.</p>` : null}
</section>`;
}
