import { lstat, realpath } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import sirv from 'sirv';

type Handler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/**
 * The only paths /hls serves: a live channel's playlist and its segments, by exact name. Matching
 * the raw URL (before any decoding) leaves no room for `..`, encoded dots or other files.
 */
const HLS_PATH = /^\/hls\/([A-Za-z0-9_-]{22})\/(index\.m3u8|seg_\d{1,10}\.ts)(?:\?.*)?$/;

export type HlsRequest = { channelId: string; file: string; isPlaylist: boolean };

export function parseHlsPath(rawUrl: string): HlsRequest | null {
  const match = HLS_PATH.exec(rawUrl);
  if (!match) return null;
  return { channelId: match[1]!, file: match[2]!, isPlaylist: match[2] === 'index.m3u8' };
}

/**
 * Segment files via sirv (`dev: true`: files come and go every second, so no startup snapshot).
 * A segment never changes once listed, so caches may keep it for the few seconds it lives.
 * Before sirv sees a request the file must be a regular file (not a symlink) inside hls/.
 */
export function segmentFiles(hlsRoot: string, segmentSeconds: number): (req: IncomingMessage, res: ServerResponse, r: HlsRequest, notFound: () => void) => void {
  const serve = sirv(hlsRoot, {
    dev: true,
    etag: false,
    dotfiles: false,
    extensions: [],
    setHeaders(res) {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Content-Type', 'video/mp2t');
      res.setHeader('Cache-Control', `public, max-age=${Math.ceil(segmentSeconds * 10)}`);
    },
  }) as Handler;
  const root = realpath(hlsRoot);
  return (req, res, r, notFound) => {
    const file = path.join(hlsRoot, r.channelId, r.file);
    Promise.all([lstat(file), realpath(file), root]).then(
      ([stat, real, realRoot]) => {
        if (!stat.isFile() || !real.startsWith(realRoot + path.sep)) return notFound();
        req.url = `/${r.channelId}/${r.file}`;
        serve(req, res, notFound);
      },
      notFound,
    );
  };
}
