/**
 * Cost per channel: N channels fed without browsers (FFmpeg sending a pre-encoded H264 + Opus
 * clip with -c copy into RTP ingest, so the load generator itself costs little), each through
 * the full HLS pipeline. Measures CPU of the mediasoup workers and of the HLS FFmpeg processes,
 * resident memory, and whether every playlist keeps advancing on time. The baseline is the same
 * run with video transcoding forced on (what a pipeline that re-encodes would cost).
 *
 *   npm run bench:cost     BENCH_CHANNELS=1,5,10,20,30  BENCH_BASELINE_CHANNELS=1,5,10  BENCH_WINDOW_S=10
 */
import os from 'node:os';
import { startFedChannel, type FedChannel } from '../server/test/helpers/test-app.js';
import { testClip } from '../server/test/helpers/rtp-source.js';
import { printTable, startBenchServer } from './lib.js';
import { cpuPercentOver, memoryOf, rssMiB } from './proc-stats.js';

const list = (v: string | undefined, d: string) => (v ?? d).split(',').map(Number).filter((n) => n > 0);
const COUNTS = list(process.env.BENCH_CHANNELS, '1,5,10,20,30');
const BASELINE_COUNTS = list(process.env.BENCH_BASELINE_CHANNELS, '1,5,10');
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 10);

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
}

async function measure(channels: number, videoMode: 'auto' | 'transcode'): Promise<Result> {
  const server = await startBenchServer({
    HLS_VIDEO_MODE: videoMode,
    MAX_CHANNELS: String(channels + 10),
    CHANNEL_CREATE_PER_MINUTE: '10000',
    HLS_RTP_MAX_PORT: '39999',
  });
  const fed: FedChannel[] = [];
  try {
    // Start in small batches: dozens of FFmpeg start-ups at once would only measure start-up.
    for (let i = 0; i < channels; i += 5) {
      fed.push(...(await Promise.all(Array.from({ length: Math.min(5, channels - i) }, () => startFedChannel(server.app)))));
    }
    await new Promise((r) => setTimeout(r, 3000)); // settle
    const segment = server.app.config.hls.segmentSeconds;
    const startSegments = fed.map((f) => f.channel.hlsStream?.newestSegment ?? -1);
    const cpu = await cpuPercentOver(
      {
        ffmpeg: fed.map((f) => f.channel.ffmpegPid!).filter(Boolean),
        workers: server.app.pool.workers.map((w) => w.pid),
        server: [process.pid],
        senders: fed.map((f) => f.source.pid!).filter(Boolean),
      },
      WINDOW_S * 1000,
    );
    // "On time": the playlist gained at least 80 % of the segments the window should produce.
    const expected = WINDOW_S / segment;
    const onTime = fed.filter((f, i) => (f.channel.hlsStream?.newestSegment ?? -1) - startSegments[i]! >= expected * 0.8).length;
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
      ffmpegCpuPerChannel: cpu.ffmpeg! / channels,
      workerCpuPerChannel: cpu.workers! / channels,
      serverCpu: cpu.server!,
      senderCpuPerChannel: cpu.senders! / channels,
      ffmpegRssPerChannel: ffmpegRss / channels,
      ffmpegUssPerChannel: ffmpegUss / channels,
      onTime,
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
  console.log('Targets: >= 30 channels with every playlist on time; FFmpeg <= 5 % of one core per channel.');
}

function row(mode: string, r: Result): Record<string, string | number> {
  return {
    mode,
    channels: r.channels,
    'playlists on time': `${r.onTime}/${r.channels}`,
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
