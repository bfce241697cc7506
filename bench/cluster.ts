/**
 * Scale-out through Redis: two instances in this process sharing a real redis-server. A carries
 * a live channel (fed over RTP); B only relays. Measured, each against the same thing done on
 * A alone (the single-instance baseline, same process, same run):
 *   - presence: a viewer joins through B (or A) until a viewer on A is told the new total;
 *   - HLS: a playlist request to B (a 307 to A, followed) or straight to A;
 *   - directory: a channel going live on A until a lobby on B (or A) lists it;
 *   - WebRTC: glass-to-glass and first frame for a real-time viewer on B (the channel's tracks
 *     piped from A's router into B's) against one on A, in headless Chromium (go-live test source).
 *
 *   npm run bench:cluster      BENCH_JOINS=50, BENCH_CLUSTER_SECONDS=30 per WebRTC run
 */
import { io as connect, type Socket } from 'socket.io-client';
import { channelNamespace, hlsPlaylistPath, type Audience, type DirectoryEntry } from '../protocol/index.js';
import { startRedis } from '../server/test/helpers/redis.js';
import { startFedChannel } from '../server/test/helpers/test-app.js';
import { chromium } from '@playwright/test';
import { chromiumLaunchOptions } from '../e2e/chromium.js';
import { goLive, measure } from './glass-to-glass.js';
import { median, percentile, printTable, startBenchServer } from './lib.js';

const JOINS = Number(process.env.BENCH_JOINS ?? 50);
/** Presence updates go out at most once per this interval (the server's default). */
const PRESENCE_INTERVAL_MS = 250;
const FETCHES = 500;
const RTC_SECONDS = Number(process.env.BENCH_CLUSTER_SECONDS ?? 30);

function open(url: string, auth?: object): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(url, { auth, transports: ['websocket'], forceNew: true, reconnection: false });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** Resolves when `socket` hears `event` with a payload that passes `test`. */
function heard<T>(socket: Socket, event: string, test: (payload: T) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const listener = (payload: T) => {
      if (!test(payload)) return;
      socket.off(event, listener);
      resolve();
    };
    socket.on(event, listener);
  });
}

const summary = (what: string, through: string, ms: number[], baseline?: number[]) => ({
  what,
  through,
  samples: ms.length,
  'p50 ms': median(ms),
  'p95 ms': percentile(ms, 95),
  'p99 ms': percentile(ms, 99),
  'p50 vs A alone': baseline ? `${(median(ms) / median(baseline)).toFixed(2)}×` : '1×',
});

export async function runCluster(): Promise<void> {
  const redis = await startRedis();
  const env = { REDIS_URL: redis.url, MEDIASOUP_WORKERS: '1' };
  const a = await startBenchServer(env, { web: true });
  const b = await startBenchServer(env, { web: true });
  const fed = await startFedChannel(a.app);
  const id = fed.channel.id;
  const sockets: Socket[] = [];
  try {
    const watcher = await open(`${a.app.url}${channelNamespace(id)}`, { role: 'viewer' });
    sockets.push(watcher);
    let total = 1;
    watcher.on('viewerCount', (audience: Audience) => (total = audience.viewers));
    while (total !== 1) await new Promise((r) => setTimeout(r, 50));

    // Presence: one join at a time on a quiet channel (no update in the last interval), then its
    // leave; joins within an interval of the last update are held to its end by design.
    const joinThrough = async (url: string): Promise<number[]> => {
      const samples: number[] = [];
      for (let i = 0; i < JOINS; i++) {
        const counted = heard<Audience>(watcher, 'viewerCount', (a) => a.viewers === 2);
        const t0 = performance.now();
        const viewer = await open(`${url}${channelNamespace(id)}`, { role: 'viewer' });
        await counted;
        samples.push(performance.now() - t0);
        const uncounted = heard<Audience>(watcher, 'viewerCount', (a) => a.viewers === 1);
        viewer.disconnect();
        await uncounted;
        await new Promise((r) => setTimeout(r, PRESENCE_INTERVAL_MS * 2));
      }
      return samples;
    };
    const joinA = await joinThrough(a.app.url);
    const joinB = await joinThrough(b.app.url);

    const fetchThrough = async (url: string): Promise<number[]> => {
      const samples: number[] = [];
      for (let i = 0; i < FETCHES; i++) {
        const t0 = performance.now();
        const res = await fetch(`${url}${hlsPlaylistPath(id)}`);
        await res.text();
        if (!res.ok) throw new Error(`playlist through ${url}: HTTP ${res.status}`);
        samples.push(performance.now() - t0);
      }
      return samples;
    };
    const hlsA = await fetchThrough(a.app.url);
    const hlsB = await fetchThrough(b.app.url);

    // Directory: from the moment a channel is live on A until each lobby lists it.
    const lobbyA = await open(a.app.url);
    const lobbyB = await open(b.app.url);
    sockets.push(lobbyA, lobbyB);
    await Promise.all([lobbyA, lobbyB].map((l) => l.timeout(5000).emitWithAck('watchDirectory', {})));
    const listed = (lobby: Socket, channelId: string) =>
      heard<{ channels: DirectoryEntry[] }>(lobby, 'directory', (d) => d.channels.some((c) => c.channelId === channelId));
    const dirA: number[] = [];
    const dirB: number[] = [];
    for (let i = 0; i < 5; i++) {
      const next = await startFedChannel(a.app, { waitLive: false });
      const liveAt = new Promise<number>((resolve) => next.channel.on('state', (s) => s.phase === 'live' && resolve(performance.now())));
      const onA = listed(lobbyA, next.channel.id).then(() => performance.now());
      const onB = listed(lobbyB, next.channel.id).then(() => performance.now());
      const t0 = await liveAt;
      dirA.push((await onA) - t0);
      dirB.push((await onB) - t0);
      await next.stop();
    }

    await fed.stop();
    // WebRTC from a browser broadcaster on A, watched on A and through B's relay.
    const browser = await chromium.launch(chromiumLaunchOptions);
    const rtc: Record<string, string | number>[] = [];
    try {
      const live = await goLive(browser, a.app.url);
      const direct = await measure(browser, `${a.app.url}/watch/${live}`, 'mode=realtime', RTC_SECONDS);
      const relayed = await measure(browser, `${b.app.url}/watch/${live}`, 'mode=realtime', RTC_SECONDS);
      for (const [through, r] of [['A alone', direct], ['B (relay of A)', relayed]] as const) {
        if (r.mode !== 'realtime') throw new Error(`the viewer through ${through} fell back to ${r.mode}`);
        rtc.push({
          through,
          readings: r.samples.length,
          'p50 ms': median(r.samples),
          'p95 ms': percentile(r.samples, 95),
          stalls: r.stalls,
          'first frame p50 ms': Math.round(median(r.firstFrames)),
          'first frame max ms': Math.round(Math.max(...r.firstFrames)),
          'p50 vs A alone': `${(median(r.samples) / median(direct.samples)).toFixed(2)}×`,
        });
      }
    } finally {
      await browser.close();
    }

    printTable(`Scale-out: WebRTC glass-to-glass, broadcaster on A (${RTC_SECONDS} s per run)`, rtc);
    printTable('Scale-out: two instances through Redis (A carries the channel, B relays)', [
      summary('viewer join → total seen on A', 'A alone', joinA),
      summary('viewer join → total seen on A', 'B → Redis → A', joinB, joinA),
      summary('HLS playlist request', 'A alone', hlsA),
      summary('HLS playlist request', 'B (307 → A)', hlsB, hlsA),
      summary('channel live → listed in lobby', 'A alone', dirA),
      summary('channel live → listed in lobby', 'B (Redis directory)', dirB, dirA),
    ]);
  } finally {
    sockets.forEach((s) => s.disconnect());
    await fed.stop();
    await b.stop();
    await a.stop();
    await redis.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runCluster().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
