/**
 * bench:renditions — what adaptive HLS costs per channel (issue 16): three simulcast layers passed
 * through as renditions (the server's command line for a simulcast source: every layer copied into
 * an output of its own, each with AAC audio) against one rendition (the server's command line for
 * a one-layer source) and against a transcoded three-rung ladder (what Owncast, OvenMediaEngine or
 * SRS with FFmpeg do: decode the top layer, scale it, libx264 three times), and the server's own
 * optional ladder for one-layer sources (HLS_LADDER=on: the top copied, two smaller rungs encoded).
 *
 * Each channel is fed by one FFmpeg sending, in real time with `-c copy`, three pre-encoded clips
 * of the same picture (320x180 150 kbit/s, 640x360 500 kbit/s, 1280x720 1500 kbit/s: the layers
 * Chromium sends, H264 Constrained Baseline, a key frame a second) + Opus as RTP; the receiving
 * FFmpeg reads the SDP the setup needs (three video streams, or the top one) and writes fMP4 to
 * pipes the benchmark reads and drops, as the packagers read them. No mediasoup: bench:simulcast
 * measures the workers (three layers cost them ~1.3× one). CPU over WINDOW_S per channel; rounds
 * alternate the order; median and worst per setup, and the ratios of medians in the same run.
 *
 *   npm run bench:renditions     RENDITIONS_CHANNELS=2  RENDITIONS_ROUNDS=3  RENDITIONS_WINDOW_S=30
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ffmpegFmp4Args } from '../server/src/readers/hls/ffmpeg-args.js';
import { writeSdp, type RtpStreamDescription } from '../server/src/readers/hls/sdp.js';
import { median, printTable } from './lib.js';
import { cpuPercentOver } from './proc-stats.js';

const CHANNELS = Number(process.env.RENDITIONS_CHANNELS ?? 2);
const ROUNDS = Number(process.env.RENDITIONS_ROUNDS ?? 3);
const WINDOW_S = Number(process.env.RENDITIONS_WINDOW_S ?? 30);
const SETTLE_S = 8;
const FIRST_PORT = 46_000;
const LOOPBACK = '127.0.0.1';
const FRAGMENT_MICROS = 25_000;

const LAYERS = [
  { width: 320, height: 180, kbps: 150 },
  { width: 640, height: 360, kbps: 500 },
  { width: 1280, height: 720, kbps: 1500 },
] as const;

type Setup = 'renditions' | 'one' | 'copy-ladder' | 'ladder';
const SETUP_NAMES: Record<Setup, string> = {
  renditions: '3 renditions, passed through',
  one: '1 rendition, passed through',
  'copy-ladder': 'HLS_LADDER=on: source copied + 2 libx264 rungs',
  ladder: '3-rung libx264 ladder (baseline)',
};

/** One layer's clip (video only; the top one carries the Opus audio), made once per machine. */
function layerClip(layer: (typeof LAYERS)[number], withAudio: boolean): string {
  const dir = path.join(os.tmpdir(), 'livecast-test-media');
  const file = path.join(dir, `bench-layer-${layer.width}x${layer.height}-${layer.kbps}k${withAudio ? '-opus' : ''}-v1.ts`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp.ts`;
  const result = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${layer.width}x${layer.height}:rate=30:duration=10`,
    ...(withAudio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=10'] : []),
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'baseline', '-level', '3.1', '-pix_fmt', 'yuv420p',
    '-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-bf', '0',
    '-b:v', `${layer.kbps}k`, '-maxrate', `${layer.kbps}k`, '-bufsize', `${layer.kbps / 2}k`,
    '-x264-params', 'repeat-headers=1',
    ...(withAudio ? ['-c:a', 'libopus', '-b:a', '64k', '-ac', '2'] : []),
    tmp,
  ]);
  if (result.status !== 0) throw new Error(`could not make the clip: ${result.stderr.toString()}`);
  spawnSync('mv', [tmp, file]);
  return file;
}

const H264 = { payloadType: 102, encodingName: 'H264', clockRate: 90000, fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' };
const OPUS = { payloadType: 101, encodingName: 'opus', clockRate: 48000, channels: 2 };

/** Ports of channel `i`: each layer's RTP/RTCP, then the audio's. */
const portsOf = (i: number) => {
  const base = FIRST_PORT + i * 10;
  return { video: LAYERS.map((_, layer) => base + 2 * layer), audio: base + 2 * LAYERS.length };
};

/** The three layers and the audio, in real time, as RTP (a simulcast broadcaster, without the browser). */
function startSender(i: number, seconds: number): ChildProcess {
  const ports = portsOf(i);
  const clips = LAYERS.map((layer, l) => layerClip(layer, l === LAYERS.length - 1));
  const rtp = (port: number) => `rtp://${LOOPBACK}:${port}?rtcpport=${port + 1}&pkt_size=1200`;
  const inputs = clips.flatMap((clip) => ['-re', '-stream_loop', '-1', '-t', String(seconds), '-i', clip]);
  const outputs = [
    ...LAYERS.flatMap((_, l) => ['-map', `${l}:v:0`, '-c', 'copy', '-payload_type', String(H264.payloadType), '-ssrc', String(1000 + l), '-f', 'rtp', rtp(ports.video[l]!)]),
    ...['-map', `${LAYERS.length - 1}:a:0`, '-c', 'copy', '-payload_type', String(OPUS.payloadType), '-ssrc', '2000', '-f', 'rtp', rtp(ports.audio)],
  ];
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', ...inputs, ...outputs], { stdio: ['ignore', 'ignore', 'inherit'] });
}

function sdpFor(setup: Setup, i: number): string {
  const ports = portsOf(i);
  const video = (port: number): RtpStreamDescription => ({ kind: 'video', port, ...H264 });
  const videos = setup === 'renditions' ? ports.video.map(video) : [video(ports.video.at(-1)!)];
  return writeSdp(`bench ${setup} ${i}`, LOOPBACK, [...videos, { kind: 'audio', port: ports.audio, ...OPUS }]);
}

/** The ladder: the top layer decoded, scaled to each rung, encoded as the server would for VP8 (libx264 veryfast, zerolatency), each rung with the audio. */
function ladderArgs(sdpPath: string): string[] {
  const rungs = [...LAYERS].reverse();
  const split = `[0:v:0]split=${rungs.length}${rungs.map((_, r) => `[s${r}]`).join('')};${rungs.map((rung, r) => `[s${r}]scale=${rung.width}:${rung.height}[v${r}]`).join(';')}`;
  const output = (r: number, pipe: number) => [
    '-map', `[v${r}]`, '-map', '0:a:0',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'baseline',
    '-b:v', `${rungs[r]!.kbps}k`, '-maxrate', `${rungs[r]!.kbps}k`, '-bufsize', `${rungs[r]!.kbps}k`,
    '-force_key_frames', 'expr:gte(t,n_forced*1)',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000',
    '-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-frag_duration', String(FRAGMENT_MICROS), '-flush_packets', '1',
    `pipe:${pipe}`,
  ];
  return ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-protocol_whitelist', 'file,udp,rtp', '-i', sdpPath, '-filter_complex', split, ...output(0, 1), ...output(1, 3), ...output(2, 4)];
}

function receiverArgs(setup: Setup, sdpPath: string): { args: string[]; pipes: number } {
  if (setup === 'ladder') return { args: ladderArgs(sdpPath), pipes: 3 };
  const common = { sdpPath, fragmentMicros: FRAGMENT_MICROS, keyFrameSeconds: 1, video: 'copy' } as const;
  if (setup === 'copy-ladder') return { args: ffmpegFmp4Args({ ...common, renditions: { kind: 'ladder', count: LAYERS.length } }), pipes: LAYERS.length };
  if (setup === 'renditions') return { args: ffmpegFmp4Args({ ...common, renditions: { kind: 'layers', count: LAYERS.length } }), pipes: LAYERS.length };
  return { args: ffmpegFmp4Args(common), pipes: 1 };
}

const started = new Set<ChildProcess>();
function killAll(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  started.clear();
}

interface Measurement {
  setup: Setup;
  round: number;
  cpu: number;
  /** fMP4 bytes written per second per channel (all outputs), and receivers still running at the end. */
  outputKbps: number;
  alive: number;
}

async function measure(setup: Setup, round: number): Promise<Measurement> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livecast-bench-renditions-'));
  const receivers: ChildProcess[] = [];
  let bytes = 0;
  try {
    for (let i = 0; i < CHANNELS; i++) {
      const sdpPath = path.join(dir, `channel-${i}.sdp`);
      await writeFile(sdpPath, sdpFor(setup, i));
      const { args, pipes } = receiverArgs(setup, sdpPath);
      // stdout and pipes 3, 4: read and dropped, as the packagers read them.
      const stdio = ['ignore', 'pipe', 'ignore', ...Array.from({ length: pipes - 1 }, () => 'pipe' as const)] as const;
      const receiver = spawn('ffmpeg', args, { stdio: [...stdio] });
      for (const [fd, pipe] of receiver.stdio.entries()) if (fd !== 2 && pipe && 'on' in pipe) pipe.on('data', (chunk: Buffer) => (bytes += chunk.length));
      started.add(receiver);
      receivers.push(receiver);
    }
    await new Promise((r) => setTimeout(r, 500)); // listening
    for (let i = 0; i < CHANNELS; i++) {
      started.add(startSender(i, SETTLE_S + WINDOW_S + 30));
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    const before = bytes;
    const cpu = await cpuPercentOver({ ffmpeg: receivers.map((r) => r.pid!) }, WINDOW_S * 1000);
    const alive = receivers.filter((r) => r.exitCode === null && r.signalCode === null).length;
    return { setup, round, cpu: cpu.ffmpeg! / CHANNELS, outputKbps: ((bytes - before) * 8) / 1000 / WINDOW_S / CHANNELS, alive };
  } finally {
    killAll();
    await new Promise((r) => setTimeout(r, 500));
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runRenditionsCost(): Promise<void> {
  const setups: Setup[] = ['renditions', 'one', 'copy-ladder', 'ladder'];
  const onSignal = () => {
    killAll();
    process.exit(130);
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  LAYERS.forEach((layer, l) => layerClip(layer, l === LAYERS.length - 1));
  const all: Measurement[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? setups : [...setups].reverse();
      for (const setup of order) {
        console.error(`round ${round}: ${SETUP_NAMES[setup]}, ${CHANNELS} channels, ${WINDOW_S} s …`);
        const m = await measure(setup, round);
        console.error(`  FFmpeg ${m.cpu.toFixed(2)} % of a core per channel; ${m.outputKbps.toFixed(0)} kbit/s out; ${m.alive}/${CHANNELS} running`);
        all.push(m);
      }
    }
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    killAll();
  }
  const cpuOf = (setup: Setup) => all.filter((m) => m.setup === setup).map((m) => m.cpu);
  const ladder = median(cpuOf('ladder'));
  const one = median(cpuOf('one'));
  printTable(
    `HLS FFmpeg CPU per channel, % of a core (${CHANNELS} channels, ${WINDOW_S} s windows, ${ROUNDS} rounds, ${os.availableParallelism()} cores): median / worst; ratios of medians`,
    setups.map((setup) => {
      const ms = all.filter((m) => m.setup === setup);
      const cpu = ms.map((m) => m.cpu);
      return {
        setup: SETUP_NAMES[setup],
        'CPU %/ch': `${median(cpu).toFixed(2)} / ${Math.max(...cpu).toFixed(2)}`,
        'vs ladder': (median(cpu) / ladder).toFixed(3),
        'vs 1 rendition': (median(cpu) / one).toFixed(2),
        'output kbit/s per ch (median)': median(ms.map((m) => m.outputKbps)).toFixed(0),
        'receivers running at the end': ms.map((m) => `${m.alive}/${CHANNELS}`).join(', '),
      };
    }),
  );
  console.log('Target: the three passed-through renditions cost <= 0.15x the transcoded ladder.');
}
