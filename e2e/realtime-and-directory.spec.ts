import type { Page } from '@playwright/test';
import { expect, expectVideoPlaying, goLive, test } from './fixtures.js';

const mode = (page: Page) => page.getByTestId('mode');

test('a real-time viewer plays over WebRTC; its consumers exist while it watches and go when it leaves', async ({ app, browser, page }) => {
  const channelId = await goLive(page);
  const channel = app.registry.get(channelId)!;
  const context = await browser.newContext();
  const viewer = await context.newPage();
  await viewer.goto(`/watch/${channelId}`); // real time is the default while slots are free
  await expect(mode(viewer)).toHaveAttribute('data-mode', 'realtime');
  await expectVideoPlaying(viewer);
  expect(channel.realtime.count).toBe(1);
  expect(channel.realtime.consumerCount).toBe(2);
  await expect(viewer.getByTestId('latency')).toContainText('ms behind live');

  await context.close();
  await expect.poll(() => channel.realtime.consumerCount).toBe(0);
  expect(channel.realtime.count).toBe(0);
  await expect(page.getByTestId('viewer-count')).toHaveAttribute('data-viewers', '0');
});

test('an HLS viewer and a real-time viewer count as two, and the broadcaster sees each mode', async ({ browser, page }) => {
  const channelId = await goLive(page);
  const hls = await (await browser.newContext()).newPage();
  const realtime = await (await browser.newContext()).newPage();
  await hls.goto(`/watch/${channelId}?mode=hls`);
  realtime.on('console', (m) => console.log('realtime page:', m.text()));
  await realtime.goto(`/watch/${channelId}?mode=realtime`);
  await expectVideoPlaying(hls);
  await expectVideoPlaying(realtime);
  await expect(mode(hls)).toHaveAttribute('data-mode', 'hls');
  await expect(mode(realtime)).toHaveAttribute('data-mode', 'realtime');
  for (const p of [page, hls, realtime]) await expect(p.getByTestId('viewer-count')).toHaveAttribute('data-viewers', '2');
  const byMode = page.getByTestId('viewers-by-mode');
  await expect(byMode).toHaveAttribute('data-realtime', '1');
  await expect(byMode).toHaveAttribute('data-hls', '1');

  // Switching modes keeps the viewer counted once.
  await hls.getByTestId('mode-realtime').check();
  await expect(mode(hls)).toHaveAttribute('data-mode', 'realtime');
  await expectVideoPlaying(hls);
  await expect(byMode).toHaveAttribute('data-realtime', '2');
  await expect(page.getByTestId('viewer-count')).toHaveAttribute('data-viewers', '2');
  await page.getByTestId('stop').click();
});

test('when WebRTC cannot connect, the viewer falls back to HLS and plays', async ({ app, browser, page }) => {
  const channelId = await goLive(page);
  const viewer = await (await browser.newContext()).newPage();
  // Remove the server's ICE candidates from every remote description: no path for WebRTC media.
  await viewer.addInitScript(() => {
    const original = RTCPeerConnection.prototype.setRemoteDescription as (this: RTCPeerConnection, d?: RTCSessionDescriptionInit) => Promise<void>;
    RTCPeerConnection.prototype.setRemoteDescription = function (this: RTCPeerConnection, description?: RTCSessionDescriptionInit) {
      const sdp = description?.sdp?.replace(/^a=(candidate|end-of-candidates).*\r\n/gm, '');
      return original.call(this, description && { type: description.type, sdp });
    } as typeof RTCPeerConnection.prototype.setRemoteDescription;
  });
  await viewer.goto(`/watch/${channelId}`);
  await expect(mode(viewer)).toHaveAttribute('data-mode', 'hls', { timeout: 20_000 });
  await expect(viewer.getByTestId('mode-note')).toContainText('switched to HLS');
  await expectVideoPlaying(viewer);
  await expect.poll(() => app.registry.get(channelId)!.realtime.count).toBe(0);
  await expect(page.getByTestId('viewer-count')).toHaveAttribute('data-viewers', '1');
});

test('the directory lists live channels with their live picture and audience, live, and drops them when they end', async ({ browser, page }) => {
  test.setTimeout(90_000);
  const home = await (await browser.newContext()).newPage();
  await home.goto('/');
  await expect(home.getByTestId('directory-empty')).toBeVisible();
  await expect(home.getByTestId('directory-empty').getByRole('link', { name: /go live/i })).toHaveAttribute('href', '/go-live');

  const channelId = await goLive(page);
  const entry = home.locator(`[data-testid=directory-entry][data-channel-id="${channelId}"]`);
  await expect(entry).toBeVisible();
  await expect(entry).toHaveAttribute('data-viewers', '0');
  // Its card shows the live picture: a real JPEG (decoded by the browser, so it has a width)
  // that the server renews from newer key frames.
  const picture = entry.getByTestId('thumbnail');
  await expect.poll(() => picture.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 20_000 }).toBeGreaterThan(0);
  const thumbnailUrl = await picture.evaluate((img: HTMLImageElement) => img.src);
  const first = Buffer.from(await (await home.request.get(thumbnailUrl)).body());
  expect(first.subarray(0, 2).toString('hex')).toBe('ffd8');
  await expect
    .poll(async () => Buffer.from(await (await home.request.get(thumbnailUrl)).body()).equals(first), { timeout: 30_000, intervals: [2000] })
    .toBe(false);

  const viewer = await (await browser.newContext()).newPage();
  await viewer.goto(`/watch/${channelId}?mode=hls`);
  await expect(entry).toHaveAttribute('data-viewers', '1');
  await entry.getByRole('link').click();
  await expect(home).toHaveURL(new RegExp(`/watch/${channelId}$`));
  await expectVideoPlaying(home);
  await home.goBack();
  await expect(entry).toHaveAttribute('data-viewers', '1'); // the watch page it left no longer counts

  await page.getByTestId('stop').click();
  await expect(entry).toHaveCount(0);
  await expect(home.getByTestId('directory-empty')).toBeVisible();
});
