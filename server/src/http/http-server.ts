import { existsSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../logger.js';
import { hlsStatic } from './hls-static.js';
import { servePlaylist, type PlaylistLookup } from './hls-playlist-route.js';

type Handler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

export interface HttpOptions {
  hlsRoot: string;
  segmentSeconds: number;
  webBuildDir: string;
  logger: Logger;
  playlists: PlaylistLookup;
}

/** The SvelteKit app as built by adapter-node, or null when it has not been built. */
async function loadWebHandler(buildDir: string, logger: Logger): Promise<Handler | null> {
  const file = path.join(buildDir, 'handler.js');
  if (!existsSync(file)) {
    logger.warn({ file }, 'web app is not built (run npm run build); serving HLS and signalling only');
    return null;
  }
  const mod = (await import(pathToFileURL(file).href)) as { handler: Handler };
  return mod.handler;
}

function notFound(res: ServerResponse): void {
  res.statusCode = 404;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end('Not found');
}

/** One HTTP server for everything: /hls (playlists from memory, segments by sirv), /healthz, then the SvelteKit app. */
export async function createHttpServer(o: HttpOptions): Promise<http.Server> {
  const hls = hlsStatic(o.hlsRoot, o.segmentSeconds);
  const web = await loadWebHandler(o.webBuildDir, o.logger);
  return http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/hls' || url.startsWith('/hls/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.statusCode = 405;
        return void res.end();
      }
      if (servePlaylist(req, res, o.playlists, o.segmentSeconds)) return;
      req.url = url.slice('/hls'.length) || '/';
      return hls(req, res, () => notFound(res));
    }
    if (url === '/healthz') {
      res.setHeader('Content-Type', 'application/json');
      return void res.end('{"ok":true}');
    }
    if (web) return web(req, res, () => notFound(res));
    notFound(res);
  });
}
