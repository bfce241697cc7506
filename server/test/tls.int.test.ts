import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { io as connect, type Socket } from 'socket.io-client';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelNamespace } from '../../protocol/index.js';
import { freePort } from './helpers/net.js';
import { eventually } from './helpers/processes.js';
import { startServer } from './helpers/server.js';
import { startFedChannel, startTestApp, type FedChannel } from './helpers/test-app.js';
import { makeTestCertificate } from './helpers/tls.js';

const cert = makeTestCertificate();
afterAll(() => cert.remove());
/** A client that trusts the test certificate, and only it. */
const trusting = new Agent({ connect: { ca: cert.cert } });
afterAll(() => trusting.close());

const portOf = (url: string) => Number(new URL(url).port);

/** Resolves once the connection is closed, with whether a TLS session was ever established. */
function tlsConnection(port: number): Promise<{ socket: tls.TLSSocket; secured: Promise<boolean>; closed: Promise<void> }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: cert.cert });
    const secured = new Promise<boolean>((done) => {
      socket.once('secureConnect', () => done(true));
      socket.once('close', () => done(false));
    });
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('error', () => {}); // a refused connection errors; `secured` says so
    resolve({ socket, secured, closed });
  });
}

function socketIo(url: string, path: string, transport: 'websocket' | 'polling', auth: object): Promise<Socket> {
  const socket = connect(`${url}${path}`, { auth, transports: [transport], reconnection: false, forceNew: true, ca: cert.cert });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

describe('HTTPS built in (TLS_CERT / TLS_KEY)', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let fed: FedChannel;
  beforeAll(async () => {
    app = await startTestApp({}, { tls: cert });
    fed = await startFedChannel(app);
  });
  afterAll(async () => {
    await fed?.stop();
    await app?.stop();
  });

  it('listens at an https:// URL and presents the configured certificate', async () => {
    expect(app.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { socket, secured } = await tlsConnection(portOf(app.url));
    expect(await secured).toBe(true);
    expect(socket.getPeerCertificate().fingerprint256).toBe(new X509Certificate(cert.cert).fingerprint256);
    socket.destroy();
  });

  it('answers /healthz over HTTPS with the usual headers and no HSTS', async () => {
    const res = await fetch(`${app.url}/healthz`, { dispatcher: trusting });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    // HSTS would lock browsers out of a self-signed or later plain-HTTP server (security-headers.ts).
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });

  it('serves a live channel’s playlist and segments over HTTPS', async () => {
    const id = fed.channel.id;
    const playlist = await fetch(`${app.url}/hls/${id}/index.m3u8`, { dispatcher: trusting });
    expect(playlist.status).toBe(200);
    const body = await playlist.text();
    expect(body).toContain('#EXTM3U');
    const segment = /^(seg_\d+\.m4s)$/m.exec(body)?.[1];
    expect(segment).toBeDefined();
    const res = await fetch(`${app.url}/hls/${id}/${segment}`, { dispatcher: trusting });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/iso.segment');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.length).toBeGreaterThan(1000);
    expect(bytes.toString('latin1', 4, 8)).toBe('moof'); // an fMP4 fragment: real media went through TLS
  });

  it('refuses clients that do not trust the certificate, and plain HTTP on its port', async () => {
    // Node's default trust store does not know a self-signed certificate.
    await expect(fetch(`${app.url}/healthz`)).rejects.toThrow();
    const plain = new Promise<number>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: portOf(app.url), path: '/healthz', timeout: 5000 }, (res) => resolve(res.statusCode ?? 0));
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
    });
    await expect(plain).rejects.toThrow(/socket hang up|ECONNRESET/);
    // ... and the server carries on.
    expect((await fetch(`${app.url}/healthz`, { dispatcher: trusting })).status).toBe(200);
  });

  it.each(['websocket', 'polling'] as const)('runs Socket.IO signalling over %s on TLS (wss / https long-polling)', async (transport) => {
    const viewer = await socketIo(app.url, channelNamespace(fed.channel.id), transport, { role: 'viewer' });
    try {
      const answer = (await viewer.timeout(10_000).emitWithAck('getRouterRtpCapabilities', {})) as { rtpCapabilities?: { codecs?: Array<{ mimeType: string }> } };
      expect(answer.rtpCapabilities?.codecs?.map((c) => c.mimeType)).toContain('video/H264');
      expect(viewer.io.engine.transport.name).toBe(transport);
    } finally {
      viewer.close();
    }
  });

  it('refuses a server with a key file that cannot be read, naming the variable, before it listens', async () => {
    await expect(startTestApp({ TLS_KEY: '/nonexistent/key.pem' }, { tls: cert })).rejects.toThrow(/TLS_KEY: cannot read \/nonexistent\/key\.pem/);
    await expect(startTestApp({ TLS_KEY: '' }, { tls: cert })).rejects.toThrow(/TLS_CERT and TLS_KEY go together/);
  });
});

describe('slow-client limits and per-address caps over TLS', () => {
  let app: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    app = await startServer({ MEDIASOUP_WORKERS: '1', HTTP_HEADERS_TIMEOUT_MS: '1000', MAX_CONNECTIONS_PER_ADDRESS: '3' }, { tls: cert });
  });
  afterAll(() => app?.stop());

  it('caps connections per address on the raw TCP connection, before any handshake', async () => {
    const held = await Promise.all([1, 2, 3].map(() => tlsConnection(portOf(app.url))));
    expect(await Promise.all(held.map((c) => c.secured))).toEqual([true, true, true]);
    // The fourth is closed as soon as it is accepted: no ClientHello needed, no bytes sent back
    // (a plain-HTTP 429 would be garbage to a TLS client), well before the 1 s handshake timeout.
    const refused = net.connect(portOf(app.url), '127.0.0.1');
    refused.on('error', () => {});
    let received = 0;
    refused.on('data', (chunk: Buffer) => (received += chunk.length));
    const start = Date.now();
    await new Promise((resolve) => refused.once('close', resolve));
    expect(Date.now() - start).toBeLessThan(500);
    expect(received).toBe(0);
    await expect(app.metrics.registry.getSingleMetricAsString('livecast_limit_refusals_total')).resolves.toMatch(/limit="connections_per_address"\} 1$/m);
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.closed));
    // Closed connections are no longer counted: the address may connect again.
    await eventually(async () => {
      const next = await tlsConnection(portOf(app.url));
      const ok = await next.secured;
      next.socket.destroy();
      return ok;
    }, 'a new connection to be accepted', 5000);
  });

  it('closes a connection that never starts its TLS handshake after the headers timeout, not Node’s 120 s', async () => {
    const socket = net.connect(portOf(app.url), '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    const start = Date.now();
    await new Promise((resolve) => socket.once('close', resolve));
    const elapsed = Date.now() - start;
    expect(elapsed).toBeGreaterThanOrEqual(800);
    expect(elapsed).toBeLessThan(4000);
  });

  it('times out a request head dribbled over TLS like one over HTTP', async () => {
    const { socket, secured, closed } = await tlsConnection(portOf(app.url));
    expect(await secured).toBe(true);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    const start = Date.now();
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // ... and never the blank line
    await closed;
    const elapsed = Date.now() - start;
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(elapsed).toBeGreaterThanOrEqual(800);
    expect(elapsed).toBeLessThan(4000);
  });
});

describe('RTMPS (RTMP in TLS with the HTTPS certificate)', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    const [rtmp, rtmps] = [await freePort(), await freePort()];
    app = await startTestApp({ RTMP_PORT: String(rtmp), RTMPS_PORT: String(rtmps) }, { tls: cert });
  });
  afterAll(() => app?.stop());

  /** FFmpeg (an independent RTMPS client) publishing a short H264 + AAC stream; resolves with its exit code. */
  const publish = (url: string) =>
    new Promise<number | null>((resolve) => {
      const child = spawn('ffmpeg', [
        '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-f', 'lavfi', '-i', 'sine',
        '-t', '6', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', '-c:a', 'aac', '-f', 'flv', url,
      ], { stdio: 'ignore' });
      child.once('exit', resolve);
    });

  it('takes an encoder over rtmps:// with the channel key, refuses a wrong key, and speaks no plain RTMP on its port', async () => {
    const rtmps = app.rtmp!.rtmpsPort!;
    const { channel, streamKey } = await app.registry.create();
    expect(channel.ingestPorts.rtmps).toBe(rtmps);
    expect(await publish(`rtmps://127.0.0.1:${rtmps}/live/wrong-key`)).not.toBe(0);
    expect(await publish(`rtmp://127.0.0.1:${rtmps}/live/${streamKey}`)).not.toBe(0);
    expect(channel.state.phase).toBe('waiting');
    const publishing = publish(`rtmps://127.0.0.1:${rtmps}/live/${streamKey}`);
    await eventually(() => channel.state.phase === 'live', 'the RTMPS channel to go live', 15_000);
    await publishing;
  });
});
