import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { Server, type ServerOptions } from 'socket.io';
import { CHANNEL_NAMESPACE_PATTERN, MAX_MESSAGE_BYTES, type Audience, type DirectoryEntry } from '../../../protocol/index.js';
import type { ChannelRegistry } from '../channel/channel-registry.js';
import type { Config } from '../config.js';
import type { ClientAddresses } from '../http/client-address.js';
import type { ClientLimits } from '../limits/client-limits.js';
import type { Logger } from '../logger.js';
import { Audiences } from './audiences.js';
import { refusal, serveChannels } from './channel-namespace.js';
import { firstOf, localChannels } from './local-channel.js';
import { serveLobby } from './lobby.js';
import type { ChannelLocator, DirectorySource, PresenceSink } from './ports.js';
import type { SignallingServer } from './socket-types.js';

/**
 * Socket.IO on the HTTP server. `adapter`: how events reach other instances (cluster: Redis);
 * absent, Socket.IO's in-memory default.
 */
export function createSocketServer(httpServer: HttpServer, adapter?: ServerOptions['adapter']): SignallingServer {
  return new Server(httpServer, {
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    cleanupEmptyChildNamespaces: true,
    serveClient: false,
    // A connection that joins no namespace (refused, or idle on purpose) is dropped soon.
    connectTimeout: 10_000,
    ...(adapter ? { adapter } : {}),
  });
}

export interface SignallingOptions {
  registry: ChannelRegistry;
  config: Pick<Config, 'presence' | 'channels'>;
  /** Where this instance's channels are served from for viewers elsewhere; null when alone. */
  origin: string | null;
  /** Cluster: channels other instances carry, served here through the same handlers. */
  elsewhere?: ChannelLocator;
  /** Cluster: presence of this instance's channels on other instances. Alone: none. */
  presence: PresenceSink;
  /** Cluster: the whole cluster's live channels. Alone: this instance's. */
  directory?: DirectorySource;
  addresses: ClientAddresses;
  limits: ClientLimits;
  /** Told about every request answered with an error (metrics). */
  onRequestError?: (event: string) => void;
  onChannelCreated?: () => void;
  logger: Logger;
}

export interface Signalling {
  /** Viewers connected to this instance's channels, and how many of them watch in real time. */
  localViewers(): Audience;
}

/**
 * The lobby namespace `/` (create channels, live directory) and one namespace per channel,
 * `/channel/<channelId>`, created on first connection and dropped when empty.
 */
export function serveSignalling(io: SignallingServer, o: SignallingOptions): Signalling {
  const { addresses, limits, registry } = o;
  const intervalMs = o.config.presence.intervalMs;

  // Socket.IO connections per client address, admitted at their first namespace (the client then
  // sees a refusal with its reason) and counted until the connection closes. Counting at
  // admission, not at the engine's handshake, keeps a burst of simultaneous connections from
  // refusing one another beyond the limit. A connection that joins nothing is closed by
  // connectTimeout.
  const admitted = new WeakSet<object>();
  const perAddress = (socket: { request: IncomingMessage; conn: { once(event: 'close', listener: () => void): unknown } }, next: (error?: Error) => void) => {
    if (admitted.has(socket.conn)) return next(); // another namespace over an admitted connection
    try {
      const release = limits.socketsPerAddress.take(addresses.of(socket.request));
      admitted.add(socket.conn);
      socket.conn.once('close', release);
      next();
    } catch (error) {
      next(refusal(error, o.logger));
    }
  };

  // The directory changes with this instance's channels (and, in a cluster, with the others').
  const changeListeners = new Set<() => void>();
  const audiences = new Audiences({ intervalMs, origin: o.origin, presence: o.presence, onChange: () => changeListeners.forEach((l) => l()) });
  registry.on('created', (channel) => audiences.track(channel));
  const elsewhere = o.directory;
  const directory: DirectorySource = {
    live: async (): Promise<DirectoryEntry[]> =>
      elsewhere
        ? elsewhere.live()
        : registry
            .list()
            .filter((c) => c.state.phase === 'live')
            .map((c) => ({ channelId: c.id, title: c.state.title, viewers: audiences.viewersOf(c.id), liveSince: c.liveSince })),
    onChange: (listener) => {
      changeListeners.add(listener);
      elsewhere?.onChange(listener);
    },
  };

  const lobby = io.of('/');
  lobby.use(perAddress);
  serveLobby(lobby, {
    channels: registry,
    directory,
    origin: o.origin,
    publishKey: o.config.channels.publishKey,
    createPerMinute: o.config.channels.createPerMinute,
    directoryIntervalMs: intervalMs * 2,
    addresses,
    limits,
    onRequestError: o.onRequestError,
    onChannelCreated: o.onChannelCreated,
    logger: o.logger,
  });

  const here = localChannels(registry, audiences);
  const channelNamespaces = io.of(CHANNEL_NAMESPACE_PATTERN);
  channelNamespaces.use(perAddress);
  serveChannels(channelNamespaces, {
    channels: o.elsewhere ? firstOf(here, o.elsewhere) : here,
    addresses,
    limits,
    onRequestError: o.onRequestError,
    logger: o.logger,
  });
  return { localViewers: () => audiences.totals() };
}
