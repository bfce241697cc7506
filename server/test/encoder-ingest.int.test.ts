/**
 * RTMP and SRT ingest with FFmpeg as the encoder (a client this project did not write): OBS's
 * default output (H264 High profile with B-frames, AAC) is passed through to LL-HLS, checked with
 * ffprobe and a strict m3u8 parser; real-time viewing gets a transcode that runs only while it is
 * wanted; wrong keys and passphrases are refused; channels stay apart; cycles leak nothing.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';
import HLS from 'hls-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel } from '../src/channel/channel.js';
import { boundUdpPorts } from '../src/readers/hls/udp-listeners.js';
import { multivariantWithResolutions, segmentsInEveryRendition } from './helpers/renditions.js';
import { segmentVideoFrames } from './helpers/segment-frames.js';
import { freePort } from './helpers/net.js';
import { eventually, udpSocketCount, waitForExit } from './helpers/processes.js';
import { startServer, type TestServer } from './helpers/server.js';

const run = promisify(execFile);
let app: TestServer;
let rtmpPort: number;
const publishers = new Set<ChildProcess>();

beforeAll(async () => {
  rtmpPort = await freePort();
  app = await startServer({
    MEDIASOUP_WORKERS: '1',
    RTMP_PORT: String(rtmpPort),
    SRT_MIN_PORT: '18700',
    SRT_MAX_PORT: '18799',
    BROADCASTER_GRACE_MS: '0',
    REALTIME_TRANSCODE_LINGER_MS: '300',
    SOURCE_MEDIA_TIMEOUT_MS: '4000',
    CHANNEL_CREATE_PER_MINUTE: '1000',
  });
});
afterAll(async () => {
  for (const p of publishers) p.kill('SIGKILL');
  await app?.stop();
});

/** FFmpeg publishing what OBS sends by default: H264 High with B-frames and AAC, in real time. */
function publish(url: string, o: { seconds: number; color?: string; format: 'flv' | 'mpegts'; small?: boolean; baseline?: boolean }): ChildProcess & { exited: Promise<number | null> } {
  const size = o.small ? '320x180' : '640x360';
  const video = o.color ? `color=c=${o.color}:size=${size}:rate=30` : `testsrc2=size=${size}:rate=30`;
  const child = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', video,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'veryfast', ...(o.baseline ? ['-profile:v', 'baseline'] : ['-profile:v', 'high', '-bf', '2']), '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k',
    '-t', String(o.seconds),
    '-f', o.format, url,
  ], { stdio: 'ignore' });
  publishers.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    publishers.delete(child);
    resolve(code);
  }));
  return Object.assign(child, { exited });
}

const rtmpUrl = (key: string) => `rtmp://127.0.0.1:${rtmpPort}/live/${key}`;
const srtUrl = (channel: Channel, key: string) => `srt://127.0.0.1:${channel.ingestPorts.srt}?passphrase=${key}`;

async function live(channel: Channel, timeoutMs = 15_000): Promise<void> {
  await eventually(() => channel.state.phase === 'live', 'the channel to go live', timeoutMs);
}

/** The live playlist, parsed strictly by an independent parser; its init segment and newest complete segment. */
async function hlsMedia(channel: Channel): Promise<{ init: Buffer; segment: Buffer }> {
  const base = `${app.url}/hls/${channel.id}/`;
  const text = await (await fetch(`${base}index.m3u8`)).text();
  HLS.setOptions({ strictMode: true });
  const playlist = HLS.parse(text);
  if (playlist.isMasterPlaylist) throw new Error('a master playlist');
  const complete = playlist.segments.filter((s) => s.uri);
  const last = complete.at(-1)!;
  const init = Buffer.from(await (await fetch(base + last.map!.uri)).arrayBuffer());
  const segment = Buffer.from(await (await fetch(base + last.uri)).arrayBuffer());
  return { init, segment };
}

/** ffprobe (an independent reader) on init + segment. */
async function probe(media: { init: Buffer; segment: Buffer }): Promise<{ codec_type: string; codec_name: string; profile?: string; has_b_frames?: number }[]> {
  const child = spawn('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', '-i', 'pipe:0'], { stdio: ['pipe', 'pipe', 'ignore'] });
  // A reader that has what it needs stops reading: the rest of the write fails with EPIPE.
  child.stdin.on('error', () => undefined);
  child.stdin.end(Buffer.concat([media.init, media.segment]));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => child.once('close', r));
  return (JSON.parse(out) as { streams: { codec_type: string; codec_name: string; profile?: string; has_b_frames?: number }[] }).streams;
}

/** The average colour of a segment's first picture, decoded by FFmpeg. */
async function averageColour(media: { init: Buffer; segment: Buffer }): Promise<number[]> {
  const child = spawn('ffmpeg', ['-v', 'error', '-i', 'pipe:0', '-frames:v', '1', '-vf', 'scale=1:1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { stdio: ['pipe', 'pipe', 'ignore'] });
  // A reader that has what it needs stops reading: the rest of the write fails with EPIPE.
  child.stdin.on('error', () => undefined);
  child.stdin.end(Buffer.concat([media.init, media.segment]));
  const chunks: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  await new Promise((r) => child.once('close', r));
  return [...Buffer.concat(chunks).subarray(0, 3)];
}

/** The channel's SRT listener FFmpeg has bound its port (an encoder calling before that is turned away). */
const srtListening = (channel: Channel) => eventually(async () => (await boundUdpPorts()).has(channel.ingestPorts.srt!), 'the SRT listener to listen');

/** The real-time transcoder's command line, once it runs (it starts at the encoder's next key frame). */
const transcoderArgs = (channel: Channel) =>
  eventually(async () => {
    const pid = await channel.transcoderPid();
    const args = pid ? (await cmdline(pid).catch(() => [])).join(' ') : '';
    return args ? { pid: pid!, args } : null;
  }, 'the transcoder to start at a key frame');

/** Both real-time tracks carry RTP from the transcoder. */
const rtpFlowing = (channel: Channel) =>
  eventually(async () => {
    const stats = await Promise.all(channel.tracks().map((p) => p.getStats()));
    return stats.length === 2 && stats.every((s) => (s[0]?.packetCount ?? 0) > 20);
  }, 'RTP from the transcoder in both tracks');

const cmdline = async (pid: number) => (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');

describe('RTMP ingest', () => {
  it('passes OBS-style H264 High with B-frames through to LL-HLS, and transcodes for real-time viewers only while they exist', async () => {
    const { channel, streamKey } = await app.registry.create();
    const encoder = publish(rtmpUrl(streamKey), { seconds: 30, format: 'flv' });
    await live(channel);
    // Passed through: the ingest FFmpeg copies, and what HLS serves is still High profile with B-frames.
    const argv = await cmdline(channel.ffmpegPid!);
    expect(argv.join(' ')).toContain('-c:v copy -c:a copy');
    expect(argv).not.toContain('libx264');
    const streams = await probe(await hlsMedia(channel));
    const video = streams.find((s) => s.codec_type === 'video')!;
    expect(video).toMatchObject({ codec_name: 'h264', profile: 'High' });
    expect(video.has_b_frames).toBeGreaterThan(0);
    expect(streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'aac' });
    expect(channel.state.realtime).toBe(true);

    // No real-time viewer, no transcode.
    expect(await channel.transcoderPid()).toBeUndefined();
    await channel.ensureTracks();
    const tracks = channel.tracks();
    expect(tracks.map((p) => p.kind).sort()).toEqual(['audio', 'video']);
    expect(tracks.find((p) => p.kind === 'video')!.rtpParameters.codecs[0]!.parameters!['profile-level-id']).toBe('42e01f');
    const { pid, args } = await transcoderArgs(channel);
    expect(args).toMatch(/-c:v libx264 .*-profile:v baseline .*-bf 0/);
    await rtpFlowing(channel);
    // The last viewer gone (none here), the transcode stops after the linger.
    channel.releaseTracks();
    expect(await waitForExit(pid, 5000)).toBe(true);
    expect(channel.tracks()).toEqual([]);
    encoder.kill('SIGKILL');
    await eventually(() => channel.ended, 'the channel to end when the encoder disconnects (no grace here)');
  });

  it('refuses a wrong key before reading media, and keeps two channels apart', async () => {
    const wrong = publish(rtmpUrl('not-the-key-of-any-channel'), { seconds: 10, format: 'flv' });
    expect(await wrong.exited).not.toBe(0);

    const red = await app.registry.create();
    const blue = await app.registry.create();
    publish(rtmpUrl(red.streamKey), { seconds: 20, color: 'red', format: 'flv' });
    publish(rtmpUrl(blue.streamKey), { seconds: 20, color: 'blue', format: 'flv' });
    await Promise.all([live(red.channel), live(blue.channel)]);
    const [r, , b] = await averageColour(await hlsMedia(red.channel));
    const [r2, , b2] = await averageColour(await hlsMedia(blue.channel));
    expect(r).toBeGreaterThan(200);
    expect(b).toBeLessThan(60);
    expect(b2).toBeGreaterThan(200);
    expect(r2).toBeLessThan(60);

    // A second encoder on a channel that has one is refused; the first goes on.
    const second = publish(rtmpUrl(red.streamKey), { seconds: 10, format: 'flv' });
    expect(await second.exited).not.toBe(0);
    expect(red.channel.state.phase).toBe('live');
    await Promise.all([red.channel.end('test over'), blue.channel.end('test over')]);
  });
});

describe('an encoder that already sends what browsers decode', () => {
  it('Constrained Baseline H264: real-time viewers get the video as it is, only the audio is transcoded', async () => {
    const { channel, streamKey } = await app.registry.create();
    publish(rtmpUrl(streamKey), { seconds: 30, format: 'flv', baseline: true });
    await live(channel);
    await channel.ensureTracks();
    const { args } = await transcoderArgs(channel);
    expect(args).toContain('-c:v copy -bsf:v h264_mp4toannexb');
    expect(args).not.toContain('libx264');
    expect(args).toContain('-c:a libopus');
    await rtpFlowing(channel);
    await channel.end('test over');
  });
});

describe('a stalled encoder', () => {
  it('an RTMP publisher that stops sending (connection open) releases its channel, FFmpeg and connection', async () => {
    const { channel, streamKey } = await app.registry.create();
    const encoder = publish(rtmpUrl(streamKey), { seconds: 60, format: 'flv', small: true });
    await live(channel);
    const ingestPid = channel.ffmpegPid!;
    encoder.kill('SIGSTOP');
    const reason = new Promise<string>((resolve) => channel.once('ended', resolve));
    await eventually(() => channel.ended, 'the channel to end after SOURCE_MEDIA_TIMEOUT_MS', 15_000);
    expect(await reason).toBe('the broadcaster stopped sending media');
    expect(await waitForExit(ingestPid, 5000)).toBe(true);
    await eventually(() => app.rtmp!.connections === 0, 'the stalled connection to be closed');
    encoder.kill('SIGKILL');
  });
});

describe('SRT ingest', () => {
  it('takes MPEG-TS over SRT with the stream key as passphrase, refuses a wrong one, and plays in real time', async () => {
    const { channel, streamKey } = await app.registry.create();
    await srtListening(channel);
    const wrong = publish(srtUrl(channel, 'wrong-passphrase-0123456789'), { seconds: 5, format: 'mpegts' });
    expect(await wrong.exited).not.toBe(0);
    expect(channel.state.phase).toBe('waiting');

    publish(srtUrl(channel, streamKey), { seconds: 30, format: 'mpegts' });
    await live(channel);
    const streams = await probe(await hlsMedia(channel));
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', profile: 'High' });
    expect(streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'aac' });
    await channel.ensureTracks();
    await rtpFlowing(channel);
    await channel.end('test over');
  });
});

describe('a flood of wrong connections', () => {
  it('300 RTMP connections with wrong keys or garbage and 3,000 junk SRT datagrams leave a live channel playing', async () => {
    const { channel, streamKey } = await app.registry.create();
    publish(rtmpUrl(streamKey), { seconds: 40, format: 'flv' });
    await live(channel);
    const target = await app.registry.create();
    await srtListening(target.channel);
    const before = channel.hlsStream!.newestPart!;

    // RTMP: raw connections that send a handshake and garbage, or nothing, and a few real
    // publishers with wrong keys; all refused or cut, none accepted.
    const raw = Array.from({ length: 300 }, (_, i) => new Promise<void>((resolve) => {
      const socket = net.connect(rtmpPort, '127.0.0.1', () => socket.write(i % 2 ? Buffer.alloc(1537, 3) : Buffer.from('GET / HTTP/1.1\r\n\r\n')));
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
      setTimeout(() => socket.destroy(), 3000);
    }));
    const wrongKeys = Array.from({ length: 5 }, (_, i) => publish(rtmpUrl(`wrong-key-${i}`), { seconds: 5, format: 'flv', small: true }).exited);
    // SRT: junk datagrams at a waiting channel's listener.
    const udp = dgram.createSocket('udp4');
    for (let i = 0; i < 3000; i++) udp.send(Buffer.alloc(64, i & 0xff), target.channel.ingestPorts.srt!, '127.0.0.1');
    const codes = await Promise.all(wrongKeys);
    await Promise.all(raw);
    udp.close();

    expect(codes.every((code) => code !== 0)).toBe(true);
    expect(app.rtmp!.connections).toBe(1); // the live publisher's
    // The live channel kept going: more than 3 s of new parts since the flood began.
    const after = channel.hlsStream!.newestPart!;
    expect(after.msn * 100 + after.part).toBeGreaterThan(before.msn * 100 + before.part);
    await eventually(() => {
      const now = channel.hlsStream!.newestPart!;
      return now.msn > after.msn ? now : null;
    }, 'the live channel to go on making segments');
    expect(channel.state.phase).toBe('live');
    // The SRT listener still takes its encoder after the junk.
    publish(srtUrl(target.channel, target.streamKey), { seconds: 20, format: 'mpegts', small: true });
    await live(target.channel);
    await Promise.all([channel.end('test over'), target.channel.end('test over')]);
  });
});

describe('hostile RTMP', () => {
  it('a client claiming 16 MB messages on many chunk streams is cut off without the server allocating them', async () => {
    const rssBefore = process.memoryUsage().rss;
    // C0 + C1 + C2 (the handshake), then type-0 chunk headers, each claiming a 16 MB message on its own chunk stream.
    const handshake = Buffer.concat([Buffer.from([3]), Buffer.alloc(1536, 1), Buffer.alloc(1536, 2)]);
    const header = (csid: number) => Buffer.from([0x00, csid - 64, 0, 0, 0, 0xff, 0xff, 0xff, 20, 0, 0, 0, 0]);
    const claims = Buffer.concat(Array.from({ length: 200 }, (_, i) => header(64 + i)));
    const closes = Array.from({ length: 20 }, () => new Promise<boolean>((resolve) => {
      const socket = net.connect(rtmpPort, '127.0.0.1', () => socket.write(Buffer.concat([handshake, claims])));
      socket.resume(); // read the server's handshake, so that its closing is seen
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 5000);
    }));
    expect(await Promise.all(closes)).toEqual(Array(20).fill(true));
    // 20 × 200 × 16 MB would be 64 GB; at most a 64 KB command buffer each was allowed.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024);
  });
});

describe('connect/disconnect cycles', () => {
  it('30 RTMP and 30 SRT publishes leave no process, port or transport', async () => {
    const children = () => execFileSync('ps', ['-o', 'comm=', '--ppid', String(process.pid)]).toString().split('\n').map((l) => l.trim()).filter((c) => c && c !== 'ps').sort();
    // Start from quiet: earlier tests' encoders (children of this process too) and channels gone.
    for (const p of publishers) p.kill('SIGKILL');
    await eventually(() => !children().includes('ffmpeg') && app.registry.size === 0, 'earlier tests’ processes to be gone');
    const before = { children: children(), udp: await udpSocketCount(), channels: app.registry.size };
    const CYCLES = 30;
    const PARALLEL = 4;
    for (const protocol of ['rtmp', 'srt'] as const) {
      for (let done = 0; done < CYCLES; done += PARALLEL) {
        await Promise.all(Array.from({ length: PARALLEL }, async () => {
          const { channel, streamKey } = await app.registry.create();
          if (protocol === 'srt') await srtListening(channel);
          // Long enough for the ingest to read the stream's first key frame and go on air.
          const encoder = publish(protocol === 'rtmp' ? rtmpUrl(streamKey) : srtUrl(channel, streamKey), { seconds: 2.5, format: protocol === 'rtmp' ? 'flv' : 'mpegts', small: true });
          await eventually(() => channel.hasSource, `the ${protocol} encoder to be the channel's source`);
          await encoder.exited;
          // With no grace period the channel ends with its encoder's connection.
          await eventually(() => channel.ended, `the ${protocol} channel to end`, 15_000);
        }));
      }
    }
    await eventually(async () => {
      const now = { children: children(), udp: await udpSocketCount(), channels: app.registry.size };
      return JSON.stringify(now) === JSON.stringify(before) ? now : null;
    }, `the server back to ${JSON.stringify(before)}`, 15_000);
    expect(app.rtmp!.connections).toBe(0);
    const routers = (await app.pool.workers[0]!.dump()).routerIds.length;
    expect(routers).toBe(0);
  }, 240_000);
});

// Last: its own server's worker would still be exiting when the cycles test takes its census.
describe('a transcoded ladder for an encoder (HLS_LADDER=on)', () => {
  let ladderApp: TestServer;
  let ladderRtmpPort: number;
  beforeAll(async () => {
    ladderRtmpPort = await freePort();
    ladderApp = await startServer({ MEDIASOUP_WORKERS: '1', RTMP_PORT: String(ladderRtmpPort), SRT_MIN_PORT: '18800', SRT_MAX_PORT: '18899', BROADCASTER_GRACE_MS: '0', HLS_LADDER: 'on' });
  });
  afterAll(() => ladderApp?.stop());

  it('OBS-style H264 High with B-frames over RTMP: the stream copied as the top rendition, ½ and ¼ below it, the same segments starting with the same key frame in every rendition', async () => {
    const { channel, streamKey } = await ladderApp.registry.create();
    const encoder = publish(`rtmp://127.0.0.1:${ladderRtmpPort}/live/${streamKey}`, { seconds: 40, format: 'flv' });
    try {
      const base = `${ladderApp.url}/hls/${channel.id}`;
      const multivariant = await multivariantWithResolutions(base);
      expect(multivariant.variants.map((v) => v.uri)).toEqual(['v2/index.m3u8', 'v1/index.m3u8', 'v0/index.m3u8']);
      expect(multivariant.variants.map((v) => v.resolution)).toEqual([{ width: 640, height: 360 }, { width: 320, height: 180 }, { width: 160, height: 90 }]);
      // The top one is the encoder's own High profile; the rungs are Constrained Baseline.
      expect(multivariant.variants[0]!.codecs).toMatch(/^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/);
      for (const v of multivariant.variants.slice(1)) expect(v.codecs).toMatch(/^avc1\.42[0-9a-f]{4},mp4a\.40\.2$/);

      const parse = (text: string, name: string) => {
        let playlist: ReturnType<typeof HLS.parse>;
        try {
          playlist = HLS.parse(text);
        } catch (error) {
          throw new Error(`${name}: ${error instanceof Error ? error.message : String(error)}\n${text}`);
        }
        if (playlist.isMasterPlaylist) throw new Error('a master playlist');
        return playlist;
      };
      const { renditions, common } = await segmentsInEveryRendition(base, ['v0', 'v1', 'v2'], { minimum: 5, timeoutMs: 40_000, parse });
      for (const msn of common) {
        const frames = await Promise.all(['v0', 'v1', 'v2'].map((name, i) => segmentVideoFrames(`${base}/${name}/`, renditions[i]!.get(msn)!)));
        const high = frames[2]!;
        // The copied stream is decoded two frames before it is presented (B-frames); the rungs,
        // without B-frames, when presented; and each output of FFmpeg has its own time zero. So
        // times do not compare: the frames do (one to one, key frames where the source has them).
        expect(high.some((f) => (f.presentationOffset ?? 0) > 0), 'the copied stream keeps its B-frames').toBe(true);
        expect(high[0]!.sync, `segment ${msn} of the source starts with a key frame`).toBe(true);
        for (const rung of frames.slice(0, 2)) {
          expect(rung[0]!.sync, `segment ${msn} of a rung starts with a key frame`).toBe(true);
          const count = (spans: typeof high) => spans.reduce((n, f) => n + f.samples, 0);
          expect(count(rung), `segment ${msn}: the rung has the source's frames`).toBe(count(high));
          expect(rung.filter((f) => f.sync).length, `segment ${msn}: and its key frames`).toBe(high.filter((f) => f.sync).length);
        }
        // The same first frame: the same date in every rendition.
        const dates = renditions.map((r) => r.get(msn)!.programDateTime?.getTime());
        expect(dates[0], `segment ${msn} has a date`).toBeGreaterThan(0);
        expect(new Set(dates).size, `segment ${msn}: ${dates.join(', ')}`).toBe(1);
      }
      // Segment numbers are aligned: the same msn lasts as long in every rendition.
      for (const msn of common) for (const r of renditions.slice(0, 2)) expect(Math.abs(r.get(msn)!.duration - renditions[2]!.get(msn)!.duration)).toBeLessThanOrEqual(0.04);
    } finally {
      encoder.kill('SIGKILL');
      await eventually(() => channel.ended, 'the channel to end when the encoder disconnects');
    }
  }, 90_000);
});

// ffprobe and ffmpeg are the independent readers above: fail clearly if they are missing.
beforeAll(async () => {
  await run('ffprobe', ['-version']);
  execFileSync('ffmpeg', ['-version']);
});
