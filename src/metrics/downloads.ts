// Download API requests counted in this process (node host): by kind and outcome, from the
// answer's status. Process-local on purpose: a row per download would cost a write on the hot
// path. The counts start at zero with each process (Prometheus's rate() and increase() take a
// restart in their stride), and each host of several counts its own.
import type { Sample } from './exposition.ts';

export type DownloadKind = 'certificate' | 'key';

const KINDS: readonly DownloadKind[] = ['certificate', 'key'];

/** The outcome label of each status the download API answers; any other status is `error`. */
const OUTCOMES: Readonly<Record<number, string>> = {
  200: 'ok',
  304: 'not_modified',
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  429: 'rate_limited',
};
const OUTCOME_LABELS = [...Object.values(OUTCOMES), 'error'];

// The download API's paths, in any case (as Certera's were matched).
const CERTIFICATE_PATH = /^\/api\/certificate\//i;
const KEY_PATH = /^\/api\/key\//i;

/** Which download a path is, if it is one. */
export function downloadKindOf(pathname: string): DownloadKind | undefined {
  if (CERTIFICATE_PATH.test(pathname)) return 'certificate';
  if (KEY_PATH.test(pathname)) return 'key';
  return undefined;
}

export class DownloadCounts {
  /** `kind outcome` → count: at most 2 × 8 entries. */
  private readonly counts = new Map<string, number>();

  count(kind: DownloadKind, status: number): void {
    const key = `${kind} ${OUTCOMES[status] ?? 'error'}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Every kind and outcome, zeros included (so that increase() sees a series' first count). */
  samples(): Sample[] {
    return KINDS.flatMap((kind) => OUTCOME_LABELS.map((outcome) => ({ labels: { kind, outcome }, value: this.counts.get(`${kind} ${outcome}`) ?? 0 })));
  }
}
