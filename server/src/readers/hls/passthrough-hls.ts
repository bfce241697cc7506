import type { ChannelReader } from '../../channel/reader.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { DrainingStreams } from './draining-streams.js';
import { fmp4Feed } from './fmp4-feed.js';
import type { FragmentTiming, TrackInfo } from './fmp4.js';
import { LlPackager } from './ll-packager.js';
import { LlHlsStream } from './ll-stream.js';
import { HlsRenditions } from './renditions.js';

/** Sample entries hls.js (MSE) and the real-time transcoder take: H264 and AAC. */
const VIDEO_CODECS = new Set(['avc1', 'avc3']);
const AUDIO_CODECS = new Set(['mp4a']);

/** Why an encoder's tracks cannot be played, or null when they can. */
export function unsupportedTracks(tracks: TrackInfo[]): string | null {
  const video = tracks.find((t) => t.kind === 'video');
  const audio = tracks.find((t) => t.kind === 'audio');
  if (!video || !audio) return `the encoder's stream has no ${video ? 'audio' : 'video'} track; livecast needs H264 video and AAC audio`;
  if (!VIDEO_CODECS.has(video.codec)) return `the encoder sends ${video.codec || 'unknown'} video; livecast takes H264 (set the encoder to x264/H.264)`;
  if (!AUDIO_CODECS.has(audio.codec)) return `the encoder sends ${audio.codec || 'unknown'} audio; livecast takes AAC`;
  return null;
}

/**
 * Encoders choose their key frames (OBS and streaming services: every 2 s; a segment can only
 * start at one): segments of at least this length, so that most start at a key frame. A longer
 * interval still works: the packager cuts a segment without one rather than exceed the target.
 */
const ENCODER_SEGMENT_SECONDS = 2;

export type FragmentListener = (event: { init: Buffer; tracks: TrackInfo[]; data: Buffer; timing: FragmentTiming }) => void;

/** A rendition below the encoder's own (the optional ladder): its packager follows the top one's. */
interface LowerRendition {
  packager: LlPackager;
  stream: LlHlsStream;
  tracks: TrackInfo[] | null;
}

/**
 * LL-HLS of an encoder's stream, passed through: the ingest FFmpeg's fMP4 (see EncoderIngest) is
 * packaged as it comes, without transcoding. Each encoder connection is a run with its own init
 * segment (a reconnect is a discontinuity); the stream outlives the runs, and ends with the channel.
 * Fragments are also handed to listeners (the real-time transcoder).
 * With `rungs` > 1 (HLS_LADDER), the ingest also writes the lower renditions of a transcoded
 * ladder; each is packaged following the top one (the same segment and part numbers start with
 * the same frame), and the channel's playlist becomes the multivariant one.
 */
export class PassthroughHls implements ChannelReader {
  readonly packager: LlPackager;
  readonly stream: LlHlsStream;
  private readonly lower: LowerRendition[];
  private readonly listeners = new Set<FragmentListener>();
  private init: { data: Buffer; tracks: TrackInfo[] } | null = null;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly channelId: string,
    config: Config['hls'],
    private readonly draining: DrainingStreams,
    private readonly logger: Logger,
    onPlaylistReady: () => void,
    readonly rungs = 1,
  ) {
    const segmentTarget = Math.max(config.segmentSeconds, ENCODER_SEGMENT_SECONDS);
    this.packager = new LlPackager({ partTarget: config.partSeconds, segmentTarget, now: Date.now });
    this.stream = new LlHlsStream(this.packager);
    this.lower = Array.from({ length: rungs - 1 }, () => {
      const packager = new LlPackager({ partTarget: config.partSeconds, segmentTarget, now: Date.now, follow: this.packager, sameFrames: true });
      return { packager, stream: new LlHlsStream(packager), tracks: null };
    });
    if (this.lower.length > 0) {
      HlsRenditions.join([
        ...this.lower.map((r, rung) => ({ name: `v${rung}`, stream: r.stream, tracks: () => r.tracks })),
        { name: `v${rungs - 1}`, stream: this.stream, tracks: () => this.init?.tracks ?? null },
      ]);
    }
    this.stream.whenReady(() => {
      if (this.stopping) return;
      this.logger.info({ partTarget: this.packager.partTarget, targetDuration: this.packager.targetDuration }, 'hls playlist ready');
      onPlaylistReady();
    });
  }

  /**
   * A new run (an encoder connected): returns what takes its fMP4, each output's (`rendition`:
   * see EncoderIngest). `onRefused` hears why the stream cannot be played (a codec livecast does
   * not take, unreadable output); the run stops there.
   */
  run(onRefused: (reason: string) => void): (chunk: Buffer, rendition: number) => void {
    const lowerFeeds = this.lower.map((r) =>
      fmp4Feed(r.packager, {
        onInit: (tracks) => (r.tracks = tracks),
        restoreFirstFrame: true,
        onBroken: (error) => {
          this.logger.error({ err: error }, 'unreadable fMP4 of a ladder rendition from the ingest ffmpeg');
          onRefused('the encoder’s stream could not be read');
        },
      }),
    );
    const feed = fmp4Feed(this.packager, {
      restoreFirstFrame: this.lower.length > 0,
      onInit: (tracks, init) => {
        const refusal = unsupportedTracks(tracks);
        if (refusal) throw new RefusedStream(refusal);
        this.init = { data: init, tracks };
      },
      onFragment: (data, timing) => {
        for (const listener of this.listeners) listener({ init: this.init!.data, tracks: this.init!.tracks, data, timing });
      },
      onBroken: (error) => {
        if (error instanceof RefusedStream) return onRefused(error.message);
        this.logger.error({ err: error }, 'unreadable fMP4 from the ingest ffmpeg');
        onRefused('the encoder’s stream could not be read');
      },
    });
    return (chunk, rendition) => {
      if (this.stopping) return;
      if (rendition === this.rungs - 1) feed(chunk);
      else lowerFeeds[rendition]?.(chunk);
    };
  }

  /** Every fragment from now on, with the init segment it needs; returns the unsubscribe. */
  onFragment(listener: FragmentListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The stream ends (EXT-X-ENDLIST) and is served a while longer for players to drain. */
  close(): Promise<void> {
    this.stopping ??= (async () => {
      this.listeners.clear();
      // The lower renditions end with the top one (players on them see EXT-X-ENDLIST too).
      for (const rendition of this.lower) rendition.packager.end();
      this.draining.endStream(this.channelId, this.packager, this.stream);
    })();
    return this.stopping;
  }
}

class RefusedStream extends Error {}
