/**
 * Glass-to-glass latency and time to first frame, in headless Chromium, for:
 *   - HLS as livecast serves and plays it (blocking playlist reload, hls.js tuned),
 *   - HLS with hls.js defaults (the baseline: what a stock player gets from the same stream),
 *   - real-time WebRTC viewing.
 * The publisher uses the go-live page's test source, which paints its wall clock into every
 * frame; a watch page opened with ?clock reads it back from each decoded frame. All pages run in
 * one browser on one machine, so they share one clock.
 *
 *   npm run bench:latency     BENCH_SECONDS (default 60) per mode, HLS_SEGMENT_SECONDS as the server's
 */
import { chromium, type Browser, type Page } from '@playwright/test';
import { chromiumLaunchOptions } from '../e2e/chromium.js';
import { median, percentile, printTable, startBenchServer } from './lib.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const FIRST_FRAME_RUNS = Number(process.env.BENCH_FIRST_FRAME_RUNS ?? 5);

type Metrics = { firstFrameMs: number | null; stalls: number; samples: { ms: number; at: number }[]; mode: string | null };
const metricsOf = (page: Page) => page.evaluate(() => (window as unknown as { __livecast: Metrics }).__livecast);

const MODES = [
  { name: 'HLS (livecast)', query: 'mode=hls', targetMs: 1200 },
  { name: 'HLS (hls.js defaults, baseline)', query: 'mode=hls&hls=defaults', targetMs: null },
  { name: 'WebRTC', query: 'mode=realtime', targetMs: 250 },
] as const;

export async function goLive(browser: Browser, baseUrl: string): Promise<string> {
  return (await goLivePage(browser, baseUrl)).channelId;
}

/**
 * The go-live page with its test source, live; the page stays open (it is the broadcaster) until
 * the caller stops it. `beforeClick` runs once the button can be pressed (the test source is
 * ready), right before the click: the start of a timed go-live.
 */
export async function goLivePage(browser: Browser, baseUrl: string, beforeClick?: () => void): Promise<{ page: Page; channelId: string }> {
  const page = await (await browser.newContext({ baseURL: baseUrl })).newPage();
  await page.goto('/go-live?source=test');
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

export async function measure(browser: Browser, watchUrl: string, query: string, seconds = SECONDS) {
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
  const firstFrames: number[] = [];
  for (let i = 0; i < FIRST_FRAME_RUNS; i++) firstFrames.push(await firstFrame(browser, `${watchUrl}?${query}`));
  return { samples, stalls: end.stalls - start.stalls, firstFrames, mode: end.mode };
}

export async function runGlassToGlass(): Promise<void> {
  const server = await startBenchServer({}, { web: true });
  const browser = await chromium.launch(chromiumLaunchOptions);
  try {
    const channelId = await goLive(browser, server.app.url);
    const watchUrl = `${server.app.url}/watch/${channelId}`;
    const rows: Record<string, string | number>[] = [];
    const results = new Map<string, number>();
    for (const mode of MODES) {
      console.error(`measuring ${mode.name} for ${SECONDS} s …`);
      const r = await measure(browser, watchUrl, mode.query);
      results.set(mode.name, median(r.samples));
      rows.push({
        mode: mode.name,
        readings: r.samples.length,
        'p50 ms': median(r.samples),
        'p95 ms': percentile(r.samples, 95),
        'stalls': r.stalls,
        'first frame p50 ms': Math.round(median(r.firstFrames)),
        'first frame max ms': Math.round(Math.max(...r.firstFrames)),
        'target p50 ms': mode.targetMs ?? '—',
        'target first frame ms': 1000,
      });
    }
    const baseline = results.get(MODES[1].name)!;
    for (const row of rows) row['p50 / baseline'] = (results.get(String(row.mode))! / baseline).toFixed(2);
    printTable(`Glass-to-glass latency (segments of ${server.app.config.hls.segmentSeconds} s, ${SECONDS} s per mode)`, rows);
  } finally {
    await browser.close();
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runGlassToGlass().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
