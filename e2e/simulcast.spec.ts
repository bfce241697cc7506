import type { Page } from '@playwright/test';
import HLS from 'hls-parser';
import { SAME_FRAME_SECONDS } from '../server/src/readers/hls/ll-packager.js';
import { frameHoles, segmentVideoFrames } from '../server/test/helpers/segment-frames.js';
import { expect, expectVideoPlaying, goLive, test } from './fixtures.js';

test.use({ simulcast: true });

/** The width of the frames the viewer's <video> decodes now. */
const receivedWidth = (page: Page) => page.getByTestId('player').evaluate((v: HTMLVideoElement) => v.videoWidth);

async function chooseQuality(page: Page, id: 'auto' | number): Promise<void> {
  await page.getByTestId('quality-menu').click();
  await page.getByTestId(`quality-${id}`).click();
  await expect(page.getByTestId('quality-menu')).toHaveAttribute('data-choice', String(id));
}

test('a simulcast broadcast: three H264 layers; a real-time viewer picks one from the quality menu, and Auto moves down a layer when its bandwidth drops below the top layer’s and back up when it recovers', async ({ app, browser, page }) => {
  const channelId = await goLive(page);
  const channel = app.registry.get(channelId)!;
  const producer = channel.tracks().find((p) => p.kind === 'video')!;
  expect(producer.type).toBe('simulcast');
  expect(producer.rtpParameters.encodings).toHaveLength(3);
  expect(producer.rtpParameters.codecs[0]!.mimeType).toBe('video/H264');
  expect(channel.videoLayers()).toEqual([
    { spatialLayer: 0, height: 180 },
    { spatialLayer: 1, height: 360 },
    { spatialLayer: 2, height: 720 },
  ]);
  // All three layers reach the server.
  await expect.poll(async () => (await producer.getStats()).filter((s) => s.bitrate > 0).length, { timeout: 15_000 }).toBe(3);

  const viewer = await (await browser.newContext()).newPage();
  await viewer.goto(`/watch/${channelId}?mode=realtime`);
  await expectVideoPlaying(viewer);
  // Auto on a fast network: the top layer.
  await expect.poll(() => receivedWidth(viewer), { timeout: 20_000 }).toBe(1280);
  await expect(viewer.getByTestId('received-resolution')).toHaveAttribute('data-resolution', '1280×720');

  await viewer.getByTestId('quality-menu').click();
  await expect(viewer.getByTestId('quality-options').getByRole('menuitemradio')).toHaveText(['Auto', '720p', '360p', '180p']);
  await viewer.keyboard.press('Escape');
  await expect(viewer.getByTestId('quality-options')).toHaveCount(0);

  await chooseQuality(viewer, 0);
  await expect.poll(() => receivedWidth(viewer), { timeout: 15_000 }).toBe(320);
  await expect(viewer.getByTestId('received-resolution')).toHaveAttribute('data-resolution', '320×180');
  await expectVideoPlaying(viewer);
  await chooseQuality(viewer, 1);
  await expect.poll(() => receivedWidth(viewer), { timeout: 15_000 }).toBe(640);
  await chooseQuality(viewer, 'auto');
  await expect.poll(() => receivedWidth(viewer), { timeout: 20_000 }).toBe(1280);

  // The viewer's link narrows to half of what the top layer takes (the fake camera's simple picture
  // needs far less than the layer's ceiling): mediasoup's estimate moves it down to what fits, and it keeps playing.
  const topLayerBitrate = Math.max(...(await producer.getStats()).map((s) => s.bitrate));
  const transports = [...channel.realtime.viewerTransports().values()];
  expect(transports).toHaveLength(1);
  await transports[0]!.setMaxOutgoingBitrate(Math.max(100_000, Math.round(topLayerBitrate / 2)));
  await expect.poll(() => receivedWidth(viewer), { timeout: 30_000 }).toBeLessThan(1280);
  await expectVideoPlaying(viewer);
  await transports[0]!.setMaxOutgoingBitrate(20_000_000);
  await expect.poll(() => receivedWidth(viewer), { timeout: 40_000 }).toBe(1280);
  await expectVideoPlaying(viewer);
});

/**
 * Keeps the page's RTCPeerConnections reachable (mediasoup-client holds its own privately), so
 * that a test can do what a congested uplink makes Chromium do: stop sending a simulcast layer.
 */
async function exposePeerConnections(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const list: RTCPeerConnection[] = [];
    Object.assign(window, { __peerConnections: list });
    window.RTCPeerConnection = class extends Native {
      constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
        super(...args);
        list.push(this);
      }
    };
  });
}

/** Turns the broadcaster's top simulcast layer off or on, as Chromium does when its uplink cannot carry it. */
async function setTopLayerActive(page: Page, active: boolean): Promise<void> {
  await page.evaluate(async (on) => {
    const list = (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections;
    const sender = list.flatMap((pc) => pc.getSenders()).find((s) => s.track?.kind === 'video')!;
    const parameters = sender.getParameters();
    parameters.encodings.at(-1)!.active = on;
    await sender.setParameters(parameters);
  }, active);
}

/** A playlist parsed by hls-parser in strict mode (an independent parser: a spec violation throws). */
async function fetchPlaylist(url: string) {
  const text = await (await fetch(url)).text();
  HLS.setOptions({ strictMode: true, silent: true });
  return { text, playlist: HLS.parse(text) };
}

test('HLS of a simulcast broadcast: a multivariant playlist with one passed-through rendition per layer, segments aligned across them, rendition reports; the quality menu picks each; when the broadcaster stops sending the top layer its rendition goes on with the next one after a discontinuity, and comes back', async ({ app, browser, page }) => {
  // Three renditions to check and play, then a layer held for its 20 s.
  test.setTimeout(180_000);
  const failedFfmpegRestarts = async () => (await app.metrics.ffmpegRestarts.get()).values[0]?.value ?? 0;
  const restartsBefore = await failedFfmpegRestarts();
  await exposePeerConnections(page);
  const channelId = await goLive(page);
  const channel = app.registry.get(channelId)!;
  expect(channel.tracks().find((p) => p.kind === 'video')!.type).toBe('simulcast');
  const base = `${app.url}/hls/${channelId}`;

  // The channel's playlist is the multivariant one: a variant per layer, low to high, with what it is.
  const isMultivariant = async () => (await fetchPlaylist(`${base}/index.m3u8`).catch(() => null))?.playlist.isMasterPlaylist ?? false;
  await expect.poll(isMultivariant, { timeout: 20_000 }).toBe(true);
  // Chromium may turn its top layer on a few seconds after the others (its bandwidth estimate
  // ramps up): until then the top rendition carries the layer below, and says so.
  const topWidth = async () => {
    const { playlist } = await fetchPlaylist(`${base}/index.m3u8`);
    return playlist.isMasterPlaylist ? playlist.variants[0]?.resolution?.width : undefined;
  };
  await expect.poll(topWidth, { timeout: 20_000 }).toBe(1280);
  const { playlist: multivariant } = await fetchPlaylist(`${base}/index.m3u8`);
  if (!multivariant.isMasterPlaylist) throw new Error('not a multivariant playlist');
  // Listed top first (where players start), here put low to high.
  const variants = [...multivariant.variants].reverse();
  expect(variants.map((v) => v.uri)).toEqual(['v0/index.m3u8', 'v1/index.m3u8', 'v2/index.m3u8']);
  expect(variants.map((v) => v.resolution)).toEqual([
    { width: 320, height: 180 },
    { width: 640, height: 360 },
    { width: 1280, height: 720 },
  ]);
  for (const v of variants) expect(v.codecs).toMatch(/^avc1\.42[0-9a-f]{4},mp4a\.40\.2$/);
  expect(variants[0]!.bandwidth).toBeLessThan(variants[2]!.bandwidth);

  // Aligned: the same segment number starts at the same time and lasts as long in every rendition.
  const media = async () =>
    Promise.all(
      variants.map(async (v) => {
        const { playlist } = await fetchPlaylist(`${base}/${v.uri}`);
        if (playlist.isMasterPlaylist) throw new Error('a rendition’s playlist is multivariant');
        return playlist;
      }),
    );
  await page.waitForTimeout(4000);
  const renditions = await media();
  const complete = renditions.map((p) => new Map(p.segments.filter((s) => s.duration > 0).map((s) => [s.mediaSequenceNumber, s])));
  const common = [...complete[2]!.keys()].filter((msn) => complete.every((m) => m.has(msn)));
  expect(common.length).toBeGreaterThanOrEqual(3);
  // Read from the segments' own boxes: every rendition's segment starts at its first frame at or
  // after the top one's start (a layer may lack a frame there: it drops frames of its own under
  // load), and no frame is missing inside a segment.
  const frames = await Promise.all(variants.map((v, i) => Promise.all(common.map(async (msn) => segmentVideoFrames(`${base}/${v.uri.replace('index.m3u8', '')}`, complete[i]!.get(msn)!)))));
  const offsets: number[] = [];
  for (const [k, msn] of common.entries()) {
    const top = frames[2]![k]!;
    for (const r of [0, 1]) {
      const own = frames[r]![k]!;
      expect(frameHoles(own), `rendition ${r}'s segment ${msn}: frames missing inside it`).toEqual([]);
      expect(own[0]!.start, `rendition ${r}'s segment ${msn} starts before the top one's`).toBeGreaterThanOrEqual(top[0]!.start - SAME_FRAME_SECONDS);
      // Across a discontinuity (a restarted pipeline: every rendition's media clock starts again) times do not compare.
      const sameTimeline = !complete[r]!.get(msn)!.discontinuity && !complete[2]!.get(msn)!.discontinuity;
      const previous = k > 0 && common[k - 1] === msn - 1 && sameTimeline ? frames[r]![k - 1]!.at(-1) : undefined;
      if (previous) expect(previous.start, `rendition ${r}'s segment ${msn - 1} holds a frame of the top one's segment ${msn}`).toBeLessThan(top[0]!.start - SAME_FRAME_SECONDS);
      offsets.push(Math.round((own[0]!.start - top[0]!.start) * 1000));
      expect(Math.abs(complete[r]!.get(msn)!.programDateTime!.getTime() - complete[2]!.get(msn)!.programDateTime!.getTime()), `segment ${msn}'s start`).toBeLessThanOrEqual(60);
    }
    expect(frameHoles(top), `the top rendition's segment ${msn}: frames missing inside it`).toEqual([]);
  }
  console.log(`segment starts against the top rendition's, ms: ${offsets.join(' ')}`);
  // Key frames are asked of every layer at once; a segment the top one had to cut without a key
  // frame (a late frame after a short part, rfc8216bis §4.4.4.9; frame rates fall under load) has none.
  console.log(`segments starting with a key frame, per rendition (of ${common.length}): ${frames.map((f) => f.filter((segment) => segment[0]!.sync).length).join(', ')}`);
  // Each rendition reports on the other two.
  for (const [i, p] of renditions.entries()) {
    expect(p.renditionReports.map((r) => r.uri).sort()).toEqual(variants.filter((_, j) => j !== i).map((v) => `../${v.uri}`).sort());
  }

  const viewer = await (await browser.newContext()).newPage();
  await viewer.goto(`/watch/${channelId}?mode=hls`);
  await expectVideoPlaying(viewer);
  await viewer.getByTestId('quality-menu').click();
  await expect(viewer.getByTestId('quality-options').getByRole('menuitemradio')).toHaveText(['Auto', '720p', '360p', '180p']);
  await viewer.keyboard.press('Escape');
  for (const [level, width] of [[0, 320], [1, 640], [2, 1280]] as const) {
    await chooseQuality(viewer, level);
    await expect.poll(() => receivedWidth(viewer), { timeout: 20_000 }).toBe(width);
    await expectVideoPlaying(viewer);
  }

  // The top layer stops: its rendition is held on the next layer (a new timeline: init segment
  // after a discontinuity). A viewer on Auto goes on playing, at most at that layer's size.
  await chooseQuality(viewer, 'auto');
  await expect.poll(() => receivedWidth(viewer), { timeout: 20_000 }).toBe(1280);
  const newestInit = async () => {
    const { text } = await fetchPlaylist(`${base}/v2/index.m3u8`);
    return Math.max(...[...text.matchAll(/#EXT-X-MAP:URI="init_(\d+)\.mp4"/g)].map((m) => Number(m[1])));
  };
  const before = await newestInit();
  await setTopLayerActive(page, false);
  await expect.poll(newestInit, { timeout: 20_000 }).toBeGreaterThan(before);
  expect((await fetchPlaylist(`${base}/v2/index.m3u8`)).text).toContain('#EXT-X-DISCONTINUITY');
  await expect.poll(() => receivedWidth(viewer), { timeout: 20_000 }).toBeLessThanOrEqual(640);
  await expectVideoPlaying(viewer);
  const switchedDown = await newestInit();
  await setTopLayerActive(page, true);
  // Back after the hold (20 s after the first drop).
  await expect.poll(newestInit, { timeout: 40_000 }).toBeGreaterThan(switchedDown);
  await expect.poll(() => receivedWidth(viewer), { timeout: 20_000 }).toBe(1280);
  await expectVideoPlaying(viewer);
  // FFmpeg was replaced for the layers, never restarted after a failure.
  expect(await failedFfmpegRestarts()).toBe(restartsBefore);
});

test('an HLS viewer on Auto whose network narrows below the top rendition’s bandwidth switches down by itself and keeps playing, and goes back up when it widens', async ({ app, browser, page }) => {
  test.setTimeout(150_000);
  const channelId = await goLive(page);
  const base = `${app.url}/hls/${channelId}`;
  const isMultivariant = async () => (await fetchPlaylist(`${base}/index.m3u8`).catch(() => null))?.playlist.isMasterPlaylist ?? false;
  await expect.poll(isMultivariant, { timeout: 20_000 }).toBe(true);
  const viewer = await (await browser.newContext()).newPage();
  await viewer.goto(`/watch/${channelId}?mode=hls`);
  await expectVideoPlaying(viewer);
  await expect.poll(() => receivedWidth(viewer), { timeout: 30_000 }).toBe(1280);

  // Chromium's own network emulation on the viewer's requests: between the middle and the top rendition's bit rates.
  const { playlist } = await fetchPlaylist(`${base}/index.m3u8`);
  if (!playlist.isMasterPlaylist) throw new Error('not a multivariant playlist');
  const [top, mid] = playlist.variants.map((v) => v.bandwidth);
  const throughput = Math.round((mid! + top!) / 2);
  const cdp = await viewer.context().newCDPSession(viewer);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: throughput / 8, uploadThroughput: -1 });
  await expect.poll(() => receivedWidth(viewer), { timeout: 45_000 }).toBeLessThan(1280);
  await expectVideoPlaying(viewer);

  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await expect.poll(() => receivedWidth(viewer), { timeout: 45_000 }).toBe(1280);
  await expectVideoPlaying(viewer);
});
