// Resident memory (VmRSS from /proc/<pid>/status, of a process and its descendants, sampled on a
// timer) and CPU time of another process: on a shared machine, CPU time tells the work done apart
// from the waiting for a core.
import { readdirSync, readFileSync } from 'node:fs';

/**
 * VmRSS of `pid` and all its descendants in MiB, or undefined once the process is gone. The
 * descendants count so that a launcher which hands the work to a child process (a re-exec with
 * other flags, a build step left running) cannot look small.
 */
export function rssMiB(pid: number): number | undefined {
  const own = vmRssKiB(pid);
  if (own === undefined) return undefined;
  return (own + descendants(pid).reduce((sum, child) => sum + (vmRssKiB(child) ?? 0), 0)) / 1024;
}

function vmRssKiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Children of every thread of `pid`, and theirs (Linux 3.5+: /proc/<pid>/task/<tid>/children). */
function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const list = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (list) children = children.concat(list.split(' ').map(Number));
    }
  } catch {
    return children; // gone meanwhile
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
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
