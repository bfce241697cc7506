import type { types } from 'mediasoup';
import type { ChannelReader } from '../../channel/reader.js';
import type { Logger } from '../../logger.js';
import { FfmpegProcess } from '../hls/ffmpeg-process.js';
import type { TrackInfo } from '../hls/fmp4.js';
import type { PassthroughHls } from '../hls/passthrough-hls.js';

/** H264 profile_idc 66: Baseline (and Constrained Baseline), which has no B-frames and every browser decodes. */
const H264_BASELINE = 66;

/** Whether the encoder's video can go to browsers as it is (only its AAC needs transcoding, to Opus). */
export function browserDecodable(tracks: TrackInfo[]): boolean {
  return tracks.find((t) => t.kind === 'video')?.h264Profile === H264_BASELINE;
}

const LOOPBACK = '127.0.0.1';
/** The browser-decodable H264 every WebRTC player takes: Constrained Baseline 3.1, no B-frames. */
const VIDEO = { payloadType: 102, ssrc: 0x5ca1ab1e, profileLevelId: '42e01f' } as const;
const AUDIO = { payloadType: 101, ssrc: 0x0b0e0a0d } as const;
/** A key frame this often: FFmpeg does not hear key-frame requests, and a new viewer waits at most this. */
const KEY_FRAME_SECONDS = 1;
/** An FFmpeg that keeps dying is given up after this many restarts (the viewers fall back to HLS). */
const MAX_RESTARTS = 3;

export interface TranscoderOptions {
  ffmpegPath: string;
  /** The video's bitrate for real-time viewers (kbit/s). */
  videoKbps: number;
}

/**
 * Real-time viewing of an encoder's stream (RTMP, SRT): browsers receive no High-profile H264 and
 * no B-frames over WebRTC, and no AAC, so one FFmpeg per channel transcodes the passed-through
 * fMP4 (from PassthroughHls, starting at a key frame) to Constrained Baseline H264 and Opus, sent
 * as RTP into two PlainTransports whose producers real-time viewers consume. The channel runs it
 * only while real-time viewers exist: it is the most expensive thing a channel does.
 */
export class RealtimeTranscoder implements ChannelReader {
  private ffmpeg: FfmpegProcess | null = null;
  private fedInit: Buffer | null = null;
  private unsubscribe: (() => void) | null = null;
  private restarts = 0;
  private closed = false;

  private constructor(
    private readonly transports: types.PlainTransport[],
    readonly producers: types.Producer[],
    private readonly hls: PassthroughHls,
    private readonly o: TranscoderOptions,
    private readonly logger: Logger,
  ) {}

  /** Opens the transports and producers on `router` and starts transcoding from the next key frame. */
  static async start(router: types.Router, hls: PassthroughHls, o: TranscoderOptions, logger: Logger): Promise<RealtimeTranscoder> {
    const transports: types.PlainTransport[] = [];
    const producers: types.Producer[] = [];
    try {
      const open = async (kind: 'audio' | 'video', rtpParameters: types.RtpParameters) => {
        // FFmpeg sends RTCP from a socket of its own: muxed, comedia would lock onto whichever came first.
        const transport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: LOOPBACK }, comedia: true, rtcpMux: false });
        transports.push(transport);
        producers.push(await transport.produce({ kind, rtpParameters }));
      };
      await open('video', {
        codecs: [{
          mimeType: 'video/H264',
          payloadType: VIDEO.payloadType,
          clockRate: 90000,
          parameters: { 'packetization-mode': 1, 'profile-level-id': VIDEO.profileLevelId, 'level-asymmetry-allowed': 1 },
        }],
        encodings: [{ ssrc: VIDEO.ssrc }],
      });
      await open('audio', {
        codecs: [{ mimeType: 'audio/opus', payloadType: AUDIO.payloadType, clockRate: 48000, channels: 2 }],
        encodings: [{ ssrc: AUDIO.ssrc }],
      });
    } catch (error) {
      transports.forEach((t) => t.close());
      throw error;
    }
    const transcoder = new RealtimeTranscoder(transports, producers, hls, o, logger);
    transcoder.unsubscribe = hls.onFragment((f) => transcoder.feed(f.init, f.tracks, f.data, f.timing.video?.sync === true));
    logger.info({ ports: transports.map((t) => t.tuple.localPort) }, 'real-time transcoder waiting for a key frame');
    return transcoder;
  }

  get ffmpegPid(): number | undefined {
    return this.ffmpeg?.pid;
  }

  private feed(init: Buffer, tracks: TrackInfo[], data: Buffer, keyFrame: boolean): void {
    if (this.closed) return;
    if (this.fedInit !== init || !this.ffmpeg?.running) {
      // A new timeline (the encoder reconnected) or no FFmpeg yet: start at a key frame.
      if (!keyFrame) return;
      if (this.ffmpeg?.running) void this.ffmpeg.stop(200);
      this.ffmpeg = this.launch(browserDecodable(tracks));
      this.ffmpeg.write(init);
      this.fedInit = init;
    }
    this.ffmpeg.write(data);
  }

  private launch(copyVideo: boolean): FfmpegProcess {
    const [video, audio] = this.transports;
    const rtp = (t: types.PlainTransport) => `rtp://${LOOPBACK}:${t.tuple.localPort}?rtcpport=${t.rtcpTuple!.localPort}&pkt_size=1200`;
    const kbps = this.o.videoKbps;
    const videoArgs = copyVideo
      ? // Baseline H264 has no B-frames: sent as it is, with SPS/PPS before every key frame (browsers
        // read them in-band). New viewers then wait for the encoder's own key frames.
        ['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb']
      : [
          // Up to 720p: a viewer's decoder and the server's CPU both stay within what a phone takes.
          '-vf', "scale='min(1280,iw)':-2", '-pix_fmt', 'yuv420p',
          '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-level:v', '3.1', '-bf', '0',
          '-force_key_frames', `expr:gte(t,n_forced*${KEY_FRAME_SECONDS})`,
          '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${Math.round(kbps / 2)}k`,
        ];
    const ffmpeg = new FfmpegProcess(
      this.o.ffmpegPath,
      [
        '-hide_banner', '-nostats', '-loglevel', 'warning',
        // The init segment says what the tracks are: no probing (it would hold the first frames back).
        '-probesize', '32', '-analyzeduration', '0',
        '-f', 'mp4', '-i', 'pipe:0',
        '-map', '0:v:0',
        ...videoArgs,
        '-f', 'rtp', '-payload_type', String(VIDEO.payloadType), '-ssrc', String(VIDEO.ssrc), rtp(video!),
        '-map', '0:a:0',
        '-c:a', 'libopus', '-b:a', '96k', '-ar', '48000', '-ac', '2', '-application', 'lowdelay',
        '-f', 'rtp', '-payload_type', String(AUDIO.payloadType), '-ssrc', String(AUDIO.ssrc), rtp(audio!),
      ],
      this.logger,
      undefined,
      { input: true },
    );
    this.logger.info({ ffmpegPid: ffmpeg.pid, video: copyVideo ? 'copy' : 'transcode' }, 'real-time transcoder started');
    void ffmpeg.exited.then((exit) => {
      if (exit.requested || this.closed || this.ffmpeg !== ffmpeg) return;
      this.ffmpeg = null;
      if (this.restarts++ < MAX_RESTARTS) {
        this.logger.error({ code: exit.code, signal: exit.signal }, 'the real-time transcoder exited; it restarts at the next key frame');
      } else {
        this.logger.error({ code: exit.code, signal: exit.signal }, 'the real-time transcoder keeps failing; real-time viewing of this channel stops');
        void this.close();
      }
    });
    return ffmpeg;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    await this.ffmpeg?.stop(300);
    for (const transport of this.transports) transport.close();
    this.logger.info('real-time transcoder stopped');
  }
}
