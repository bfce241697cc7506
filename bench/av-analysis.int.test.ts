import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOCK_FRAME, paintClockBlocks } from '../web/src/lib/clock-code.js';
import { analyseFile, type Beep } from './av-analysis.js';

/**
 * The A/V analysis on files made here with a known offset: video frames with the clock strip
 * painted as the test source paints it, audio with the test source's beeps placed `offsetMs`
 * after the frame painted at their wall clock; encoded by FFmpeg (H264 + AAC in MP4, whose edit
 * list compensates the AAC encoder's delay; VP8 + PCM in Matroska, as the baseline recording is in WebM, which
 * FFmpeg writes only with Opus or Vorbis).
 */
const W0 = 1_796_000_000_000.25;
const FPS = 30;
const SECONDS = 6;
const RATE = 48_000;

async function synthesize(dir: string, offsetMs: number, format: 'mp4' | 'mkv'): Promise<{ file: string; beeps: Beep[] }> {
  const { width, height } = CLOCK_FRAME;
  const frames = Buffer.alloc(width * height * FPS * SECONDS, 0x40);
  for (let k = 0; k < FPS * SECONDS; k++) {
    const frame = frames.subarray(k * width * height, (k + 1) * width * height);
    paintClockBlocks(width, W0 + (k * 1000) / FPS, (x, y, w, h, white) => {
      for (let row = y; row < y + h; row++) frame.fill(white ? 255 : 0, row * width + x, row * width + x + w);
    });
  }
  const audio = new Float32Array(RATE * SECONDS);
  for (let i = 0; i < audio.length; i++) audio[i] = 0.05 * Math.sin((2 * Math.PI * 440 * i) / RATE);
  const beeps: Beep[] = [];
  for (let b = 0; b < SECONDS - 1; b++) {
    const wall = W0 + 500 + b * 1000;
    beeps.push({ contextTime: 0.5 + b, wall, notBefore: wall - 0.5, played: null });
    const start = Math.round(((wall - W0 + offsetMs) / 1000) * RATE);
    for (let i = 0; i < 0.04 * RATE; i++) audio[start + i]! += 0.5 * Math.sin((2 * Math.PI * 1000 * i) / RATE);
  }
  await writeFile(path.join(dir, 'v.raw'), frames);
  await writeFile(path.join(dir, 'a.raw'), Buffer.from(audio.buffer));
  const file = path.join(dir, `out-${offsetMs}.${format}`);
  const codecs = format === 'mp4' ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k'] : ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '2M', '-c:a', 'pcm_f32le'];
  const ffmpeg = spawnSync(process.env.FFMPEG_PATH ?? 'ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', `${width}x${height}`, '-r', String(FPS), '-i', path.join(dir, 'v.raw'),
    '-f', 'f32le', '-ar', String(RATE), '-ac', '1', '-i', path.join(dir, 'a.raw'),
    ...codecs, '-ac', '2', file,
  ]);
  if (ffmpeg.status !== 0) throw new Error(ffmpeg.stderr.toString());
  return { file, beeps };
}

describe('A/V offset analysis on files of known offset', () => {
  let dir = '';
  beforeAll(async () => void (dir = await mkdtemp(path.join(os.tmpdir(), 'livecast-avsync-test-'))));
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  for (const format of ['mp4', 'mkv'] as const) {
    it.each([0, 37, -52])(`${format}: audio %i ms after the video is measured to the millisecond`, async (offsetMs) => {
      const { file, beeps } = await synthesize(dir, offsetMs, format);
      const result = await analyseFile(file, beeps);
      expect(result.readable).toBe(FPS * SECONDS);
      expect(result.offsets.map((o) => o.beep)).toEqual([0, 1, 2, 3, 4]);
      for (const o of result.offsets) expect(Math.abs(o.offsetMs - offsetMs)).toBeLessThan(1);
    });
  }
});
