import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { ChannelPhase, ChannelState, TransportOptions } from '../../../protocol/index.js';
import { hlsPlaylistPath } from '../../../protocol/index.js';
import type { Logger } from '../logger.js';
import { sameSecret } from '../secrets.js';
import { ChannelError } from './channel-error.js';
import { HlsPipeline, type HlsPipelineOptions } from '../readers/hls/hls-pipeline.js';
import { refuseUnsupportedParameters } from '../media/codecs.js';
import { PipeOrigin } from '../cluster/pipe-origin.js';
import { RealtimeViewers } from '../readers/realtime/realtime-viewers.js';
import { SourceWatch } from './source-watch.js';
import { createWebRtcTransport, transportOptions, type WebRtcListenSettings } from '../media/webrtc-transport.js';

export { ChannelError };
import type { LivePlaylist } from '../readers/hls/live-playlist.js';

export interface ChannelSettings extends WebRtcListenSettings {
  idleTimeoutMs: number;
  /** How long a broadcaster whose connection dropped may take to come back. */
  broadcasterGraceMs: number;
  /** Real-time (WebRTC) viewers per channel; more viewers are sent to HLS. */
  realtimeLimit: number;
  /** A source that sends no media for this long (after its first track, or since its last packet) ends the channel. */
  sourceTimeoutMs: number;
  /** Everything the HLS pipeline needs except what the channel itself provides. */
  hls: Omit<
    HlsPipelineOptions,
    'channelId' | 'router' | 'audioProducer' | 'videoProducer' | 'logger' | 'onPlaylistReady' | 'onFfmpegExit' | 'requestKeyFrame' | 'mediaFlowing' | 'onPaused' | 'onStall'
  >;
  /** Told about every FFmpeg restart (metrics). */
  onFfmpegRestart?: () => void;
  /** Told when a hung FFmpeg was killed (metrics). */
  onFfmpegStall?: () => void;
}

const SENDER_MIN_KEY_FRAME_INTERVAL_MS = 350;

/** What the media side knows of a channel; signalling adds where it is served from. */
export type ChannelMediaState = Omit<ChannelState, 'origin'>;
type ChannelEvents = { state: [ChannelMediaState]; ended: [reason: string]; realtimeViewers: [count: number] };

/**
 * One live channel: a dedicated mediasoup router, its single broadcaster (one WebRTC transport,
 * at most one audio and one video producer) and, once both tracks arrive, the HLS pipeline.
 */
export class Channel extends EventEmitter<ChannelEvents> {
  readonly logger: Logger;
  private phase: ChannelPhase = 'waiting';
  private playlistReady = false;
  private broadcaster: { socketId: string; session?: string } | null = null;
  private producerTransport: types.WebRtcTransport | null = null;
  private transportConnected = false;
  private readonly producers = new Map<'audio' | 'video', types.Producer>();
  private readonly source: SourceWatch;
  private hls: HlsPipeline | null = null;
  /** Why HLS is paused (viewers are told), or null. */
  private hlsPaused: string | null = null;
  private hlsStarting: Promise<void> | null = null;
  private idleTimer: NodeJS.Timeout | null;
  private graceTimer: NodeJS.Timeout | null = null;
  private ending: Promise<void> | null = null;
  /** When HLS went live (ms since epoch); 0 before. */
  liveSince = 0;
  /** When the broadcaster's last video key frame arrived (ms since epoch). */
  private lastKeyFrameAt = 0;
  private keyFrameTimer: NodeJS.Timeout | null = null;
  readonly realtime: RealtimeViewers;
  /** Pipes carrying this channel's tracks to other instances' real-time viewers (cluster). */
  readonly pipes: PipeOrigin;

  constructor(
    readonly id: string,
    private readonly publishToken: string,
    readonly router: types.Router,
    private readonly settings: ChannelSettings,
    logger: Logger,
  ) {
    super();
    this.logger = logger.child({ channelId: id });
    this.realtime = new RealtimeViewers(
      router,
      settings,
      settings.realtimeLimit,
      this.logger,
      () => this.emit('realtimeViewers', this.realtime.count),
      {
        requestKeyFrame: (consumer) => this.requestKeyFrame(consumer),
        keyFrameWindow: () => this.keyFrameWindow(),
      },
    );
    this.pipes = new PipeOrigin(router, settings, () => this.keyFrameWindow());
    this.source = new SourceWatch(() => this.liveProducers, {
      timeoutMs: settings.sourceTimeoutMs,
      onFirstMedia: () => {
        this.clearIdleTimer();
        this.logger.info('media is flowing from the broadcaster');
      },
      onSilent: (reason) => void this.end(reason),
    });
    router.on('workerclose', () => void this.end('the media server restarted; please go live again'));
    this.idleTimer = setTimeout(() => void this.end('nobody went live on this channel in time'), settings.idleTimeoutMs);
  }

  get ended(): boolean {
    return this.phase === 'ended';
  }

  get state(): ChannelMediaState {
    return {
      channelId: this.id,
      phase: this.phase,
      hls: this.playlistReady
        ? { playlist: hlsPlaylistPath(this.id), segmentSeconds: this.settings.hls.segmentSeconds, ...(this.hlsPaused ? { paused: this.hlsPaused } : {}) }
        : null,
      realtime: this.producers.size > 0 && !this.ended,
      realtimeLimit: this.settings.realtimeLimit,
    };
  }

  get hasBroadcaster(): boolean {
    return this.broadcaster !== null;
  }

  /** The live HLS playlist, once the pipeline runs. */
  get playlist(): LivePlaylist | null {
    return this.ended ? null : (this.hls?.playlist ?? null);
  }

  /** For tests and metrics. */
  get hlsUdpPorts(): number[] {
    return this.hls?.udpPorts ?? [];
  }

  /** For tests and metrics. */
  get ffmpegPid(): number | undefined {
    return this.hls?.ffmpegPid;
  }

  /**
   * A channel has exactly one broadcaster connection. The same publishing page (same `session`)
   * reconnecting replaces its previous connection, which the server may not have noticed is dead
   * yet; returns that connection's id so the caller can close it. Anyone else is refused.
   */
  claimBroadcaster(socketId: string, token: string, session?: string): string | null {
    if (this.ended) throw new ChannelError('not-found', 'this channel has ended');
    if (!sameSecret(token, this.publishToken)) throw new ChannelError('unauthorized', 'invalid publish token for this channel');
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
    const graceMs = this.settings.broadcasterGraceMs;
    if (!connectionLost || graceMs === 0) return void this.end('the broadcaster left');
    this.logger.info({ graceMs }, 'broadcaster connection lost; waiting for it to come back');
    this.graceTimer = setTimeout(() => void this.end('the broadcaster’s connection was lost'), graceMs);
  }

  isBroadcaster(socketId: string): boolean {
    return this.broadcaster?.socketId === socketId;
  }

  async createProducerTransport(): Promise<TransportOptions> {
    this.assertOpen();
    if (this.producerTransport) throw new ChannelError('conflict', 'the producer transport already exists');
    const transport = await createWebRtcTransport(this.router, this.settings, { role: 'producer' });
    this.producerTransport = transport;
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') void this.end('the broadcaster’s connection failed');
    });
    return transportOptions(transport);
  }

  /** The broadcaster's tracks, for real-time viewers to consume. */
  get liveProducers(): types.Producer[] {
    return [...this.producers.values()].filter((p) => !p.closed);
  }

  async connectProducerTransport(dtlsParameters: types.DtlsParameters): Promise<void> {
    this.assertOpen();
    if (!this.producerTransport) throw new ChannelError('conflict', 'create the producer transport first');
    if (this.transportConnected) throw new ChannelError('conflict', 'the producer transport is already connected');
    await this.producerTransport.connect({ dtlsParameters });
    this.transportConnected = true;
  }

  async produce(kind: 'audio' | 'video', rtpParameters: types.RtpParameters): Promise<string> {
    this.assertOpen();
    if (!this.producerTransport || !this.transportConnected) throw new ChannelError('conflict', 'connect the producer transport first');
    if (this.producers.has(kind)) throw new ChannelError('conflict', `this channel already has a ${kind} track`);
    refuseUnsupportedParameters(kind, rtpParameters, this.router.rtpCapabilities);
    const producer = await this.producerTransport.produce({ kind, rtpParameters });
    this.addProducer(producer);
    return producer.id;
  }

  /**
   * Takes a producer made on this channel's router as the channel's audio or video track; the
   * WebRTC publish path and server-side RTP ingest both end here. HLS starts once both exist.
   */
  addProducer(producer: types.Producer): void {
    if (this.ended || this.producers.has(producer.kind)) {
      producer.close();
      throw new ChannelError('not-found', this.ended ? 'this channel has ended' : `this channel already has a ${producer.kind} track`);
    }
    this.producers.set(producer.kind, producer);
    // The idle timer keeps running until media really arrives; from now on the source must send.
    this.source.start();
    if (producer.kind === 'video') {
      // One event per key frame (about one a second): lets viewer key-frame requests be timed.
      producer.on('trace', (trace) => {
        if (trace.type === 'keyframe') this.lastKeyFrameAt = Date.now();
      });
      void producer.enableTraceEvent(['keyframe']).catch(() => undefined);
    }
    this.logger.info({ kind: producer.kind, producerId: producer.id, codec: producer.rtpParameters.codecs[0]?.mimeType }, 'producer created');
    if (this.producers.has('audio') && this.producers.has('video')) this.startHls();
    this.emit('state', this.state);
  }

  /**
   * Ends the channel once; listeners hear 'ended' before anything is torn down. Never rejects:
   * callers fire and forget it from timers and events, and whatever fails in one channel's
   * teardown is logged and must not reach the process.
   */
  end(reason: string): Promise<void> {
    this.ending ??= (async () => {
      this.phase = 'ended';
      this.clearIdleTimer();
      this.source.close();
      if (this.graceTimer) clearTimeout(this.graceTimer);
      if (this.keyFrameTimer) clearTimeout(this.keyFrameTimer);
      this.logger.info({ reason }, 'channel ending');
      try {
        this.emit('ended', reason);
        await this.hlsStarting?.catch(() => undefined);
        await this.hls?.stop();
      } finally {
        this.router.close();
      }
      this.logger.info('channel ended');
    })().catch((error: unknown) => this.logger.error({ err: error }, 'channel teardown failed'));
    return this.ending;
  }

  /** Media arrived from the source in the last seconds. */
  get mediaFlowing(): boolean {
    return this.source.flowing;
  }

  /**
   * Key-frame requests for this channel (the HLS beat, new real-time viewers) go through here.
   * Chromium's encoder ignores a request that comes less than 300 ms after the previous one, and
   * mediasoup then holds the request as pending and swallows further ones for a second (a new
   * viewer would stare at a black picture, a segment would double in length); so a request that
   * would land too early is held until the window has passed.
   */
  requestKeyFrame(via: types.Consumer): void {
    const wait = SENDER_MIN_KEY_FRAME_INTERVAL_MS - (Date.now() - this.lastKeyFrameAt);
    if (wait <= 0) return void via.requestKeyFrame().catch(() => undefined);
    this.keyFrameTimer ??= setTimeout(() => {
      this.keyFrameTimer = null;
      if (!via.closed) void via.requestKeyFrame().catch(() => undefined);
    }, wait);
  }

  /** Resolves once a key-frame request would be honoured (see requestKeyFrame). */
  keyFrameWindow(): Promise<void> {
    const wait = SENDER_MIN_KEY_FRAME_INTERVAL_MS - (Date.now() - this.lastKeyFrameAt);
    return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : Promise.resolve();
  }

  private startHls(): void {
    const audioProducer = this.producers.get('audio')!;
    const videoProducer = this.producers.get('video')!;
    this.hlsStarting = HlsPipeline.start({
      ...this.settings.hls,
      channelId: this.id,
      router: this.router,
      audioProducer,
      videoProducer,
      logger: this.logger,
      requestKeyFrame: (consumer) => this.requestKeyFrame(consumer),
      mediaFlowing: () => this.source.flowing,
      onStall: () => this.settings.onFfmpegStall?.(),
      onPaused: (reason) => {
        if (this.ended) return;
        this.hlsPaused = reason;
        this.emit('state', this.state);
      },
      onPlaylistReady: () => {
        if (this.ended) return;
        this.playlistReady = true;
        this.phase = 'live';
        this.liveSince = Date.now();
        this.emit('state', this.state);
      },
      onFfmpegExit: (exit, restarting) => {
        if (restarting) this.settings.onFfmpegRestart?.();
        else if (!exit.requested && !this.ended) void this.end('the HLS encoder keeps failing; please go live again');
      },
    }).then(
      (pipeline) => {
        this.hls = pipeline;
        if (this.ended) void pipeline.stop();
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

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}
