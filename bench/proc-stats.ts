import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU time (seconds) a process has used so far, from /proc/<pid>/stat; 0 if it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime + stime
  } catch {
    return 0;
  }
}

/** Resident memory (MiB) of a process, from /proc/<pid>/status; 0 if it is gone. */
export function rssMiB(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return Number(kb ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** CPU used by groups of processes over a window, as % of one core. */
export async function cpuPercentOver(groups: Record<string, number[]>, windowMs: number): Promise<Record<string, number>> {
  const sum = (pids: number[]) => pids.reduce((s, p) => s + cpuSeconds(p), 0);
  const before = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, sum(pids)]));
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, windowMs));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, ((sum(pids) - before[k]!) / seconds) * 100]));
}

/** kB fields of /proc/<pid>/smaps_rollup, and the heap's private pages from /proc/<pid>/smaps. */
export function memoryOf(pid: number): { rss: number; pss: number; uss: number; heap: number } {
  const field = (text: string, name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const heapAt = smaps.indexOf('[heap]');
  const heap = heapAt < 0 ? 0 : field(smaps.slice(heapAt), 'Private_Dirty');
  return { rss: field(rollup, 'Rss'), pss: field(rollup, 'Pss'), uss: field(rollup, 'Private_Clean') + field(rollup, 'Private_Dirty'), heap };
}
