import type { types } from 'mediasoup';
import type { TransportOptions } from '../../../protocol/index.js';
import { ChannelError } from '../channel/channel-error.js';
import { refuseUnsupportedParameters } from '../media/codecs.js';
import { createWebRtcTransport, transportOptions, type WebRtcSettings } from '../media/webrtc-transport.js';

/**
 * The channel's source when a browser (the go-live page) publishes: one WebRTC transport on the
 * channel's router and one producer per track, made in the handshake's order. Owns its transport.
 */
export class WebRtcPublisher {
  private transport: types.WebRtcTransport | null = null;
  private connected = false;

  constructor(
    private readonly router: types.Router,
    private readonly settings: WebRtcSettings,
    /** The transport failed or closed under us: the broadcast is over. */
    private readonly onFailed: (reason: string) => void,
  ) {}

  async createTransport(): Promise<TransportOptions> {
    if (this.transport) throw new ChannelError('conflict', 'the producer transport already exists');
    const transport = await createWebRtcTransport(this.router, this.settings, { role: 'producer' });
    this.transport = transport;
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') this.onFailed('the broadcaster’s connection failed');
    });
    return transportOptions(transport);
  }

  async connect(dtlsParameters: types.DtlsParameters): Promise<void> {
    if (!this.transport) throw new ChannelError('conflict', 'create the producer transport first');
    if (this.connected) throw new ChannelError('conflict', 'the producer transport is already connected');
    await this.transport.connect({ dtlsParameters });
    this.connected = true;
  }

  /** A new track; the caller (the channel) decides whether it may have one of this kind. */
  async produce(kind: 'audio' | 'video', rtpParameters: types.RtpParameters): Promise<types.Producer> {
    if (!this.transport || !this.connected) throw new ChannelError('conflict', 'connect the producer transport first');
    refuseUnsupportedParameters(kind, rtpParameters, this.router.rtpCapabilities);
    return this.transport.produce({ kind, rtpParameters });
  }

  close(): void {
    this.transport?.close();
  }
}
