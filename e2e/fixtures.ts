import { test as base, expect, type Page } from '@playwright/test';
import type { App } from '../server/src/app.js';
import { startServer } from '../server/test/helpers/server.js';
import { makeTestCertificate } from '../server/test/helpers/tls.js';

/**
 * Each test file gets a real livecast server in the Playwright worker process (real mediasoup
 * workers, real FFmpeg, the built SvelteKit app) on a free port of 127.0.0.1, so tests can look
 * at server state (channels, FFmpeg processes, files) as well as at the pages.
 */
export const test = base.extend<object, { app: App; https: boolean }>({
  /**
   * `test.use({ https: true })`: the server serves HTTPS with a self-signed certificate made for
   * the run (the pages' contexts then need `ignoreHTTPSErrors`); `app.url`, so `baseURL`, is https://.
   */
  https: [false, { scope: 'worker', option: true }],
  app: [
    async ({ https }, use) => {
      const certificate = https ? makeTestCertificate() : null;
      const app = await startServer({ LOG_LEVEL: 'warn' }, { web: true, inheritEnv: true, ...(certificate ? { tls: certificate } : {}) });
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
