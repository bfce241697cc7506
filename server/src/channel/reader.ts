import type { types } from 'mediasoup';
import type { VideoLayer } from '../../../protocol/index.js';
import type { Logger } from '../logger.js';

/**
 * What a reader gets of its channel: the router to consume from, the source's tracks, and
 * key-frame requests timed so the sender honours them. Readers never end the channel.
 */
export interface ChannelMedia {
  readonly channelId: string;
  readonly router: types.Router;
  readonly logger: Logger;
  /** The source's live tracks (at most one audio and one video). */
  tracks(): types.Producer[];
  /** The video's simulcast layers, lowest first (none: one quality). */
  videoLayers(): VideoLayer[];
  /**
   * A real-time viewer is coming: resolves once `tracks()` has the tracks (an encoder's stream is
   * transcoded for real-time viewers only while they exist); `releaseTracks` when the last is gone.
   */
  ensureTracks(): Promise<void>;
  releaseTracks(): void;
  requestKeyFrame(via: types.Consumer): void;
  /** Resolves once a key-frame request would be honoured. */
  keyFrameWindow(): Promise<void>;
}

/**
 * Something that reads a channel's media: the HLS pipeline, real-time viewers, relay pipes to
 * other instances, later a recorder or a thumbnailer. A reader is attached to its channel under a
 * name, owns what it creates, and is closed (once) when the channel ends.
 */
export interface ChannelReader {
  close(): void | Promise<void>;
}
