import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromiumLaunchOptions } from './chromium.js';
import { watchCspViolations } from './csp.js';
import { expect, expectVideoPlaying, goLive, test } from './fixtures.js';
import { openBlankPageWith } from './page-bundle.js';
import { whepClientBundle, whepView, whipClientBundle, whipIngest } from './third-party-clients.js';

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

lanTest('over HTTPS on a LAN name: an independent WHIP client publishes and an independent WHEP client plays', async ({ app, lanUrl, browser, page }) => {
  const [whipBundle, whepBundle] = await Promise.all([whipClientBundle(), whepClientBundle()]);
  // The go-live page's encoder panel (over wss:) makes the channel and shows an https WHIP URL.
  await page.goto('/go-live');
  await page.getByTestId('encoder-create').click();
  const whipUrl = await page.getByTestId('whip-url').inputValue();
  const channelId = new RegExp(`^${lanUrl}/whip/([A-Za-z0-9_-]{22})$`).exec(whipUrl)?.[1];
  expect(channelId, whipUrl).toBeTruthy();
  const streamKey = await page.getByTestId('stream-key').inputValue();
  const status = page.getByTestId('encoder-status');
  await expect(status).toHaveText('Waiting for the encoder…');

  // Eyevinn's WHIP client, on a page of the LAN name: a secure context only thanks to TLS, so it
  // may open the (fake) camera; its POST and DELETE go over https.
  const encoderContext = await browser.newContext({ ignoreHTTPSErrors: true });
  const encoder = await encoderContext.newPage();
  await openBlankPageWith(encoder, lanUrl, whipBundle);
  expect(await encoder.evaluate(() => window.isSecureContext)).toBe(true);
  expect(await whipIngest(encoder, whipUrl, streamKey)).toMatch(new RegExp(`^${lanUrl}/whip/${channelId}/[A-Za-z0-9_-]{22}$`));
  await expect(status).toHaveText('Live · 0 viewers', { timeout: 20_000 });

  // medooze's WHEP client plays it over https, and is counted as a real-time viewer.
  const playerContext = await browser.newContext({ ignoreHTTPSErrors: true });
  const player = await playerContext.newPage();
  await openBlankPageWith(player, lanUrl, whepBundle);
  const created = player.waitForResponse((r) => r.request().method() === 'POST' && r.url().startsWith(`${lanUrl}/whep/`));
  await whepView(player, `${lanUrl}/whep/${channelId}`);
  expect((await created).status()).toBe(201);
  await expectVideoPlaying(player);
  await expect(status).toHaveText('Live · 1 viewer');
  expect(app.registry.get(channelId!)?.realtime.count).toBe(1);

  // Both clients' DELETEs over https: the player is released, then the broadcast ends.
  await player.evaluate(() => window.whep!.stop());
  await expect(status).toHaveText('Live · 0 viewers');
  await encoder.evaluate(() => window.whip!.destroy());
  await expect(status).toHaveText('Ended: the broadcaster left');
  await expect.poll(() => app.registry.get(channelId!)).toBeUndefined();
  await Promise.all([encoderContext.close(), playerContext.close()]);
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
