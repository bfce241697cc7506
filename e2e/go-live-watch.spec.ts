import { io as connect } from 'socket.io-client';
import { channelNamespace } from '../protocol/index.js';
import { expect, expectVideoPlaying, goLive, test } from './fixtures.js';
import { isAlive } from '../server/test/helpers/processes.js';

test('go live, watch over HLS with a live viewer count, then stop', async ({ app, browser, page }) => {
  const channelId = await goLive(page);
  const channel = app.registry.get(channelId)!;
  expect(channel).toBeDefined();
  const ffmpegPid = channel.ffmpegPid!;
  expect(isAlive(ffmpegPid)).toBe(true);

  const watchUrl = await page.getByTestId('watch-link').inputValue();
  expect(watchUrl).toBe(`${app.url}/watch/${channelId}`);

  const first = await (await browser.newContext()).newPage();
  // hls.js in low-latency mode: it loads parts and blocks on playlist reloads for the next one.
  const llRequests = { parts: 0, blocking: 0 };
  first.on('request', (request) => {
    if (/\/part_\d+\.m4s$/.test(request.url())) llRequests.parts++;
    if (/index\.m3u8\?_HLS_msn=\d+&_HLS_part=\d+/.test(request.url())) llRequests.blocking++;
  });
  await first.goto(`${watchUrl}?mode=hls`);
  await expectVideoPlaying(first);
  expect(llRequests.parts).toBeGreaterThan(5);
  expect(llRequests.blocking).toBeGreaterThan(5);
  await expect(first.getByTestId('status')).toHaveText('Live');
  await expect(first.getByTestId('viewer-count')).toHaveAttribute('data-viewers', '1');
  await expect(page.getByTestId('viewer-count')).toHaveAttribute('data-viewers', '1');

  const secondContext = await browser.newContext();
  const second = await secondContext.newPage();
  await second.goto(`${watchUrl}?mode=hls`);
  await expectVideoPlaying(second);
  for (const p of [page, first, second]) await expect(p.getByTestId('viewer-count')).toHaveAttribute('data-viewers', '2');

  await secondContext.close();
  for (const p of [page, first]) await expect(p.getByTestId('viewer-count')).toHaveAttribute('data-viewers', '1');

  await page.getByTestId('stop').click();
  await expect(page.getByTestId('status')).toHaveText('Ended');
  await expect(first.getByTestId('status')).toHaveText('Stream ended');
  expect(app.registry.get(channelId)).toBeUndefined();
  await expect.poll(() => isAlive(ffmpegPid)).toBe(false);
  // Ports go once FFmpeg has exited (it must never wait on a closed input).
  await expect.poll(() => app.ports.allocated).toBe(0);
  // The channel's router is closed as the channel ends; the workers confirm it a moment later.
  await expect.poll(async () => (await Promise.all(app.pool.workers.map((w) => w.dump()))).flatMap((d) => d.routerIds)).toEqual([]);
});

/** Connects to a channel namespace from Node, resolving with the connected socket or the refusal. */
function joinChannel(url: string, channelId: string, auth: object) {
  const socket = connect(`${url}${channelNamespace(channelId)}`, { auth, transports: ['websocket'], reconnection: false });
  return new Promise<{ socket: typeof socket; refusal?: string }>((resolve) => {
    socket.once('connect', () => resolve({ socket }));
    socket.once('connect_error', (error) => resolve({ socket, refusal: error.message }));
  });
}

test('a second broadcaster is refused, a viewer cannot publish, and the live stream is undisturbed', async ({ app, browser, page }) => {
  // The token the server handed the page, read off the wire (the createChannel ack).
  let publishToken = '';
  page.on('websocket', (ws) =>
    ws.on('framereceived', ({ payload }) => {
      const token = /"publishToken":"([^"]+)"/.exec(String(payload))?.[1];
      if (token) publishToken = token;
    }),
  );
  const channelId = await goLive(page);
  expect(publishToken).not.toBe('');
  const watcher = await (await browser.newContext()).newPage();
  await watcher.goto(`/watch/${channelId}?mode=hls`);
  await expectVideoPlaying(watcher);

  const withToken = await joinChannel(app.url, channelId, { role: 'broadcaster', publishToken });
  expect(withToken.refusal).toBe('this channel already has a broadcaster');
  const wrongToken = await joinChannel(app.url, channelId, { role: 'broadcaster', publishToken: 'guess' });
  expect(wrongToken.refusal).toBe('invalid publish token for this channel');

  const viewer = await joinChannel(app.url, channelId, { role: 'viewer' });
  expect(viewer.refusal).toBeUndefined();
  for (const [event, payload] of [
    ['createProducerTransport', {}],
    ['connectProducerTransport', { dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] } }],
    ['produce', { kind: 'video', rtpParameters: { codecs: [{ mimeType: 'video/H264', payloadType: 96, clockRate: 90000 }] } }],
    ['stopBroadcast', {}],
  ] as const) {
    expect(await viewer.socket.timeout(5000).emitWithAck(event, payload)).toEqual({ error: { code: 'unauthorized', message: 'only the channel’s broadcaster can publish' } });
  }
  viewer.socket.disconnect();
  [withToken, wrongToken].forEach((r) => r.socket.disconnect());

  await expect(page.getByTestId('status')).toHaveText('Live');
  expect(app.registry.get(channelId)?.ended).toBe(false);
  await expectVideoPlaying(watcher);
});

test('closing the broadcaster tab ends the stream for viewers and frees the channel', async ({ app, browser }) => {
  const broadcaster = await (await browser.newContext()).newPage();
  const channelId = await goLive(broadcaster);
  const ffmpegPid = app.registry.get(channelId)!.ffmpegPid!;
  const watcher = await (await browser.newContext()).newPage();
  await watcher.goto(`/watch/${channelId}?mode=hls`);
  await expectVideoPlaying(watcher);

  await broadcaster.close();
  await expect(watcher.getByTestId('status')).toHaveText('Stream ended');
  await expect(watcher.getByTestId('status-detail')).toHaveText('the broadcaster left');
  await expect.poll(() => app.registry.get(channelId)).toBeUndefined();
  await expect.poll(() => isAlive(ffmpegPid)).toBe(false);
});

test('an unknown or malformed channel id gets a clear not-found message', async ({ page }) => {
  for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', 'not-a-channel']) {
    await page.goto(`/watch/${id}`);
    await expect(page.getByTestId('status')).toHaveText('Channel not found');
    await expect(page.getByTestId('status-detail')).toContainText('It may have ended, or the link is wrong');
  }
});
