import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import {
  CHANNEL_NAMESPACE_PATTERN,
  MAX_MESSAGE_BYTES,
  type Audience,
  type DirectoryEntry,
  type LobbyClientToServer,
  type LobbyServerToClient,
} from '../../../protocol/index.js';
import type { Cluster, ClusterEvents } from '../cluster/cluster.js';
import type { ClientAddresses } from '../http/client-address.js';
import type { ClientLimits } from '../limits/client-limits.js';
import type { Logger } from '../logger.js';
import type { ChannelRegistry } from '../channel/channel-registry.js';
import { EdgeChannels, type EdgeChannelsOptions } from '../cluster/relay.js';
import { Audiences } from './audiences.js';
import type { SignallingServer } from './socket-types.js';
import { serveChannels } from './channel-namespace.js';
import { ClusterLink } from '../cluster/cluster-link.js';
import { serveLobby } from './lobby.js';
import { RemoteChannels } from '../cluster/remote-channels.js';

export interface SignallingOptions {
  /** Viewer-count and directory updates are coalesced to at most one per interval. */
  presenceIntervalMs?: number;
  publishKey?: string;
  createPerMinute: number;
  /** Told about every request answered with an error (metrics). */
  onRequestError?: (event: string) => void;
  onChannelCreated?: () => void;
  addresses: ClientAddresses;
  limits: ClientLimits;
  /** Several instances: shared directory and events through Redis, relays for real-time viewers. */
  cluster?: { cluster: Cluster; origin: () => string; relays: Omit<EdgeChannelsOptions, 'requestPipe' | 'requestKeyFrame' | 'closePipe' | 'onRealtimeChange'> };
}

export interface Signalling {
  io: SignallingServer;
  /** Viewers connected to this instance (of its own channels or, in a cluster, of others'). */
  localViewers(): Audience;
  /** Stops cluster duties (after the channels ended, before io.close). */
  stop(): Promise<void>;
}

/**
 * Socket.IO on the HTTP server: the lobby namespace `/` (create channels, live directory) and one
 * namespace per channel, `/channel/<channelId>`, created on first connection and dropped when empty.
 * In a cluster the Redis adapter carries events between instances and any instance serves the
 * viewers of any channel.
 */
export function attachSignalling(httpServer: HttpServer, registry: ChannelRegistry, logger: Logger, options: SignallingOptions): Signalling {
  const intervalMs = options.presenceIntervalMs ?? 250;
  const cluster = options.cluster?.cluster;
  const origin = () => options.cluster?.origin() ?? null;
  const io: SignallingServer = new Server(httpServer, {
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    cleanupEmptyChildNamespaces: true,
    serveClient: false,
    // A connection that joins no namespace (refused, or idle on purpose) is dropped soon.
    connectTimeout: 10_000,
    ...(cluster ? { adapter: cluster.adapter() } : {}),
  });
  const lobbyNsp = io.of('/');

  // Socket.IO connections per client address: counted as they open, refused at their first
  // namespace with a clear error (the client then sees it), closed by connectTimeout.
  const { addresses, limits } = options;
  io.engine.on('connection', (conn: { request: IncomingMessage; once(event: 'close', listener: () => void): void }) => {
    conn.once('close', limits.socketsPerAddress.add(addresses.of(conn.request)));
  });
  const perAddress = (socket: { request: IncomingMessage }, next: (error?: Error) => void) => {
    try {
      limits.socketsPerAddress.checkAbove(addresses.of(socket.request));
      next();
    } catch (error) {
      next(error instanceof Error ? error : new Error(String(error)));
    }
  };
  lobbyNsp.use(perAddress);

  let directory: { directoryChanged(): void } | null = null;
  const directoryChanged = () => directory?.directoryChanged();
  let link: ClusterLink | null = null;
  let remoteChannels: RemoteChannels | null = null;
  const relays = options.cluster?.relays;
  const edges = relays
    ? new EdgeChannels({
        ...relays,
        requestPipe: (channelId, here) => (link ? link.requestPipe(channelId, here) : Promise.reject(new Error('not in a cluster'))),
        requestKeyFrame: (channelId) => link?.requestKeyFrame(channelId),
        closePipe: (channelId) => link?.closePipe(channelId),
        onRealtimeChange: (channelId) => remoteChannels?.refresh(channelId),
      })
    : null;
  if (cluster) {
    remoteChannels = new RemoteChannels({
      intervalMs,
      report: (channelId, audience) => link?.report(channelId, audience),
      realtimeOf: (channelId) => edges?.realtimeCount(channelId) ?? 0,
      released: (channelId) => edges?.close(channelId),
      lookup: (channelId) => cluster.locate(channelId),
      logger,
    });
    link = new ClusterLink({ cluster, lobby: lobbyNsp, registry, remoteChannels, directoryChanged, logger });
  }
  const audiences = new Audiences({
    intervalMs,
    origin,
    onChange: (channelId) => {
      directoryChanged();
      link?.changed(channelId);
    },
    remote: link ?? undefined,
  });
  link?.bind(audiences);
  registry.on('created', (channel) => {
    audiences.track(channel);
    directoryChanged();
    link?.changed(channel.id);
  });

  const liveChannels = async (): Promise<DirectoryEntry[]> => {
    if (cluster) {
      return (await cluster.directory.list())
        .filter((r) => r.state.phase === 'live')
        .map((r) => ({ channelId: r.channelId, viewers: r.audience.viewers, liveSince: r.liveSince }));
    }
    return registry
      .list()
      .filter((c) => c.state.phase === 'live')
      .map((c) => ({ channelId: c.id, viewers: audiences.viewersOf(c.id), liveSince: c.liveSince }));
  };
  directory = serveLobby(lobbyNsp, registry, liveChannels, origin, logger, {
    addresses,
    limits,
    publishKey: options.publishKey,
    createPerMinute: options.createPerMinute,
    directoryIntervalMs: intervalMs * 2,
    onRequestError: options.onRequestError,
    onChannelCreated: options.onChannelCreated,
  });
  const channelNamespaces = io.of(CHANNEL_NAMESPACE_PATTERN);
  channelNamespaces.use(perAddress);
  serveChannels(channelNamespaces, {
    addresses,
    limits,
    registry,
    audiences,
    remoteChannels,
    lookup: cluster ? (channelId) => cluster.locate(channelId) : null,
    edges,
    onRequestError: options.onRequestError,
    logger,
  });
  return {
    io,
    localViewers: () => {
      const own = audiences.totals();
      return {
        viewers: own.viewers + (remoteChannels?.viewers ?? 0),
        realtime: own.realtime + (edges?.realtimeTotal ?? 0),
      };
    },
    stop: async () => {
      edges?.closeAll();
      await link?.stop();
    },
  };
}
