import type { Logger } from '../logger.js';
import { ladderVideo, renditionOutputs } from '../readers/hls/ffmpeg-args.js';
import { FfmpegProcess, type FfmpegExit } from '../readers/hls/ffmpeg-process.js';

/**
 * What an encoder's stream comes in as: FLV written to FFmpeg's standard input (RTMP), or an SRT
 * listener FFmpeg opens (its URL carries the passphrase, which is kept out of the log).
 */
export type EncoderInput = { protocol: 'rtmp' } | { protocol: 'srt'; url: string; passphrase: string };

/** FFmpeg cuts a fragment at least this often (µs): about one per frame, so that parts can be cut at any frame. */
const FRAGMENT_MICROS = 25_000;

/**
 * The ingest FFmpeg's command line: the encoder's H264 and AAC **copied** (no transcoding: High
 * profile and B-frames pass through to HLS) into fragmented MP4 on standard output, which the
 * server packages into LL-HLS like any other fMP4 (see PassthroughHls). With `rungs` > 1 (the
 * optional ladder, HLS_LADDER), that is the top rendition, and the lower ones are encoded from
 * it (see ladderVideo) and written to `pipe:3`, `pipe:4` … from low to high, with the same audio.
 */
export function encoderIngestArgs(input: EncoderInput, rungs = 1): string[] {
  const source = input.protocol === 'rtmp' ? ['-f', 'flv', '-i', 'pipe:0'] : ['-i', input.url];
  // MPEG-TS carries AAC with ADTS headers, which MP4 stores once, in its init segment.
  const audio = ['-c:a', 'copy', ...(input.protocol === 'srt' ? ['-bsf:a', 'aac_adtstoasc'] : [])];
  const start = ['-hide_banner', '-nostats', '-loglevel', 'warning', ...source];
  if (rungs > 1) return [...start, ...renditionOutputs(ladderVideo(rungs), audio, rungs, FRAGMENT_MICROS)];
  return [
    ...start,
    '-map', '0:v:0', '-map', '0:a:0',
    '-c:v', 'copy', ...audio,
    '-f', 'mp4',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof',
    '-frag_duration', String(FRAGMENT_MICROS),
    '-flush_packets', '1',
    'pipe:1',
  ];
}

/**
 * One encoder connection's ingest: an FFmpeg that demuxes what the encoder sends and remuxes it,
 * copied, to fMP4 (and, with a ladder, encodes the lower renditions). It counts what it writes
 * on the top output, so that the channel's source watch sees media flow (`getStats`, like a
 * mediasoup producer's). One per connection; a reconnecting encoder gets a new one.
 */
export class EncoderIngest {
  private readonly ffmpeg: FfmpegProcess;
  private chunksOut = 0;
  readonly exited: Promise<FfmpegExit>;

  constructor(
    readonly input: EncoderInput,
    ffmpegPath: string,
    logger: Logger,
    /** `rendition`: `rungs - 1` for the top one (the encoder's stream), 0 … below it from low to high. */
    onOutput: (chunk: Buffer, rendition: number) => void,
    readonly rungs = 1,
  ) {
    const top = rungs - 1;
    const lower = Array.from({ length: top }, (_, rung) => (chunk: Buffer) => onOutput(chunk, rung));
    this.ffmpeg = new FfmpegProcess(
      ffmpegPath,
      encoderIngestArgs(input, rungs),
      logger,
      (chunk) => {
        this.chunksOut++;
        onOutput(chunk, top);
      },
      { ...(input.protocol === 'rtmp' ? { input: true } : { secrets: [input.passphrase, encodeURIComponent(input.passphrase)] }), moreOutputs: lower },
    );
    this.exited = this.ffmpeg.exited;
  }

  get pid(): number | undefined {
    return this.ffmpeg.pid;
  }

  /** FLV from the RTMP connection. */
  write(chunk: Buffer): void {
    this.ffmpeg.write(chunk);
  }

  /** Whether FFmpeg has written anything yet (an SRT listener writes nothing until an encoder connects). */
  get started(): boolean {
    return this.chunksOut > 0;
  }

  getStats(): Promise<{ packetCount: number }[]> {
    return Promise.resolve([{ packetCount: this.chunksOut }]);
  }

  stop(): Promise<FfmpegExit> {
    return this.ffmpeg.stop(500);
  }
}
