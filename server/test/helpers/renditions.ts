import HLS from 'hls-parser';
import { eventually } from './processes.js';

/** A channel's multivariant playlist once it lists every rendition with its resolution (`base`: /hls/<channelId>). */
export function multivariantWithResolutions(base: string): Promise<HLS.types.MasterPlaylist> {
  HLS.setOptions({ strictMode: true, silent: true });
  return eventually(async () => {
    const response = await fetch(`${base}/index.m3u8`);
    if (!response.ok) return null;
    const playlist = HLS.parse(await response.text());
    return playlist.isMasterPlaylist && playlist.variants.every((v) => v.resolution) ? playlist : null;
  }, 'a multivariant playlist with every rendition’s resolution', 20_000);
}

/**
 * Each rendition's complete segments by number, once at least `minimum` numbers are complete in
 * all of them (`common`, from the last rendition's list). `parse` reads a media playlist as the
 * test wants it checked.
 */
export function segmentsInEveryRendition(
  base: string,
  names: string[],
  o: { minimum: number; timeoutMs: number; parse: (text: string, name: string) => HLS.types.MediaPlaylist },
): Promise<{ renditions: Map<number, HLS.types.Segment>[]; common: number[] }> {
  const completeSegments = async (name: string) => {
    const playlist = o.parse(await (await fetch(`${base}/${name}/index.m3u8`)).text(), name);
    return new Map(playlist.segments.filter((s) => s.duration > 0).map((s) => [s.mediaSequenceNumber, s]));
  };
  return eventually(async () => {
    const renditions = await Promise.all(names.map(completeSegments));
    const common = [...renditions.at(-1)!.keys()].filter((msn) => renditions.every((r) => r.has(msn)));
    return common.length >= o.minimum ? { renditions, common } : null;
  }, `${o.minimum} complete segments in every rendition`, o.timeoutMs);
}
