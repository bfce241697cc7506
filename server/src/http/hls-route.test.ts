import { describe, expect, it } from 'vitest';
import { parseHlsPath } from '../../../protocol/ids.js';
import { parseDirectives } from './hls-route.js';

const id = 'AbCdEfGhIjKlMnOpQr_-12';

describe('parseHlsPath', () => {
  it('accepts a channel playlist (with LL-HLS query), its init segments, segments and parts', () => {
    expect(parseHlsPath(`/hls/${id}/index.m3u8`)).toEqual({ channelId: id, rendition: null, file: 'index.m3u8', isPlaylist: true });
    expect(parseHlsPath(`/hls/${id}/index.m3u8?_HLS_msn=12&_HLS_part=2`)).toMatchObject({ isPlaylist: true });
    expect(parseHlsPath(`/hls/${id}/seg_42.m4s`)).toEqual({ channelId: id, rendition: null, file: 'seg_42.m4s', isPlaylist: false });
    expect(parseHlsPath(`/hls/${id}/part_423.m4s`)).toEqual({ channelId: id, rendition: null, file: 'part_423.m4s', isPlaylist: false });
    expect(parseHlsPath(`/hls/${id}/init_0.mp4`)).toEqual({ channelId: id, rendition: null, file: 'init_0.mp4', isPlaylist: false });
  });

  it('accepts the same files of a rendition (v<layer>/)', () => {
    expect(parseHlsPath(`/hls/${id}/v1/index.m3u8?_HLS_msn=3`)).toEqual({ channelId: id, rendition: 'v1', file: 'index.m3u8', isPlaylist: true });
    expect(parseHlsPath(`/hls/${id}/v0/part_7.m4s`)).toEqual({ channelId: id, rendition: 'v0', file: 'part_7.m4s', isPlaylist: false });
  });

  it.each([
    '/hls/../package.json',
    `/hls/${id}/../index.m3u8`,
    `/hls/${id}/%2e%2e/index.m3u8`,
    `/hls/${id}/seg_1.m4s/..`,
    `/hls/${id}/index.m3u8.tmp`,
    `/hls/${id}/seg_abc.m4s`,
    `/hls/${id}/seg_1.ts`,
    `/hls/${id}/part_1_2.m4s`,
    `/hls/${id}/part_1.mp4`,
    `/hls/${id}x/index.m3u8`,
    '/hls/short/index.m3u8',
    `/hls/${id}//index.m3u8`,
    `/hls/${id}/v12/index.m3u8`,
    `/hls/${id}/v1/v2/index.m3u8`,
    `/hls/${id}/x1/index.m3u8`,
    `/hls/${id}/v1/../index.m3u8`,
  ])('rejects %s', (url) => {
    expect(parseHlsPath(url)).toBeNull();
  });
});

describe('parseDirectives (rfc8216bis §6.2.5)', () => {
  const stream = { lastCompleteMsn: 10, newestPart: { msn: 11, part: 2 }, partTarget: 0.2 };
  const parse = (query: string) => parseDirectives(new URLSearchParams(query), stream);

  it('reads blocking and delta-update directives', () => {
    expect(parse('')).toEqual({ msn: undefined, part: undefined, skip: false });
    expect(parse('_HLS_msn=11&_HLS_part=3')).toEqual({ msn: 11, part: 3, skip: false });
    expect(parse('_HLS_msn=12&_HLS_skip=YES')).toEqual({ msn: 12, part: undefined, skip: true });
  });

  it('refuses malformed directives and requests too far ahead of the live edge (400)', () => {
    expect(parse('_HLS_part=1')).toMatch(/needs _HLS_msn/);
    expect(parse('_HLS_msn=abc')).toMatch(/segment number/);
    expect(parse('_HLS_msn=1&_HLS_part=-1')).toMatch(/part number/);
    expect(parse('_HLS_skip=maybe')).toMatch(/YES or v2/);
    expect(parse('_HLS_msn=13')).toMatch(/too far ahead/);
    // Advance Part Limit: 3 / 0.2 s = 15 parts past the newest.
    expect(parse('_HLS_msn=11&_HLS_part=17')).toEqual({ msn: 11, part: 17, skip: false });
    expect(parse('_HLS_msn=11&_HLS_part=18')).toMatch(/too far ahead/);
  });
});
