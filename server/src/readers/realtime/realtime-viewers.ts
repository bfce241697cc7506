import type { types } from 'mediasoup';
import type { ConsumerInfo, Consumption, QualityChoice, TransportOptions } from '../../../../protocol/index.js';
import { ChannelError } from '../../channel/channel-error.js';
import type { ChannelMedia, ChannelReader } from '../../channel/reader.js';
import { preferredSpatialLayer } from '../../media/video-layers.js';
import { createWebRtcTransport, transportOptions, type WebRtcSettings } from '../../media/webrtc-transport.js';
import { EgressRouters, type RouterFactory, type ViewerRoute } from './egress-routers.js';
import { FanOutRouters, type ViewerPlacement } from './fan-out-routers.js';
import { planEgress, withMatchingRtx } from './payload-types.js';

interface Session {
  transport: types.WebRtcTransport;
  connected: boolean;
  consumers: Map<string, types.Consumer>;
  standalone: boolean;
  /** The router the session's transport is on, and the channel's tracks there. */
  route: ViewerRoute;
}

export interface SessionOptions {
  /** Called once the session's transport closes, however that happens. */
  onClosed?: () => void;
  /**
   * A viewer with no signalling connection (WHEP): nothing else notices when it vanishes, so its
   * session ends if ICE and DTLS do not complete within `connectWithinMs`, or once ICE consent
   * expires (the player is gone without a DELETE). Counted apart: the audience has no socket for it.
   */
  standalone?: { connectWithinMs: number };
}

/**
 * Viewers who watch a channel in real time: each has a WebRTC transport on the channel's router
 * and one paused consumer per broadcaster track, resumed when the viewer's player is ready (with a
 * key frame, so the picture starts at once). Sessions end when the viewer leaves or falls back
 * to HLS, when the transport fails, and with the router.
 */
export class RealtimeViewers implements ChannelReader {
  private readonly sessions = new Map<string, Session>();
  private readonly egress: EgressRouters;
  private readonly fanOut: FanOutRouters;

  constructor(
    private readonly media: ChannelMedia,
    private readonly settings: WebRtcSettings,
    readonly limit: number,
    private readonly onChange: () => void,
    /** Makes the routers that carry the channel to players with other payload types (WHEP). */
    createRouter: RouterFactory,
    /** Spreads viewers over the workers (see FanOutRouters); null: all on the channel router. */
    placement: ViewerPlacement | null = null,
  ) {
    this.egress = new EgressRouters(media, createRouter);
    this.fanOut = new FanOutRouters(media, placement);
  }

  /** Egress routers open now (see EgressRouters), for tests and leak checks. */
  get egressRouters(): number {
    return this.egress.size;
  }

  /** Fan-out routers open now (see FanOutRouters), for tests and leak checks. */
  get fanOutRouters(): number {
    return this.fanOut.size;
  }

  /** Viewers by router id (the channel router's and the fan-out routers'), for tests and metrics. */
  viewersByRouter(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const s of this.sessions.values()) counts.set(s.route.router.id, (counts.get(s.route.router.id) ?? 0) + 1);
    return counts;
  }

  get count(): number {
    return this.sessions.size;
  }

  /** Viewers without a signalling connection (WHEP players). */
  get standaloneCount(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.standalone) n++;
    return n;
  }

  /** Consumers across all sessions, for tests and metrics. */
  get consumerCount(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.consumers.size;
    return n;
  }

  /** The channel's tracks made (an encoder's, on demand) and room for the viewer; what was made for it released if refused. */
  private async admit(viewerId: string): Promise<void> {
    await this.media.ensureTracks();
    try {
      this.checkRoom(viewerId);
    } catch (error) {
      this.releaseIfIdle();
      throw error;
    }
  }

  async createTransport(viewerId: string, onClosed?: () => void): Promise<TransportOptions> {
    // Refused before a fan-out router (and its pipe) is made for nobody.
    await this.admit(viewerId);
    const route = await this.routeOrRelease(() => this.fanOut.route());
    return transportOptions(await this.openSession(viewerId, { onClosed }, route));
  }

  /** A route, or (if none could be made) the tracks released when no viewer is left, and the error. */
  private async routeOrRelease(make: () => Promise<ViewerRoute>): Promise<ViewerRoute> {
    try {
      return await make();
    } catch (error) {
      this.releaseIfIdle();
      throw error;
    }
  }

  private async openSession(viewerId: string, { onClosed, standalone }: SessionOptions, route: ViewerRoute): Promise<types.WebRtcTransport> {
    try {
      // Again: the room may have filled while the route was being made.
      await this.admit(viewerId);
    } catch (error) {
      route.release();
      throw error;
    }
    let transport: types.WebRtcTransport;
    try {
      transport = await createWebRtcTransport(route.router, this.settings, { role: 'consumer', viewerId });
    } catch (error) {
      route.release();
      this.releaseIfIdle();
      throw error;
    }
    transport.observer.once('close', route.release);
    if (this.sessions.has(viewerId) || this.sessions.size >= this.limit) {
      transport.close(); // a concurrent request won the race
      this.releaseIfIdle();
      throw new ChannelError('full', 'the consumer transport already exists or real-time viewing is full');
    }
    this.sessions.set(viewerId, { transport, connected: false, consumers: new Map(), standalone: !!standalone, route });
    if (onClosed) transport.observer.once('close', onClosed);
    if (standalone) {
      const deadline = setTimeout(() => {
        if (transport.dtlsState !== 'connected') this.leave(viewerId);
      }, standalone.connectWithinMs);
      transport.observer.once('close', () => clearTimeout(deadline));
      transport.on('icestatechange', (state) => {
        if (state === 'disconnected' || state === 'closed') this.leave(viewerId);
      });
    }
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') this.leave(viewerId);
      // A key frame asked for at resume time may have arrived before the path was up and been
      // dropped; ask again now so the first picture does not wait for the next periodic one.
      if (state === 'connected') this.requestKeyFrames(viewerId);
    });
    transport.observer.once('close', () => this.forget(viewerId, transport));
    this.onChange();
    return transport;
  }

  /**
   * A standalone viewer (WHEP) in one go: its transport connected with the player's DTLS
   * parameters, and a running consumer for each `wanted` track the channel has (with the m-line's
   * mid). Returns the transport (for the answer) and the consumers by kind.
   */
  async openStandalone(
    viewerId: string,
    o: {
      dtlsParameters: types.DtlsParameters;
      rtpCapabilities: types.RtpCapabilities;
      wanted: { kind: 'audio' | 'video'; mid: string }[];
      connectWithinMs: number;
      onClosed: () => void;
    },
  ): Promise<{ transport: types.WebRtcTransport; consumers: Map<'audio' | 'video', types.Consumer> }> {
    await this.admit(viewerId);
    const tracks = this.media.tracks().filter((p) => o.wanted.some((w) => w.kind === p.kind));
    const plan = planEgress(
      tracks.map((p) => p.consumableRtpParameters.codecs.find((c) => !/\/rtx$/i.test(c.mimeType))!),
      o.rtpCapabilities,
    );
    // Players that take the channel's payload types as they are spread over the workers like any viewer.
    const route = await this.routeOrRelease(() => (plan.same ? this.fanOut.route() : this.egress.route(plan)));
    const transport = await this.openSession(viewerId, { onClosed: o.onClosed, standalone: { connectWithinMs: o.connectWithinMs } }, route);
    try {
      await this.connect(viewerId, o.dtlsParameters);
      await this.consume(viewerId, withMatchingRtx(o.rtpCapabilities, route.router.rtpCapabilities), o.wanted);
      const consumers = new Map<'audio' | 'video', types.Consumer>();
      for (const consumer of this.session(viewerId).consumers.values()) {
        consumers.set(consumer.kind, consumer);
        await this.resume(viewerId, consumer.id);
      }
      return { transport, consumers };
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  async connect(viewerId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const session = this.session(viewerId);
    if (session.connected) throw new ChannelError('conflict', 'the consumer transport is already connected');
    await session.transport.connect({ dtlsParameters });
    session.connected = true;
  }

  /** Refuses a viewer when the broadcast has not started, the viewer has a session, or viewing is full. */
  private checkRoom(viewerId: string): void {
    if (this.media.tracks().length === 0) throw new ChannelError('conflict', 'the broadcast has not started yet');
    if (this.sessions.has(viewerId)) throw new ChannelError('conflict', 'the consumer transport already exists');
    if (this.sessions.size >= this.limit) {
      throw new ChannelError('full', `real-time viewing is full (${this.limit} viewers); watch over HLS`);
    }
  }

  /**
   * Consumes the channel's source tracks, paused until `resume`: every track, or those of the
   * `wanted` kinds, each with its m-line's mid. A simulcast video is consumed as such: mediasoup
   * sends each viewer the highest layer its bandwidth estimate carries (see setQuality); `layers`
   * lists them for the player's quality menu.
   */
  async consume(viewerId: string, rtpCapabilities: types.RtpCapabilities, wanted?: { kind: 'audio' | 'video'; mid: string }[]): Promise<Consumption> {
    const session = this.session(viewerId);
    if (session.consumers.size > 0) throw new ChannelError('conflict', 'already consuming this channel');
    const producers = session.route.tracks().filter((p) => !wanted || wanted.some((w) => w.kind === p.kind));
    if (producers.length === 0) throw new ChannelError('conflict', 'the broadcast has not started yet');
    const consumers: ConsumerInfo[] = [];
    for (const producer of producers) {
      if (!this.canConsume(session.route.router, producer, rtpCapabilities)) {
        throw new ChannelError('conflict', `this player cannot decode the channel’s ${producer.kind} (${producer.rtpParameters.codecs[0]?.mimeType})`);
      }
      const mid = wanted?.find((w) => w.kind === producer.kind)?.mid;
      const consumer = await session.transport.consume({ producerId: producer.id, rtpCapabilities, paused: true, ...(mid ? { mid } : {}) });
      session.consumers.set(consumer.id, consumer);
      consumer.observer.once('close', () => session.consumers.delete(consumer.id));
      consumers.push({ id: consumer.id, producerId: producer.id, kind: consumer.kind, rtpParameters: consumer.rtpParameters as ConsumerInfo['rtpParameters'] });
    }
    const video = [...session.consumers.values()].find((c) => c.kind === 'video');
    return { consumers, layers: video?.type === 'simulcast' ? this.media.videoLayers() : [] };
  }

  /**
   * The viewer's quality menu: a simulcast video pinned to one layer (mediasoup still goes lower
   * when the viewer's bandwidth cannot carry it), or 'auto' (the highest it carries).
   */
  async setQuality(viewerId: string, choice: QualityChoice): Promise<QualityChoice> {
    const video = [...this.session(viewerId).consumers.values()].find((c) => c.kind === 'video');
    if (!video) throw new ChannelError('conflict', 'consume the channel first');
    if (video.type !== 'simulcast') throw new ChannelError('conflict', 'this channel has one quality only');
    const layers = this.media.videoLayers();
    if (choice !== 'auto' && choice >= layers.length) throw new ChannelError('bad-request', `this channel has ${layers.length} layers (0 to ${layers.length - 1})`);
    await video.setPreferredLayers({ spatialLayer: preferredSpatialLayer(layers, choice) });
    return choice;
  }

  async resume(viewerId: string, consumerId: string): Promise<void> {
    const consumer = this.session(viewerId).consumers.get(consumerId);
    if (!consumer) throw new ChannelError('not-found', 'unknown consumer');
    // Resuming a video consumer makes mediasoup ask for a key frame itself; let that request
    // land when the broadcaster will honour it, so the first picture comes at once.
    if (consumer.kind === 'video') await this.media.keyFrameWindow();
    await consumer.resume();
  }

  /** mediasoup throws on capabilities it finds malformed: for a client's capabilities, that is a no. */
  private canConsume(router: types.Router, producer: types.Producer, rtpCapabilities: types.RtpCapabilities): boolean {
    try {
      return router.canConsume({ producerId: producer.id, rtpCapabilities });
    } catch {
      return false;
    }
  }

  /** Each viewer's transport, for tests that limit what one may receive. */
  viewerTransports(): Map<string, types.WebRtcTransport> {
    return new Map([...this.sessions].map(([id, s]) => [id, s.transport]));
  }

  /** Whether `viewerId` has a session. */
  has(viewerId: string): boolean {
    return this.sessions.has(viewerId);
  }

  private requestKeyFrames(viewerId: string): void {
    for (const consumer of this.sessions.get(viewerId)?.consumers.values() ?? []) {
      if (consumer.kind === 'video' && !consumer.paused) this.media.requestKeyFrame(consumer);
    }
  }

  /** Ends one viewer's session (it left, or falls back to HLS). */
  leave(viewerId: string): void {
    this.sessions.get(viewerId)?.transport.close();
  }

  close(): void {
    for (const session of [...this.sessions.values()]) session.transport.close();
    this.egress.close();
    this.fanOut.close();
  }

  private forget(viewerId: string, transport: types.WebRtcTransport): void {
    if (this.sessions.get(viewerId)?.transport !== transport) return;
    this.sessions.delete(viewerId);
    this.media.logger.debug({ viewerId }, 'real-time viewer session closed');
    this.onChange();
    this.releaseIfIdle();
  }

  /** With no viewer left, the channel may stop what it runs for real-time viewers only. */
  private releaseIfIdle(): void {
    if (this.sessions.size === 0) this.media.releaseTracks();
  }

  private session(viewerId: string): Session {
    const session = this.sessions.get(viewerId);
    if (!session) throw new ChannelError('conflict', 'create the consumer transport first');
    return session;
  }
}
