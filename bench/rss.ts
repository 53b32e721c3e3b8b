// Resident memory (VmRSS, from /proc/<pid>/status, sampled on a timer) and CPU time of another
// process: on a shared machine, CPU time tells the work done apart from the waiting for a core.
import { readFileSync } from 'node:fs';

/** VmRSS of `pid` in MiB, or undefined once the process is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system, all threads) `pid` has used so far, in ms; undefined once it is gone. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which is in parentheses and may hold spaces): utime is the
    // 14th field of the line, stime the 15th, in clock ticks (USER_HZ, 100 on Linux).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

export interface RssSampler {
  /** Stops sampling; returns the samples taken (MiB). */
  stop(): number[];
}

/** Samples VmRSS of `pid` now and every `everyMs` (default 100 ms) until stopped. */
export function sampleRss(pid: number, everyMs = 100): RssSampler {
  const samples: number[] = [];
  const take = () => {
    const mib = rssMiB(pid);
    if (mib !== undefined) samples.push(mib);
  };
  take();
  const timer = setInterval(take, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}
