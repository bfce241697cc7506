import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from './helpers/server.js';
import { startTestApp } from './helpers/test-app.js';
import { boundUdpPorts } from '../src/readers/hls/udp-listeners.js';
import { createRtpIngest } from './helpers/rtp-ingest.js';
import { eventually, isAlive, waitForExit } from './helpers/processes.js';
import { startRtpSource, stopProcess, testClip } from './helpers/rtp-source.js';

const mediaSequence = (playlist: string) => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)?.[1] ?? -1);

describe('HLS pipeline against real mediasoup and FFmpeg', () => {
  let app: TestServer;

  beforeAll(async () => {
    testClip();
    app = await startTestApp({ LOG_LEVEL: 'error' });
  });
  afterAll(() => app?.stop());

  it('turns an RTP-fed channel into a live HLS playlist, served over HTTP, and frees everything on stop', async () => {
    const { channel } = await app.registry.create();
    const ingest = await createRtpIngest(channel);
    const source = startRtpSource(ingest);
    try {
      await eventually(() => channel.state.phase === 'live', 'the playlist to be ready', 20_000);
      expect(channel.state.hls).toEqual({ playlist: `/hls/${channel.id}/index.m3u8`, segmentSeconds: app.config.hls.segmentSeconds });
      const dir = path.join(app.hlsDir, channel.id);
      const ffmpegPid = channel.ffmpegPid!;
      const pipelinePorts = channel.hlsUdpPorts;
      expect(pipelinePorts).toHaveLength(8);
      expect(isAlive(ffmpegPid)).toBe(true);

      // The playlist advances: new ~1 s segments appear, old ones leave the window and the disk.
      const first = await readFile(path.join(dir, 'index.m3u8'), 'utf8');
      const later = await eventually(async () => {
        const text = await readFile(path.join(dir, 'index.m3u8'), 'utf8');
        return mediaSequence(text) >= mediaSequence(first) + 3 ? text : null;
      }, 'the playlist to advance', 15_000);
      const durations = [...later.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
      expect(durations.length).toBe(app.config.hls.listSize);
      const target = app.config.hls.segmentSeconds;
      for (const d of durations) expect(d).toBeGreaterThan(target * 0.8), expect(d).toBeLessThan(target * 1.3);
      const listed = [...later.matchAll(/^(seg_\d+\.ts)$/gm)].map((m) => m[1]!);
      const onDisk = (await readdir(dir)).filter((f) => f.endsWith('.ts'));
      expect(onDisk).toEqual(expect.arrayContaining(listed));
      expect(onDisk.length).toBeLessThanOrEqual(listed.length + 2);

      // Video passed through as H264, audio transcoded to AAC.
      const probe = spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path.join(dir, listed.at(-1)!)]);
      const streams = (JSON.parse(probe.stdout.toString()) as { streams: { codec_name: string; width?: number }[] }).streams;
      expect(streams.map((st) => st.codec_name).sort()).toEqual(['aac', 'h264']);
      expect(streams.find((st) => st.codec_name === 'h264')?.width).toBe(640);

      // Served over HTTP with the right types; playlists are never cached.
      const playlistRes = await fetch(`${app.url}/hls/${channel.id}/index.m3u8`);
      expect(playlistRes.status).toBe(200);
      expect(playlistRes.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
      expect(playlistRes.headers.get('cache-control')).toContain('no-cache');
      const served = await playlistRes.text();
      expect(served).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES');

      // Blocking reload: asking for the next segment waits until FFmpeg lists it.
      const newest = mediaSequence(served) + app.config.hls.listSize - 1;
      const asked = Date.now();
      const blocked = await (await fetch(`${app.url}/hls/${channel.id}/index.m3u8?_HLS_msn=${newest + 1}`)).text();
      const waitedMs = Date.now() - asked;
      expect(mediaSequence(blocked) + app.config.hls.listSize - 1).toBeGreaterThanOrEqual(newest + 1);
      expect(waitedMs).toBeLessThan(2500);
      expect((await fetch(`${app.url}/hls/${channel.id}/index.m3u8?_HLS_msn=${newest + 10}`)).status).toBe(400);
      expect((await fetch(`${app.url}/hls/${channel.id}/index.m3u8?_HLS_msn=abc`)).status).toBe(400);

      const segmentRes = await fetch(`${app.url}/hls/${channel.id}/${listed.at(-1)}`);
      expect(segmentRes.status).toBe(200);
      expect(segmentRes.headers.get('content-type')).toBe('video/mp2t');
      expect((await segmentRes.arrayBuffer()).byteLength).toBeGreaterThan(10_000);

      await channel.end('test over');
      await stopProcess(source); // its own sending sockets are not the pipeline's
      expect(app.registry.get(channel.id)).toBeUndefined();
      expect(await waitForExit(ffmpegPid)).toBe(true);
      expect(existsSync(dir)).toBe(false);
      expect(app.ports.allocated).toBe(0);
      expect((await app.pool.workers[0]!.dump()).routerIds).toEqual([]);
      expect((await fetch(`${app.url}/hls/${channel.id}/index.m3u8`)).status).toBe(404);
      // No UDP socket of the pipeline (mediasoup's or FFmpeg's) is left bound.
      const bound = await boundUdpPorts();
      expect(pipelinePorts.filter((p) => bound.has(p))).toEqual([]);
    } finally {
      await stopProcess(source);
    }
  });

  it('drops a channel nobody publishes to, and refuses channels beyond the limit', async () => {
    const small = await startTestApp({ MAX_CHANNELS: '1', CHANNEL_IDLE_TIMEOUT_MS: '1000', LOG_LEVEL: 'error' });
    try {
      const { channel } = await small.registry.create();
      await expect(small.registry.create()).rejects.toThrow('this server is at its limit of 1 channels; try again later');
      const ended = new Promise<string>((resolve) => channel.once('ended', resolve));
      expect(await ended).toBe('nobody went live on this channel in time');
      await channel.end('already ending'); // the same teardown; resolves once it is done
      expect(small.registry.size).toBe(0);
      expect(channel.router.closed).toBe(true);
      const again = await small.registry.create(); // the slot is free again
      expect(again.channel.id).not.toBe(channel.id);
    } finally {
      await small.stop();
    }
  });
});
