import HLS from 'hls-parser';
import { describe, expect, it } from 'vitest';
import type { IndexEntry } from './recording-files.js';
import { writeRecordingPlaylist } from './vod-playlist.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const entry = (msn: number, over: Partial<IndexEntry> = {}): IndexEntry => ({ msn, init: 'init_0.mp4', duration: 1.02, discontinuity: false, programDateTime: T0 + msn * 1020, bytes: 1000, ...over });

const parse = (text: string) => {
  const playlist = HLS.parse(text);
  if (!(playlist instanceof HLS.types.MediaPlaylist)) throw new Error('not a media playlist');
  return playlist;
};

describe('writeRecordingPlaylist', () => {
  it('writes a finished recording as VOD with an end, its segments, init segment and dates', () => {
    const playlist = parse(writeRecordingPlaylist([entry(0), entry(1), entry(2, { duration: 1.4 })], { ended: true }));
    expect(playlist.playlistType).toBe('VOD');
    expect(playlist.endlist).toBe(true);
    expect(playlist.targetDuration).toBe(2);
    expect(playlist.segments.map((s) => [s.uri, s.duration, s.map?.uri, Boolean(s.discontinuity)])).toEqual([
      ['seg_0.m4s', 1.02, 'init_0.mp4', false],
      ['seg_1.m4s', 1.02, 'init_0.mp4', false],
      ['seg_2.m4s', 1.4, 'init_0.mp4', false],
    ]);
    expect(playlist.segments[1]!.programDateTime?.getTime()).toBe(T0 + 1020);
  });

  it('is an EVENT playlist without an end while the broadcast is live (the DVR window)', () => {
    const text = writeRecordingPlaylist([entry(0), entry(1)], { ended: false });
    expect(text).toContain('#EXT-X-PLAYLIST-TYPE:EVENT');
    expect(text).not.toContain('#EXT-X-ENDLIST');
  });

  it('marks a discontinuity where the init segment changes or the packager saw a gap, never on the first segment', () => {
    const playlist = parse(
      writeRecordingPlaylist([entry(0, { discontinuity: true }), entry(1), entry(2, { init: 'init_1.mp4', discontinuity: true }), entry(3, { init: 'init_1.mp4' }), entry(4, { init: 'init_1.mp4', discontinuity: true })], { ended: true }),
    );
    expect(playlist.segments.map((s) => Boolean(s.discontinuity))).toEqual([false, false, true, false, true]);
    // An init change alone (a recorder that missed the packager's flag) is a discontinuity too.
    const changed = parse(writeRecordingPlaylist([entry(0), entry(1, { init: 'init_1.mp4' })], { ended: true }));
    expect(changed.segments.map((s) => [Boolean(s.discontinuity), s.map?.uri])).toEqual([[false, 'init_0.mp4'], [true, 'init_1.mp4']]);
  });

  it('keeps every EXTINF within the target duration', () => {
    const playlist = parse(writeRecordingPlaylist([entry(0, { duration: 0.4 }), entry(1, { duration: 2.51 })], { ended: true }));
    for (const s of playlist.segments) expect(Math.round(s.duration)).toBeLessThanOrEqual(playlist.targetDuration);
  });
});
