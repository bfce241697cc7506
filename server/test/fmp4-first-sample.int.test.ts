import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoxSplitter, readFragment, readInit, restoreFirstAacSample, type TrackInfo } from '../src/readers/hls/fmp4.js';

/**
 * FFmpeg's fMP4 muxer, as the HLS pipeline runs it, when audio starts after video (here by
 * 18.7 ms: a 40 ms input offset less the AAC encoder's 21.3 ms priming): its first AAC frame is
 * moved to 0 and lengthened. restoreFirstAacSample puts it back where its samples belong.
 */
const AUDIO_START = 0.04 - 1024 / 48000;

let dir = '';
let file: Buffer;
let audioFirst: Buffer;
/** FFmpeg's output of a second of test video and a sine, the audio input offset by `audioOffset` seconds. */
async function mux(audioOffset: number, name: string): Promise<Buffer> {
  const out = path.join(dir, name);
  const ffmpeg = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=30',
    '-itsoffset', String(audioOffset), '-f', 'lavfi', '-i', 'sine=f=440:sample_rate=48000',
    '-t', '1', '-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-ar', '48000',
    '-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '33000', out,
  ]);
  expect(ffmpeg.status, ffmpeg.stderr.toString()).toBe(0);
  return readFile(out);
}
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'livecast-fmp4-'));
  file = await mux(0.04, 'late-audio.mp4');
  // No offset: the encoder's priming puts audio 21 ms before video; the video is lengthened instead.
  audioFirst = await mux(0, 'audio-first.mp4');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The file's init segment and its fragments (moof, mdat), the way the pipeline splits FFmpeg's output. */
function split(data: Buffer): { tracks: TrackInfo[]; init: Buffer; fragments: { moof: Buffer; mdat: Buffer }[] } {
  const boxes = new BoxSplitter().push(data);
  const moov = boxes.find((b) => b.type === 'moov')!.data;
  const fragments: { moof: Buffer; mdat: Buffer }[] = [];
  for (let i = 0; i < boxes.length; i++) if (boxes[i]!.type === 'moof') fragments.push({ moof: boxes[i]!.data, mdat: boxes[i + 1]!.data });
  return { tracks: readInit(moov), init: Buffer.concat(boxes.filter((b) => b.type === 'ftyp' || b.type === 'moov').map((b) => b.data)), fragments };
}

describe('restoreFirstAacSample (FFmpeg 5.1 movenc, empty_moov)', () => {
  it('puts the first AAC frame at its own time, one frame long, and leaves everything else alone', async () => {
    const { tracks, init, fragments } = split(file);
    expect(tracks.find((t) => t.kind === 'audio')?.aacFrameTicks).toBe(1024);
    const audio = fragments.map((f) => ({ ...f, timing: readFragment(f.moof, tracks).audio })).filter((f) => f.timing);
    const [first, second] = audio;
    // What FFmpeg wrote: the first frame at 0, lengthened up to the second.
    expect(first!.timing!.start).toBe(0);
    expect(first!.timing!.duration).toBeCloseTo(AUDIO_START + 1024 / 48000, 3);

    const restored = restoreFirstAacSample(first!.moof, tracks);
    expect(restored.length).toBe(first!.moof.length);
    const timing = readFragment(restored, tracks).audio!;
    expect(timing.start).toBeCloseTo(AUDIO_START, 3);
    expect(timing.duration).toBeCloseTo(1024 / 48000, 6);
    // It ends where the next one starts: no hole, no overlap.
    expect(timing.start + timing.duration).toBeCloseTo(second!.timing!.start, 6);
    // Video in the same fragment, and any later fragment, is not touched.
    expect(readFragment(restored, tracks).video).toEqual(readFragment(first!.moof, tracks).video);
    expect(restoreFirstAacSample(second!.moof, tracks).equals(second!.moof)).toBe(true);

    // FFmpeg itself reads the restored file with the first audio frame at its real time.
    const rebuilt = Buffer.concat([init, ...fragments.flatMap((f) => [f.moof === first!.moof ? restored : f.moof, f.mdat])]);
    const out = path.join(dir, 'restored.mp4');
    await writeFile(out, rebuilt);
    const probe = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', out]);
    const times = probe.stdout.toString().trim().split('\n').map(Number);
    expect(times[0]).toBeCloseTo(AUDIO_START, 3);
    expect(times[1]! - times[0]!).toBeCloseTo(1024 / 48000, 4);
  });

  it('leaves audio that starts first (not lengthened) as it is', () => {
    const { tracks, fragments } = split(audioFirst);
    const first = fragments.find((f) => readFragment(f.moof, tracks).audio)!;
    const audio = readFragment(first.moof, tracks).audio!;
    expect(audio.duration / audio.samples).toBeCloseTo(1024 / 48000, 6);
    expect(restoreFirstAacSample(first.moof, tracks).equals(first.moof)).toBe(true);
  });
});
