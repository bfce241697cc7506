/**
 * CPU per channel of the HLS packaging, old vs new, in the same run (issue 13):
 *   - old: FFmpeg's HLS muxer, 0.5 s MPEG-TS segments on disk (key frames every 0.5 s), and the
 *     server's LivePlaylist reading each playlist update and new segment into memory;
 *   - new: FFmpeg writing fragmented MP4 to a pipe (ffmpegFmp4Args), packaged into LL-HLS parts
 *     and 1 s segments by LlPackager in node, with the playlist written on every change
 *     (key frames every 1 s).
 * Each channel is fed by an FFmpeg sending a pre-encoded 1280x720 30 fps H264 (Constrained
 * Baseline, in-band SPS/PPS, as browsers send it) + Opus clip with -c copy over RTP on loopback,
 * straight to the packaging FFmpeg (no mediasoup: its cost is the same for both and measured by
 * bench:cost). Each setup gets the key-frame interval it asks the broadcaster for.
 *
 * The packaging's node side runs in a child process (bench/packaging-worker.ts) whose CPU is read
 * from /proc like FFmpeg's: process.cpuUsage() of this process would also count this process's
 * own work (spawning, /proc reading, timers). The child's CPU while idle (loaded, no channel) is
 * measured before every window and subtracted; it is printed too. Audio is transcoded Opus → AAC
 * in both setups (most of FFmpeg's CPU); video is copied.
 *
 * Rounds alternate the order (old, new; new, old; …) so that a drift of the machine's load does
 * not favour one setup. Per setup: median and worst (highest) CPU over the rounds, and new/old;
 * then where the new setup's node CPU goes (CPU time around each step, in the worker).
 *
 * On a busy machine FFmpeg sometimes gives up probing its RTP input at start ("Could not find
 * codec parameters"): such a channel gets its FFmpeg restarted before the window, as HlsPipeline
 * would. A measurement in which an FFmpeg died or a playlist fell behind (< 80 % of the segments
 * the window should make) is done again, at most 3 times, and if none worked shown but not
 * counted. Restarts and attempts are printed with every round.
 *
 *   npm run bench:packaging     BENCH_CHANNELS=8  BENCH_WINDOW_S=50  BENCH_ROUNDS=3  BENCH_VIDEO_KBPS=1000
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PortAllocator, udpPortProbe } from '../server/src/readers/hls/port-allocator.js';
import { writeSdp } from '../server/src/readers/hls/sdp.js';
import { RTP_INGEST } from '../server/test/helpers/rtp-ingest.js';
import { startRtpSource, stopProcess } from '../server/test/helpers/rtp-source.js';
import { median, printTable } from './lib.js';
import type { FromWorker, PackagingMode, Spent, ToWorker, WorkerChannel } from './packaging-worker.js';
import { cpuPercentOver, rssMiB } from './proc-stats.js';

const CHANNELS = Number(process.env.BENCH_CHANNELS ?? 8);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const VIDEO_KBPS = Number(process.env.BENCH_VIDEO_KBPS ?? 1000);
/** From the senders' start to the window: FFmpeg probes its input, the first segments are made. */
const SETTLE_S = 10;
/** How many times channels that did not start are restarted before a measurement is given up. */
const MAX_RESTART_CHECKS = 3;
/** The worker's idle CPU is measured over this long, after it has been up for IDLE_AFTER_S (start-up work done). */
const IDLE_AFTER_S = 2;
const IDLE_WINDOW_S = 5;
/** Below the kernel's ephemeral ports (where the senders' own sockets land), above the server's defaults. */
const PORT_MIN = Number(process.env.BENCH_PORT_MIN ?? 30000);
const PORT_MAX = Number(process.env.BENCH_PORT_MAX ?? 32699);
const LOOPBACK = '127.0.0.1';
const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'packaging-worker.ts');
/** Segment length, s: what each setup's playlist should gain per second. */
const SEGMENT_SECONDS: Record<PackagingMode, number> = { old: 0.5, new: 1 };

interface Measurement {
  mode: PackagingMode;
  round: number;
  ffmpegPerChannel: number;
  nodePerChannel: number;
  nodeIdle: number;
  senderPerChannel: number;
  ffmpegRssPerChannel: number;
  nodeRss: number;
  machineBusy: number;
  /** New only: the node side's synchronous steps, % of one core per channel. */
  spent: Spent | null;
  load1: number;
  onTime: number;
  /** FFmpegs restarted before the window because they did not start. */
  restarts: number;
  /** Why the measurement does not count (an FFmpeg died, a playlist fell behind), or null. */
  problem: string | null;
  attempt: number;
}

/**
 * The clip each setup is fed: H264 Constrained Baseline with a key frame every `gopSeconds` (what
 * the setup asks the broadcaster for) + Opus, MPEG-TS with SPS/PPS in band (see testClip), made
 * once per machine.
 */
/** The SDP an FFmpeg reads the clip's RTP from: H264 on `base`, Opus on `base + 2` (RTCP on the next ports). */
export function clipSdp(name: string, base: number): string {
  return writeSdp(name, LOOPBACK, [
    { kind: 'video', port: base, payloadType: RTP_INGEST.video.payloadType, encodingName: 'H264', clockRate: 90000, fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' },
    { kind: 'audio', port: base + 2, payloadType: RTP_INGEST.audio.payloadType, encodingName: 'opus', clockRate: 48000, channels: 2 },
  ]);
}

export function clip(gopSeconds: number): string {
  const dir = path.join(os.tmpdir(), 'livecast-test-media');
  const gop = Math.round(gopSeconds * 30);
  const file = path.join(dir, `bench-packaging-1280x720-${VIDEO_KBPS}k-gop${gop}-v1.ts`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp.ts`;
  const result = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30:duration=10',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=10',
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'baseline', '-level', '3.1', '-pix_fmt', 'yuv420p',
    '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0', '-bf', '0',
    '-b:v', `${VIDEO_KBPS}k`, '-maxrate', `${VIDEO_KBPS}k`, '-bufsize', `${VIDEO_KBPS / 2}k`,
    '-x264-params', 'repeat-headers=1',
    '-c:a', 'libopus', '-b:a', '64k', '-ac', '2',
    tmp,
  ]);
  if (result.status !== 0) throw new Error(`could not make the clip: ${result.stderr.toString()}`);
  spawnSync('mv', [tmp, file]);
  return file;
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((s, v) => s + v, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

function nextMessage<T extends FromWorker['type']>(worker: ChildProcess, type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`packaging worker: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: FromWorker) => {
      if (message.type === 'error') finish(new Error(`packaging worker: ${message.message}`));
      else if (message.type === type) finish(null, message as Extract<FromWorker, { type: T }>);
    };
    const onExit = (code: number | null) => finish(new Error(`packaging worker exited (${code}) before '${type}'`));
    function finish(error: Error | null, message?: Extract<FromWorker, { type: T }>) {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      if (error) reject(error);
      else resolve(message!);
    }
    worker.on('message', onMessage);
    worker.once('exit', onExit);
  });
}

/** Everything this benchmark started, killed by pid at the end whatever happened. */
const started = new Set<ChildProcess>();
const ffmpegPids = new Set<number>();
const tempDirs = new Set<string>();

function killLeftovers(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of ffmpegPids) {
    // Only if that pid is still one of this benchmark's FFmpegs (its SDP is in our temporary folder):
    // the worker's, which should have gone with it.
    const cmdline = (() => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      } catch {
        return '';
      }
    })();
    if (cmdline.includes('ffmpeg') && cmdline.includes('livecast-bench-packaging-')) process.kill(pid, 'SIGKILL');
  }
}

/**
 * A measurement that did not work (a port taken by another process; an FFmpeg that gave up probing
 * its input, which happens when the machine is overloaded; a playlist that fell behind) is done
 * again, at most MAX_ATTEMPTS times; the last one is kept and shown, but not counted, if none worked.
 */
const MAX_ATTEMPTS = 3;
async function measureWithRetry(mode: PackagingMode, round: number, ports: PortAllocator): Promise<Measurement> {
  for (let attempt = 1; ; attempt++) {
    try {
      const m = { ...(await measure(mode, round, ports)), attempt };
      if (!m.problem || attempt >= MAX_ATTEMPTS) return m;
      console.error(`round ${round} ${mode}: ${m.problem}; measuring again`);
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !String(error).includes('packaging worker')) throw error;
      console.error(`round ${round} ${mode}: ${String(error)}; measuring again on other ports`);
    }
  }
}

async function measure(mode: PackagingMode, round: number, ports: PortAllocator): Promise<Omit<Measurement, 'attempt'>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `livecast-bench-packaging-${mode}-`));
  tempDirs.add(dir);
  const bases: number[] = [];
  const senders: ChildProcess[] = [];
  let worker: ChildProcess | null = null;
  try {
    const channels: WorkerChannel[] = [];
    for (let i = 0; i < CHANNELS; i++) {
      const base = await ports.allocate(4);
      bases.push(base);
      const sdpPath = path.join(dir, `channel-${i}.sdp`);
      await writeFile(sdpPath, clipSdp(`bench ${i}`, base));
      channels.push({ sdpPath, outDir: path.join(dir, `hls-${i}`), rtpPorts: [base, base + 2] });
    }

    worker = spawn(process.execPath, ['--import', 'tsx', WORKER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    started.add(worker);
    await nextMessage(worker, 'up', 30_000);
    await new Promise((r) => setTimeout(r, IDLE_AFTER_S * 1000));
    const idle = await cpuPercentOver({ node: [worker.pid!] }, IDLE_WINDOW_S * 1000);
    worker.send({ type: 'start', mode, channels } satisfies ToWorker);
    let pids = (await nextMessage(worker, 'ready', 30_000)).ffmpegPids;
    pids.forEach((p) => ffmpegPids.add(p));

    const clipFile = clip(SEGMENT_SECONDS[mode]);
    for (const c of channels) {
      const [video, audio] = c.rtpPorts;
      const sender = startRtpSource({ video: { rtpPort: video, rtcpPort: video + 1 }, audio: { rtpPort: audio, rtcpPort: audio + 1 } }, clipFile, SETTLE_S + WINDOW_S + 60);
      senders.push(sender);
      started.add(sender);
      // Staggered: eight FFmpegs probing their input at the same moment on a busy machine lose packets.
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));

    const progress = async () => {
      worker!.send({ type: 'progress' } satisfies ToWorker);
      return nextMessage(worker!, 'progress', 20_000);
    };
    // A channel whose FFmpeg died or has no segment yet gets its FFmpeg restarted, as HlsPipeline
    // would (on a busy machine FFmpeg sometimes gives up probing its input); counted and shown.
    let restarts = 0;
    for (let check = 0; ; check++) {
      const { segments, running } = await progress();
      const stuck = segments.flatMap((n, i) => (n < 0 || !running[i] ? [i] : []));
      if (stuck.length === 0 || check >= MAX_RESTART_CHECKS) break;
      restarts += stuck.length;
      console.error(`round ${round} ${mode}: restarting the FFmpeg of ${stuck.length} channel(s) that did not start`);
      worker.send({ type: 'restart', indexes: stuck } satisfies ToWorker);
      pids = (await nextMessage(worker, 'ready', 30_000)).ffmpegPids;
      pids.forEach((p) => ffmpegPids.add(p));
      await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    }

    const { segments: before, spent: spentBefore } = await progress();
    const windowStart = performance.now();
    const ticks0 = machineTicks();
    const cpu = await cpuPercentOver({ ffmpeg: pids, node: [worker.pid!], senders: senders.map((s) => s.pid!) }, WINDOW_S * 1000);
    const ticks1 = machineTicks();
    const { segments: after, spent: spentAfter, running } = await progress();
    const alive = running.filter(Boolean).length;
    const seconds = (performance.now() - windowStart) / 1000;
    const share = (k: keyof Spent) => (spentAfter[k] - spentBefore[k]) / 1000 / seconds / CHANNELS * 100;
    const rss = pids.reduce((s, p) => s + rssMiB(p), 0);
    // "On time": the playlist gained at least 80 % of the segments the window should produce.
    const expected = WINDOW_S / SEGMENT_SECONDS[mode];
    const onTime = after.filter((n, i) => before[i]! >= 0 && n - before[i]! >= expected * 0.8).length;
    const problem =
      alive < CHANNELS
        ? `${CHANNELS - alive} of ${CHANNELS} FFmpegs exited`
        : onTime < CHANNELS
          ? `${CHANNELS - onTime} of ${CHANNELS} playlists fell behind (segments gained: ${after.map((n, i) => (before[i]! < 0 ? 'not started' : n - before[i]!)).join(', ')}; wanted >= ${Math.ceil(expected * 0.8)})`
          : null;
    return {
      mode,
      round,
      ffmpegPerChannel: cpu.ffmpeg! / CHANNELS,
      nodePerChannel: Math.max(0, cpu.node! - idle.node!) / CHANNELS,
      nodeIdle: idle.node!,
      senderPerChannel: cpu.senders! / CHANNELS,
      ffmpegRssPerChannel: rss / CHANNELS,
      nodeRss: rssMiB(worker.pid!),
      machineBusy: ((ticks1.busy - ticks0.busy) / (ticks1.total - ticks0.total)) * 100,
      load1: os.loadavg()[0]!,
      onTime,
      restarts,
      problem,
      spent: mode === 'new' ? { reading: share('reading'), packaging: share('packaging'), playlists: share('playlists') } : null,
    };
  } finally {
    await Promise.all(senders.map((s) => stopProcess(s)));
    if (worker && worker.exitCode === null && worker.signalCode === null) {
      const exited = new Promise((r) => worker!.once('exit', r));
      if (worker.connected) worker.send({ type: 'stop' } satisfies ToWorker);
      const timer = setTimeout(() => worker!.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    killLeftovers();
    bases.forEach((b) => ports.release(b, 4));
    await rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

export async function runPackagingCost(): Promise<void> {
  clip(SEGMENT_SECONDS.old);
  clip(SEGMENT_SECONDS.new);
  const ports = new PortAllocator(PORT_MIN, PORT_MAX, udpPortProbe(LOOPBACK));
  const interrupted = () => {
    killLeftovers();
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const results: Measurement[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const order: PackagingMode[] = round % 2 === 1 ? ['old', 'new'] : ['new', 'old'];
      for (const mode of order) {
        console.error(`round ${round}/${ROUNDS}: ${mode}, ${CHANNELS} channels, ${WINDOW_S} s …`);
        results.push(await measureWithRetry(mode, round, ports));
      }
    }
  } finally {
    killLeftovers();
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
  }

  const label: Record<PackagingMode, string> = {
    old: 'old: FFmpeg HLS muxer, 0.5 s TS segments + LivePlaylist',
    new: 'new: FFmpeg fMP4 pipe + LlPackager (1 s segments, 0.2 s parts)',
  };
  printTable(
    `HLS packaging CPU per channel, every round (${CHANNELS} channels, 1280x720 30 fps ${VIDEO_KBPS} kbit/s H264 copied + Opus→AAC, ${WINDOW_S} s windows; CPU in % of one core)`,
    results.map((r) => ({
      round: r.round,
      setup: label[r.mode],
      'playlists on time': `${r.onTime}/${CHANNELS}${r.problem ? ' (NOT COUNTED)' : ''}`,
      attempt: r.attempt,
      'FFmpegs restarted at start': r.restarts,
      'FFmpeg %/ch': r.ffmpegPerChannel.toFixed(2),
      'node %/ch': r.nodePerChannel.toFixed(2),
      'total %/ch': (r.ffmpegPerChannel + r.nodePerChannel).toFixed(2),
      'node idle % (subtracted)': r.nodeIdle.toFixed(2),
      'FFmpeg RSS MiB/ch': r.ffmpegRssPerChannel.toFixed(1),
      'node RSS MiB': r.nodeRss.toFixed(0),
      'sender %/ch (load gen.)': r.senderPerChannel.toFixed(2),
      'machine busy %': r.machineBusy.toFixed(0),
      'load avg 1 min': r.load1.toFixed(1),
    })),
  );

  const valid = results.filter((r) => !r.problem);
  const of = (mode: PackagingMode, f: (r: Measurement) => number) => valid.filter((r) => r.mode === mode).map(f);
  const metrics: [string, (r: Measurement) => number][] = [
    ['FFmpeg', (r) => r.ffmpegPerChannel],
    ['node', (r) => r.nodePerChannel],
    ['total', (r) => r.ffmpegPerChannel + r.nodePerChannel],
  ];
  const rows: Record<string, string | number>[] = [];
  for (const mode of ['old', 'new'] as const) {
    const row: Record<string, string | number> = { setup: label[mode] };
    for (const [name, f] of metrics) {
      row[`${name} %/ch median`] = median(of(mode, f)).toFixed(2);
      row[`${name} %/ch worst`] = Math.max(...of(mode, f)).toFixed(2);
    }
    rows.push(row);
  }
  const ratio: Record<string, string | number> = { setup: 'new / old' };
  const paired: string[] = [];
  for (const [name, f] of metrics) {
    ratio[`${name} %/ch median`] = (median(of('new', f)) / median(of('old', f))).toFixed(2);
    ratio[`${name} %/ch worst`] = (Math.max(...of('new', f)) / Math.max(...of('old', f))).toFixed(2);
    // The same ratio within each round (old and new measured minutes apart under the same load).
    const perRound = Array.from({ length: ROUNDS }, (_, i) => {
      const o = valid.find((r) => r.mode === 'old' && r.round === i + 1);
      const n = valid.find((r) => r.mode === 'new' && r.round === i + 1);
      return o && n ? (f(n) / f(o)).toFixed(2) : '—';
    });
    paired.push(`${name} ${perRound.join(', ')}`);
  }
  rows.push(ratio);
  const counted = (mode: PackagingMode) => valid.filter((r) => r.mode === mode).length;
  printTable(
    `HLS packaging CPU per channel: ${ROUNDS} rounds, old and new alternated in the same run (counted: old ${counted('old')}, new ${counted('new')}; % of one core; worst = highest)`,
    rows,
  );
  console.log(`new / old within each round (rounds 1–${ROUNDS}): ${paired.join('; ')}.`);

  // Where the new setup's node CPU goes: time inside each synchronous step; "other" is the rest of
  // the node process's CPU (reading the pipes, garbage collection, the event loop).
  const fresh = valid.filter((r) => r.mode === 'new' && r.spent);
  const step = (f: (r: Measurement) => number) => median(fresh.map(f)).toFixed(2);
  printTable(`Where the new setup's node CPU goes (% of one core per channel, median over ${fresh.length} rounds)`, [
    {
      'node total': step((r) => r.nodePerChannel),
      'reading fMP4 (BoxSplitter, mp4box readInit/readFragment, moof+mdat copy)': step((r) => r.spent!.reading),
      'LlPackager (setInit/addFragment)': step((r) => r.spent!.packaging),
      'playlists (full + delta per change)': step((r) => r.spent!.playlists),
      'other (pipe reads, GC, event loop)': step((r) => r.nodePerChannel - r.spent!.reading - r.spent!.packaging - r.spent!.playlists),
    },
  ]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runPackagingCost().catch((error: unknown) => {
    console.error(error);
    killLeftovers();
    process.exitCode = 1;
  });
}
