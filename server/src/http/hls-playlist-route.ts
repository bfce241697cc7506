import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LivePlaylist } from '../readers/hls/live-playlist.js';

export type PlaylistLookup = (channelId: string) => LivePlaylist | null | undefined;

/** A blocked request waits at most this many target durations before getting what there is. */
const MAX_BLOCK_TARGET_DURATIONS = 3;

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.end(body);
}

/**
 * Serves a live playlist from memory (LivePlaylist) with LL-HLS blocking reload:
 * `?_HLS_msn=N` is answered as soon as segment N is listed.
 */
export function servePlaylist(req: IncomingMessage, res: ServerResponse, channelId: string, lookup: PlaylistLookup, segmentSeconds: number): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const playlist = lookup(channelId); // channelId was matched by parseHlsPath
  if (!playlist?.body) return send(res, 404, 'no live playlist for this channel');

  const msnParam = url.searchParams.get('_HLS_msn');
  if (msnParam === null) {
    if (url.searchParams.has('_HLS_part')) return send(res, 400, '_HLS_part needs _HLS_msn');
    return send(res, 200, playlist.body, 'application/vnd.apple.mpegurl');
  }
  const msn = Number(msnParam);
  if (!/^\d{1,10}$/.test(msnParam) || !Number.isSafeInteger(msn)) return send(res, 400, '_HLS_msn must be a segment number');
  // The spec lets a server refuse to wait for more than two segments ahead.
  if (msn > playlist.newestSegment + 2) {
    return send(res, 400, `segment ${msn} is too far ahead of the live edge (${playlist.newestSegment})`);
  }
  const reply = () => {
    if (!res.destroyed) send(res, 200, playlist.body ?? '', 'application/vnd.apple.mpegurl');
  };
  if (playlist.newestSegment >= msn) reply();
  else void playlist.waitForSegment(msn, segmentSeconds * MAX_BLOCK_TARGET_DURATIONS * 1000).then(reply);
}
