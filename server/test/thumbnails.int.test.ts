import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cpuSeconds } from '../../bench/proc-stats.js';
import { createRtpIngest } from './helpers/rtp-ingest.js';
import { eventually, waitForExit } from './helpers/processes.js';
import { startRtpSource, stopProcess, testClip } from './helpers/rtp-source.js';
import type { TestServer } from './helpers/server.js';
import { startTestApp } from './helpers/test-app.js';

/** Issue 17: a live channel's preview picture, renewed from its newest key frame, served as JPEG. */
let app: TestServer;
let dir: string;
beforeAll(async () => {
  testClip();
  dir = await mkdtemp(path.join(os.tmpdir(), 'livecast-thumbnails-'));
  app = await startTestApp({ LOG_LEVEL: 'error', THUMBNAIL_SECONDS: '2', THUMBNAIL_WIDTH: '320' });
});
afterAll(async () => {
  await app?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** What ffprobe reads in a picture: codec and size. */
async function probe(jpeg: Buffer): Promise<{ codec_name: string; width: number; height: number }> {
  const file = path.join(dir, `${Date.now()}.jpg`);
  await writeFile(file, jpeg);
  const out = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', file]);
  return (JSON.parse(out.stdout.toString()) as { streams: { codec_name: string; width: number; height: number }[] }).streams[0]!;
}

it('serves a live channel’s preview picture, renews it from new key frames, and stops its FFmpeg with the channel', async () => {
  const { channel } = await app.registry.create();
  const ingest = await createRtpIngest(channel);
  const source = startRtpSource(ingest);
  const url = `${app.url}/thumbnails/${channel.id}.jpg`;
  try {
    expect((await fetch(url)).status).toBe(404);
    await eventually(() => channel.state.phase === 'live', 'the channel to go live', 20_000);
    const first = await eventually(async () => {
      const response = await fetch(url);
      return response.status === 200 ? response : null;
    }, 'a first picture', 10_000);
    expect(first.headers.get('content-type')).toBe('image/jpeg');
    expect(first.headers.get('cache-control')).toBe('public, max-age=5');
    const firstJpeg = Buffer.from(await first.arrayBuffer());
    // A real JPEG of the configured width, with the source's aspect ratio (the 640x480 test clip).
    expect(await probe(firstJpeg)).toEqual({ codec_name: 'mjpeg', width: 320, height: 240 });

    // The clip moves: a later key frame makes another picture.
    const second = await eventually(async () => {
      const jpeg = Buffer.from(await (await fetch(url)).arrayBuffer());
      return jpeg.equals(firstJpeg) ? null : jpeg;
    }, 'a renewed picture', 10_000);
    expect((await probe(second)).width).toBe(320);

    // Its cost: one long-lived FFmpeg per channel, decoding a key frame every THUMBNAIL_SECONDS.
    const thumbnailPid = channel.thumbnailFfmpegPid;
    expect(thumbnailPid).toBeDefined();
    const before = cpuSeconds(thumbnailPid!);
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 6000));
    const share = (cpuSeconds(thumbnailPid!) - before) / ((Date.now() - started) / 1000);
    console.log(`thumbnail FFmpeg: ${(share * 100).toFixed(2)} % of a core at one 320-px picture every 2 s`);

    await channel.end('test over');
    expect(await waitForExit(thumbnailPid!)).toBe(true);
    expect((await fetch(url)).status).toBe(404);
  } finally {
    await channel.end('test over');
    await stopProcess(source);
  }
}, 60_000);
