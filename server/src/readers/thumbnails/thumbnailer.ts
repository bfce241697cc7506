import type { ChannelReader } from '../../channel/reader.js';
import type { Logger } from '../../logger.js';
import { FfmpegProcess } from '../hls/ffmpeg-process.js';
import type { LlHlsStream } from '../hls/ll-stream.js';
import { JpegStream } from './jpeg-stream.js';

export interface ThumbnailOptions {
  ffmpegPath: string;
  /** A new picture about this often (the newest segment's key frame). */
  intervalMs: number;
  /** Pictures are scaled to this width (the height keeps the aspect ratio). */
  width: number;
}

export interface Thumbnail {
  jpeg: Buffer;
  /** When it was made (ms since the epoch). */
  at: number;
}

/**
 * A channel's live preview picture, made from its LL-HLS output rather than from the broadcast:
 * the newest segment's first part (its key frame) is fed to one long-lived FFmpeg per channel,
 * which decodes key frames only and writes a small JPEG. Starting an FFmpeg costs ~0.25 s of CPU
 * (loading its libraries), a key frame decoded and scaled by a running one a few milliseconds.
 * The FFmpeg is restarted with the new init segment when the packager's timeline restarts.
 */
export class Thumbnailer implements ChannelReader {
  private ffmpeg: FfmpegProcess | null = null;
  private fedInit: string | null = null;
  private lastMsn = -1;
  private lastFedAt = 0;
  private latest: Thumbnail | null = null;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly stream: LlHlsStream,
    private readonly o: ThumbnailOptions,
    private readonly logger: Logger,
  ) {
    // Checked every second, so that the first picture comes with the first segment.
    this.timer = setInterval(() => this.capture(), Math.min(1000, o.intervalMs));
    this.capture();
  }

  /** The newest picture, or null before the first. */
  get thumbnail(): Thumbnail | null {
    return this.latest;
  }

  /** The FFmpeg's process id (tests and benchmarks measure its CPU). */
  get ffmpegPid(): number | undefined {
    return this.ffmpeg?.pid;
  }

  private capture(): void {
    if (this.closed || (this.latest && Date.now() - this.lastFedAt < this.o.intervalMs)) return;
    const key = this.stream.latestKeyFramePart();
    if (!key || key.msn === this.lastMsn) return;
    this.lastMsn = key.msn;
    this.lastFedAt = Date.now();
    if (!this.ffmpeg?.running || this.fedInit !== key.init) {
      // A new timeline (FFmpeg upstream restarted: new init, time from 0 again), or ours died.
      void this.ffmpeg?.stop(200);
      this.ffmpeg = this.launch();
      this.ffmpeg.write(key.initData);
      this.fedInit = key.init;
    }
    this.ffmpeg.write(key.part);
  }

  private launch(): FfmpegProcess {
    const images = new JpegStream();
    const ffmpeg = new FfmpegProcess(
      this.o.ffmpegPath,
      [
        '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
        // Read the init segment and go: no probing for what the init segment already says.
        '-probesize', '32', '-analyzeduration', '0',
        // Key frames only, one decoding thread (frame threads hold pictures back by a frame each).
        '-skip_frame', 'nokey', '-threads', '1', '-flags', 'low_delay',
        '-f', 'mp4', '-i', 'pipe:0',
        '-map', '0:v:0', '-fps_mode', 'passthrough',
        '-vf', `scale=${this.o.width}:-2`, '-q:v', '5',
        '-f', 'image2pipe', '-c:v', 'mjpeg', 'pipe:1',
      ],
      this.logger,
      (chunk) => {
        for (const jpeg of images.push(chunk)) this.latest = { jpeg, at: Date.now() };
      },
      { input: true },
    );
    void ffmpeg.exited.then((exit) => {
      if (!exit.requested && !this.closed) this.logger.warn({ code: exit.code, signal: exit.signal }, 'the thumbnail ffmpeg exited; it restarts with the next picture');
    });
    return ffmpeg;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.ffmpeg?.stop(200);
  }
}
