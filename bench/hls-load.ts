/**
 * Load generator for bench/hls-serving.ts (run as its own process so that it does not share an
 * event loop with the server it measures). Two kinds of viewers:
 *
 * - `segments`: polls a live playlist once per average segment duration, as hls.js does without
 *   blocking reload, and fetches every new segment once.
 * - `ll`: LL-HLS as hls.js in low-latency mode does it: a blocking playlist reload for the next
 *   part (`_HLS_msn`/`_HLS_part`), then a fetch of each new part. "Part delivery" is the time from
 *   the moment the first viewer learnt of a part (the earliest blocking response that listed it:
 *   the server answers those the moment the part exists) to this viewer having the part's bytes:
 *   how late a viewer is compared with the best case, whatever the part duration.
 *
 * Each viewer holds its own keep-alive connection, as a player does, and speaks just enough
 * HTTP/1.1 over a raw socket (request line, status, Content-Length; segment bodies counted, not
 * kept). undici (the first version) cost the generator ~280 µs of CPU per request, 4× the server
 * it measured: at 2,000 viewers it saturated its core and its own event-loop lag (p99 0.4–0.5 s)
 * was most of what it reported, for nginx as for livecast.
 *
 * It also reports its own event-loop delay and CPU: a load generator that lags inflates every
 * latency it measures, for livecast and nginx alike, and the report must be able to tell.
 *   tsx bench/hls-load.ts <playlist URL> <viewers> <seconds> [segments|ll]
 */
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const [url, viewersArg, secondsArg, modeArg] = process.argv.slice(2);
const viewers = Number(viewersArg);
const seconds = Number(secondsArg);
const mode = modeArg === 'll' ? 'll' : 'segments';
const target = new URL(url!);
const basePath = target.pathname.slice(0, target.pathname.lastIndexOf('/') + 1);

const playlistMs: number[] = [];
const slowAt: number[] = [];
const segmentMs: number[] = [];
const partDeliveryMs: number[] = [];
/** Earliest time any viewer learnt of a part, by "msn.part". */
const partSeenAt = new Map<string, number>();
let errors = 0;
let bytes = 0;
let requests = 0;

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * One viewer's connection: requests one at a time (as a player's connection does), reconnecting
 * when the server closed it. Only Content-Length bodies (livecast and nginx send nothing else here).
 */
class Connection {
  private socket: net.Socket | null = null;
  private head: Buffer = Buffer.alloc(0);
  private remaining = -1;
  private body: Buffer[] = [];
  private status = 0;
  private keepBody = false;
  private done: ((result: { status: number; body: Buffer | null }) => void) | null = null;

  get(path: string, keepBody: boolean): Promise<{ status: number; body: Buffer | null }> {
    const socket = this.socket ?? this.connect();
    this.keepBody = keepBody;
    this.head = Buffer.alloc(0);
    this.remaining = -1;
    this.body = [];
    return new Promise((resolve) => {
      this.done = resolve;
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${target.host}\r\nUser-Agent: livecast-bench\r\n\r\n`);
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private connect(): net.Socket {
    const socket = net.connect(Number(target.port), target.hostname);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    const fail = () => {
      if (this.socket === socket) this.socket = null;
      this.finish(0, null);
    };
    socket.on('error', fail);
    socket.on('close', fail);
    this.socket = socket;
    return socket;
  }

  private receive(chunk: Buffer): void {
    if (!this.done) return;
    if (this.remaining < 0) {
      this.head = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
      const end = this.head.indexOf(HEADER_END);
      if (end < 0) return;
      const head = this.head.toString('latin1', 0, end);
      this.status = Number(head.slice(9, 12));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!length) return this.finish(0, null); // not what this client reads: count as an error
      this.remaining = Number(length[1]);
      chunk = this.head.subarray(end + 4);
      this.head = Buffer.alloc(0);
    }
    bytes += chunk.length;
    this.remaining -= chunk.length;
    if (this.keepBody) this.body.push(chunk);
    if (this.remaining <= 0) this.finish(this.status, this.keepBody ? Buffer.concat(this.body) : Buffer.alloc(0));
  }

  private finish(status: number, body: Buffer | null): void {
    const done = this.done;
    this.done = null;
    done?.({ status, body });
  }
}

async function get(connection: Connection, path: string, keepBody = false): Promise<{ ms: number; body: Buffer | null }> {
  const t = performance.now();
  requests++;
  const { status, body } = await connection.get(path, keepBody);
  if (status !== 200) errors++;
  return { ms: performance.now() - t, body: status === 200 ? body : null };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function segmentViewer(endAt: number, offsetMs: number): Promise<void> {
  await sleep(offsetMs);
  const connection = new Connection();
  let seen = -1;
  while (performance.now() < endAt) {
    const started = performance.now();
    const playlist = await get(connection, target.pathname, true);
    playlistMs.push(playlist.ms);
    if (process.env.BENCH_DEBUG && playlist.ms > 50) slowAt.push(Math.floor((performance.now() - startedAt) / 1000));
    const text = playlist.body?.toString() ?? '';
    const durations = [...text.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
    const average = durations.length ? durations.reduce((a, b) => a + b, 0) / durations.length : 1;
    const segments = [...text.matchAll(/^seg_(\d+)\.m4s$/gm)].map((m) => Number(m[1]));
    // A new viewer starts at the live edge; then every segment is fetched once, in order.
    if (seen === -1 && segments.length) seen = segments.at(-1)! - 1;
    for (const n of segments.filter((x) => x > seen)) {
      segmentMs.push((await get(connection, `${basePath}seg_${n}.m4s`)).ms);
      seen = n;
    }
    await sleep(Math.max(0, average * 1000 - (performance.now() - started)));
  }
  connection.close();
}

/** The parts a playlist lists after the last complete segment and in it: [msn, part, uri]. */
function partsOf(text: string): { msn: number; part: number; uri: string }[] {
  const mediaSequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  const skipped = Number(/#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)/.exec(text)?.[1] ?? 0);
  const parts: { msn: number; part: number; uri: string }[] = [];
  let msn = mediaSequence + skipped;
  let part = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PART:')) {
      const uri = /URI="([^"]+)"/.exec(line)?.[1];
      if (uri) parts.push({ msn, part, uri });
      part++;
    } else if (line.startsWith('#EXTINF')) {
      // The segment line follows: the next part belongs to the next segment.
    } else if (line && !line.startsWith('#')) {
      msn++;
      part = 0;
    }
  }
  return parts;
}

async function llViewer(endAt: number, offsetMs: number): Promise<void> {
  await sleep(offsetMs);
  const connection = new Connection();
  let next: { msn: number; part: number } | null = null;
  while (performance.now() < endAt) {
    const path = next ? `${target.pathname}?_HLS_msn=${next.msn}&_HLS_part=${next.part}` : target.pathname;
    const playlist = await get(connection, path, true);
    const arrived = performance.now();
    if (next) playlistMs.push(playlist.ms);
    const text = playlist.body?.toString();
    if (!text) {
      next = null;
      await sleep(200);
      continue;
    }
    const parts = partsOf(text);
    for (const p of parts) {
      const key = `${p.msn}.${p.part}`;
      const first = partSeenAt.get(key);
      if (first === undefined || arrived < first) partSeenAt.set(key, arrived);
    }
    const newest = parts.at(-1);
    if (!newest) {
      await sleep(200);
      continue;
    }
    // The first playlist only places the viewer at the live edge; after that every new part is fetched.
    const wanted = next ? parts.filter((p) => p.msn > next!.msn || (p.msn === next!.msn && p.part >= next!.part)) : [];
    for (const p of wanted) {
      const r = await get(connection, `${basePath}${p.uri}`);
      segmentMs.push(r.ms);
      if (r.body) partDeliveryMs.push(performance.now() - partSeenAt.get(`${p.msn}.${p.part}`)!);
    }
    // Ask for the part after the newest listed; a new segment starts at part 0 (the server
    // accepts msn+1 part 0 as "the part after", as hls.js asks it).
    next = { msn: newest.msn, part: newest.part + 1 };
    if (text.includes('#EXT-X-PRELOAD-HINT') === false) next = { msn: newest.msn + 1, part: 0 };
  }
  connection.close();
}

const pct = (v: number[], p: number) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};

const lag = monitorEventLoopDelay({ resolution: 5 });
lag.enable();
const cpuBefore = process.cpuUsage();
const startedAt = performance.now();
const endAt = startedAt + seconds * 1000;
const viewer = mode === 'll' ? llViewer : segmentViewer;
await Promise.all(Array.from({ length: viewers }, (_, i) => viewer(endAt, (i / viewers) * 1000)));
const elapsed = (performance.now() - startedAt) / 1000;
lag.disable();
const cpu = process.cpuUsage(cpuBefore);
if (process.env.BENCH_DEBUG) console.error('slow playlists by second:', JSON.stringify(slowAt.reduce<Record<number, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {})));
console.log(
  JSON.stringify({
    requests,
    requestsPerSecond: requests / elapsed,
    playlistP50: pct(playlistMs, 50),
    playlistP99: pct(playlistMs, 99),
    segmentP50: pct(segmentMs, 50),
    segmentP99: pct(segmentMs, 99),
    partDeliveryP50: pct(partDeliveryMs, 50),
    partDeliveryP99: pct(partDeliveryMs, 99),
    megabytesPerSecond: bytes / 2 ** 20 / elapsed,
    errors,
    clientCpuPercent: ((cpu.user + cpu.system) / 1e6 / elapsed) * 100,
    clientLagP99: lag.percentile(99) / 1e6,
  }),
);
