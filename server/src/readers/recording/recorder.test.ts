import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../logger.js';
import { LlPackager } from '../hls/ll-packager.js';
import type { FragmentTiming } from '../hls/fmp4.js';
import { Recorder } from './recorder.js';
import { RecordingWriter } from './recording-writer.js';
import type { RecordingMetadata } from './recording-files.js';
import { ownerTokenHash } from './recording-store.js';

const FRAME = 1 / 30;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'livecast-recorder-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const meta = (): RecordingMetadata => ({ version: 1, recordingId: 'r', title: '', description: '', status: 'recording', startedAt: 0, endedAt: null, listed: true, ownerTokenHash: ownerTokenHash('t'), duration: 0, bytes: 0 });

/** A packager fed `seconds` of 30 fps video with a key frame every second (what FFmpeg's output gives it). */
function feed(packager: LlPackager, from: number, seconds: number): void {
  for (let i = Math.round(from / FRAME); i < Math.round((from + seconds) / FRAME); i++) {
    const timing: FragmentTiming = { video: { start: i * FRAME, duration: FRAME, samples: 1, sync: i % 30 === 0 } };
    packager.addFragment(Buffer.alloc(100, i % 256), timing, 1000 + i * FRAME * 1000);
  }
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe('Recorder', () => {
  it('writes each segment the packager completes, with its init segment once, and the last one at the end', async () => {
    const packager = new LlPackager({ partTarget: 0.2, segmentTarget: 1, now: () => 0 });
    packager.setInit(Buffer.from('init'));
    const writer = new RecordingWriter(dir, meta());
    const recorder = new Recorder(packager, writer, { thumbnail: () => null, onFailed: () => undefined, logger: createLogger('silent') });
    feed(packager, 0, 3.5);
    await settle();
    expect(writer.entries.map((e) => e.msn)).toEqual([0, 1, 2]);
    // The producer ends the stream a moment after the channel closes its readers: close waits for it.
    const closed = recorder.close();
    setTimeout(() => packager.end(), 20);
    await closed;
    expect(writer.entries.map((e) => [e.msn, e.init])).toEqual([[0, 'init_0.mp4'], [1, 'init_0.mp4'], [2, 'init_0.mp4'], [3, 'init_0.mp4']]);
    expect(writer.metadata.status).toBe('complete');
    expect((await readdir(dir)).sort()).toEqual(['index.jsonl', 'init_0.mp4', 'recording.json', 'seg_0.m4s', 'seg_1.m4s', 'seg_2.m4s', 'seg_3.m4s']);
  });

  it('stops at the first failed write, reports it once, and never disturbs the packager', async () => {
    const packager = new LlPackager({ partTarget: 0.2, segmentTarget: 1, now: () => 0 });
    packager.setInit(Buffer.from('init'));
    // A directory that cannot be created: every write fails as on a full or read-only disk.
    const writer = new RecordingWriter(path.join(dir, 'missing', '\0bad'), meta());
    const onFailed = vi.fn();
    const recorder = new Recorder(packager, writer, { thumbnail: () => null, onFailed, logger: createLogger('silent') });
    feed(packager, 0, 3.5);
    await settle();
    feed(packager, 3.5, 2);
    await settle();
    expect(onFailed).toHaveBeenCalledTimes(1);
    expect(recorder.failed).toBe(true);
    expect(writer.entries).toEqual([]);
    // The live stream went on regardless.
    expect(packager.lastCompleteMsn).toBeGreaterThanOrEqual(4);
    packager.end();
    await recorder.close();
    expect(writer.metadata.status).toBe('failed');
  });
});
