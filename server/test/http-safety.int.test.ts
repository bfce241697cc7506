import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { logCapture, watchProcessOutput } from './helpers/output.js';
import { mediaSequenceOf, startFedChannel, startTestApp, type FedChannel } from './helpers/test-app.js';

/** GET with the path sent exactly as written (fetch would normalise `..` away). */
function rawGet(
  base: string,
  rawPath: string,
  method = 'GET',
  headers: http.OutgoingHttpHeaders = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: rawPath, method, headers }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A stand-in for the built SvelteKit app (the integration tests run before `npm run build`; the
 * real app's 404 page and CSP are tested in e2e/http-hygiene.spec.ts): a page at /, failures
 * that escape it at /boom-*, and everything else passed on as unknown.
 */
function fakeWebBuild(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'livecast-fake-web-'));
  writeFileSync(
    path.join(dir, 'handler.js'),
    `export function handler(req, res, next) {
      if (req.url === '/') { res.setHeader('Content-Type', 'text/html'); return res.end('<!doctype html><h1>livecast</h1>'); }
      if (req.url === '/boom-sync') throw new Error('secret detail of a sync failure');
      if (req.url === '/boom-async') return Promise.reject(new Error('secret detail of an async failure'));
      next();
    }`,
  );
  return dir;
}

const METRICS_TOKEN = 'metrics-token-for-the-tests-0123';

describe('HTTP safety and metrics', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let fed: FedChannel;
  const log = logCapture();
  const webBuild = fakeWebBuild();
  beforeAll(async () => {
    app = await startTestApp({ WEB_BUILD_DIR: webBuild, METRICS_TOKEN }, { logger: createLogger('warn', log) });
    fed = await startFedChannel(app);
  });
  afterAll(async () => {
    await fed?.stop();
    await app?.stop();
    rmSync(webBuild, { recursive: true, force: true });
  });

  it('refuses every path that is not a live channel’s playlist or segment', async () => {
    const id = fed.channel.id;
    writeFileSync(path.join(app.config.hls.dir, 'secret.txt'), 'secret');
    // Media is served from memory, never from this folder; a file planted there is not served either.
    mkdirSync(path.join(app.config.hls.dir, id), { recursive: true });
    symlinkSync('/etc/passwd', path.join(app.config.hls.dir, id, 'seg_99999.m4s'));
    const attempts = [
      '/hls/../package.json',
      '/hls/%2e%2e/package.json',
      '/hls/%2E%2E%2Fpackage.json',
      `/hls/${id}/../../package.json`,
      `/hls/${id}/%2e%2e%2f%2e%2e%2fpackage.json`,
      `/hls/${id}/..%2f..%2fpackage.json`,
      `/hls/${id}/seg_1.m4s/../../../package.json`,
      `/hls/${id}/seg_99999.m4s`, // a symlink to /etc/passwd on disk
      `/hls/${id}/seg_1.ts`, // not a file kind this server makes
      '/hls/secret.txt',
      `/hls/${id}/index.m3u8.tmp`,
      `/hls/${id}/`,
      '/hls/',
      '/hls',
      '/hls/AAAAAAAAAAAAAAAAAAAAAA/index.m3u8', // unknown channel
      `/hls/${id}\\..\\..\\package.json`,
    ];
    for (const attempt of attempts) {
      const res = await rawGet(app.url, attempt);
      expect(res.status, attempt).toBeGreaterThanOrEqual(400);
      expect(res.status, attempt).toBeLessThan(500);
      expect(res.body, attempt).not.toContain('"name"');
      expect(res.body, attempt).not.toContain('root:');
      expect(res.body, attempt).not.toContain('secret');
    }
    expect((await rawGet(app.url, `/hls/${id}/index.m3u8`, 'POST')).status).toBe(405);
  });

  it('serves the live playlist never stale and its segments as fMP4', async () => {
    const id = fed.channel.id;
    const playlist = await rawGet(app.url, `/hls/${id}/index.m3u8`);
    expect(playlist.status).toBe(200);
    expect(playlist.headers['cache-control']).toBe('no-cache');
    const segment = /^(seg_\d+\.m4s)$/m.exec(playlist.body)![1]!;
    const res = await rawGet(app.url, `/hls/${id}/${segment}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('video/iso.segment');
    expect(Number(res.headers['content-length'])).toBeGreaterThan(1000);
    // A segment that is not (or no longer) held is a 404, and the server carries on.
    expect((await rawGet(app.url, `/hls/${id}/seg_99998.m4s`)).status).toBe(404);
    expect((await rawGet(app.url, '/healthz')).status).toBe(200);
  });

  it('exposes Prometheus metrics for channels, viewers, workers and errors', async () => {
    const res = await rawGet(app.url, '/metrics', 'GET', { Authorization: `Bearer ${METRICS_TOKEN}` });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(/^livecast_channels\{phase="live"\} 1$/m);
    expect(res.body).toMatch(/^livecast_viewers\{mode="hls"\} 0$/m);
    expect(res.body).toMatch(/^livecast_mediasoup_workers 1$/m);
    expect(res.body).toMatch(/^livecast_worker_routers\{slot="0"\} 1$/m);
    expect(res.body).toMatch(/^livecast_hls_rtp_ports_in_use 4$/m);
    expect(res.body).toContain('livecast_ffmpeg_restarts_total');
    expect(res.body).toContain('livecast_request_errors_total');
    expect(res.body).toContain('livecast_process_resident_memory_bytes');
  });

  it('answers /metrics only with METRICS_TOKEN as bearer token when it is set', async () => {
    for (const authorization of [undefined, `Bearer ${METRICS_TOKEN}x`, `Bearer ${METRICS_TOKEN.slice(1)}`, `Basic ${METRICS_TOKEN}`, METRICS_TOKEN]) {
      const res = await rawGet(app.url, '/metrics', 'GET', authorization ? { Authorization: authorization } : {});
      expect(res.status, authorization).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(res.body).not.toContain('livecast_');
    }
    const res = await rawGet(app.url, '/metrics', 'GET', { Authorization: `bearer ${METRICS_TOKEN}` });
    expect(res.status).toBe(200);
    expect(res.body).toContain('livecast_channels');
  });

  it('answers unknown URLs 404 and failures of the web app 500, without details, and logs one JSON line per failure', async () => {
    const output = watchProcessOutput();
    try {
      for (const unknown of ['/favicon.ico', '/.env', '/nope/deeper', '/metrics/x', '/healthz/']) {
        const res = await rawGet(app.url, unknown);
        expect(res.status, unknown).toBe(404);
        expect(res.body, unknown).toBe('Not found');
      }
      for (const failing of ['/boom-sync', '/boom-async']) {
        const res = await rawGet(app.url, failing);
        expect(res.status, failing).toBe(500);
        expect(res.body, failing).toBe('Internal error');
      }
      expect((await rawGet(app.url, '/')).status).toBe(200); // the server carries on
    } finally {
      output.stop();
    }
    expect(output.written).toEqual([]);
    const failures = log.records().filter((r) => r.msg === 'web app failed');
    expect(failures.map((r) => [r.level, r.path, (r.err as { message: string }).message])).toEqual([
      [50, '/boom-sync', 'secret detail of a sync failure'],
      [50, '/boom-async', 'secret detail of an async failure'],
    ]);
    expect(log.records().filter((r) => Number(r.level) >= 50)).toHaveLength(2);
  });

  it('sends the security headers on pages, media, metrics, health and errors', async () => {
    const { id } = fed.channel;
    const auth = { Authorization: `Bearer ${METRICS_TOKEN}` };
    for (const [url, status, headers] of [
      ['/', 200, {}],
      [`/hls/${id}/index.m3u8`, 200, {}],
      ['/healthz', 200, {}],
      ['/metrics', 200, auth],
      ['/metrics', 401, {}],
      ['/nope', 404, {}],
    ] as const) {
      const res = await rawGet(app.url, url, 'GET', headers);
      expect(res.status, url).toBe(status);
      expect(res.headers, url).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'permissions-policy': expect.stringContaining('camera=(self), microphone=(self)'),
      });
      // Pages get the app's own policy from SvelteKit; this stand-in app sets none, so the
      // server's strict one for non-documents remains.
      expect(res.headers['content-security-policy'], url).toContain("default-src 'none'");
      expect(res.headers['content-security-policy'], url).toContain("frame-ancestors 'none'");
    }
  });
});

/** Opens a raw connection and sends `head`, then `trickle` every 100 ms; resolves when the server closes it. */
function slowClient(base: string, head: string, trickle: string): Promise<{ closedAfterMs: number; received: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let received = '';
    let timer: NodeJS.Timeout | undefined;
    const started = Date.now();
    socket.on('connect', () => {
      if (head) socket.write(head);
      timer = setInterval(() => trickle && !socket.destroyed && socket.write(trickle), 100);
    });
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', () => undefined); // a reset is a close too
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ closedAfterMs: Date.now() - started, received });
    });
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept the slow connection open for 10 s'));
    }, 10_000);
  });
}

describe('slow clients (HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS)', () => {
  const HEADERS_MS = 500;
  const REQUEST_MS = 600;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let fed: FedChannel;
  beforeAll(async () => {
    app = await startTestApp({
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
      // Two-second segments: a request blocked for the segment after next waits well past the timeouts.
      HLS_SEGMENT_SECONDS: '2',
    });
    fed = await startFedChannel(app);
  });
  afterAll(async () => {
    await fed?.stop();
    await app?.stop();
  });

  it('disconnects a client that dribbles its request head, or sends nothing, within the headers timeout', async () => {
    const [dribbling, silent] = await Promise.all([
      slowClient(app.url, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: 1\r\n'),
      slowClient(app.url, '', ''),
      // Meanwhile everybody else is served.
      rawGet(app.url, '/healthz').then((res) => expect(res.status).toBe(200)),
    ]);
    for (const slow of [dribbling, silent]) {
      expect(slow.closedAfterMs).toBeGreaterThanOrEqual(HEADERS_MS - 50);
      expect(slow.closedAfterMs).toBeLessThan(HEADERS_MS + 2000);
    }
    expect(dribbling.received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('disconnects a client that dribbles its request body within the request timeout', async () => {
    const slow = await slowClient(app.url, 'POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n', 'x');
    expect(slow.closedAfterMs).toBeGreaterThanOrEqual(REQUEST_MS - 50);
    expect(slow.closedAfterMs).toBeLessThan(REQUEST_MS + 2000);
  });

  it('keeps responses that wait longer than the timeouts: blocking playlist reload, Socket.IO long-polling and WebSocket', async () => {
    const { id } = fed.channel;
    const newest = fed.channel.hlsStream!.newestSegment;
    const started = Date.now();
    const blocked = await rawGet(app.url, `/hls/${id}/index.m3u8?_HLS_msn=${newest + 2}`);
    expect(Date.now() - started).toBeGreaterThan(REQUEST_MS + 200); // it really waited past the timeouts
    expect(blocked.status).toBe(200);
    expect(blocked.body).toMatch(new RegExp(`^seg_${newest + 2}\\.m4s$`, 'm'));

    for (const transport of ['polling', 'websocket'] as const) {
      const socket = connect(app.url, { transports: [transport], reconnection: false });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('connect_error', reject);
        });
        let disconnected = '';
        socket.on('disconnect', (reason) => (disconnected = reason));
        // Idle for longer than both timeouts: a long-polling GET is held open by the server all along.
        await new Promise((r) => setTimeout(r, HEADERS_MS + REQUEST_MS + 1000));
        expect(await socket.timeout(5000).emitWithAck('watchDirectory', {}), transport).toMatchObject({ channels: [{ channelId: id }] });
        expect(disconnected, transport).toBe('');
        expect(socket.io.engine.transport.name).toBe(transport);
      } finally {
        socket.disconnect();
      }
    }
  });

  it('leaves /metrics open when METRICS_TOKEN is not set', async () => {
    const res = await rawGet(app.url, '/metrics');
    expect(res.status).toBe(200);
    expect(res.body).toContain('livecast_channels');
  });
});
