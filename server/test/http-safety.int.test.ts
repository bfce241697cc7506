import { symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFedChannel, startTestApp, type FedChannel } from './helpers/test-app.js';

/** GET with the path sent exactly as written (fetch would normalise `..` away). */
function rawGet(base: string, rawPath: string, method = 'GET'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: rawPath, method }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP safety and metrics', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let fed: FedChannel;
  beforeAll(async () => {
    app = await startTestApp();
    fed = await startFedChannel(app);
  });
  afterAll(async () => {
    await fed?.stop();
    await app?.stop();
  });

  it('refuses every path that is not a live channel’s playlist or segment', async () => {
    const id = fed.channel.id;
    writeFileSync(path.join(app.config.hls.dir, 'secret.txt'), 'secret');
    symlinkSync('/etc/passwd', path.join(app.config.hls.dir, id, 'seg_99999.ts'));
    const attempts = [
      '/hls/../package.json',
      '/hls/%2e%2e/package.json',
      '/hls/%2E%2E%2Fpackage.json',
      `/hls/${id}/../../package.json`,
      `/hls/${id}/%2e%2e%2f%2e%2e%2fpackage.json`,
      `/hls/${id}/..%2f..%2fpackage.json`,
      `/hls/${id}/seg_00001.ts/../../../package.json`,
      `/hls/${id}/seg_99999.ts`, // a symlink to /etc/passwd
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

  it('serves the live playlist uncached and its segments as MPEG-TS', async () => {
    const id = fed.channel.id;
    const playlist = await rawGet(app.url, `/hls/${id}/index.m3u8`);
    expect(playlist.status).toBe(200);
    expect(playlist.headers['cache-control']).toContain('no-store');
    const segment = /^(seg_\d+\.ts)$/m.exec(playlist.body)![1]!;
    const res = await rawGet(app.url, `/hls/${id}/${segment}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('video/mp2t');
    expect(Number(res.headers['content-length'])).toBeGreaterThan(1000);
    // A segment that is not (or no longer) on disk is a 404, and the server carries on.
    expect((await rawGet(app.url, `/hls/${id}/seg_99998.ts`)).status).toBe(404);
    expect((await rawGet(app.url, '/healthz')).status).toBe(200);
  });

  it('exposes Prometheus metrics for channels, viewers, workers and errors', async () => {
    const res = await rawGet(app.url, '/metrics');
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
});
