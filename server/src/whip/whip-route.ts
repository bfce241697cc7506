import type { IncomingMessage, ServerResponse } from 'node:http';
import type { types } from 'mediasoup';
import { parseWhipPath, randomBase64Url, whipSessionPath } from '../../../protocol/ids.js';
import { answered, bearerOf, readOffer, reply, sdpResourceRoute, sentSdp } from '../http/sdp-exchange.js';
import type { Logger } from '../logger.js';
import { parseWhipOffer, type WhipOffer } from './sdp-offer.js';

/** What the WHIP route needs of a channel (Channel has it). */
export interface WhipChannel {
  readonly ended: boolean;
  readonly hasSource: boolean;
  readonly rtpCapabilities: types.RtpCapabilities;
  isStreamKey(key: string): boolean;
  publishWhip(offer: WhipOffer, sessionId: string): Promise<string>;
  endWhip(sessionId: string): boolean;
}

export interface WhipRouteOptions {
  /** This instance's live channel, or undefined. */
  channel: (channelId: string) => WhipChannel | undefined;
  /** Offers beyond this size are refused with 413 (a real offer is 2–8 KB). */
  maxOfferBytes: number;
  logger: Logger;
}

/**
 * WHIP ingest (RFC 9725) on `/whip/<channelId>`: an encoder POSTs its SDP offer with the channel's
 * stream key as bearer token and gets the answer and its session's Location; DELETE on that
 * Location ends the broadcast. Trickle ICE (PATCH) is refused with 405, as the RFC allows.
 * Returns false for other URLs.
 */
export function whipRoute(o: WhipRouteOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  async function post(req: IncomingMessage, res: ServerResponse, channelId: string): Promise<void> {
    const channel = o.channel(channelId);
    if (!channel || channel.ended) return reply(res, 404, 'no such channel on this server');
    const key = bearerOf(req);
    if (!key || !channel.isStreamKey(key)) {
      return reply(res, 401, key ? 'wrong stream key for this channel' : 'send the channel’s stream key as Authorization: Bearer <key>', { 'WWW-Authenticate': 'Bearer realm="whip"' });
    }
    if (!sentSdp(req, res)) return;
    if (channel.hasSource) return reply(res, 409, 'this channel already has a broadcaster');
    const sdp = await readOffer(req, res, o.maxOfferBytes);
    if (sdp === null) return;
    const offer = parseWhipOffer(sdp, channel.rtpCapabilities);
    const sessionId = randomBase64Url(16);
    answered(res, await channel.publishWhip(offer, sessionId), whipSessionPath(channelId, sessionId));
  }

  function remove(req: IncomingMessage, res: ServerResponse, channelId: string, sessionId: string): void {
    const channel = o.channel(channelId);
    if (!channel || channel.ended) return reply(res, 404, 'no such channel on this server');
    const key = bearerOf(req);
    if (!key || !channel.isStreamKey(key)) return reply(res, 401, 'wrong or missing stream key', { 'WWW-Authenticate': 'Bearer realm="whip"' });
    if (!channel.endWhip(sessionId)) return reply(res, 404, 'no such WHIP session');
    reply(res, 200, '');
  }

  return sdpResourceRoute({ prefix: 'whip', parse: parseWhipPath, post, remove, logger: o.logger });
}
