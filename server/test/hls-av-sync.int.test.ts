/**
 * Audio and video of the HLS output stay in sync from the first segment: a clip made by FFmpeg
 * with a white frame and a beep at the start of every second (exactly together) goes in over RTP;
 * the first segments out (bench/av-analysis.ts fetches them as they complete) are decoded by FFmpeg and every beep is compared with its flash.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { fetchHlsStart } from '../../bench/av-analysis.js';
import { avOffsetsMs, beepOnsets, flashTimes } from './helpers/av-offset.js';
import { logCapture } from './helpers/output.js';
import { eventually } from './helpers/processes.js';
import { createRtpIngest } from './helpers/rtp-ingest.js';
import { startRtpSource, stopProcess, testClip } from './helpers/rtp-source.js';
import type { TestServer } from './helpers/server.js';
import { startTestApp } from './helpers/test-app.js';

const log = logCapture();
let app: TestServer;
let dir: string;
beforeAll(async () => {
  testClip(30, 'flash-beep');
  dir = await mkdtemp(path.join(os.tmpdir(), 'livecast-avsync-'));
  // FFmpeg as a source sends its sender reports every 5 s (the first, before any RTP, is lost):
  // wait long enough for HLS to start on them, as it does on a browser's.
  app = await startTestApp({ HLS_SYNC_WAIT_MS: '7000' }, { logger: createLogger('info', log) });
});
afterAll(async () => {
  await app?.stop();
  await rm(dir, { recursive: true, force: true });
});

it('starts HLS on the source clock and keeps every beep within 20 ms of its flash from the first segment', async () => {
  const { channel } = await app.registry.create();
  const ingest = await createRtpIngest(channel);
  const source = startRtpSource(ingest, testClip(30, 'flash-beep'));
  try {
    await eventually(() => channel.state.phase === 'live', 'the channel to go live', 30_000);
    expect(log.records().some((r) => r.channelId === channel.id && r.msg === 'hls synced on the source clock (its RTCP sender reports)')).toBe(true);
    const file = path.join(dir, 'start.mp4');
    const [run] = await fetchHlsStart(app.url, channel.id, 8);
    await writeFile(file, Buffer.concat([run!.initData, ...run!.segments.map((s) => s.data)]));
    const flashes = flashTimes(file);
    const offsets = avOffsetsMs(flashes, beepOnsets(file));
    console.log('A/V offsets of the first seconds (ms, + = audio late):', offsets.join(', '));
    expect(flashes.length).toBeGreaterThanOrEqual(4);
    // Every flash has its beep, none further than 20 ms away.
    expect(offsets).toHaveLength(flashes.length);
    for (const offset of offsets) expect(Math.abs(offset)).toBeLessThanOrEqual(20);
  } finally {
    await channel.end('test over');
    await stopProcess(source);
  }
}, 90_000);
