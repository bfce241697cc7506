import type { Server as HttpServer } from 'node:http';
import { Server, type Namespace, type Socket } from 'socket.io';
import {
  CHANNEL_NAMESPACE_PATTERN,
  MAX_MESSAGE_BYTES,
  type ChannelClientToServer,
  type ChannelResults,
  type LobbyResults,
  type ChannelServerToClient,
  type LobbyClientToServer,
  type LobbyServerToClient,
} from '../../../protocol/index.js';
import { channelAuth, channelRequestSchemas, lobbyRequestSchemas } from '../../../protocol/schemas.js';
import type { Logger } from '../logger.js';
import { ChannelError, type Channel } from '../media/channel.js';
import type { ChannelRegistry } from '../media/channel-registry.js';
import { requestHandlers } from './ack.js';
import { CoalescedValue } from './coalesced-value.js';

interface SocketData {
  role: 'viewer' | 'broadcaster';
}
type ChannelSocket = Socket<ChannelClientToServer, ChannelServerToClient, Record<string, never>, SocketData>;
type ChannelNamespace = Namespace<ChannelClientToServer, ChannelServerToClient, Record<string, never>, SocketData>;

/** Signalling-side state of a channel: its namespace and who is watching. */
interface ChannelHub {
  nsp: ChannelNamespace;
  viewers: Set<string>;
  viewerCount: CoalescedValue;
}

export interface SignallingOptions {
  /** Viewer-count updates are coalesced to at most one per interval. */
  presenceIntervalMs?: number;
}

/**
 * Socket.IO on the HTTP server: the lobby namespace `/` creates channels; each channel has its own
 * namespace `/channel/<channelId>`, created on first connection and dropped when empty.
 */
export function attachSignalling(
  httpServer: HttpServer,
  registry: ChannelRegistry,
  logger: Logger,
  options: SignallingOptions = {},
): Server {
  const io = new Server<LobbyClientToServer, LobbyServerToClient>(httpServer, {
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    cleanupEmptyChildNamespaces: true,
    serveClient: false,
  });

  io.of('/').on('connection', (socket) => {
    const on = requestHandlers<typeof lobbyRequestSchemas, LobbyResults>(lobbyRequestSchemas, socket, logger);
    on('createChannel', async () => {
      const { channel, publishToken } = await registry.create();
      return { channelId: channel.id, publishToken };
    });
  });

  const hubs = new Map<string, ChannelHub>();
  const hubFor = (channel: Channel, nsp: ChannelNamespace): ChannelHub => {
    let hub = hubs.get(channel.id);
    if (!hub) {
      const created: ChannelHub = {
        nsp,
        viewers: new Set(),
        viewerCount: new CoalescedValue(options.presenceIntervalMs ?? 250, (viewers) =>
          created.nsp.emit('viewerCount', { viewers }),
        ),
      };
      hub = created;
      hubs.set(channel.id, created);
      channel.on('state', (state) => created.nsp.emit('channelState', state));
      channel.once('ended', (reason) => {
        created.viewerCount.dispose();
        hubs.delete(channel.id);
        created.nsp.emit('streamEnded', { reason });
        created.nsp.disconnectSockets();
      });
    }
    // With cleanupEmptyChildNamespaces a channel's namespace object is re-created after it empties.
    hub.nsp = nsp;
    return hub;
  };

  const channels = io.of(CHANNEL_NAMESPACE_PATTERN) as unknown as ChannelNamespace;

  channels.use((socket, next) => {
    const channel = channelOf(socket, registry);
    if (!channel || channel.ended) return next(new Error('channel not found'));
    const auth = channelAuth.safeParse(socket.handshake.auth);
    if (!auth.success) return next(new Error('invalid connection parameters: expected role viewer or broadcaster'));
    if (auth.data.role === 'broadcaster') {
      try {
        channel.claimBroadcaster(socket.id, auth.data.publishToken);
      } catch (error) {
        return next(error instanceof Error ? error : new Error(String(error)));
      }
    }
    socket.data.role = auth.data.role;
    next();
  });

  channels.on('connection', (socket: ChannelSocket) => {
    const channel = channelOf(socket, registry);
    if (!channel) return void socket.disconnect();
    const log = channel.logger.child({ socketId: socket.id, role: socket.data.role });
    const hub = hubFor(channel, socket.nsp);
    const isBroadcaster = socket.data.role === 'broadcaster';
    log.info('joined');

    if (!isBroadcaster) {
      hub.viewers.add(socket.id);
      hub.viewerCount.set(hub.viewers.size);
    }
    socket.emit('channelState', channel.state);
    socket.emit('viewerCount', { viewers: hub.viewerCount.value });

    socket.on('disconnect', (reason) => {
      log.info({ reason }, 'left');
      if (isBroadcaster) {
        void channel.end('the broadcaster left');
      } else if (hub.viewers.delete(socket.id)) {
        hub.viewerCount.set(hub.viewers.size);
      }
    });

    const publishOnly = <P, R>(fn: (payload: P) => Promise<R>) => (payload: P) => {
      if (!channel.isBroadcaster(socket.id)) throw new ChannelError('only the channel’s broadcaster can publish');
      return fn(payload);
    };
    const on = requestHandlers<typeof channelRequestSchemas, ChannelResults>(channelRequestSchemas, socket, log);
    on('getRouterRtpCapabilities', () => ({
      // The router always fills in every codec's preferredPayloadType, which the client type requires.
      rtpCapabilities: channel.router.rtpCapabilities as ChannelResults['getRouterRtpCapabilities']['rtpCapabilities'],
    }));
    on('createProducerTransport', publishOnly(() => channel.createProducerTransport()));
    on('connectProducerTransport', publishOnly(async ({ dtlsParameters }) => {
      await channel.connectProducerTransport(dtlsParameters);
      return { connected: true as const };
    }));
    on('produce', publishOnly(async ({ kind, rtpParameters }) => ({
      // The schema checks the envelope; mediasoup validates the RTP parameters in depth.
      producerId: await channel.produce(kind, rtpParameters as Parameters<Channel['produce']>[1]),
    })));
    on('stopBroadcast', publishOnly(async () => {
      await channel.end('the broadcaster ended the stream');
      return { stopped: true as const };
    }));
  });

  return io;
}

function channelOf(socket: { nsp: { name: string } }, registry: ChannelRegistry): Channel | undefined {
  const id = CHANNEL_NAMESPACE_PATTERN.exec(socket.nsp.name)?.[1];
  return id ? registry.get(id) : undefined;
}
