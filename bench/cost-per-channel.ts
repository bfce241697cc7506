/**
 * Cost per channel: N channels fed without browsers (FFmpeg sending a pre-encoded H264 + Opus
 * clip with -c copy into RTP ingest, so the load generator itself costs little), each through
 * the full HLS pipeline. Measures CPU of the mediasoup workers and of the HLS FFmpeg processes,
 * resident memory, and whether every playlist keeps advancing on time. The baseline is the same
 * run with video transcoding forced on (what a pipeline that re-encodes would cost).
 * Then the ceiling: channels are added BENCH_CEILING_STEP at a time until a step has a playlist
 * that falls behind (BENCH_CEILING_STEP=0 skips it).
 *
 *   npm run bench:cost     BENCH_CHANNELS=1,5,10,20,30  BENCH_BASELINE_CHANNELS=1,5,10  BENCH_WINDOW_S=10
 *                          BENCH_CEILING_STEP=10  BENCH_CEILING_MAX=120
 */
import os from 'node:os';
import { startFedChannel, type FedChannel } from '../server/test/helpers/test-app.js';
import { testClip } from '../server/test/helpers/rtp-source.js';
import type { LlHlsStream } from '../server/src/readers/hls/ll-stream.js';
import { printTable, startBenchServer } from './lib.js';
import { cpuPercentOver, memoryOf, rssMiB } from './proc-stats.js';

const list = (v: string | undefined, d: string) => (v ?? d).split(',').map(Number).filter((n) => n > 0);
const COUNTS = list(process.env.BENCH_CHANNELS, '1,5,10,20,30');
const BASELINE_COUNTS = list(process.env.BENCH_BASELINE_CHANNELS, '1,5,10');
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 10);
const CEILING_STEP = Number(process.env.BENCH_CEILING_STEP ?? 10);
const CEILING_MAX = Number(process.env.BENCH_CEILING_MAX ?? 120);
/** On time: the playlist gained at least this share of the window's wall-clock time in media (it keeps up with real time). */
const MIN_PACE = 0.95;
/** Counted apart: playlists that never went longer than this without a new part (5 part targets: a player 3 parts behind would stall). */
const MAX_PART_GAP_MS = 1000;
/** The load generator's own ports: between the server's HLS range (20000–29999) and the kernel's ephemeral ones (32768–). */
const SENDER_FIRST_PORT = 30_000;

/**
 * Follows one channel's playlist through the measuring window: the media it gained (the parts'
 * durations) and the longest wall-clock wait between two new parts.
 */
function watchPace(stream: LlHlsStream): () => { mediaSeconds: number; longestGapMs: number } {
  let last = stream.newestPart;
  let lastAt = Date.now();
  let mediaSeconds = 0;
  let longestGapMs = 0;
  const stop = stream.packager.onChange(() => {
    const newest = stream.newestPart;
    if (!newest || (last && newest.msn === last.msn && newest.part === last.part)) return;
    last = newest;
    const now = Date.now();
    longestGapMs = Math.max(longestGapMs, now - lastAt);
    lastAt = now;
    mediaSeconds += stream.packager.segments.at(-1)?.parts.at(-1)?.duration ?? 0;
  });
  return () => {
    stop();
    return { mediaSeconds, longestGapMs: Math.max(longestGapMs, Date.now() - lastAt) };
  };
}

interface Result {
  channels: number;
  ffmpegCpuPerChannel: number;
  workerCpuPerChannel: number;
  serverCpu: number;
  senderCpuPerChannel: number;
  ffmpegRssPerChannel: number;
  /** Private pages (Private_Clean + Private_Dirty): what one more channel's FFmpeg costs; RSS counts the shared libraries in each. */
  ffmpegUssPerChannel: number;
  onTime: number;
  /** On time and never waiting over MAX_PART_GAP_MS for a part. */
  smooth: number;
  /** Over the channels: the least media gained per wall-clock second, and the longest wait for a part. */
  slowestPace: number;
  longestPartGapMs: number;
}

async function measure(channels: number, videoMode: 'auto' | 'transcode'): Promise<Result> {
  const server = await startBenchServer({
    HLS_VIDEO_MODE: videoMode,
    MAX_CHANNELS: String(channels + 10),
    CHANNEL_CREATE_PER_MINUTE: '10000',
  });
  const fed: FedChannel[] = [];
  try {
    // Start in small batches: dozens of FFmpeg start-ups at once would only measure start-up.
    // A channel that does not go live counts as one behind.
    let failedStarts = 0;
    for (let i = 0; i < channels; i += 5) {
      // Senders on fixed ports: FFmpeg's RTP output binds RTCP next to an ephemeral RTP port, which
      // another of dozens of senders sometimes holds ("bind failed"), and that channel never starts.
      const fromPorts = (k: number) => ({ video: SENDER_FIRST_PORT + 4 * k, audio: SENDER_FIRST_PORT + 4 * k + 2 });
      const batch = await Promise.allSettled(Array.from({ length: Math.min(5, channels - i) }, (_, j) => startFedChannel(server.app, { fromPorts: fromPorts(i + j) })));
      for (const started of batch) {
        if (started.status === 'fulfilled') fed.push(started.value);
        else {
          failedStarts++;
          console.error(`a channel did not go live: ${String(started.reason)}`);
        }
      }
    }
    await new Promise((r) => setTimeout(r, 3000)); // settle
    const paces = fed.map((f) => (f.channel.hlsStream ? watchPace(f.channel.hlsStream) : () => ({ mediaSeconds: 0, longestGapMs: Infinity })));
    const cpu = await cpuPercentOver(
      {
        ffmpeg: fed.map((f) => f.channel.ffmpegPid!).filter(Boolean),
        workers: server.app.pool.workers.map((w) => w.pid),
        server: [process.pid],
        senders: fed.map((f) => f.source.pid!).filter(Boolean),
      },
      WINDOW_S * 1000,
    );
    const pace = paces.map((finish) => finish());
    const paceOf = (p: { mediaSeconds: number }) => p.mediaSeconds / WINDOW_S;
    const onTime = pace.filter((p) => paceOf(p) >= MIN_PACE).length;
    const smooth = pace.filter((p) => paceOf(p) >= MIN_PACE && p.longestGapMs <= MAX_PART_GAP_MS).length;
    if (failedStarts > 0) pace.push({ mediaSeconds: 0, longestGapMs: Infinity });
    const ffmpegRss = fed.reduce((s, f) => s + rssMiB(f.channel.ffmpegPid!), 0);
    const ffmpegUss = fed.reduce((s, f) => {
      try {
        return s + memoryOf(f.channel.ffmpegPid!).uss / 1024;
      } catch {
        return s; // that FFmpeg is gone
      }
    }, 0);
    return {
      channels,
      ffmpegCpuPerChannel: cpu.ffmpeg! / Math.max(1, fed.length),
      workerCpuPerChannel: cpu.workers! / Math.max(1, fed.length),
      serverCpu: cpu.server!,
      senderCpuPerChannel: cpu.senders! / Math.max(1, fed.length),
      ffmpegRssPerChannel: ffmpegRss / Math.max(1, fed.length),
      ffmpegUssPerChannel: ffmpegUss / Math.max(1, fed.length),
      onTime,
      smooth,
      slowestPace: Math.min(...pace.map(paceOf)),
      longestPartGapMs: Math.max(...pace.map((p) => p.longestGapMs)),
    };
  } finally {
    await Promise.all(fed.map((f) => f.stop()));
    await server.stop();
  }
}

export async function runCostPerChannel(): Promise<void> {
  testClip();
  const rows: Record<string, string | number>[] = [];
  const passthrough = new Map<number, Result>();
  for (const n of COUNTS) {
    console.error(`passthrough, ${n} channels …`);
    const r = await measure(n, 'auto');
    passthrough.set(n, r);
    rows.push(row('passthrough (-c:v copy)', r));
  }
  for (const n of BASELINE_COUNTS) {
    console.error(`transcode baseline, ${n} channels …`);
    const r = await measure(n, 'transcode');
    const p = passthrough.get(n);
    rows.push({ ...row('transcode (libx264, baseline)', r), 'FFmpeg CPU passthrough / transcode': p ? (p.ffmpegCpuPerChannel / r.ffmpegCpuPerChannel).toFixed(2) : '—' });
  }
  for (const r of rows) r['FFmpeg CPU passthrough / transcode'] ??= '';
  printTable(`Cost per channel (640x480 30 fps H264 + Opus, ${WINDOW_S} s windows, ${os.availableParallelism()} cores)`, rows);
  console.log(`On time: the playlist gained >= ${MIN_PACE * 100} % of the window in media (it keeps up with real time).`);
  console.log('Targets: >= 30 channels with every playlist on time; FFmpeg <= 5 % of one core per channel.');
  if (CEILING_STEP > 0) await findCeiling(passthrough);
}

/** Adds channels until a step has a playlist that falls behind: the largest N all on time, and the first N not. */
async function findCeiling(measured: Map<number, Result>): Promise<void> {
  const results = [...measured.values()];
  const allOnTime = (r: Result) => r.onTime === r.channels;
  let firstBehind = results.find((r) => !allOnTime(r))?.channels ?? null;
  let n = Math.max(0, ...results.map((r) => r.channels));
  const rows: Record<string, string | number>[] = [];
  while (firstBehind === null && n + CEILING_STEP <= CEILING_MAX) {
    n += CEILING_STEP;
    console.error(`ceiling, ${n} channels …`);
    const r = await measure(n, 'auto');
    results.push(r);
    rows.push({ ...row('passthrough (-c:v copy)', r), 'machine load (1 min)': os.loadavg()[0]!.toFixed(1) });
    if (!allOnTime(r)) firstBehind = n;
  }
  const largest = Math.max(0, ...results.filter((r) => allOnTime(r) && (firstBehind === null || r.channels < firstBehind)).map((r) => r.channels));
  if (rows.length) printTable(`Channels to the ceiling (${CEILING_STEP} more per step, up to ${CEILING_MAX})`, rows);
  console.log(firstBehind === null ? `Ceiling: every playlist on time up to ${largest} channels (BENCH_CEILING_MAX); not reached.` : `Ceiling: ${largest} channels with every playlist on time; at ${firstBehind} at least one fell behind.`);
}

function row(mode: string, r: Result): Record<string, string | number> {
  return {
    mode,
    channels: r.channels,
    'playlists on time': `${r.onTime}/${r.channels}`,
    [`no wait over ${MAX_PART_GAP_MS} ms for a part`]: `${r.smooth}/${r.channels}`,
    'slowest media s per s': r.slowestPace.toFixed(3),
    'longest wait for a part ms': Number.isFinite(r.longestPartGapMs) ? Math.round(r.longestPartGapMs) : '—',
    'FFmpeg CPU %/ch': r.ffmpegCpuPerChannel,
    'worker CPU %/ch': r.workerCpuPerChannel,
    'server (node) CPU %': r.serverCpu,
    'sender CPU %/ch (load gen.)': r.senderCpuPerChannel,
    'FFmpeg RSS MiB/ch': r.ffmpegRssPerChannel,
    'FFmpeg USS MiB/ch': r.ffmpegUssPerChannel.toFixed(1),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runCostPerChannel().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
