import HLS from 'hls-parser';
import { describe, expect, it } from 'vitest';
import type { FragmentTiming, TrackInfo } from './fmp4.js';
import { LlPackager } from './ll-packager.js';
import { LlHlsStream } from './ll-stream.js';
import { HlsRenditions, segmentBitrates } from './renditions.js';

const FRAME = 1 / 30;

function rendition(name: string, width: number, height: number, bytesPerFrame: number, follow?: LlPackager) {
  const clock = { now: 1_800_000_000_000 };
  const packager = new LlPackager({ partTarget: 0.2, segmentTarget: 1, now: () => clock.now, ...(follow ? { follow } : {}) });
  packager.setInit(Buffer.from(`init-${name}`));
  const tracks: TrackInfo[] = [
    { id: 1, kind: 'video', codec: 'avc1', codecString: 'avc1.42e01f', width, height, timescale: 90000 },
    { id: 2, kind: 'audio', codec: 'mp4a', codecString: 'mp4a.40.2', timescale: 48000 },
  ];
  return { name, packager, stream: new LlHlsStream(packager), tracks, bytesPerFrame, clock };
}

function feed(list: ReturnType<typeof rendition>[], frames: number): void {
  for (let i = 0; i < frames; i++) {
    const timing: FragmentTiming = { video: { start: i * FRAME, duration: FRAME, samples: 1, sync: i % 30 === 0 }, audio: { start: i * FRAME, duration: FRAME, samples: 2, sync: true } };
    // The top one (the leader) last here: its followers hold their frames until it has packaged its own.
    for (const r of list) {
      r.clock.now += FRAME * 1000;
      r.packager.addFragment(Buffer.alloc(r.bytesPerFrame), timing, r.clock.now);
    }
  }
}

describe('HlsRenditions', () => {
  const top = rendition('v2', 1280, 720, 5000);
  const low = rendition('v0', 320, 180, 500, top.packager);
  const mid = rendition('v1', 640, 360, 1500, top.packager);
  const renditions = new HlsRenditions([low, mid, top].map((r) => ({ name: r.name, stream: r.stream, tracks: () => r.tracks })));
  for (const r of [low, mid, top]) r.stream.joinRenditions(renditions, r.name);

  it('writes no multivariant playlist before every rendition has a segment', () => {
    expect(renditions.ready).toBe(false);
    expect(renditions.multivariant()).toBeNull();
  });

  it('writes a strictly valid multivariant playlist: top first, measured bandwidths, resolutions and codecs', () => {
    feed([low, mid, top], 30 * 4 + 5);
    expect(renditions.ready).toBe(true);
    HLS.setOptions({ strictMode: true, silent: true });
    const playlist = HLS.parse(renditions.multivariant()!);
    if (!playlist.isMasterPlaylist) throw new Error('not multivariant');
    expect(playlist.variants.map((v) => [v.uri, v.resolution?.width, v.codecs])).toEqual([
      ['v2/index.m3u8', 1280, 'avc1.42e01f,mp4a.40.2'],
      ['v1/index.m3u8', 640, 'avc1.42e01f,mp4a.40.2'],
      ['v0/index.m3u8', 320, 'avc1.42e01f,mp4a.40.2'],
    ]);
    // 5000 bytes a frame at 30 fps: 1.2 Mbit/s.
    expect(playlist.variants[0]!.bandwidth).toBeCloseTo(1_200_000, -4);
    expect(playlist.variants[0]!.bandwidth).toBe(segmentBitrates(top.packager)!.peak);
    expect(playlist.variants[2]!.bandwidth).toBeLessThan(playlist.variants[1]!.bandwidth);
  });

  it('reports on the other renditions in each media playlist, with their newest part', () => {
    HLS.setOptions({ strictMode: true, silent: true });
    const playlist = HLS.parse(mid.stream.playlist(false));
    if (playlist.isMasterPlaylist) throw new Error('multivariant');
    const newestTop = top.stream.newestPart!;
    expect(playlist.renditionReports.map((r) => ({ uri: r.uri, msn: r.lastMSN, part: r.lastPart }))).toEqual([
      { uri: '../v0/index.m3u8', msn: low.stream.newestPart!.msn, part: low.stream.newestPart!.part },
      { uri: '../v2/index.m3u8', msn: newestTop.msn, part: newestTop.part },
    ]);
    expect(renditions.stream('v1')).toBe(mid.stream);
    expect(renditions.stream('v3')).toBeUndefined();
  });
});
