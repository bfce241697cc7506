/**
 * The hostile clients of issue 12, replayed by the soak (bench/soak.ts) in waves. Each attack is
 * bounded in count and time, talks only to the server under test on 127.0.0.1, and comes from its
 * own loopback address (127.0.0.6x–7x: Linux routes all of 127/8 to lo) so that the per-address
 * limits apply to it and not to the legitimate audience. Reusing the same address in every wave
 * also checks that what a wave held was given back: a quota that leaked would refuse more in the
 * next wave.
 */
import net from 'node:net';
import { Agent } from 'undici';
import type { Socket } from 'socket.io-client';
import { channelNamespace } from '../protocol/index.js';
import { fakeDtls, fakeH264, fakeOpus } from '../server/test/helpers/sockets.js';
import { ask, isRefusal, openSocketFrom } from './soak-clients.js';

export interface AttackResult {
  attack: string;
  from: string;
  attempts: number;
  /** Accepted (and held until the server or the attacker let go). */
  held: number;
  refused: number;
  /** Refusal / outcome messages with counts. */
  outcomes: Map<string, number>;
  /** What happened to what was held, the same in every wave (e.g. "/healthz meanwhile: 200"). */
  note: string;
  /** How long the server took to end what was held (ms), and what that time is. */
  times: number[];
  timesWhat: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = (outcomes: Map<string, number>, key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
const seconds = (ms: number) => (ms / 1000).toFixed(1);

function result(attack: string, from: string): AttackResult {
  return { attack, from, attempts: 0, held: 0, refused: 0, outcomes: new Map(), note: '', times: [], timesWhat: '' };
}

/**
 * Squatting broadcasters: create a channel, join with its token, a transport with a made-up DTLS
 * fingerprint, produce audio and video with made-up parameters, send nothing, keep the socket
 * open. The server must refuse beyond MAX_CHANNELS_PER_ADDRESS and end each squatted channel within
 * SOURCE_MEDIA_TIMEOUT_MS (plus a poll).
 */
export async function squat(url: string, addresses: string[], perAddress: number, waitMs: number): Promise<AttackResult> {
  const r = result('squatting broadcasters (no media)', addresses.join(', '));
  const sockets: Socket[] = [];
  const endings: Promise<number | null>[] = [];
  try {
    for (const address of addresses) {
      const lobby = await openSocketFrom(url, '/', address);
      sockets.push(lobby);
      for (let i = 0; i < perAddress; i++) {
        r.attempts++;
        const created = await ask<{ channelId: string; publishToken: string }>(lobby, 'createChannel');
        if (isRefusal(created)) {
          r.refused++;
          count(r.outcomes, created.error);
          continue;
        }
        let socket: Socket;
        try {
          socket = await openSocketFrom(url, channelNamespace(created.channelId), address, { role: 'broadcaster', publishToken: created.publishToken });
        } catch (error) {
          r.refused++;
          count(r.outcomes, `join: ${errorText(error)}`);
          continue;
        }
        sockets.push(socket);
        const ended = new Promise<string>((resolve) => socket.once('streamEnded', ({ reason }: { reason: string }) => resolve(reason)));
        const steps: [string, object][] = [
          ['createProducerTransport', {}],
          ['connectProducerTransport', { dtlsParameters: fakeDtls }],
          ['produce', { kind: 'audio', rtpParameters: fakeOpus }],
          ['produce', { kind: 'video', rtpParameters: fakeH264 }],
        ];
        let failed = false;
        for (const [event, payload] of steps) {
          const answer = await ask(socket, event, payload);
          if (isRefusal(answer)) {
            count(r.outcomes, `${event}: ${answer.error}`);
            failed = true;
            break;
          }
        }
        if (failed) {
          r.refused++;
          continue;
        }
        r.held++;
        const producedAt = performance.now();
        endings.push(
          Promise.race([ended, sleep(waitMs).then(() => null)]).then((reason) => {
            count(r.outcomes, reason === null ? `still held after ${seconds(waitMs)} s` : `ended by the server: ${reason}`);
            return reason === null ? null : performance.now() - producedAt;
          }),
        );
      }
    }
    const ended = (await Promise.all(endings)).filter((v): v is number => v !== null);
    r.times = ended;
    r.timesWhat = 'ended by the server, after produce';
  } finally {
    sockets.forEach((s) => s.disconnect());
  }
  return r;
}

/** Real-time viewer transports from one address, all at once: beyond REALTIME_VIEWERS_PER_ADDRESS refused. */
export async function realtimeBurst(url: string, channelId: string, address: string, n: number, holdMs: number): Promise<AttackResult> {
  const r = result('real-time viewer transports, one address', address);
  const sockets: Socket[] = [];
  try {
    const opened = await Promise.allSettled(Array.from({ length: n }, () => openSocketFrom(url, channelNamespace(channelId), address, { role: 'viewer' })));
    for (const o of opened) {
      if (o.status === 'fulfilled') sockets.push(o.value);
      else {
        r.attempts++;
        r.refused++;
        count(r.outcomes, `join: ${errorText(o.reason)}`);
      }
    }
    const answers = await Promise.all(sockets.map((s) => ask<{ id: string }>(s, 'createConsumerTransport')));
    for (const a of answers) {
      r.attempts++;
      if (isRefusal(a)) {
        r.refused++;
        count(r.outcomes, a.error);
      } else r.held++;
    }
    await sleep(holdMs);
    r.note = `held ${seconds(holdMs)} s, then left`;
  } finally {
    sockets.forEach((s) => s.disconnect());
  }
  return r;
}

/** Socket.IO connections from one address, all at once: beyond MAX_SOCKETS_PER_ADDRESS refused. */
export async function socketBurst(url: string, address: string, n: number, holdMs: number): Promise<AttackResult> {
  const r = result('Socket.IO connections, one address', address);
  const opened = await Promise.allSettled(Array.from({ length: n }, () => openSocketFrom(url, '/', address)));
  const sockets: Socket[] = [];
  for (const o of opened) {
    r.attempts++;
    if (o.status === 'fulfilled') {
      r.held++;
      sockets.push(o.value);
    } else {
      r.refused++;
      count(r.outcomes, errorText(o.reason));
    }
  }
  await sleep(holdMs);
  sockets.forEach((s) => s.disconnect());
  r.note = `held ${seconds(holdMs)} s, then left`;
  return r;
}

interface RawConnection {
  socket: net.Socket;
  received: string;
  closedAt: number | null;
}

function rawConnect(port: number, localAddress: string): Promise<RawConnection | Error> {
  return new Promise((resolve) => {
    const c: RawConnection = { socket: net.connect({ host: '127.0.0.1', port, localAddress }), received: '', closedAt: null };
    c.socket.setEncoding('utf8');
    c.socket.on('data', (d: string) => (c.received += d));
    c.socket.once('close', () => (c.closedAt = performance.now()));
    c.socket.once('connect', () => resolve(c));
    c.socket.once('error', (error) => resolve(error));
  });
}

/** `n` TCP connections from `address`, one after the other; refused ones are counted in `r`. */
async function rawConnections(url: string, address: string, n: number, r: AttackResult, onOpen: (c: RawConnection) => void = () => undefined): Promise<RawConnection[]> {
  const port = Number(new URL(url).port);
  const conns: RawConnection[] = [];
  for (let i = 0; i < n; i++) {
    r.attempts++;
    const c = await rawConnect(port, address);
    if (c instanceof Error) {
      r.refused++;
      count(r.outcomes, `connect: ${c.message}`);
    } else {
      onOpen(c);
      conns.push(c);
    }
  }
  return conns;
}

/**
 * Idle TCP connections (connect, send nothing) from one address: beyond MAX_CONNECTIONS_PER_ADDRESS
 * answered 429. While they are held, another address must still get /healthz; how long the server
 * keeps the idle ones is measured (capped at `capMs`).
 */
export async function idleConnections(url: string, address: string, n: number, capMs: number): Promise<AttackResult> {
  const r = result('idle TCP connections, one address', address);
  const conns = await rawConnections(url, address, n, r);
  const started = performance.now();
  await sleep(1000);
  const held = conns.filter((c) => !c.received && c.closedAt === null);
  for (const c of conns) {
    if (c.received.startsWith('HTTP/1.1 429')) {
      r.refused++;
      count(r.outcomes, c.received.split('\r\n')[0]!);
    }
  }
  r.held = held.length;
  const health = await fetch(`${url}/healthz`).then((res) => res.status, (error: unknown) => errorText(error));
  while (performance.now() - started < capMs && held.some((c) => c.closedAt === null)) await sleep(1000);
  const closed = held.filter((c) => c.closedAt !== null);
  for (const c of held) count(r.outcomes, c.closedAt === null ? `still open after ${seconds(capMs)} s` : `closed by the server: ${c.received.split('\r\n')[0] || '(no response)'}`);
  conns.forEach((c) => c.socket.destroy());
  r.note = `/healthz from 127.0.0.1 meanwhile: ${health}`;
  r.times = closed.map((c) => c.closedAt! - started);
  r.timesWhat = 'held ones closed by the server, after connecting';
  return r;
}

/**
 * Slowloris: connections that send a request line and one header line every 5 s, never ending the
 * headers. How long the server keeps them is what is measured (capped at `capMs`).
 */
export async function slowloris(url: string, address: string, n: number, capMs: number): Promise<AttackResult> {
  const r = result('slowloris (partial headers, a line every 5 s)', address);
  const conns = await rawConnections(url, address, n, r, (c) => c.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
  const started = performance.now();
  let line = 0;
  while (performance.now() - started < capMs && conns.some((c) => c.closedAt === null)) {
    await sleep(5000);
    line++;
    for (const c of conns) if (c.closedAt === null && !c.socket.destroyed) c.socket.write(`X-Slow-${line}: x\r\n`);
  }
  const closed = conns.filter((c) => c.closedAt !== null);
  r.held = conns.length;
  for (const c of conns) count(r.outcomes, c.closedAt === null ? `still open after ${seconds(capMs)} s` : `closed by the server: ${c.received.split('\r\n')[0] || '(no response)'}`);
  r.times = closed.map((c) => c.closedAt! - started);
  r.timesWhat = 'closed by the server, after the request line';
  conns.forEach((c) => c.socket.destroy());
  return r;
}

/** `produce` with parameters that cannot be right (issue 12, item 9): each must be refused. */
export async function badProduce(url: string, address: string): Promise<AttackResult> {
  const r = result('bad produce parameters', address);
  const lobby = await openSocketFrom(url, '/', address);
  let socket: Socket | null = null;
  try {
    const created = await ask<{ channelId: string; publishToken: string }>(lobby, 'createChannel');
    if (isRefusal(created)) throw new Error(`could not create the channel for the attack: ${created.error}`);
    socket = await openSocketFrom(url, channelNamespace(created.channelId), address, { role: 'broadcaster', publishToken: created.publishToken });
    await ask(socket, 'createProducerTransport');
    await ask(socket, 'connectProducerTransport', { dtlsParameters: fakeDtls });
    const withCodec = (base: typeof fakeOpus | typeof fakeH264, codec: object) => ({ ...base, codecs: [{ ...base.codecs[0]!, ...codec }] });
    const cases: [string, object][] = [
      ['audio', fakeH264],
      ['video', fakeOpus],
      ['video', withCodec(fakeH264, { payloadType: 300 })],
      ['video', withCodec(fakeH264, { payloadType: -1 })],
      ['video', { ...fakeH264, encodings: [{ ssrc: 2 ** 53 }] }],
      ['audio', { ...fakeOpus, encodings: [{ ssrc: -5 }] }],
      ['video', withCodec(fakeH264, { mimeType: 'video/AV1' })],
    ];
    for (const [kind, rtpParameters] of cases) {
      r.attempts++;
      const answer = await ask(socket, 'produce', { kind, rtpParameters });
      if (isRefusal(answer)) {
        r.refused++;
        // Messages carry the offending value; keep the first clause so equal refusals group.
        count(r.outcomes, answer.error.split(':').slice(0, 2).join(':').slice(0, 90));
      } else {
        r.held++;
        count(r.outcomes, `accepted: ${kind} ${JSON.stringify(rtpParameters).slice(0, 60)}`);
      }
    }
    r.note = 'then the broadcaster leaves (its channel ends)';
  } finally {
    socket?.disconnect();
    lobby.disconnect();
  }
  return r;
}

/** Scanners' favourite URLs: each must get a 4xx, never a 500 (issue 12, item 4). */
export async function unknownUrls(url: string, address: string, rounds: number): Promise<AttackResult> {
  const r = result('unknown URLs', address);
  const paths = [
    '/favicon.ico',
    '/.env',
    '/wp-login.php',
    '/admin',
    '/.git/config',
    '/robots.txt',
    '/watch/not-a-channel',
    '/hls/AAAAAAAAAAAAAAAAAAAAAA/index.m3u8',
    '/hls/../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    `/${'x'.repeat(2000)}`,
  ];
  const agent = new Agent({ localAddress: address, connections: 4 });
  const byPath = new Map<string, Map<number | string, number>>();
  try {
    for (let i = 0; i < rounds; i++) {
      for (const p of paths) {
        r.attempts++;
        let status: number | string;
        try {
          // Dispatcher.request sends the path as written (a URL would resolve the `..`).
          const res = await agent.request({ origin: url, path: p, method: 'GET', headersTimeout: 10_000 });
          await res.body.dump();
          status = res.statusCode;
        } catch (error) {
          status = (error as { code?: string }).code ?? errorText(error);
        }
        if (typeof status === 'number' && status >= 400 && status < 500) r.refused++;
        const key = p.length > 40 ? `${p.slice(0, 12)}… (${p.length} chars)` : p;
        const statuses = byPath.get(key) ?? new Map<number | string, number>();
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        byPath.set(key, statuses);
      }
    }
  } finally {
    await agent.close();
  }
  for (const [p, statuses] of byPath) count(r.outcomes, `${p} → ${[...statuses.keys()].join('/')}`);
  const fiveHundreds = [...byPath.values()].reduce((n, s) => n + [...s].filter(([k]) => typeof k === 'number' && k >= 500).reduce((m, [, c]) => m + c, 0), 0);
  r.note = `${fiveHundreds} answered 5xx`;
  return r;
}
