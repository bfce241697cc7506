import { test as base, expect, type Page } from '@playwright/test';
import type { App } from '../server/src/app.js';
import { freePort } from '../server/test/helpers/net.js';
import { startServer } from '../server/test/helpers/server.js';
import { makeTestCertificate } from '../server/test/helpers/tls.js';

/**
 * Each test file gets a real livecast server in the Playwright worker process (real mediasoup
 * workers, real FFmpeg, the built SvelteKit app) on a free port of 127.0.0.1, so tests can look
 * at server state (channels, FFmpeg processes, files) as well as at the pages.
 */
export const test = base.extend<object, { app: App; https: boolean; ingest: boolean; simulcast: boolean }>({
  /**
   * `test.use({ https: true })`: the server serves HTTPS with a self-signed certificate made for
   * the run (the pages' contexts then need `ignoreHTTPSErrors`); `app.url`, so `baseURL`, is https://.
   */
  https: [false, { scope: 'worker', option: true }],
  /** `test.use({ ingest: true })`: RTMP on a free port and SRT on ports of its own (off otherwise: servers run side by side). */
  ingest: [false, { scope: 'worker', option: true }],
  /**
   * `test.use({ simulcast: true })`: broadcasters send three layers, as by default in production.
   * Off otherwise: on the test machine's two cores the broadcasting browser, the viewing browsers
   * and the server share the CPU, and three encodes per broadcaster starve the players of tests
   * that are about something else (measured: Shaka's 30 s run stalled 373 ms with it, 41 ms without).
   */
  simulcast: [false, { scope: 'worker', option: true }],
  app: [
    async ({ https, ingest, simulcast }, use) => {
      const certificate = https ? makeTestCertificate() : null;
      const ingestEnv: Record<string, string> = ingest ? { RTMP_PORT: String(await freePort()), SRT_MIN_PORT: '18600', SRT_MAX_PORT: '18699', REALTIME_TRANSCODE_LINGER_MS: '500' } : {};
      const app = await startServer({ LOG_LEVEL: 'warn', SIMULCAST: simulcast ? 'on' : 'off', ...ingestEnv }, { web: true, inheritEnv: true, ...(certificate ? { tls: certificate } : {}) });
      await use(app);
      await app.stop();
      certificate?.remove();
    },
    { scope: 'worker' },
  ],
  baseURL: async ({ app }, use) => use(app.url),
});

export { expect };

/** Opens /go-live, goes live and waits until the server reports the HLS stream live. */
export async function goLive(page: Page): Promise<string> {
  await page.goto('/go-live');
  await page.getByTestId('go-live').click();
  await expect(page.getByTestId('status')).toHaveText('Live', { timeout: 20_000 });
  return (await page.getByTestId('channel-id').textContent())!.trim();
}

/** Asserts that the page's <video> really plays: frames decoded and time advancing. */
export async function expectVideoPlaying(page: Page, selector = '[data-testid=player]'): Promise<void> {
  const video = page.locator(selector);
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.videoWidth), { timeout: 20_000 }).toBeGreaterThan(0);
  const t0 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 10_000 }).toBeGreaterThan(t0 + 1);
}
