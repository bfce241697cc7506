import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { types } from 'mediasoup';
import type { Config } from '../../config.js';
import type { ChannelMedia, ChannelReader } from '../../channel/reader.js';
import type { SenderClocks } from '../../channel/sender-clocks.js';
import type { DrainingStreams } from './draining-streams.js';
import { ffmpegFmp4Args, LADDER_RUNGS } from './ffmpeg-args.js';
import { FfmpegProcess, type FfmpegExit } from './ffmpeg-process.js';
import { fmp4Feed } from './fmp4-feed.js';
import type { TrackInfo } from './fmp4.js';
import { LlPackager } from './ll-packager.js';
import { LayerFollower } from './layer-hold.js';
import { LlHlsStream } from './ll-stream.js';
import type { PortAllocator } from './port-allocator.js';
import { HlsRenditions } from './renditions.js';
import { describeConsumerStream, writeSdp } from './sdp.js';
import { SenderReportRelay, type ClockLeg } from './sender-report-relay.js';
import { waitForUdpPorts } from './udp-listeners.js';

/** The channel as the pipeline reads it: its media, and the source's clocks for A/V sync. */
export type HlsMedia = ChannelMedia & { readonly senderClocks: SenderClocks };

/** The SSRC of a single-encoding RTP stream (a simulcast source has several: null). */
function singleSsrc(parameters: types.RtpParameters): number | null {
  const encodings = parameters.encodings ?? [];
  return encodings.length === 1 ? (encodings[0]!.ssrc ?? null) : null;
}

/** The SSRC a simulcast source sends `layer` under (rid-based simulcast: learned from its stats as packets arrive), or null. */
async function layerSsrc(producer: types.Producer, layer: number): Promise<number | null> {
  const encoding = producer.rtpParameters.encodings?.[layer];
  if (!encoding) return null;
  if (encoding.ssrc) return encoding.ssrc;
  return (await producer.getStats()).find((s) => s.rid === encoding.rid)?.ssrc ?? null;
}

/**
 * The layer a new simulcast consumer will send first, with its SSRC: the top one (mediasoup's
 * default preference) once the source sends it, else, after `timeoutMs`, the highest it sends.
 */
async function firstLayer(producer: types.Producer, timeoutMs: number, cancelled: () => boolean): Promise<{ layer: number; ssrc: number } | null> {
  const count = producer.rtpParameters.encodings?.length ?? 0;
  const started = Date.now();
  while (count > 0 && !producer.closed && !cancelled()) {
    const waited = Date.now() - started > timeoutMs;
    for (let layer = count - 1; layer >= 0; layer--) {
      const ssrc = await layerSsrc(producer, layer);
      if (ssrc !== null) return { layer, ssrc };
      if (!waited) break;
    }
    if (waited) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return null;
}

/**
 * Resolves when `consumer` sends its first key frame from now on, or after `timeoutMs` (a source
 * that sends no video, or no key frame when asked), or when `cancelled`; never rejects. The
 * consumer's 'keyframe' trace must be on, and this called before it resumes: a key frame sent
 * earlier is missed, and the wait runs to its end.
 */
async function firstKeyFrameSent(consumer: types.Consumer, timeoutMs: number, cancelled: () => boolean): Promise<void> {
  let settle = (): void => undefined;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  const onTrace = (trace: types.ConsumerTraceEventData) => {
    if (trace.type === 'keyframe' && trace.direction === 'out') settle();
  };
  const timer = setTimeout(settle, timeoutMs);
  const watch = setInterval(() => (cancelled() || consumer.closed) && settle(), 50);
  consumer.on('trace', onTrace);
  try {
    await settled;
  } finally {
    clearTimeout(timer);
    clearInterval(watch);
    consumer.off('trace', onTrace);
  }
}

/**
 * The layers a simulcast source sends, low to high, with their SSRCs: every layer it declares
 * once it sends them all, else, after `timeoutMs`, those it sends by then.
 */
async function sentLayers(producer: types.Producer, timeoutMs: number, cancelled: () => boolean): Promise<{ layer: number; ssrc: number }[]> {
  const count = producer.rtpParameters.encodings?.length ?? 0;
  const started = Date.now();
  for (;;) {
    const sent: { layer: number; ssrc: number }[] = [];
    for (let layer = 0; layer < count; layer++) {
      const ssrc = await layerSsrc(producer, layer);
      if (ssrc !== null) sent.push({ layer, ssrc });
    }
    if (sent.length === count || Date.now() - started > timeoutMs || producer.closed || cancelled()) return sent;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A simulcast layer HLS passes through as a rendition of its own (the top one is the pipeline's own stream). */
interface LowerRendition {
  layer: number;
  packager: LlPackager;
  stream: LlHlsStream;
  tracks: TrackInfo[] | null;
}

/** Where the pipeline finds what the server provides for every channel. */
export interface HlsRuntime {
  ports: PortAllocator;
  /** Private directory for SDP files (never served over HTTP). */
  runDir: string;
  /** Ended channels' streams, served a while longer so that players drain. */
  draining: DrainingStreams;
}

/** What the channel wants to hear from its HLS pipeline. */
export interface HlsHooks {
  /** Whether the channel's source is sending media now (a stalled stream is FFmpeg's fault only then). */
  mediaFlowing: () => boolean;
  onPlaylistReady: () => void;
  /** FFmpeg died; `restarting` tells whether another attempt follows. */
  onFfmpegExit: (exit: FfmpegExit, restarting: boolean) => void;
  /** FFmpeg was found hung and killed. */
  onStall: () => void;
  /** The channel ended while the pipeline was starting (stop waiting for its clocks). */
  channelEnded: () => boolean;
}

/** FFmpeg that ran this long without dying is considered healthy again (restart budget refilled). */
const HEALTHY_RUN_MS = 60_000;
/** How often a stalled FFmpeg is checked for. */
const WATCH_INTERVAL_MS = 1000;

const FRAGMENT_MICROS = 25_000;
/** Audio waits at most this long (ms) for video's first key frame before it goes to FFmpeg (see resumeMedia). */
const FIRST_KEY_FRAME_WAIT_MS = 1500;
const LOOPBACK = '127.0.0.1';
/** RTP and RTCP for each stream FFmpeg reads. */
const PORTS_PER_STREAM = 2;

/**
 * mediasoup → FFmpeg → LL-HLS for one channel: two PlainTransports send RTP to the ports of an
 * SDP FFmpeg reads; paused consumers are resumed once FFmpeg listens; FFmpeg remuxes (or, for
 * VP8, transcodes) into fragmented MP4 on its standard output, which the server packages into
 * LL-HLS parts and segments held in memory (LlPackager, LlHlsStream). A key frame is asked for
 * every segment target so that segments start at key frames. FFmpeg is watched for exits and
 * hangs and restarted (a new init segment and a discontinuity); the stream outlives it.
 */
export class HlsPipeline implements ChannelReader {
  readonly sdpPath: string;
  readonly packager: LlPackager;
  readonly stream: LlHlsStream;
  private basePort: number | null = null;
  private portCount = 0;
  /** Simulcast layers passed through as renditions, below the top one (see startRenditions). */
  private lower: LowerRendition[] = [];
  private topTracks: TrackInfo[] | null = null;
  /** One per video stream FFmpeg reads (several: one per rendition). */
  private followers: LayerFollower[] = [];
  private readonly transports: types.PlainTransport[] = [];
  private relay: SenderReportRelay | null = null;
  private readonly consumers: types.Consumer[] = [];
  private ffmpeg: FfmpegProcess | null = null;
  private ffmpegStartedAt = 0;
  private mediaResumedAt = 0;
  private lastFragmentAt = 0;
  private timers: NodeJS.Timeout[] = [];
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  /** FFmpeg is being replaced on purpose (a new simulcast layer): its exit is no failure. */
  private replacing = false;
  private clockLegs: ClockLeg[] = [];
  /** Where the renditions below the top one come from (when there are any). */
  private renditionKind: 'layers' | 'ladder' = 'layers';

  private readonly audioProducer: types.Producer;
  private readonly videoProducer: types.Producer;

  private constructor(
    private readonly media: HlsMedia,
    private readonly config: Config['hls'],
    private readonly runtime: HlsRuntime,
    private readonly hooks: HlsHooks,
  ) {
    this.sdpPath = path.join(runtime.runDir, `${media.channelId}.sdp`);
    const track = (kind: 'audio' | 'video') => {
      const producer = media.tracks().find((p) => p.kind === kind);
      if (!producer) throw new Error(`the HLS pipeline needs a ${kind} track`);
      return producer;
    };
    this.audioProducer = track('audio');
    this.videoProducer = track('video');
    this.packager = new LlPackager({ partTarget: config.partSeconds, segmentTarget: config.segmentSeconds, now: Date.now, onKeyFrameWanted: () => this.requestKeyFrames() });
    this.stream = new LlHlsStream(this.packager);
    this.stream.whenReady(() => {
      if (this.stopping) return;
      this.media.logger.info({ partTarget: this.packager.partTarget, targetDuration: this.packager.targetDuration }, 'hls playlist ready');
      this.hooks.onPlaylistReady();
    });
  }

  /** Starts FFmpeg on the channel's audio and video tracks; the caller attaches it as a reader. */
  static async start(media: HlsMedia, config: Config['hls'], runtime: HlsRuntime, hooks: HlsHooks): Promise<HlsPipeline> {
    const pipeline = new HlsPipeline(media, config, runtime, hooks);
    try {
      await pipeline.run();
    } catch (error) {
      await pipeline.stop();
      throw error;
    }
    return pipeline;
  }

  /** UDP ports this pipeline holds: FFmpeg's RTP/RTCP and the PlainTransports' own sockets. */
  get udpPorts(): number[] {
    return [...this.ffmpegPorts, ...(this.relay ? [this.relay.port] : []), ...this.transports.flatMap((t) => [t.tuple.localPort, t.rtcpTuple?.localPort ?? []].flat())];
  }

  /** FFmpeg's RTP and RTCP ports, one pair per stream. */
  private get ffmpegPorts(): number[] {
    return this.basePort === null ? [] : Array.from({ length: this.portCount }, (_, i) => this.basePort! + i);
  }

  get ffmpegPid(): number | undefined {
    return this.ffmpeg?.pid;
  }

  get videoMode(): 'copy' | 'h264' {
    const codec = this.videoProducer.rtpParameters.codecs[0];
    return this.config.videoMode === 'auto' && codec?.mimeType.toLowerCase() === 'video/h264' ? 'copy' : 'h264';
  }

  private get stallTimeoutMs(): number {
    return Math.max(this.config.stallTimeoutMs, 3 * this.packager.targetDuration * 1000);
  }

  /** The video consumers FFmpeg reads, low to high (one unless renditions are passed through). */
  private get videoConsumers(): types.Consumer[] {
    return this.consumers.filter((c) => c.kind === 'video');
  }

  private requestKeyFrames(): void {
    // Every layer at once: each rendition's segments can then start with a key frame of its own.
    for (const consumer of this.videoConsumers) if (!consumer.closed) this.media.requestKeyFrame(consumer);
  }

  private async run(): Promise<void> {
    const { router } = this.media;
    const simulcast = this.videoProducer.type === 'simulcast';
    // Renditions need every layer as it is (copied): a transcoded source has one.
    const layers =
      simulcast && this.config.renditions === 'layers' && this.videoMode === 'copy'
        ? await sentLayers(this.videoProducer, this.config.syncWaitMs, () => this.stopping !== null || this.hooks.channelEnded())
        : [];
    const renditions = layers.length >= 2 ? layers : null;
    // A one-layer source gets its renditions from a transcoded ladder if the config asks.
    if (!simulcast && this.config.ladder && this.videoMode === 'copy') this.renditionKind = 'ladder';
    const videoStreams = renditions ?? [null];
    this.portCount = PORTS_PER_STREAM * (videoStreams.length + 1);
    const base = await this.runtime.ports.allocate(this.portCount);
    this.basePort = base;
    const legs = [
      ...videoStreams.map((layer, i) => ({ producer: this.videoProducer, kind: 'video' as const, port: base + PORTS_PER_STREAM * i, layer })),
      { producer: this.audioProducer, kind: 'audio' as const, port: base + PORTS_PER_STREAM * videoStreams.length, layer: null },
    ];
    const streams = [];
    const relay = await SenderReportRelay.open(this.media.senderClocks, this.media.logger);
    this.relay = relay;
    for (const leg of legs) {
      const transport = await router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: LOOPBACK },
        rtcpMux: false,
        comedia: false,
      });
      this.transports.push(transport);
      // mediasoup's reports go to the relay, which hands FFmpeg the source's (see SenderReportRelay).
      await transport.connect({ ip: LOOPBACK, port: leg.port, rtcpPort: relay.port });
      const consumer = await transport.consume({
        producerId: leg.producer.id,
        rtpCapabilities: router.rtpCapabilities,
        paused: true,
        ...(leg.layer ? { preferredLayers: { spatialLayer: leg.layer.layer } } : {}),
      });
      this.consumers.push(consumer);
      // On for the consumer's life: resumeMedia waits for video's first key frame at every (re)start.
      if (leg.kind === 'video') await consumer.enableTraceEvent(['keyframe']);
      streams.push(describeConsumerStream(leg.kind, leg.port, consumer.rtpParameters));
    }
    // A simulcast consumer's timestamps are those of the first layer it sends, mapped onto the
    // others by their sender reports when it switches (mediasoup's "RTP timestamp reference"):
    // that layer's reports date the video for every layer it may carry later. Without renditions
    // it is the top layer once the source sends it (else the highest it sends); a rendition's
    // consumer starts on its own layer. If a consumer starts on another, onFirst corrects it.
    const videos = this.videoConsumers;
    let videoSsrcs: (number | null)[] = [singleSsrc(this.videoProducer.rtpParameters)];
    const expectedLayers: (number | null)[] = renditions ? renditions.map((r) => r.layer) : [null];
    if (renditions) videoSsrcs = renditions.map((r) => r.ssrc);
    else if (videos[0]!.type === 'simulcast') {
      const first = await firstLayer(this.videoProducer, this.config.syncWaitMs, () => this.stopping !== null || this.hooks.channelEnded());
      expectedLayers[0] = first?.layer ?? null;
      videoSsrcs = [first?.ssrc ?? null];
    }
    this.clockLegs = legs.map((leg, i) => ({
      kind: leg.kind,
      sourceSsrc: leg.kind === 'video' ? videoSsrcs[i]! : singleSsrc(leg.producer.rtpParameters),
      consumerSsrc: singleSsrc(this.consumers[i]!.rtpParameters) ?? 0,
      rtcpPort: leg.port + 1,
      clockRate: this.consumers[i]!.rtpParameters.codecs[0]?.clockRate ?? (leg.kind === 'video' ? 90_000 : 48_000),
    }));
    relay.setLegs(this.clockLegs);
    if (renditions) this.startRenditions(renditions.map((r) => r.layer), 'one per simulcast layer, passed through');
    else if (this.renditionKind === 'ladder') this.startRenditions(Array.from({ length: LADDER_RUNGS }, (_, rung) => rung), 'a transcoded ladder below the source, copied as the top one');

    await mkdir(this.runtime.runDir, { recursive: true });
    await writeFile(this.sdpPath, writeSdp(`livecast ${this.media.channelId}`, LOOPBACK, streams));

    await this.launchFfmpeg(false);
    await this.primeFfmpeg();
    // Before the resume: the consumers report their first layer then.
    videos.forEach((consumer, i) => {
      if (consumer.type !== 'simulcast') return;
      const own = renditions ? renditions[i]!.layer : (this.videoProducer.rtpParameters.encodings?.length ?? 1) - 1;
      this.followers.push(
        new LayerFollower(consumer, own, {
          onFirst: (layer) => void this.onFirstLayer(i, expectedLayers, layer),
          onSwitch: (from, to, holdMs) => this.onLayerSwitch(from, to, holdMs),
        }),
      );
    });
    await this.resumeMedia();
    this.requestKeyFrames();
    // Browsers send a key frame only when asked (Chromium: 2 in 2 minutes); segments start at
    // key frames, so asking once per segment target keeps segments at that length.
    this.timers.push(
      setInterval(() => this.requestKeyFrames(), this.config.segmentSeconds * 1000),
      setInterval(() => this.watchProgress(), WATCH_INTERVAL_MS),
    );
  }

  /**
   * Each simulcast layer below the top one becomes a rendition: its own output of the same
   * FFmpeg (so the same timeline), packaged following the top one's packager, so that the same
   * segment and part numbers start at the same media time in every rendition. The channel's
   * stream (the top layer's) then answers for the multivariant playlist.
   */
  private startRenditions(layers: number[], what: string): void {
    const top = layers.at(-1)!;
    this.lower = layers.slice(0, -1).map((layer) => {
      const packager = new LlPackager({ partTarget: this.config.partSeconds, segmentTarget: this.config.segmentSeconds, now: Date.now, follow: this.packager });
      return { layer, packager, stream: new LlHlsStream(packager), tracks: null };
    });
    HlsRenditions.join([
      ...this.lower.map((r) => ({ name: `v${r.layer}`, stream: r.stream, tracks: () => r.tracks })),
      { name: `v${top}`, stream: this.stream, tracks: () => this.topTracks },
    ]);
    this.media.logger.info({ layers }, `hls renditions: ${what}`);
  }

  /**
   * A simulcast source reaches HLS as its top layer (mediasoup's default preference), or the
   * highest below it that the broadcaster sends now (its uplink or its CPU could not carry the
   * top one). Another layer is another frame size, which an init segment cannot follow: a switch
   * replaces FFmpeg, so the stream gets a new init segment after a discontinuity and players
   * reset their decoder cleanly. LayerFollower holds a lower layer a while after a drop.
   */
  private onLayerSwitch(from: number, to: number, holdMs: number | null): void {
    if (this.stopping) return;
    this.media.logger.info({ from, to, holdMs: holdMs ?? undefined }, 'the simulcast layer HLS carries changed; new FFmpeg timeline');
    this.replaceFfmpeg();
  }

  /** A video consumer started on another layer than the one whose reports FFmpeg got: date its video by that layer, from a new FFmpeg. */
  private async onFirstLayer(index: number, expected: (number | null)[], layer: number): Promise<void> {
    if (layer === expected[index] || this.stopping) return;
    const ssrc = await layerSsrc(this.videoProducer, layer);
    if (this.stopping) return;
    this.media.logger.info({ expected: expected[index], layer, ssrc }, 'hls video starts on another simulcast layer; dating it by that layer');
    expected[index] = layer;
    // The video legs come first, in the consumers' order.
    this.clockLegs = this.clockLegs.map((leg, i) => (i === index ? { ...leg, sourceSsrc: ssrc } : leg));
    this.relay?.setLegs(this.clockLegs);
    this.replaceFfmpeg();
  }

  private replaceFfmpeg(): void {
    if (this.stopping || !this.ffmpeg?.running) return;
    this.replacing = true;
    this.ffmpeg.kill();
  }

  /**
   * Starts FFmpeg and waits until it listens on its RTP and RTCP ports: RTP sent before that is
   * lost, and so is the sender report that primes a stream (SenderReportRelay). FFmpeg binds each
   * stream's RTCP port just after its RTP port; a report sent in between is dropped, and that
   * stream is then dated by its first packet until the source's next report, seconds later, when
   * it jumps (a hole in the audio).
   */
  private async launchFfmpeg(restart: boolean): Promise<void> {
    const video = this.videoMode;
    const output = this.outputReader(this.packager, (tracks) => (this.topTracks = tracks), true);
    const lowerOutputs = this.lower.map((r) => this.outputReader(r.packager, (tracks) => (r.tracks = tracks), false));
    const ffmpeg: FfmpegProcess = new FfmpegProcess(
      this.config.ffmpegPath,
      ffmpegFmp4Args({
        sdpPath: this.sdpPath,
        // Shorter than a video frame (up to 40 fps), longer than an AAC frame (21 ms): at most one
        // video frame per fragment, so that parts can be cut at any frame.
        fragmentMicros: FRAGMENT_MICROS,
        keyFrameSeconds: this.config.segmentSeconds,
        video,
        ...(this.lower.length > 0 ? { renditions: { kind: this.renditionKind, count: this.lower.length + 1 } } : {}),
      }),
      this.media.logger,
      (chunk) => {
        if (this.ffmpeg === ffmpeg) output(chunk);
      },
      {
        moreOutputs: lowerOutputs.map((lowerOutput) => (chunk: Buffer) => {
          if (this.ffmpeg === ffmpeg) lowerOutput(chunk);
        }),
      },
    );
    this.ffmpeg = ffmpeg;
    const startedAt = Date.now();
    this.ffmpegStartedAt = startedAt;
    void ffmpeg.exited.then((exit) => this.onFfmpegExit(exit, Date.now() - startedAt));
    this.media.logger.info({ video, basePort: this.basePort, ffmpegPid: ffmpeg.pid, restart }, restart ? 'hls pipeline restarting ffmpeg' : 'hls pipeline starting');
    try {
      await waitForUdpPorts(this.ffmpegPorts, {
        timeoutMs: 5000,
        isCancelled: () => this.stopping !== null || !ffmpeg.running,
      });
    } catch (error) {
      // An FFmpeg that never listens is useless; its exit goes through onFfmpegExit.
      ffmpeg.kill();
      throw error;
    }
  }

  /** A new FFmpeg on the same ports; RTP must not reach it before the sender reports do (see SenderReportRelay). */
  private async restartFfmpeg(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.pause()));
    // stop() may have run meanwhile: an FFmpeg started now would outlive the pipeline.
    if (this.stopping) return;
    await this.launchFfmpeg(true);
    // This FFmpeg may itself be replaced while it waits for the clocks (a layer switch, a stall):
    // then the newer restart resumes the media, not this one.
    const ffmpeg = this.ffmpeg;
    await this.primeFfmpeg();
    if (this.stopping || this.ffmpeg !== ffmpeg) return;
    await this.resumeMedia();
    this.requestKeyFrames();
  }

  /**
   * Video first, audio once every video consumer's first key frame has gone to FFmpeg (or
   * FIRST_KEY_FRAME_WAIT_MS passed): a video consumer sends nothing until the source's next key
   * frame, while audio would flow at once. FFmpeg writes no edit list, so it moved the late first
   * video frame back to the audio's start and lengthened it by the wait: 28–61 ms from a browser,
   * 0.4 s from a source whose key frames come every 0.5 s, and over 0.5 s on a loaded machine,
   * which the packager takes for a frozen sender (a one-frame first segment, then a
   * discontinuity). The audio dropped meanwhile (the consumer is paused) precedes the first key
   * frame, where HLS starts anyway.
   */
  private async resumeMedia(): Promise<void> {
    // A restart while this waits (FFmpeg died or was replaced) pauses everything and resumes it
    // itself, once the new FFmpeg is primed: this one must not let audio through before that.
    const ffmpeg = this.ffmpeg;
    const stale = () => this.stopping !== null || this.ffmpeg !== ffmpeg;
    const video = this.videoConsumers;
    const keyFrames = Promise.all(video.map((c) => firstKeyFrameSent(c, FIRST_KEY_FRAME_WAIT_MS, stale)));
    await Promise.all(video.map((c) => c.resume()));
    await keyFrames;
    if (stale()) return;
    await Promise.all(this.consumers.filter((c) => c.kind === 'audio').map((c) => c.resume()));
    // FFmpeg is judged on its output from now on, not from its launch (it waited for the clocks).
    this.mediaResumedAt = Date.now();
  }

  private async primeFfmpeg(): Promise<void> {
    const ffmpeg = this.ffmpeg;
    await this.relay!.prime(this.config.syncWaitMs, () => this.stopping !== null || this.hooks.channelEnded() || this.ffmpeg !== ffmpeg);
  }

  /** Reads one FFmpeg output's fMP4 into its packager; the top one's fragments tell that FFmpeg is alive. */
  private outputReader(packager: LlPackager, onTracks: (tracks: TrackInfo[]) => void, top: boolean): (chunk: Buffer) => void {
    const feed = fmp4Feed(packager, {
      onInit: (tracks) => onTracks(tracks),
      onFragment: (_data, _timing, arrivedAt) => {
        if (top) this.lastFragmentAt = arrivedAt;
      },
      onBroken: (error) => {
        // Output that cannot be read is FFmpeg's failure: killing it hands it to the restart path.
        this.media.logger.error({ err: error }, 'unreadable fMP4 from ffmpeg; restarting it');
        this.ffmpeg?.kill();
      },
    });
    return (chunk) => {
      if (!this.stopping) feed(chunk);
    };
  }

  /**
   * An FFmpeg that is alive but writes nothing while media flows in is hung (SIGSTOP, a blocked
   * pipe): killing it hands it to the exit path, which restarts it.
   */
  private watchProgress(): void {
    const ffmpeg = this.ffmpeg;
    if (this.stopping || !ffmpeg?.running) return;
    const now = Date.now();
    const quietMs = now - Math.max(this.lastFragmentAt, this.ffmpegStartedAt, this.mediaResumedAt);
    if (quietMs < this.stallTimeoutMs) return;
    // No input, no output: the channel's source watch deals with a silent broadcaster.
    if (!this.hooks.mediaFlowing()) return void (this.lastFragmentAt = now);
    this.media.logger.error({ ffmpegPid: ffmpeg.pid, quietMs }, 'ffmpeg writes nothing while media flows in; killing it');
    this.hooks.onStall();
    this.lastFragmentAt = now;
    ffmpeg.kill();
  }

  private onFfmpegExit(exit: FfmpegExit, ranMs: number): void {
    if (this.replacing && !this.stopping) {
      this.replacing = false;
      return this.scheduleRestart(0);
    }
    if (exit.requested || this.stopping) return this.hooks.onFfmpegExit(exit, false);
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
      this.restartFfmpeg()
        .catch((error: unknown) => {
          // Its exit goes through onFfmpegExit like any other death (restart or give up).
          if (!this.stopping) this.media.logger.error({ err: error }, 'ffmpeg restart failed');
        });
    }, delayMs);
  }

  /**
   * Stops FFmpeg first (so it never waits on a closed input), then frees transports, ports and
   * the SDP file; the stream ends (EXT-X-ENDLIST) and is served a while longer for players to
   * drain. Never rejects.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.timers.forEach((t) => clearTimeout(t));
      if (this.restartTimer) clearTimeout(this.restartTimer);
      for (const follower of this.followers) follower.close();
      await this.ffmpeg?.stop();
      for (const transport of this.transports) transport.close();
      this.relay?.close();
      if (this.basePort !== null) this.runtime.ports.release(this.basePort, this.portCount);
      // The lower renditions end with the top one (players on them see EXT-X-ENDLIST too).
      for (const rendition of this.lower) rendition.packager.end();
      await rm(this.sdpPath, { force: true }).catch((error: unknown) => this.media.logger.error({ err: error, path: this.sdpPath }, 'could not remove the SDP file'));
      this.runtime.draining.endStream(this.media.channelId, this.packager, this.stream);
      this.media.logger.info('hls pipeline stopped');
    })();
    return this.stopping;
  }

  close(): Promise<void> {
    return this.stop();
  }
}
