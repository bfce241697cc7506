import { io as connect } from 'socket.io-client';
import { whipEndpointPath } from '../protocol/ids.js';
import { lobbyResultSchemas } from '../protocol/schemas.js';
import { whipOffer } from '../server/test/helpers/whip-offer.js';
import { expect, expectVideoPlaying, test } from './fixtures.js';
import { openBlankPageWith } from './page-bundle.js';
import { whipClientBundle, whipIngest as ingest } from './third-party-clients.js';

/**
 * The proof that WHIP ingest speaks the standard, not our own dialect: Eyevinn's WHIP client
 * (@eyevinn/whip-web-client, written by others against RFC 9725) runs in Chromium with the fake
 * camera and microphone and publishes to a channel; the channel's existing readers (HLS and
 * real-time viewers on the watch page) play it, and the client's DELETE ends it for them.
 */
let clientBundle = '';
test.beforeAll(async () => {
  clientBundle = await whipClientBundle();
});

/** Creates a channel through the lobby, as the go-live page does, and returns the ack (validated). */
async function createChannel(url: string) {
  const lobby = connect(url, { transports: ['websocket'], reconnection: false });
  try {
    const ack: unknown = await lobby.timeout(10_000).emitWithAck('createChannel', {});
    return lobbyResultSchemas.createChannel.parse(ack);
  } finally {
    lobby.close();
  }
}

test('an independent WHIP client publishes from Chromium; HLS and real-time viewers play; DELETE ends it for them', async ({ app, browser, page }) => {
  const { channelId, streamKey, publishToken } = await createChannel(app.url);
  expect(streamKey).toMatch(/^[A-Za-z0-9_-]{32}$/);
  expect(streamKey).not.toBe(publishToken);
  const channel = app.registry.get(channelId)!;

  await openBlankPageWith(page, app.url, clientBundle);

  const started = Date.now();
  let answered = 0;
  page.on('response', (response) => {
    if (response.request().method() === 'POST' && response.url().includes('/whip/')) answered = Date.now();
  });
  let firstMedia = 0;
  const mediaPoll = setInterval(() => {
    if (!firstMedia && channel.mediaFlowing) firstMedia = Date.now();
  }, 50);
  const resource = await ingest(page, `${app.url}${whipEndpointPath(channelId)}`, streamKey);
  expect(resource).toMatch(new RegExp(`^${app.url}/whip/${channelId}/[A-Za-z0-9_-]{22}$`));
  await expect.poll(() => channel.state.phase, { timeout: 20_000 }).toBe('live');
  clearInterval(mediaPoll);
  // For the record (not asserted: the machine is shared): where the time to the first segment goes.
  console.log(`WHIP from ingest(): 201 answer ${answered - started} ms, media seen ${firstMedia - started} ms, first HLS playlist ${Date.now() - started} ms`);
  expect(channel.tracks().map((p) => [p.kind, p.rtpParameters.codecs[0]!.mimeType]).sort()).toEqual([
    ['audio', 'audio/opus'],
    ['video', 'video/H264'],
  ]);

  const hls = await (await browser.newContext()).newPage();
  const realtime = await (await browser.newContext()).newPage();
  await hls.goto(`/watch/${channelId}?mode=hls`);
  await realtime.goto(`/watch/${channelId}?mode=realtime`);
  await expectVideoPlaying(hls);
  await expectVideoPlaying(realtime);
  await expect(hls.getByTestId('mode')).toHaveAttribute('data-mode', 'hls');
  await expect(realtime.getByTestId('mode')).toHaveAttribute('data-mode', 'realtime');
  expect(channel.realtime.count).toBe(1);

  // The library's own DELETE (with the bearer token) on the session URL ends the broadcast.
  await page.evaluate(() => window.whip!.destroy());
  for (const viewer of [hls, realtime]) await expect(viewer.getByTestId('status')).toHaveText('Stream ended');
  await expect.poll(() => app.registry.get(channelId)).toBeUndefined();
  // The registry forgets the channel when it starts ending; the router closes after its readers (FFmpeg).
  await expect.poll(() => channel.router.closed).toBe(true);
});

test('the go-live page’s encoder panel: waiting for the encoder, a new key (the old one refused), live when an encoder publishes, ended when it stops', async ({ app, browser, page }) => {
  await page.goto('/go-live');
  await page.getByTestId('encoder-create').click();
  const whipUrl = await page.getByTestId('whip-url').inputValue();
  const firstKey = await page.getByTestId('stream-key').inputValue();
  const channelId = new RegExp(`^${app.url}/whip/([A-Za-z0-9_-]{22})$`).exec(whipUrl)?.[1];
  expect(channelId, whipUrl).toBeTruthy();
  expect(firstKey).toMatch(/^[A-Za-z0-9_-]{32}$/);
  // The key is shown masked.
  await expect(page.getByTestId('stream-key')).toHaveAttribute('type', 'password');
  const status = page.getByTestId('encoder-status');
  await expect(status).toHaveText('Waiting for the encoder…');
  await expect(status).toHaveAttribute('data-state', 'waiting');
  // The page holds the channel against the idle timeout, and is not counted as a viewer.
  const channel = app.registry.get(channelId!)!;
  expect(channel.idleTimerRunning).toBe(false);

  await page.getByTestId('encoder-new-key').click();
  await expect(page.getByTestId('stream-key')).not.toHaveValue(firstKey);
  const newKey = await page.getByTestId('stream-key').inputValue();
  expect(newKey).toMatch(/^[A-Za-z0-9_-]{32}$/);
  const offer = (key: string) => fetch(whipUrl, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${key}` }, body: whipOffer() });
  expect((await offer(firstKey)).status).toBe(401);
  await expect(status).toHaveText('Waiting for the encoder…');

  // An encoder (Eyevinn's WHIP client in another tab) publishes with the new key.
  const encoder = await (await browser.newContext()).newPage();
  await openBlankPageWith(encoder, app.url, clientBundle);
  expect(await ingest(encoder, whipUrl, newKey)).toMatch(new RegExp(`^${app.url}/whip/${channelId}/`));
  await expect(status).toHaveText('Live · 0 viewers', { timeout: 20_000 });
  await expect(status).toHaveAttribute('data-state', 'live');
  const viewer = await (await browser.newContext()).newPage();
  await viewer.goto(`/watch/${channelId}?mode=hls`);
  await expect(status).toHaveText('Live · 1 viewer');

  // The encoder stops (its DELETE, with the new key): the panel says so.
  await encoder.evaluate(() => window.whip!.destroy());
  await expect(status).toHaveText('Ended: the broadcaster left');
  await expect(page.getByTestId('encoder-new-key')).toHaveCount(0);
  await expect.poll(() => app.registry.get(channelId!)).toBeUndefined();
});
