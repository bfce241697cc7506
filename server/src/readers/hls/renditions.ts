import HLS from 'hls-parser';
import type { TrackInfo } from './fmp4.js';
import type { LlPackager } from './ll-packager.js';
import type { LlHlsStream } from './ll-stream.js';

/** One rendition of a channel: a simulcast layer passed through, with the channel's audio. */
export interface Rendition {
  /** Its path segment under /hls/<channelId>/ (`v0` … for layers, low to high). */
  name: string;
  stream: LlHlsStream;
  /** The tracks of its current init segment (null before FFmpeg wrote one). */
  tracks: () => TrackInfo[] | null;
}

export interface RenditionReport {
  uri: string;
  lastMsn: number;
  lastPart: number;
}

/** Peak and average bit rate of a packager's complete segments (bit/s), or null before the first. */
export function segmentBitrates(packager: Pick<LlPackager, 'segments'>): { peak: number; average: number } | null {
  let peak = 0;
  let bytes = 0;
  let seconds = 0;
  for (const segment of packager.segments) {
    if (segment.data === null || segment.duration <= 0) continue;
    peak = Math.max(peak, (segment.data.length * 8) / segment.duration);
    bytes += segment.data.length;
    seconds += segment.duration;
  }
  return seconds > 0 ? { peak: Math.round(peak), average: Math.round((bytes * 8) / seconds) } : null;
}

/**
 * A channel's renditions (low to high) as HTTP serves them: the multivariant playlist, each
 * rendition's stream by name, and the rendition reports each media playlist carries for the
 * others (rfc8216bis §4.4.5.4), so that an LL-HLS player switches with one blocking request.
 */
export class HlsRenditions {
  private readonly byName: Map<string, Rendition>;

  constructor(readonly list: readonly Rendition[]) {
    this.byName = new Map(list.map((r) => [r.name, r]));
  }

  /**
   * A channel's renditions (low to high) put together: each playlist reports on the others, and
   * the top one's stream, served as the channel's, answers with the multivariant playlist.
   */
  static join(list: readonly Rendition[]): HlsRenditions {
    const renditions = new HlsRenditions(list);
    for (const rendition of list) rendition.stream.joinRenditions(renditions, rendition.name);
    list.at(-1)!.stream.renditions = renditions;
    return renditions;
  }

  stream(name: string): LlHlsStream | undefined {
    return this.byName.get(name)?.stream;
  }

  /** Whether every rendition has a playlist and a known format (the multivariant playlist can say what each is). */
  get ready(): boolean {
    return this.list.every((r) => r.stream.ready && r.tracks() !== null);
  }

  /** Reports on the renditions other than `name`, from its playlist's directory. */
  reportsFor(name: string): RenditionReport[] {
    return this.list
      .filter((r) => r.name !== name)
      .flatMap((r) => {
        const newest = r.stream.newestPart;
        return newest ? [{ uri: `../${r.name}/index.m3u8`, lastMsn: newest.msn, lastPart: newest.part }] : [];
      });
  }

  /**
   * The multivariant playlist: one variant per rendition, top first, with its measured BANDWIDTH (peak
   * segment bit rate, as the spec defines it) and AVERAGE-BANDWIDTH, RESOLUTION and CODECS from
   * its init segment. Null until every rendition is ready.
   */
  multivariant(): string | null {
    if (!this.ready) return null;
    // Top first: players start on the first variant listed (hls.js among them), and hls.js,
    // estimating bandwidth from LL-HLS parts that are waited for, is slow to move up and quick
    // to move down: a viewer on a narrow link is down a rendition within seconds.
    const variants = [...this.list].reverse().map((r) => {
      const tracks = r.tracks()!;
      const video = tracks.find((t) => t.kind === 'video');
      const rates = segmentBitrates(r.stream.packager) ?? { peak: 1, average: 1 };
      const codecs = tracks.map((t) => t.codecString).filter((c): c is string => Boolean(c));
      return new HLS.types.Variant({
        uri: `${r.name}/index.m3u8`,
        bandwidth: rates.peak,
        averageBandwidth: rates.average,
        ...(codecs.length > 0 ? { codecs: codecs.join(',') } : {}),
        ...(video?.width && video.height ? { resolution: { width: video.width, height: video.height } } : {}),
      });
    });
    return HLS.stringify(new HLS.types.MasterPlaylist({ version: 9, variants }));
  }
}
