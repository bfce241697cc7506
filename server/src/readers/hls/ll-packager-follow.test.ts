import HLS from 'hls-parser';
import { describe, expect, it } from 'vitest';
import type { FragmentTiming } from './fmp4.js';
import { LlPackager } from './ll-packager.js';
import { writeLlPlaylist } from './ll-playlist.js';

const FRAME = 1 / 30;

interface Frame {
  start: number;
  sync: boolean;
}

function timing({ start, sync }: Frame): FragmentTiming {
  return { video: { start, duration: FRAME, samples: 1, sync }, audio: { start, duration: FRAME, samples: 2, sync: true } };
}

/** A leader (the top layer) and a follower (a lower layer of the same capture) on one clock. */
function setUp(sameFrames = false) {
  const clock = { now: 1_800_000_000_000 };
  const leader = new LlPackager({ partTarget: 0.2, segmentTarget: 1, now: () => clock.now });
  const follower = new LlPackager({ partTarget: 0.2, segmentTarget: 1, now: () => clock.now, follow: leader, sameFrames });
  leader.setInit(Buffer.from('init-high'));
  follower.setInit(Buffer.from('init-low'));
  return { clock, leader, follower };
}

/** Frames i..i+n at 30 fps, a key frame every `gop` frames (Infinity: none after the first). */
function frames(n: number, { from = 0, gop = 30, offset = 0 } = {}): Frame[] {
  return Array.from({ length: n }, (_, k) => ({ start: offset + (from + k) * FRAME, sync: (from + k) % gop === 0 }));
}

const boundaries = (p: LlPackager) => p.segments.filter((s) => s.data !== null).map((s) => ({ msn: s.msn, parts: s.parts.length, duration: Math.round(s.duration * 1000) }));

const strict = (text: string) => {
  HLS.setOptions({ strictMode: true, silent: true });
  const playlist = HLS.parse(text);
  if (playlist.isMasterPlaylist) throw new Error('master');
  return playlist;
};

describe('LlPackager following a leader (renditions of one capture)', () => {
  it('cuts the same segments and parts as the leader, whichever output arrives first, and its playlist is strictly valid', () => {
    for (const followerFirst of [false, true]) {
      const { clock, leader, follower } = setUp();
      for (const frame of frames(30 * 8)) {
        clock.now += FRAME * 1000;
        // The layers' sender reports date the same capture a few ms apart.
        const low = { ...frame, start: frame.start + 0.003 };
        // (The follower's output reaches the server 250 ms later: it is dated by the leader all the same.)
        if (followerFirst) follower.addFragment(Buffer.from('low'), timing(low), clock.now + 250);
        leader.addFragment(Buffer.from('high'), timing(frame), clock.now);
        if (!followerFirst) follower.addFragment(Buffer.from('low'), timing(low), clock.now + 250);
      }
      expect(boundaries(leader).length).toBeGreaterThanOrEqual(6);
      expect(boundaries(follower)).toEqual(boundaries(leader));
      expect(follower.newest).toEqual(leader.newest);
      expect(follower.partTarget).toBe(leader.partTarget);
      // Dated as the leader dates the same capture (its frames' 3 ms offset measured at key frames).
      expect(follower.segments.map((s) => s.programDateTime)).toEqual(leader.segments.map((s) => s.programDateTime));
      const playlist = strict(writeLlPlaylist(follower));
      expect(playlist.mediaSequenceBase).toBe(strict(writeLlPlaylist(leader)).mediaSequenceBase);
    }
  });

  it('holds a frame until the leader has packaged its own frame at that time', () => {
    const { clock, leader, follower } = setUp();
    // The follower's output runs a second ahead: nothing of it is packaged yet.
    for (const frame of frames(30)) follower.addFragment(Buffer.from('low'), timing(frame), clock.now);
    expect(follower.segments).toHaveLength(0);
    for (const frame of frames(15)) {
      clock.now += FRAME * 1000;
      leader.addFragment(Buffer.from('high'), timing(frame), clock.now);
    }
    // Packaged up to where the leader is, no further.
    expect(follower.newest).toEqual(leader.newest);
    expect(follower.segments[0]!.msn).toBe(0);
  });

  it('cuts where the leader cut even without a key frame of its own there, and never at a key frame of its own elsewhere', () => {
    const { clock, leader, follower } = setUp();
    const high = frames(30 * 5);
    // The lower layer's key frames come 5 frames late, and one more mid-segment.
    const low = high.map((f, i) => ({ ...f, sync: i === 0 || (i > 30 && i % 30 === 5) || i === 47 }));
    high.forEach((frame, i) => {
      clock.now += FRAME * 1000;
      leader.addFragment(Buffer.from('high'), timing(frame), clock.now);
      follower.addFragment(Buffer.from('low'), timing(low[i]!), clock.now);
    });
    expect(boundaries(follower)).toEqual(boundaries(leader));
    const firstParts = follower.segments.filter((s) => s.data !== null).map((s) => s.parts[0]!.independent);
    expect(firstParts[0]).toBe(true);
    expect(firstParts.slice(1).every((independent) => !independent)).toBe(true);
  });

  it('follows the leader across a restart (new init segments): numbers continue, both mark the discontinuity', () => {
    const { clock, leader, follower } = setUp();
    const run = (list: Frame[]) =>
      list.forEach((frame) => {
        clock.now += FRAME * 1000;
        leader.addFragment(Buffer.from('high'), timing(frame), clock.now);
        follower.addFragment(Buffer.from('low'), timing(frame), clock.now);
      });
    run(frames(30 * 3 + 1));
    leader.setInit(Buffer.from('init-high-2'));
    follower.setInit(Buffer.from('init-low-2'));
    // The new FFmpeg's timeline starts elsewhere.
    run(frames(30 * 3 + 1, { offset: 500 }));
    expect(boundaries(follower)).toEqual(boundaries(leader));
    const discontinuities = (p: LlPackager) => p.segments.filter((s) => s.discontinuity).map((s) => s.msn);
    expect(discontinuities(follower)).toEqual(discontinuities(leader));
    expect(discontinuities(leader)).toHaveLength(1);
  });

  it('keeps its frames as long as the leader holds its own while its clock anchor settles, even over a second', () => {
    const { clock, leader, follower } = setUp();
    frames(30 * 5).forEach((frame, i) => {
      // For 3 s of media the fragments come faster than real time (the leader's anchor keeps moving).
      clock.now += i < 90 ? (FRAME * 1000) / 2 : FRAME * 1000;
      leader.addFragment(Buffer.from('high'), timing(frame), clock.now);
      follower.addFragment(Buffer.from('low'), timing(frame), clock.now);
    });
    expect(boundaries(leader).length).toBeGreaterThanOrEqual(3);
    expect(boundaries(follower)).toEqual(boundaries(leader));
    expect(follower.segments[0]!.parts[0]!.independent).toBe(true);
  });

  it('drops what the leader leaves undecided for over a second (it stalled), and goes on aligned when it is back', () => {
    const { clock, leader, follower } = setUp();
    const list = frames(30 * 6);
    const both = (from: number, to: number) =>
      list.slice(from, to).forEach((frame) => {
        clock.now += FRAME * 1000;
        leader.addFragment(Buffer.from('high'), timing(frame), clock.now);
        follower.addFragment(Buffer.from('low'), timing(frame), clock.now);
      });
    both(0, 40);
    const bytes = follower.segments.reduce((n, s) => n + s.parts.length, 0);
    // The leader's layer stops for 2 s; the follower's goes on.
    list.slice(40, 100).forEach((frame) => {
      clock.now += FRAME * 1000;
      follower.addFragment(Buffer.from('low'), timing(frame), clock.now);
    });
    expect(follower.segments.reduce((n, s) => n + s.parts.length, 0)).toBe(bytes);
    both(100, 180);
    expect(boundaries(follower)).toEqual(boundaries(leader));
  });

  it('follows a rendition whose clock runs up to 15 ms ahead of the leader’s, in steps (a ladder rung’s decoder dates frames after each of the sender’s clock reports): its key frames still start the same segments', () => {
    const { clock, leader, follower } = setUp();
    // The rung's frames come early by up to 15 ms (past the 12 ms same-frame tolerance), in steps
    // of up to 9 ms (measured: 0, -8.7, -9.7, -5.7 ms in one run), mid-segment and on the frame
    // before a key frame.
    const offsetAt = (i: number) => (i < 40 ? 0 : i < 95 ? -0.0087 : i < 119 ? -0.0125 : i < 200 ? -0.015 : i < 215 ? -0.006 : -0.014);
    for (const [i, frame] of frames(30 * 8).entries()) {
      clock.now += FRAME * 1000;
      leader.addFragment(Buffer.from('high'), timing(frame), clock.now);
      follower.addFragment(Buffer.from('low'), timing({ ...frame, start: frame.start + offsetAt(i) }), clock.now);
    }
    const complete = (p: LlPackager) => p.segments.filter((s) => s.data !== null);
    expect(complete(leader).length).toBeGreaterThanOrEqual(6);
    expect(complete(follower).map((s) => [s.msn, s.parts.length])).toEqual(complete(leader).map((s) => [s.msn, s.parts.length]));
    // Every segment of both starts with a key frame: the follower cut at its own, not a frame off.
    for (const p of [leader, follower]) expect(complete(p).every((s) => s.parts[0]!.independent)).toBe(true);
    for (const [k, segment] of complete(follower).entries()) expect(Math.abs(segment.duration - complete(leader)[k]!.duration)).toBeLessThanOrEqual(0.016);
  });

  it('with sameFrames (a ladder rung), still starts each segment at its own key frame when its decoder re-dates the frames after a lost one by up to 26 ms either way (measured under CPU load), and loses no frame', () => {
    for (const late of [0.026, -0.026]) {
      const { clock, leader, follower } = setUp(true);
      // The rung starts 14 ms off the source; a frame lost in both shifts it by `late` from then on,
      // back and forth (past 0.6 of a frame from where its offset was measured).
      const offsetAt = (i: number) => 0.014 + (Math.floor((i + 20) / 45) % 2 === 1 ? late : 0);
      for (const [i, frame] of frames(30 * 8).entries()) {
        clock.now += FRAME * 1000;
        if (i % 45 === 25) continue; // lost before either output
        leader.addFragment(Buffer.from('H'), timing(frame), clock.now);
        follower.addFragment(Buffer.from('L'), timing({ ...frame, start: frame.start + offsetAt(i) }), clock.now);
      }
      const complete = (p: LlPackager) => p.segments.filter((s) => s.data !== null);
      expect(complete(leader).length).toBeGreaterThanOrEqual(6);
      for (const p of [leader, follower]) expect(complete(p).every((s) => s.parts[0]!.independent), `late ${late}`).toBe(true);
      // The same frames in the same segments (a fragment is one byte here): none lost, none a segment off.
      const framesPerSegment = (p: LlPackager) => complete(p).map((s) => [s.msn, s.data!.length]);
      expect(framesPerSegment(follower), `late ${late}`).toEqual(framesPerSegment(leader));
    }
  });

  it('with sameFrames (a ladder rung), takes the leader’s n-th key frame for its own n-th, however far their times are apart (B-frames in the leader, each output’s own time zero)', () => {
    for (const shift of [0.047, -0.03, 0.2]) {
      const { clock, leader, follower } = setUp(true);
      for (const frame of frames(30 * 8)) {
        clock.now += FRAME * 1000;
        // The copied leader decodes each frame two frames before it presents it; the rung, encoded
        // without B-frames, decodes it when presented; and its output's time zero is elsewhere.
        const high: FragmentTiming = { video: { start: frame.start, duration: FRAME, samples: 1, sync: frame.sync, presentationOffset: 2 * FRAME }, audio: { start: frame.start, duration: FRAME, samples: 2, sync: true } };
        leader.addFragment(Buffer.from('high'), high, clock.now);
        follower.addFragment(Buffer.from('low'), timing({ ...frame, start: frame.start + 2 * FRAME + shift }), clock.now);
      }
      const complete = (p: LlPackager) => p.segments.filter((s) => s.data !== null);
      expect(complete(leader).length).toBeGreaterThanOrEqual(6);
      expect(complete(follower).map((s) => [s.msn, s.parts.length, Math.round(s.duration * 1000)]), `shift ${shift}`).toEqual(complete(leader).map((s) => [s.msn, s.parts.length, Math.round(s.duration * 1000)]));
      for (const p of [leader, follower]) expect(complete(p).every((s) => s.parts[0]!.independent), `shift ${shift}`).toBe(true);
      // The same key frame, so the same date.
      expect(complete(follower).map((s) => s.programDateTime)).toEqual(complete(leader).map((s) => s.programDateTime));
    }
  });
});
