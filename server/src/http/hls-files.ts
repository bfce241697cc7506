import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

// The only paths /hls serves (a live channel's playlist and its segments, by exact name) are
// defined with every other name built from a channel id.
import { parseHlsPath, type HlsFileRequest as HlsRequest } from '../../../protocol/ids.js';

export { parseHlsPath, type HlsRequest };

/**
 * Serves segments: from memory for the live window, otherwise from disk. A file is opened before anything is sent, so FFmpeg deleting it a
 * moment later (it keeps only a short window) cannot break the response: an open file stays
 * readable. (A stat-then-open static server crashed here under load when a segment vanished in
 * between.) O_NOFOLLOW refuses symlinks; the channel folder must resolve inside hls/.
 * A segment never changes once listed, so caches may keep it for the few seconds it lives.
 */
export function segmentFiles(hlsRoot: string, segmentSeconds: number, inMemory: (r: HlsRequest) => Buffer | undefined) {
  const root = realpath(hlsRoot);
  const cacheControl = `public, max-age=${Math.ceil(segmentSeconds * 10)}`;
  const writeHead = (res: ServerResponse, size: number) =>
    res.writeHead(200, {
      'Content-Type': 'video/mp2t',
      'Content-Length': size,
      'Cache-Control': cacheControl,
      'Access-Control-Allow-Origin': '*',
    });
  return async (req: IncomingMessage, res: ServerResponse, r: HlsRequest, notFound: () => void): Promise<void> => {
    // The live window is held in memory (LivePlaylist); only older segments come from disk.
    const cached = inMemory(r);
    if (cached) {
      writeHead(res, cached.length);
      return void res.end(req.method === 'HEAD' ? undefined : cached);
    }
    const dir = path.join(hlsRoot, r.channelId);
    let handle;
    try {
      const [realDir, realRoot] = await Promise.all([realpath(dir), root]);
      if (path.dirname(realDir) !== realRoot) return notFound();
      handle = await open(path.join(dir, r.file), constants.O_RDONLY | constants.O_NOFOLLOW);
      const stat = await handle.stat();
      if (!stat.isFile()) {
        await handle.close();
        return notFound();
      }
      writeHead(res, stat.size);
      if (req.method === 'HEAD') {
        await handle.close();
        return void res.end();
      }
      const stream = handle.createReadStream();
      stream.on('error', () => res.destroy());
      res.on('close', () => stream.destroy());
      stream.pipe(res);
    } catch {
      await handle?.close().catch(() => undefined);
      if (!res.headersSent) notFound();
      else res.destroy();
    }
  };
}
