/**
 * What recording costs (issue 18): disk per hour of broadcast, and the CPU of the server process
 * (where the recorder runs: it writes the packager's segments, no FFmpeg of its own) with
 * RECORDINGS=on against RECORDINGS=off, for N channels fed without browsers (as bench:cost feeds
 * them). Each run measures both, one after the other, over the same window; BENCH_RUNS runs, the
 * median and the worst reported. Then the time to remux one recording into its MP4 download.
 *
 *   npm run bench:recording     BENCH_CHANNELS (3)  BENCH_WINDOW_S (30)  BENCH_RUNS (3)
 */
import { startFedChannel, type FedChannel } from '../server/test/helpers/test-app.js';
import { testClip } from '../server/test/helpers/rtp-source.js';
import { median, printTable, startBenchServer } from './lib.js';

const CHANNELS = Number(process.env.BENCH_CHANNELS ?? 3);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 30);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

interface Phase {
  /** % of one core used by the server's own process, per channel. */
  serverCpuPerChannel: number;
  /** Recorded bytes per hour per channel (GB), when on. */
  diskGbPerHour: number;
  remuxMs: number;
}

async function measure(recordings: 'on' | 'off'): Promise<Phase> {
  const server = await startBenchServer({ RECORDINGS: recordings, MAX_CHANNELS: String(CHANNELS + 5), CHANNEL_CREATE_PER_MINUTE: '10000', MAX_CHANNELS_PER_ADDRESS: '1000' });
  const fed: FedChannel[] = [];
  try {
    for (let i = 0; i < CHANNELS; i++) fed.push(await startFedChannel(server.app));
    // Past the start (FFmpeg probing, the first segments), into the steady state.
    await new Promise((r) => setTimeout(r, 5000));
    const bytes = () => fed.reduce((sum, f) => sum + (server.app.recordings?.entry(f.channel.id)?.bytes ?? 0), 0);
    const bytesBefore = bytes();
    const cpuBefore = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    const written = bytes() - bytesBefore;
    let remuxMs = NaN;
    if (recordings === 'on') {
      const first = fed[0]!;
      await first.stop();
      await new Promise((r) => setTimeout(r, 1000));
      const started = Date.now();
      const made = await server.app.recordings!.download(first.channel.id);
      if ('refused' in made) throw new Error(`no MP4: ${made.refused}`);
      remuxMs = Date.now() - started;
    }
    return {
      serverCpuPerChannel: ((cpu.user + cpu.system) / 1e6 / seconds / CHANNELS) * 100,
      diskGbPerHour: (written / CHANNELS / seconds) * 3600 / 1e9,
      remuxMs,
    };
  } finally {
    await Promise.all(fed.map((f) => f.stop()));
    await server.stop();
  }
}

export async function runRecordingCost(): Promise<void> {
  testClip();
  const rows: Record<string, string | number>[] = [];
  const on: Phase[] = [];
  const off: Phase[] = [];
  for (let run = 1; run <= RUNS; run++) {
    off.push(await measure('off'));
    on.push(await measure('on'));
    const [a, b] = [off.at(-1)!, on.at(-1)!];
    rows.push({
      run,
      'disk GB per hour per channel': b.diskGbPerHour.toFixed(3),
      'server process % of a core per channel, recording off': a.serverCpuPerChannel.toFixed(2),
      'recording on': b.serverCpuPerChannel.toFixed(2),
      'recording cost (on − off)': (b.serverCpuPerChannel - a.serverCpuPerChannel).toFixed(2),
      [`MP4 remux of a ${WINDOW_S + 5}-s recording, ms`]: Math.round(b.remuxMs),
    });
  }
  const costs = on.map((b, i) => b.serverCpuPerChannel - off[i]!.serverCpuPerChannel);
  const disk = on.map((b) => b.diskGbPerHour);
  rows.push({
    run: 'median',
    'disk GB per hour per channel': median(disk).toFixed(3),
    'server process % of a core per channel, recording off': median(off.map((p) => p.serverCpuPerChannel)).toFixed(2),
    'recording on': median(on.map((p) => p.serverCpuPerChannel)).toFixed(2),
    'recording cost (on − off)': median(costs).toFixed(2),
    [`MP4 remux of a ${WINDOW_S + 5}-s recording, ms`]: Math.round(median(on.map((p) => p.remuxMs))),
  });
  rows.push({
    run: 'worst',
    'disk GB per hour per channel': Math.max(...disk).toFixed(3),
    'server process % of a core per channel, recording off': Math.max(...off.map((p) => p.serverCpuPerChannel)).toFixed(2),
    'recording on': Math.max(...on.map((p) => p.serverCpuPerChannel)).toFixed(2),
    'recording cost (on − off)': Math.max(...costs).toFixed(2),
    [`MP4 remux of a ${WINDOW_S + 5}-s recording, ms`]: Math.round(Math.max(...on.map((p) => p.remuxMs))),
  });
  printTable(`Recording: ${CHANNELS} channels (test clip, ~0.66 Mbit/s), ${WINDOW_S} s window, ${RUNS} runs`, rows);
}
