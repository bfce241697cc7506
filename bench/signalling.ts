/**
 * Signalling under load, from Node socket.io clients (one connection each):
 *   - publish handshake: getRouterRtpCapabilities → createProducerTransport →
 *     connectProducerTransport → produce, by N broadcasters at once, each on its own channel
 *     (one video track, so that no FFmpeg starts: the pipeline's cost is the cost benchmark's);
 *   - viewer join: N viewers connecting to one channel at once, until they hold its state and
 *     viewer count;
 *   - baseline: a bare acknowledged emit on the same server (the floor any request pays).
 *
 *   npm run bench:signalling     BENCH_CLIENTS=100,300
 */
import { randomBytes } from 'node:crypto';
import { io as connect, type Socket } from 'socket.io-client';
import { channelNamespace } from '../protocol/index.js';
import { median, percentile, printTable, startBenchServer } from './lib.js';

const LEVELS = (process.env.BENCH_CLIENTS ?? '100,300').split(',').map(Number);

function open(url: string, auth?: object): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(url, { auth, transports: ['websocket'], forceNew: true, reconnection: false, timeout: 30_000 });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

async function ask<T>(socket: Socket, event: string, payload: unknown): Promise<T> {
  const result = (await socket.timeout(30_000).emitWithAck(event, payload)) as T & { error?: string };
  if (result && typeof result === 'object' && 'error' in result) throw new Error(`${event}: ${JSON.stringify(result.error)}`);
  return result;
}

const fakeDtls = () => ({
  role: 'client',
  fingerprints: [{ algorithm: 'sha-256', value: [...randomBytes(32)].map((b) => b.toString(16).padStart(2, '0')).join(':').toUpperCase() }],
});
const videoRtp = (ssrc: number) => ({
  codecs: [{ mimeType: 'video/H264', payloadType: 102, clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } }],
  encodings: [{ ssrc }],
});

/** One level: a fresh server, n clients of each kind, all at once. */
async function measureLevel(n: number): Promise<Record<string, string | number>[]> {
  // Every simulated client comes from 127.0.0.1: the per-address limits would measure themselves.
  const server = await startBenchServer({
    MAX_CHANNELS: String(n + 10),
    CHANNEL_CREATE_PER_MINUTE: '100000',
    MAX_CHANNELS_PER_ADDRESS: String(n + 10),
    MAX_SOCKETS_PER_ADDRESS: String(4 * n + 10),
    MAX_CONNECTIONS_PER_ADDRESS: String(4 * n + 10),
  });
  const url = server.app.url;
  const sockets: Socket[] = [];
  try {
    // Baseline: one acknowledged round trip per client.
    const lobbies = await Promise.all(Array.from({ length: n }, () => open(url)));
    sockets.push(...lobbies);
    const echo = await Promise.all(
      lobbies.map(async (s) => {
        const t = performance.now();
        await ask(s, 'watchDirectory', {});
        return performance.now() - t;
      }),
    );

    const channels = await Promise.all(lobbies.map((s) => ask<{ channelId: string; publishToken: string }>(s, 'createChannel', {})));
    const publishers = await Promise.all(
      channels.map((c) => open(`${url}${channelNamespace(c.channelId)}`, { role: 'broadcaster', publishToken: c.publishToken })),
    );
    sockets.push(...publishers);
    const handshakes = await Promise.all(
      publishers.map(async (s, i) => {
        const t = performance.now();
        await ask(s, 'getRouterRtpCapabilities', {});
        await ask(s, 'createProducerTransport', {});
        await ask(s, 'connectProducerTransport', { dtlsParameters: fakeDtls() });
        await ask(s, 'produce', { kind: 'video', rtpParameters: videoRtp(1000 + i) });
        return performance.now() - t;
      }),
    );

    const target = channels[0]!.channelId;
    const joins = await Promise.all(
      Array.from({ length: n }, async () => {
        const t = performance.now();
        const socket = connect(`${url}${channelNamespace(target)}`, { auth: { role: 'viewer' }, transports: ['websocket'], forceNew: true, reconnection: false });
        sockets.push(socket);
        await Promise.all([new Promise((r) => socket.once('channelState', r)), new Promise((r) => socket.once('viewerCount', r))]);
        return performance.now() - t;
      }),
    );
    const ratio = (v: number[]) => (median(v) / median(echo)).toFixed(1);
    return [
      { measure: 'baseline: one acked request', clients: n, 'p50 ms': median(echo), 'p99 ms': percentile(echo, 99), 'p50 / baseline': '1.0' },
      { measure: 'publish handshake (4 steps)', clients: n, 'p50 ms': median(handshakes), 'p99 ms': percentile(handshakes, 99), 'p50 / baseline': ratio(handshakes) },
      { measure: 'viewer join (connect → state + count)', clients: n, 'p50 ms': median(joins), 'p99 ms': percentile(joins, 99), 'p50 / baseline': ratio(joins) },
    ];
  } finally {
    sockets.forEach((s) => s.disconnect());
    await server.stop();
  }
}

export async function runSignalling(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  for (const n of LEVELS) {
    console.error(`signalling with ${n} clients of each kind …`);
    rows.push(...(await measureLevel(n)));
  }
  printTable('Signalling (Socket.IO clients from one Node process, one connection each, all at once)', rows);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runSignalling().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
