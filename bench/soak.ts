/**
 * Soak (issue 12): a live channel for SOAK_MINUTES (default 30) with viewers joining and leaving
 * all the time and the attacks of issue 12 replayed in waves; reports the server's RSS slope,
 * file descriptors, playlist stalls and what every attack was refused with and left behind.
 *
 * The server runs as its own process (bench/soak-server.ts: the app with its web pages and one
 * channel fed over RTP), so /proc/<pid> of that process is the server alone; viewers and attackers
 * run here. Baselines from the same run: the idle server before the audience arrives vs after it
 * left, the warm-up vs the end, and quiet periods vs attack waves.
 *
 *   npm run bench:soak     SOAK_MINUTES=30  SOAK_WAVE_SECONDS=150  SOAK_VIEWERS=30  SOAK_HLS_VIEWERS=20
 *                          SOAK_KEEP_LOG=1 (keep the server's log)  SOAK_JSON=file (raw samples)
 *
 * Not part of `npm run bench` (it would add half an hour): run it by name.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Socket } from 'socket.io-client';
import { loadConfig } from '../server/src/config.js';
import { startRtpSource, stopProcess, testClip } from '../server/test/helpers/rtp-source.js';
import { waitForExit } from '../server/test/helpers/processes.js';
import { median, percentile, printTable } from './lib.js';
import { badProduce, idleConnections, realtimeBurst, slowloris, socketBurst, squat, unknownUrls, type AttackResult } from './soak-attacks.js';
import { AudienceLog, startChurn, startProbe, startWatcher, type Timed } from './soak-clients.js';
import type { SoakServerReady } from './soak-server.js';
import { mean, metric, refusalsByLimit, sampleServer, scrapeMetrics, slope, type ProcSample } from './soak-stats.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 30);
const WAVE_EVERY_MS = Number(process.env.SOAK_WAVE_SECONDS ?? 150) * 1000;
const SOCKET_VIEWERS = Number(process.env.SOAK_VIEWERS ?? 30);
const HLS_VIEWERS = Number(process.env.SOAK_HLS_VIEWERS ?? 20);
const SAMPLE_MS = 10_000;
/** A wave takes about this long: slow and idle connections wait for Node's header timeout (60 s, checked every 30 s). */
const WAVE_BUDGET_MS = 105_000;
const SLOW_CAP_MS = 95_000;

/**
 * The server's own settings, apart from loopback ports away from the tests' defaults (the machine
 * may run tests at the same time). Limits stay at their defaults: they are what is soaked.
 */
const SERVER_ENV: Record<string, string> = {
  RTC_MIN_PORT: '47000',
  RTC_MAX_PORT: '48999',
  HLS_RTP_MIN_PORT: '27000',
  HLS_RTP_MAX_PORT: '27999',
  LOG_LEVEL: 'warn',
};

const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface MetricsSample {
  at: number;
  channels: number;
  viewers: number;
  realtime: number;
  hlsPorts: number;
  refusals: Map<string, number>;
  ffmpegRestarts: number;
  ffmpegStalls: number;
  hlsPaused: number;
  /** V8 heap in use (prom-client default metric): a leak shows here before RSS says anything. */
  heapUsedMiB: number;
}

async function sampleMetrics(url: string): Promise<MetricsSample | null> {
  try {
    const m = await scrapeMetrics(url);
    return {
      at: now(),
      channels: metric(m, 'livecast_channels'),
      viewers: metric(m, 'livecast_viewers'),
      realtime: metric(m, 'livecast_viewers', 'mode="realtime"'),
      hlsPorts: metric(m, 'livecast_hls_rtp_ports_in_use'),
      refusals: refusalsByLimit(m),
      ffmpegRestarts: metric(m, 'livecast_ffmpeg_restarts_total'),
      ffmpegStalls: metric(m, 'livecast_ffmpeg_stalls_total'),
      hlsPaused: metric(m, 'livecast_hls_paused_channels'),
      heapUsedMiB: metric(m, 'livecast_nodejs_heap_size_used_bytes') / 2 ** 20,
    };
  } catch {
    return null;
  }
}

interface Wave {
  index: number;
  start: number;
  end: number;
  /** When each attack ran, to tell which one a stall overlapped. */
  steps: { name: string; start: number; end: number }[];
  results: AttackResult[];
  /** Server-side refusal counters over the wave (metric deltas), by limit. */
  refusals: Map<string, number>;
  /** From the end of the attacks until channels and HLS ports were back to the live channel's. */
  releasedMs: number | null;
  logLines: number;
  nonJsonLogLines: number;
}

/** The server as its own process: resolves once it listens with its fed channel. */
async function startServer(logFile: string): Promise<{ child: ChildProcess; ready: SoakServerReady }> {
  const out = openSync(logFile, 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/soak-server.ts'], {
    env: { ...process.env, ...SERVER_ENV },
    // Its own process group: whatever it leaves behind can be found (and stopped) afterwards.
    detached: true,
    stdio: ['ignore', out, out, 'ipc'],
  });
  closeSync(out);
  const ready = new Promise<SoakServerReady>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the soak server did not start within 60 s')), 60_000);
    child.once('message', (m: SoakServerReady) => {
      clearTimeout(timer);
      resolve(m);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the soak server exited during start-up (${code}); see ${logFile}`));
    });
  });
  try {
    return { child, ready: await ready };
  } catch (error) {
    await stopServer(child);
    throw error;
  }
}

interface Stopped {
  exitedCleanly: boolean;
  /** Processes still in the server's group 10 s after it exited (then killed). */
  leftovers: string[];
  groupEmptyMs: number | null;
}

/** SIGTERM, then whatever is left in its process group (counted: there should be nothing). */
async function stopServer(child: ChildProcess): Promise<Stopped> {
  const pid = child.pid!;
  let exitedCleanly = child.exitCode !== null;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    exitedCleanly = await waitForExit(pid, 20_000);
  }
  const exitedAt = now();
  const group = () =>
    execFileSync('ps', ['-eo', 'pid=,pgid=,comm='])
      .toString()
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([p, g]) => Number(g) === pid && Number(p) !== pid)
      .map(([p, , comm]) => `${p} ${comm}`);
  // mediasoup workers exit on their own a moment after the server (~1.5 s measured on this machine).
  let leftovers = group();
  while (leftovers.length && now() - exitedAt < 10_000) {
    await sleep(100);
    leftovers = group();
  }
  const groupEmptyMs = leftovers.length ? null : now() - exitedAt;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is empty: everything exited.
  }
  return { exitedCleanly, leftovers, groupEmptyMs };
}

const within = <T extends { at: number }>(events: T[], from: number, to: number): T[] => events.filter((e) => e.at >= from && e.at < to);

export async function runSoak(): Promise<void> {
  const durationMs = MINUTES * 60_000;
  const warmupMs = Math.min(120_000, durationMs * 0.2);
  const tailMs = Math.min(120_000, durationMs * 0.15);
  const config = loadConfig({ ...process.env, ...SERVER_ENV });
  const logFile = path.join(os.tmpdir(), `livecast-soak-${process.pid}.log`);
  const loadBefore = os.loadavg();
  const clip = testClip();

  console.error(`soak: ${MINUTES} min, waves every ${WAVE_EVERY_MS / 1000} s after ${warmupMs / 1000} s of warm-up; server log ${logFile}`);
  const { child, ready } = await startServer(logFile);
  const serverPid = child.pid!;
  let serverExit: string | null = null;
  let stoppingServer = false;
  child.once('exit', (code, signal) => {
    if (!stoppingServer) serverExit = `exited (${code ?? signal}) during the soak`;
  });
  const { url, channelId } = ready;
  const segmentMs = ready.segmentSeconds * 1000;
  const stallMs = 3 * segmentMs;
  // The broadcaster: FFmpeg looping the clip over RTP for longer than the soak lasts.
  const source = startRtpSource(ready, clip, MINUTES * 60 + 600);

  const log = new AudienceLog();
  let stopAudience = false;
  const samples: ProcSample[] = [];
  const metricsSamples: MetricsSample[] = [];
  const waves: Wave[] = [];
  let watcher: Socket | null = null;
  let probe: Promise<void> = Promise.resolve();
  let churn: Promise<void> = Promise.resolve();
  let t0 = now();
  let idleStart: { proc: ProcSample; metrics: MetricsSample | null } | null = null;
  let idleEnd: { proc: ProcSample; metrics: MetricsSample | null } | null = null;
  let stopped: Stopped = { exitedCleanly: false, leftovers: [], groupEmptyMs: null };
  let sampler: NodeJS.Timeout | null = null;
  try {
    // Live: the first playlist is served.
    const liveBy = now() + 30_000;
    while ((await fetch(`${url}/hls/${channelId}/index.m3u8`).then((r) => r.status, () => 0)) !== 200) {
      if (now() > liveBy) throw new Error('the fed channel did not go live within 30 s');
      await sleep(200);
    }
    await sleep(10_000);
    idleStart = { proc: sampleServer(serverPid), metrics: await sampleMetrics(url) };

    t0 = now();
    watcher = await startWatcher(url, channelId, log);
    probe = startProbe(url, channelId, log, () => stopAudience);
    churn = startChurn({ url, channelId, socketViewers: SOCKET_VIEWERS, realtimeShare: 0.3, hlsViewers: HLS_VIEWERS, log }, () => stopAudience);
    const sample = async () => {
      samples.push(sampleServer(serverPid));
      const m = await sampleMetrics(url);
      if (m) metricsSamples.push(m);
      const s = samples.at(-1)!;
      console.error(
        `${((s.at - t0) / 60_000).toFixed(1)} min: RSS ${s.rssMiB.toFixed(1)} MiB, FDs ${s.fds}, workers ${s.workersRssMiB.toFixed(1)} MiB / ${s.workersFds} FDs, ` +
          `ffmpeg ${s.ffmpegs}, channels ${m?.channels}, viewers ${m?.viewers} (real-time ${m?.realtime}), HLS ports ${m?.hlsPorts}, stalls ${log.advances.filter((a) => a.value > stallMs).length}`,
      );
    };
    await sample();
    sampler = setInterval(() => void sample(), SAMPLE_MS);

    const waveStarts: number[] = [];
    for (let t = warmupMs; t + WAVE_BUDGET_MS <= durationMs - tailMs; t += WAVE_EVERY_MS) waveStarts.push(t);
    for (const [i, startOffset] of waveStarts.entries()) {
      await sleep(Math.max(0, t0 + startOffset - now()));
      if (serverExit) break;
      waves.push(await runWave(i + 1, url, channelId, config, logFile));
    }
    await sleep(Math.max(0, t0 + durationMs - now()));

    // The audience leaves; what is left after a while must be what was there before it came.
    stopAudience = true;
    await Promise.all([probe, churn]);
    watcher.disconnect();
    clearInterval(sampler);
    sampler = null;
    await sleep(15_000);
    idleEnd = { proc: sampleServer(serverPid), metrics: await sampleMetrics(url) };
  } finally {
    stopAudience = true;
    if (sampler) clearInterval(sampler);
    watcher?.disconnect();
    await Promise.race([Promise.all([probe, churn]), sleep(20_000)]);
    await stopProcess(source);
    stoppingServer = true;
    stopped = await stopServer(child);
    rmSync(ready.hlsDir, { recursive: true, force: true });
  }

  report({
    t0,
    warmupMs,
    durationMs,
    stallMs,
    samples,
    metricsSamples,
    waves,
    log,
    idleStart,
    idleEnd,
    serverPid,
    serverExit,
    stopped,
    logFile,
    loadBefore,
    loadAfter: os.loadavg(),
  });
  if (process.env.SOAK_JSON) {
    // Raw samples for analysis after the fact (times in ms since the audience arrived).
    const rel = <T extends { at: number }>(xs: T[]) => xs.map((x) => ({ ...x, at: Math.round(x.at - t0) }));
    writeFileSync(
      process.env.SOAK_JSON,
      JSON.stringify({
        samples: rel(samples),
        metrics: rel(metricsSamples).map((m) => ({ ...m, refusals: Object.fromEntries(m.refusals) })),
        advances: rel(log.advances),
        hlsErrors: rel(log.hlsErrors),
        joinMs: rel(log.joinMs),
        waves: waves.map((w) => ({ index: w.index, start: w.start - t0, end: w.end - t0, steps: w.steps.map((st) => ({ ...st, start: st.start - t0, end: st.end - t0 })) })),
      }),
    );
  }
  if (!process.env.SOAK_KEEP_LOG) rmSync(logFile, { force: true });
  else console.error(`server log kept: ${logFile}`);
}

/** One attack wave: every attack in turn (slowloris alongside, it only waits), then the release check. */
async function runWave(index: number, url: string, channelId: string, config: ReturnType<typeof loadConfig>, logFile: string): Promise<Wave> {
  console.error(`wave ${index} …`);
  const start = now();
  const logOffset = statSync(logFile).size;
  const before = await sampleMetrics(url);
  const results: AttackResult[] = [];
  const steps: Wave['steps'] = [];
  const attempt = async (name: string, attack: () => Promise<AttackResult>) => {
    const step = { name, start: now(), end: Infinity };
    steps.push(step);
    try {
      results.push(await attack());
    } catch (error) {
      const outcomes = new Map([[`the attack itself failed: ${String(error)}`, 1]]);
      results.push({ attack: name, from: '', attempts: 0, held: 0, refused: 0, outcomes, note: '', times: [], timesWhat: '' });
    } finally {
      step.end = now();
    }
  };
  // Slow and idle connections only wait for the server's timeouts: they run alongside the rest.
  const loris = attempt('slowloris', () => slowloris(url, '127.0.0.73', 50, SLOW_CAP_MS));
  const idle = attempt('idle', () => idleConnections(url, '127.0.0.72', config.limits.connectionsPerAddress + 50, SLOW_CAP_MS));
  await attempt('squat', () => squat(url, ['127.0.0.66', '127.0.0.67', '127.0.0.68'], config.limits.channelsPerAddress + 1, config.channels.sourceTimeoutMs + 15_000));
  await attempt('realtime', () => realtimeBurst(url, channelId, '127.0.0.70', config.limits.realtimePerAddress + 5, 5000));
  await attempt('sockets', () => socketBurst(url, '127.0.0.71', config.limits.socketsPerAddress + 10, 5000));
  await attempt('produce', () => badProduce(url, '127.0.0.74'));
  await attempt('urls', () => unknownUrls(url, '127.0.0.75', 10));
  await Promise.all([loris, idle]);
  const attacksEnd = now();
  // Released: back to the live channel alone (one channel, its four HLS ports).
  let releasedMs: number | null = null;
  while (now() - attacksEnd < 30_000) {
    const m = await sampleMetrics(url);
    if (m && m.channels === 1 && m.hlsPorts === 4) {
      releasedMs = now() - attacksEnd;
      break;
    }
    await sleep(500);
  }
  const after = await sampleMetrics(url);
  const refusals = new Map<string, number>();
  for (const [limit, n] of after?.refusals ?? []) refusals.set(limit, n - (before?.refusals.get(limit) ?? 0));
  const lines = readFileSync(logFile, 'utf8').slice(logOffset).split('\n').filter(Boolean);
  return {
    index,
    start,
    end: now(),
    steps,
    results,
    refusals,
    releasedMs,
    logLines: lines.length,
    nonJsonLogLines: lines.filter((l) => !l.startsWith('{')).length,
  };
}

interface ReportInput {
  t0: number;
  warmupMs: number;
  durationMs: number;
  stallMs: number;
  samples: ProcSample[];
  metricsSamples: MetricsSample[];
  waves: Wave[];
  log: AudienceLog;
  idleStart: { proc: ProcSample; metrics: MetricsSample | null } | null;
  idleEnd: { proc: ProcSample; metrics: MetricsSample | null } | null;
  serverPid: number;
  serverExit: string | null;
  stopped: Stopped;
  logFile: string;
  loadBefore: number[];
  loadAfter: number[];
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '—');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '—');

function report(r: ReportInput): void {
  const { t0, log, samples, metricsSamples, waves } = r;
  const minute = (at: number) => Math.floor((at - t0) / 60_000);
  const inWave = (at: number) => waves.find((w) => at >= w.start && at <= w.end);
  const phaseOf = (at: number) => (at - t0 < r.warmupMs ? 'warm-up' : inWave(at) ? 'attack' : 'quiet');
  const stalls = log.advances.filter((a) => a.value > r.stallMs);
  /** The attacks running while the playlist did not advance (a gap ends at `at`). */
  const during = (gap: Timed<number>) => {
    const names = waves.flatMap((w) => w.steps.filter((st) => st.start < gap.at && st.end > gap.at - gap.value).map((st) => `${st.name} (wave ${w.index})`));
    return names.length ? ` during ${names.join(' + ')}` : ' (no attack running)';
  };

  // ---- per-minute timeline
  const minutes = Math.ceil(r.durationMs / 60_000);
  const timeline: Record<string, string | number>[] = [];
  for (let m = 0; m < minutes; m++) {
    const from = t0 + m * 60_000;
    const to = from + 60_000;
    const s = within(samples, from, to).at(-1);
    const ms = within(metricsSamples, from, to).at(-1);
    const gaps = within(log.advances, from, to).map((a) => a.value);
    const wave = waves.find((w) => w.start < to && w.end >= from);
    timeline.push({
      min: m + 1,
      phase: wave ? `wave ${wave.index}` : m * 60_000 < r.warmupMs ? 'warm-up' : 'quiet',
      'RSS MiB': s ? f1(s.rssMiB) : '—',
      'heap MiB': ms ? f1(ms.heapUsedMiB) : '—',
      FDs: s?.fds ?? '—',
      'workers RSS MiB': s ? f1(s.workersRssMiB) : '—',
      'workers FDs': s?.workersFds ?? '—',
      FFmpeg: s?.ffmpegs ?? '—',
      channels: ms?.channels ?? '—',
      viewers: ms?.viewers ?? '—',
      'real-time': ms?.realtime ?? '—',
      'HLS ports': ms?.hlsPorts ?? '—',
      'max gap s': gaps.length ? f2(Math.max(...gaps) / 1000) : '—',
      stalls: gaps.filter((g) => g > r.stallMs).length,
      'HLS errors': within(log.hlsErrors, from, to).length,
      'load 1m': s ? f1(s.load1) : '—',
    });
  }
  printTable(`Soak timeline (last sample of each minute; server = node process ${r.serverPid}, workers = its mediasoup workers)`, timeline);

  // ---- summary
  const after = samples.filter((s) => s.at - t0 >= r.warmupMs);
  const hours = (s: ProcSample) => (s.at - t0) / 3_600_000;
  const fds = samples.map((s) => s.fds);
  const lastM = metricsSamples.at(-1);
  const first = (xs: ProcSample[]) => xs[0];
  const endOfWarmup = first(after);
  const lastLoaded = samples.at(-1);
  const limitRefusals = [...(lastM?.refusals ?? new Map<string, number>())].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const legit = new Map<string, number>();
  for (const e of log.refusals) legit.set(e.value, (legit.get(e.value) ?? 0) + 1);
  const errorsByKind = new Map<string, number>();
  for (const e of log.hlsErrors) {
    const kind = e.value.split(' ')[0] + (e.value.includes('.m4s') ? ' segment' : ' playlist');
    errorsByKind.set(kind, (errorsByKind.get(kind) ?? 0) + 1);
  }
  const gaps = log.advances.map((a) => a.value);
  const logText = (() => {
    try {
      return readFileSync(r.logFile, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  })();
  const byMessage = new Map<string, number>();
  for (const line of logText) {
    let key = 'not JSON';
    try {
      const j = JSON.parse(line) as { level?: number | string; msg?: string };
      key = `${j.level} ${j.msg}`;
    } catch {
      // counted as not JSON
    }
    byMessage.set(key, (byMessage.get(key) ?? 0) + 1);
  }
  const half = samples.filter((s) => s.at - t0 >= r.durationMs / 2);
  const heapAfter = metricsSamples.filter((m) => m.at - t0 >= r.warmupMs);
  const heapHalf = metricsSamples.filter((m) => m.at - t0 >= r.durationMs / 2);
  const heapHours = (m: MetricsSample) => (m.at - t0) / 3_600_000;
  const summary: Record<string, string | number>[] = [
    {
      measure: 'server RSS slope (least squares): after warm-up / second half only',
      value: `${f1(slope(after.map((s) => [hours(s), s.rssMiB])))} / ${f1(slope(half.map((s) => [hours(s), s.rssMiB])))} MiB/h (${after.length} / ${half.length} samples)`,
    },
    {
      measure: 'server V8 heap used slope: after warm-up / second half only',
      value: `${f1(slope(heapAfter.map((m) => [heapHours(m), m.heapUsedMiB])))} / ${f1(slope(heapHalf.map((m) => [heapHours(m), m.heapUsedMiB])))} MiB/h`,
    },
    { measure: 'mediasoup workers RSS slope after warm-up', value: `${f1(slope(after.map((s) => [hours(s), s.workersRssMiB])))} MiB/h` },
    { measure: 'server FDs slope after warm-up', value: `${f1(slope(after.map((s) => [hours(s), s.fds])))} /h` },
    {
      measure: 'server RSS: idle before audience → end of warm-up → last loaded sample → idle after audience',
      value: `${f1(r.idleStart?.proc.rssMiB ?? NaN)} → ${f1(endOfWarmup?.rssMiB ?? NaN)} → ${f1(lastLoaded?.rssMiB ?? NaN)} → ${f1(r.idleEnd?.proc.rssMiB ?? NaN)} MiB`,
    },
    {
      measure: 'server V8 heap used: idle before audience → idle after audience',
      value: `${f1(r.idleStart?.metrics?.heapUsedMiB ?? NaN)} → ${f1(r.idleEnd?.metrics?.heapUsedMiB ?? NaN)} MiB`,
    },
    {
      measure: 'server FDs: min / max / final loaded (10 s samples; waves peak between samples)',
      value: `${Math.min(...fds)} / ${Math.max(...fds)} / ${lastLoaded?.fds ?? '—'}`,
    },
    {
      measure: 'idle before audience vs idle after: server FDs, workers FDs, FFmpeg, channels, HLS ports, viewers',
      value: [
        `${r.idleStart?.proc.fds} vs ${r.idleEnd?.proc.fds}`,
        `${r.idleStart?.proc.workersFds} vs ${r.idleEnd?.proc.workersFds}`,
        `${r.idleStart?.proc.ffmpegs} vs ${r.idleEnd?.proc.ffmpegs}`,
        `${r.idleStart?.metrics?.channels} vs ${r.idleEnd?.metrics?.channels}`,
        `${r.idleStart?.metrics?.hlsPorts} vs ${r.idleEnd?.metrics?.hlsPorts}`,
        `${r.idleStart?.metrics?.viewers} vs ${r.idleEnd?.metrics?.viewers}`,
      ].join('; '),
    },
    {
      measure: `playlist stalls (probe: newest segment not advancing for > ${r.stallMs / 1000} s)`,
      value: `${stalls.length}${stalls.length ? ` (${stalls.map((s) => `${f2((s.at - t0) / 60_000)} min ${f2(s.value / 1000)} s${during(s)}`).join(', ')})` : ''}; gap p50 ${f2(median(gaps) / 1000)} s, p99 ${f2(percentile(gaps, 99) / 1000)} s, max ${f2(Math.max(...gaps) / 1000)} s over ${gaps.length} advances`,
    },
    {
      measure: 'HLS request errors (probe + viewers)',
      value: log.hlsErrors.length
        ? `${[...errorsByKind].map(([k, v]) => `${k} ×${v}`).join(', ')}: ${log.hlsErrors.slice(0, 6).map((e) => `${f1((e.at - t0) / 60_000)} min ${e.value}`).join('; ')}${log.hlsErrors.length > 6 ? ' …' : ''}`
        : '0',
    },
    { measure: 'Socket.IO viewer joins / legitimate viewers refused anything', value: `${log.joinMs.length} / ${log.refusals.length}${legit.size ? ` (${[...legit].map(([k, v]) => `${k} ×${v}`).join('; ')})` : ''}` },
    { measure: 'the live channel as a long-lived viewer saw it', value: log.channelEvents.map((e) => `${f1((e.at - t0) / 60_000)} min ${e.value}`).join('; ') || '—' },
    { measure: 'FFmpeg restarts / hung FFmpeg killed / HLS paused channels (metrics, end)', value: `${lastM?.ffmpegRestarts ?? '—'} / ${lastM?.ffmpegStalls ?? '—'} / ${lastM?.hlsPaused ?? '—'}` },
    { measure: 'limit refusals counted by the server (livecast_limit_refusals_total, end)', value: limitRefusals },
    { measure: 'other processes below the server (sampled)', value: [...new Set(samples.flatMap((s) => s.others))].join(', ') || 'none' },
    { measure: 'server process', value: r.serverExit ?? `ran the whole soak; SIGTERM → ${r.stopped.exitedCleanly ? 'exited' : 'did NOT exit within 20 s'}; its process group ${r.stopped.groupEmptyMs === null ? `still held ${r.stopped.leftovers.join(', ')} 10 s later (killed)` : `was empty ${f1(r.stopped.groupEmptyMs / 1000)} s after it exited`}` },
    { measure: 'server log (LOG_LEVEL=warn), lines by level and message', value: [...byMessage].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ×${v}`).join('; ') || 'empty' },
    { measure: 'machine load average (1 min) before / after', value: `${f2(r.loadBefore[0]!)} / ${f2(r.loadAfter[0]!)} (the machine was shared with other work)` },
  ];
  printTable('Soak summary', summary);

  // ---- attacks
  const kinds = new Map<string, AttackResult[]>();
  for (const w of waves) for (const a of w.results) kinds.set(a.attack, [...(kinds.get(a.attack) ?? []), a]);
  const attackRows: Record<string, string | number>[] = [];
  for (const [attack, results] of kinds) {
    const outcomes = new Map<string, number>();
    for (const a of results) for (const [k, v] of a.outcomes) outcomes.set(k, (outcomes.get(k) ?? 0) + v);
    const perWave = (f: (a: AttackResult) => number) => {
      const values = [...new Set(results.map(f))];
      return values.length === 1 ? String(values[0]) : `${Math.min(...results.map(f))}–${Math.max(...results.map(f))}`;
    };
    attackRows.push({
      attack,
      from: results[0]!.from,
      waves: results.length,
      'attempts / wave': perWave((a) => a.attempts),
      'held / wave': perWave((a) => a.held),
      'refused / wave': perWave((a) => a.refused),
      'answers (count over all waves)': [...outcomes].map(([k, v]) => `${k} ×${v}`).join('; '),
      'what the server did': [
        ...new Set(results.map((a) => a.note).filter(Boolean)),
        ...[...new Set(results.map((a) => a.timesWhat).filter(Boolean))].map((what) => {
          const times = results.flatMap((a) => a.times);
          const held = results.reduce((n, a) => n + a.held, 0);
          return `${times.length}/${held} ${what} ${f1(Math.min(...times) / 1000)}–${f1(Math.max(...times) / 1000)} s`;
        }),
      ].join('; '),
    });
  }
  printTable('Attacks (per kind, over all waves)', attackRows);

  const waveRows = waves.map((w) => {
    const advancesIn = within(log.advances, w.start, w.end);
    const gapsIn = advancesIn.map((a) => a.value);
    const worst = advancesIn.reduce<Timed<number> | null>((m, a) => (!m || a.value > m.value ? a : m), null);
    return {
      wave: w.index,
      'at min': f1((w.start - t0) / 60_000),
      's': f1((w.end - w.start) / 1000),
      'segments advanced': gapsIn.length,
      'max gap s': gapsIn.length ? f2(Math.max(...gapsIn) / 1000) : '—',
      'max gap ended at s into wave': worst ? f1((worst.at - w.start) / 1000) : '—',
      stalls: gapsIn.filter((g) => g > r.stallMs).length,
      'HLS errors': within(log.hlsErrors, w.start, w.end).length,
      'released after s': w.releasedMs === null ? 'NOT within 30 s' : f1(w.releasedMs / 1000),
      'server-side refusals (metric delta)': [...w.refusals].filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', '),
      'log lines (not JSON)': `${w.logLines} (${w.nonJsonLogLines})`,
    };
  });
  printTable('Attack waves (the live channel during each wave; released = 1 channel and 4 HLS ports again)', waveRows);

  // ---- baselines in the same run: warm-up, quiet, attack
  const phases = ['warm-up', 'quiet', 'attack'] as const;
  const cpu = (pick: (s: ProcSample) => number) => {
    const byPhase = new Map<string, number[]>(phases.map((p) => [p, []]));
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1]!;
      const b = samples[i]!;
      const phase = inWave(a.at) || inWave(b.at) ? 'attack' : phaseOf(b.at);
      byPhase.get(phase)!.push(((pick(b) - pick(a)) / ((b.at - a.at) / 1000)) * 100);
    }
    return byPhase;
  };
  const nodeCpu = cpu((s) => s.cpuSeconds);
  const workersCpu = cpu((s) => s.workersCpuSeconds);
  const by = <T>(events: Timed<T>[], phase: string) => events.filter((e) => phaseOf(e.at) === phase);
  const row = (measure: string, f: (phase: string) => number, fmt = f1) => {
    const values = Object.fromEntries(phases.map((p) => [p, fmt(f(p))]));
    const ratio = f('attack') / f('quiet');
    return { measure, ...values, 'attack / quiet': Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—' };
  };
  const gapsOf = (p: string) => by(log.advances, p).map((a) => a.value);
  const phaseMs = (p: string) => {
    if (p === 'attack') return waves.reduce((s, w) => s + (w.end - w.start), 0);
    if (p === 'warm-up') return r.warmupMs;
    return r.durationMs - r.warmupMs - waves.reduce((s, w) => s + (w.end - w.start), 0);
  };
  const baseline = [
    row('time in phase (min)', (p) => phaseMs(p) / 60_000),
    row('playlist advance gap p50 (ms)', (p) => median(gapsOf(p))),
    row('playlist advance gap p99 (ms)', (p) => percentile(gapsOf(p), 99)),
    row('playlist advance gap max (ms)', (p) => Math.max(...gapsOf(p))),
    row('stalls per hour', (p) => (gapsOf(p).filter((g) => g > r.stallMs).length / phaseMs(p)) * 3_600_000),
    row('HLS segment fetch p50 (ms)', (p) => median(by(log.segmentMs, p).map((e) => e.value)), f2),
    row('HLS segment fetch p99 (ms)', (p) => percentile(by(log.segmentMs, p).map((e) => e.value), 99), f2),
    row('viewer join p50 (ms)', (p) => median(by(log.joinMs, p).map((e) => e.value))),
    row('viewer join p99 (ms)', (p) => percentile(by(log.joinMs, p).map((e) => e.value), 99)),
    row('HLS request errors per hour', (p) => (by(log.hlsErrors, p).length / phaseMs(p)) * 3_600_000),
    row('server CPU % of a core (median of 10 s)', (p) => median(nodeCpu.get(p)!)),
    row('mediasoup workers CPU % (median of 10 s)', (p) => median(workersCpu.get(p)!)),
    row('server RSS MiB (mean of samples)', (p) => mean(samples.filter((s) => (inWave(s.at) ? 'attack' : phaseOf(s.at)) === p).map((s) => s.rssMiB))),
    row('server FDs (mean of samples)', (p) => mean(samples.filter((s) => (inWave(s.at) ? 'attack' : phaseOf(s.at)) === p).map((s) => s.fds))),
  ];
  printTable('Same-run baselines: warm-up vs quiet periods vs attack waves', baseline);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runSoak().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
