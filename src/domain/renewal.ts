// When a certificate is due again (SPEC §7). Without ARI: when a third of its lifetime is left,
// or `renewDays` before expiry when that setting is given.
const DAY = 86_400_000;

export function renewalTime(notBefore: number, notAfter: number, renewDays?: number | null): number {
  if (renewDays && renewDays > 0) {
    const lifetime = notAfter - notBefore;
    // Never earlier than half-way through a short-lived certificate's life.
    return Math.max(notAfter - renewDays * DAY, notBefore + lifetime / 2);
  }
  return notAfter - (notAfter - notBefore) / 3;
}

/** Back-off after consecutive failures: about 1 min, 10 min, 100 min, then daily. */
export function backoffMs(failures: number): number {
  const steps = [60_000, 600_000, 6_000_000, DAY];
  return steps[Math.min(Math.max(failures, 1), steps.length) - 1];
}
