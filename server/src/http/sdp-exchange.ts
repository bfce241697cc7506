import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChannelError } from '../channel/channel-error.js';
import type { Logger } from '../logger.js';
import type { parseWhipPath } from '../../../protocol/ids.js';

/**
 * What WHIP (RFC 9725) and WHEP share over HTTP: an SDP offer POSTed to an endpoint, answered
 * with 201 + the answer + the session's Location, DELETE on that Location, plain-text reasons
 * for every refusal, and CORS for browser clients on other origins.
 */

/** A refusal of the offer itself: the client gets 400 with this reason. */
export class OfferError extends Error {}

export function reply(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(status >= 400 ? `${message}\n` : message);
}

/** A bearer-authenticated API, not a cookie one: any page may call it (RFC 9725 §4.5 expects CORS for browser clients). */
export function allowCrossOrigin(res: ServerResponse, methods: string): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Methods', methods);
  res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, If-Match');
  res.setHeader('Access-Control-Expose-Headers', 'Location, Link, ETag');
  res.setHeader('Access-Control-Max-Age', '600');
}

export const HTTP_STATUS: Record<ChannelError['code'], number> = {
  'not-found': 404,
  conflict: 409,
  unauthorized: 401,
  'bad-request': 400,
  full: 503,
  internal: 500,
};

/** The bearer token of `Authorization: Bearer <token>`, if any. */
export const bearerOf = (req: IncomingMessage): string | undefined => /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1];

/** Reads the body up to `limit` bytes; null when it is larger (the caller answers 413). */
export function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
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

/** Whether the request carries SDP; answers 415 when it does not. */
export function sentSdp(req: IncomingMessage, res: ServerResponse): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/sdp') return true;
  reply(res, 415, `the offer must be sent as Content-Type: application/sdp, not ${type || 'nothing'}`);
  return false;
}

/**
 * The SDP offer of a POST, or null once the request has been answered 413 for a body over
 * `maxBytes` (the rest of the upload is not read: the connection closes).
 */
export async function readOffer(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<string | null> {
  const tooLarge = () => reply(res, 413, `the SDP offer is larger than ${maxBytes} bytes`, { Connection: 'close' });
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) return (tooLarge(), null);
  const sdp = await readBody(req, maxBytes);
  if (sdp === null) tooLarge();
  return sdp;
}

/** 201 with the SDP answer and the session's Location. */
export function answered(res: ServerResponse, answer: string, location: string): void {
  res.statusCode = 201;
  res.setHeader('Content-Type', 'application/sdp');
  res.setHeader('Location', location);
  res.setHeader('Cache-Control', 'no-store');
  res.end(answer);
}

/** Answers a failed request: the offer's or the channel's refusal with its reason, anything else 500 (logged). */
export function answerFailure(res: ServerResponse, error: unknown, logger: Logger, context: Record<string, unknown>): void {
  if (res.headersSent) return void res.destroy();
  if (error instanceof OfferError) return reply(res, 400, error.message);
  if (error instanceof ChannelError && error.code !== 'internal') return reply(res, HTTP_STATUS[error.code], error.message);
  logger.error({ err: error, ...context }, 'SDP exchange failed');
  reply(res, 500, 'internal error');
}

/** `PATCH` (trickle ICE) is refused as both RFCs allow: the server is ICE-lite and its answer carries all its candidates. */
export function refuseMethod(res: ServerResponse, method: string, allowed: string): void {
  const reason = method === 'PATCH' ? 'trickle ICE is not supported: this server is ICE-lite and its answer carries all its candidates' : `${method} is not allowed here`;
  reply(res, 405, reason, { Allow: allowed });
}

const ENDPOINT_METHODS = 'POST, OPTIONS';
const SESSION_METHODS = 'DELETE, OPTIONS';

/**
 * The HTTP side shared by WHIP and WHEP: `/<prefix>/<channelId>` takes POST (an offer),
 * `/<prefix>/<channelId>/<sessionId>` takes DELETE; OPTIONS answers CORS preflights, anything
 * else (trickle PATCH included) is 405. A handler that throws or rejects gets `answerFailure`.
 * The returned route answers false for other URLs.
 */
export function sdpResourceRoute(o: {
  prefix: 'whip' | 'whep';
  parse: typeof parseWhipPath;
  post: (req: IncomingMessage, res: ServerResponse, channelId: string) => Promise<void>;
  remove: (req: IncomingMessage, res: ServerResponse, channelId: string, sessionId: string) => void;
  logger: Logger;
}): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url ?? '/';
    if (url !== `/${o.prefix}` && !url.startsWith(`/${o.prefix}/`)) return false;
    const path = o.parse(url);
    if (!path) {
      reply(res, 404, `not a ${o.prefix.toUpperCase()} endpoint: use /${o.prefix}/<channelId>`);
      return true;
    }
    const methods = path.sessionId ? SESSION_METHODS : ENDPOINT_METHODS;
    allowCrossOrigin(res, methods);
    const method = req.method ?? 'GET';
    const failed = (error: unknown) => answerFailure(res, error, o.logger, { channelId: path.channelId, protocol: o.prefix });
    if (method === 'OPTIONS') reply(res, 204, '', { Allow: methods });
    else if (!path.sessionId && method === 'POST') o.post(req, res, path.channelId).catch(failed);
    else if (path.sessionId && method === 'DELETE') {
      try {
        o.remove(req, res, path.channelId, path.sessionId);
      } catch (error) {
        failed(error);
      }
    } else refuseMethod(res, method, methods);
    return true;
  };
}
