import { describe, expect, it } from 'vitest';
import { parseHlsPath } from './hls-files.js';

const id = 'AbCdEfGhIjKlMnOpQr_-12';

describe('parseHlsPath', () => {
  it('accepts a channel playlist (with LL-HLS query) and its segments', () => {
    expect(parseHlsPath(`/hls/${id}/index.m3u8`)).toEqual({ channelId: id, file: 'index.m3u8', isPlaylist: true });
    expect(parseHlsPath(`/hls/${id}/index.m3u8?_HLS_msn=12`)).toMatchObject({ isPlaylist: true });
    expect(parseHlsPath(`/hls/${id}/seg_00042.ts`)).toEqual({ channelId: id, file: 'seg_00042.ts', isPlaylist: false });
  });

  it.each([
    '/hls/../package.json',
    `/hls/${id}/../index.m3u8`,
    `/hls/${id}/%2e%2e/index.m3u8`,
    `/hls/${id}/seg_1.ts/..`,
    `/hls/${id}/index.m3u8.tmp`,
    `/hls/${id}/seg_abc.ts`,
    `/hls/${id}x/index.m3u8`,
    '/hls/short/index.m3u8',
    `/hls/${id}//index.m3u8`,
  ])('rejects %s', (url) => {
    expect(parseHlsPath(url)).toBeNull();
  });
});
