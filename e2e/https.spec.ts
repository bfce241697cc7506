import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromiumLaunchOptions } from './chromium.js';
import { watchCspViolations } from './csp.js';
import { expect, expectVideoPlaying, goLive, test } from './fixtures.js';

/**
 * A name that is not localhost, resolved (by Chromium alone) to 127.0.0.1: the browser sees what
 * a broadcaster on another machine of the LAN sees, a non-loopback host, where only HTTPS makes
 * the page a secure context and lets it open the camera. The server still listens on 127.0.0.1.
 */
const LAN_NAME = 'livecast.test';

test.use({
  https: true,
  // The certificate is self-signed (and made for 127.0.0.1), as on a LAN without a CA.
  ignoreHTTPSErrors: true,
  launchOptions: { ...chromiumLaunchOptions, args: [...(chromiumLaunchOptions.args ?? []), `--host-resolver-rules=MAP ${LAN_NAME} 127.0.0.1`] },
});

const lanTest = test.extend<{ lanUrl: string }>({
  lanUrl: async ({ app }, use) => use(app.url.replace('127.0.0.1', LAN_NAME)),
  baseURL: async ({ lanUrl }, use) => use(lanUrl),
});

lanTest('over HTTPS on a LAN name: the camera opens, go live, watch over HLS and in real time', async ({ app, lanUrl, browser, page }) => {
  expect(app.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  const violations = await watchCspViolations(page.context());

  const channelId = await goLive(page); // the default source is the (fake) camera: getUserMedia
  expect(page.url()).toBe(`${lanUrl}/go-live`);
  expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
  await expect(page.getByTestId('watch-link')).toHaveValue(`${lanUrl}/watch/${channelId}`);
  // The broadcaster really publishes over WebRTC signalled through wss:.
  await expect.poll(() => app.registry.get(channelId)?.state.phase).toBe('live');

  for (const mode of ['hls', 'realtime'] as const) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const contextViolations = await watchCspViolations(context);
    const viewer = await context.newPage();
    await viewer.goto(`${lanUrl}/watch/${channelId}?mode=${mode}`);
    await expect(viewer.getByTestId('mode')).toHaveAttribute('data-mode', mode);
    await expectVideoPlaying(viewer);
    await expect(viewer.getByTestId('viewer-count')).toHaveAttribute('data-viewers', '1');
    expect(contextViolations).toEqual([]);
    await context.close();
  }

  await page.getByTestId('stop').click();
  await expect(page.getByTestId('status')).toHaveText('Ended');
  expect(violations).toEqual([]);
});

test('the same LAN name over plain HTTP is no secure context: there, no camera without HTTPS', async ({ page }) => {
  // Not livecast: a bare page, only to show the browser would refuse the camera on this name
  // without TLS (the reason TLS_CERT exists), so the secure context above is TLS's doing.
  const plain = http.createServer((_req, res) => res.setHeader('Content-Type', 'text/html').end('<!doctype html><title>plain</title>'));
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  try {
    await page.goto(`http://${LAN_NAME}:${(plain.address() as AddressInfo).port}/`);
    expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
    expect(await page.evaluate(() => typeof navigator.mediaDevices)).toBe('undefined');
  } finally {
    await new Promise((resolve) => plain.close(resolve));
  }
});
