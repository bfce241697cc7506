import type { ChannelReader } from '../../channel/reader.js';
import type { Logger } from '../../logger.js';
import type { Segment } from '../hls/ll-packager.js';
import type { Thumbnail } from '../thumbnails/thumbnailer.js';
import type { RecordingWriter } from './recording-writer.js';

/**
 * What the recorder reads: an LL-HLS packager's complete segments and init segments. Any producer
 * of an `LlPackager` (the WebRTC → FFmpeg pipeline, an encoder's fMP4 fed straight in) is recorded
 * the same way.
 */
export interface RecordableStream {
  readonly segments: readonly Segment[];
  readonly isEnded: boolean;
  file(name: string): Buffer | undefined;
  onChange(listener: () => void): () => void;
}

export interface RecorderOptions {
  /** The channel's newest live picture, kept with the recording. */
  thumbnail: () => Thumbnail | null;
  /** Writing failed: recording has stopped (the live stream is not affected). */
  onFailed: (error: Error) => void;
  logger: Logger;
  /** How long close() waits for the stream's producer to close its last segment. */
  endWaitMs?: number;
}

/**
 * Records a broadcast by writing the segments its LL-HLS packager completes, as they complete:
 * no decoding, no encoding, one file write per segment. A reader of the channel: attached with the
 * stream, closed with the channel, after which the recording is finished on disk.
 */
export class Recorder implements ChannelReader {
  private lastMsn = -1;
  private readonly initsWritten = new Set<string>();
  private readonly stopListening: () => void;
  private thumbnailAt = 0;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly stream: RecordableStream,
    private readonly writer: RecordingWriter,
    private readonly o: RecorderOptions,
  ) {
    writer.once('failed', (error) => {
      this.stopListening();
      o.logger.error({ err: error, dir: writer.dir }, 'recording stopped: the recordings directory cannot be written; the live stream goes on');
      o.onFailed(error);
    });
    this.stopListening = stream.onChange(() => this.collect());
    this.collect();
  }

  get failed(): boolean {
    return this.writer.failed !== null;
  }

  /** The broadcaster renamed the stream. */
  setDetails(details: { title: string; description: string }): void {
    this.writer.update(details);
  }

  /** Hands every newly completed segment (and its init segment, once) to the writer. Never throws into the packager. */
  private collect(): void {
    if (this.writer.failed) return;
    for (const segment of this.stream.segments) {
      if (segment.data === null || segment.msn <= this.lastMsn) continue;
      this.lastMsn = segment.msn;
      if (!this.initsWritten.has(segment.init)) {
        const init = this.stream.file(segment.init);
        if (!init) {
          this.o.logger.warn({ msn: segment.msn, init: segment.init }, 'a segment’s init segment is gone; the segment is not recorded');
          continue;
        }
        this.writer.writeInit(segment.init, init);
        this.initsWritten.add(segment.init);
      }
      this.writer.writeSegment(
        { msn: segment.msn, init: segment.init, duration: segment.duration, discontinuity: segment.discontinuity, programDateTime: segment.programDateTime },
        segment.data,
      );
    }
    const picture = this.o.thumbnail();
    if (picture && picture.at !== this.thumbnailAt) {
      this.thumbnailAt = picture.at;
      this.writer.writeThumbnail(picture.jpeg);
    }
  }

  /** Waits (a little) for the producer to close its last segment, writes it, and finishes the recording. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.untilStreamEnds(this.o.endWaitMs ?? 5000);
      this.collect();
      this.stopListening();
      await this.writer.finish(Date.now());
    })();
    return this.closing;
  }

  private untilStreamEnds(timeoutMs: number): Promise<void> {
    if (this.stream.isEnded) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      const unsubscribe = this.stream.onChange(() => this.stream.isEnded && done());
    });
  }
}
