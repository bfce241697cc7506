/**
 * bench:ffmpeg-memory — what the HLS FFmpeg of one channel costs in memory (issue 19: "57 MiB RSS
 * per channel; target ≤ 30 MiB without more CPU"). Each measurement starts CHANNELS FFmpegs with
 * the server's command line (SDP in, fMP4 on a pipe the benchmark reads and drops), fed RTP by
 * `-c copy` FFmpeg senders (bench:packaging's clip: 1280x720 30 fps H264 Constrained Baseline,
 * a key frame a second, + Opus). After SETTLE_S + WINDOW_S it reads, per FFmpeg, /proc/<pid>/smaps_rollup:
 *  - RSS: what `ps` and `top` show; it counts every shared library page in every process;
 *  - PSS: shared pages divided among the processes that map them;
 *  - USS (Private_Clean + Private_Dirty): pages no other process has: what one more channel costs;
 *  - its heap;
 * and how much the machine's MemAvailable grows when they end (the machine's view, noisy).
 * CPU is read over WINDOW_S. Variants of the command line that could change memory run in the same
 * rounds (alternating order), each against the server's ("server"); median and worst per variant.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ffmpegFmp4Args } from '../server/src/readers/hls/ffmpeg-args.js';
import { startRtpSource } from '../server/test/helpers/rtp-source.js';
import { median, printTable } from './lib.js';
import { clip, clipSdp } from './packaging-cost.js';
import { cpuPercentOver, memoryOf } from './proc-stats.js';

const CHANNELS = Number(process.env.FFMPEG_MEMORY_CHANNELS ?? 4);
const ROUNDS = Number(process.env.FFMPEG_MEMORY_ROUNDS ?? 3);
const SETTLE_S = 10;
const WINDOW_S = Number(process.env.FFMPEG_MEMORY_WINDOW_S ?? 40);
const FIRST_PORT = 47_000;

interface Variant {
  name: string;
  args: (sdpPath: string) => string[];
  env: NodeJS.ProcessEnv;
}

const serverArgs = (sdpPath: string) => ffmpegFmp4Args({ sdpPath, fragmentMicros: 200_000, keyFrameSeconds: 1, video: 'copy' });
/** The server's command line with input options before `-i`. */
const withInputOptions = (options: string[]) => (sdpPath: string) => {
  const args = serverArgs(sdpPath);
  args.splice(args.indexOf('-i'), 0, ...options);
  return args;
};

const VARIANTS: Record<string, Variant> = {
  server: { name: 'server', args: serverArgs, env: process.env },
  threads1: { name: '-threads 1', args: withInputOptions(['-threads', '1']), env: process.env },
  probe: { name: '-probesize 500k -analyzeduration 1 s', args: withInputOptions(['-probesize', '500000', '-analyzeduration', '1000000']), env: process.env },
  reorder: { name: '-reorder_queue_size 64 -buffer_size 256k', args: withInputOptions(['-reorder_queue_size', '64', '-buffer_size', '262144']), env: process.env },
  arena1: { name: 'MALLOC_ARENA_MAX=1', args: serverArgs, env: { ...process.env, MALLOC_ARENA_MAX: '1' } },
};

const memAvailableKb = () => Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);

interface Measurement {
  variant: string;
  round: number;
  /** MiB per channel. */
  rss: number;
  pss: number;
  uss: number;
  heap: number;
  machine: number;
  cpu: number;
  alive: number;
}

const started = new Set<ChildProcess>();
function killAll(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  started.clear();
}

async function measure(variant: Variant, round: number): Promise<Measurement> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livecast-bench-ffmpeg-memory-'));
  const receivers: ChildProcess[] = [];
  try {
    for (let i = 0; i < CHANNELS; i++) {
      const base = FIRST_PORT + i * 4;
      const sdpPath = path.join(dir, `channel-${i}.sdp`);
      await writeFile(sdpPath, clipSdp(`bench ${i}`, base));
      const receiver = spawn('ffmpeg', variant.args(sdpPath), { stdio: ['ignore', 'pipe', 'ignore'], env: variant.env });
      receiver.stdout!.on('data', () => undefined); // read and dropped, as the packager's pipe is read
      started.add(receiver);
      receivers.push(receiver);
    }
    await new Promise((r) => setTimeout(r, 500)); // listening
    for (let i = 0; i < CHANNELS; i++) {
      const base = FIRST_PORT + i * 4;
      started.add(startRtpSource({ video: { rtpPort: base, rtcpPort: base + 1 }, audio: { rtpPort: base + 2, rtcpPort: base + 3 } }, clip(1), SETTLE_S + WINDOW_S + 30));
      await new Promise((r) => setTimeout(r, 250)); // staggered, as channels start
    }
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    const pids = receivers.map((r) => r.pid!);
    const cpu = await cpuPercentOver({ ffmpeg: pids }, WINDOW_S * 1000);
    const alive = receivers.filter((r) => r.exitCode === null && r.signalCode === null);
    const memory = alive.map((r) => memoryOf(r.pid!));
    const perChannel = (k: keyof ReturnType<typeof memoryOf>) => memory.reduce((sum, m) => sum + m[k], 0) / memory.length / 1024;
    // The machine's view: what comes back when these FFmpegs end (their senders go on).
    const availableBefore = memAvailableKb();
    for (const r of receivers) r.kill('SIGKILL');
    await Promise.all(receivers.map((r) => (r.exitCode === null && r.signalCode === null ? new Promise((done) => r.once('exit', done)) : null)));
    await new Promise((r) => setTimeout(r, 1000));
    const freed = (memAvailableKb() - availableBefore) / alive.length / 1024;
    return {
      variant: variant.name,
      round,
      rss: perChannel('rss'),
      pss: perChannel('pss'),
      uss: perChannel('uss'),
      heap: perChannel('heap'),
      machine: freed,
      cpu: cpu.ffmpeg! / CHANNELS,
      alive: alive.length,
    };
  } finally {
    killAll();
    await new Promise((r) => setTimeout(r, 500));
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runFfmpegMemory(): Promise<void> {
  const names = (process.env.FFMPEG_MEMORY_VARIANTS ?? 'server,threads1,probe,reorder,arena1').split(',');
  const variants = names.map((n) => {
    const v = VARIANTS[n];
    if (!v) throw new Error(`no variant ${n} (${Object.keys(VARIANTS).join(', ')})`);
    return v;
  });
  const onSignal = () => {
    killAll();
    process.exit(130);
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  clip(1);
  const all: Measurement[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternating order: a variant never always runs on a warmer machine.
      const order = round % 2 === 1 ? variants : [...variants].reverse();
      for (const v of order) {
        console.error(`round ${round}: ${v.name}, ${CHANNELS} channels, ${WINDOW_S} s …`);
        const m = await measure(v, round);
        console.error(`  RSS ${m.rss.toFixed(1)}, PSS ${m.pss.toFixed(1)}, USS ${m.uss.toFixed(1)} MiB/ch; CPU ${m.cpu.toFixed(2)} %/ch; ${m.alive}/${CHANNELS} running`);
        all.push(m);
      }
    }
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    killAll();
  }
  const mib = (v: number) => v.toFixed(1);
  printTable(
    `HLS FFmpeg memory per channel, MiB (${CHANNELS} channels, after ${SETTLE_S + WINDOW_S} s; every round)`,
    all.map((m) => ({ round: m.round, variant: m.variant, RSS: mib(m.rss), PSS: mib(m.pss), 'USS (private)': mib(m.uss), heap: mib(m.heap), 'MemAvailable back at exit': mib(m.machine), 'CPU %/ch': m.cpu.toFixed(2), running: `${m.alive}/${CHANNELS}` })),
  );
  const server = all.filter((m) => m.variant === variants[0]!.name);
  const worst = (values: number[]) => Math.max(...values);
  const stat = (ms: Measurement[], k: 'rss' | 'pss' | 'uss' | 'heap' | 'machine') => `${mib(median(ms.map((m) => m[k])))} / ${mib(worst(ms.map((m) => m[k])))}`;
  printTable(
    `median / worst over ${ROUNDS} rounds (MiB per channel); ratios of medians to "${variants[0]!.name}"`,
    variants.map((v) => {
      const ms = all.filter((m) => m.variant === v.name);
      return {
        variant: v.name,
        RSS: stat(ms, 'rss'),
        PSS: stat(ms, 'pss'),
        'USS (private)': stat(ms, 'uss'),
        heap: stat(ms, 'heap'),
        'MemAvailable back at exit': stat(ms, 'machine'),
        'CPU %/ch': `${median(ms.map((m) => m.cpu)).toFixed(2)} / ${worst(ms.map((m) => m.cpu)).toFixed(2)}`,
        'USS ratio': (median(ms.map((m) => m.uss)) / median(server.map((m) => m.uss))).toFixed(2),
        'CPU ratio': (median(ms.map((m) => m.cpu)) / median(server.map((m) => m.cpu))).toFixed(2),
      };
    }),
  );
}
