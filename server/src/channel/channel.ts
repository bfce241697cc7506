import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { hlsPlaylistPath, recordingPlaylistPath, type ChannelMediaState, type ChannelPhase, type FrameSize, type ProducerTransportOptions, type VideoLayer } from '../../../protocol/index.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { Thumbnailer, type Thumbnail } from '../readers/thumbnails/thumbnailer.js';
import { HlsPipeline, type HlsRuntime } from '../readers/hls/hls-pipeline.js';
import type { LlHlsStream } from '../readers/hls/ll-stream.js';
import { LADDER_RUNGS } from '../readers/hls/ffmpeg-args.js';
import { PassthroughHls } from '../readers/hls/passthrough-hls.js';
import type { PortAllocator } from '../readers/hls/port-allocator.js';
import { RealtimeTranscoder } from '../readers/realtime/realtime-transcoder.js';
import { EncoderIngest, type EncoderInput } from '../sources/encoder-ingest.js';
import { srtListenerUrl } from '../srt/srt-url.js';
import { Recorder } from '../readers/recording/recorder.js';
import { ownerTokenHash, type RecordingStore } from '../readers/recording/recording-store.js';
import type { RouterFactory } from '../readers/realtime/egress-routers.js';
import { RealtimeViewers } from '../readers/realtime/realtime-viewers.js';
import type { ViewerPlacement } from '../readers/realtime/fan-out-routers.js';
import { newStreamKey, sameSecret } from '../secrets.js';
import { WebRtcPublisher } from '../sources/webrtc-publisher.js';
import { WhipPublisher } from '../sources/whip-publisher.js';
import type { WhipOffer } from '../whip/sdp-offer.js';
import { ChannelError } from './channel-error.js';
import { KeyFrameTiming } from './key-frames.js';
import { SenderClocks } from './sender-clocks.js';
import { IdleTimer } from './idle-timer.js';
import type { ChannelMedia, ChannelReader } from './reader.js';
import { videoLayers } from '../media/video-layers.js';
import { SourceWatch } from './source-watch.js';

export { ChannelError };

/** What every channel is made with: its settings, and what the server provides to all channels. */
export interface ChannelContext {
  config: Pick<Config, 'channels' | 'rtc' | 'hls' | 'thumbnails' | 'ingest'> & { http: Pick<Config['http'], 'host' | 'tls'> };
  hls: HlsRuntime;
  /** SRT listener ports (null: SRT is off). */
  srtPorts: PortAllocator | null;
  /** Counted in metrics. */
  onFfmpegRestart: () => void;
  onFfmpegStall: () => void;
  /** Routers for players that need the channel under other payload types (WHEP; see EgressRouters). */
  createRouter: (mediaCodecs: Parameters<RouterFactory>[0], channelId: string) => ReturnType<RouterFactory>;
  /** Where broadcasts are recorded; null: recording is off. */
  recordings: RecordingStore | null;
  /** A recording stopped because it could not be written (counted in metrics). */
  onRecordingFailed: () => void;
  /** Spreads real-time viewers over the workers (see FanOutRouters); absent: all on the channel router. */
  viewerPlacement?: ViewerPlacement;
}

/** How a channel was created. */
export interface ChannelOptions {
  /**
   * Created with the server's publish key (a private server): its recording is not listed in
   * "Recent broadcasts" unless the broadcaster chooses to list it.
   */
  unlistedRecording?: boolean;
}

type ChannelEvents = { state: [ChannelMediaState]; ended: [reason: string]; realtimeViewers: [count: number] };

/**
 * One live stream: a dedicated mediasoup router, **one source** that feeds it (today the
 * broadcaster's browser over WebRTC; any source ends in `addTrack`), and **readers** that read it:
 * real-time viewers from the start, the HLS pipeline once audio and video exist, and whatever else
 * attaches (relay pipes to other instances). The channel owns its router, its source and its
 * readers and closes them all, once, when it ends.
 */
export class Channel extends EventEmitter<ChannelEvents> implements ChannelMedia {
  readonly logger: Logger;
  private phase: ChannelPhase = 'waiting';
  private playlistReady = false;
  private broadcaster: { socketId: string; session?: string } | null = null;
  private readonly tracksByKind = new Map<'audio' | 'video', types.Producer>();
  /** The camera frame size the broadcaster said its video track has (names simulcast layers). */
  private readonly frameSizes = new WeakMap<types.Producer, FrameSize>();
  private readonly readers = new Map<string, ChannelReader>();
  private readonly keyFrames = new KeyFrameTiming();
  /** The source's RTCP sender reports: how its audio and video timestamps map to its capture clock. */
  readonly senderClocks = new SenderClocks();
  private readonly sourceWatch: SourceWatch;
  private hlsStarting: Promise<void> | null = null;
  private readonly idle: IdleTimer;
  private graceTimer: NodeJS.Timeout | null = null;
  private ending: Promise<void> | null = null;
  /** When HLS went live (ms since epoch); 0 before. */
  liveSince = 0;
  private details = { title: '', description: '' };
  /** The source: the broadcaster's WebRTC transport and producers. */
  readonly publisher: WebRtcPublisher;
  /** The source when an encoder publishes over WHIP instead of the go-live page. */
  private whip: WhipPublisher | null = null;
  /**
   * The source when an encoder publishes over RTMP or SRT: its stream, passed through to HLS,
   * outlives its connections (`ingest`: the current one), so an encoder may reconnect within the
   * grace period. Real-time viewers get it through `transcoder`, run only while they exist.
   */
  private encoder: { protocol: EncoderInput['protocol']; ingest: EncoderIngest | null; hls: PassthroughHls } | null = null;
  private transcoder: Promise<RealtimeTranscoder> | null = null;
  private transcoderLinger: NodeJS.Timeout | null = null;
  /** This channel's SRT listener: an ingest waiting for an encoder on `port`. */
  private srt: { port: number; ingest: EncoderIngest | null } | null = null;
  readonly realtime: RealtimeViewers;

  constructor(
    readonly id: string,
    private readonly publishToken: string,
    /** The encoders' (WHIP) secret: separate from the page's publish token, never logged; replaced by `rotateStreamKey`. */
    private streamKey: string,
    readonly router: types.Router,
    private readonly context: ChannelContext,
    logger: Logger,
    private readonly options: ChannelOptions = {},
  ) {
    super();
    this.logger = logger.child({ channelId: id });
    const { channels, rtc } = context.config;
    this.publisher = new WebRtcPublisher(router, rtc, (reason) => void this.end(reason));
    this.realtime = this.attach('realtime', new RealtimeViewers(this, rtc, channels.realtimeViewers, () => this.emit('realtimeViewers', this.realtime.count), (codecs) => context.createRouter(codecs, id), context.viewerPlacement ?? null));
    this.sourceWatch = new SourceWatch(() => (this.encoder ? (this.encoder.ingest ? [this.encoder.ingest] : []) : this.tracks()), {
      timeoutMs: channels.sourceTimeoutMs,
      onFirstMedia: () => {
        this.idle.stop();
        this.logger.info('media is flowing from the broadcaster');
      },
      onSilent: (reason) => void this.end(reason),
    });
    router.on('workerclose', () => void this.end('the media server restarted; please go live again'));
    this.idle = new IdleTimer(channels.idleTimeoutMs, () => void this.end('nobody went live on this channel in time'));
  }

  get channelId(): string {
    return this.id;
  }

  get ended(): boolean {
    return this.phase === 'ended';
  }

  get state(): ChannelMediaState {
    const { hls, channels } = this.context.config;
    return {
      channelId: this.id,
      phase: this.phase,
      title: this.details.title,
      description: this.details.description,
      hls: this.playlistReady
        ? { playlist: hlsPlaylistPath(this.id), segmentSeconds: hls.segmentSeconds }
        : null,
      // An encoder's stream is transcoded for real-time viewers on demand, once HLS has it.
      realtime: !this.ended && (this.encoder ? this.playlistReady : this.tracksByKind.size > 0),
      realtimeLimit: channels.realtimeViewers,
      recording: this.recorder && !this.recorder.failed ? { playlist: recordingPlaylistPath(this.id) } : null,
    };
  }

  // ---------------------------------------------------------------- readers

  /** The reader attached under `name`, attached now by `create` if there is none. */
  reader<R extends ChannelReader>(name: string, create: () => R): R {
    const existing = this.readers.get(name);
    if (existing) return existing as R;
    return this.attach(name, create());
  }

  /** The reader attached under `name`, if any. */
  findReader(name: string): ChannelReader | undefined {
    return this.readers.get(name);
  }

  private attach<R extends ChannelReader>(name: string, reader: R): R {
    if (this.ended) {
      void Promise.resolve(reader.close()).catch(() => undefined);
      throw new ChannelError('not-found', 'this channel has ended');
    }
    this.readers.set(name, reader);
    return reader;
  }

  /** The live LL-HLS stream, once the pipeline runs. */
  get hlsStream(): LlHlsStream | undefined {
    return this.ended ? undefined : this.hlsReader?.stream;
  }

  private get hlsPipeline(): HlsPipeline | undefined {
    const reader = this.readers.get('hls');
    return reader instanceof HlsPipeline ? reader : undefined;
  }

  private get hlsReader(): HlsPipeline | PassthroughHls | undefined {
    const reader = this.readers.get('hls');
    return reader instanceof HlsPipeline || reader instanceof PassthroughHls ? reader : undefined;
  }

  /** The newest preview picture, once the channel has one. */
  get thumbnail(): Thumbnail | null {
    return this.ended ? null : (this.thumbnailer?.thumbnail ?? null);
  }

  /** The thumbnailer's FFmpeg, once it makes pictures (tests and benchmarks). */
  get thumbnailFfmpegPid(): number | undefined {
    return this.thumbnailer?.ffmpegPid;
  }

  private get thumbnailer(): Thumbnailer | undefined {
    const reader = this.readers.get('thumbnails');
    return reader instanceof Thumbnailer ? reader : undefined;
  }

  /** The recorder, while the broadcast is recorded. */
  get recorder(): Recorder | undefined {
    const reader = this.readers.get('recording');
    return reader instanceof Recorder ? reader : undefined;
  }

  /** FFmpeg's process id, for tests and metrics: the HLS pipeline's, or an encoder's ingest. */
  get ffmpegPid(): number | undefined {
    return this.hlsPipeline?.ffmpegPid ?? this.encoder?.ingest?.pid ?? this.srt?.ingest?.pid;
  }

  /** The real-time transcoder's FFmpeg (an encoder's channel with real-time viewers), for tests and benchmarks. */
  async transcoderPid(): Promise<number | undefined> {
    const transcoder = await this.transcoder?.catch(() => undefined);
    return transcoder?.ffmpegPid;
  }

  /** Where encoders publish to this channel: the RTMP(S) ports (server-wide) and this channel's SRT port; null when off. */
  get ingestPorts(): { rtmp: number | null; rtmps: number | null; srt: number | null } {
    const { rtmp } = this.context.config.ingest;
    return { rtmp: rtmp?.port ?? null, rtmps: this.context.config.http.tls ? (rtmp?.rtmpsPort ?? null) : null, srt: this.srt?.port ?? null };
  }

  /** UDP ports the HLS pipeline holds, for tests and metrics. */
  get hlsUdpPorts(): number[] {
    return this.hlsPipeline?.udpPorts ?? [];
  }

  /** What the channel's router can carry (a viewer's device loads it). */
  get rtpCapabilities(): types.RtpCapabilities {
    return this.router.rtpCapabilities;
  }

  // ---------------------------------------------------------------- media, for readers

  /** The source's live tracks (an encoder's: the real-time transcode's, while it runs). */
  tracks(): types.Producer[] {
    if (this.encoder) return this.runningTranscoder?.producers.filter((p) => !p.closed) ?? [];
    return [...this.tracksByKind.values()].filter((p) => !p.closed);
  }

  /** The source video's simulcast layers (none: one quality). */
  videoLayers(): VideoLayer[] {
    const video = this.tracks().find((p) => p.kind === 'video');
    return video ? videoLayers(video.rtpParameters, this.frameSizes.get(video) ?? null) : [];
  }

  /** The real-time transcoder, once it runs (attached as the reader 'transcoder'). */
  private get runningTranscoder(): RealtimeTranscoder | undefined {
    const reader = this.readers.get('transcoder');
    return reader instanceof RealtimeTranscoder ? reader : undefined;
  }

  /**
   * A real-time viewer is coming: an encoder's stream needs its transcode running (started now if
   * it is not). Other sources' tracks are always there.
   */
  async ensureTracks(): Promise<void> {
    if (!this.encoder) return;
    if (!this.playlistReady || this.ended) throw new ChannelError('conflict', 'the broadcast has not started yet');
    if (this.transcoderLinger) clearTimeout(this.transcoderLinger);
    this.transcoderLinger = null;
    if (this.runningTranscoder && this.runningTranscoder.producers.some((p) => p.closed)) this.stopTranscoder();
    const { hls, ingest } = this.context.config;
    const encoderHls = this.encoder.hls;
    this.transcoder ??= RealtimeTranscoder.start(this.router, encoderHls, { ffmpegPath: hls.ffmpegPath, videoKbps: ingest.transcodeKbps }, this.logger).then((transcoder) => {
      if (this.ended || this.encoder?.hls !== encoderHls) {
        void transcoder.close();
        throw new ChannelError('not-found', 'this channel has ended');
      }
      this.readers.set('transcoder', transcoder);
      const video = transcoder.producers.find((p) => p.kind === 'video');
      video?.on('trace', (trace) => trace.type === 'keyframe' && this.keyFrames.noteKeyFrame());
      void video?.enableTraceEvent(['keyframe']).catch(() => undefined);
      return transcoder;
    });
    const starting = this.transcoder;
    await starting.catch((error: unknown) => {
      if (this.transcoder === starting) this.transcoder = null;
      throw error;
    });
  }

  /** The last real-time viewer left: an encoder's transcode stops after a while unless one comes back. */
  releaseTracks(): void {
    if (!this.encoder || this.ended || this.realtime.count > 0 || this.transcoderLinger) return;
    this.transcoderLinger = setTimeout(() => {
      this.transcoderLinger = null;
      if (this.realtime.count === 0) this.stopTranscoder();
    }, this.context.config.ingest.transcodeLingerMs);
  }

  private stopTranscoder(): void {
    const transcoder = this.runningTranscoder;
    this.transcoder = null;
    if (!transcoder) return;
    this.readers.delete('transcoder');
    void transcoder.close().catch((error: unknown) => this.logger.error({ err: error }, 'the real-time transcoder failed to close'));
  }

  requestKeyFrame(via: types.Consumer): void {
    this.keyFrames.request(via);
  }

  keyFrameWindow(): Promise<void> {
    return this.keyFrames.window();
  }

  /** Media arrived from the source in the last seconds. */
  get mediaFlowing(): boolean {
    return this.sourceWatch.flowing;
  }

  // ---------------------------------------------------------------- the source

  /**
   * A channel has exactly one broadcaster connection. The same publishing page (same `session`)
   * reconnecting replaces its previous connection, which the server may not have noticed is dead
   * yet; returns that connection's id so the caller can close it. Anyone else is refused.
   */
  claimBroadcaster(socketId: string, token: string, session?: string): string | null {
    if (this.ended) throw new ChannelError('not-found', 'this channel has ended');
    if (!sameSecret(token, this.publishToken)) throw new ChannelError('unauthorized', 'invalid publish token for this channel');
    if (this.whip) throw new ChannelError('conflict', 'an encoder is publishing to this channel (WHIP)');
    if (this.encoder) throw new ChannelError('conflict', `an encoder is publishing to this channel (${this.encoder.protocol.toUpperCase()})`);
    this.closeSrtListener();
    let replaced: string | null = null;
    if (this.broadcaster !== null && this.broadcaster.socketId !== socketId) {
      if (!session || this.broadcaster.session !== session) throw new ChannelError('conflict', 'this channel already has a broadcaster');
      replaced = this.broadcaster.socketId;
    }
    if (this.graceTimer) {
      clearTimeout(this.graceTimer);
      this.graceTimer = null;
      this.logger.info('broadcaster is back');
    }
    this.broadcaster = { socketId, session };
    return replaced;
  }

  /**
   * The broadcaster's signalling connection closed. Leaving on purpose ends the channel; a lost
   * connection gets a grace period to come back with the publish token (the WebRTC media path
   * usually survives a brief signalling drop), and the channel ends only after it.
   */
  broadcasterLeft(socketId: string, connectionLost: boolean): void {
    if (this.broadcaster?.socketId !== socketId || this.ended) return;
    this.broadcaster = null;
    const graceMs = this.context.config.channels.broadcasterGraceMs;
    if (!connectionLost || graceMs === 0) return void this.end('the broadcaster left');
    this.logger.info({ graceMs }, 'broadcaster connection lost; waiting for it to come back');
    this.graceTimer = setTimeout(() => void this.end('the broadcaster’s connection was lost'), graceMs);
  }

  get hasBroadcaster(): boolean {
    return this.broadcaster !== null;
  }

  isBroadcaster(socketId: string): boolean {
    return this.broadcaster?.socketId === socketId;
  }

  /** Whether `key` is this channel's stream key (constant time). */
  isStreamKey(key: string): boolean {
    return sameSecret(key, this.streamKey);
  }

  /**
   * A new stream key replaces the old one at once: later WHIP POSTs and DELETEs need the new key.
   * A WHIP session already publishing keeps running (its media path does not carry the key); it
   * ends as any session does, by the new key's DELETE or by going silent. Returns the new key.
   */
  /** The broadcaster's title and description (validated by the caller's schema); pages see them at once. */
  setDetails(publishToken: string, details: { title: string; description: string }): { title: string; description: string } {
    this.assertOwner(publishToken);
    this.assertOpen();
    this.details = { title: details.title, description: details.description };
    this.recorder?.setDetails(this.details);
    this.emit('state', this.state);
    return this.details;
  }

  rotateStreamKey(publishToken: string): string {
    this.assertOwner(publishToken);
    this.streamKey = newStreamKey();
    this.logger.info('stream key replaced');
    // The SRT passphrase is the key: a listener still waiting takes the new one.
    if (this.srt && !this.srt.ingest?.started) this.listenForSrt();
    return this.streamKey;
  }

  /**
   * The owner's page (`holderId`: its connection) is watching the channel: the idle timeout is
   * suspended until `releaseIdle`, so a broadcaster can take its time setting up an encoder.
   */
  holdIdle(holderId: string, publishToken: string): void {
    this.assertOwner(publishToken);
    this.idle.hold(holderId);
  }

  releaseIdle(holderId: string): void {
    this.idle.release(holderId);
  }

  /** Whether the idle timeout runs now (tests). */
  get idleTimerRunning(): boolean {
    return this.idle.running;
  }

  private assertOwner(publishToken: string): void {
    this.assertOpen();
    if (!sameSecret(publishToken, this.publishToken)) throw new ChannelError('unauthorized', 'invalid publish token for this channel');
  }

  /** Whether a source (the go-live page or an encoder) has claimed the channel. */
  get hasSource(): boolean {
    return this.broadcaster !== null || this.whip !== null || this.encoder !== null || this.tracksByKind.size > 0;
  }

  // ---------------------------------------------------------------- encoders: RTMP and SRT

  /**
   * An encoder connected over RTMP with this channel's key (checked by the caller): returns the
   * ingest its FLV goes to. The same encoder reconnecting within the grace period continues the
   * stream (a discontinuity); a second encoder while one is connected, or any other source, is refused.
   */
  publishRtmp(): EncoderIngest {
    this.assertOpen();
    if (this.encoder?.ingest) throw new ChannelError('conflict', `an encoder is already publishing to this channel (${this.encoder.protocol.toUpperCase()})`);
    if (!this.encoder && this.hasSource) throw new ChannelError('conflict', 'this channel already has a broadcaster');
    this.closeSrtListener();
    return this.startIngest({ protocol: 'rtmp' });
  }

  /** Opens this channel's SRT listener (SRT on): an ingest waiting for an encoder with the stream key as passphrase. */
  async openSrt(): Promise<void> {
    const ports = this.context.srtPorts;
    if (!ports || this.srt || this.ended) return;
    const port = await ports.allocate(1);
    if (this.ended || this.srt) return ports.release(port, 1);
    this.srt = { port, ingest: null };
    this.listenForSrt();
  }

  /** (Re)starts the SRT listener FFmpeg on this channel's port, with the current key. */
  private listenForSrt(): void {
    const srt = this.srt;
    if (!srt || this.ended) return;
    const previous = srt.ingest;
    srt.ingest = null;
    void (async () => {
      // One listener at a time on the port: the old one must have let go of it.
      await previous?.stop();
      if (this.srt !== srt || srt.ingest || this.ended) return;
      const url = srtListenerUrl(this.context.config.http.host, srt.port, this.streamKey);
      srt.ingest = this.startIngest({ protocol: 'srt', url, passphrase: this.streamKey });
    })();
  }

  /** Another source took the channel: nobody may publish over SRT to it any more. */
  private closeSrtListener(): void {
    const srt = this.srt;
    if (!srt || this.encoder?.protocol === 'srt') return;
    this.srt = null;
    void (async () => {
      await srt.ingest?.stop();
      this.context.srtPorts?.release(srt.port, 1);
    })();
  }

  private startIngest(input: EncoderInput): EncoderIngest {
    const { hls } = this.context.config;
    let feed: ((chunk: Buffer, rendition: number) => void) | null = null;
    // HLS_LADDER: the encoder's stream is the top rendition of a transcoded ladder.
    const rungs = hls.ladder ? LADDER_RUNGS : 1;
    const ingest = new EncoderIngest(
      input,
      hls.ffmpegPath,
      this.logger,
      (chunk, rendition) => {
        // An SRT listener learns that an encoder is here from its first bytes.
        feed ??= this.mayClaimForEncoder(ingest) ? this.claimForEncoder(input.protocol, ingest) : null;
        if (feed) feed(chunk, rendition);
        else void ingest.stop();
      },
      rungs,
    );
    // An RTMP connection was checked before it got here: it is the source from now on.
    if (input.protocol === 'rtmp') feed = this.claimForEncoder('rtmp', ingest);
    void ingest.exited.then((exit) => this.ingestExited(ingest, exit.requested));
    return ingest;
  }

  /** Whether an encoder's new connection may be the source: no other source, and no other encoder connection. */
  private mayClaimForEncoder(ingest: EncoderIngest): boolean {
    if (this.ended) return false;
    if (this.encoder) return this.encoder.ingest === null || this.encoder.ingest === ingest;
    return !this.hasSource;
  }

  /** The encoder's connection is the channel's source now; returns what takes its fMP4. */
  private claimForEncoder(protocol: EncoderInput['protocol'], ingest: EncoderIngest): (chunk: Buffer, rendition: number) => void {
    if (!this.encoder) {
      const hls = new PassthroughHls(this.id, this.context.config.hls, this.context.hls.draining, this.logger, () => this.onPlaylistReady(), ingest.rungs);
      this.encoder = { protocol, ingest, hls };
      this.attach('hls', hls);
      this.attachStreamReaders(hls.stream);
      this.logger.info({ protocol }, 'an encoder is publishing');
    } else {
      this.encoder.ingest = ingest;
      this.logger.info({ protocol }, 'the encoder is back');
    }
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    this.sourceWatch.start();
    this.emit('state', this.state);
    const run = this.encoder.hls.run((reason) => {
      this.logger.warn({ protocol, reason }, 'the encoder’s stream is refused');
      void this.end(reason);
    });
    return run;
  }

  /**
   * An encoder's connection ended (it stopped, or dropped): the channel waits the grace period
   * for it to come back, then ends. An SRT listener that never had an encoder is just restarted.
   */
  private ingestExited(ingest: EncoderIngest, requested: boolean): void {
    if (this.ended) return;
    const srt = this.srt;
    if (srt?.ingest === ingest) srt.ingest = null;
    if (this.encoder?.ingest === ingest) {
      this.encoder.ingest = null;
      const graceMs = this.context.config.channels.broadcasterGraceMs;
      this.logger.info({ graceMs, protocol: ingest.input.protocol }, 'the encoder disconnected; waiting for it to come back');
      if (graceMs === 0) return void this.end('the encoder disconnected');
      if (this.graceTimer) clearTimeout(this.graceTimer);
      this.graceTimer = setTimeout(() => void this.end('the encoder disconnected'), graceMs);
    }
    // The SRT listener takes the next connection (the same encoder back, or the first one).
    if (srt && this.srt === srt && !requested && ingest.input.protocol === 'srt') {
      setTimeout(() => this.srt === srt && !srt.ingest && this.listenForSrt(), 200).unref();
    }
  }

  /**
   * An encoder publishes over WHIP: claimed synchronously (a second POST racing this one gets a
   * conflict), then the transport and producers are made and handed to `addTrack` like any
   * source's. A failure before any track exists leaves the channel as it was; after, it ends it.
   * Returns the SDP answer.
   */
  async publishWhip(offer: WhipOffer, sessionId: string): Promise<string> {
    this.assertOpen();
    if (this.hasSource) throw new ChannelError('conflict', 'this channel already has a broadcaster');
    const whip = new WhipPublisher(sessionId, this.router, this.context.config.rtc, (reason) => void this.end(reason));
    this.whip = whip;
    this.closeSrtListener();
    try {
      const { producers, answer } = await whip.start(offer);
      if (this.ended) throw new ChannelError('not-found', 'this channel has ended');
      for (const producer of producers) this.addTrack(producer);
      this.logger.info({ tracks: producers.map((p) => p.kind) }, 'an encoder is publishing (WHIP)');
      return answer;
    } catch (error) {
      whip.close();
      // Ended meanwhile (server shutting down, worker died): its router is gone, which is no fault of the offer.
      if (this.ended) throw new ChannelError('not-found', 'this channel has ended');
      if (this.tracksByKind.size > 0) void this.end('the encoder’s session could not be set up');
      else if (this.whip === whip) this.whip = null;
      throw error;
    }
  }

  /** DELETE on the WHIP session: the encoder stopped on purpose, like a broadcaster leaving. False if no such session. */
  endWhip(sessionId: string): boolean {
    if (this.ended || !this.whip || !sameSecret(sessionId, this.whip.sessionId)) return false;
    void this.end('the broadcaster left');
    return true;
  }

  async createProducerTransport(): Promise<ProducerTransportOptions> {
    this.assertOpen();
    return { ...(await this.publisher.createTransport()), simulcast: this.context.config.rtc.simulcast };
  }

  connectProducerTransport(dtlsParameters: types.DtlsParameters): Promise<void> {
    this.assertOpen();
    return this.publisher.connect(dtlsParameters);
  }

  async produce(kind: 'audio' | 'video', rtpParameters: types.RtpParameters, frameSize?: FrameSize): Promise<string> {
    this.assertOpen();
    if (this.tracksByKind.has(kind)) throw new ChannelError('conflict', `this channel already has a ${kind} track`);
    const producer = await this.publisher.produce(kind, rtpParameters);
    if (frameSize) this.frameSizes.set(producer, frameSize);
    this.addTrack(producer);
    return producer.id;
  }

  /**
   * Takes a producer made on this channel's router as the channel's audio or video track; every
   * source ends here. HLS starts once both exist; the source must then really send media.
   */
  addTrack(producer: types.Producer): void {
    if (this.ended || this.tracksByKind.has(producer.kind)) {
      producer.close();
      throw new ChannelError('conflict', this.ended ? 'this channel has ended' : `this channel already has a ${producer.kind} track`);
    }
    this.tracksByKind.set(producer.kind, producer);
    // The idle timer keeps running until media really arrives; from now on the source must send.
    this.sourceWatch.start();
    // Key frames (about one a second, video) let key-frame requests be timed; sender reports
    // (one every 1–5 s per track) let the HLS pipeline sync audio and video on the capture clock.
    producer.on('trace', (trace) => {
      if (trace.type === 'keyframe') this.keyFrames.noteKeyFrame();
      else if (trace.type === 'sr') this.senderClocks.note(producer.kind, trace.info);
    });
    void producer.enableTraceEvent(producer.kind === 'video' ? ['keyframe', 'sr'] : ['sr']).catch(() => undefined);
    this.logger.info({ kind: producer.kind, producerId: producer.id, codec: producer.rtpParameters.codecs[0]?.mimeType }, 'track added');
    if (this.tracksByKind.has('audio') && this.tracksByKind.has('video')) this.startHls();
    this.emit('state', this.state);
  }

  // ---------------------------------------------------------------- the end

  /**
   * Ends the channel once; listeners hear 'ended' before anything is torn down. Never rejects:
   * callers fire and forget it from timers and events, and whatever fails in one channel's
   * teardown is logged and must not reach the process.
   */
  end(reason: string): Promise<void> {
    this.ending ??= (async () => {
      this.phase = 'ended';
      this.idle.stop();
      this.sourceWatch.close();
      this.keyFrames.close();
      if (this.graceTimer) clearTimeout(this.graceTimer);
      if (this.transcoderLinger) clearTimeout(this.transcoderLinger);
      this.logger.info({ reason }, 'channel ending');
      try {
        this.emit('ended', reason);
        await this.hlsStarting?.catch(() => undefined);
        const closing = [...this.readers].map(([name, reader]) =>
          Promise.resolve()
            .then(() => reader.close())
            .catch((error: unknown) => this.logger.error({ err: error, reader: name }, 'a reader failed to close')),
        );
        this.readers.clear();
        await Promise.all(closing);
        this.publisher.close();
        this.whip?.close();
        await Promise.all([this.encoder?.ingest?.stop(), this.srt?.ingest?.stop()]);
        if (this.srt) this.context.srtPorts?.release(this.srt.port, 1);
      } finally {
        this.router.close();
      }
      this.logger.info('channel ended');
    })().catch((error: unknown) => this.logger.error({ err: error }, 'channel teardown failed'));
    return this.ending;
  }

  private startHls(): void {
    const { hls } = this.context.config;
    this.hlsStarting = HlsPipeline.start(this, hls, this.context.hls, {
      mediaFlowing: () => this.sourceWatch.flowing,
      onStall: () => this.context.onFfmpegStall(),
      channelEnded: () => this.ended,
      onPlaylistReady: () => this.onPlaylistReady(),
      onFfmpegExit: (exit, restarting) => {
        if (restarting) this.context.onFfmpegRestart();
        else if (!exit.requested && !this.ended) void this.end('the HLS encoder keeps failing; please go live again');
      },
    }).then(
      (pipeline) => {
        if (this.ended) return void pipeline.stop();
        this.attach('hls', pipeline);
        this.attachStreamReaders(pipeline.stream);
      },
      (error: unknown) => {
        this.logger.error({ err: error }, 'could not start the HLS pipeline');
        void this.end(`the HLS pipeline could not start: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
  }

  private onPlaylistReady(): void {
    if (this.ended) return;
    this.playlistReady = true;
    this.phase = 'live';
    this.liveSince = Date.now();
    this.emit('state', this.state);
  }

  /**
   * What reads the channel's packaged LL-HLS, whichever producer made it: the preview pictures
   * and the recording (which keeps the last picture).
   */
  private attachStreamReaders(stream: LlHlsStream): void {
    const { config, recordings } = this.context;
    const thumbnailer = this.attach('thumbnails', new Thumbnailer(stream, { ffmpegPath: config.hls.ffmpegPath, ...config.thumbnails }, this.logger));
    if (!recordings) return;
    const writer = recordings.begin(this.id, {
      ...this.details,
      listed: !this.options.unlistedRecording,
      ownerTokenHash: ownerTokenHash(this.publishToken),
    });
    this.attach('recording', new Recorder(stream.packager, writer, {
      thumbnail: () => thumbnailer.thumbnail,
      onFailed: () => {
        this.context.onRecordingFailed();
        if (!this.ended) this.emit('state', this.state);
      },
      logger: this.logger,
    }));
  }

  private assertOpen(): void {
    if (this.ended) throw new ChannelError('not-found', 'this channel has ended');
  }
}
