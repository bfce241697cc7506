import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { hlsPlaylistPath, type ChannelMediaState, type ChannelPhase, type TransportOptions } from '../../../protocol/index.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { HlsPipeline, type HlsRuntime } from '../readers/hls/hls-pipeline.js';
import type { LlHlsStream } from '../readers/hls/ll-stream.js';
import type { RouterFactory } from '../readers/realtime/egress-routers.js';
import { RealtimeViewers } from '../readers/realtime/realtime-viewers.js';
import { newStreamKey, sameSecret } from '../secrets.js';
import { WebRtcPublisher } from '../sources/webrtc-publisher.js';
import { WhipPublisher } from '../sources/whip-publisher.js';
import type { WhipOffer } from '../whip/sdp-offer.js';
import { ChannelError } from './channel-error.js';
import { KeyFrameTiming } from './key-frames.js';
import { SenderClocks } from './sender-clocks.js';
import { IdleTimer } from './idle-timer.js';
import type { ChannelMedia, ChannelReader } from './reader.js';
import { SourceWatch } from './source-watch.js';

export { ChannelError };

/** What every channel is made with: its settings, and what the server provides to all channels. */
export interface ChannelContext {
  config: Pick<Config, 'channels' | 'rtc' | 'hls'>;
  hls: HlsRuntime;
  /** Counted in metrics. */
  onFfmpegRestart: () => void;
  onFfmpegStall: () => void;
  /** Routers for players that need the channel under other payload types (WHEP; see EgressRouters). */
  createRouter: (mediaCodecs: Parameters<RouterFactory>[0], channelId: string) => ReturnType<RouterFactory>;
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
  /** The source: the broadcaster's WebRTC transport and producers. */
  readonly publisher: WebRtcPublisher;
  /** The source when an encoder publishes over WHIP instead of the go-live page. */
  private whip: WhipPublisher | null = null;
  readonly realtime: RealtimeViewers;

  constructor(
    readonly id: string,
    private readonly publishToken: string,
    /** The encoders' (WHIP) secret: separate from the page's publish token, never logged; replaced by `rotateStreamKey`. */
    private streamKey: string,
    readonly router: types.Router,
    private readonly context: ChannelContext,
    logger: Logger,
  ) {
    super();
    this.logger = logger.child({ channelId: id });
    const { channels, rtc } = context.config;
    this.publisher = new WebRtcPublisher(router, rtc, (reason) => void this.end(reason));
    this.realtime = this.attach('realtime', new RealtimeViewers(this, rtc, channels.realtimeViewers, () => this.emit('realtimeViewers', this.realtime.count), (codecs) => context.createRouter(codecs, id)));
    this.sourceWatch = new SourceWatch(() => this.tracks(), {
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
      hls: this.playlistReady
        ? { playlist: hlsPlaylistPath(this.id), segmentSeconds: hls.segmentSeconds }
        : null,
      realtime: this.tracksByKind.size > 0 && !this.ended,
      realtimeLimit: channels.realtimeViewers,
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
    return this.ended ? undefined : this.hlsPipeline?.stream;
  }

  private get hlsPipeline(): HlsPipeline | undefined {
    const reader = this.readers.get('hls');
    return reader instanceof HlsPipeline ? reader : undefined;
  }

  /** FFmpeg's process id, for tests and metrics. */
  get ffmpegPid(): number | undefined {
    return this.hlsPipeline?.ffmpegPid;
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

  /** The source's live tracks. */
  tracks(): types.Producer[] {
    return [...this.tracksByKind.values()].filter((p) => !p.closed);
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
  rotateStreamKey(publishToken: string): string {
    this.assertOwner(publishToken);
    this.streamKey = newStreamKey();
    this.logger.info('stream key replaced');
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
    return this.broadcaster !== null || this.whip !== null || this.tracksByKind.size > 0;
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

  createProducerTransport(): Promise<TransportOptions> {
    this.assertOpen();
    return this.publisher.createTransport();
  }

  connectProducerTransport(dtlsParameters: types.DtlsParameters): Promise<void> {
    this.assertOpen();
    return this.publisher.connect(dtlsParameters);
  }

  async produce(kind: 'audio' | 'video', rtpParameters: types.RtpParameters): Promise<string> {
    this.assertOpen();
    if (this.tracksByKind.has(kind)) throw new ChannelError('conflict', `this channel already has a ${kind} track`);
    const producer = await this.publisher.produce(kind, rtpParameters);
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
      onPlaylistReady: () => {
        if (this.ended) return;
        this.playlistReady = true;
        this.phase = 'live';
        this.liveSince = Date.now();
        this.emit('state', this.state);
      },
      onFfmpegExit: (exit, restarting) => {
        if (restarting) this.context.onFfmpegRestart();
        else if (!exit.requested && !this.ended) void this.end('the HLS encoder keeps failing; please go live again');
      },
    }).then(
      (pipeline) => {
        if (this.ended) return void pipeline.stop();
        this.attach('hls', pipeline);
      },
      (error: unknown) => {
        this.logger.error({ err: error }, 'could not start the HLS pipeline');
        void this.end(`the HLS pipeline could not start: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
  }

  private assertOpen(): void {
    if (this.ended) throw new ChannelError('not-found', 'this channel has ended');
  }
}
