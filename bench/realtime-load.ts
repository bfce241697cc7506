/**
 * bench:realtime-load — how many real-time viewers one channel carries on this machine (issue 19).
 * A Chromium go-live page broadcasts (the test source, one H264 layer); the load is N WHEP players
 * made with werift in another process (bench/realtime-load-viewers.ts: ICE, DTLS, SRTP, RTCP
 * receiver reports, NACK and PLI; no decoding, no bandwidth estimation feedback, so mediasoup
 * sends every viewer the full stream). At each step the viewer count grows, and over WINDOW_S:
 *  - a sampled real viewer (a Chromium watch page in real-time mode reading the broadcaster's
 *    clock from every decoded frame) gives glass-to-glass p50/p95;
 *  - the mediasoup workers' CPU (% of a core, and per consumer), the server's and the load's;
 *  - how many load viewers still receive, and at what bitrate.
 * The same steps run with one worker (every viewer on the channel's router: no fan-out) and with
 * two (viewers spread over both workers through a pipe), in the same run. A setup stops growing
 * when the sampled viewer's p95 passes 150 ms or the load process saturates its core (the load
 * generator, not the server, would then be measured).
 *
 *   npm run bench:realtime-load   REALTIME_LOAD_STEPS (default 0,25,50,75), REALTIME_LOAD_WINDOW_S (12), REALTIME_LOAD_ROUNDS (3)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { chromium, type Browser } from '@playwright/test';
import { chromiumLaunchOptions } from '../e2e/chromium.js';
import { clockReadings, goLivePage } from './glass-to-glass.js';
import { median, percentile, printTable, startBenchServer } from './lib.js';
import { cpuPercentOver } from './proc-stats.js';
import type { FromLoad, LoadTarget, ToLoad } from './realtime-load-viewers.js';

const STEPS = (process.env.REALTIME_LOAD_STEPS ?? '0,25,50,75').split(',').map(Number);
const WINDOW_S = Number(process.env.REALTIME_LOAD_WINDOW_S ?? 12);
const ROUNDS = Number(process.env.REALTIME_LOAD_ROUNDS ?? 3);
const P95_LIMIT_MS = 150;
const SETUPS = [
  { name: 'one worker (no fan-out)', workers: 1 },
  { name: 'two workers (fan-out)', workers: 2 },
];

type Row = Record<string, string | number>;

function next<T extends FromLoad['type']>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<FromLoad, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`load: no '${type}' in ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: FromLoad) => m.type === type && done(null, m as Extract<FromLoad, { type: T }>);
    const onExit = (code: number | null) => done(new Error(`load process exited (${code})`));
    function done(error: Error | null, m?: Extract<FromLoad, { type: T }>) {
      clearTimeout(timer);
      child.off('message', onMessage).off('exit', onExit);
      if (error) reject(error);
      else resolve(m!);
    }
    child.on('message', onMessage).once('exit', onExit);
  });
}

async function runSetup(browser: Browser, setup: (typeof SETUPS)[number], round: number): Promise<Row[]> {
  const server = await startBenchServer(
    {
      MEDIASOUP_WORKERS: String(setup.workers),
      REALTIME_VIEWERS_PER_CHANNEL: '5000',
      REALTIME_VIEWERS_PER_ADDRESS: '5000',
      MAX_CONNECTIONS_PER_ADDRESS: '5000',
    },
    { web: true },
  );
  let load: ChildProcess | null = null;
  const rows: Row[] = [];
  try {
    const broadcaster = await goLivePage(browser, server.app.url);
    const channel = server.app.registry.get(broadcaster.channelId);
    if (!channel) throw new Error('the channel is not on this server');
    const codecs = channel.router.rtpCapabilities.codecs ?? [];
    const h264 = codecs.find((c) => c.mimeType === 'video/H264' && c.parameters?.['packetization-mode'] === 1 && String(c.parameters?.['profile-level-id']).startsWith('42e0'));
    const opus = codecs.find((c) => c.mimeType === 'audio/opus');
    if (!h264?.preferredPayloadType || !opus?.preferredPayloadType) throw new Error('the router has no H264 (packetization-mode 1) or Opus');
    const target: LoadTarget = {
      baseUrl: server.app.url,
      channelId: broadcaster.channelId,
      video: { payloadType: h264.preferredPayloadType, fmtp: `level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${String(h264.parameters!['profile-level-id'])}` },
      audio: { payloadType: opus.preferredPayloadType },
    };
    load = fork(new URL('./realtime-load-viewers.ts', import.meta.url).pathname, [JSON.stringify(target)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await next(load, 'up', 30_000);
    const ask = <T extends FromLoad['type']>(m: ToLoad, type: T, timeoutMs: number) => {
      const reply = next(load!, type, timeoutMs);
      load!.send(m);
      return reply;
    };

    let viewers = 0;
    /** Workers' CPU with no load viewer (the broadcast, HLS and the sampled viewer): the load's share is above it. */
    let idleWorkers: number | null = null;
    for (const step of STEPS) {
      if (step > viewers) {
        const added = await ask({ type: 'add', count: step - viewers }, 'added', 60_000 + step * 500);
        viewers += added.connected;
        if (added.failed > 0) console.error(`  ${added.failed} load viewers failed: ${added.errors.join('; ')}`);
      }
      await new Promise((r) => setTimeout(r, 3000));
      const before = await ask({ type: 'stats' }, 'stats', 10_000);
      const [cpu, clock] = await Promise.all([
        cpuPercentOver({ workers: server.app.pool.workers.map((w) => w.pid), server: [process.pid], load: [load.pid!] }, (WINDOW_S + 5) * 1000),
        clockReadings(browser, `${server.app.url}/watch/${broadcaster.channelId}`, 'mode=realtime', WINDOW_S),
      ]);
      const after = await ask({ type: 'stats' }, 'stats', 10_000);
      const consumers = server.app.pool.loads().reduce((s, l) => s + l.consumers, 0);
      const p95 = percentile(clock.samples, 95);
      if (after.viewers === 0) idleWorkers = cpu.workers!;
      const perViewer = idleWorkers !== null && after.viewers > 0 ? (cpu.workers! - idleWorkers) / after.viewers : null;
      const row: Row = {
        round,
        setup: setup.name,
        'load viewers': after.viewers,
        receiving: `${after.receiving}/${after.viewers}`,
        'kbit/s per viewer': after.viewers ? Math.round(((after.bytes - before.bytes) * 8) / (WINDOW_S + 5) / 1000 / after.viewers) : '—',
        'routers with viewers': channel.realtime.viewersByRouter().size,
        'sampled p50 ms': Math.round(median(clock.samples)),
        'sampled p95 ms': Math.round(p95),
        stalls: clock.stalls,
        'workers CPU %': cpu.workers!.toFixed(1),
        'mediasoup consumers': consumers,
        // Worker CPU the load viewers add, per viewer (two consumers each): µs of CPU per second.
        'worker µs/s per viewer (added)': perViewer === null ? '—' : Math.round(perViewer * 10_000),
        'viewers per core at that rate': perViewer ? Math.round(100 / perViewer) : '—',
        'server CPU %': cpu.server!.toFixed(1),
        'load CPU %': cpu.load!.toFixed(1),
        'load CPU % per viewer': after.viewers ? (cpu.load! / after.viewers).toFixed(2) : '—',
      };
      rows.push(row);
      console.error(`  ${setup.name}: ${JSON.stringify(row)}`);
      if (p95 > P95_LIMIT_MS) break;
      if (cpu.load! > 90) {
        console.error('  the load process saturates its core: stopping here (beyond, the load generator is measured)');
        break;
      }
    }
    await broadcaster.page.context().close();
  } finally {
    if (load && load.exitCode === null) {
      load.send({ type: 'close' } satisfies ToLoad);
      await Promise.race([new Promise((r) => load!.once('exit', r)), new Promise((r) => setTimeout(r, 10_000))]);
      if (load.exitCode === null) load.kill('SIGKILL');
    }
    await server.stop();
  }
  return rows;
}

export async function runRealtimeLoad(): Promise<void> {
  const browser = await chromium.launch(chromiumLaunchOptions);
  const rows: Row[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? SETUPS : [...SETUPS].reverse();
      for (const setup of order) rows.push(...(await runSetup(browser, setup, round)));
    }
  } finally {
    await browser.close();
  }
  printTable(`Real-time viewers of one channel (werift WHEP load; sampled Chromium viewer; ${WINDOW_S} s per step; p95 limit ${P95_LIMIT_MS} ms)`, rows);
}
