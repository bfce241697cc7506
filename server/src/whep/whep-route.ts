import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseWhepPath, randomBase64Url, whepSessionPath } from '../../../protocol/ids.js';
import type { ClientAddresses } from '../http/client-address.js';
import { answered, readOffer, reply, sdpResourceRoute, sentSdp } from '../http/sdp-exchange.js';
import type { Quota } from '../limits/quota.js';
import type { Logger } from '../logger.js';
import type { RealtimeViewers } from '../readers/realtime/realtime-viewers.js';
import { writeWhepAnswer } from './whep-answer.js';
import { parseWhepOffer } from './whep-offer.js';

/** What the WHEP route needs of a channel (Channel has it). */
export interface WhepChannel {
  readonly id: string;
  readonly ended: boolean;
  readonly realtime: Pick<RealtimeViewers, 'openStandalone' | 'has' | 'leave'>;
}

export interface WhepRouteOptions {
  /** This instance's live channel, or undefined. */
  channel: (channelId: string) => WhepChannel | undefined;
  /** Offers beyond this size are refused with 413. */
  maxOfferBytes: number;
  /** A player must complete ICE and DTLS within this time, or its session is released. */
  connectWithinMs: number;
  /** Real-time sessions per client address, shared with the watch page's. */
  perAddress: Quota;
  addresses: ClientAddresses;
  logger: Logger;
}

/** A WHEP session's viewer id among the channel's real-time viewers (socket ids never contain ':'). */
const viewerIdOf = (sessionId: string) => `whep:${sessionId}`;

/**
 * WHEP playback on `/whep/<channelId>`: a player POSTs its receive-only SDP offer and gets the
 * answer and its session's Location; DELETE on it ends the playback. A WHEP player is one of the
 * channel's real-time viewers like the watch page's (same per-channel and per-address limits, in
 * the viewer count and the metrics). Trickle ICE (PATCH) is refused with 405, as the draft allows.
 * Returns false for other URLs.
 */
export function whepRoute(o: WhepRouteOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  async function post(req: IncomingMessage, res: ServerResponse, channelId: string): Promise<void> {
    const channel = o.channel(channelId);
    if (!channel || channel.ended) return reply(res, 404, 'no such channel on this server');
    if (!sentSdp(req, res)) return;
    const sdp = await readOffer(req, res, o.maxOfferBytes);
    if (sdp === null) return;
    const offer = parseWhepOffer(sdp);
    const release = o.perAddress.take(o.addresses.of(req));
    const sessionId = randomBase64Url(16);
    try {
      const { transport, consumers } = await channel.realtime.openStandalone(viewerIdOf(sessionId), {
        dtlsParameters: offer.dtls,
        rtpCapabilities: offer.rtpCapabilities,
        wanted: offer.tracks,
        connectWithinMs: o.connectWithinMs,
        onClosed: release,
      });
      answered(res, writeWhepAnswer(offer, transport, consumers, channel.id), whepSessionPath(channelId, sessionId));
    } catch (error) {
      release();
      throw error;
    }
  }

  function remove(_req: IncomingMessage, res: ServerResponse, channelId: string, sessionId: string): void {
    const channel = o.channel(channelId);
    const viewerId = viewerIdOf(sessionId);
    if (!channel || channel.ended || !channel.realtime.has(viewerId)) return reply(res, 404, 'no such WHEP session');
    channel.realtime.leave(viewerId);
    reply(res, 200, '');
  }

  return sdpResourceRoute({ prefix: 'whep', parse: parseWhepPath, post, remove, logger: o.logger });
}
