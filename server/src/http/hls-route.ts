import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HlsFileRequest } from '../../../protocol/ids.js';
import type { BlockResult, LlHlsStream } from '../readers/hls/ll-stream.js';
import { SECURITY_HEADER_LIST } from './security-headers.js';

/**
 * Headers every /hls response carries: the server's security headers, and CORS (public media:
 * players on any page, or on another instance's origin, may read it).
 */
export const HLS_COMMON_HEADERS: readonly string[] = [...SECURITY_HEADER_LIST, 'Access-Control-Allow-Origin', '*'];

/**
 * One `writeHead` with a flat header list and the body in the same write: /hls answers thousands
 * of requests a second, and the per-response header objects (setHeader, spreads) were a visible
 * share of the server's CPU and garbage at 2,000 viewers.
 */
function send(res: ServerResponse, status: number, body: string | Buffer, headers: readonly string[]): void {
  if (res.destroyed) return;
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, [...HLS_COMMON_HEADERS, 'Content-Length', String(data.length), ...headers]);
  res.end(res.req.method === 'HEAD' ? undefined : data);
}

const plain = (cache: string) => ['Content-Type', 'text/plain; charset=utf-8', 'Cache-Control', cache] as const;
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

const NO_QUERY: Pick<URLSearchParams, 'get'> = { get: () => null };

/**
 * What the delivery directives ask (rfc8216bis §6.2.5): `_HLS_msn` (+ `_HLS_part`) block until
 * that segment (part) is in the playlist; `_HLS_skip=YES` (or `v2`) asks for a delta update.
 * Returns an error message for malformed or too-far-ahead requests (400).
 */
export function parseDirectives(query: Pick<URLSearchParams, 'get'>, stream: Pick<LlHlsStream, 'lastCompleteMsn' | 'newestPart' | 'partTarget'>): { msn?: number; part?: number; skip: boolean } | string {
  const number = (name: string): number | null | undefined => {
    const raw = query.get(name);
    if (raw === null) return undefined;
    return /^\d{1,10}$/.test(raw) ? Number(raw) : null;
  };
  const msn = number('_HLS_msn');
  const part = number('_HLS_part');
  const skip = query.get('_HLS_skip');
  if (msn === null) return '_HLS_msn must be a segment number';
  if (part === null) return '_HLS_part must be a part number';
  if (part !== undefined && msn === undefined) return '_HLS_part needs _HLS_msn';
  if (skip !== null && skip !== 'YES' && skip !== 'v2') return '_HLS_skip must be YES or v2';
  if (msn !== undefined) {
    // §6.2.5.2: further than two segments past the last one, or the Advance Part Limit past the last part: 400 at once.
    if (msn > stream.lastCompleteMsn + 2) return `segment ${msn} is too far ahead of the live edge (${stream.lastCompleteMsn})`;
    const newest = stream.newestPart;
    const advancePartLimit = stream.partTarget < 1 ? Math.floor(3 / stream.partTarget) : 3;
    if (part !== undefined && newest && msn === newest.msn && part > newest.part + advancePartLimit) return `part ${part} is too far ahead of the live edge`;
  }
  return { msn, part, skip: skip !== null };
}

/**
 * Serves a channel's LL-HLS from memory. Playlists: plain requests get the current one; blocking
 * requests wait for their segment or part, at most three target durations, then 503 (§6.2.5.2).
 * Files: init segments, segments and parts by name; a request for the hinted part waits until it
 * exists. Caching is CDN-friendly: a blocking response for a given msn/part, a segment and a part
 * never change, so caches may keep them for as long as they are listed; a plain playlist request
 * must not be served stale.
 */
export function serveHls(req: IncomingMessage, res: ServerResponse, request: HlsFileRequest, channelStream: LlHlsStream): void {
  const renditions = channelStream.renditions;
  if (request.rendition !== null) {
    const rendition = renditions?.stream(request.rendition);
    if (!rendition) return send(res, 404, 'no such rendition\n', plain('no-store'));
    return serveStream(req, res, request, rendition);
  }
  if (request.isPlaylist && renditions) {
    // Several renditions: the channel's playlist is the multivariant one (reloaded by no player).
    const multivariant = renditions.multivariant();
    if (multivariant === null) return send(res, 404, 'no live playlist for this channel yet\n', plain('no-store'));
    return send(res, 200, multivariant, ['Content-Type', PLAYLIST_TYPE, 'Cache-Control', 'no-cache']);
  }
  serveStream(req, res, request, channelStream);
}

function serveStream(req: IncomingMessage, res: ServerResponse, request: HlsFileRequest, stream: LlHlsStream): void {
  // A file or a blocking response stays valid while it can be listed: the window plus the removal delay.
  const lifetime = `public, max-age=${Math.ceil(stream.targetDuration * 20)}`;
  const unavailable = (result: BlockResult) =>
    result === 'timeout' ? send(res, 503, 'not available yet; try again\n', [...plain('no-store'), 'Retry-After', '1']) : send(res, 404, 'the stream has ended\n', plain('no-store'));

  if (request.isPlaylist) {
    // Most requests have no query (plain reloads): no URL to parse for them.
    const url = req.url ?? '/';
    const query = url.includes('?') ? new URL(url, 'http://localhost').searchParams : NO_QUERY;
    if (!stream.ready) return send(res, 404, 'no live playlist for this channel yet\n', plain('no-store'));
    const directives = parseDirectives(query, stream);
    if (typeof directives === 'string') return send(res, 400, `${directives}\n`, plain('no-store'));
    const { msn, part, skip } = directives;
    const answer = () => send(res, 200, stream.playlistBytes(skip), ['Content-Type', PLAYLIST_TYPE, 'Cache-Control', msn === undefined ? 'no-cache' : lifetime]);
    if (msn === undefined) return answer();
    void stream.waitUntil(() => stream.has(msn, part)).then((result) => (result === 'ready' || (result === 'gone' && stream.ended) ? answer() : unavailable(result)));
    return;
  }

  const name = request.file;
  const contentType = name.endsWith('.mp4') ? 'video/mp4' : 'video/iso.segment';
  const file = () => stream.file(name);
  const sendFile = (data: Buffer) => send(res, 200, data, ['Content-Type', contentType, 'Cache-Control', lifetime]);
  const now = file();
  if (now) return sendFile(now);
  if (!stream.isHinted(name)) return send(res, 404, 'no such file (it may have left the window)\n', plain('no-store'));
  // The preload hint: answered the moment the part exists (parts are numbered across segments,
  // so the hinted one is always the next made); if the stream ends first, 404.
  void stream.waitUntil(() => file() !== undefined).then((result) => {
    const data = file();
    if (data) sendFile(data);
    else unavailable(result);
  });
}
