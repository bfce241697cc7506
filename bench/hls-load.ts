/**
 * Load generator for bench/hls-serving.ts (run as its own process so that it does not share an
 * event loop with the server it measures): V viewers poll a live playlist once per average
 * segment duration, as hls.js does without blocking reload, and fetch every new segment once.
 *   tsx bench/hls-load.ts <playlist URL> <viewers> <seconds>
 */
import { Agent, request } from 'undici';

const [url, viewersArg, secondsArg] = process.argv.slice(2);
const viewers = Number(viewersArg);
const seconds = Number(secondsArg);
// Real viewers each hold their own connection; cap the pool so one process can keep up.
const agent = new Agent({ connections: Math.min(viewers, 1000), pipelining: 1, keepAliveTimeout: 30_000 });
const base = url!.slice(0, url!.lastIndexOf('/') + 1);

const playlistMs: number[] = [];
const segmentMs: number[] = [];
let errors = 0;
let bytes = 0;

async function get(target: string): Promise<{ ms: number; body: Buffer | null }> {
  const t = performance.now();
  try {
    const res = await request(target, { dispatcher: agent });
    const body = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== 200) errors++;
    bytes += body.length;
    return { ms: performance.now() - t, body: res.statusCode === 200 ? body : null };
  } catch {
    errors++;
    return { ms: performance.now() - t, body: null };
  }
}

async function viewer(endAt: number, offsetMs: number): Promise<void> {
  await new Promise((r) => setTimeout(r, offsetMs));
  let seen = -1;
  while (performance.now() < endAt) {
    const started = performance.now();
    const playlist = await get(url!);
    playlistMs.push(playlist.ms);
    const text = playlist.body?.toString() ?? '';
    const durations = [...text.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
    const average = durations.length ? durations.reduce((a, b) => a + b, 0) / durations.length : 1;
    const segments = [...text.matchAll(/^seg_(\d+)\.m4s$/gm)].map((m) => Number(m[1]));
    // A new viewer starts at the live edge; then every segment is fetched once, in order.
    if (seen === -1 && segments.length) seen = segments.at(-1)! - 1;
    for (const n of segments.filter((x) => x > seen)) {
      segmentMs.push((await get(`${base}seg_${n}.m4s`)).ms);
      seen = n;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, average * 1000 - (performance.now() - started))));
  }
}

const pct = (v: number[], p: number) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};

const startedAt = performance.now();
const endAt = startedAt + seconds * 1000;
await Promise.all(Array.from({ length: viewers }, (_, i) => viewer(endAt, (i / viewers) * 1000)));
const elapsed = (performance.now() - startedAt) / 1000;
await agent.close();
console.log(
  JSON.stringify({
    requestsPerSecond: (playlistMs.length + segmentMs.length) / elapsed,
    playlistP50: pct(playlistMs, 50),
    playlistP99: pct(playlistMs, 99),
    segmentP50: pct(segmentMs, 50),
    segmentP99: pct(segmentMs, 99),
    megabytesPerSecond: bytes / 2 ** 20 / elapsed,
    errors,
  }),
);
