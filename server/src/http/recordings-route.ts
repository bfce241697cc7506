import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseRecordingPath, type RecordingEntry } from '../../../protocol/index.js';
import { recordingUpdate } from '../../../protocol/schemas.js';
import type { Logger } from '../logger.js';
import type { RecordingStore } from '../readers/recording/recording-store.js';
import { bearerOf, readBody, reply } from './sdp-exchange.js';
import { sendFile } from './send-file.js';

/** Recordings other instances hold (cluster); alone, there are none. */
export interface RecordingsElsewhere {
  /** Every instance's listed recordings (this one's included), newest first. */
  listed(): Promise<RecordingEntry[]>;
  /** The origin of the instance that holds a recording this one does not, or null. */
  originOf(recordingId: string): Promise<string | null>;
}

export interface RecordingsRouteOptions {
  /** This instance's recordings; null when it records nothing (RECORDINGS=off). */
  store: RecordingStore | null;
  elsewhere?: RecordingsElsewhere;
  logger: Logger;
}

const METHODS = 'GET, HEAD, DELETE, PATCH, OPTIONS';
const MAX_UPDATE_BYTES = 1024;

const CONTENT_TYPES: Record<string, string> = { mp4: 'video/mp4', m4s: 'video/iso.segment', jpg: 'image/jpeg' };

function json(res: ServerResponse, status: number, body: unknown, cache = 'no-cache'): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': cache });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

/** A file name a browser saves the download under: the title's letters and digits, or the id. */
export function downloadName(entry: Pick<RecordingEntry, 'title' | 'recordingId'>): string {
  const base = entry.title.normalize('NFKD').replace(/[^A-Za-z0-9 _-]+/g, '').trim().replace(/\s+/g, '-').slice(0, 60);
  return `${base || 'livecast'}-${entry.recordingId.slice(0, 8)}.mp4`;
}

/**
 * Recordings over HTTP, public media like /hls (any origin may read; the broadcaster's changes are
 * authorised by the publish token as a bearer, not by cookies):
 *
 * - `GET /recordings`: the listed recordings (the whole cluster's), newest first (JSON)
 * - `GET /recordings/<id>`: one recording, listed or not (JSON); `DELETE` it, or `PATCH`
 *   `{ "listed": bool }`, with `Authorization: Bearer <publish token>`
 * - `GET /recordings/<id>/index.m3u8`, `init_N.mp4`, `seg_N.m4s`: the replay (VOD; EVENT while live)
 * - `GET /recordings/<id>/download.mp4`: one MP4 (remuxed on the first request), `thumbnail.jpg`
 *
 * A recording another instance holds is answered with a 307 to it. Returns false for other URLs.
 */
export function recordingsRoute(o: RecordingsRouteOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { store, logger } = o;

  const elsewhereOrNotFound = async (res: ServerResponse, recordingId: string, url: string): Promise<void> => {
    const origin = await o.elsewhere?.originOf(recordingId);
    if (!origin) return reply(res, 404, 'no such recording (it may have been deleted)');
    res.writeHead(307, { Location: new URL(url, origin).href, 'Cache-Control': 'no-store' });
    res.end();
  };

  /** The owner's request: the recording is here and the bearer is its broadcast's publish token. */
  const authorised = (req: IncomingMessage, res: ServerResponse, recordingId: string): boolean => {
    const token = bearerOf(req);
    if (!token) {
      reply(res, 401, 'deleting or changing a recording needs its broadcast’s publish token: Authorization: Bearer <publish token>', { 'WWW-Authenticate': 'Bearer realm="recordings"' });
      return false;
    }
    if (!store!.isOwner(recordingId, token)) {
      reply(res, 403, 'this is not the publish token of the broadcast that made this recording');
      return false;
    }
    return true;
  };

  async function handle(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    const request = parseRecordingPath(url);
    const method = req.method ?? 'GET';
    if (!request) return reply(res, url.includes('..') || url.includes('%') ? 400 : 404, 'not a recording: use /recordings/<id>, /recordings/<id>/index.m3u8 or /recordings/<id>/download.mp4');
    if (method === 'OPTIONS') return reply(res, 204, '', { Allow: METHODS });
    const reading = method === 'GET' || method === 'HEAD';

    if (request.kind === 'list') {
      if (!reading) return reply(res, 405, `${method} is not allowed here`, { Allow: 'GET, HEAD, OPTIONS' });
      const recordings = o.elsewhere ? await o.elsewhere.listed() : (store?.list() ?? []).filter((r) => r.listed);
      return json(res, 200, { recordings });
    }

    const { recordingId } = request;
    const here = store?.entry(recordingId);
    if (!here || !store) return elsewhereOrNotFound(res, recordingId, url);

    if (request.kind === 'recording') {
      if (reading) return json(res, 200, here);
      if (method === 'DELETE') {
        if (!authorised(req, res, recordingId)) return;
        if (store.isLive(recordingId)) return reply(res, 409, 'the broadcast is still live: stop it first, then delete its recording');
        await store.delete(recordingId, 'owner');
        return reply(res, 204, '');
      }
      if (method === 'PATCH') {
        if (!authorised(req, res, recordingId)) return;
        const body = await readBody(req, MAX_UPDATE_BYTES);
        if (body === null) return reply(res, 413, `the update is larger than ${MAX_UPDATE_BYTES} bytes`, { Connection: 'close' });
        let update;
        try {
          update = recordingUpdate.safeParse(JSON.parse(body));
        } catch {
          return reply(res, 400, 'the body must be JSON: { "listed": true | false }');
        }
        if (!update.success) return reply(res, 400, `invalid update: ${update.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
        await store.setListed(recordingId, update.data.listed);
        return json(res, 200, store.entry(recordingId));
      }
      return reply(res, 405, `${method} is not allowed here`, { Allow: METHODS });
    }

    if (!reading) return reply(res, 405, `${method} is not allowed here`, { Allow: 'GET, HEAD, OPTIONS' });
    const { file } = request;
    if (file === 'index.m3u8') {
      const playlist = await store.playlist(recordingId);
      if (!playlist) return reply(res, 404, 'this recording has no segment yet');
      const live = here.status === 'recording';
      res.writeHead(200, { 'Content-Type': 'application/vnd.apple.mpegurl', 'Content-Length': String(Buffer.byteLength(playlist)), 'Cache-Control': live ? 'no-cache' : 'public, max-age=60' });
      return void res.end(method === 'HEAD' ? undefined : playlist);
    }
    if (file === 'download.mp4') {
      const made = await store.download(recordingId);
      if ('refused' in made) {
        if (made.refused === 'live') return reply(res, 409, 'the broadcast is still live: its MP4 can be downloaded once it ends');
        return reply(res, 404, made.refused === 'empty' ? 'this recording has no media to download' : 'no such recording');
      }
      return sendFile(req, res, made.file, { 'Content-Type': 'video/mp4', 'Cache-Control': 'public, max-age=3600', 'Content-Disposition': `attachment; filename="${downloadName(here)}"` });
    }
    const path = store.filePath(recordingId, file);
    if (!path) return reply(res, 404, 'no such recording');
    // Segments and init segments never change once listed; the picture is the broadcast's last.
    const type = CONTENT_TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
    return sendFile(req, res, path, { 'Content-Type': type, 'Cache-Control': 'public, max-age=86400' });
  }

  return (req, res) => {
    const url = req.url ?? '/';
    if (url !== '/recordings' && !url.startsWith('/recordings/') && !url.startsWith('/recordings?')) return false;
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Methods', METHODS);
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Range');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range');
    res.setHeader('Access-Control-Max-Age', '600');
    handle(req, res, url).catch((error: unknown) => {
      logger.error({ err: error, method: req.method, path: url }, 'recording request failed');
      if (!res.headersSent) reply(res, 500, 'internal error');
      else res.destroy();
    });
    return true;
  };
}
