import type { IncomingMessage, ServerResponse } from 'node:http';
import sirv from 'sirv';

type Handler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/**
 * Serves hls/ (mounted at /hls). `dev: true` makes sirv look at the disk on every request: the
 * files come and go every second, so a startup snapshot of the folder would be useless.
 * Playlists change every segment and must never be cached; a segment never changes once listed.
 */
export function hlsStatic(hlsRoot: string, segmentSeconds: number): Handler {
  return sirv(hlsRoot, {
    dev: true,
    etag: false,
    dotfiles: false,
    extensions: [],
    setHeaders(res, pathname) {
      res.setHeader('Access-Control-Allow-Origin', '*');
      if (pathname.endsWith('.m3u8')) {
        res.setHeader('Content-Type', 'application/vnd.apple.mpegurl');
        res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
      } else if (pathname.endsWith('.ts')) {
        res.setHeader('Content-Type', 'video/mp2t');
        // A segment outlives the live window by a few seconds at most; let caches keep it that long.
        res.setHeader('Cache-Control', `public, max-age=${Math.ceil(segmentSeconds * 10)}`);
      }
    },
  }) as Handler;
}
