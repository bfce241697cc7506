/**
 * Simulcast: what three layers cost the broadcaster's uplink and the server, and what they give a
 * real-time viewer whose downlink is narrow. Same run, same machine, alternating: SIMULCAST=on
 * (three H264 layers from Chromium's fake 1280x720 camera) against SIMULCAST=off (one layer, the
 * baseline). Per run and mode, a fresh server and a go-live; after WARMUP_MS:
 * - upload: the broadcaster's video bitrate as the server receives it (the producer's streams), and
 *   the mediasoup workers' and the HLS FFmpeg's CPU, over MEASURE_MS;
 * - a real-time viewer whose transport is then capped (setMaxOutgoingBitrate) at 40 % of the
 *   single-layer stream's bitrate measured in the same run: the width it receives and its
 *   framesDecoded rate over SQUEEZE_MS. mediasoup can only pick a smaller layer when there is
 *   one; a single-layer consumer goes on sending everything (the cap is advice to the congestion
 *   controller, not a shaper), so the baseline viewer's number shows what it is sent, not a stall:
 *   a real narrow link would drop the excess.
 *
 *   npm run bench:simulcast     BENCH_SIMULCAST_RUNS (default 3)
 */
import { chromium, type Browser, type Page } from '@playwright/test';
import { chromiumLaunchOptions } from '../e2e/chromium.js';
import { median, printTable, startBenchServer } from './lib.js';
import { cpuPercentOver } from './proc-stats.js';

const RUNS = Number(process.env.BENCH_SIMULCAST_RUNS ?? 3);
const WARMUP_MS = 8000;
const MEASURE_MS = 15_000;
const SQUEEZE_MS = 20_000;
const SQUEEZE_FRACTION = 0.4;

type Mode = 'on' | 'off';
interface Run {
  mode: Mode;
  uploadKbps: number;
  layers: number;
  workerCpu: number;
  /** NaN when HLS changed layers during the window (its FFmpeg was replaced: a new process). */
  ffmpegCpu: number;
  /** HLS FFmpeg processes replaced during the window for a simulcast layer switch (not counted as failures). */
  ffmpegReplaced: number;
  /** FFmpeg restarts after a failure during the window (livecast_ffmpeg_restarts_total). */
  ffmpegFailures: number;
  /** The capped viewer: its cap, the width it got, frames decoded per second. */
  capKbps: number;
  squeezedWidth: number;
  squeezedFps: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function videoStats(page: Page): Promise<{ width: number; frames: number }> {
  return page.getByTestId('player').evaluate((v: HTMLVideoElement) => ({ width: v.videoWidth, frames: v.getVideoPlaybackQuality().totalVideoFrames }));
}

async function runOnce(browser: Browser, mode: Mode, singleLayerKbps: number | null): Promise<Run> {
  const server = await startBenchServer({ SIMULCAST: mode, RECORDINGS: 'off' }, { web: true });
  const context = await browser.newContext({ baseURL: server.app.url });
  try {
    const broadcaster = await context.newPage();
    await broadcaster.goto('/go-live');
    await broadcaster.getByTestId('go-live').click();
    await broadcaster.getByTestId('status').filter({ hasText: 'Live' }).waitFor({ timeout: 30_000 });
    const channelId = (await broadcaster.getByTestId('channel-id').textContent())!.trim();
    const channel = server.app.registry.get(channelId)!;
    const producer = channel.tracks().find((p) => p.kind === 'video')!;
    await sleep(WARMUP_MS);

    const samples: number[] = [];
    const ffmpegPids = new Set<number | undefined>([channel.ffmpegPid]);
    const failures = async () => (await server.app.metrics.ffmpegRestarts.get()).values[0]?.value ?? 0;
    const failuresBefore = await failures();
    const sampling = (async () => {
      for (let t = 0; t < MEASURE_MS; t += 1000) {
        samples.push((await producer.getStats()).reduce((sum, s) => sum + s.bitrate, 0) / 1000);
        ffmpegPids.add(channel.ffmpegPid);
        await sleep(1000);
      }
    })();
    const cpu = await cpuPercentOver({ workers: server.app.pool.workers.map((w) => w.pid), ffmpeg: channel.ffmpegPid ? [channel.ffmpegPid] : [] }, MEASURE_MS);
    await sampling;
    ffmpegPids.add(channel.ffmpegPid);
    const ffmpegFailures = (await failures()) - failuresBefore;
    const uploadKbps = median(samples);

    const viewerContext = await browser.newContext({ baseURL: server.app.url });
    const viewer = await viewerContext.newPage();
    await viewer.goto(`/watch/${channelId}?mode=realtime`);
    await viewer.getByTestId('status').filter({ hasText: 'Live' }).waitFor({ timeout: 30_000 });
    await sleep(3000);
    const capKbps = Math.round(SQUEEZE_FRACTION * (singleLayerKbps ?? uploadKbps));
    const [transport] = channel.realtime.viewerTransports().values();
    await transport!.setMaxOutgoingBitrate(capKbps * 1000);
    await sleep(5000);
    const before = await videoStats(viewer);
    await sleep(SQUEEZE_MS);
    const after = await videoStats(viewer);
    await viewerContext.close();
    return {
      mode,
      uploadKbps,
      layers: producer.rtpParameters.encodings?.length ?? 1,
      workerCpu: cpu.workers!,
      ffmpegCpu: ffmpegPids.size > 1 ? NaN : cpu.ffmpeg!,
      ffmpegReplaced: ffmpegPids.size - 1 - ffmpegFailures,
      ffmpegFailures,
      capKbps,
      squeezedWidth: after.width,
      squeezedFps: ((after.frames - before.frames) * 1000) / SQUEEZE_MS,
    };
  } finally {
    await context.close();
    await server.stop();
  }
}

export async function runSimulcast(): Promise<void> {
  const browser = await chromium.launch(chromiumLaunchOptions);
  const runs: Run[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      // The baseline first: its bitrate sets the cap for both modes of this round.
      const single = await runOnce(browser, 'off', null);
      const layered = await runOnce(browser, 'on', single.uploadKbps);
      // The baseline's own viewer was capped at 40 % of its own upload too.
      runs.push(single, layered);
      console.error(`round ${i + 1}: FFmpeg replaced off ${single.ffmpegReplaced} / on ${layered.ffmpegReplaced}; off ${single.uploadKbps.toFixed(0)} kbit/s, on ${layered.uploadKbps.toFixed(0)} kbit/s (${layered.layers} layers); capped viewer ${single.squeezedWidth}px ${single.squeezedFps.toFixed(1)} fps / ${layered.squeezedWidth}px ${layered.squeezedFps.toFixed(1)} fps`);
    }
  } finally {
    await browser.close();
  }
  const byMode = (mode: Mode) => runs.filter((r) => r.mode === mode);
  const stat = (mode: Mode, pick: (r: Run) => number, digits = 1) => {
    const values = byMode(mode).map(pick).filter((v) => Number.isFinite(v));
    if (values.length === 0) return '—';
    return `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
  };
  const finite = (values: number[]) => values.filter((v) => Number.isFinite(v));
  const ratio = (pick: (r: Run) => number) => median(finite(byMode('on').map(pick))) / median(finite(byMode('off').map(pick)));
  printTable(`Simulcast: three layers against one (${RUNS} rounds, median (min–max))`, [
    { measure: 'broadcaster upload, kbit/s', 'SIMULCAST=off': stat('off', (r) => r.uploadKbps, 0), 'SIMULCAST=on': stat('on', (r) => r.uploadKbps, 0), ratio: ratio((r) => r.uploadKbps).toFixed(2) },
    { measure: 'mediasoup workers, % of a core', 'SIMULCAST=off': stat('off', (r) => r.workerCpu), 'SIMULCAST=on': stat('on', (r) => r.workerCpu), ratio: ratio((r) => r.workerCpu).toFixed(2) },
    { measure: 'HLS FFmpeg replaced in the window for a layer switch', 'SIMULCAST=off': byMode('off').map((r) => r.ffmpegReplaced).join(', '), 'SIMULCAST=on': byMode('on').map((r) => r.ffmpegReplaced).join(', '), ratio: '' },
    { measure: 'HLS FFmpeg restarted after a failure in the window', 'SIMULCAST=off': byMode('off').map((r) => r.ffmpegFailures).join(', '), 'SIMULCAST=on': byMode('on').map((r) => r.ffmpegFailures).join(', '), ratio: '' },
    { measure: 'HLS FFmpeg, % of a core (windows without a switch)', 'SIMULCAST=off': stat('off', (r) => r.ffmpegCpu), 'SIMULCAST=on': stat('on', (r) => r.ffmpegCpu), ratio: ratio((r) => r.ffmpegCpu).toFixed(2) },
    { measure: 'capped viewer: cap, kbit/s', 'SIMULCAST=off': stat('off', (r) => r.capKbps, 0), 'SIMULCAST=on': stat('on', (r) => r.capKbps, 0), ratio: '' },
    { measure: 'capped viewer: width received, px', 'SIMULCAST=off': stat('off', (r) => r.squeezedWidth, 0), 'SIMULCAST=on': stat('on', (r) => r.squeezedWidth, 0), ratio: '' },
    { measure: 'capped viewer: frames decoded per s', 'SIMULCAST=off': stat('off', (r) => r.squeezedFps), 'SIMULCAST=on': stat('on', (r) => r.squeezedFps), ratio: '' },
  ]);
}
