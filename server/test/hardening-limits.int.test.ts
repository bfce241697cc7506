/**
 * Hostile clients, scripted with plain Socket.IO and TCP: squatting channels without media,
 * hoarding real-time slots and connections, piling up requests, lying in X-Forwarded-For and in
 * `produce`. Each must be refused with a clear error (or lose what it holds) while other
 * addresses keep working.
 */
import net from 'node:net';
import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { channelNamespace } from '../../protocol/index.js';
import { descendants, eventually, waitForExit } from './helpers/processes.js';
import { fakeDtls, fakeH264, fakeOpus, openSocket, request } from './helpers/sockets.js';
import { startFedChannel, startTestApp, type FedChannel } from './helpers/test-app.js';

type TestApp = Awaited<ReturnType<typeof startTestApp>>;

const opened: Socket[] = [];
const track = <T extends Socket>(socket: T): T => (opened.push(socket), socket);
afterEach(() => {
  for (const socket of opened.splice(0)) socket.close();
});

const from = (address: string) => ({ headers: { 'x-forwarded-for': address } });

async function createChannel(app: TestApp, headers?: { headers: Record<string, string> }) {
  const lobby = track(await openSocket(app.url, '/', headers));
  return request<{ channelId?: string; publishToken?: string; error?: { code: string; message: string } }>(lobby, 'createChannel');
}

/** A broadcaster that signals everything and sends nothing: a made-up fingerprint, no ICE. */
async function squat(app: TestApp): Promise<{ channelId: string; socket: Socket; ended: Promise<string> }> {
  const { channelId, publishToken } = await createChannel(app);
  const socket = track(await openSocket(app.url, channelNamespace(channelId!), { auth: { role: 'broadcaster', publishToken } }));
  const ended = new Promise<string>((resolve) => socket.on('streamEnded', ({ reason }: { reason: string }) => resolve(reason)));
  expect(await request(socket, 'createProducerTransport')).toHaveProperty('id');
  expect(await request(socket, 'connectProducerTransport', { dtlsParameters: fakeDtls })).toEqual({ connected: true });
  expect(await request(socket, 'produce', { kind: 'audio', rtpParameters: fakeOpus })).toHaveProperty('producerId');
  expect(await request(socket, 'produce', { kind: 'video', rtpParameters: fakeH264 })).toHaveProperty('producerId');
  return { channelId: channelId!, socket, ended };
}

describe('a broadcaster that never sends media', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ SOURCE_MEDIA_TIMEOUT_MS: '2000' });
  });
  afterAll(() => app?.stop());

  it('loses its channel within the source timeout, and its router, FFmpeg and ports are freed', async () => {
    const routersBefore = app.pool.loads()[0]!.routers;
    const started = Date.now();
    const { channelId, ended } = await squat(app);
    const channel = app.registry.get(channelId)!;
    // The pipeline is still starting (waiting for the source's clock, which never comes): its
    // FFmpeg is found among this process's children.
    const ffmpegPid = await eventually(() => descendants(process.pid).find((p) => p.comm === 'ffmpeg')?.pid, 'the HLS pipeline to start FFmpeg');
    expect(channel.ended).toBe(false);
    expect(app.ports.allocated).toBe(4);
    expect(await ended).toBe('no media arrived from the broadcaster');
    const endedMs = Date.now() - started;
    expect(endedMs).toBeLessThan(5000);
    expect(app.registry.get(channelId)).toBeUndefined();
    expect(await waitForExit(ffmpegPid)).toBe(true);
    await eventually(() => app.ports.allocated === 0 && app.pool.loads()[0]!.routers === routersBefore, 'ports and router to be freed');
    console.log(`squatted channel ended ${endedMs} ms after creation (source timeout 2 s)`);
  });

  it('refuses produce parameters that cannot be right', async () => {
    const { channelId, publishToken } = await createChannel(app);
    const socket = track(await openSocket(app.url, channelNamespace(channelId!), { auth: { role: 'broadcaster', publishToken } }));
    await request(socket, 'createProducerTransport');
    await request(socket, 'connectProducerTransport', { dtlsParameters: fakeDtls });
    const withCodec = (base: typeof fakeOpus | typeof fakeH264, codec: object) => ({ ...base, codecs: [{ ...base.codecs[0]!, ...codec }] });
    const refusals: [string, object, RegExp][] = [
      ['audio', fakeH264, /an audio track cannot carry video\/H264/],
      ['video', fakeOpus, /a video track cannot carry audio\/opus/],
      ['video', withCodec(fakeH264, { payloadType: 300 }), /payloadType/],
      ['video', withCodec(fakeH264, { payloadType: -1 }), /payloadType/],
      ['video', { ...fakeH264, encodings: [{ ssrc: 2 ** 53 }] }, /ssrc/],
      ['audio', { ...fakeOpus, encodings: [{ ssrc: -5 }] }, /ssrc/],
      ['video', withCodec(fakeH264, { mimeType: 'video/AV1' }), /unsupported codec video\/AV1/],
    ];
    for (const [kind, rtpParameters, message] of refusals) {
      const result = await request<{ error?: { code: string; message: string } }>(socket, 'produce', { kind, rtpParameters });
      expect(result.error?.code, `${kind} ${JSON.stringify(rtpParameters)}`).toBe('bad-request');
      expect(result.error?.message).toMatch(message);
    }
    // The same connection can still produce what is right.
    expect(await request(socket, 'produce', { kind: 'audio', rtpParameters: fakeOpus })).toHaveProperty('producerId');
  });
});

describe('per-client limits', () => {
  let app: TestApp;
  let fed: FedChannel;
  beforeAll(async () => {
    app = await startTestApp({
      TRUSTED_PROXIES: '127.0.0.1',
      MAX_CHANNELS_PER_ADDRESS: '2',
      MAX_SOCKETS_PER_ADDRESS: '6',
      REALTIME_VIEWERS_PER_ADDRESS: '2',
      REALTIME_VIEWERS_PER_CONNECTION: '1',
      MAX_PENDING_REQUESTS: '2',
      CHANNEL_CREATE_PER_MINUTE: '50',
    });
    fed = await startFedChannel(app);
  });
  afterAll(async () => {
    await fed?.stop();
    await app?.stop();
  });
  const refusals = async (limit: string) =>
    Number(new RegExp(`^livecast_limit_refusals_total\\{limit="${limit}"\\} (\\d+)`, 'm').exec(await app.metrics.registry.metrics())?.[1] ?? 0);

  it('caps the channels one address holds at once; other addresses still go live; ending one frees a slot', async () => {
    const first = await createChannel(app, from('198.51.100.1'));
    const second = await createChannel(app, from('198.51.100.1'));
    expect(first.channelId && second.channelId).toBeTruthy();
    expect((await createChannel(app, from('198.51.100.1'))).error).toEqual({ code: 'full', message: 'your address already has 2 live channels; end one before going live again' });
    expect((await createChannel(app, from('198.51.100.2'))).channelId).toBeTruthy();
    await app.registry.get(first.channelId!)!.end('test');
    expect((await createChannel(app, from('198.51.100.1'))).channelId).toBeTruthy();
    expect(await refusals('channels_per_address')).toBe(1);
  });

  it('caps real-time viewer sessions per address and per connection', async () => {
    const viewer = async (address: string) =>
      track(await openSocket(app.url, channelNamespace(fed.channel.id), { auth: { role: 'viewer' }, ...from(address) }));
    const watch = (socket: Socket) => request<{ id?: string; error?: { code: string; message: string } }>(socket, 'createConsumerTransport');
    const a1 = await viewer('203.0.113.7');
    const a2 = await viewer('203.0.113.7');
    const a3 = await viewer('203.0.113.7');
    expect((await watch(a1)).id).toBeTruthy();
    expect((await watch(a2)).id).toBeTruthy();
    expect((await watch(a3)).error).toEqual({ code: 'full', message: 'your address already watches 2 streams in real time; watch over HLS' });
    expect((await watch(await viewer('203.0.113.8'))).id).toBeTruthy();
    // A session given back (the viewer falls back to HLS) frees the slot.
    await request(a1, 'stopConsuming');
    await eventually(async () => (await watch(a3)).id, 'the freed slot to be usable');

    // One connection (Socket.IO multiplexes namespaces over it) watching a second channel.
    const other = await startFedChannel(app);
    try {
      const lobby = track(await openSocket(app.url, '/', from('203.0.113.9')));
      const first = track(lobby.io.socket(channelNamespace(fed.channel.id), { auth: { role: 'viewer' } }).connect());
      const second = track(lobby.io.socket(channelNamespace(other.channel.id), { auth: { role: 'viewer' } }).connect());
      await eventually(() => first.connected && second.connected, 'both namespaces to connect');
      expect((await watch(first)).id).toBeTruthy();
      expect((await watch(second)).error).toEqual({ code: 'full', message: 'this connection already watches 1 streams in real time; watch over HLS' });
    } finally {
      await other.stop();
    }
  });

  it('admits exactly the per-address limit of a simultaneous burst of Socket.IO connections', async () => {
    const burst = await Promise.allSettled(Array.from({ length: 9 }, () => openSocket(app.url, '/', from('192.0.2.40'))));
    for (const r of burst) if (r.status === 'fulfilled') track(r.value);
    expect(burst.filter((r) => r.status === 'fulfilled')).toHaveLength(6);
    const refused = burst.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(refused).toHaveLength(3);
    for (const reason of refused) expect(reason).toContain('too many connections from your address (limit 6)');
  });

  it('caps Socket.IO connections per address with a clear error', async () => {
    for (let i = 0; i < 6; i++) await openSocket(app.url, '/', from('192.0.2.50')).then(track);
    await expect(openSocket(app.url, '/', from('192.0.2.50'))).rejects.toThrow(
      'too many connections from your address (limit 6); close some pages and try again',
    );
    await openSocket(app.url, '/', from('192.0.2.51')).then(track);
  });

  it('caps requests in progress per connection', async () => {
    const lobby = track(await openSocket(app.url, '/', from('192.0.2.60')));
    const results = await Promise.all(Array.from({ length: 6 }, () => request<{ error?: { code: string; message: string }; channelId?: string }>(lobby, 'createChannel')));
    const busy = results.filter((r) => r.error?.message === 'too many requests in progress on this connection (limit 2); wait for the answers' && r.error.code === 'full');
    expect(busy.length).toBeGreaterThan(0);
    expect(results.filter((r) => r.channelId).length).toBeLessThanOrEqual(2);
    await Promise.all(results.map((r) => r.channelId && app.registry.get(r.channelId)?.end('test')));
  });
});

describe('client addresses behind proxies', () => {
  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    const untrusting = await startTestApp({ MAX_CHANNELS_PER_ADDRESS: '1' });
    const trusting = await startTestApp({ MAX_CHANNELS_PER_ADDRESS: '1', TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1/32' });
    try {
      // Not trusted: every made-up header lands in the peer's own bucket.
      expect((await createChannel(untrusting, from('198.51.100.10'))).channelId).toBeTruthy();
      expect((await createChannel(untrusting, from('198.51.100.11'))).error?.message).toMatch(/already has 1 live channels/);
      // Trusted: the client is the rightmost address no trusted proxy vouches for.
      expect((await createChannel(trusting, from('198.51.100.10'))).channelId).toBeTruthy();
      expect((await createChannel(trusting, from('198.51.100.11'))).channelId).toBeTruthy();
      expect((await createChannel(trusting, from('6.6.6.6, 198.51.100.10, 10.1.2.3'))).error?.message).toMatch(/already has 1 live channels/);
    } finally {
      for (const s of opened.splice(0)) s.close();
      await untrusting.stop();
      await trusting.stop();
    }
  });
});

describe('connections', () => {
  it('caps TCP connections per address with a 429 and keeps serving other addresses', async () => {
    const app = await startTestApp({ MAX_CONNECTIONS_PER_ADDRESS: '5' });
    const sockets: net.Socket[] = [];
    try {
      const { port } = new URL(app.url);
      const connectFrom = (localAddress: string) =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect({ host: '127.0.0.1', port: Number(port), localAddress }, () => resolve(socket));
          socket.once('error', reject);
          sockets.push(socket);
        });
      for (let i = 0; i < 5; i++) await connectFrom('127.0.0.1');
      const refused = await connectFrom('127.0.0.1');
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        refused.on('data', (d) => (text += d.toString()));
        refused.on('close', () => resolve(text));
      });
      expect(answer).toMatch(/^HTTP\/1.1 429 Too Many Requests/);
      expect(answer).toContain('too many connections from your address');
      // Another address (loopback has all of 127/8) is served.
      const other = await connectFrom('127.0.0.2');
      other.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const health = await new Promise<string>((resolve) => {
        let text = '';
        other.on('data', (d) => (text += d.toString()));
        other.on('close', () => resolve(text));
      });
      expect(health).toMatch(/^HTTP\/1.1 200/);
    } finally {
      sockets.forEach((s) => s.destroy());
      await app.stop();
    }
  });
});
