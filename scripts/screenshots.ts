/**
 * The README's screenshots, taken from the real pages: a server of this checkout, the go-live page
 * publishing the test pattern under a title, a viewer playing it over HLS, and the directory with
 * the channel's live picture. Writes docs/screenshots/{directory,go-live,watch}.png (desktop,
 * 1280×800) and watch-phone.png (390×844).
 *
 *   npm run screenshots      (builds the web app first)
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Page } from '@playwright/test';
import { chromiumLaunchOptions } from '../e2e/chromium.js';
import { startServer } from '../server/test/helpers/server.js';

const OUT = path.resolve(import.meta.dirname, '..', 'docs', 'screenshots');
const DESKTOP = { width: 1280, height: 800 };

async function until(page: Page, check: () => boolean, what: string): Promise<void> {
  await page.waitForFunction(check, null, { timeout: 30_000 }).catch(() => {
    throw new Error(`timed out waiting for ${what}`);
  });
}

await mkdir(OUT, { recursive: true });
const server = await startServer({ THUMBNAIL_SECONDS: '2' }, { web: true, inheritEnv: true });
const browser = await chromium.launch(chromiumLaunchOptions);
try {
  const broadcaster = await (await browser.newContext({ baseURL: server.url, viewport: DESKTOP })).newPage();
  await broadcaster.goto('/go-live?source=test');
  await broadcaster.getByTestId('title-input').fill('Morning show: building a live streaming server');
  await broadcaster.getByTestId('description-input').fill('Live from the test pattern, every weekday at nine.');
  await broadcaster.locator('[data-testid=go-live]:enabled').click();
  await broadcaster.getByTestId('status').filter({ hasText: 'Live' }).waitFor({ timeout: 30_000 });
  const channelId = (await broadcaster.getByTestId('channel-id').textContent())!.trim();

  for (const [name, viewport] of [['watch', DESKTOP], ['watch-phone', { width: 390, height: 844 }]] as const) {
    const viewer = await (await browser.newContext({ baseURL: server.url, viewport })).newPage();
    await viewer.goto(`/watch/${channelId}?mode=hls`);
    await until(viewer, () => (document.querySelector('video')?.currentTime ?? 0) > 2, 'the watch page to play');
    await viewer.screenshot({ path: path.join(OUT, `${name}.png`) });
  }

  const home = await (await browser.newContext({ baseURL: server.url, viewport: DESKTOP })).newPage();
  await home.goto('/');
  await until(home, () => [...document.querySelectorAll('img')].some((img) => img.complete && img.naturalWidth > 0), 'the live picture');
  await home.screenshot({ path: path.join(OUT, 'directory.png') });
  await broadcaster.screenshot({ path: path.join(OUT, 'go-live.png') });
  console.log(`screenshots of channel ${channelId} written to ${path.relative(process.cwd(), OUT)}/`);
} finally {
  await browser.close();
  await server.stop();
}
