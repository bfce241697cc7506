/**
 * bench:hls-abr — what adaptive HLS gives a viewer whose network is narrower than the top quality
 * (issue 16): the watch page's hls.js (Auto) on a simulcast broadcast with one rendition per layer
 * (HLS_RENDITIONS=layers) against the same broadcast with only the top layer (HLS_RENDITIONS=top,
 * what HLS was before), same rounds, alternating order. Per run: a fresh server, a go-live from
 * Chromium's fake 1280x720 camera (three layers), an HLS viewer in a second Chromium context;
 * once it plays, Chromium's network emulation narrows the viewer's downlink to THROTTLE_FRACTION
 * of the top rendition's bit rate (the top layer's video as the server receives it, plus the
 * 128 kbit/s AAC each rendition carries) for WINDOW_S. Counted on the page's <video>: stalls
 * (`waiting` events while it was playing) and the time spent stalled, frames decoded per second,
 * and the width it decoded most.
 *
 *   npm run bench:hls-abr     BENCH_ABR_RUNS (default 3)  BENCH_ABR_WINDOW_S (default 60)  BENCH_ABR_THROTTLE (default 0.75)
 */
import { chromium, type Browser, type Page } from '@playwright/test';
import { chromiumLaunchOptions } from '../e2e/chromium.js';
import { goLivePage } from './glass-to-glass.js';
import { median, printTable, startBenchServer } from './lib.js';

const RUNS = Number(process.env.BENCH_ABR_RUNS ?? 3);
const WINDOW_S = Number(process.env.BENCH_ABR_WINDOW_S ?? 60);
/** The viewer's downlink as a share of the top rendition's bit rate: above the middle rendition's with the fake camera's layers. */
const THROTTLE_FRACTION = Number(process.env.BENCH_ABR_THROTTLE ?? 0.75);
const AUDIO_KBPS = 128;

type Mode = 'layers' | 'top';
interface Run {
  mode: Mode;
  throttleKbps: number;
  stalls: number;
  stalledSeconds: number;
  fps: number;
  /** The width decoded for most of the window's samples. */
  width: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts the <video>'s stalls from now on (a `waiting` after it played, until `playing`). */
async function watchStalls(page: Page): Promise<void> {
  await page.getByTestId('player').evaluate((video: HTMLVideoElement) => {
    const state = { stalls: 0, stalledMs: 0, since: 0 };
    Object.assign(window, { __stalls: state });
    video.addEventListener('waiting', () => {
      if (state.since) return;
      state.stalls++;
      state.since = performance.now();
    });
    video.addEventListener('playing', () => {
      if (!state.since) return;
      state.stalledMs += performance.now() - state.since;
      state.since = 0;
    });
  });
}

async function readStalls(page: Page): Promise<{ stalls: number; stalledMs: number; frames: number }> {
  return page.getByTestId('player').evaluate((video: HTMLVideoElement) => {
    const state = (window as unknown as { __stalls: { stalls: number; stalledMs: number; since: number } }).__stalls;
    const open = state.since ? performance.now() - state.since : 0;
    return { stalls: state.stalls, stalledMs: state.stalledMs + open, frames: video.getVideoPlaybackQuality().totalVideoFrames };
  });
}

async function runOnce(browser: Browser, mode: Mode): Promise<Run> {
  const server = await startBenchServer({ SIMULCAST: 'on', HLS_RENDITIONS: mode, RECORDINGS: 'off' }, { web: true });
  let broadcaster: Page | null = null;
  try {
    // Chromium's fake camera (1280x720: three layers), not the test source.
    const live = await goLivePage(browser, server.app.url, undefined, '/go-live');
    broadcaster = live.page;
    const channelId = live.channelId;
    const producer = server.app.registry.get(channelId)!.tracks().find((p) => p.kind === 'video')!;
    await sleep(8000);

    const viewerContext = await browser.newContext({ baseURL: server.app.url });
    const viewer = await viewerContext.newPage();
    await viewer.goto(`/watch/${channelId}?mode=hls`);
    await viewer.getByTestId('status').filter({ hasText: 'Live' }).waitFor({ timeout: 30_000 });
    await sleep(5000);
    const topKbps = Math.max(...(await producer.getStats()).map((s) => s.bitrate)) / 1000;
    const throttleKbps = Math.round(THROTTLE_FRACTION * (topKbps + AUDIO_KBPS));
    await watchStalls(viewer);
    const cdp = await viewerContext.newCDPSession(viewer);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: (throttleKbps * 1000) / 8, uploadThroughput: -1 });
    const before = await readStalls(viewer);
    const widths: number[] = [];
    for (let t = 0; t < WINDOW_S; t++) {
      await sleep(1000);
      widths.push(await viewer.getByTestId('player').evaluate((v: HTMLVideoElement) => v.videoWidth));
    }
    const after = await readStalls(viewer);
    await viewerContext.close();
    const counts = new Map<number, number>();
    for (const w of widths) counts.set(w, (counts.get(w) ?? 0) + 1);
    const width = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    return {
      mode,
      throttleKbps,
      stalls: after.stalls - before.stalls,
      stalledSeconds: (after.stalledMs - before.stalledMs) / 1000,
      fps: (after.frames - before.frames) / WINDOW_S,
      width,
    };
  } finally {
    await broadcaster?.context().close();
    await server.stop();
  }
}

export async function runHlsAbr(): Promise<void> {
  const browser = await chromium.launch(chromiumLaunchOptions);
  const runs: Run[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const order: Mode[] = i % 2 === 0 ? ['layers', 'top'] : ['top', 'layers'];
      for (const mode of order) {
        const run = await runOnce(browser, mode);
        runs.push(run);
        console.error(`round ${i + 1} ${mode}: throttle ${run.throttleKbps} kbit/s, ${run.stalls} stalls (${run.stalledSeconds.toFixed(1)} s), ${run.fps.toFixed(1)} fps, ${run.width}px`);
      }
    }
  } finally {
    await browser.close();
  }
  const of = (mode: Mode) => runs.filter((r) => r.mode === mode);
  const stat = (mode: Mode, pick: (r: Run) => number, digits = 1) => {
    const values = of(mode).map(pick);
    return `${median(values).toFixed(digits)} (worst ${(pick === fpsOf ? Math.min(...values) : Math.max(...values)).toFixed(digits)})`;
  };
  const fpsOf = (r: Run) => r.fps;
  printTable(`An HLS viewer on a narrowed downlink for ${WINDOW_S} s (${RUNS} rounds, median (worst))`, [
    { measure: `downlink, kbit/s (${THROTTLE_FRACTION * 100} % of the top rendition)`, 'one rendition (HLS_RENDITIONS=top)': stat('top', (r) => r.throttleKbps, 0), 'renditions, hls.js Auto (layers)': stat('layers', (r) => r.throttleKbps, 0) },
    { measure: 'stalls', 'one rendition (HLS_RENDITIONS=top)': stat('top', (r) => r.stalls, 0), 'renditions, hls.js Auto (layers)': stat('layers', (r) => r.stalls, 0) },
    { measure: 'time stalled, s', 'one rendition (HLS_RENDITIONS=top)': stat('top', (r) => r.stalledSeconds), 'renditions, hls.js Auto (layers)': stat('layers', (r) => r.stalledSeconds) },
    { measure: 'frames decoded per s', 'one rendition (HLS_RENDITIONS=top)': stat('top', fpsOf), 'renditions, hls.js Auto (layers)': stat('layers', fpsOf) },
    { measure: 'width decoded most, px', 'one rendition (HLS_RENDITIONS=top)': of('top').map((r) => r.width).join(', '), 'renditions, hls.js Auto (layers)': of('layers').map((r) => r.width).join(', ') },
  ]);
}
