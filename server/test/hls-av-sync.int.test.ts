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
import { fetchHlsStart, type HlsRun } from '../../bench/av-analysis.js';
import { BoxSplitter, readFragment, readInit, type TrackSpan } from '../src/readers/hls/fmp4.js';
import { avOffsetsMs, beepOnsets, flashTimes } from './helpers/av-offset.js';
import { logCapture } from './helpers/output.js';
import { eventually } from './helpers/processes.js';
import { createRtpIngest } from './helpers/rtp-ingest.js';
import { startRtpSource, stopProcess, testClip } from './helpers/rtp-source.js';
import type { TestServer } from './helpers/server.js';
import { startTestApp } from './helpers/test-app.js';

const log = logCapture();

/** The first `count` spans of `kind` in a run, as its fragments declare them. */
function firstSpans(run: HlsRun, kind: 'video' | 'audio', count: number): TrackSpan[] {
  const tracks = readInit(run.initData);
  const spans: TrackSpan[] = [];
  for (const segment of run.segments) {
    for (const box of new BoxSplitter().push(segment.data)) {
      const span = box.type === 'moof' ? readFragment(box.data, tracks)[kind] : undefined;
      if (span) spans.push(span);
      if (spans.length === count) return spans;
    }
  }
  return spans;
}
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
    // The source's key frames come every 0.5 s (it ignores requests for one); audio flows at
    // once. Audio that reached FFmpeg before the first key frame made FFmpeg move that frame back
    // to the audio's start and lengthen it by the wait: audio waits for it (HlsPipeline.resumeMedia).
    const [first, second] = firstSpans(run!, 'video', 2);
    const [firstAudio] = firstSpans(run!, 'audio', 1);
    console.log(`first video frame: ${(first!.duration * 1000).toFixed(1)} ms (the next: ${(second!.duration * 1000).toFixed(1)} ms); audio starts ${((firstAudio!.start - first!.start) * 1000).toFixed(1)} ms after video`);
    // What is left: the audio packet in flight when audio is let through (tens of ms; 28 measured).
    expect(first!.duration - second!.duration, 'the first video frame lengthened by under 40 ms').toBeLessThan(0.04);
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
