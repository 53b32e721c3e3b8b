// Reading the HTTP headers ACME gives meaning to: Retry-After (RFC 9110 §10.2.3, RFC 8555 §6.6
// and §7.4) and Link (RFC 8288; RFC 8555 §7.4.2 alternate chains, §7.5 `up`, §7.1.1 `index`).

/**
 * Milliseconds to wait from a Retry-After value: delta-seconds or an HTTP-date, measured
 * against `nowMs`. Dates in the past give 0; anything unreadable gives undefined.
 */
export function retryAfterMs(value: string | null | undefined, nowMs: number): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date always names a weekday or month; a bare number or junk must not reach Date.parse.
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export interface LinkRelation {
  /** Absolute URL (resolved against the request URL, RFC 8288 §3.1). */
  url: string;
  rel: string;
}

/**
 * Parses a Link header (several headers arrive joined with ", "). Each link may carry several
 * space-separated relation types; one entry per type is returned.
 */
export function parseLinks(value: string | null | undefined, baseUrl: string): LinkRelation[] {
  const links: LinkRelation[] = [];
  if (!value) return links;
  let i = 0;
  while (i < value.length) {
    const open = value.indexOf('<', i);
    if (open < 0) break;
    const close = value.indexOf('>', open);
    if (close < 0) break;
    const target = value.slice(open + 1, close);
    // Parameters run to the next comma that is outside a quoted string.
    let end = close + 1;
    let quoted = false;
    for (; end < value.length; end++) {
      const c = value[end];
      if (c === '"') quoted = !quoted;
      else if (c === '\\' && quoted) end++;
      else if (c === ',' && !quoted) break;
    }
    const rels = relParam(value.slice(close + 1, end));
    for (const rel of rels) {
      try {
        links.push({ url: new URL(target, baseUrl).href, rel });
      } catch {
        // An unreadable target is skipped; the other links still count.
      }
    }
    i = end + 1;
  }
  return links;
}

function relParam(params: string): string[] {
  const match = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
  const rel = match?.[1] ?? match?.[2];
  return rel ? rel.trim().split(/\s+/).map((r) => r.toLowerCase()) : [];
}
