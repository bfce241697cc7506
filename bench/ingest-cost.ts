/**
 * What an encoder's channel costs: N channels published over RTMP, over SRT, and, as the
 * baseline in the same run, fed as plain RTP into mediasoup (the path of a browser's or a WHIP
 * encoder's stream). Publishers are FFmpeg sending a pre-encoded clip with -c copy (what OBS sends
 * by default for RTMP/SRT: H264 High with B-frames, AAC; the baseline: Constrained Baseline and
 * Opus, as browsers send), so the load generator costs little. Measured per channel: CPU of the
 * server's FFmpeg (the RTMP/SRT ingest, or the RTP → HLS remux), of the mediasoup workers and of
 * the node process, FFmpeg's memory; and, for RTMP/SRT, the latency from the encoder sending a
 * frame to the server having packaged it for LL-HLS (a TCP/UDP relay in front of the ingest port
 * notes when the encoder's first bytes arrive: media time 0; its handshake is a few ms). Then
 * one real-time "viewer" (the transcode started, as a viewer would): the transcode's CPU, its
 * latency to RTP at mediasoup, and that it is gone, with its cost, after the viewer leaves.
 *
 * Last, RTMP again with the optional transcoded ladder (HLS_LADDER=on): what its two rungs cost.
 *
 *   npm run bench:ingest     BENCH_CHANNELS=5  BENCH_WINDOW_S=10
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Channel } from '../server/src/channel/channel.js';
import { PassthroughHls } from '../server/src/readers/hls/passthrough-hls.js';
import { freePort } from '../server/test/helpers/net.js';
import { eventually } from '../server/test/helpers/processes.js';
import { startFedChannel, type FedChannel } from '../server/test/helpers/test-app.js';
import { testClip } from '../server/test/helpers/rtp-source.js';
import { median, percentile, printTable, startBenchServer } from './lib.js';
import { cpuPercentOver, rssMiB } from './proc-stats.js';

const CHANNELS = Number(process.env.BENCH_CHANNELS ?? 5);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 10);
const SRT_MIN_PORT = 18500;

/**
 * OBS's default output: H264 High with B-frames (2 s key frames), AAC; 640x480 at 600 kbit/s like
 * the baseline clip. `baseline`: the same as Constrained Baseline (what browsers decode).
 */
function encoderClip(profile: 'high' | 'baseline' = 'high'): string {
  const dir = path.join(os.tmpdir(), 'livecast-test-media');
  const file = path.join(dir, `clip-obs-${profile === 'high' ? 'high-bframes' : 'baseline'}-10s-v1.mkv`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp.mkv`;
  const result = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x480:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '10', '-c:v', 'libx264', ...(profile === 'high' ? ['-profile:v', 'high', '-bf', '2'] : ['-profile:v', 'baseline']), '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
    '-b:v', '600k', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', tmp,
  ]);
  if (result.status !== 0) throw new Error(`could not make the encoder clip: ${result.stderr.toString()}`);
  spawnSync('mv', [tmp, file]);
  return file;
}

/** A relay in front of the ingest port that notes when the encoder's first bytes arrive. */
async function tcpRelay(target: number): Promise<{ port: number; firstByteAt: () => number; close(): void }> {
  let first = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    client.on('data', () => (first ||= performance.timeOrigin + performance.now()));
    client.pipe(upstream).pipe(client);
    const close = () => (client.destroy(), upstream.destroy());
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
  return { port, firstByteAt: () => first, close: () => server.close() };
}

async function udpRelay(target: number): Promise<{ port: number; firstByteAt: () => number; close(): void }> {
  let first = 0;
  let client: { address: string; port: number } | null = null;
  const front = dgram.createSocket('udp4');
  const back = dgram.createSocket('udp4');
  front.on('message', (msg, from) => {
    first ||= performance.timeOrigin + performance.now();
    client = { address: from.address, port: from.port };
    back.send(msg, target, '127.0.0.1');
  });
  back.on('message', (msg) => client && front.send(msg, client.port, client.address));
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => back.bind(0, '127.0.0.1', () => r()));
  return { port: front.address().port, firstByteAt: () => first, close: () => (front.close(), back.close()) };
}

interface Published {
  channel: Channel;
  sender: ChildProcess;
  relay: { firstByteAt: () => number; close(): void };
  /** Encoder-to-packaged latency of each video fragment since `collect` started, ms. */
  latencies: number[];
  stop(): Promise<void>;
}

async function publishEncoder(app: Awaited<ReturnType<typeof startBenchServer>>['app'], protocol: 'rtmp' | 'srt', profile: 'high' | 'baseline' = 'high'): Promise<Published> {
  const { channel, streamKey } = await app.registry.create();
  let relay: Awaited<ReturnType<typeof tcpRelay>>;
  let url: string;
  if (protocol === 'rtmp') {
    relay = await tcpRelay(app.rtmp!.port);
    url = `rtmp://127.0.0.1:${relay.port}/live/${streamKey}`;
  } else {
    await eventually(() => channel.ffmpegPid, 'the SRT listener');
    await new Promise((r) => setTimeout(r, 300)); // its socket bound
    relay = await udpRelay(channel.ingestPorts.srt!);
    url = `srt://127.0.0.1:${relay.port}?passphrase=${streamKey}`;
  }
  const sender = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-t', '900', '-i', encoderClip(profile), '-c', 'copy', '-f', protocol === 'rtmp' ? 'flv' : 'mpegts', url], { stdio: 'ignore' });
  await eventually(() => channel.state.phase === 'live', `the ${protocol} channel to go live`, 30_000);
  const hls = channel.findReader('hls');
  if (!(hls instanceof PassthroughHls)) throw new Error('no passthrough HLS');
  const latencies: number[] = [];
  // Media time 0 left the encoder when its first bytes reached the relay. (FFmpeg, as the ingest,
  // starts its output's timestamps at 0 whatever the input's, so a fragment's start is its media time.)
  hls.onFragment(({ timing }) => {
    const video = timing.video;
    if (!video) return;
    latencies.push(performance.timeOrigin + performance.now() - (relay.firstByteAt() + (video.start + video.duration) * 1000));
  });
  return {
    channel, sender, relay, latencies,
    async stop() {
      sender.kill('SIGKILL');
      await channel.end('bench over');
      relay.close();
    },
  };
}

export async function runIngestCost(): Promise<void> {
  testClip();
  encoderClip();
  encoderClip('baseline');
  const rows: Record<string, string | number>[] = [];
  let baselineFfmpeg = NaN;
  let rtmpFfmpeg = NaN;
  for (const mode of ['baseline', 'rtmp', 'srt', 'rtmp-ladder'] as const) {
    console.error(`${mode}, ${CHANNELS} channels …`);
    const server = await startBenchServer({
      // The optional transcoded ladder (the stream copied as the top rendition, two libx264 rungs below it).
      ...(mode === 'rtmp-ladder' ? { HLS_LADDER: 'on' } : {}),
      RTMP_PORT: String(await freePort()),
      SRT_MIN_PORT: String(SRT_MIN_PORT),
      SRT_MAX_PORT: String(SRT_MIN_PORT + 99),
      MAX_CHANNELS: String(CHANNELS + 10),
      CHANNEL_CREATE_PER_MINUTE: '10000',
      REALTIME_TRANSCODE_LINGER_MS: '500',
    });
    const fed: FedChannel[] = [];
    const published: Published[] = [];
    try {
      for (let i = 0; i < CHANNELS; i++) {
        if (mode === 'baseline') fed.push(await startFedChannel(server.app));
        else published.push(await publishEncoder(server.app, mode === 'rtmp-ladder' ? 'rtmp' : mode));
      }
      await new Promise((r) => setTimeout(r, 3000)); // settle
      const channels = mode === 'baseline' ? fed.map((f) => f.channel) : published.map((p) => p.channel);
      for (const p of published) p.latencies.length = 0;
      const cpu = await cpuPercentOver(
        {
          ffmpeg: channels.map((c) => c.ffmpegPid!).filter(Boolean),
          workers: server.app.pool.workers.map((w) => w.pid),
          server: [process.pid],
          senders: (mode === 'baseline' ? fed.map((f) => f.source.pid!) : published.map((p) => p.sender.pid!)).filter(Boolean),
        },
        WINDOW_S * 1000,
      );
      const rss = channels.reduce((s, c) => s + rssMiB(c.ffmpegPid!), 0) / CHANNELS;
      const latencies = published.flatMap((p) => p.latencies);
      if (mode === 'baseline') baselineFfmpeg = cpu.ffmpeg! / CHANNELS;
      if (mode === 'rtmp') rtmpFfmpeg = cpu.ffmpeg! / CHANNELS;
      const label = { baseline: 'RTP into mediasoup (browser/WHIP path), baseline', rtmp: 'RTMP (H264 High + B-frames, AAC; passed through)', srt: 'SRT (H264 High + B-frames, AAC; passed through)', 'rtmp-ladder': 'RTMP with HLS_LADDER=on (passed through + ½ and ¼ rungs, libx264)' }[mode];
      rows.push({
        source: label,
        channels: CHANNELS,
        'server FFmpeg CPU %/ch': cpu.ffmpeg! / CHANNELS,
        '× baseline': (cpu.ffmpeg! / CHANNELS / baselineFfmpeg).toFixed(2),
        '× RTMP': mode === 'baseline' ? '—' : (cpu.ffmpeg! / CHANNELS / rtmpFfmpeg).toFixed(2),
        'worker CPU %/ch': cpu.workers! / CHANNELS,
        'node CPU %': cpu.server!,
        'FFmpeg RSS MiB/ch': rss,
        'encoder → packaged p50 / p95 ms': latencies.length ? `${median(latencies).toFixed(0)} / ${percentile(latencies, 95).toFixed(0)}` : '—',
      });

      if (mode === 'rtmp') {
        rows.push(...(await measureTranscode(published[0]!)));
        // A Constrained Baseline encoder: its video goes to real-time viewers as it is.
        const baselineEncoder = await publishEncoder(server.app, 'rtmp', 'baseline');
        published.push(baselineEncoder);
        rows.push((await measureTranscode(baselineEncoder, 'RTMP Constrained Baseline + 1 real-time viewer: video copied, AAC → Opus'))[0]!);
      }
    } finally {
      await Promise.all([...fed.map((f) => f.stop()), ...published.map((p) => p.stop())]);
      await server.stop();
    }
  }
  printTable(`Encoder ingest cost per channel (640x480 30 fps, 600 kbit/s; ${WINDOW_S} s windows; ${os.availableParallelism()} cores)`, rows);
  console.log('encoder → packaged: from the encoder sending a frame (media time since its first bytes reached the relay) to its fragment in the LL-HLS packager; a player adds its part hold-back (about 3 parts) and download.');
}

/** One real-time viewer's worth: the transcode runs; its CPU and latency; then gone once the viewer leaves. */
async function measureTranscode(p: Published, label = 'RTMP + 1 real-time viewer: the transcode (libx264 Constrained Baseline + Opus)'): Promise<Record<string, string | number>[]> {
  const { channel } = p;
  await channel.ensureTracks();
  const video = channel.tracks().find((t) => t.kind === 'video')!;
  const hls = channel.findReader('hls') as PassthroughHls;
  // The transcode starts at the next key frame; its first RTP timestamp is that fragment's media
  // time (its decode time: with B-frames its picture is shown up to 2 frames later, so the
  // latency below is overstated by up to 67 ms).
  let keyStart: number | null = null;
  const unsubscribe = hls.onFragment(({ timing }) => {
    if (keyStart === null && timing.video?.sync) keyStart = timing.video.start;
  });
  const rtpLatencies: number[] = [];
  let ts0: number | null = null;
  const seen = new Set<number>();
  await video.enableTraceEvent(['rtp']);
  video.on('trace', (trace) => {
    const info = trace.info as { rtpPacket?: { timestamp: number; marker?: boolean } };
    const packet = info.rtpPacket;
    if (!packet || keyStart === null || seen.has(packet.timestamp)) return;
    seen.add(packet.timestamp);
    ts0 ??= packet.timestamp;
    const media = keyStart + ((packet.timestamp - ts0 + 2 ** 32) % 2 ** 32) / 90000;
    rtpLatencies.push(performance.timeOrigin + performance.now() - (p.relay.firstByteAt() + media * 1000));
  });
  const pid = await eventually(() => channel.transcoderPid(), 'the transcode to start');
  await new Promise((r) => setTimeout(r, 3000));
  rtpLatencies.length = 0;
  const withViewer = await cpuPercentOver({ ingest: [channel.ffmpegPid!], transcode: [pid] }, WINDOW_S * 1000);
  const ingestPid = channel.ffmpegPid!;
  const transcodeRss = rssMiB(pid);
  unsubscribe();
  await video.enableTraceEvent([]).catch(() => undefined);
  channel.releaseTracks();
  await eventually(async () => (await channel.transcoderPid()) === undefined, 'the transcode to stop after the viewer left');
  // The transcode's process is gone: its CPU time reads 0, so only the ingest is measured.
  const without = await cpuPercentOver({ ingest: [ingestPid] }, WINDOW_S * 1000);
  return [
    {
      source: label,
      channels: 1,
      'server FFmpeg CPU %/ch': withViewer.ingest! + withViewer.transcode!,
      '× baseline': '',
      'worker CPU %/ch': '',
      'node CPU %': '',
      'FFmpeg RSS MiB/ch': transcodeRss,
      'encoder → packaged p50 / p95 ms': `RTP at mediasoup: ${median(rtpLatencies).toFixed(0)} / ${percentile(rtpLatencies, 95).toFixed(0)}`,
    },
    {
      source: 'RTMP after the viewer left (transcode stopped)',
      channels: 1,
      'server FFmpeg CPU %/ch': without.ingest!,
      '× baseline': '',
      'worker CPU %/ch': '',
      'node CPU %': '',
      'FFmpeg RSS MiB/ch': '',
      'encoder → packaged p50 / p95 ms': '',
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runIngestCost().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
