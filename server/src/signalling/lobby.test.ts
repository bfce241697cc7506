/**
 * serveLobby against a fake channel factory and directory: creating channels (publish key,
 * per-address and per-minute limits, a slot held until the channel ends) and the live directory
 * (snapshot on watch, coalesced pushes), over a real Socket.IO server, without mediasoup.
 */
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DirectoryEntry, LobbyClientToServer, LobbyServerToClient } from '../../../protocol/index.js';
import { loadConfig } from '../config.js';
import { ClientAddresses } from '../http/client-address.js';
import { ClientLimits } from '../limits/client-limits.js';
import { createLogger } from '../logger.js';
import { serveLobby, type LobbyOptions } from './lobby.js';
import type { ChannelFactory, DirectorySource } from './ports.js';
import { createSocketServer } from './signalling-server.js';

type LobbyClient = ClientSocket<LobbyServerToClient, LobbyClientToServer>;

/** Channels as the lobby sees them: an id and an 'ended' event the test fires. */
function fakeFactory() {
  const made: EventEmitter<{ ended: [] }>[] = [];
  const factory = {
    create: vi.fn<ChannelFactory['create']>(async () => {
      const channel = Object.assign(new EventEmitter<{ ended: [] }>(), { id: `channel-${made.length + 1}`, ingestPorts: { rtmp: 1935, rtmps: null, srt: null } });
      made.push(channel);
      return { channel, publishToken: `token-${made.length}`, streamKey: `key-${made.length}` };
    }),
  } satisfies ChannelFactory;
  return { factory, made };
}

function fakeDirectory(entries: DirectoryEntry[] = []) {
  const listeners: (() => void)[] = [];
  const directory = {
    live: vi.fn<DirectorySource['live']>(async () => entries),
    onChange: (listener: () => void) => void listeners.push(listener),
  } satisfies DirectorySource;
  return { directory, entries, changed: () => listeners.forEach((l) => l()) };
}

let stop: (() => Promise<void>) | null = null;
afterEach(async () => {
  await stop?.();
  stop = null;
});

async function serve(options: Partial<LobbyOptions> & Pick<LobbyOptions, 'channels' | 'directory'>, env: NodeJS.ProcessEnv = {}) {
  const http = createServer();
  const io = createSocketServer(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const clients: LobbyClient[] = [];
  stop = async () => {
    clients.forEach((c) => c.disconnect());
    await new Promise<void>((resolve) => io.close(() => resolve()));
  };
  const config = loadConfig(env);
  serveLobby(io.of('/'), {
    origin: null,
    createPerMinute: config.channels.createPerMinute,
    directoryIntervalMs: 100,
    addresses: new ClientAddresses([]),
    limits: new ClientLimits(config.limits, () => undefined),
    logger: createLogger('silent'),
    ...options,
  });
  const open = (): Promise<LobbyClient> =>
    new Promise((resolve, reject) => {
      const client: LobbyClient = connect(`http://127.0.0.1:${address.port}/`, { transports: ['websocket'], forceNew: true, reconnection: false });
      clients.push(client);
      client.once('connect', () => resolve(client));
      client.once('connect_error', reject);
    });
  return { open };
}

const create = (client: LobbyClient, payload: { publishKey?: string } = {}) => client.timeout(5000).emitWithAck('createChannel', payload);

describe('serveLobby: creating channels', () => {
  it('creates a channel and hands its secrets to the creating page only', async () => {
    const { factory } = fakeFactory();
    const t = await serve({ channels: factory, directory: fakeDirectory().directory });
    const client = await t.open();
    expect(await create(client)).toEqual({ channelId: 'channel-1', publishToken: 'token-1', streamKey: 'key-1', origin: null, ingest: { rtmpPort: 1935, rtmpsPort: null, srtPort: null } });
  });

  it('requires the publish key when one is configured, refusing with unauthorized', async () => {
    const { factory } = fakeFactory();
    const t = await serve({ channels: factory, directory: fakeDirectory().directory, publishKey: 'the-server-key' });
    const client = await t.open();
    expect(await create(client)).toEqual({ error: { code: 'unauthorized', message: 'this server requires a publish key to go live' } });
    expect(await create(client, { publishKey: 'wrong-key-value' })).toEqual({ error: { code: 'unauthorized', message: 'wrong publish key' } });
    expect(factory.create).not.toHaveBeenCalled();
    expect(await create(client, { publishKey: 'the-server-key' })).toMatchObject({ channelId: 'channel-1' });
  });

  it('holds a per-address slot until the channel ends', async () => {
    const { factory, made } = fakeFactory();
    const t = await serve({ channels: factory, directory: fakeDirectory().directory }, { MAX_CHANNELS_PER_ADDRESS: '2' });
    const client = await t.open();
    await create(client);
    await create(client);
    expect(await create(client)).toEqual({ error: { code: 'full', message: 'your address already has 2 live channels; end one before going live again' } });
    made[0]!.emit('ended');
    expect(await create(client)).toMatchObject({ channelId: 'channel-3' });
  });

  it('gives the slot back when creating fails, and reports the failure as internal', async () => {
    const { factory } = fakeFactory();
    factory.create.mockRejectedValueOnce(new Error('worker 3 crashed: EPIPE'));
    const t = await serve({ channels: factory, directory: fakeDirectory().directory }, { MAX_CHANNELS_PER_ADDRESS: '1' });
    const client = await t.open();
    const failed = await create(client);
    expect(failed).toMatchObject({ error: { code: 'internal' } });
    expect(JSON.stringify(failed)).not.toMatch(/EPIPE|worker 3/);
    expect(await create(client)).toMatchObject({ channelId: 'channel-1' });
  });

  it('limits creations per minute per address', async () => {
    const { factory, made } = fakeFactory();
    const t = await serve({ channels: factory, directory: fakeDirectory().directory }, { CHANNEL_CREATE_PER_MINUTE: '2' });
    const client = await t.open();
    for (let i = 0; i < 2; i++) {
      await create(client);
      made.at(-1)!.emit('ended');
    }
    expect(await create(client)).toEqual({ error: { code: 'full', message: 'too many channels created from your address; try again in a minute' } });
  });
});

describe('serveLobby: the live directory', () => {
  it('answers watchDirectory with the list sorted by audience, then pushes changes', async () => {
    const d = fakeDirectory([
      { channelId: 'quiet', title: '', viewers: 1, liveSince: 1 },
      { channelId: 'busy', title: '', viewers: 9, liveSince: 2 },
    ]);
    const t = await serve({ channels: fakeFactory().factory, directory: d.directory });
    const client = await t.open();
    const pushes: DirectoryEntry[][] = [];
    client.on('directory', ({ channels }) => pushes.push(channels));
    const first = await client.timeout(5000).emitWithAck('watchDirectory', {});
    expect(first).toEqual({ channels: [d.entries[1], d.entries[0]] });
    d.entries.push({ channelId: 'new', title: '', viewers: 3, liveSince: 3 });
    d.changed();
    await vi.waitFor(() => expect(pushes.at(-1)?.map((c) => c.channelId)).toEqual(['busy', 'new', 'quiet']), { timeout: 2000 });
  });

  it('coalesces a burst of changes into few pushes, and pushes nothing when nothing changed', async () => {
    const d = fakeDirectory([{ channelId: 'a', title: '', viewers: 1, liveSince: 1 }]);
    const t = await serve({ channels: fakeFactory().factory, directory: d.directory });
    const client = await t.open();
    const pushes: DirectoryEntry[][] = [];
    client.on('directory', ({ channels }) => pushes.push(channels));
    await client.timeout(5000).emitWithAck('watchDirectory', {});
    for (let i = 2; i <= 30; i++) {
      d.entries[0] = { channelId: 'a', title: '', viewers: i, liveSince: 1 };
      d.changed();
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(pushes.length).toBeGreaterThanOrEqual(1);
    expect(pushes.length).toBeLessThanOrEqual(3);
    expect(pushes.at(-1)).toEqual([{ channelId: 'a', title: '', viewers: 30, liveSince: 1 }]);
    const before = pushes.length;
    d.changed();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pushes.length).toBe(before);
  });

  it('keeps the watcher subscribed when the directory cannot answer, and says so', async () => {
    const d = fakeDirectory([{ channelId: 'a', title: '', viewers: 1, liveSince: 1 }]);
    const t = await serve({ channels: fakeFactory().factory, directory: d.directory });
    const client = await t.open();
    const pushes: DirectoryEntry[][] = [];
    client.on('directory', ({ channels }) => pushes.push(channels));
    d.directory.live.mockRejectedValueOnce(new Error('Redis is down'));
    expect(await client.timeout(5000).emitWithAck('watchDirectory', {})).toMatchObject({ error: { code: 'internal' } });
    d.changed();
    await vi.waitFor(() => expect(pushes.at(-1)).toEqual(d.entries), { timeout: 2000 });
  });
});
