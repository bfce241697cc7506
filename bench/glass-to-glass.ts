/**
 * Glass-to-glass latency and time to first frame, measured in headless Chromium.
 *
 * The publisher uses the go-live page's test source, which paints its wall clock into every
 * frame; a watch page opened with ?clock reads it back from each decoded frame. Both pages run in
 * the same browser on the same machine, so they share one clock.
 *
 *   npm run bench:latency            (BENCH_SECONDS=60 by default)
 */
import { chromium, type Browser, type Page } from '@playwright/test';
import { chromiumLaunchOptions } from '../e2e/chromium.js';
import { median, percentile, printTable, startBenchServer } from './lib.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const FIRST_FRAME_RUNS = Number(process.env.BENCH_FIRST_FRAME_RUNS ?? 5);

type Metrics = { firstFrameMs: number | null; samples: { ms: number; at: number }[] };
const metricsOf = (page: Page) => page.evaluate(() => (window as unknown as { __livecast: Metrics }).__livecast);

async function goLive(browser: Browser, baseUrl: string): Promise<{ page: Page; channelId: string }> {
  const page = await (await browser.newContext({ baseURL: baseUrl })).newPage();
  await page.goto('/go-live?source=test');
  await page.getByTestId('go-live').click();
  await page.getByTestId('status').filter({ hasText: 'Live' }).waitFor({ timeout: 30_000 });
  return { page, channelId: (await page.getByTestId('channel-id').textContent())!.trim() };
}

async function firstFrame(browser: Browser, url: string): Promise<number> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { __livecast?: Metrics }).__livecast?.firstFrameMs != null, null, { timeout: 20_000 });
  const ms = (await metricsOf(page)).firstFrameMs!;
  await context.close();
  return ms;
}

async function main() {
  const server = await startBenchServer();
  const browser = await chromium.launch(chromiumLaunchOptions);
  try {
    const { channelId } = await goLive(browser, server.app.url);
    const watchUrl = `${server.app.url}/watch/${channelId}`;
    const viewer = await (await browser.newContext()).newPage();
    await viewer.goto(`${watchUrl}?clock`);
    console.error(`measuring HLS for ${SECONDS} s on ${watchUrl} …`);
    // Skip the first seconds: hls.js starts a little further from live and then catches up.
    await viewer.waitForTimeout(5_000);
    const skip = (await metricsOf(viewer)).samples.length;
    await viewer.waitForTimeout(SECONDS * 1000);
    const samples = (await metricsOf(viewer)).samples.slice(skip).map((s) => s.ms);
    if (samples.length < 10) throw new Error(`only ${samples.length} clock readings: is the test source visible?`);

    const firstFrames: number[] = [];
    for (let i = 0; i < FIRST_FRAME_RUNS; i++) firstFrames.push(await firstFrame(browser, watchUrl));

    printTable('Glass-to-glass latency (HLS)', [
      {
        mode: 'HLS',
        readings: samples.length,
        'p50 ms': median(samples),
        'p95 ms': percentile(samples, 95),
        'min ms': Math.min(...samples),
        'max ms': Math.max(...samples),
        'first frame p50 ms': Math.round(median(firstFrames)),
        'first frame max ms': Math.round(Math.max(...firstFrames)),
        'target p50 ms': 1200,
      },
    ]);
  } finally {
    await browser.close();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
