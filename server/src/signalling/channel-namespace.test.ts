/**
 * serveChannels against fake channels: the namespace's own rules (who may publish or watch, what
 * a refusal becomes, which slot is held until when, what the port is told on connect and
 * disconnect) over a real Socket.IO server and clients, without mediasoup or FFmpeg.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CHANNEL_NAMESPACE_PATTERN,
  channelNamespace,
  connectErrorCode,
  type ChannelAuth,
  type ChannelClientToServer,
  type ChannelServerToClient,
  type ConsumerInfo,
  type TransportOptions,
} from '../../../protocol/index.js';
import { ChannelError } from '../channel/channel-error.js';
import { loadConfig } from '../config.js';
import { ClientAddresses } from '../http/client-address.js';
import { ClientLimits } from '../limits/client-limits.js';
import { createLogger } from '../logger.js';
import { serveChannels } from './channel-namespace.js';
import type { ChannelLocator, ChannelPort, OwnerPort, PublishPort, RealtimePort } from './ports.js';
import { createSocketServer } from './signalling-server.js';

const logger = createLogger('silent');

const CHANNEL = 'AAAAAAAAAAAAAAAAAAAAAA';
const OTHER_CHANNEL = 'BBBBBBBBBBBBBBBBBBBBBB';
const TOKEN = 'the-publish-token-of-the-channel';
const SESSION = 'page-session-1';

const transport: TransportOptions = {
  id: 'transport-1',
  iceParameters: { usernameFragment: 'ufrag', password: 'pwd', iceLite: true },
  iceCandidates: [],
  dtlsParameters: { role: 'auto', fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD' }] },
};
const dtlsParameters = { role: 'client' as const, fingerprints: [{ algorithm: 'sha-256' as const, value: 'AB:CD' }] };
const h264 = {
  mid: '1',
  codecs: [{ mimeType: 'video/H264', payloadType: 102, clockRate: 90000, parameters: { 'packetization-mode': 1 }, rtcpFeedback: [] }],
  encodings: [{ ssrc: 2222 }],
  rtcp: { cname: 'test' },
};
const consumer: ConsumerInfo = { id: 'consumer-1', producerId: 'producer-video', kind: 'video', rtpParameters: { codecs: [] } };
const layers = [0, 1, 2].map((spatialLayer) => ({ spatialLayer, height: 180 * 2 ** spatialLayer }));

/**
 * A channel as signalling sees it, recording every call. Its publish side keeps the same rules as
 * Channel.claimBroadcaster (token, one broadcaster, the same page may replace its stale
 * connection) so that the namespace's handling of the answers is what is under test.
 */
function fakeChannel(id: string) {
  let broadcaster: { socketId: string; session?: string } | null = null;
  /** Each viewer's `onClosed`, as the namespace handed it to the port. */
  const onClosed = new Map<string, () => void>();
  const publish = {
    claim: vi.fn<PublishPort['claim']>((socketId, token, session) => {
      if (token !== TOKEN) throw new ChannelError('unauthorized', 'invalid publish token for this channel');
      let replaced: string | null = null;
      if (broadcaster && broadcaster.socketId !== socketId) {
        if (!session || broadcaster.session !== session) throw new ChannelError('conflict', 'this channel already has a broadcaster');
        replaced = broadcaster.socketId;
      }
      broadcaster = { socketId, session };
      return replaced;
    }),
    left: vi.fn<PublishPort['left']>((socketId) => {
      if (broadcaster?.socketId === socketId) broadcaster = null;
    }),
    isBroadcaster: vi.fn<PublishPort['isBroadcaster']>((socketId) => broadcaster?.socketId === socketId),
    createTransport: vi.fn<PublishPort['createTransport']>(async () => ({ ...transport, simulcast: true })),
    connect: vi.fn<PublishPort['connect']>(async () => undefined),
    produce: vi.fn<PublishPort['produce']>(async (kind) => `producer-${kind}`),
    stop: vi.fn<PublishPort['stop']>(async () => undefined),
  } satisfies PublishPort;
  /** Who holds the channel against the idle timeout, as the port was told. */
  const holders = new Set<string>();
  let keys = 0;
  const owner = {
    hold: vi.fn<OwnerPort['hold']>((socketId, token) => {
      if (token !== TOKEN) throw new ChannelError('unauthorized', 'invalid publish token for this channel');
      holders.add(socketId);
    }),
    release: vi.fn<OwnerPort['release']>((socketId) => void holders.delete(socketId)),
    rotateStreamKey: vi.fn<OwnerPort['rotateStreamKey']>(async (token) => {
      if (token !== TOKEN) throw new ChannelError('unauthorized', 'invalid publish token for this channel');
      return `stream-key-${++keys}`;
    }),
    setDetails: vi.fn<OwnerPort['setDetails']>(async (token, details) => {
      if (token !== TOKEN) throw new ChannelError('unauthorized', 'invalid publish token for this channel');
      return details;
    }),
  } satisfies OwnerPort;
  const realtime = {
    rtpCapabilities: vi.fn<RealtimePort['rtpCapabilities']>(async () => ({ codecs: [], headerExtensions: [] })),
    createTransport: vi.fn<RealtimePort['createTransport']>(async (viewerId, closed) => {
      onClosed.set(viewerId, closed);
      return transport;
    }),
    connect: vi.fn<RealtimePort['connect']>(async () => undefined),
    consume: vi.fn<RealtimePort['consume']>(async () => ({ consumers: [consumer], layers })),
    resume: vi.fn<RealtimePort['resume']>(async () => undefined),
    setQuality: vi.fn<RealtimePort['setQuality']>(async (_viewerId, choice) => choice),
    leave: vi.fn<RealtimePort['leave']>(),
  } satisfies RealtimePort;
  const port = {
    id,
    logger,
    join: vi.fn<ChannelPort['join']>(),
    leave: vi.fn<ChannelPort['leave']>(),
    publish,
    owner,
    realtime,
  } satisfies ChannelPort;
  return { port, onClosed, holders };
}

type ChannelClient = ClientSocket<ChannelServerToClient, ChannelClientToServer>;

/** What a test started; everything in it is closed after each test. */
let running: { io: ReturnType<typeof createSocketServer>; http: HttpServer; clients: ChannelClient[] } | null = null;

afterEach(async () => {
  if (!running) return;
  const { io, http, clients } = running;
  running = null;
  for (const client of clients) client.disconnect();
  await new Promise<void>((resolve) => io.close(() => resolve()));
  // io.close() closes the HTTP server too; wait for it in case it was still open.
  if (http.listening) await new Promise((resolve) => http.close(resolve));
});

/**
 * serveChannels on a real Socket.IO server (the production one, from createSocketServer) on an
 * ephemeral loopback port, with the given channels behind a recording locator. `env` sets limits
 * as the environment would.
 */
async function serve(channels: ReturnType<typeof fakeChannel>['port'][], env: NodeJS.ProcessEnv = {}) {
  const http = createServer();
  const io = createSocketServer(http);
  const clients: ChannelClient[] = [];
  running = { io, http, clients };
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('the test server has no TCP address');
  const url = `http://127.0.0.1:${address.port}`;

  const byId = new Map(channels.map((c) => [c.id, c]));
  const locator = { find: vi.fn<ChannelLocator['find']>(async (id) => byId.get(id) ?? null) } satisfies ChannelLocator;
  const refused: string[] = [];
  const requestErrors: string[] = [];
  const limits = new ClientLimits(loadConfig(env).limits, (limit) => refused.push(limit));
  serveChannels(io.of(CHANNEL_NAMESPACE_PATTERN), {
    channels: locator,
    addresses: new ClientAddresses([]),
    limits,
    onRequestError: (event) => requestErrors.push(event),
    logger,
  });

  const open = (channelId: string, auth: ChannelAuth | Record<string, unknown>): ChannelClient => {
    const client: ChannelClient = connect(`${url}${channelNamespace(channelId)}`, {
      auth,
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    clients.push(client);
    return client;
  };
  /** A connected client (fails the test if the server refuses it). */
  const join = (channelId: string, auth: ChannelAuth): Promise<ChannelClient> => {
    const client = open(channelId, auth);
    return new Promise((resolve, reject) => {
      client.once('connect', () => resolve(client));
      client.once('connect_error', reject);
    });
  };
  /** The error a refused client gets (fails the test if it connects). */
  const refusal = (channelId: string, auth: ChannelAuth | Record<string, unknown>): Promise<Error> => {
    const client = open(channelId, auth);
    return new Promise((resolve, reject) => {
      client.once('connect', () => reject(new Error('connected, expected a refusal')));
      client.once('connect_error', resolve);
    });
  };
  return { locator, limits, refused, requestErrors, open, join, refusal };
}

/** A connected socket's id (socket.io-client forgets it on disconnect: read it before). */
function idOf(client: ChannelClient): string {
  if (client.id === undefined) throw new Error('the client is not connected');
  return client.id;
}

const viewer: ChannelAuth = { role: 'viewer' };
const broadcaster: ChannelAuth = { role: 'broadcaster', publishToken: TOKEN, session: SESSION };
const owner: ChannelAuth = { role: 'owner', publishToken: TOKEN };
/** Polls quickly: the server side of a disconnect lands a few milliseconds after the client's. */
const soon = { timeout: 2000, interval: 5 };

describe('serveChannels: connecting', () => {
  it('refuses a channel the locator does not know with not-found, asking it for the namespace’s id', async () => {
    const t = await serve([]);
    const error = await t.refusal(CHANNEL, viewer);
    expect(error.message).toBe('channel not found');
    expect(connectErrorCode(error)).toBe('not-found');
    expect(t.locator.find).toHaveBeenCalledExactlyOnceWith(CHANNEL);
  });

  it('refuses with internal (not not-found) when the locator cannot tell', async () => {
    const t = await serve([]);
    t.locator.find.mockRejectedValueOnce(new Error('ECONNREFUSED 10.0.0.5:6379'));
    const error = await t.refusal(CHANNEL, viewer);
    expect(connectErrorCode(error)).toBe('internal');
    expect(error.message).not.toMatch(/ECONNREFUSED|6379/);
  });

  it.each([
    ['an unknown role', { role: 'admin' }],
    ['a broadcaster without a token', { role: 'broadcaster' }],
    ['no auth at all', {}],
  ])('refuses %s with bad-request and claims nothing', async (_, auth) => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    expect(connectErrorCode(await t.refusal(CHANNEL, auth))).toBe('bad-request');
    expect(port.publish.claim).not.toHaveBeenCalled();
    expect(port.join).not.toHaveBeenCalled();
  });

  it('has the port check a broadcaster’s token and session, and refuses with the port’s code', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const error = await t.refusal(CHANNEL, { role: 'broadcaster', publishToken: 'wrong', session: SESSION });
    expect(connectErrorCode(error)).toBe('unauthorized');
    expect(error.message).toBe('invalid publish token for this channel');
    expect(port.join).not.toHaveBeenCalled();

    const client = await t.join(CHANNEL, broadcaster);
    expect(port.publish.claim).toHaveBeenLastCalledWith(idOf(client), TOKEN, SESSION);
    expect(port.join).toHaveBeenCalledOnce();
  });

  it('refuses a second broadcaster of another page with conflict, and keeps the first', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const first = await t.join(CHANNEL, broadcaster);
    const error = await t.refusal(CHANNEL, { role: 'broadcaster', publishToken: TOKEN, session: 'another-page-99' });
    expect(connectErrorCode(error)).toBe('conflict');
    expect(first.connected).toBe(true);
  });

  it('disconnects the stale connection the claim names, and serves the new one as broadcaster', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const stale = await t.join(CHANNEL, broadcaster);
    const staleId = idOf(stale);
    const staleGone = new Promise<string>((resolve) => stale.once('disconnect', resolve));
    const fresh = await t.join(CHANNEL, broadcaster);
    expect(port.publish.claim).toHaveLastReturnedWith(staleId);
    expect(await staleGone).toBe('io server disconnect');
    expect(await fresh.emitWithAck('createProducerTransport', {})).toEqual({ ...transport, simulcast: true });
  });

  it('refuses with internal, without its text, when the claim fails by a fault', async () => {
    const channel = fakeChannel(CHANNEL);
    channel.port.publish.claim.mockImplementationOnce(() => {
      throw new Error('redis: READONLY You can’t write against a read only replica');
    });
    const t = await serve([channel.port]);
    const error = await t.refusal(CHANNEL, broadcaster);
    expect(connectErrorCode(error)).toBe('internal');
    expect(error.message).not.toMatch(/READONLY|redis/);
  });

  it('lets the claim go when the broadcaster’s connection closes before it is connected', async () => {
    const channel = fakeChannel(CHANNEL);
    const t = await serve([channel.port]);
    let found: (port: ChannelPort | null) => void = () => undefined;
    t.locator.find.mockImplementationOnce(() => new Promise((resolve) => (found = resolve)));
    const client = t.open(CHANNEL, broadcaster);
    await vi.waitFor(() => expect(t.locator.find).toHaveBeenCalledOnce(), soon);
    client.io.engine.close(); // gone while the server is still looking the channel up
    await new Promise((resolve) => setTimeout(resolve, 50));
    found(channel.port);
    await vi.waitFor(() => expect(channel.port.publish.left).toHaveBeenCalledOnce(), soon);
    const claimedBy = channel.port.publish.claim.mock.calls[0]?.[0];
    expect(channel.port.publish.left).toHaveBeenCalledWith(claimedBy, true);
    expect(channel.port.join).not.toHaveBeenCalled();
    // Another page may broadcast now: nothing holds the channel.
    const other = await t.join(CHANNEL, { role: 'broadcaster', publishToken: TOKEN, session: 'page-session-2' });
    expect(other.connected).toBe(true);
  });

  it('asks the locator once per connection, not per request', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const client = await t.join(CHANNEL, viewer);
    await client.emitWithAck('getRouterRtpCapabilities', {});
    await client.emitWithAck('createConsumerTransport', {});
    expect(t.locator.find).toHaveBeenCalledOnce();
  });
});

describe('serveChannels: joining and leaving', () => {
  it('joins a viewer to the port on connect, and on disconnect ends its real-time session and leaves', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const client = await t.join(CHANNEL, viewer);
    const id = idOf(client);
    expect(port.join).toHaveBeenCalledOnce();
    const joined = port.join.mock.calls[0]![0];
    expect(joined.id).toBe(id);
    expect(joined.data.role).toBe('viewer');
    expect(port.leave).not.toHaveBeenCalled();

    client.disconnect();
    await vi.waitFor(() => expect(port.leave).toHaveBeenCalledExactlyOnceWith(joined), soon);
    expect(port.realtime.leave).toHaveBeenCalledExactlyOnceWith(id);
    expect(port.publish.left).not.toHaveBeenCalled();
  });

  it('tells the port a broadcaster who disconnects on purpose left for good (connectionLost false)', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const client = await t.join(CHANNEL, broadcaster);
    const id = idOf(client);
    client.disconnect();
    await vi.waitFor(() => expect(port.publish.left).toHaveBeenCalledExactlyOnceWith(id, false), soon);
    expect(port.leave).toHaveBeenCalledOnce();
    expect(port.realtime.leave).not.toHaveBeenCalled();
  });

  it('tells the port a broadcaster whose transport dropped may come back (connectionLost true)', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const client = await t.join(CHANNEL, broadcaster);
    const id = idOf(client);
    client.io.engine.close();
    await vi.waitFor(() => expect(port.publish.left).toHaveBeenCalledExactlyOnceWith(id, true), soon);
    expect(port.leave).toHaveBeenCalledOnce();
  });

  it('serves each socket by the port of its own channel', async () => {
    const a = fakeChannel(CHANNEL);
    const b = fakeChannel(OTHER_CHANNEL);
    const t = await serve([a.port, b.port]);
    const onA = await t.join(CHANNEL, viewer);
    const onB = await t.join(OTHER_CHANNEL, viewer);
    await onA.emitWithAck('resumeConsumer', { consumerId: 'c-a' });
    await onB.emitWithAck('resumeConsumer', { consumerId: 'c-b' });
    expect(a.port.realtime.resume).toHaveBeenCalledExactlyOnceWith(idOf(onA), 'c-a');
    expect(b.port.realtime.resume).toHaveBeenCalledExactlyOnceWith(idOf(onB), 'c-b');
  });
});

describe('serveChannels: publishing', () => {
  it.each([
    ['createProducerTransport', {}],
    ['connectProducerTransport', { dtlsParameters }],
    ['produce', { kind: 'video', rtpParameters: h264 }],
    ['stopBroadcast', {}],
  ] as const)('answers a viewer’s %s with unauthorized and never reaches the publish side', async (event, payload) => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const client = await t.join(CHANNEL, viewer);
    // Reflect.apply: Socket.IO's emit typing cannot follow an event name that varies per case.
    const result: unknown = await Reflect.apply(client.emitWithAck, client, [event, payload]);
    expect(result).toEqual({ error: { code: 'unauthorized', message: 'only the channel’s broadcaster can publish' } });
    for (const method of [port.publish.claim, port.publish.createTransport, port.publish.connect, port.publish.produce, port.publish.stop]) {
      expect(method).not.toHaveBeenCalled();
    }
    expect(t.requestErrors).toEqual([event]);
  });

  it('passes kind, rtpParameters and frame size of produce through to the port and answers the producer id', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const client = await t.join(CHANNEL, broadcaster);
    expect(await client.emitWithAck('produce', { kind: 'video', rtpParameters: h264 })).toEqual({ producerId: 'producer-video' });
    expect(port.publish.produce).toHaveBeenCalledExactlyOnceWith('video', h264, undefined);
    const frameSize = { width: 1280, height: 720 };
    expect(await client.emitWithAck('produce', { kind: 'video', rtpParameters: h264, frameSize })).toEqual({ producerId: 'producer-video' });
    expect(port.publish.produce).toHaveBeenLastCalledWith('video', h264, frameSize);
  });

  it('answers the other publish steps from the port', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const client = await t.join(CHANNEL, broadcaster);
    expect(await client.emitWithAck('createProducerTransport', {})).toEqual({ ...transport, simulcast: true });
    expect(await client.emitWithAck('connectProducerTransport', { dtlsParameters })).toEqual({ connected: true });
    expect(port.publish.connect).toHaveBeenCalledExactlyOnceWith(dtlsParameters);
    expect(await client.emitWithAck('stopBroadcast', {})).toEqual({ stopped: true });
    expect(port.publish.stop).toHaveBeenCalledOnce();
  });

  it('answers a port failure that is not a refusal with internal, without its text', async () => {
    const { port } = fakeChannel(CHANNEL);
    port.publish.createTransport.mockRejectedValueOnce(new Error('Channel request handler with ID 7f3a not found [method:router.createWebRtcTransport]'));
    const t = await serve([port]);
    const client = await t.join(CHANNEL, broadcaster);
    const result = await client.emitWithAck('createProducerTransport', {});
    expect(result).toEqual({ error: { code: 'internal', message: expect.any(String) } });
    expect(JSON.stringify(result)).not.toMatch(/7f3a|router|handler/);
    expect(t.requestErrors).toEqual(['createProducerTransport']);
  });

  it('answers a refusal of the port with its code and message', async () => {
    const { port } = fakeChannel(CHANNEL);
    port.publish.produce.mockRejectedValueOnce(new ChannelError('conflict', 'this channel already has a video track'));
    const t = await serve([port]);
    const client = await t.join(CHANNEL, broadcaster);
    expect(await client.emitWithAck('produce', { kind: 'video', rtpParameters: h264 })).toEqual({
      error: { code: 'conflict', message: 'this channel already has a video track' },
    });
  });
});

describe('serveChannels: watching in real time', () => {
  it('answers the broadcaster’s createConsumerTransport with conflict, taking no real-time slot', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const client = await t.join(CHANNEL, broadcaster);
    expect(await client.emitWithAck('createConsumerTransport', {})).toMatchObject({ error: { code: 'conflict' } });
    expect(port.realtime.createTransport).not.toHaveBeenCalled();
    expect(t.limits.realtimePerAddress.size).toBe(0);
  });

  it('holds a per-address slot from createConsumerTransport until the port calls onClosed', async () => {
    const { port, onClosed } = fakeChannel(CHANNEL);
    const t = await serve([port], { REALTIME_VIEWERS_PER_ADDRESS: '1' });
    const first = await t.join(CHANNEL, viewer);
    const second = await t.join(CHANNEL, viewer);
    expect(await first.emitWithAck('createConsumerTransport', {})).toEqual(transport);
    expect(port.realtime.createTransport).toHaveBeenCalledExactlyOnceWith(idOf(first), expect.any(Function));

    expect(await second.emitWithAck('createConsumerTransport', {})).toMatchObject({ error: { code: 'full' } });
    expect(t.refused).toEqual(['realtime_per_address']);
    expect(port.realtime.createTransport).toHaveBeenCalledOnce();

    onClosed.get(idOf(first))!();
    expect(await second.emitWithAck('createConsumerTransport', {})).toEqual(transport);
    expect(port.realtime.createTransport).toHaveBeenLastCalledWith(idOf(second), expect.any(Function));
  });

  it('gives the slot back when the port refuses the session', async () => {
    const { port } = fakeChannel(CHANNEL);
    port.realtime.createTransport.mockRejectedValueOnce(new ChannelError('conflict', 'the stream has no tracks yet'));
    const t = await serve([port], { REALTIME_VIEWERS_PER_ADDRESS: '1' });
    const client = await t.join(CHANNEL, viewer);
    expect(await client.emitWithAck('createConsumerTransport', {})).toEqual({ error: { code: 'conflict', message: 'the stream has no tracks yet' } });
    expect(t.limits.realtimePerAddress.size).toBe(0);
    expect(await client.emitWithAck('createConsumerTransport', {})).toEqual(transport);
  });

  it('passes the viewer’s id and payloads through the real-time steps', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const client = await t.join(CHANNEL, viewer);
    const rtpCapabilities = { codecs: [{ mimeType: 'video/VP8', kind: 'video' as const, clockRate: 90000 }] };
    expect(await client.emitWithAck('getRouterRtpCapabilities', {})).toEqual({ rtpCapabilities: { codecs: [], headerExtensions: [] } });
    expect(await client.emitWithAck('connectConsumerTransport', { dtlsParameters })).toEqual({ connected: true });
    expect(port.realtime.connect).toHaveBeenCalledExactlyOnceWith(idOf(client), dtlsParameters);
    expect(await client.emitWithAck('consume', { rtpCapabilities })).toEqual({ consumers: [consumer], layers });
    expect(port.realtime.consume).toHaveBeenCalledExactlyOnceWith(idOf(client), rtpCapabilities);
    expect(await client.emitWithAck('resumeConsumer', { consumerId: 'consumer-1' })).toEqual({ resumed: true });
    expect(port.realtime.resume).toHaveBeenCalledExactlyOnceWith(idOf(client), 'consumer-1');
    expect(await client.emitWithAck('setQuality', { layer: 0 })).toEqual({ layer: 0 });
    expect(await client.emitWithAck('setQuality', { layer: 'auto' })).toEqual({ layer: 'auto' });
    expect(port.realtime.setQuality).toHaveBeenLastCalledWith(idOf(client), 'auto');
    // A layer that is no number, or beyond any simulcast, is refused before the channel sees it.
    for (const layer of ['high', -1, 8, 1.5]) {
      const result: unknown = await Reflect.apply(client.emitWithAck, client, ['setQuality', { layer }]);
      expect(result).toMatchObject({ error: { code: 'bad-request' } });
    }
    expect(port.realtime.setQuality).toHaveBeenCalledTimes(2);
    expect(await client.emitWithAck('stopConsuming', {})).toEqual({ stopped: true });
    expect(port.realtime.leave).toHaveBeenCalledExactlyOnceWith(idOf(client));
  });
});

describe('serveChannels: the channel’s owner (encoder panel)', () => {
  it('holds the channel while the owner is connected, and releases it on disconnect, without counting a viewer', async () => {
    const { port, holders } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const client = await t.join(CHANNEL, owner);
    const id = idOf(client);
    expect(port.owner.hold).toHaveBeenCalledExactlyOnceWith(id, TOKEN);
    expect([...holders]).toEqual([id]);
    expect(port.join).toHaveBeenCalledOnce();
    expect(port.join.mock.calls[0]![0].data.role).toBe('owner');
    expect(port.publish.claim).not.toHaveBeenCalled();

    client.disconnect();
    await vi.waitFor(() => expect(port.owner.release).toHaveBeenCalledExactlyOnceWith(id), soon);
    expect(holders.size).toBe(0);
    expect(port.publish.left).not.toHaveBeenCalled();
    expect(port.realtime.leave).not.toHaveBeenCalled();
  });

  it('refuses an owner with a wrong token with unauthorized, holding nothing', async () => {
    const { port, holders } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const error = await t.refusal(CHANNEL, { role: 'owner', publishToken: 'wrong' });
    expect(connectErrorCode(error)).toBe('unauthorized');
    expect(holders.size).toBe(0);
    expect(port.join).not.toHaveBeenCalled();
  });

  it('lets the hold go when the owner’s connection closes before it is connected', async () => {
    const channel = fakeChannel(CHANNEL);
    const t = await serve([channel.port]);
    let found: (port: ChannelPort | null) => void = () => undefined;
    t.locator.find.mockImplementationOnce(() => new Promise((resolve) => (found = resolve)));
    const client = t.open(CHANNEL, owner);
    await vi.waitFor(() => expect(t.locator.find).toHaveBeenCalledOnce(), soon);
    client.io.engine.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    found(channel.port);
    await vi.waitFor(() => expect(channel.port.owner.release).toHaveBeenCalledOnce(), soon);
    expect(channel.holders.size).toBe(0);
    expect(channel.port.join).not.toHaveBeenCalled();
  });

  it('neither publishes nor watches in real time', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port], { REALTIME_VIEWERS_PER_ADDRESS: '1' });
    const client = await t.join(CHANNEL, owner);
    expect(await client.emitWithAck('createProducerTransport', {})).toMatchObject({ error: { code: 'unauthorized' } });
    expect(await client.emitWithAck('createConsumerTransport', {})).toMatchObject({ error: { code: 'conflict' } });
    expect(port.publish.createTransport).not.toHaveBeenCalled();
    expect(port.realtime.createTransport).not.toHaveBeenCalled();
    expect(t.limits.realtimePerAddress.size).toBe(0);
  });

  it.each([
    ['an owner', owner],
    ['a viewer', viewer],
    ['the broadcaster', broadcaster],
  ] as const)('rotates the stream key for %s that sends the publish token, and refuses a wrong token with unauthorized', async (_, auth) => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const client = await t.join(CHANNEL, auth);
    expect(await client.emitWithAck('rotateStreamKey', { publishToken: TOKEN })).toEqual({ streamKey: 'stream-key-1' });
    expect(await client.emitWithAck('rotateStreamKey', { publishToken: 'wrong' })).toEqual({
      error: { code: 'unauthorized', message: 'invalid publish token for this channel' },
    });
    expect(port.owner.rotateStreamKey).toHaveBeenCalledTimes(2);
    expect(t.requestErrors).toEqual(['rotateStreamKey']);
  });

  it('answers a rotation without a token with bad-request, never reaching the port', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const client = await t.join(CHANNEL, viewer);
    for (const payload of [{}, { publishToken: '' }, { publishToken: TOKEN, extra: 1 }]) {
      // Reflect.apply: these payloads break the protocol's type on purpose.
      const result: unknown = await Reflect.apply(client.emitWithAck, client, ['rotateStreamKey', payload]);
      expect(result).toMatchObject({ error: { code: 'bad-request' } });
    }
    expect(port.owner.rotateStreamKey).not.toHaveBeenCalled();
  });

  it('names the stream for whoever holds the publish token; a wrong token, an overlong title or control characters get an error, never the port', async () => {
    const { port } = fakeChannel(CHANNEL);
    const t = await serve([port]);
    const client = await t.join(CHANNEL, broadcaster);
    // Surrounding spaces go; a description may have line breaks (and defaults to none).
    expect(await client.emitWithAck('setDetails', { publishToken: TOKEN, title: '  Morning <b>show</b> ', description: 'line one\nline two' })).toEqual({
      title: 'Morning <b>show</b>',
      description: 'line one\nline two',
    });
    expect(port.owner.setDetails).toHaveBeenCalledWith(TOKEN, { title: 'Morning <b>show</b>', description: 'line one\nline two' });
    expect(await client.emitWithAck('setDetails', { publishToken: 'wrong', title: 'x', description: '' })).toMatchObject({ error: { code: 'unauthorized' } });
    for (const payload of [
      { publishToken: TOKEN, title: 'x'.repeat(101) },
      { publishToken: TOKEN, title: 'bell\u0007' },
      { publishToken: TOKEN, title: 'two\nlines' },
      { publishToken: TOKEN, title: 'ok', description: 'esc\u001b[31m' },
      { publishToken: TOKEN, title: 'ok', description: 'x'.repeat(501) },
      { title: 'no token' },
    ]) {
      // Reflect.apply: these payloads break the protocol's type on purpose.
      const result: unknown = await Reflect.apply(client.emitWithAck, client, ['setDetails', payload]);
      expect(result).toMatchObject({ error: { code: 'bad-request' } });
    }
    expect(port.owner.setDetails).toHaveBeenCalledTimes(2);
  });

  it('answers the port’s not-found (the channel ended) as it is', async () => {
    const { port } = fakeChannel(CHANNEL);
    port.owner.rotateStreamKey.mockRejectedValueOnce(new ChannelError('not-found', 'this channel has ended'));
    const t = await serve([port]);
    const client = await t.join(CHANNEL, owner);
    expect(await client.emitWithAck('rotateStreamKey', { publishToken: TOKEN })).toEqual({ error: { code: 'not-found', message: 'this channel has ended' } });
  });
});
