/**
 * WHIP ingest and WHEP playback against the browser paths they stand beside, in one run:
 *
 *   (a) publishers: a channel published by Eyevinn's WHIP client (@eyevinn/whip-web-client) in
 *       Chromium vs one published by the go-live page (the baseline). Both send the same
 *       clock-painting test source (web/src/lib/test-source.ts, a canvas captureStream), so the
 *       watch page's ?clock reader works for both. Measured: time to the first HLS playlist and
 *       segment (from the go-live click / the ingest() call / the WHIP POST), CPU of the server
 *       process, the channel's FFmpeg and the mediasoup workers with the channel live and nobody
 *       watching, and glass-to-glass + first frame to a real-time (WebRTC) and an HLS viewer.
 *   (b) players: medooze's WHEP client (whip-whep) on a blank page vs our own real-time player
 *       (/watch/<id>?mode=realtime&clock, the baseline), on the go-live channel, back to back:
 *       first frame and glass-to-glass, the WHEP-played <video> read with the same clock reader
 *       (web/src/lib/latency-probe.ts + clock-code.ts, bundled for the page with esbuild).
 *
 * One publisher at a time, so that each CPU window sees one channel. All pages run in one
 * headless Chromium on one machine: one clock.
 *
 *   npm run bench:whip     BENCH_SECONDS (default 30) per glass-to-glass measurement,
 *                          BENCH_START_RUNS (default 3) timed starts per publisher,
 *                          BENCH_FIRST_FRAME_RUNS (default 5) fresh pages per first-frame figure,
 *                          BENCH_WINDOW_S (default 10) CPU window, BENCH_JSON=file appends the raw results
 */
import { appendFile } from 'node:fs/promises';
import { chromium, type Browser, type Page } from '@playwright/test';
import { hlsPlaylistPath, whepEndpointPath, whipEndpointPath } from '../protocol/ids.js';
import type { Channel } from '../server/src/channel/channel.js';
import type { App } from '../server/src/app.js';
import { eventually } from '../server/test/helpers/processes.js';
import { chromiumLaunchOptions } from '../e2e/chromium.js';
import { openBlankPageWith } from '../e2e/page-bundle.js';
import { whepClientBundle, whepView, whipClientBundle, whipIngest } from '../e2e/third-party-clients.js';
import { goLivePage, measure } from './glass-to-glass.js';
import { median, percentile, printTable, startBenchServer } from './lib.js';
import { cpuPercentOver } from './proc-stats.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const START_RUNS = Number(process.env.BENCH_START_RUNS ?? 3);
const FIRST_FRAME_RUNS = Number(process.env.BENCH_FIRST_FRAME_RUNS ?? 5);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 10);
const SETTLE_MS = 5_000;

/** A live publisher of either kind: its channel, and how to stop it as its user would. */
interface Publisher {
  channel: Channel;
  stop(): Promise<void>;
}

/** One timed start: absolute times (ms since the epoch) of each step the publisher kind has. */
interface Start {
  /** The go-live click, or the WHIP client's ingest() call. */
  startedAt: number;
  /** The WHIP POST leaving the browser (WHIP only). */
  postedAt: number | null;
  playlistAt: number;
  segmentAt: number;
}

/**
 * Polls the channel's playlist over HTTP, as a viewer would, until it lists a segment, then that
 * segment until it is served: the moments an HLS viewer could first start.
 */
async function firstHls(baseUrl: string, channelId: string): Promise<{ playlistAt: number; segmentAt: number }> {
  const url = `${baseUrl}${hlsPlaylistPath(channelId)}`;
  const deadline = Date.now() + 30_000;
  const pause = () => new Promise((r) => setTimeout(r, 20));
  let segment: string | undefined;
  let playlistAt = 0;
  while (!segment) {
    if (Date.now() > deadline) throw new Error(`no HLS playlist for ${channelId} within 30 s`);
    const res = await fetch(url);
    const text = await res.text();
    segment = res.ok ? /^seg_\d+\.ts$/m.exec(text)?.[0] : undefined;
    if (segment) playlistAt = Date.now();
    else await pause();
  }
  for (;;) {
    if (Date.now() > deadline) throw new Error(`segment ${segment} of ${channelId} not served within 30 s`);
    const res = await fetch(new URL(segment, url));
    await res.arrayBuffer();
    if (res.ok) return { playlistAt, segmentAt: Date.now() };
    await pause();
  }
}

/** The go-live page with its test source (the baseline publisher), timed from its click. */
async function startBrowserPublisher(browser: Browser, app: App): Promise<Publisher & { start: Start }> {
  let startedAt = 0;
  // The registry names the channel the moment the click creates it: start polling HLS then.
  const hls = new Promise<Channel>((resolve) => app.registry.once('created', resolve)).then(async (channel) => ({ channel, ...(await firstHls(app.url, channel.id)) }));
  const { page } = await goLivePage(browser, app.url, () => (startedAt = Date.now()));
  const { channel, playlistAt, segmentAt } = await hls;
  return {
    channel,
    start: { startedAt, postedAt: null, playlistAt, segmentAt },
    async stop() {
      await page.getByTestId('stop').click();
      await page.context().close();
    },
  };
}

/** Eyevinn's WHIP client in Chromium publishing the same test source, timed from its ingest() call. */
async function startWhipPublisher(browser: Browser, app: App, bundle: string): Promise<Publisher & { start: Start }> {
  // Created as the encoder panel's button does, minus the page: WHIP timing starts at the client.
  const { channel, streamKey } = await app.registry.create();
  const page = await (await browser.newContext()).newPage();
  await openBlankPageWith(page, app.url, bundle);
  let postedAt: number | null = null;
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().endsWith(whipEndpointPath(channel.id))) postedAt ??= Date.now();
  });
  const startedAt = Date.now();
  const hls = firstHls(app.url, channel.id);
  await whipIngest(page, `${app.url}${whipEndpointPath(channel.id)}`, streamKey, 'test-source');
  const { playlistAt, segmentAt } = await hls;
  return {
    channel,
    start: { startedAt, postedAt, playlistAt, segmentAt },
    async stop() {
      await page.evaluate(() => window.whip!.destroy());
      await page.context().close();
    },
  };
}

/** Stops a publisher and waits until its channel, router and FFmpeg are gone (so the next CPU window sees only the next one). */
async function stopPublisher(app: App, publisher: Publisher): Promise<void> {
  const ffmpeg = publisher.channel.ffmpegPid;
  await publisher.stop();
  await eventually(() => publisher.channel.router.closed && app.registry.get(publisher.channel.id) === undefined, 'the channel to end', 15_000);
  if (ffmpeg) await eventually(() => !isRunning(ffmpeg), 'its FFmpeg to exit', 15_000);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** CPU with the channel live and nobody watching, as % of one core; and the video bitrate coming in. */
async function channelCost(app: App, channel: Channel) {
  await new Promise((r) => setTimeout(r, 3000)); // settle after the start
  const cpu = await cpuPercentOver(
    { server: [process.pid], ffmpeg: channel.ffmpegPid ? [channel.ffmpegPid] : [], workers: app.pool.workers.map((w) => w.pid) },
    WINDOW_S * 1000,
  );
  const video = channel.tracks().find((p) => p.kind === 'video');
  const stats = video ? await video.getStats() : [];
  const videoKbps = stats.reduce((sum, s) => sum + s.bitrate, 0) / 1000;
  return { server: cpu.server!, ffmpeg: cpu.ffmpeg!, workers: cpu.workers!, total: cpu.server! + cpu.ffmpeg! + cpu.workers!, videoKbps };
}

type Viewing = Awaited<ReturnType<typeof measure>>;

/** Everything measured for one publisher kind. */
async function measurePublisher(name: string, browser: Browser, app: App, startOne: () => Promise<Publisher & { start: Start }>) {
  const starts: Start[] = [];
  let live: Publisher | null = null;
  for (let i = 0; i < START_RUNS; i++) {
    console.error(`${name}: timed start ${i + 1}/${START_RUNS} …`);
    const publisher = await startOne();
    starts.push(publisher.start);
    if (i < START_RUNS - 1) await stopPublisher(app, publisher);
    else live = publisher;
  }
  const channel = live!.channel;
  console.error(`${name}: CPU over ${WINDOW_S} s …`);
  const cost = await channelCost(app, channel);
  const watchUrl = `${app.url}/watch/${channel.id}`;
  console.error(`${name}: real-time viewer for ${SECONDS} s …`);
  const realtime = await measure(browser, watchUrl, 'mode=realtime', SECONDS);
  return {
    starts,
    cost,
    realtime,
    channel,
    /** HLS last, so that a caller may measure something else on the live channel in between. */
    async finish(): Promise<Viewing> {
      console.error(`${name}: HLS viewer for ${SECONDS} s …`);
      const hls = await measure(browser, watchUrl, 'mode=hls', SECONDS);
      await stopPublisher(app, live!);
      return hls;
    },
  };
}

/** What the WHEP page records: first frame and clock readings of its <video>. */
interface WhepMetrics {
  startedMs: number;
  firstFrameMs: number | null;
  samples: { ms: number; at: number }[];
}

/** Opens a blank page with medooze's WHEP client playing the channel, its <video> read by the watch page's clock reader. */
async function openWhepPlayer(browser: Browser, app: App, bundle: string, channelId: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await openBlankPageWith(page, app.url, bundle);
  await page.evaluate(() => {
    const video = document.querySelector('video')!;
    const metrics: WhepMetrics = { startedMs: performance.now(), firstFrameMs: null, samples: [] };
    Object.assign(window, { __whep: metrics });
    video.requestVideoFrameCallback(() => (metrics.firstFrameMs = performance.now()));
    window.probeLatency!(video, (sample) => metrics.samples.push(sample));
  });
  await whepView(page, `${app.url}${whepEndpointPath(channelId)}`);
  return page;
}

const whepMetrics = (page: Page) => page.evaluate(() => (window as Window & { __whep?: WhepMetrics }).__whep!);

/** Closes a WHEP player with its DELETE (so its real-time slot is free at once). */
async function closeWhepPlayer(page: Page): Promise<void> {
  await page.evaluate(() => window.whep!.stop());
  await page.context().close();
}

async function measureWhep(browser: Browser, app: App, bundle: string, channel: Channel) {
  console.error(`WHEP player for ${SECONDS} s …`);
  const player = await openWhepPlayer(browser, app, bundle, channel.id);
  await player.waitForTimeout(SETTLE_MS);
  // Whether the player's payload types made it go through an egress router (one more pipe hop).
  const egressRouters = channel.realtime.egressRouters;
  const before = (await whepMetrics(player)).samples.length;
  await player.waitForTimeout(SECONDS * 1000);
  const samples = (await whepMetrics(player)).samples.slice(before).map((s) => s.ms);
  await closeWhepPlayer(player);
  if (samples.length < 10) throw new Error(`only ${samples.length} clock readings from the WHEP player`);
  const fromNavigation: number[] = [];
  const fromView: number[] = [];
  for (let i = 0; i < FIRST_FRAME_RUNS; i++) {
    const page = await openWhepPlayer(browser, app, bundle, channel.id);
    await page.waitForFunction(() => (window as Window & { __whep?: WhepMetrics }).__whep?.firstFrameMs != null, null, { timeout: 20_000 });
    const m = await whepMetrics(page);
    fromNavigation.push(m.firstFrameMs!);
    fromView.push(m.firstFrameMs! - m.startedMs);
    await closeWhepPlayer(page);
  }
  return { samples, fromNavigation, fromView, egressRouters };
}

const ms = (v: number) => Math.round(v);

export async function runWhipWhep(): Promise<void> {
  // Every client is 127.0.0.1: raise the per-address limits this benchmark would otherwise hit.
  const server = await startBenchServer({ CHANNEL_CREATE_PER_MINUTE: '1000', MAX_CHANNELS_PER_ADDRESS: '20' }, { web: true });
  const { app } = server;
  const browser = await chromium.launch(chromiumLaunchOptions);
  try {
    const [whipBundle, whepBundle] = await Promise.all([whipClientBundle({ withTestSource: true }), whepClientBundle({ withClockReader: true })]);

    const whip = await measurePublisher('WHIP', browser, app, () => startWhipPublisher(browser, app, whipBundle));
    const whipHls = await whip.finish();
    const page = await measurePublisher('go-live', browser, app, () => startBrowserPublisher(browser, app));
    // (b) right after our own real-time player, on the same channel.
    const whep = await measureWhep(browser, app, whepBundle, page.channel);
    const pageHls = await page.finish();

    const startStat = (starts: Start[], at: (s: Start) => number | null) => {
      const values = starts.map(at).filter((v): v is number => v !== null);
      return values.length ? { p50: median(values), max: Math.max(...values) } : null;
    };
    const startCells = (starts: Start[]) => ({
      toPlaylist: startStat(starts, (s) => s.playlistAt - s.startedAt),
      toSegment: startStat(starts, (s) => s.segmentAt - s.startedAt),
      postToPlaylist: startStat(starts, (s) => (s.postedAt === null ? null : s.playlistAt - s.postedAt)),
      postToSegment: startStat(starts, (s) => (s.postedAt === null ? null : s.segmentAt - s.postedAt)),
    });
    const w = startCells(whip.starts);
    const b = startCells(page.starts);
    const rows: { measure: string; browser: number | null; whip: number | null }[] = [
      { measure: `start (click / ingest()) → first HLS playlist, p50 of ${START_RUNS} starts, ms`, browser: b.toPlaylist!.p50, whip: w.toPlaylist!.p50 },
      { measure: `start → first HLS playlist, max of ${START_RUNS}, ms`, browser: b.toPlaylist!.max, whip: w.toPlaylist!.max },
      { measure: `start → first segment served, p50 ms`, browser: b.toSegment!.p50, whip: w.toSegment!.p50 },
      // Eyevinn's client POSTs only when ICE gathering completes or its 2 s timeout fires (the server refuses trickle ICE).
      { measure: `ingest() → WHIP POST, p50 ms`, browser: null, whip: startStat(whip.starts, (s) => (s.postedAt === null ? null : s.postedAt - s.startedAt))?.p50 ?? null },
      { measure: `WHIP POST → first HLS playlist, p50 ms`, browser: null, whip: w.postToPlaylist?.p50 ?? null },
      { measure: `WHIP POST → first segment served, p50 ms`, browser: null, whip: w.postToSegment?.p50 ?? null },
      { measure: `WebRTC viewer glass-to-glass p50 ms`, browser: median(page.realtime.samples), whip: median(whip.realtime.samples) },
      { measure: `WebRTC viewer glass-to-glass p95 ms`, browser: percentile(page.realtime.samples, 95), whip: percentile(whip.realtime.samples, 95) },
      { measure: `WebRTC viewer first frame p50 ms`, browser: ms(median(page.realtime.firstFrames)), whip: ms(median(whip.realtime.firstFrames)) },
      { measure: `HLS viewer glass-to-glass p50 ms`, browser: median(pageHls.samples), whip: median(whipHls.samples) },
      { measure: `HLS viewer glass-to-glass p95 ms`, browser: percentile(pageHls.samples, 95), whip: percentile(whipHls.samples, 95) },
      { measure: `HLS viewer first frame p50 ms`, browser: ms(median(pageHls.firstFrames)), whip: ms(median(whipHls.firstFrames)) },
      { measure: `CPU, server process % of a core`, browser: page.cost.server, whip: whip.cost.server },
      { measure: `CPU, the channel's FFmpeg %`, browser: page.cost.ffmpeg, whip: whip.cost.ffmpeg },
      { measure: `CPU, mediasoup workers %`, browser: page.cost.workers, whip: whip.cost.workers },
      { measure: `CPU per channel, all three %`, browser: page.cost.total, whip: whip.cost.total },
      { measure: `video coming in, kbit/s`, browser: page.cost.videoKbps, whip: whip.cost.videoKbps },
    ];
    printTable(
      `WHIP publisher vs the go-live page (same test source; ${SECONDS} s per viewer, ${WINDOW_S} s CPU window with no viewer; readings: WebRTC ${page.realtime.samples.length} / ${whip.realtime.samples.length}, HLS ${pageHls.samples.length} / ${whipHls.samples.length})`,
      rows.map((r) => ({
        measure: r.measure,
        'go-live page (baseline)': r.browser ?? '—',
        'WHIP (Eyevinn)': r.whip ?? '—',
        'WHIP / go-live': r.browser !== null && r.whip !== null && r.browser !== 0 ? (r.whip / r.browser).toFixed(2) : '—',
      })),
    );

    const ours = page.realtime;
    const playerRows = [
      {
        player: '/watch?mode=realtime (ours, baseline)',
        readings: ours.samples.length,
        'p50 ms': median(ours.samples),
        'p95 ms': percentile(ours.samples, 95),
        'first frame p50 ms (navigation)': ms(median(ours.firstFrames)),
        'first frame max ms (navigation)': ms(Math.max(...ours.firstFrames)),
        'first frame p50 ms (view() call)': '—',
        'egress routers': 0,
      },
      {
        player: 'WHEP (medooze whip-whep)',
        readings: whep.samples.length,
        'p50 ms': median(whep.samples),
        'p95 ms': percentile(whep.samples, 95),
        'first frame p50 ms (navigation)': ms(median(whep.fromNavigation)),
        'first frame max ms (navigation)': ms(Math.max(...whep.fromNavigation)),
        'first frame p50 ms (view() call)': ms(median(whep.fromView)),
        'egress routers': whep.egressRouters,
      },
    ];
    for (const row of playerRows) {
      Object.assign(row, {
        'p50 / ours': (row['p50 ms'] / median(ours.samples)).toFixed(2),
        'first frame / ours': (Number(row['first frame p50 ms (navigation)']) / median(ours.firstFrames)).toFixed(2),
      });
    }
    printTable(`WHEP player vs our real-time player (the go-live channel, back to back; ${SECONDS} s each, ${FIRST_FRAME_RUNS} fresh pages for first frames)`, playerRows);

    if (process.env.BENCH_JSON) {
      const raw = { at: new Date().toISOString(), seconds: SECONDS, publishers: rows, players: playerRows };
      await appendFile(process.env.BENCH_JSON, JSON.stringify(raw) + '\n');
    }
  } finally {
    await browser.close();
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runWhipWhep().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
