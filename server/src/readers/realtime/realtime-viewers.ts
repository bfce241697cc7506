import type { types } from 'mediasoup';
import type { ConsumerInfo, TransportOptions } from '../../../../protocol/index.js';
import { ChannelError } from '../../channel/channel-error.js';
import type { ChannelMedia, ChannelReader } from '../../channel/reader.js';
import { createWebRtcTransport, transportOptions, type WebRtcSettings } from '../../media/webrtc-transport.js';

interface Session {
  transport: types.WebRtcTransport;
  connected: boolean;
  consumers: Map<string, types.Consumer>;
}

/**
 * Viewers who watch a channel in real time: each has a WebRTC transport on the channel's router
 * and one paused consumer per broadcaster track, resumed when the viewer's player is ready (with a
 * key frame, so the picture starts at once). Sessions end when the viewer leaves or falls back
 * to HLS, when the transport fails, and with the router.
 */
export class RealtimeViewers implements ChannelReader {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly media: ChannelMedia,
    private readonly settings: WebRtcSettings,
    readonly limit: number,
    private readonly onChange: () => void,
  ) {}

  get count(): number {
    return this.sessions.size;
  }

  /** Consumers across all sessions, for tests and metrics. */
  get consumerCount(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.consumers.size;
    return n;
  }

  /** `onClosed` is called once the session's transport closes, however that happens. */
  async createTransport(viewerId: string, onClosed?: () => void): Promise<TransportOptions> {
    if (this.media.tracks().length === 0) throw new ChannelError('conflict', 'the broadcast has not started yet');
    if (this.sessions.has(viewerId)) throw new ChannelError('conflict', 'the consumer transport already exists');
    if (this.sessions.size >= this.limit) {
      throw new ChannelError('full', `real-time viewing is full (${this.limit} viewers); watch over HLS`);
    }
    const transport = await createWebRtcTransport(this.media.router, this.settings, { role: 'consumer', viewerId });
    if (this.sessions.has(viewerId) || this.sessions.size >= this.limit) {
      transport.close(); // a concurrent request won the race
      throw new ChannelError('full', 'the consumer transport already exists or real-time viewing is full');
    }
    this.sessions.set(viewerId, { transport, connected: false, consumers: new Map() });
    if (onClosed) transport.observer.once('close', onClosed);
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') this.leave(viewerId);
      // A key frame asked for at resume time may have arrived before the path was up and been
      // dropped; ask again now so the first picture does not wait for the next periodic one.
      if (state === 'connected') this.requestKeyFrames(viewerId);
    });
    transport.observer.once('close', () => this.forget(viewerId, transport));
    this.onChange();
    return transportOptions(transport);
  }

  async connect(viewerId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const session = this.session(viewerId);
    if (session.connected) throw new ChannelError('conflict', 'the consumer transport is already connected');
    await session.transport.connect({ dtlsParameters });
    session.connected = true;
  }

  /** Consumes every track of the channel's source, paused until `resume`. */
  async consume(viewerId: string, rtpCapabilities: types.RtpCapabilities): Promise<ConsumerInfo[]> {
    const session = this.session(viewerId);
    if (session.consumers.size > 0) throw new ChannelError('conflict', 'already consuming this channel');
    const producers = this.media.tracks();
    if (producers.length === 0) throw new ChannelError('conflict', 'the broadcast has not started yet');
    const infos: ConsumerInfo[] = [];
    for (const producer of producers) {
      if (!this.media.router.canConsume({ producerId: producer.id, rtpCapabilities })) {
        throw new ChannelError('conflict', `this browser cannot decode the channel’s ${producer.kind} (${producer.rtpParameters.codecs[0]?.mimeType})`);
      }
      const consumer = await session.transport.consume({ producerId: producer.id, rtpCapabilities, paused: true });
      session.consumers.set(consumer.id, consumer);
      consumer.observer.once('close', () => session.consumers.delete(consumer.id));
      infos.push({ id: consumer.id, producerId: producer.id, kind: consumer.kind, rtpParameters: consumer.rtpParameters as ConsumerInfo['rtpParameters'] });
    }
    return infos;
  }

  async resume(viewerId: string, consumerId: string): Promise<void> {
    const consumer = this.session(viewerId).consumers.get(consumerId);
    if (!consumer) throw new ChannelError('not-found', 'unknown consumer');
    // Resuming a video consumer makes mediasoup ask for a key frame itself; let that request
    // land when the broadcaster will honour it, so the first picture comes at once.
    if (consumer.kind === 'video') await this.media.keyFrameWindow();
    await consumer.resume();
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
  }

  private forget(viewerId: string, transport: types.WebRtcTransport): void {
    if (this.sessions.get(viewerId)?.transport !== transport) return;
    this.sessions.delete(viewerId);
    this.media.logger.debug({ viewerId }, 'real-time viewer session closed');
    this.onChange();
  }

  private session(viewerId: string): Session {
    const session = this.sessions.get(viewerId);
    if (!session) throw new ChannelError('conflict', 'create the consumer transport first');
    return session;
  }
}
