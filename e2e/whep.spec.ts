import { whepEndpointPath } from '../protocol/ids.js';
import { expect, expectVideoPlaying, goLive, test } from './fixtures.js';
import { openBlankPageWith } from './page-bundle.js';
import { whepClientBundle, whepView } from './third-party-clients.js';

/**
 * The proof that WHEP playback speaks the standard: medooze's WHEP client (whip-whep, by one of
 * the WHEP draft's authors) runs in Chromium and plays a channel published from the go-live page;
 * the viewer count counts it, and its DELETE releases its transport.
 */
let clientBundle = '';
test.beforeAll(async () => {
  clientBundle = await whepClientBundle();
});

test('an independent WHEP client plays a channel in real time; it is counted; DELETE releases it', async ({ app, browser, page }) => {
  const channelId = await goLive(page);
  const channel = app.registry.get(channelId)!;
  const hls = await (await browser.newContext()).newPage();
  await hls.goto(`/watch/${channelId}?mode=hls`);
  await expect(hls.getByTestId('viewer-count')).toHaveAttribute('data-viewers', '1');

  const player = await (await browser.newContext()).newPage();
  await openBlankPageWith(player, app.url, clientBundle);
  const created = player.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes('/whep/'));
  await whepView(player, `${app.url}${whepEndpointPath(channelId)}`);
  const answer = await created;
  expect(answer.status()).toBe(201);
  expect(answer.headers()['location']).toMatch(new RegExp(`^/whep/${channelId}/[A-Za-z0-9_-]{22}$`));
  await expectVideoPlaying(player);
  // Sound too: the fake microphone's beeps arrive as decoded audio.
  await expect
    .poll(
      () =>
        player.evaluate(async () => {
          const stats: { kind?: string; type: string; totalSamplesReceived?: number }[] = [];
          (await window.whepPc!.getStats()).forEach((s: { kind?: string; type: string; totalSamplesReceived?: number }) => stats.push(s));
          return stats.find((s) => s.type === 'inbound-rtp' && s.kind === 'audio')?.totalSamplesReceived ?? 0;
        }),
      { timeout: 10_000 },
    )
    .toBeGreaterThan(48_000);

  expect(channel.realtime.count).toBe(1);
  await expect(hls.getByTestId('viewer-count')).toHaveAttribute('data-viewers', '2');

  await player.evaluate(() => window.whep!.stop());
  await expect.poll(() => channel.realtime.count).toBe(0);
  await expect(hls.getByTestId('viewer-count')).toHaveAttribute('data-viewers', '1');
});
