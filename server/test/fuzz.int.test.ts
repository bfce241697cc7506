/**
 * Fuzzing the Socket.IO surface of a live server: well over 1,000 malformed, oversized and
 * out-of-order messages from lobby, viewer and broadcaster sockets, while a real broadcast runs.
 * Every message must be answered with an error ack or dropped; the server must stay up and the
 * broadcast must keep advancing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { channelNamespace } from '../../protocol/index.js';
import { channelRequestSchemas, lobbyRequestSchemas } from '../../protocol/schemas.js';
import { eventually } from './helpers/processes.js';
import { startFedChannel, startTestApp, type FedChannel } from './helpers/test-app.js';

let app: Awaited<ReturnType<typeof startTestApp>>;
let broadcast: FedChannel;

beforeAll(async () => {
  app = await startTestApp({ CHANNEL_CREATE_PER_MINUTE: '5' });
  broadcast = await startFedChannel(app);
});
afterAll(async () => {
  await broadcast?.stop();
  await app?.stop();
});

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

/** A random payload; nesting is bounded so that messages stay under maxHttpBufferSize. */
function junk(random: () => number, depth = 0): unknown {
  const pick = Math.floor(random() * (depth < 2 ? 16 : 5));
  switch (pick) {
    case 0: return undefined;
    case 1: return null;
    case 2: return random() * 1e12 - 5e11;
    case 3: return Number.NaN;
    case 4: return 'x'.repeat(Math.floor(random() * 2000));
    case 5: return { dtlsParameters: { fingerprints: Array.from({ length: 50 }, () => ({ algorithm: 'sha-256', value: 'z'.repeat(300) })) } };
    case 6: return [junk(random, depth + 1), junk(random, depth + 1)];
    case 7: return { dtlsParameters: junk(random, depth + 1) };
    case 8: return { dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: junk(random, depth + 1) }] } };
    case 9: return { kind: ['audio', 'video', 'data', 7][Math.floor(random() * 4)], rtpParameters: junk(random, depth + 1) };
    case 10: return { kind: 'video', rtpParameters: { codecs: [{ mimeType: 'video/H264', payloadType: 300, clockRate: 'x' }] } };
    case 11: return JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}');
    case 12: return { consumerId: junk(random, depth + 1), rtpCapabilities: { codecs: 'none' } };
    case 13: {
      let nested: unknown = {};
      for (let i = 0; i < 200; i++) nested = { a: nested };
      return nested;
    }
    case 14: return depth < 3 ? { publishKey: junk(random, depth + 1), extra: true } : 'deep';
    default: return Buffer.from('binary payload');
  }
}

function open(path: string, auth?: object): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // One connection per socket: Socket.IO closes a whole connection that sends on a namespace
    // it was removed from, which would turn one socket's refusal into its neighbours' drops.
    const socket = connect(`${app.url}${path}`, { auth, transports: ['websocket'], reconnectionDelay: 50, forceNew: true });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

type Outcome = 'error-ack' | 'result' | 'dropped';

interface Sent {
  outcome: Outcome;
  event: string;
  payload: unknown;
  result?: unknown;
}

function send(socket: Socket, event: string, payload: unknown, withPayload: boolean): Promise<Sent> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ outcome: 'dropped', event, payload }), 3000);
    const ack = (result: unknown) => {
      clearTimeout(timer);
      const isError = typeof result === 'object' && result !== null && typeof (result as { error?: { message?: unknown } }).error?.message === 'string';
      resolve({ outcome: isError ? 'error-ack' : 'result', event, payload: withPayload ? payload : undefined, result });
    };
    if (withPayload) socket.emit(event, payload, ack);
    else socket.emit(event, ack);
  });
}

it('answers 1,200 malformed messages (and oversized and out-of-order ones) with errors or drops them, and the broadcast is unaffected', async () => {
  const random = rng(20261124);
  const { channel: target, publishToken } = await app.registry.create();
  const lobby = await open('/');
  const viewer = await open(channelNamespace(broadcast.channel.id), { role: 'viewer' });
  const publisher = await open(channelNamespace(target.id), { role: 'broadcaster', publishToken });
  const lobbyEvents = [...Object.keys(lobbyRequestSchemas), 'noSuchEvent', 'constructor', '__proto__'];
  // stopBroadcast is left out: a valid one would end the target channel early (tested below).
  const channelEvents = [...Object.keys(channelRequestSchemas).filter((e) => e !== 'stopBroadcast'), 'noSuchEvent', 'toString', 'hasOwnProperty'];
  const playlistBefore = broadcast.channel.hlsStream!.newestSegment;


  const sent: Promise<Sent>[] = [];
  for (let i = 0; i < 1200; i++) {
    const socket = [lobby, viewer, publisher][i % 3]!;
    const events = socket === lobby ? lobbyEvents : channelEvents;
    const event = events[Math.floor(random() * events.length)]!;
    sent.push(send(socket, event, junk(random), random() > 0.1));
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20)); // let the server breathe a little
  }
  const outcomes = await Promise.all(sent);

  const counts = { 'error-ack': 0, result: 0, dropped: 0 };
  for (const o of outcomes) counts[o.outcome]++;
  console.log('fuzz outcomes', counts);
  expect(counts['error-ack']).toBeGreaterThan(600);
  // A success may only answer a payload the protocol accepts (an absent payload counts as {}).
  const schemas: Record<string, { safeParse(v: unknown): { success: boolean } }> = { ...lobbyRequestSchemas, ...channelRequestSchemas };
  for (const o of outcomes.filter((x) => x.outcome === 'result')) {
    const payload = o.payload === undefined || o.payload === null || Number.isNaN(o.payload) ? {} : JSON.parse(JSON.stringify(o.payload));
    expect(schemas[o.event]!.safeParse(payload).success, `${o.event} succeeded with ${JSON.stringify(o.payload)?.slice(0, 200)}`).toBe(true);
  }
  // Unknown event names have no handler: dropped, never answered.
  for (const o of outcomes.filter((x) => ['noSuchEvent', 'constructor', '__proto__', 'toString', 'hasOwnProperty'].includes(x.event))) {
    expect(o.outcome).toBe('dropped');
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();

  // Oversized messages (beyond maxHttpBufferSize) cost the sender its connection, nothing else.
  await Promise.all(
    Array.from({ length: 30 }, async (_, i) => {
      const socket = await open(channelNamespace(broadcast.channel.id), { role: 'viewer' });
      const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      let answered = false;
      socket.emit('connectConsumerTransport', { dtlsParameters: 'y'.repeat(70_000 + i * 5000) }, () => (answered = true));
      expect(await closed).toBe('transport close');
      socket.disconnect();
      expect(answered).toBe(false);
    }),
  );

  // Out of order on a fresh channel: each step before its prerequisite is refused with a reason.
  const { channel: fresh, publishToken: freshToken } = await app.registry.create();
  const early = await open(channelNamespace(fresh.id), { role: 'broadcaster', publishToken: freshToken });
  const dtls = { dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AA:BB' }] } };
  const produce = { kind: 'video', rtpParameters: { codecs: [{ mimeType: 'video/H264', payloadType: 102, clockRate: 90000 }] } };
  expect((await send(early, 'produce', produce, true)).result).toEqual({ error: { code: 'conflict', message: 'connect the producer transport first' } });
  expect((await send(early, 'connectProducerTransport', dtls, true)).result).toEqual({ error: { code: 'conflict', message: 'create the producer transport first' } });
  expect((await send(early, 'createProducerTransport', {}, true)).outcome).toBe('result');
  expect((await send(early, 'createProducerTransport', {}, true)).result).toEqual({ error: { code: 'conflict', message: 'the producer transport already exists' } });
  expect((await send(early, 'produce', produce, true)).result).toEqual({ error: { code: 'conflict', message: 'connect the producer transport first' } });
  expect((await send(early, 'createConsumerTransport', {}, true)).result).toEqual({ error: { code: 'conflict', message: 'the broadcaster cannot watch its own channel in real time' } });
  const freshViewer = await open(channelNamespace(broadcast.channel.id), { role: 'viewer' });
  expect((await send(freshViewer, 'resumeConsumer', { consumerId: 'nope' }, true)).result).toEqual({ error: { code: 'conflict', message: 'create the consumer transport first' } });
  expect((await send(freshViewer, 'consume', { rtpCapabilities: { codecs: [] } }, true)).result).toEqual({ error: { code: 'conflict', message: 'create the consumer transport first' } });
  expect((await send(freshViewer, 'createConsumerTransport', {}, true)).outcome).toBe('result');
  expect((await send(freshViewer, 'resumeConsumer', { consumerId: 'nope' }, true)).result).toEqual({ error: { code: 'not-found', message: 'unknown consumer' } });
  freshViewer.disconnect();

  // The server is up, the real broadcast kept going and still plays.
  expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  expect(broadcast.channel.ended).toBe(false);
  await eventually(() => broadcast.channel.hlsStream!.newestSegment >= playlistBefore + 2, 'the broadcast to keep advancing', 10_000);
  const playlist = await fetch(`${app.url}/hls/${broadcast.channel.id}/index.m3u8`);
  expect(playlist.status).toBe(200);
  const errors = await (await fetch(`${app.url}/metrics`)).text();
  expect(errors).toMatch(/^livecast_request_errors_total\{event="produce"\} \d+$/m);

  // A viewer cannot stop someone's broadcast; the broadcaster can.
  expect((await send(viewer, 'stopBroadcast', {}, true)).result).toEqual({ error: { code: 'unauthorized', message: 'only the channel’s broadcaster can publish' } });
  expect((await send(publisher, 'stopBroadcast', {}, true)).result).toEqual({ stopped: true });
  expect(target.ended).toBe(true);

  for (const s of [lobby, viewer, publisher, early]) s.disconnect();
  await fresh.end('test over');
  await target.end('test over');
});
