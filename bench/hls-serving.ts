/**
 * HLS serving capacity: simulated viewers (bench/hls-load.ts, its own process) polling a live
 * channel's playlist and fetching its segments, against livecast and against nginx (Debian's
 * package) serving a folder mirrored from the same stream in the same run (livecast holds its
 * LL-HLS in memory; the mirror copies each playlist version and its files to disk, as a CDN's
 * origin shield would). One nginx worker vs one Node process. A third server, a bare Node
 * `http.createServer` answering the mirror from memory (bench/node-http-floor.ts), is the floor of
 * Node's own HTTP stack: it splits livecast's cost above nginx into Node's and livecast's.
 *
 * A single run proves little on a shared 2-core machine (the first version of this benchmark
 * published the good mode of a bimodal system), so every load is run BENCH_RUNS times, livecast
 * and nginx back to back each time, and the summary gives the median and the worst run. Each run
 * also records what could explain a bad one: the server's event-loop delay and GC pauses, the
 * load generator's own lag and CPU, and the load average.
 *
 * Then LL-HLS viewers (blocking playlist reloads and part fetches, as hls.js in low-latency mode)
 * against livecast alone (a folder on disk cannot block): viewers per core at p99 part delivery.
 *
 *   npm run bench:serving   BENCH_VIEWERS=500,1000,2000 BENCH_LL_VIEWERS=250,500,1000
 *                           BENCH_SECONDS=15 BENCH_RUNS=5
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { freePort } from '../server/test/helpers/net.js';
import os from 'node:os';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import path from 'node:path';
import { startFedChannel } from '../server/test/helpers/test-app.js';
import { median, printTable, startBenchServer } from './lib.js';
import { cpuSeconds } from './proc-stats.js';

const VIEWERS = (process.env.BENCH_VIEWERS ?? '500,1000,2000').split(',').filter(Boolean).map(Number);
const LL_VIEWERS = (process.env.BENCH_LL_VIEWERS ?? '250,500,1000').split(',').filter(Boolean).map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/** The targets the summary checks. */
const PLAYLIST_P99_TARGET_MS = 50;
const PART_DELIVERY_P99_TARGET_MS = 100;

/** What bench/hls-load.ts prints. */
interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  playlistP50: number;
  playlistP99: number;
  segmentP50: number;
  segmentP99: number;
  partDeliveryP50: number;
  partDeliveryP99: number;
  megabytesPerSecond: number;
  errors: number;
  clientCpuPercent: number;
  clientLagP99: number;
}

interface RunResult extends LoadResult {
  /** % of one core, the serving process (minus its idle use for livecast: see idleCpu). */
  serverCpu: number;
  /** Server CPU microseconds per request. */
  cpuPerRequestUs: number;
  /** The serving process's event-loop delay (livecast only: nginx has none to measure). */
  serverLagP99: number | null;
  serverLagMax: number | null;
  /** GC pause in the serving process during the run: total ms and the longest (livecast only). */
  gcMs: number | null;
  gcMaxMs: number | null;
  /** 1-minute load average when the run ended. */
  load: number;
}

/** nginx from Debian, installed on demand when running as root. */
function nginxBinary(): string | null {
  if (existsSync('/usr/sbin/nginx')) return '/usr/sbin/nginx';
  if (process.getuid?.() !== 0) return null;
  console.error('installing nginx from Debian for the comparison …');
  spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'nginx-light'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null;
}

async function startNginx(binary: string, hlsDir: string): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livecast-nginx-'));
  const port = await freePort();
  await writeFile(
    path.join(dir, 'nginx.conf'),
    // As root nginx would drop its worker to www-data, which cannot read the benchmark's private
    // temp folders; keep the user it was started as.
    `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log stderr warn;${process.getuid?.() === 0 ? ' user root;' : ''}
events { worker_connections 8192; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  types { application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; }
  server {
    listen 127.0.0.1:${port};
    location /hls/ { alias ${hlsDir}/; add_header Cache-Control no-cache; }
  }
}
`,
  );
  const child = spawn(binary, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 50; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // The one worker process does the serving.
  const workerPid = Number(spawnSync('pgrep', ['-P', String(child.pid)]).stdout.toString().trim().split('\n')[0]);
  return {
    url: `http://127.0.0.1:${port}`,
    pid: workerPid,
    async stop() {
      child.kill('SIGQUIT');
      await new Promise((r) => child.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** bench/node-http-floor.ts: Node's own HTTP stack serving the mirror from memory, in its own process. */
async function startNodeFloor(mirrorDir: string): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/node-http-floor.ts', mirrorDir, String(port)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`node-http-floor exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}

/** Copies a live channel's playlist and files from livecast to `dir`, as they appear, until stopped. */
function mirror(playlistUrl: string, dir: string): { stop(): Promise<void> } {
  let running = true;
  const have = new Set<string>();
  const loop = (async () => {
    await mkdir(dir, { recursive: true });
    while (running) {
      const res = await fetch(playlistUrl).catch(() => null);
      const text = res?.ok ? await res.text() : null;
      if (text) {
        const names = new Set([...text.matchAll(/^(seg_\d+\.m4s)$|URI="((?:init|part)_[\d_]+\.(?:mp4|m4s))"/gm)].map((m) => m[1] ?? m[2]!));
        for (const name of names) {
          if (have.has(name)) continue;
          const file = await fetch(new URL(name, playlistUrl)).catch(() => null);
          if (!file?.ok) continue;
          await writeFile(path.join(dir, name), Buffer.from(await file.arrayBuffer()));
          have.add(name);
        }
        await writeFile(path.join(dir, 'index.m3u8.tmp'), text);
        await rename(path.join(dir, 'index.m3u8.tmp'), path.join(dir, 'index.m3u8'));
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

/**
 * Event-loop delay and GC pauses of this process (which hosts the livecast server) while `run`
 * runs: a request that waits behind a long task or a GC pause waits that long whatever its own cost.
 */
async function observeServer<T>(run: () => Promise<T>): Promise<{ result: T; lagP99: number; lagMax: number; gcMs: number; gcMaxMs: number }> {
  const lag = monitorEventLoopDelay({ resolution: 5 });
  let gcMs = 0;
  let gcMaxMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcMs += entry.duration;
      gcMaxMs = Math.max(gcMaxMs, entry.duration);
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  lag.enable();
  try {
    const result = await run();
    return { result, lagP99: lag.percentile(99) / 1e6, lagMax: lag.max / 1e6, gcMs, gcMaxMs };
  } finally {
    lag.disable();
    gc.disconnect();
  }
}

/** Runs the load generator as a child process (asynchronously: this process hosts the server). */
async function runLoad(playlistUrl: string, viewers: number, serverPid: number, mode: 'segments' | 'll', idleCpu = 0): Promise<RunResult> {
  const cpuBefore = cpuSeconds(serverPid);
  const started = performance.now();
  const observed = serverPid === process.pid ? await observeServer(() => generate(playlistUrl, viewers, mode)) : null;
  const result = observed ? observed.result : await generate(playlistUrl, viewers, mode);
  const seconds = (performance.now() - started) / 1000;
  const cpuSecondsUsed = Math.max(0, cpuSeconds(serverPid) - cpuBefore - (idleCpu / 100) * seconds);
  return {
    ...result,
    serverCpu: (cpuSecondsUsed / seconds) * 100,
    cpuPerRequestUs: (cpuSecondsUsed / Math.max(1, result.requests)) * 1e6,
    serverLagP99: observed?.lagP99 ?? null,
    serverLagMax: observed?.lagMax ?? null,
    gcMs: observed?.gcMs ?? null,
    gcMaxMs: observed?.gcMaxMs ?? null,
    load: os.loadavg()[0]!,
  };
}

function generate(playlistUrl: string, viewers: number, mode: 'segments' | 'll'): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/hls-load.ts', playlistUrl, String(viewers), String(SECONDS), mode], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!) as LoadResult);
    });
  });
}

/** CPU (% of one core) this process uses with the channel live and the mirror running but no viewers. */
async function idleCpuPercent(): Promise<number> {
  const before = cpuSeconds(process.pid);
  const started = performance.now();
  await new Promise((r) => setTimeout(r, 3000));
  return ((cpuSeconds(process.pid) - before) / ((performance.now() - started) / 1000)) * 100;
}

const ms = (v: number | null) => (v === null ? '—' : v.toFixed(1));
const worst = (values: number[]) => Math.max(...values);

export async function runHlsServing(): Promise<void> {
  // Thousands of simulated viewers come from one address; the per-address cap is not under test.
  const server = await startBenchServer({ MAX_CONNECTIONS_PER_ADDRESS: '100000' });
  const fed = await startFedChannel(server.app);
  const binary = nginxBinary();
  const mirrorDir = await mkdtemp(path.join(os.tmpdir(), 'livecast-mirror-'));
  const copy = binary ? mirror(`${server.app.url}/hls/${fed.channel.id}/index.m3u8`, path.join(mirrorDir, fed.channel.id)) : null;
  const nginx = binary ? await startNginx(binary, mirrorDir) : null;
  const floor = copy ? await startNodeFloor(mirrorDir) : null;
  const runs: { server: 'livecast' | 'node:http floor' | 'nginx'; viewers: number; run: number; r: RunResult }[] = [];
  const llRuns: { viewers: number; run: number; r: RunResult }[] = [];
  let idleCpu = 0;
  try {
    await new Promise((r) => setTimeout(r, 2000));
    idleCpu = await idleCpuPercent();
    const id = fed.channel.id;
    for (const viewers of VIEWERS) {
      for (let run = 1; run <= RUNS; run++) {
        console.error(`${viewers} viewers, run ${run}/${RUNS}: livecast …`);
        runs.push({ server: 'livecast', viewers, run, r: await runLoad(`${server.app.url}/hls/${id}/index.m3u8`, viewers, process.pid, 'segments', idleCpu) });
        if (!nginx || !floor) continue;
        console.error(`${viewers} viewers, run ${run}/${RUNS}: node:http floor …`);
        runs.push({ server: 'node:http floor', viewers, run, r: await runLoad(`${floor.url}/hls/${id}/index.m3u8`, viewers, floor.pid, 'segments') });
        console.error(`${viewers} viewers, run ${run}/${RUNS}: nginx …`);
        runs.push({ server: 'nginx', viewers, run, r: await runLoad(`${nginx.url}/hls/${id}/index.m3u8`, viewers, nginx.pid, 'segments') });
      }
    }
    for (const viewers of LL_VIEWERS) {
      for (let run = 1; run <= RUNS; run++) {
        console.error(`${viewers} LL-HLS viewers, run ${run}/${RUNS} …`);
        llRuns.push({ viewers, run, r: await runLoad(`${server.app.url}/hls/${id}/index.m3u8`, viewers, process.pid, 'll', idleCpu) });
      }
    }
  } finally {
    await nginx?.stop();
    await floor?.stop();
    await copy?.stop();
    await rm(mirrorDir, { recursive: true, force: true });
    await fed.stop();
    await server.stop();
  }
  if (!nginx) console.log('nginx is not installed (and not root to install it): no comparison row.');

  const title = `${SECONDS} s per run, ${RUNS} runs, segments of ${server.app.config.hls.segmentSeconds} s, parts of ${server.app.config.hls.partSeconds} s, load generator in its own process`;
  printTable(`HLS serving, every run (${title})`, runs.map(({ server: name, viewers, run, r }) => ({
    server: name,
    viewers,
    run,
    'req/s': Math.round(r.requestsPerSecond),
    'MB/s': r.megabytesPerSecond,
    'playlist p50 ms': r.playlistP50,
    'playlist p99 ms': r.playlistP99,
    'segment p99 ms': r.segmentP99,
    errors: r.errors,
    'server CPU %': Math.round(r.serverCpu),
    'CPU µs/req': Math.round(r.cpuPerRequestUs),
    'server lag p99/max ms': r.serverLagP99 === null ? '—' : `${ms(r.serverLagP99)} / ${ms(r.serverLagMax)}`,
    'GC total/max ms': r.gcMs === null ? '—' : `${Math.round(r.gcMs)} / ${ms(r.gcMaxMs)}`,
    'client CPU % / lag p99 ms': `${Math.round(r.clientCpuPercent)} / ${ms(r.clientLagP99)}`,
    load: r.load,
  })));

  const summary: Record<string, string | number>[] = [];
  for (const viewers of VIEWERS) {
    const of = (name: string) => runs.filter((x) => x.server === name && x.viewers === viewers).map((x) => x.r);
    const nginxCpu = nginx ? median(of('nginx').map((r) => r.cpuPerRequestUs)) : NaN;
    const floorCpu = floor ? median(of('node:http floor').map((r) => r.cpuPerRequestUs)) : NaN;
    for (const name of ['livecast', 'node:http floor', 'nginx']) {
      const rs = of(name);
      if (rs.length === 0) continue;
      const p99s = rs.map((r) => r.playlistP99);
      const cpu = median(rs.map((r) => r.cpuPerRequestUs));
      summary.push({
        server: name,
        viewers,
        runs: rs.length,
        'req/s (median)': Math.round(median(rs.map((r) => r.requestsPerSecond))),
        'playlist p99 ms: median': median(p99s),
        'worst': worst(p99s),
        [`runs ≤ ${PLAYLIST_P99_TARGET_MS} ms`]: `${p99s.filter((p) => p <= PLAYLIST_P99_TARGET_MS).length}/${rs.length}`,
        'segment p99 ms: median / worst': `${ms(median(rs.map((r) => r.segmentP99)))} / ${ms(worst(rs.map((r) => r.segmentP99)))}`,
        'CPU µs/req (median)': Math.round(cpu),
        'CPU/req vs nginx': nginx ? (cpu / nginxCpu).toFixed(2) : '—',
        'CPU/req vs node:http floor': floor ? (cpu / floorCpu).toFixed(2) : '—',
        errors: rs.reduce((s, r) => s + r.errors, 0),
      });
    }
  }
  printTable(`HLS serving, summary over ${RUNS} runs (livecast's CPU net of its ${idleCpu.toFixed(1)} % idle use: packaging, the mirror)`, summary);
  console.log(`Targets: 2,000 viewers at playlist p99 <= ${PLAYLIST_P99_TARGET_MS} ms in ${RUNS} of ${RUNS} runs; CPU per request <= 1.5x nginx's.`);

  if (llRuns.length === 0) return;
  printTable(`LL-HLS viewers (blocking playlist reload + every part), livecast, every run (${title})`, llRuns.map(({ viewers, run, r }) => ({
    viewers,
    run,
    'req/s': Math.round(r.requestsPerSecond),
    'part delivery p50 ms': r.partDeliveryP50,
    'part delivery p99 ms': r.partDeliveryP99,
    'part fetch p99 ms': r.segmentP99,
    errors: r.errors,
    'server CPU %': Math.round(r.serverCpu),
    'CPU µs/req': Math.round(r.cpuPerRequestUs),
    'server lag p99/max ms': `${ms(r.serverLagP99)} / ${ms(r.serverLagMax)}`,
    'client CPU % / lag p99 ms': `${Math.round(r.clientCpuPercent)} / ${ms(r.clientLagP99)}`,
    load: r.load,
  })));
  const llSummary = LL_VIEWERS.map((viewers) => {
    const rs = llRuns.filter((x) => x.viewers === viewers).map((x) => x.r);
    const p99s = rs.map((r) => r.partDeliveryP99);
    const cpu = median(rs.map((r) => r.serverCpu));
    return {
      viewers,
      runs: rs.length,
      'req/s (median)': Math.round(median(rs.map((r) => r.requestsPerSecond))),
      'part delivery p99 ms: median': median(p99s),
      worst: worst(p99s),
      [`runs ≤ ${PART_DELIVERY_P99_TARGET_MS} ms`]: `${p99s.filter((p) => p <= PART_DELIVERY_P99_TARGET_MS).length}/${rs.length}`,
      'server CPU % (median)': Math.round(cpu),
      'viewers per core at this CPU': Math.round(viewers / (cpu / 100)),
      errors: rs.reduce((s, r) => s + r.errors, 0),
    };
  });
  printTable(`LL-HLS viewers, summary over ${RUNS} runs`, llSummary);
  const held = llSummary.filter((row) => row.worst <= PART_DELIVERY_P99_TARGET_MS).at(-1);
  console.log(
    held
      ? `Largest LL-HLS load with p99 part delivery <= ${PART_DELIVERY_P99_TARGET_MS} ms in every run: ${held.viewers} viewers (${held['viewers per core at this CPU']} per core of server CPU).`
      : `No LL-HLS load held p99 part delivery <= ${PART_DELIVERY_P99_TARGET_MS} ms in every run.`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runHlsServing().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
