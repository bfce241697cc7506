import { existsSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { lendWebHost, type WebHost } from '../../../protocol/web-host.js';
import type { Logger } from '../logger.js';
import { hasBearerToken } from './bearer.js';
import { channelIdOfThumbnailPath, parseHlsPath, thumbnailPath } from '../../../protocol/ids.js';
import type { Thumbnail } from '../readers/thumbnails/thumbnailer.js';
import type { LlHlsStream } from '../readers/hls/ll-stream.js';
import { serveHls } from './hls-route.js';
import { setSecurityHeaders } from './security-headers.js';

/** adapter-node's handler; it returns a promise (of nothing) for the requests SvelteKit renders. */
type Handler = (req: IncomingMessage, res: ServerResponse, next: () => void) => unknown;

export interface HttpOptions {
  webBuildDir: string;
  logger: Logger;
  /** A channel's LL-HLS on this instance: live, or ended and draining; undefined otherwise. */
  hls: (channelId: string) => LlHlsStream | undefined;
  /** A live channel's newest preview picture on this instance, or null. */
  thumbnail: (channelId: string) => Thumbnail | null;
  /** A channel of this instance as a watch page's link preview names it, or null. */
  channelDetails?: (channelId: string) => { title: string; description: string; live: boolean } | null;
  /** Cluster: the origin of the instance that carries a channel this one does not, or null. */
  originOf?: (channelId: string) => Promise<string | null>;
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** If set, /metrics answers only requests with `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  /** Slow clients: the request head, and the whole request, must arrive within these times. */
  timeouts: { headersMs: number; requestMs: number };
  /** Sources the pages' CSP must allow beyond their own origin (see WebHost). */
  crossOriginSources: readonly string[];
  /** PEM certificate (chain) and key: serve HTTPS instead of HTTP on the same port. */
  tls: { cert: Buffer; key: Buffer } | null;
  /** Protocol endpoints (WHIP): each answers the requests it owns and returns true, or false. */
  routes?: ReadonlyArray<(req: IncomingMessage, res: ServerResponse) => boolean>;
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

function reply(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.end(body);
}

/** Temporary: the channel may move to another instance when it is restarted. */
function redirect(res: ServerResponse, location: string): void {
  res.statusCode = 307;
  res.setHeader('Location', location);
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}

/**
 * The app's own errors are handled inside it (hooks.server.ts); this catches what escapes it
 * (adapter-node's handler is async, and nobody else would see its rejection), as one JSON log
 * line and a bare 500, never a stack trace.
 */
function serveWeb(web: Handler, req: IncomingMessage, res: ServerResponse, host: WebHost, notFound: () => void, logger: Logger): void {
  const failed = (error: unknown) => {
    logger.error({ err: error, method: req.method, path: req.url }, 'web app failed');
    if (!res.headersSent) reply(res, 500, 'Internal error');
    else res.destroy();
  };
  try {
    Promise.resolve(web(lendWebHost(req, host), res, notFound)).catch(failed);
  } catch (error) {
    failed(error);
  }
}

/**
 * Slowloris: a client that dribbles its request head keeps a connection (a file descriptor) for
 * as long as the server waits. Node's defaults wait 60 s for the head and check only every 30 s.
 * Only the upload is timed (Node stops the clock once the request is complete), so responses
 * that take long on purpose (LL-HLS blocking playlist reload, Socket.IO long-polling) are not
 * affected, nor are WebSockets (no longer HTTP once upgraded). The check runs often enough that
 * the timeouts hold to within a quarter (at most 1 s); each check only visits connections that
 * are in the middle of sending a request.
 */
function slowClientOptions({ headersMs, requestMs }: HttpOptions['timeouts']): http.ServerOptions {
  // https.Server stores these exactly as http.Server does and runs the same periodic check once
  // listening; it starts the clock when the TLS handshake is done (that is when HTTP begins).
  return {
    headersTimeout: headersMs,
    requestTimeout: requestMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(headersMs / 4))),
  };
}

/**
 * One HTTP server for everything: /hls (LL-HLS from memory), protocol
 * routes (/whip), /healthz, /metrics, then the SvelteKit app; over HTTPS with the same handler
 * and limits when `tls` is given (Socket.IO attaches to whichever server this returns). No HSTS
 * header either way: see security-headers.ts.
 */
export async function createHttpServer(o: HttpOptions): Promise<http.Server> {
  const web = await loadWebHandler(o.webBuildDir, o.logger);
  const webHost: WebHost = {
    log: o.logger,
    crossOriginSources: o.crossOriginSources,
    channelPreview: (channelId, host) => {
      const details = o.channelDetails?.(channelId);
      if (!details || !host) return null;
      // The Host header names this server as the client reached it (behind a proxy that keeps it).
      const origin = `${o.tls ? 'https' : 'http'}://${host}`;
      let pageUrl: URL;
      try {
        pageUrl = new URL(`/watch/${channelId}`, origin);
      } catch {
        return null;
      }
      return { ...details, pageUrl: pageUrl.href, image: o.thumbnail(channelId) ? new URL(thumbnailPath(channelId), origin).href : null };
    },
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const notFound = () => reply(res, 404, 'Not found');
    // A channel this instance does not carry: in a cluster, the same path on the instance that does.
    const toOrigin = (channelId: string): void => {
      if (!o.originOf) return notFound();
      o.originOf(channelId).then(
        (origin) => (origin ? redirect(res, new URL(url, origin).href) : notFound()),
        () => reply(res, 503, 'channel directory unavailable'),
      );
    };
    if (url === '/hls' || url.startsWith('/hls/')) {
      const hls = req.method === 'GET' || req.method === 'HEAD' ? parseHlsPath(url) : null;
      const stream = hls ? o.hls(hls.channelId) : undefined;
      // The hot path: serveHls writes the security and CORS headers with its own in one go.
      if (hls && stream) return serveHls(req, res, hls, stream);
      setSecurityHeaders(res);
      // Public media: players on any page (or on another instance's origin) may read it.
      res.setHeader('Access-Control-Allow-Origin', '*');
      if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'Method not allowed');
      if (!hls) return reply(res, url.includes('..') || url.includes('%') ? 400 : 404, 'Not an HLS file');
      return toOrigin(hls.channelId);
    }
    setSecurityHeaders(res);
    if (url.startsWith('/thumbnails/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'Method not allowed');
      const channelId = channelIdOfThumbnailPath(url);
      if (!channelId) return notFound();
      const picture = o.thumbnail(channelId);
      if (!picture) return toOrigin(channelId);
      // Renewed every few seconds: caches (and the directory's <img>) may keep it that long.
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': picture.jpeg.length, 'Cache-Control': 'public, max-age=5', 'Last-Modified': new Date(picture.at).toUTCString() });
      res.end(req.method === 'HEAD' ? undefined : picture.jpeg);
      return;
    }
    for (const route of o.routes ?? []) if (route(req, res)) return;
    if (url === '/healthz') return reply(res, 200, '{"ok":true}', 'application/json');
    if (url === '/metrics') {
      if (o.metricsToken !== undefined && !hasBearerToken(req.headers.authorization, o.metricsToken)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
        return reply(res, 401, 'Unauthorized');
      }
      o.metrics().then(
        ({ contentType, body }) => reply(res, 200, body, contentType),
        () => reply(res, 500, 'metrics unavailable'),
      );
      return;
    }
    if (web) return serveWeb(web, req, res, webHost, notFound, o.logger);
    notFound();
  };
  if (!o.tls) return http.createServer(slowClientOptions(o.timeouts), handle);
  return https.createServer(
    {
      ...slowClientOptions(o.timeouts),
      cert: o.tls.cert,
      key: o.tls.key,
      // Node waits 120 s for a TLS handshake by default: a client that opens a connection and
      // never finishes the handshake would hold it (a file descriptor) for that long, before the
      // headers timeout can start. Give the handshake no more time than the request head.
      handshakeTimeout: o.timeouts.headersMs,
    },
    handle,
  );
}
