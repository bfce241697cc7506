/**
 * HLS serving capacity: simulated viewers (bench/hls-load.ts, its own process) polling a live
 * channel's playlist and fetching its segments, against livecast and against nginx (Debian's
 * package) serving a folder mirrored from the same stream in the same run (livecast holds its
 * LL-HLS in memory; the mirror copies each playlist version and its files to disk, as a CDN's
 * origin shield would). One nginx worker vs one Node process.
 *
 *   npm run bench:serving     BENCH_VIEWERS=500,1000,2000  BENCH_SECONDS=20
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { freePort } from '../server/test/helpers/net.js';
import os from 'node:os';
import path from 'node:path';
import { startFedChannel } from '../server/test/helpers/test-app.js';
import { printTable, startBenchServer } from './lib.js';
import { cpuSeconds } from './proc-stats.js';

const VIEWERS = (process.env.BENCH_VIEWERS ?? '500,1000,2000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);

interface LoadResult {
  requestsPerSecond: number;
  playlistP50: number;
  playlistP99: number;
  segmentP50: number;
  segmentP99: number;
  megabytesPerSecond: number;
  errors: number;
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

/** Runs the load generator as a child process (asynchronously: this process hosts the server). */
async function runLoad(playlistUrl: string, viewers: number, serverPid: number): Promise<LoadResult & { serverCpu: number }> {
  const cpuBefore = cpuSeconds(serverPid);
  const started = performance.now();
  const result = await generate(playlistUrl, viewers);
  const serverCpu = ((cpuSeconds(serverPid) - cpuBefore) / ((performance.now() - started) / 1000)) * 100;
  return { ...result, serverCpu };
}

function generate(playlistUrl: string, viewers: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/hls-load.ts', playlistUrl, String(viewers), String(SECONDS)], {
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

export async function runHlsServing(): Promise<void> {
  // Thousands of simulated viewers come from one address; the per-address cap is not under test.
  const server = await startBenchServer({ MAX_CONNECTIONS_PER_ADDRESS: '100000' });
  const fed = await startFedChannel(server.app);
  const binary = nginxBinary();
  const mirrorDir = await mkdtemp(path.join(os.tmpdir(), 'livecast-mirror-'));
  const copy = binary ? mirror(`${server.app.url}/hls/${fed.channel.id}/index.m3u8`, path.join(mirrorDir, fed.channel.id)) : null;
  const nginx = binary ? await startNginx(binary, mirrorDir) : null;
  const rows: Record<string, string | number>[] = [];
  try {
    await new Promise((r) => setTimeout(r, 2000));
    const id = fed.channel.id;
    for (const viewers of VIEWERS) {
      console.error(`${viewers} viewers against livecast …`);
      const ours = await runLoad(`${server.app.url}/hls/${id}/index.m3u8`, viewers, process.pid);
      if (nginx) console.error(`${viewers} viewers against nginx …`);
      const theirs = nginx ? await runLoad(`${nginx.url}/hls/${id}/index.m3u8`, viewers, nginx.pid) : null;
      for (const [name, r] of [['livecast', ours], ['nginx', theirs]] as const) {
        if (!r) continue;
        rows.push({
          server: name,
          viewers,
          'req/s': Math.round(r.requestsPerSecond),
          'MB/s': r.megabytesPerSecond,
          'playlist p50 ms': r.playlistP50,
          'playlist p99 ms': r.playlistP99,
          'segment p50 ms': r.segmentP50,
          'segment p99 ms': r.segmentP99,
          errors: r.errors,
          'server CPU %': Math.round(r.serverCpu),
          'p99 playlist / nginx': theirs ? (r.playlistP99 / theirs.playlistP99).toFixed(2) : '—',
        });
      }
    }
  } finally {
    await nginx?.stop();
    await copy?.stop();
    await rm(mirrorDir, { recursive: true, force: true });
    await fed.stop();
    await server.stop();
  }
  if (!nginx) console.log('nginx is not installed (and not root to install it): no comparison row.');
  printTable(`HLS serving (${SECONDS} s per run, segments of ${server.app.config.hls.segmentSeconds} s, load generator in its own process)`, rows);
  console.log('Target: >= 2,000 simulated viewers with p99 playlist response <= 50 ms.');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runHlsServing().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
