import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { types } from 'mediasoup';
import type { Logger } from '../../logger.js';
import { ffmpegHlsArgs } from './ffmpeg-args.js';
import { FfmpegProcess, type FfmpegExit } from './ffmpeg-process.js';
import { writeOwnerMark } from './leftovers.js';
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
  /**
   * FFmpeg that lists no new segment for this long while media flows in is hung (stopped,
   * blocked on a dead disk): it is killed and restarted. At least three segment lengths.
   */
  stallTimeoutMs: number;
  /** Whether the channel's source is sending media now (a stalled playlist is FFmpeg's fault only then). */
  mediaFlowing: () => boolean;
  /** Asks the broadcaster for a key frame (the channel times it so the sender honours it). */
  requestKeyFrame: (consumer: types.Consumer) => void;
  onPlaylistReady: () => void;
  /** FFmpeg died; `restarting` tells whether another attempt follows. */
  onFfmpegExit: (exit: FfmpegExit, restarting: boolean) => void;
  /** FFmpeg was found hung and killed. */
  onStall?: () => void;
  /** HLS output paused (the reason, for viewers) or resumed (null). */
  onPaused: (reason: string | null) => void;
}

/** FFmpeg that ran this long without dying is considered healthy again (restart budget refilled). */
const HEALTHY_RUN_MS = 60_000;
/** How often a stalled playlist and a broken disk are checked. */
const WATCH_INTERVAL_MS = 1000;
export const DISK_PAUSE_REASON = 'the server cannot write HLS files right now; HLS resumes by itself (real-time viewing is unaffected)';

const LOOPBACK = '127.0.0.1';
/** Video RTP/RTCP, audio RTP/RTCP. */
const PORTS_PER_CHANNEL = 4;

/**
 * mediasoup → FFmpeg → HLS for one channel: two PlainTransports sending RTP to the ports of an SDP
 * FFmpeg reads, paused consumers resumed once FFmpeg listens, and a key frame asked for every
 * segment so that FFmpeg can cut segments of the target length. FFmpeg is watched for exits and
 * for hangs; when the disk refuses writes, HLS pauses (FFmpeg restarts would only burn the
 * budget) until the disk accepts them again.
 */
export class HlsPipeline {
  readonly outDir: string;
  readonly sdpPath: string;
  private basePort: number | null = null;
  private readonly transports: types.PlainTransport[] = [];
  private readonly consumers: types.Consumer[] = [];
  private ffmpeg: FfmpegProcess | null = null;
  private ffmpegStartedAt = 0;
  private livePlaylist: LivePlaylist | null = null;
  private timers: NodeJS.Timeout[] = [];
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private pausedForDisk = false;
  private lastSeenSegment = -1;
  private progressAt = 0;

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

  get paused(): boolean {
    return this.pausedForDisk;
  }

  get videoMode(): 'copy' | 'h264' {
    const codec = this.o.videoProducer.rtpParameters.codecs[0];
    return this.o.videoMode === 'auto' && codec?.mimeType.toLowerCase() === 'video/h264' ? 'copy' : 'h264';
  }

  private get stallTimeoutMs(): number {
    return Math.max(this.o.stallTimeoutMs, 3 * this.o.segmentSeconds * 1000);
  }

  private async run(): Promise<void> {
    const { router } = this.o;
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
    await writeOwnerMark(this.outDir);
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
      setInterval(() => this.watchProgress(), WATCH_INTERVAL_MS),
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
    this.ffmpegStartedAt = startedAt;
    void ffmpeg.exited.then((exit) => this.onFfmpegExit(exit, Date.now() - startedAt));
    this.o.logger.info({ video, basePort: this.basePort, ffmpegPid: ffmpeg.pid, resume }, resume ? 'hls pipeline restarting ffmpeg' : 'hls pipeline starting');
    try {
      await waitForUdpPorts([this.basePort!, this.basePort! + 2], {
        timeoutMs: 5000,
        isCancelled: () => this.stopping !== null || !ffmpeg.running,
      });
    } catch (error) {
      // An FFmpeg that never listens is useless; its exit goes through onFfmpegExit.
      ffmpeg.kill();
      throw error;
    }
  }

  /**
   * An FFmpeg that is alive but lists no new segment while media flows in is hung (SIGSTOP, a
   * blocked write): killing it hands it to the exit path, which restarts it or pauses for the disk.
   */
  private watchProgress(): void {
    const ffmpeg = this.ffmpeg;
    if (this.stopping || this.pausedForDisk || !ffmpeg?.running) return;
    const now = Date.now();
    const newest = this.livePlaylist?.newestSegment ?? -1;
    if (newest !== this.lastSeenSegment) {
      this.lastSeenSegment = newest;
      this.progressAt = now;
      return;
    }
    const quietMs = now - Math.max(this.progressAt, this.ffmpegStartedAt);
    if (quietMs < this.stallTimeoutMs) return;
    // No input, no output: the channel's source watch deals with a silent broadcaster.
    if (!this.o.mediaFlowing()) return void (this.progressAt = now);
    this.o.logger.error({ ffmpegPid: ffmpeg.pid, quietMs, newestSegment: newest }, 'ffmpeg lists no new segments while media flows in; killing it');
    this.o.onStall?.();
    this.progressAt = now;
    ffmpeg.kill();
  }

  private async onFfmpegExit(exit: FfmpegExit, ranMs: number): Promise<void> {
    if (exit.requested || this.stopping) return this.o.onFfmpegExit(exit, false);
    const diskError = await this.diskError();
    if (this.stopping) return;
    if (diskError) return this.pauseForDisk(diskError);
    if (ranMs > HEALTHY_RUN_MS) this.restarts = 0;
    const restarting = this.restarts < this.o.maxRestarts;
    this.o.logger.error({ ...exit, ranMs, restarts: this.restarts, restarting }, 'ffmpeg exited unexpectedly');
    this.o.onFfmpegExit(exit, restarting);
    if (!restarting) return;
    this.restarts++;
    this.scheduleRestart(Math.min(2000, 100 * 2 ** (this.restarts - 1)));
  }

  private scheduleRestart(delayMs: number): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping) return;
      this.launchFfmpeg(true)
        .then(() => this.o.requestKeyFrame(this.consumers[0]!))
        .catch((error: unknown) => {
          // Its exit goes through onFfmpegExit like any other death (restart or give up).
          if (!this.stopping) this.o.logger.error({ err: error }, 'ffmpeg restart failed');
        });
    }, delayMs);
  }

  /** Why the channel's folder cannot be written, or null when it can. */
  private async diskError(): Promise<string | null> {
    const probe = path.join(this.outDir, '.write-probe');
    try {
      await mkdir(this.outDir, { recursive: true });
      await writeFile(probe, '');
      await rm(probe, { force: true });
      return null;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  /**
   * Restarting FFmpeg against a disk that refuses writes only burns the restart budget and would
   * end a broadcast whose WebRTC side is fine: HLS pauses instead, and resumes with the disk.
   */
  private pauseForDisk(error: string): void {
    this.pausedForDisk = true;
    this.o.logger.error({ error }, 'hls paused: cannot write the channel’s folder');
    this.o.onPaused(DISK_PAUSE_REASON);
    const retry = setInterval(() => {
      void this.diskError().then((stillBroken) => {
        if (stillBroken || this.stopping || !this.pausedForDisk) return;
        clearInterval(retry);
        this.pausedForDisk = false;
        this.restarts = 0;
        this.o.logger.info('hls resumes: the channel’s folder is writable again');
        this.o.onPaused(null);
        this.scheduleRestart(0);
      });
    }, WATCH_INTERVAL_MS);
    this.timers.push(retry);
  }

  /**
   * Stops FFmpeg first (so it never waits on a closed input), then frees transports, ports, files.
   * Never rejects: a folder that cannot be removed (I/O error, read-only or immutable files) is
   * logged and left for the next start-up's clean-up; the channel ends all the same.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.timers.forEach((t) => clearTimeout(t));
      if (this.restartTimer) clearTimeout(this.restartTimer);
      this.livePlaylist?.close();
      await this.ffmpeg?.stop();
      for (const transport of this.transports) transport.close();
      if (this.basePort !== null) this.o.ports.release(this.basePort, PORTS_PER_CHANNEL);
      for (const target of [this.sdpPath, this.outDir]) {
        await rm(target, { recursive: true, force: true }).catch((error: unknown) =>
          this.o.logger.error({ err: error, path: target }, 'could not remove HLS files; they are removed at the next start'),
        );
      }
      this.o.logger.info('hls pipeline stopped');
    })();
    return this.stopping;
  }
}
