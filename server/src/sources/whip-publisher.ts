import type { types } from 'mediasoup';
import { ChannelError } from '../channel/channel-error.js';
import { refuseUnsupportedParameters } from '../media/codecs.js';
import { createWebRtcTransport, type WebRtcSettings } from '../media/webrtc-transport.js';
import { writeWhipAnswer } from '../whip/sdp-answer.js';
import type { WhipOffer } from '../whip/sdp-offer.js';

/**
 * The channel's source when an encoder publishes over WHIP (RFC 9725): one WebRTC transport on
 * the channel's router, connected at once with the offer's DTLS fingerprint (mediasoup is
 * ICE-lite: the client's connectivity checks find it), and one producer per offered m-line. Owns
 * its transport; the producers go to the channel through `addTrack`.
 */
export class WhipPublisher {
  private transport: types.WebRtcTransport | null = null;
  private closed = false;

  constructor(
    /** The WHIP session's id: the last segment of its Location URL. */
    readonly sessionId: string,
    private readonly router: types.Router,
    private readonly settings: WebRtcSettings,
    /** The transport failed or closed under us: the broadcast is over. */
    private readonly onFailed: (reason: string) => void,
  ) {}

  /** Makes the transport and the producers; returns the producers and the SDP answer. */
  async start(offer: WhipOffer): Promise<{ producers: types.Producer[]; answer: string }> {
    const transport = await createWebRtcTransport(this.router, this.settings, { role: 'whip', sessionId: this.sessionId });
    this.transport = transport;
    if (this.closed) transport.close();
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') this.onFailed('the encoder’s connection failed');
    });
    await transport.connect({ dtlsParameters: offer.dtls });
    const producers: types.Producer[] = [];
    for (const track of offer.tracks) {
      refuseUnsupportedParameters(track.kind, track.rtpParameters, this.router.rtpCapabilities);
      try {
        producers.push(await transport.produce({ kind: track.kind, rtpParameters: track.rtpParameters, appData: { whip: this.sessionId } }));
      } catch (error) {
        // mediasoup validates the parameters in depth; what it refuses is the offer's fault.
        if (transport.closed) throw error;
        throw new ChannelError('bad-request', `the ${track.kind} m-line cannot be received: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return { producers, answer: writeWhipAnswer(offer, transport) };
  }

  close(): void {
    this.closed = true;
    this.transport?.close();
  }
}
