import HLS from 'hls-parser';
import { describe, expect, it } from 'vitest';
import type { FragmentTiming } from './fmp4.js';
import { LlPackager } from './ll-packager.js';
import { writeLlPlaylist } from './ll-playlist.js';
import { LlHlsStream } from './ll-stream.js';

const FRAME = 1 / 30;

/** A packager fed like FFmpeg feeds it: one fragment per video frame, a key frame every `gop` frames. */
function feed(packager: LlPackager, clock: { now: number }, frames: number, o: { from?: number; gop?: number; start?: number } = {}): void {
  const from = o.from ?? 0;
  for (let i = from; i < from + frames; i++) {
    clock.now += FRAME * 1000;
    const start = (o.start ?? 0) + i * FRAME;
    const timing: FragmentTiming = { video: { start, duration: FRAME, samples: 1, sync: i % (o.gop ?? 30) === 0 }, audio: { start, duration: FRAME, samples: 2, sync: true } };
    packager.addFragment(Buffer.alloc(10, i % 256), timing, clock.now);
  }
}

/** A packager fed frames of the given durations, one fragment each; returns each frame's start. */
function feedDurations(packager: LlPackager, clock: { now: number }, durations: number[], isKey: (i: number) => boolean, afterEach?: (i: number) => void): number[] {
  let start = 0;
  return durations.map((duration, i) => {
    clock.now += duration * 1000;
    const at = start;
    packager.addFragment(Buffer.alloc(10), { video: { start, duration, samples: 1, sync: isKey(i) } }, clock.now);
    start += duration;
    afterEach?.(i);
    return at;
  });
}

/**
 * 30 fps, but frames 42–46 make a part of 0.1784 s (written 0.178, under 85 % of the 0.21 part
 * target) and frame 47 would carry it past the target: the segment must end before frame 47.
 */
const shortPartThenLateFrame = (framesAfter: number) => [...Array(42).fill(FRAME), ...Array(5).fill(0.1784 / 5), 0.04, ...Array(framesAfter).fill(FRAME)];

function setUp(segmentTarget = 1, onKeyFrameWanted?: () => void) {
  const clock = { now: 1_800_000_000_000 };
  const packager = new LlPackager({ partTarget: 0.2, segmentTarget, now: () => clock.now, ...(onKeyFrameWanted ? { onKeyFrameWanted } : {}) });
  packager.setInit(Buffer.from('init'));
  return { clock, packager };
}

const strict = (text: string) => {
  HLS.setOptions({ strictMode: true, silent: true });
  const playlist = HLS.parse(text);
  if (playlist.isMasterPlaylist) throw new Error('master');
  return playlist;
};

describe('LlPackager', () => {
  it('cuts parts of whole frames within the part target and segments at key frames; the playlist is strictly valid', () => {
    const { clock, packager } = setUp();
    feed(packager, clock, 30 * 12 + 10);
    // 6 frames of 1/30 s: the declared target is 0.2 s plus 5 % for capture jitter.
    expect(packager.partTarget).toBe(0.21);
    const complete = packager.segments.filter((s) => s.data !== null);
    for (const segment of complete) {
      expect(segment.duration).toBeCloseTo(1, 3);
      expect(segment.parts.map((p) => p.independent)).toEqual([true, false, false, false, false]);
      for (const part of segment.parts) expect(part.duration).toBeCloseTo(0.2, 3);
      // The segment's bytes are its parts' bytes, in order, held once.
      expect(Buffer.concat(segment.parts.map((p) => p.data)).equals(segment.data!)).toBe(true);
    }
    const playlist = strict(writeLlPlaylist(packager));
    expect(playlist.targetDuration).toBe(1);
    expect(playlist.partTargetDuration).toBe(0.21);
    expect(playlist.lowLatencyCompatibility).toEqual({ canBlockReload: true, canSkipUntil: 6, holdBack: 3, partHoldBack: 0.63 });
  });

  it('keeps at least CAN-SKIP-UNTIL plus three target durations, and removed files stay fetchable for their duration plus the playlist’s', () => {
    const { clock, packager } = setUp();
    feed(packager, clock, 30 * 20);
    const complete = packager.segments.filter((s) => s.data !== null);
    const total = complete.reduce((sum, s) => sum + s.duration, 0);
    expect(total).toBeGreaterThanOrEqual(9 - 0.001);
    expect(total).toBeLessThan(11);
    expect(packager.segments[0]!.msn).toBeGreaterThan(0);
    const removed = `seg_${packager.segments[0]!.msn - 1}.m4s`;
    expect(packager.file(removed)).toBeDefined();
    // Parts are numbered across segments: the one before the first listed left with the removed segment.
    const firstListedPart = Number(/^part_(\d+)\.m4s$/.exec(packager.segments[0]!.parts[0]!.name)![1]);
    expect(packager.file(`part_${firstListedPart - 1}.m4s`)).toBeDefined();
    clock.now += (1 + total + 0.5) * 1000;
    expect(packager.file(removed)).toBeUndefined();
  });

  it('forces a cut before a segment would round above the target duration when key frames do not come', () => {
    const { clock, packager } = setUp();
    feed(packager, clock, 30 * 8, { gop: 90 }); // a key frame every 3 s
    for (const segment of packager.segments.filter((s) => s.data !== null)) expect(Math.round(segment.duration)).toBeLessThanOrEqual(1);
    strict(writeLlPlaylist(packager));
  });

  it('marks a frozen sender’s return as a discontinuity, with the program date-time re-anchored, instead of a long segment', () => {
    const { clock, packager } = setUp();
    feed(packager, clock, 90);
    clock.now += 10_000; // 10 s without media; the media clock jumps as much
    feed(packager, clock, 90, { from: 90, start: 10 });
    const after = packager.segments.find((s) => s.discontinuity)!;
    expect(after).toBeDefined();
    for (const segment of packager.segments.filter((s) => s.data !== null)) expect(segment.duration).toBeLessThan(1.5);
    const before = packager.segments[packager.segments.indexOf(after) - 1]!;
    expect(after.programDateTime - before.programDateTime).toBeGreaterThan(10_000);
    const text = writeLlPlaylist(packager);
    expect(text).toContain('#EXT-X-DISCONTINUITY');
    strict(text);
  });

  it('counts a frame that lasts seconds (the sender froze after it) as one frame, and starts a new timeline after it', () => {
    const { clock, packager } = setUp();
    feed(packager, clock, 89);
    packager.addFragment(Buffer.alloc(10), { video: { start: 89 * FRAME, duration: 9.5, samples: 1, sync: false } }, (clock.now += 9500));
    feed(packager, clock, 60, { from: 90, start: 7 });
    for (const segment of packager.segments.filter((s) => s.data !== null)) expect(Math.round(segment.duration)).toBeLessThanOrEqual(1);
    expect(packager.segments.some((s) => s.discontinuity)).toBe(true);
    strict(writeLlPlaylist(packager));
  });

  it('starts a new init segment after an FFmpeg restart: a discontinuity with its EXT-X-MAP; ends with EXT-X-ENDLIST and no hint', () => {
    const { clock, packager } = setUp();
    feed(packager, clock, 60);
    expect(packager.setInit(Buffer.from('init2'))).toBe('init_1.mp4');
    feed(packager, clock, 60, { start: 5 });
    let text = writeLlPlaylist(packager);
    expect(text).toMatch(/#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init_1\.mp4"/);
    expect(text).toContain('#EXT-X-PRELOAD-HINT');
    packager.end();
    text = writeLlPlaylist(packager);
    expect(text).toMatch(/#EXT-X-ENDLIST\n?$/);
    expect(text).not.toContain('PRELOAD-HINT');
    strict(text);
  });

  /** FFmpeg's first 30 frames come 900 ms late, all at once; then each frame 40 ms after its capture. Feeds frames `from` to `to`. */
  function feedLateBurst(packager: LlPackager, captureStart: number, to: number, from = 0): void {
    for (let i = from; i < to; i++) {
      const capturedAt = captureStart + i * FRAME * 1000;
      const arrivedAt = i < 30 ? captureStart + 30 * FRAME * 1000 + 900 : capturedAt + FRAME * 1000 + 40;
      packager.addFragment(Buffer.alloc(10), { video: { start: i * FRAME, duration: FRAME, samples: 1, sync: i % 30 === 0 } }, arrivedAt);
    }
  }

  it('anchors the program date-time to the fastest fragments: a late burst at the start does not make it late', () => {
    const { clock, packager } = setUp();
    const captureStart = clock.now;
    feedLateBurst(packager, captureStart, 30 * 6);
    const later = packager.segments.find((s) => s.msn >= 2)!;
    const captured = captureStart + later.msn * 1000; // segments of 1 s from media time 0
    expect(Math.abs(later.programDateTime - (captured + 40))).toBeLessThan(5);
  });

  it('holds FFmpeg’s late first burst until the wall-clock anchor settles, then dates every segment from it: a listed date never changes', () => {
    const { clock, packager } = setUp();
    const captureStart = clock.now;
    // Every date each segment was ever listed with, by media sequence number.
    const dates = new Map<number, Set<number>>();
    packager.onChange(() => {
      for (const segment of packager.segments) dates.set(segment.msn, (dates.get(segment.msn) ?? new Set()).add(segment.programDateTime));
    });
    feedLateBurst(packager, captureStart, 30);
    // A burst: each fragment moves the anchor by its own duration. Nothing is packaged yet.
    expect(packager.segments).toHaveLength(0);
    feedLateBurst(packager, captureStart, 30 * 4, 30);
    const [first, second] = packager.segments;
    expect(Math.abs(first!.programDateTime - (captureStart + 40))).toBeLessThan(5);
    expect([...dates.values()].every((seen) => seen.size === 1)).toBe(true);
    expect(dates.size).toBeGreaterThanOrEqual(3);
    const playlist = strict(writeLlPlaylist(packager));
    const dated = playlist.segments.filter((s) => s.uri);
    for (let i = 1; i < dated.length; i++) {
      const previousEnd = dated[i - 1]!.programDateTime!.getTime() + dated[i - 1]!.duration * 1000;
      expect(Math.abs(dated[i]!.programDateTime!.getTime() - previousEnd)).toBeLessThanOrEqual(1);
    }
    expect(second!.programDateTime - first!.programDateTime).toBe(Math.round(first!.duration * 1000));
  });

  it('packages what it holds when FFmpeg restarts or the stream ends before the anchor settled: nothing lost, nothing under the wrong init', () => {
    const { clock, packager } = setUp();
    const captureStart = clock.now;
    feedLateBurst(packager, captureStart, 30);
    expect(packager.segments).toHaveLength(0);
    packager.setInit(Buffer.from('init2'));
    const fromFirstRun = packager.segments.filter((s) => s.data !== null);
    expect(fromFirstRun.map((s) => s.init)).toEqual(['init_0.mp4']);
    expect(fromFirstRun[0]!.duration).toBeCloseTo(30 * FRAME, 6);
    // The new run's burst, then the end.
    for (let i = 0; i < 20; i++) packager.addFragment(Buffer.alloc(10), { video: { start: 10 + i * FRAME, duration: FRAME, samples: 1, sync: i === 0 } }, clock.now + 5000);
    packager.end();
    const fromSecondRun = packager.segments.filter((s) => s.init === 'init_1.mp4');
    expect(fromSecondRun).toHaveLength(1);
    expect(fromSecondRun[0]!.discontinuity).toBe(true);
    expect(fromSecondRun[0]!.duration).toBeCloseTo(20 * FRAME, 6);
  });

  it('holds at most three seconds of media when the anchor does not settle (arrivals keep speeding up)', () => {
    const { clock, packager } = setUp();
    let released: number | null = null;
    packager.onChange(() => {
      if (released === null && packager.segments.length > 0) released = packager.segments[0]!.parts.length;
    });
    for (let i = 0; i < 30 * 4; i++) {
      // Each fragment arrives half a frame after the one before: its anchor is always 16 ms earlier.
      clock.now += (FRAME * 1000) / 2;
      packager.addFragment(Buffer.alloc(10), { video: { start: i * FRAME, duration: FRAME, samples: 1, sync: i % 30 === 0 } }, clock.now);
      if (i === 30 * 3 - 2) expect(packager.segments).toHaveLength(0);
    }
    expect(released).not.toBeNull();
  });

  it('hints the part made next, also when a key frame makes it the first of the next segment', () => {
    const { clock, packager } = setUp();
    feed(packager, clock, 30 * 2 + 12);
    for (let i = 0; i < 40; i++) {
      const hint = packager.hintedPart!;
      expect(packager.file(hint)).toBeUndefined();
      feed(packager, clock, 6, { from: 30 * 2 + 12 + i * 6 });
      expect(packager.file(hint)).toBeDefined();
    }
    expect(packager.segments.filter((s) => s.data !== null).length).toBeGreaterThan(8);
  });

  it('ends a part before a late frame that would carry it past the target: every part’s duration is true and within the target', () => {
    const { clock, packager } = setUp();
    let start = 0;
    for (let i = 0; i < 30 * 6; i++) {
      // Every 7th frame is late (a dropped frame: twice as long), every other of them very late
      // (four frames long: it cannot join the three frames after a key frame, 100 ms, in a part).
      const duration = i % 7 === 3 ? (i % 14 === 3 ? 4 : 2) * FRAME : FRAME;
      clock.now += duration * 1000;
      packager.addFragment(Buffer.alloc(10), { video: { start, duration, samples: 1, sync: i % 30 === 0 } }, clock.now);
      start += duration;
    }
    const complete = packager.segments.filter((s) => s.data !== null);
    for (const segment of complete) {
      for (const [i, part] of segment.parts.entries()) {
        expect(part.duration).toBeLessThanOrEqual(packager.partTarget + 1e-9);
        // At least 85 % of the target, but for a segment's last part (a key frame's part included).
        if (i < segment.parts.length - 1) expect(part.duration).toBeGreaterThanOrEqual(0.85 * packager.partTarget - 1e-9);
      }
      expect(segment.parts.reduce((sum, p) => sum + p.duration, 0)).toBeCloseTo(segment.duration, 9);
    }
    // The playlist's parts add up to each segment's EXTINF: no part is declared shorter than it is.
    const playlist = strict(writeLlPlaylist(packager));
    for (const segment of playlist.segments.filter((s) => s.uri && s.parts.length > 0)) {
      expect(segment.parts.reduce((sum, p) => sum + p.duration!, 0)).toBeCloseTo(segment.duration, 2);
    }
  });

  it('judges the 85 % rule on durations as the playlist writes them: a 0.1784 s part (written 0.178) before a late frame ends its segment', () => {
    const { clock, packager } = setUp();
    // 30 fps: parts of 6 frames, PART-TARGET 0.21, so 85 % is 0.1785.
    // Every version of the playlist, the open segment's parts included, passes the strict parser.
    feedDurations(packager, clock, shortPartThenLateFrame(40), (i) => i % 30 === 0, (i) => i >= 10 && strict(writeLlPlaylist(packager)));
    expect(packager.partTarget).toBe(0.21);
    const short = packager.segments.flatMap((s) => s.parts.slice(0, -1)).filter((p) => Math.round(p.duration * 1000) / 1000 < 0.85 * 0.21);
    expect(short).toEqual([]);
  });

  it('asks for a key frame once a segment that started without one is nearly half the target long, and lets the answer start the next segment: no sliver of a segment', () => {
    let askedAt: number | null = null;
    let done = -1;
    const { clock, packager } = setUp(1, () => (askedAt ??= done + 1));
    // 30 fps with key frames every second; the segment is cut without a key frame before the late
    // frame 47. The source answers a request 0.15 s later (5 frames), not at the next second.
    const starts = feedDurations(packager, clock, shortPartThenLateFrame(60), (i) => i % 30 === 0 || (askedAt !== null && i === askedAt + 5), (i) => (done = i));
    expect(askedAt).not.toBeNull();
    const segments = packager.segments.filter((s) => s.data !== null);
    const keyless = segments.filter((s) => !s.parts[0]!.independent);
    // One segment without a key frame, from the late frame to the key frame that answered: asked
    // for 0.4 s in, it lands past half the target.
    expect(keyless).toHaveLength(1);
    expect(keyless[0]!.duration).toBeCloseTo(starts[askedAt! + 5]! - starts[47]!, 6);
    expect(keyless[0]!.duration).toBeGreaterThanOrEqual(0.5);
    expect(keyless[0]!.duration).toBeLessThan(0.7);
    // The key frame that answered starts a segment, which then runs to the target length as usual.
    const answered = segments[segments.indexOf(keyless[0]!) + 1]!;
    expect(answered.parts[0]!.independent).toBe(true);
    for (const segment of segments.slice(1)) expect(segment.duration).toBeGreaterThanOrEqual(0.5);
    strict(writeLlPlaylist(packager));
  });

  it('does not cut early at the next key frame when nobody can be asked for one (an encoder’s stream): no sliver of a segment', () => {
    const { clock, packager } = setUp();
    // The same stream as above, without a callback: the key frame 0.2 s after the keyless cut
    // starts no segment, nor the one at 2 s (under half the target after it); the one at 3 s does.
    feedDurations(packager, clock, shortPartThenLateFrame(60), (i) => i % 30 === 0 || i === 53);
    const keyless = packager.segments.filter((s) => s.data !== null && !s.parts[0]!.independent);
    expect(keyless.map((s) => Math.round(s.duration * 1000))).toEqual([1440]);
  });

  it('puts audio that FFmpeg writes alone after a part’s last frame into that part, published with the next frame: every part starts with a video frame', () => {
    const { clock, packager } = setUp();
    const VIDEO = 0x56;
    const AUDIO = 0x41;
    const partsNow = () => packager.segments.flatMap((s) => s.parts);
    for (let i = 0; i < 30 * 4; i++) {
      clock.now += FRAME * 1000;
      const start = i * FRAME;
      packager.addFragment(Buffer.alloc(10, VIDEO), { video: { start, duration: FRAME, samples: 1, sync: i % 30 === 0 } }, clock.now);
      if (i % 6 === 5) {
        // The part's sixth frame makes it complete; it is published with the next frame, which
        // FFmpeg writes after two AAC frames of their own (the video was late).
        const before = partsNow().length;
        packager.addFragment(Buffer.alloc(4, AUDIO), { audio: { start: start + FRAME, duration: 0.0427, samples: 2, sync: true } }, clock.now);
        expect(partsNow().length).toBe(before);
      }
    }
    const parts = partsNow();
    expect(parts.length).toBeGreaterThan(15);
    for (const part of parts) {
      expect(part.data[0]).toBe(VIDEO);
      expect(part.data.at(-1)).toBe(AUDIO);
      expect(part.duration).toBeCloseTo(0.2, 3);
    }
  });

  it('publishes a complete part without the next frame once the camera froze and audio alone goes a part target past it', () => {
    const { clock, packager } = setUp();
    const partsNow = () => packager.segments.flatMap((s) => s.parts).length;
    // 66 frames: the part of frames 60–65 is complete, waiting for frame 66, which does not come.
    feed(packager, clock, 66);
    const waiting = partsNow();
    const lastEnd = 66 * FRAME;
    // FFmpeg writes the audio alone once its interleaving delay passes; a part target of it is not yet enough.
    let audioAt = lastEnd;
    const audio = (duration: number) => {
      clock.now += duration * 1000;
      packager.addFragment(Buffer.alloc(4, 0x41), { audio: { start: audioAt, duration, samples: 2, sync: true } }, clock.now);
      audioAt += duration;
    };
    while (audioAt < lastEnd + packager.partTarget - 0.001) audio(0.0427);
    expect(partsNow()).toBe(waiting);
    audio(0.0427);
    expect(partsNow()).toBe(waiting + 1);
    expect(packager.segments.flatMap((s) => s.parts).at(-1)!.duration).toBeCloseTo(6 * FRAME, 3);
  });

  it('writes delta updates (_HLS_skip) that skip what lies beyond CAN-SKIP-UNTIL', () => {
    const { clock, packager } = setUp();
    feed(packager, clock, 30 * 15);
    const delta = writeLlPlaylist(packager, { skip: true });
    const skipped = Number(/#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)/.exec(delta)?.[1]);
    expect(skipped).toBeGreaterThan(0);
    const full = strict(writeLlPlaylist(packager));
    const listed = (delta.match(/^seg_\d+\.m4s$/gm) ?? []).length;
    expect(listed + skipped).toBe(full.segments.filter((s) => s.uri).length);
  });
});

describe('LlHlsStream blocking', () => {
  it('answers a request for a future part once it exists', async () => {
    const { clock, packager } = setUp();
    const stream = new LlHlsStream(packager);
    feed(packager, clock, 45);
    const newest = stream.newestPart!;
    const waiting = stream.waitUntil(() => stream.has(newest.msn, newest.part + 1));
    feed(packager, clock, 6, { from: 45 });
    expect(await waiting).toBe('ready');
    expect(stream.has(newest.msn, newest.part + 1)).toBe(true);
    stream.close();
  });

  it('times out after three target durations (the route answers 503)', async () => {
    const { clock, packager } = setUp();
    const stream = new LlHlsStream(packager);
    feed(packager, clock, 45);
    const started = Date.now();
    expect(await stream.waitUntil(() => stream.has(stream.lastCompleteMsn + 2))).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
  });
});
