import { describe, expect, it } from 'vitest';
import { parsePlaylistWindow, withBlockingReload } from './playlist-text.js';

const playlist = [
  '#EXTM3U',
  '#EXT-X-VERSION:6',
  '#EXT-X-TARGETDURATION:1',
  '#EXT-X-MEDIA-SEQUENCE:17',
  '#EXT-X-INDEPENDENT-SEGMENTS',
  '#EXTINF:1.000000,',
  'seg_00017.ts',
  '#EXTINF:0.990000,',
  'seg_00018.ts',
  '#EXTINF:1.021000,',
  'seg_00019.ts',
  '',
].join('\n');

describe('parsePlaylistWindow', () => {
  it('reads the window: first and newest media sequence numbers', () => {
    expect(parsePlaylistWindow(playlist)).toEqual({ mediaSequence: 17, segments: 3, lastMsn: 19, targetDuration: 1 });
  });

  it('reports no newest segment for an empty playlist', () => {
    expect(parsePlaylistWindow('#EXTM3U\n#EXT-X-TARGETDURATION:1\n').lastMsn).toBe(-1);
  });
});

describe('withBlockingReload', () => {
  it('adds CAN-BLOCK-RELOAD right after the target duration, once', () => {
    const out = withBlockingReload(playlist);
    expect(out).toContain('#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES\n#EXT-X-MEDIA-SEQUENCE:17');
    expect(withBlockingReload(out)).toBe(out);
  });
});
