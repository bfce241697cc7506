import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import {
  channelNamespace,
  hlsPlaylistPath,
  type Audience,
  type ChannelState,
  type DirectoryEntry,
} from '../../protocol/index.js';
import { startInstance } from './helpers/instance.js';
import { eventually } from './helpers/processes.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { startFedChannel, startTestApp } from './helpers/test-app.js';
import { PipeOrigin } from '../src/cluster/pipe-origin.js';
import type { Channel } from '../src/channel/channel.js';

/** How many instances the channel's tracks are piped to (its relay-pipes reader, attached on demand). */
const pipesOf = (channel: Channel): number => {
  const reader = channel.findReader('relay-pipes');
  return reader instanceof PipeOrigin ? reader.count : 0;
};

type TestApp = Awaited<ReturnType<typeof startTestApp>>;
const TTL_MS = 1500;

async function routersOf(app: TestApp): Promise<string[]> {
  return (await Promise.all(app.pool.workers.map((w) => w.dump()))).flatMap((d) => d.routerIds);
}

/** A viewer socket that remembers the last of everything it was told. */
function viewer(baseUrl: string, channelId: string) {
  const socket: Socket = connect(`${baseUrl}${channelNamespace(channelId)}`, { auth: { role: 'viewer' }, transports: ['websocket'], reconnection: false });
  const seen = { state: null as ChannelState | null, audience: null as Audience | null, ended: null as string | null, endedAt: 0 };
  socket.on('channelState', (s: ChannelState) => (seen.state = s));
  socket.on('viewerCount', (a: Audience) => (seen.audience = a));
  socket.on('streamEnded', ({ reason }: { reason: string }) => {
    seen.ended = reason;
    seen.endedAt = Date.now();
  });
  return { socket, seen };
}

/** The channels B lists, or null while it answers with an error (Redis away). */
async function directoryOf(baseUrl: string): Promise<DirectoryEntry[] | null> {
  const lobby = connect(baseUrl, { transports: ['websocket'], reconnection: false });
  try {
    const result = (await lobby.timeout(5000).emitWithAck('watchDirectory', {})) as { channels: DirectoryEntry[] } | { error: { message: string } };
    return 'channels' in result ? result.channels : null;
  } finally {
    lobby.disconnect();
  }
}

describe('several instances sharing one Redis', () => {
  let redis: TestRedis;
  let a: TestApp;
  let b: TestApp;
  const sockets: Socket[] = [];
  const watch = (app: TestApp, channelId: string) => {
    const v = viewer(app.url, channelId);
    sockets.push(v.socket);
    return v;
  };

  beforeAll(async () => {
    redis = await startRedis();
    const env = { REDIS_URL: redis.url, CLUSTER_CHANNEL_TTL_MS: String(TTL_MS) };
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
  });
  afterAll(async () => {
    sockets.forEach((s) => s.disconnect());
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it('lists, counts and serves a channel of instance A to viewers on instance B', async () => {
    const fed = await startFedChannel(a);
    const id = fed.channel.id;
    try {
      await eventually(async () => (await directoryOf(b.url))?.some((c) => c.channelId === id), 'B’s directory to list A’s channel');

      const onB1 = watch(b, id);
      const onB2 = watch(b, id);
      const onA = watch(a, id);
      const all = [onB1, onB2, onA];
      // Everyone sees the same state, pointing at A for media, and the same total.
      await eventually(() => all.every((v) => v.seen.state?.hls && v.seen.audience?.viewers === 3), 'three viewers counted everywhere');
      for (const v of all) expect(v.seen.state?.origin).toBe(a.url);
      await eventually(async () => (await directoryOf(b.url))?.find((c) => c.channelId === id)?.viewers === 3, 'B’s directory to show 3 viewers');
      // The broadcaster's title reaches viewers and the directory on B; its live picture is A's.
      fed.channel.setDetails(fed.publishToken, { title: 'Morning show', description: 'from A' });
      await eventually(() => all.every((v) => v.seen.state?.title === 'Morning show' && v.seen.state.description === 'from A'), 'the title on every viewer');
      await eventually(async () => (await directoryOf(b.url))?.find((c) => c.channelId === id)?.title === 'Morning show', 'B’s directory to show the title');
      await eventually(() => fed.channel.thumbnail !== null, 'A’s first picture', 15_000);
      const picture = await fetch(`${b.url}/thumbnails/${id}.jpg`, { redirect: 'manual' });
      expect(picture.status).toBe(307);
      expect(picture.headers.get('location')).toBe(`${a.url}/thumbnails/${id}.jpg`);
      // Malformed messages from another instance (another version, a bug) are ignored, not fatal.
      // @ts-expect-error -- a malformed message on purpose: an old two-argument form
      a.io.of('/').serverSideEmit('channelEvent', id, { event: 'viewerCount', args: 5 });
      // @ts-expect-error -- a malformed message on purpose: wrong args
      a.io.of('/').serverSideEmit('channelEvent', { channelId: id, message: { event: 'streamEnded', args: [] } });
      // @ts-expect-error -- a malformed message on purpose: nothing
      a.io.of('/').serverSideEmit('channelEvent', null);
      b.io.of('/').serverSideEmit('audience', { channelId: id, instanceId: 'rogue', viewers: -5, realtime: 0 });
      // @ts-expect-error -- a malformed message on purpose: not an object
      b.io.of('/').serverSideEmit('audience', 'nonsense');
      await new Promise((r) => setTimeout(r, 300));
      for (const v of all) {
        expect(v.socket.connected).toBe(true);
        expect(v.seen.ended).toBeNull();
        expect(v.seen.audience?.viewers).toBe(3);
      }

      // Each instance's metrics count the viewers connected to it.
      expect(await (await fetch(`${b.url}/metrics`)).text()).toMatch(/^livecast_viewers\{mode="hls"\} 2$/m);
      expect(await (await fetch(`${a.url}/metrics`)).text()).toMatch(/^livecast_viewers\{mode="hls"\} 1$/m);

      // HLS through B: a redirect to A, readable from other origins.
      const viaB = await fetch(`${b.url}${hlsPlaylistPath(id)}?_HLS_msn=1`, { redirect: 'manual' });
      expect(viaB.status).toBe(307);
      expect(viaB.headers.get('location')).toBe(`${a.url}${hlsPlaylistPath(id)}?_HLS_msn=1`);
      expect(viaB.headers.get('access-control-allow-origin')).toBe('*');
      const playlist = await fetch(`${b.url}${hlsPlaylistPath(id)}`);
      expect(playlist.status).toBe(200);
      expect(playlist.headers.get('access-control-allow-origin')).toBe('*');
      const body = await playlist.text();
      const segment = body.split('\n').find((l) => l.endsWith('.ts') || l.endsWith('.m4s'));
      expect(segment).toBeTruthy();
      const media = await fetch(new URL(segment!, playlist.url));
      expect(media.status).toBe(200);
      expect((await media.arrayBuffer()).byteLength).toBeGreaterThan(1000);
      expect((await fetch(`${b.url}/hls/AAAAAAAAAAAAAAAAAAAAAA/index.m3u8`)).status).toBe(404);

      // Real time through B: B relays the channel's tracks from A's router into a router of its own.
      const ask = async <T>(event: string, payload: unknown) => {
        const result = (await onB1.socket.timeout(10_000).emitWithAck(event, payload)) as T & { error?: string };
        expect(result.error).toBeUndefined();
        return result;
      };
      const { rtpCapabilities } = await ask<{ rtpCapabilities: unknown }>('getRouterRtpCapabilities', {});
      const transport = await ask<{ id: string; iceCandidates: unknown[] }>('createConsumerTransport', {});
      expect(transport.iceCandidates.length).toBeGreaterThan(0);
      const { consumers } = await ask<{ consumers: { kind: string }[] }>('consume', { rtpCapabilities });
      expect(consumers.map((c) => c.kind).sort()).toEqual(['audio', 'video']);
      expect(pipesOf(fed.channel)).toBe(1);
      expect(await routersOf(b)).toHaveLength(1);
      // Counted as a real-time viewer of the channel, everywhere.
      await eventually(() => all.every((v) => v.seen.audience?.realtime === 1), 'the relayed real-time viewer counted everywhere');
      expect(fed.channel.realtime.count).toBe(0);
      // Only the broadcaster, on A, publishes.
      expect(((await onB1.socket.timeout(5000).emitWithAck('createProducerTransport', {})) as { error?: { code: string; message: string } }).error).toEqual({ code: 'unauthorized', message: 'only the channel’s broadcaster can publish' });
      const intruder = connect(`${b.url}${channelNamespace(id)}`, {
        auth: { role: 'broadcaster', publishToken: 'x'.repeat(32) },
        transports: ['websocket'],
        reconnection: false,
      });
      const refused = await new Promise<Error>((resolve) => intruder.once('connect_error', resolve));
      expect(refused.message).toContain('carried by another server');

      // A viewer leaving B is uncounted everywhere.
      onB2.socket.disconnect();
      await eventually(() => [onB1, onA].every((v) => v.seen.audience?.viewers === 2), 'two viewers counted everywhere');

      await fed.stop();
      await eventually(() => onB1.seen.ended && onA.seen.ended, 'the end of the stream to reach viewers on both instances');
      expect(onB1.seen.ended).toBe('test over');
      await eventually(async () => (await routersOf(b)).length === 0, 'B to close its relay of the channel');
      await eventually(async () => (await directoryOf(b.url))?.every((c) => c.channelId !== id), 'the channel to leave B’s directory');
    } finally {
      await fed.stop();
    }
  });

  it('refuses the owner’s requests for A’s channel on B with conflict (the key stays), and serves them on A', async () => {
    const { channel, publishToken, streamKey } = await a.registry.create();
    try {
      const ownerOnB = await eventually(async () => {
        const error = await new Promise<Error | null>((resolve) => {
          const socket = connect(`${b.url}${channelNamespace(channel.id)}`, { auth: { role: 'owner', publishToken }, transports: ['websocket'], reconnection: false });
          sockets.push(socket);
          socket.once('connect', () => resolve(null));
          socket.once('connect_error', resolve);
        });
        // not-found until B has read the channel's record from the directory.
        return error && (error as Error & { data?: { code?: string } }).data?.code !== 'not-found' ? error : null;
      }, 'B to know A’s channel');
      expect((ownerOnB as Error & { data?: unknown }).data).toEqual({ code: 'conflict' });
      expect(ownerOnB.message).toContain(a.url);

      const onB = watch(b, channel.id);
      await eventually(() => onB.seen.state, 'B’s viewer to be told the state');
      expect(await onB.socket.timeout(5000).emitWithAck('rotateStreamKey', { publishToken })).toEqual({
        error: { code: 'conflict', message: `this channel is carried by another server (${a.url}); manage it there` },
      });
      expect(channel.isStreamKey(streamKey)).toBe(true);

      const onA = watch(a, channel.id);
      await eventually(() => onA.seen.state, 'A’s viewer to be told the state');
      const rotated = (await onA.socket.timeout(5000).emitWithAck('rotateStreamKey', { publishToken })) as { streamKey: string };
      expect(channel.isStreamKey(rotated.streamKey)).toBe(true);
      expect(channel.isStreamKey(streamKey)).toBe(false);
    } finally {
      await channel.end('test over');
    }
  });

  it('ends a channel for viewers on B within the directory expiry when its instance is killed', async () => {
    const owner = await startInstance({ REDIS_URL: redis.url, CLUSTER_CHANNEL_TTL_MS: String(TTL_MS), MEDIASOUP_WORKERS: '1', WEB_BUILD_DIR: '/nonexistent' });
    const origin = owner.url;
    try {
      const lobby = connect(origin, { transports: ['websocket'], reconnection: false });
      const created = (await lobby.timeout(5000).emitWithAck('createChannel', {})) as { channelId: string; origin: string };
      lobby.disconnect();
      expect(created.origin).toBe(origin);

      const onB = watch(b, created.channelId);
      await eventually(() => onB.seen.state?.phase === 'waiting', 'B’s viewer to see the channel');
      expect(onB.seen.state?.origin).toBe(origin);

      const killedAt = Date.now();
      owner.crash();
      await eventually(() => onB.seen.ended, 'B’s viewer to be told the stream ended', TTL_MS * 3);
      const endedAfterMs = onB.seen.endedAt - killedAt;
      console.log(`viewers on B told the stream ended ${endedAfterMs} ms after its instance was killed (TTL ${TTL_MS} ms)`);
      // The record expires at most TTL after its last refresh; B checks every TTL/3.
      expect(endedAfterMs).toBeLessThanOrEqual(TTL_MS + TTL_MS / 3 + 500);
      expect(onB.seen.ended).toContain('stopped responding');
      expect((await fetch(`${b.url}${hlsPlaylistPath(created.channelId)}`, { redirect: 'manual' })).status).toBe(404);
      await eventually(() => !onB.socket.connected, 'B to disconnect the viewer');
    } finally {
      await owner.stop();
    }
  });

  it('closes the owner’s pipe to a relay whose instance died, within the expiry', async () => {
    const fed = await startFedChannel(a);
    const relay = await startInstance({ REDIS_URL: redis.url, CLUSTER_CHANNEL_TTL_MS: String(TTL_MS), MEDIASOUP_WORKERS: '1', WEB_BUILD_DIR: '/nonexistent' });
    try {
      const onRelay = viewer(relay.url, fed.channel.id);
      sockets.push(onRelay.socket);
      await eventually(() => onRelay.seen.state?.hls, 'the viewer on the relay instance to see the channel');
      const created = (await onRelay.socket.timeout(10_000).emitWithAck('createConsumerTransport', {})) as { id?: string; error?: string };
      expect(created.error).toBeUndefined();
      expect(pipesOf(fed.channel)).toBe(1);

      relay.crash();
      const crashedAt = Date.now();
      await eventually(() => pipesOf(fed.channel) === 0, 'A to close the pipe to the dead instance', TTL_MS * 3);
      console.log(`pipe to a killed relay closed after ${Date.now() - crashedAt} ms (TTL ${TTL_MS} ms)`);
      expect(fed.channel.ended).toBe(false);
    } finally {
      await relay.stop();
      await fed.stop();
    }
  });

  it('rides out a Redis outage longer than the expiry: nothing crashes, viewers stay, the cluster heals', async () => {
    const fed = await startFedChannel(a);
    const id = fed.channel.id;
    try {
      const onB = watch(b, id);
      await eventually(() => onB.seen.state?.hls && onB.seen.audience?.viewers === 1, 'B’s viewer to see the live channel');
      // A real-time relay on B, whose pipe must survive the outage (no Redis says nothing of B).
      const relayed = (await onB.socket.timeout(10_000).emitWithAck('createConsumerTransport', {})) as { error?: string };
      expect(relayed.error).toBeUndefined();
      expect(pipesOf(fed.channel)).toBe(1);
      const port = Number(new URL(redis.url).port);
      await redis.stop();
      await new Promise((r) => setTimeout(r, TTL_MS * 2));

      // Nobody was told the stream ended just because Redis could not answer.
      expect(onB.seen.ended).toBeNull();
      expect(onB.socket.connected).toBe(true);
      expect((await fetch(`${a.url}${hlsPlaylistPath(id)}`)).status).toBe(200);
      expect((await fetch(`${b.url}${hlsPlaylistPath(id)}`, { redirect: 'manual' })).status).toBe(503);
      const late = connect(`${b.url}${channelNamespace(id)}`, { auth: { role: 'viewer' }, transports: ['websocket'], reconnection: false });
      const refused = await new Promise<Error>((resolve) => late.once('connect_error', resolve));
      expect(refused.message).toContain('directory is unavailable');

      redis = await startRedis(port);
      await eventually(async () => (await directoryOf(b.url))?.some((c) => c.channelId === id), 'A’s channel back in B’s directory', 10_000);
      const onB2 = watch(b, id);
      await eventually(() => [onB, onB2].every((v) => v.seen.audience?.viewers === 2), 'both viewers on B counted again', 10_000);
      await new Promise((r) => setTimeout(r, TTL_MS * 1.5)); // past the settling period after the outage
      expect(pipesOf(fed.channel)).toBe(1);
      await fed.stop();
      await eventually(() => onB.seen.ended && onB2.seen.ended, 'the end to reach B’s viewers after the outage');
    } finally {
      await fed.stop();
    }
  });
});

describe('a server without REDIS_URL', () => {
  it('builds nothing of the cluster: no Redis adapter, no cluster messages, no relay pipes, no origin', async () => {
    const alone = await startTestApp();
    const fed = await startFedChannel(alone);
    try {
      const lobby = alone.io.of('/');
      for (const event of ['pipeOpen', 'audience', 'channelEvent', 'keyFrame', 'pipeClose', 'directoryChanged'] as const) {
        expect(lobby.listeners(event), event).toHaveLength(0);
      }
      expect(lobby.adapter.constructor.name).toBe('Adapter'); // Socket.IO's in-memory default
      expect(fed.channel.findReader('relay-pipes')).toBeUndefined();
      expect(fed.channel.findReader('realtime')).toBeDefined();
      expect(fed.channel.findReader('hls')).toBeDefined();
      const viewer = connect(`${alone.url}${channelNamespace(fed.channel.id)}`, { auth: { role: 'viewer' }, transports: ['websocket'], forceNew: true, reconnection: false });
      const state = await new Promise<{ origin: string | null }>((resolve) => viewer.once('channelState', resolve));
      expect(state.origin).toBeNull();
      viewer.close();
    } finally {
      await fed.stop();
      await alone.stop();
    }
  });
});
