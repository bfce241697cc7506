import type { IncomingMessage, ServerResponse } from 'node:http';
import type { types } from 'mediasoup';
import { parseWhipPath, randomBase64Url, whipSessionPath } from '../../../protocol/ids.js';
import { ChannelError } from '../channel/channel-error.js';
import { hasBearerToken } from '../http/bearer.js';
import type { Logger } from '../logger.js';
import { OfferError, parseWhipOffer, type WhipOffer } from './sdp-offer.js';

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

const ENDPOINT_METHODS = 'POST, OPTIONS';
const SESSION_METHODS = 'DELETE, OPTIONS';

function reply(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(status >= 400 ? `${message}\n` : message);
}

/** A bearer-authenticated API, not a cookie one: any page may call it (RFC 9725 §4.5 expects CORS for browser clients). */
function setCors(res: ServerResponse, methods: string): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Methods', methods);
  res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, If-Match');
  res.setHeader('Access-Control-Expose-Headers', 'Location, Link, ETag');
  res.setHeader('Access-Control-Max-Age', '600');
}

const HTTP_STATUS: Record<ChannelError['code'], number> = {
  'not-found': 404,
  conflict: 409,
  unauthorized: 401,
  'bad-request': 400,
  full: 503,
  internal: 500,
};

/** Reads the body up to `limit` bytes; null when it is larger (the caller answers 413). */
function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        settled = true;
        return resolve(null);
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!settled) resolve(Buffer.concat(chunks).toString('utf8'));
      settled = true;
    });
    req.on('error', (error) => {
      if (!settled) reject(error);
      settled = true;
    });
  });
}

/**
 * WHIP ingest (RFC 9725) on `/whip/<channelId>`: an encoder POSTs its SDP offer with the channel's
 * stream key as bearer token and gets the answer and its session's Location; DELETE on that
 * Location ends the broadcast. Trickle ICE (PATCH) is refused with 405, as the RFC allows: the
 * server is ICE-lite and its answer carries all its candidates. Returns false for other URLs.
 */
export function whipRoute(o: WhipRouteOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const payloadTooLarge = (res: ServerResponse) =>
    // The rest of the upload is not read: the connection closes after the answer.
    reply(res, 413, `the SDP offer is larger than ${o.maxOfferBytes} bytes`, { Connection: 'close' });

  async function post(req: IncomingMessage, res: ServerResponse, channelId: string): Promise<void> {
    const channel = o.channel(channelId);
    if (!channel || channel.ended) return reply(res, 404, 'no such channel on this server');
    const key = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!key || !channel.isStreamKey(key)) {
      return reply(res, 401, key ? 'wrong stream key for this channel' : 'send the channel’s stream key as Authorization: Bearer <key>', { 'WWW-Authenticate': 'Bearer realm="whip"' });
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/sdp') return reply(res, 415, `the offer must be sent as Content-Type: application/sdp, not ${type || 'nothing'}`);
    if (channel.hasSource) return reply(res, 409, 'this channel already has a broadcaster');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > o.maxOfferBytes) return payloadTooLarge(res);
    const sdp = await readBody(req, o.maxOfferBytes);
    if (sdp === null) return payloadTooLarge(res);
    const offer = parseWhipOffer(sdp, channel.rtpCapabilities);
    const sessionId = randomBase64Url(16);
    const answer = await channel.publishWhip(offer, sessionId);
    res.statusCode = 201;
    res.setHeader('Content-Type', 'application/sdp');
    res.setHeader('Location', whipSessionPath(channelId, sessionId));
    res.setHeader('Cache-Control', 'no-store');
    res.end(answer);
  }

  function remove(req: IncomingMessage, res: ServerResponse, channelId: string, sessionId: string): void {
    const channel = o.channel(channelId);
    if (!channel || channel.ended) return reply(res, 404, 'no such channel on this server');
    const key = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!key || !channel.isStreamKey(key)) return reply(res, 401, 'wrong or missing stream key', { 'WWW-Authenticate': 'Bearer realm="whip"' });
    if (!channel.endWhip(sessionId)) return reply(res, 404, 'no such WHIP session');
    reply(res, 200, '');
  }

  const failed = (res: ServerResponse, error: unknown, channelId: string) => {
    if (res.headersSent) return void res.destroy();
    if (error instanceof OfferError) return reply(res, 400, error.message);
    if (error instanceof ChannelError && error.code !== 'internal') return reply(res, HTTP_STATUS[error.code], error.message);
    o.logger.error({ err: error, channelId }, 'WHIP request failed');
    reply(res, 500, 'internal error');
  };

  return (req, res) => {
    const url = req.url ?? '/';
    if (url !== '/whip' && !url.startsWith('/whip/')) return false;
    const path = parseWhipPath(url);
    if (!path) {
      reply(res, 404, 'not a WHIP endpoint: use /whip/<channelId>');
      return true;
    }
    const methods = path.sessionId ? SESSION_METHODS : ENDPOINT_METHODS;
    setCors(res, methods);
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      reply(res, 204, '', { Allow: methods });
      return true;
    }
    if (!path.sessionId && method === 'POST') {
      post(req, res, path.channelId).catch((error: unknown) => failed(res, error, path.channelId));
      return true;
    }
    if (path.sessionId && method === 'DELETE') {
      try {
        remove(req, res, path.channelId, path.sessionId);
      } catch (error) {
        failed(res, error, path.channelId);
      }
      return true;
    }
    const reason = method === 'PATCH' ? 'trickle ICE is not supported: this server is ICE-lite and its answer carries all its candidates' : `${method} is not allowed here`;
    reply(res, 405, reason, { Allow: methods });
    return true;
  };
}
