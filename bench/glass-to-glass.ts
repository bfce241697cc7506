/**
 * Glass-to-glass latency and time to first frame, in headless Chromium, in one run, for:
 *   - the pre-LL-HLS livecast (0.5 s segments; the baseline, from git history: BENCH_BASELINE_REF),
 *   - LL-HLS as livecast serves and plays it, for each part target (BENCH_PART_TARGETS),
 *   - LL-HLS with hls.js defaults (what a stock player gets from the same stream),
 *   - real-time WebRTC viewing.
 * The publisher uses the go-live page's test source, which paints its wall clock into every
 * frame; a watch page opened with ?clock reads it back from each decoded frame. All pages run in
 * one browser on one machine, so they share one clock.
 *
 *   npm run bench:latency     BENCH_SECONDS (default 60) per mode, HLS_SEGMENT_SECONDS as the server's;
 *                             BENCH_BASELINE_LAST, BENCH_EXTRA_MODES (see below)
 */
import { chromium, type Browser, type Page } from '@playwright/test';
import { chromiumLaunchOptions } from '../e2e/chromium.js';
import { MANY_CHANNELS, startBaselineServer } from './baseline-checkout.js';
import { median, percentile, printTable, startBenchServer } from './lib.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const FIRST_FRAME_RUNS = Number(process.env.BENCH_FIRST_FRAME_RUNS ?? 5);

type Metrics = { firstFrameMs: number | null; stalls: number; /** Absent on the baseline commit's page. */ jumps?: number; samples: { ms: number; at: number }[]; mode: string | null };
const metricsOf = (page: Page) => page.evaluate(() => (window as unknown as { __livecast: Metrics }).__livecast);

/** The modes that do not depend on the part target (BENCH_EXTRA_MODES: which of them, by key; '' for none). */
const EXTRA_MODES = (process.env.BENCH_EXTRA_MODES ?? 'defaults,realtime').split(',');
const MODES = [
  { key: 'defaults', name: 'LL-HLS, hls.js defaults', query: 'mode=hls&hls=defaults', targetMs: null },
  { key: 'realtime', name: 'WebRTC', query: 'mode=realtime', targetMs: 250 },
].filter((mode) => EXTRA_MODES.includes(mode.key));

export async function goLive(browser: Browser, baseUrl: string): Promise<string> {
  return (await goLivePage(browser, baseUrl)).channelId;
}

/**
 * The go-live page with its test source, live; the page stays open (it is the broadcaster) until
 * the caller stops it. `beforeClick` runs once the button can be pressed (the test source is
 * ready), right before the click: the start of a timed go-live. `goLivePath`: the fake camera
 * instead of the test source is plain `/go-live`.
 */
export async function goLivePage(browser: Browser, baseUrl: string, beforeClick?: () => void, goLivePath = '/go-live?source=test'): Promise<{ page: Page; channelId: string }> {
  const page = await (await browser.newContext({ baseURL: baseUrl })).newPage();
  await page.goto(goLivePath);
  await page.locator('[data-testid=go-live]:enabled').waitFor({ timeout: 30_000 });
  beforeClick?.();
  await page.getByTestId('go-live').click();
  await page.getByTestId('status').filter({ hasText: 'Live' }).waitFor({ timeout: 30_000 });
  return { page, channelId: (await page.getByTestId('channel-id').textContent())!.trim() };
}

/** Navigation start → first decoded frame on a fresh page (nothing cached). */
async function firstFrame(browser: Browser, url: string): Promise<number> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { __livecast?: Metrics }).__livecast?.firstFrameMs != null, null, { timeout: 20_000 });
  const ms = (await metricsOf(page)).firstFrameMs!;
  await context.close();
  return ms;
}

/**
 * A watch page opened with `?clock` reads the broadcaster's clock from every decoded frame: the
 * glass-to-glass latency of each (ms), over `seconds` after 5 s of settling, with its stalls and jumps.
 */
export async function clockReadings(browser: Browser, watchUrl: string, query: string, seconds: number) {
  const context = await browser.newContext();
  const viewer = await context.newPage();
  await viewer.goto(`${watchUrl}?${query}&clock`);
  // Skip the start: players begin a little off their target and then settle.
  await viewer.waitForTimeout(5_000);
  const start = await metricsOf(viewer);
  await viewer.waitForTimeout(seconds * 1000);
  const end = await metricsOf(viewer);
  await context.close();
  const samples = end.samples.slice(start.samples.length).map((s) => s.ms);
  if (samples.length < 10) throw new Error(`only ${samples.length} clock readings in ${query}: is the test source visible?`);
  return { samples, stalls: end.stalls - start.stalls, jumps: end.jumps === undefined ? null : end.jumps - (start.jumps ?? 0), mode: end.mode };
}

export async function measure(browser: Browser, watchUrl: string, query: string, seconds = SECONDS) {
  const { samples, stalls, jumps, mode } = await clockReadings(browser, watchUrl, query, seconds);
  const firstFrames: number[] = [];
  for (let i = 0; i < FIRST_FRAME_RUNS; i++) firstFrames.push(await firstFrame(browser, `${watchUrl}?${query}`));
  return { samples, stalls, jumps, firstFrames, mode };
}

/** LL-HLS part targets measured, seconds (BENCH_PART_TARGETS, comma-separated). */
const PART_TARGETS = (process.env.BENCH_PART_TARGETS ?? '0.1,0.2,0.333').split(',').map(Number);
/**
 * The commit whose HLS is the same-run baseline: the last one before LL-HLS (FFmpeg's HLS muxer,
 * 0.5 s segments, key frames every 0.5 s). BENCH_BASELINE_REF='' skips it.
 */
const DEFAULT_BASELINE_REF = '6dbd94f';
const BASELINE_REF = process.env.BENCH_BASELINE_REF ?? DEFAULT_BASELINE_REF;
/**
 * BENCH_BASELINE_LAST=1 measures the baseline after today's code instead of before: repeated runs
 * should alternate, since what a player meets (stalls, a machine that warms up) can depend on when.
 */
const BASELINE_LAST = process.env.BENCH_BASELINE_LAST === '1';
/** Today's server keeps to these ports; the baseline process gets others (bench/baseline-checkout.ts). */
const PORT_RANGES = { RTC_MIN_PORT: '40000', RTC_MAX_PORT: '44999', HLS_RTP_MIN_PORT: '20000', HLS_RTP_MAX_PORT: '24999' };

type Row = Record<string, string | number>;

async function measureRow(browser: Browser, baseUrl: string, name: string, query: string, targetMs: number | null): Promise<{ row: Row; p50: number }> {
  const channel = await goLivePage(browser, baseUrl);
  try {
    console.error(`measuring ${name} for ${SECONDS} s …`);
    const r = await measure(browser, `${baseUrl}/watch/${channel.channelId}`, query);
    const p50 = median(r.samples);
    return {
      p50,
      row: {
        mode: name,
        readings: r.samples.length,
        'p50 ms': p50,
        'p95 ms': percentile(r.samples, 95),
        stalls: r.stalls,
        // The player's own seeks to the live edge (after the 5 s settling: the start is not counted).
        jumps: r.jumps ?? '—',
        'first frame p50 ms': Math.round(median(r.firstFrames)),
        'first frame max ms': Math.round(Math.max(...r.firstFrames)),
        'target p50 ms': targetMs ?? '—',
      },
    };
  } finally {
    await channel.page.context().close();
  }
}

/**
 * One run: the pre-LL-HLS commit (baseline), LL-HLS at each part target, hls.js defaults on
 * LL-HLS, and real-time viewing; a fresh channel for each, one after the other (never two
 * broadcasters at once, so that one does not disturb the other's timing).
 */
export async function runGlassToGlass(): Promise<void> {
  const browser = await chromium.launch(chromiumLaunchOptions);
  const rows: Row[] = [];
  let baselineP50: number | null = null;
  const measureBaseline = async () => {
    // An LL-HLS commit gets the first part target (one before LL-HLS ignores it).
    const baseline = await startBaselineServer(BASELINE_REF, { HLS_PART_SECONDS: String(PART_TARGETS[0]) });
    try {
      const r = await measureRow(browser, baseline.url, `baseline: ${baseline.commit.slice(0, 7)}${BASELINE_REF === DEFAULT_BASELINE_REF ? ', HLS 0.5 s segments' : `, parts ${PART_TARGETS[0]! * 1000} ms`}`, 'mode=hls', null);
      baselineP50 = r.p50;
      rows.push(r.row);
    } finally {
      await baseline.stop();
    }
  };
  try {
    if (BASELINE_REF && !BASELINE_LAST) await measureBaseline();
    for (const [i, partSeconds] of PART_TARGETS.entries()) {
      const server = await startBenchServer({ ...PORT_RANGES, ...MANY_CHANNELS, HLS_PART_SECONDS: String(partSeconds) }, { web: true });
      try {
        const url = server.app.url;
        const segment = server.app.config.hls.segmentSeconds;
        rows.push((await measureRow(browser, url, `LL-HLS parts ${partSeconds * 1000} ms, segments ${segment} s`, 'mode=hls', 600)).row);
        // The modes that do not depend on the part target: once, on the first server.
        if (i === 0) {
          for (const mode of MODES) rows.push((await measureRow(browser, url, `${mode.name}, parts ${partSeconds * 1000} ms`, mode.query, mode.targetMs)).row);
        }
      } finally {
        await server.stop();
      }
    }
    if (BASELINE_REF && BASELINE_LAST) await measureBaseline();
  } finally {
    await browser.close();
  }
  if (baselineP50 !== null) for (const row of rows) row['p50 / baseline'] = (Number(row['p50 ms']) / baselineP50).toFixed(2);
  printTable(`Glass-to-glass latency (${SECONDS} s per mode; first frame: ${FIRST_FRAME_RUNS} fresh pages)`, rows);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runGlassToGlass().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
