import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { types } from 'mediasoup';
import type { Config } from '../../config.js';
import type { ChannelMedia, ChannelReader } from '../../channel/reader.js';
import { ffmpegHlsArgs } from './ffmpeg-args.js';
import { FfmpegProcess, type FfmpegExit } from './ffmpeg-process.js';
import { writeOwnerMark } from './leftovers.js';
import { LivePlaylist } from './live-playlist.js';
import type { PortAllocator } from './port-allocator.js';
import { describeConsumerStream, writeSdp } from './sdp.js';
import { waitForUdpPorts } from './udp-listeners.js';

/** Where the pipeline finds what the server provides for every channel. */
export interface HlsRuntime {
  ports: PortAllocator;
  /** Private directory for SDP files (never served over HTTP). */
  runDir: string;
}

/** What the channel wants to hear from its HLS pipeline. */
export interface HlsHooks {
  /** Whether the channel's source is sending media now (a stalled playlist is FFmpeg's fault only then). */
  mediaFlowing: () => boolean;
  onPlaylistReady: () => void;
  /** FFmpeg died; `restarting` tells whether another attempt follows. */
  onFfmpegExit: (exit: FfmpegExit, restarting: boolean) => void;
  /** FFmpeg was found hung and killed. */
  onStall: () => void;
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
export class HlsPipeline implements ChannelReader {
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

  private readonly audioProducer: types.Producer;
  private readonly videoProducer: types.Producer;

  private constructor(
    private readonly media: ChannelMedia,
    private readonly config: Config['hls'],
    private readonly runtime: HlsRuntime,
    private readonly hooks: HlsHooks,
  ) {
    this.outDir = path.join(config.dir, media.channelId);
    this.sdpPath = path.join(runtime.runDir, `${media.channelId}.sdp`);
    const track = (kind: 'audio' | 'video') => {
      const producer = media.tracks().find((p) => p.kind === kind);
      if (!producer) throw new Error(`the HLS pipeline needs a ${kind} track`);
      return producer;
    };
    this.audioProducer = track('audio');
    this.videoProducer = track('video');
  }

  /** Starts FFmpeg on the channel's audio and video tracks; the caller attaches it as a reader. */
  static async start(media: ChannelMedia, config: Config['hls'], runtime: HlsRuntime, hooks: HlsHooks): Promise<HlsPipeline> {
    const pipeline = new HlsPipeline(media, config, runtime, hooks);
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
    const codec = this.videoProducer.rtpParameters.codecs[0];
    return this.config.videoMode === 'auto' && codec?.mimeType.toLowerCase() === 'video/h264' ? 'copy' : 'h264';
  }

  private get stallTimeoutMs(): number {
    return Math.max(this.config.stallTimeoutMs, 3 * this.config.segmentSeconds * 1000);
  }

  private async run(): Promise<void> {
    const { router } = this.media;
    const base = await this.runtime.ports.allocate(PORTS_PER_CHANNEL);
    this.basePort = base;
    const legs = [
      { producer: this.videoProducer, kind: 'video' as const, port: base },
      { producer: this.audioProducer, kind: 'audio' as const, port: base + 2 },
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
    await mkdir(this.runtime.runDir, { recursive: true });
    this.livePlaylist = new LivePlaylist(this.outDir);
    this.livePlaylist.onReady(() => {
      if (this.stopping) return;
      this.media.logger.info('hls playlist ready');
      this.hooks.onPlaylistReady();
    });
    await writeFile(this.sdpPath, writeSdp(`livecast ${this.media.channelId}`, LOOPBACK, streams));

    await this.launchFfmpeg(false);
    await Promise.all(this.consumers.map((c) => c.resume()));
    const videoConsumer = this.consumers[0]!;
    this.media.requestKeyFrame(videoConsumer);
    // Browsers send a key frame only when asked (Chromium: 2 in 2 minutes); FFmpeg can only cut a
    // segment at a key frame, so asking once per segment keeps segments at the target length.
    this.timers.push(
      setInterval(() => {
        if (!videoConsumer.closed) this.media.requestKeyFrame(videoConsumer);
      }, this.config.segmentSeconds * 1000),
      setInterval(() => this.watchProgress(), WATCH_INTERVAL_MS),
    );
  }

  /** Starts FFmpeg and waits until it listens on its RTP ports (packets before that are lost). */
  private async launchFfmpeg(resume: boolean): Promise<void> {
    const video = this.videoMode;
    const ffmpeg = new FfmpegProcess(
      this.config.ffmpegPath,
      ffmpegHlsArgs({ sdpPath: this.sdpPath, outDir: this.outDir, segmentSeconds: this.config.segmentSeconds, listSize: this.config.listSize, video, resume }),
      this.media.logger,
    );
    this.ffmpeg = ffmpeg;
    const startedAt = Date.now();
    this.ffmpegStartedAt = startedAt;
    void ffmpeg.exited.then((exit) => this.onFfmpegExit(exit, Date.now() - startedAt));
    this.media.logger.info({ video, basePort: this.basePort, ffmpegPid: ffmpeg.pid, resume }, resume ? 'hls pipeline restarting ffmpeg' : 'hls pipeline starting');
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
    if (!this.hooks.mediaFlowing()) return void (this.progressAt = now);
    this.media.logger.error({ ffmpegPid: ffmpeg.pid, quietMs, newestSegment: newest }, 'ffmpeg lists no new segments while media flows in; killing it');
    this.hooks.onStall();
    this.progressAt = now;
    ffmpeg.kill();
  }

  private async onFfmpegExit(exit: FfmpegExit, ranMs: number): Promise<void> {
    if (exit.requested || this.stopping) return this.hooks.onFfmpegExit(exit, false);
    const diskError = await this.diskError();
    if (this.stopping) return;
    if (diskError) return this.pauseForDisk(diskError);
    if (ranMs > HEALTHY_RUN_MS) this.restarts = 0;
    const restarting = this.restarts < this.config.maxRestarts;
    this.media.logger.error({ ...exit, ranMs, restarts: this.restarts, restarting }, 'ffmpeg exited unexpectedly');
    this.hooks.onFfmpegExit(exit, restarting);
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
        .then(() => this.media.requestKeyFrame(this.consumers[0]!))
        .catch((error: unknown) => {
          // Its exit goes through onFfmpegExit like any other death (restart or give up).
          if (!this.stopping) this.media.logger.error({ err: error }, 'ffmpeg restart failed');
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
    this.media.logger.error({ error }, 'hls paused: cannot write the channel’s folder');
    this.hooks.onPaused(DISK_PAUSE_REASON);
    const retry = setInterval(() => {
      void this.diskError().then((stillBroken) => {
        if (stillBroken || this.stopping || !this.pausedForDisk) return;
        clearInterval(retry);
        this.pausedForDisk = false;
        this.restarts = 0;
        this.media.logger.info('hls resumes: the channel’s folder is writable again');
        this.hooks.onPaused(null);
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
      if (this.basePort !== null) this.runtime.ports.release(this.basePort, PORTS_PER_CHANNEL);
      for (const target of [this.sdpPath, this.outDir]) {
        await rm(target, { recursive: true, force: true }).catch((error: unknown) =>
          this.media.logger.error({ err: error, path: target }, 'could not remove HLS files; they are removed at the next start'),
        );
      }
      this.media.logger.info('hls pipeline stopped');
    })();
    return this.stopping;
  }

  close(): Promise<void> {
    return this.stop();
  }
}
