import { readFileSync } from 'node:fs';

/** USER_HZ, 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/**
 * User + system CPU time of a process from /proc/<pid>/stat, in µs (10 ms resolution); undefined
 * when it cannot be read. Benchmarks read the embedded ClickHouse server's with it.
 */
export function processCpuMicros(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): utime and stime are 14 and 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

export const minusMicros = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined ? undefined : a - b;
