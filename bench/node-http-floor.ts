/**
 * The floor of serving HLS with Node's own HTTP stack, for bench/hls-serving.ts: a bare
 * `http.createServer` in its own process that answers from memory with the same headers as
 * livecast's /hls, and does nothing else (no routing, no packager, no Socket.IO in front). What
 * livecast costs above it is livecast's; what it costs above nginx is Node's.
 *
 *   node --import tsx bench/node-http-floor.ts <mirror dir> <port>
 *
 * Files are read once (segments and parts never change); the playlist is re-read every 50 ms
 * (the mirror renames a new one in place every 100 ms).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { HLS_COMMON_HEADERS } from '../server/src/http/hls-route.js';

const [dir, port] = [process.argv[2]!, Number(process.argv[3])];
const files = new Map<string, Buffer>();
let playlists = new Map<string, Buffer>();

const read = (file: string): Buffer | undefined => {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
};

setInterval(() => {
  const next = new Map<string, Buffer>();
  for (const key of playlists.keys()) {
    const data = read(path.join(dir, key));
    if (data) next.set(key, data);
  }
  playlists = next;
}, 50).unref();

const TYPES: Record<string, string> = { m3u8: 'application/vnd.apple.mpegurl', m4s: 'video/iso.segment', mp4: 'video/mp4' };

http
  .createServer((req, res) => {
    // /hls/<channel>/<file>, as the load generator asks (no query: plain reloads).
    const key = (req.url ?? '/').slice('/hls/'.length);
    let data: Buffer | undefined;
    if (key.endsWith('.m3u8')) {
      data = playlists.get(key);
      if (!data && (data = read(path.join(dir, key)))) playlists.set(key, data);
    } else {
      data = files.get(key);
      if (!data && (data = read(path.join(dir, key)))) files.set(key, data);
    }
    if (!data) {
      res.writeHead(404, [...HLS_COMMON_HEADERS, 'Content-Length', '0']);
      return res.end();
    }
    const type = TYPES[key.slice(key.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
    const cache = key.endsWith('.m3u8') ? 'no-cache' : 'public, max-age=20';
    res.writeHead(200, [...HLS_COMMON_HEADERS, 'Content-Length', String(data.length), 'Content-Type', type, 'Cache-Control', cache]);
    res.end(data);
  })
  .listen(port, '127.0.0.1', () => process.send?.('listening'));
