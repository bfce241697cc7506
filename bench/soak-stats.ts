/**
 * What the soak (bench/soak.ts) reads from the server process and its children in /proc, and from
 * its /metrics, plus the small statistics the report needs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { descendants } from '../server/test/helpers/processes.js';
import { cpuSeconds, rssMiB } from './proc-stats.js';

/** Open file descriptors of a process (entries of /proc/<pid>/fd); 0 if it is gone. */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

const commandLine = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
};

export interface ProcSample {
  /** performance.now() of the sample. */
  at: number;
  rssMiB: number;
  fds: number;
  cpuSeconds: number;
  /** mediasoup workers (one per core): RSS and FDs summed; their UDP/TCP sockets are the transports. */
  workersRssMiB: number;
  workersFds: number;
  workersCpuSeconds: number;
  /** HLS FFmpeg processes (one per channel with both tracks). */
  ffmpegs: number;
  ffmpegRssMiB: number;
  /** Any other process below the server (none expected). */
  others: string[];
  /** The machine's 1-minute load average: other work on a shared machine shows here. */
  load1: number;
}

export function sampleServer(pid: number): ProcSample {
  const children = descendants(pid);
  const workers = children.filter((c) => c.comm.startsWith('mediasoup-work'));
  // FFmpeg is started through `setpriv --pdeathsig` (it dies with the server); a sample may catch
  // it before setpriv has exec'ed it.
  const ffmpegs = children.filter((c) => c.comm === 'ffmpeg' || (c.comm === 'setpriv' && commandLine(c.pid).includes('ffmpeg')));
  const sum = (pids: number[], f: (pid: number) => number) => pids.reduce((s, p) => s + f(p), 0);
  return {
    at: performance.now(),
    rssMiB: rssMiB(pid),
    fds: fdCount(pid),
    cpuSeconds: cpuSeconds(pid),
    workersRssMiB: sum(workers.map((w) => w.pid), rssMiB),
    workersFds: sum(workers.map((w) => w.pid), fdCount),
    workersCpuSeconds: sum(workers.map((w) => w.pid), cpuSeconds),
    ffmpegs: ffmpegs.length,
    ffmpegRssMiB: sum(ffmpegs.map((f) => f.pid), rssMiB),
    others: children.filter((c) => !workers.includes(c) && !ffmpegs.includes(c)).map((c) => `${c.pid} ${commandLine(c.pid).slice(0, 80)}`),
    load1: os.loadavg()[0]!,
  };
}

/** The server's Prometheus text as `name{labels}` → value (samples only, no comments). */
export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** Sum of every sample of a metric (all label sets), or of those whose labels contain `labels`. */
export function metric(values: Map<string, number>, name: string, labels = ''): number {
  let total = 0;
  for (const [key, value] of values) {
    if (key === name || (key.startsWith(`${name}{`) && key.includes(labels))) total += value;
  }
  return total;
}

/** Per-limit refusal counters (livecast_limit_refusals_total{limit="…"}). */
export function refusalsByLimit(values: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, value] of values) {
    const limit = /^livecast_limit_refusals_total\{limit="([^"]+)"\}$/.exec(key)?.[1];
    if (limit) out.set(limit, value);
  }
  return out;
}

/** Least-squares slope of y over x (per unit of x); NaN with fewer than two points. */
export function slope(points: [x: number, y: number][]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? NaN : sxy / sxx;
}

export const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN);
