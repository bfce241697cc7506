import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { types } from 'mediasoup';
import type { Logger } from '../../logger.js';
import { ffmpegHlsArgs } from './ffmpeg-args.js';
import { FfmpegProcess, type FfmpegExit } from './ffmpeg-process.js';
import { LivePlaylist } from './live-playlist.js';
import type { PortAllocator } from './port-allocator.js';
import { describeConsumerStream, writeSdp } from './sdp.js';
import { waitForUdpPorts } from './udp-listeners.js';

export interface HlsPipelineOptions {
  channelId: string;
  router: types.Router;
  audioProducer: types.Producer;
  videoProducer: types.Producer;
  ports: PortAllocator;
  logger: Logger;
  /** hls/ root; this channel writes into hls/<channelId>/. */
  hlsRoot: string;
  /** Private directory for SDP files (never served over HTTP). */
  runDir: string;
  ffmpegPath: string;
  segmentSeconds: number;
  listSize: number;
  /** `transcode` re-encodes H264 too (the cost benchmark's baseline). */
  videoMode: 'auto' | 'transcode';
  /** Unexpected FFmpeg exits are followed by a restart, at most this many in a row. */
  maxRestarts: number;
  /** Asks the broadcaster for a key frame (the channel times it so the sender honours it). */
  requestKeyFrame: (consumer: types.Consumer) => void;
  onPlaylistReady: () => void;
  /** FFmpeg died; `restarting` tells whether another attempt follows. */
  onFfmpegExit: (exit: FfmpegExit, restarting: boolean) => void;
}

/** FFmpeg that ran this long without dying is considered healthy again (restart budget refilled). */
const HEALTHY_RUN_MS = 60_000;

const LOOPBACK = '127.0.0.1';
/** Video RTP/RTCP, audio RTP/RTCP. */
const PORTS_PER_CHANNEL = 4;

/**
 * mediasoup → FFmpeg → HLS for one channel: two PlainTransports sending RTP to the ports of an SDP
 * FFmpeg reads, paused consumers resumed once FFmpeg listens, and a key frame asked for every
 * segment so that FFmpeg can cut segments of the target length.
 */
export class HlsPipeline {
  readonly outDir: string;
  readonly sdpPath: string;
  private basePort: number | null = null;
  private readonly transports: types.PlainTransport[] = [];
  private readonly consumers: types.Consumer[] = [];
  private ffmpeg: FfmpegProcess | null = null;
  private livePlaylist: LivePlaylist | null = null;
  private timers: NodeJS.Timeout[] = [];
  private restarts = 0;
  private stopping: Promise<void> | null = null;

  private constructor(private readonly o: HlsPipelineOptions) {
    this.outDir = path.join(o.hlsRoot, o.channelId);
    this.sdpPath = path.join(o.runDir, `${o.channelId}.sdp`);
  }

  static async start(options: HlsPipelineOptions): Promise<HlsPipeline> {
    const pipeline = new HlsPipeline(options);
    try {
      await pipeline.run();
    } catch (error) {
      await pipeline.stop();
      throw error;
    }
    return pipeline;
  }

  /** The channel's playlist as HTTP serves it; null until the pipeline has its folder. */
  get playlist(): LivePlaylist | null {
    return this.livePlaylist;
  }

  /** UDP ports this pipeline holds: FFmpeg's RTP/RTCP and the PlainTransports' own sockets. */
  get udpPorts(): number[] {
    const ffmpegPorts = this.basePort === null ? [] : [0, 1, 2, 3].map((i) => this.basePort! + i);
    return [...ffmpegPorts, ...this.transports.flatMap((t) => [t.tuple.localPort, t.rtcpTuple?.localPort ?? []].flat())];
  }

  get ffmpegPid(): number | undefined {
    return this.ffmpeg?.pid;
  }

  get videoMode(): 'copy' | 'h264' {
    const codec = this.o.videoProducer.rtpParameters.codecs[0];
    return this.o.videoMode === 'auto' && codec?.mimeType.toLowerCase() === 'video/h264' ? 'copy' : 'h264';
  }

  private async run(): Promise<void> {
    const { router, logger } = this.o;
    const base = await this.o.ports.allocate(PORTS_PER_CHANNEL);
    this.basePort = base;
    const legs = [
      { producer: this.o.videoProducer, kind: 'video' as const, port: base },
      { producer: this.o.audioProducer, kind: 'audio' as const, port: base + 2 },
    ];
    const streams = [];
    for (const leg of legs) {
      const transport = await router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: LOOPBACK },
        rtcpMux: false,
        comedia: false,
      });
      this.transports.push(transport);
      await transport.connect({ ip: LOOPBACK, port: leg.port, rtcpPort: leg.port + 1 });
      const consumer = await transport.consume({
        producerId: leg.producer.id,
        rtpCapabilities: router.rtpCapabilities,
        paused: true,
      });
      this.consumers.push(consumer);
      streams.push(describeConsumerStream(leg.kind, leg.port, consumer.rtpParameters));
    }

    await mkdir(this.outDir, { recursive: true });
    await mkdir(this.o.runDir, { recursive: true });
    this.livePlaylist = new LivePlaylist(this.outDir);
    this.livePlaylist.onReady(() => {
      if (this.stopping) return;
      this.o.logger.info('hls playlist ready');
      this.o.onPlaylistReady();
    });
    await writeFile(this.sdpPath, writeSdp(`livecast ${this.o.channelId}`, LOOPBACK, streams));

    await this.launchFfmpeg(false);
    await Promise.all(this.consumers.map((c) => c.resume()));
    const videoConsumer = this.consumers[0]!;
    this.o.requestKeyFrame(videoConsumer);
    // Browsers send a key frame only when asked (Chromium: 2 in 2 minutes); FFmpeg can only cut a
    // segment at a key frame, so asking once per segment keeps segments at the target length.
    this.timers.push(
      setInterval(() => {
        if (!videoConsumer.closed) this.o.requestKeyFrame(videoConsumer);
      }, this.o.segmentSeconds * 1000),
    );
  }

  /** Starts FFmpeg and waits until it listens on its RTP ports (packets before that are lost). */
  private async launchFfmpeg(resume: boolean): Promise<void> {
    const video = this.videoMode;
    const ffmpeg = new FfmpegProcess(
      this.o.ffmpegPath,
      ffmpegHlsArgs({ sdpPath: this.sdpPath, outDir: this.outDir, segmentSeconds: this.o.segmentSeconds, listSize: this.o.listSize, video, resume }),
      this.o.logger,
    );
    this.ffmpeg = ffmpeg;
    const startedAt = Date.now();
    void ffmpeg.exited.then((exit) => this.onFfmpegExit(exit, Date.now() - startedAt));
    this.o.logger.info({ video, basePort: this.basePort, ffmpegPid: ffmpeg.pid, resume }, resume ? 'hls pipeline restarting ffmpeg' : 'hls pipeline starting');
    await waitForUdpPorts([this.basePort!, this.basePort! + 2], {
      timeoutMs: 5000,
      isCancelled: () => this.stopping !== null || !ffmpeg.running,
    });
  }

  private onFfmpegExit(exit: FfmpegExit, ranMs: number): void {
    if (exit.requested || this.stopping) return this.o.onFfmpegExit(exit, false);
    if (ranMs > HEALTHY_RUN_MS) this.restarts = 0;
    const restarting = this.restarts < this.o.maxRestarts;
    this.o.logger.error({ ...exit, ranMs, restarts: this.restarts, restarting }, 'ffmpeg exited unexpectedly');
    this.o.onFfmpegExit(exit, restarting);
    if (!restarting) return;
    this.restarts++;
    const delayMs = Math.min(2000, 100 * 2 ** (this.restarts - 1));
    const timer = setTimeout(() => {
      this.launchFfmpeg(true)
        .then(() => this.o.requestKeyFrame(this.consumers[0]!))
        .catch((error: unknown) => {
          if (this.stopping) return;
          this.o.logger.error({ err: error }, 'ffmpeg restart failed');
          this.o.onFfmpegExit({ code: null, signal: null, requested: false }, false);
        });
    }, delayMs);
    this.timers.push(timer);
  }

  /** Stops FFmpeg first (so it never waits on a closed input), then frees transports, ports, files. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.timers.forEach((t) => clearTimeout(t));
      this.livePlaylist?.close();
      await this.ffmpeg?.stop();
      for (const transport of this.transports) transport.close();
      if (this.basePort !== null) this.o.ports.release(this.basePort, PORTS_PER_CHANNEL);
      await rm(this.sdpPath, { force: true });
      await rm(this.outDir, { recursive: true, force: true });
      this.o.logger.info('hls pipeline stopped');
    })();
    return this.stopping;
  }
}
