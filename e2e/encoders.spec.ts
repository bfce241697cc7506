import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, expectVideoPlaying, test } from './fixtures.js';

/**
 * Publishing from an encoder over RTMP and SRT, as a broadcaster does it: the go-live page's
 * encoder panel gives the RTMP server, the key and the SRT URL; FFmpeg (a client this project did
 * not write) publishes what OBS sends by default (H264 High with B-frames, AAC); the watch page
 * plays it over HLS (passed through) and in real time (transcoded only while a real-time viewer
 * watches); a stream livecast cannot play ends with the reason on the panel.
 */
test.use({ ingest: true });

const encoders = new Set<ChildProcess>();
test.afterEach(() => {
  for (const encoder of encoders) encoder.kill('SIGKILL');
  encoders.clear();
});

function publish(url: string, format: 'flv' | 'mpegts', video: string[] = ['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-bf', '2', '-g', '60', '-pix_fmt', 'yuv420p']): ChildProcess {
  const encoder = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    ...video, '-c:a', 'aac', '-t', '60', '-f', format, url,
  ], { stdio: 'ignore' });
  encoders.add(encoder);
  return encoder;
}

async function encoderPanel(page: import('@playwright/test').Page) {
  await page.goto('/go-live');
  await page.getByTestId('encoder-create').click();
  const whipUrl = await page.getByTestId('whip-url').inputValue();
  const channelId = /\/whip\/([A-Za-z0-9_-]{22})$/.exec(whipUrl)![1]!;
  return { channelId, key: await page.getByTestId('stream-key').inputValue(), status: page.getByTestId('encoder-status') };
}

test('RTMP: OBS-style High profile with B-frames from the panel’s server and key; HLS and real-time viewers play; the transcode runs only for real-time viewers', async ({ app, browser, page }) => {
  const { channelId, key, status } = await encoderPanel(page);
  const server = await page.getByTestId('rtmp-server').inputValue();
  expect(server).toBe(`rtmp://127.0.0.1:${app.rtmp!.port}/live`);
  await expect(status).toHaveText('Waiting for the encoder…');

  publish(`${server}/${key}`, 'flv');
  await expect(status).toHaveText('Live · 0 viewers', { timeout: 20_000 });
  const channel = app.registry.get(channelId)!;

  const hls = await (await browser.newContext()).newPage();
  await hls.goto(`/watch/${channelId}?mode=hls`);
  await expectVideoPlaying(hls);
  expect(await channel.transcoderPid()).toBeUndefined();

  const realtimeContext = await browser.newContext();
  const realtime = await realtimeContext.newPage();
  await realtime.goto(`/watch/${channelId}?mode=realtime`);
  await expectVideoPlaying(realtime);
  await expect(realtime.getByTestId('mode')).toHaveAttribute('data-mode', 'realtime');
  const transcoder = await channel.transcoderPid();
  expect(transcoder).toBeGreaterThan(0);

  // The last real-time viewer leaves: the transcode stops (after the linger), HLS plays on.
  await realtimeContext.close();
  await expect.poll(() => channel.transcoderPid(), { timeout: 10_000 }).toBeUndefined();
  await expectVideoPlaying(hls);
});

test('SRT: the panel’s URL (the key as passphrase) goes live; a Constrained Baseline stream plays in real time with its video copied', async ({ app, browser, page }) => {
  const { channelId, status } = await encoderPanel(page);
  await expect(page.getByTestId('srt-url')).toHaveAttribute('type', 'password');
  const url = await page.getByTestId('srt-url').inputValue();
  expect(url).toMatch(/^srt:\/\/127\.0\.0\.1:186\d\d\?passphrase=[A-Za-z0-9_-]{32}$/);
  publish(url, 'mpegts', ['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'baseline', '-g', '30', '-pix_fmt', 'yuv420p']);
  await expect(status).toHaveText('Live · 0 viewers', { timeout: 20_000 });
  const realtime = await (await browser.newContext()).newPage();
  await realtime.goto(`/watch/${channelId}?mode=realtime`);
  await expectVideoPlaying(realtime);
  // Chromium decodes the encoder's own Baseline H264: no video transcode ran.
  const pid = (await app.registry.get(channelId)!.transcoderPid())!;
  expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')).toContain('-c:v copy');
});

test('a stream livecast cannot play (Sorenson H.263 video) ends with the reason on the panel', async ({ page }) => {
  const { key, status } = await encoderPanel(page);
  const server = await page.getByTestId('rtmp-server').inputValue();
  publish(`${server}/${key}`, 'flv', ['-c:v', 'flv1']);
  await expect(status).toHaveText(/^Ended: the encoder sends Sorenson H\.263 video; livecast takes H264/, { timeout: 15_000 });
});
