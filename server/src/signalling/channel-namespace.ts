import type { Namespace, Socket } from 'socket.io';
import { CHANNEL_NAMESPACE_PATTERN, type ChannelClientToServer, type ChannelResults, type ChannelServerToClient } from '../../../protocol/index.js';
import { channelAuth, channelRequestSchemas } from '../../../protocol/schemas.js';
import type { Channel } from '../channel/channel.js';
import { ChannelError } from '../channel/channel-error.js';
import type { ChannelRegistry } from '../channel/channel-registry.js';
import type { EdgeChannels } from '../cluster/relay.js';
import type { ChannelRecord } from '../cluster/channel-directory.js';
import type { ClientAddresses } from '../http/client-address.js';
import type { ClientLimits } from '../limits/client-limits.js';
import { keyOf } from '../limits/quota.js';
import type { Logger } from '../logger.js';
import { requestHandlers } from './ack.js';
import type { Audiences } from './audiences.js';
import type { SignallingNamespace, SignallingSocket } from './socket-types.js';
import type { RemoteChannels } from '../cluster/remote-channels.js';

type ChannelSocket = SignallingSocket;
type RtpCapabilities = ChannelResults['getRouterRtpCapabilities']['rtpCapabilities'];
/** A viewer's capabilities as mediasoup (server) types them; the router checks them in depth. */
type ViewerRtpCapabilities = Parameters<Channel['realtime']['consume']>[1];

const channelIdOf = (socket: { nsp: { name: string } }): string | undefined => CHANNEL_NAMESPACE_PATTERN.exec(socket.nsp.name)?.[1];

export interface ChannelNamespaceOptions {
  registry: ChannelRegistry;
  audiences: Audiences;
  /** Cluster only: viewers of channels other instances carry, and where to look those up. */
  remoteChannels: RemoteChannels | null;
  lookup: ((channelId: string) => Promise<ChannelRecord | null>) | null;
  /** Cluster only: local relays for real-time viewers of other instances' channels. */
  edges: EdgeChannels | null;
  onRequestError?: (event: string) => void;
  addresses: ClientAddresses;
  limits: ClientLimits;
  logger: Logger;
}

/**
 * A real-time viewer session holds a WebRTC transport (ports, a share of the router): limited per
 * client address and per connection, released when the transport closes.
 */
function takeRealtimeSlot(socket: ChannelSocket, o: ChannelNamespaceOptions): () => void {
  const releaseAddress = o.limits.realtimePerAddress.take(o.addresses.of(socket.request));
  try {
    const releaseConnection = o.limits.realtimePerConnection.take(keyOf(socket.conn));
    return () => {
      releaseAddress();
      releaseConnection();
    };
  } catch (error) {
    releaseAddress();
    throw error;
  }
}

async function createRealtimeTransport(socket: ChannelSocket, realtime: Channel['realtime'], o: ChannelNamespaceOptions) {
  const release = takeRealtimeSlot(socket, o);
  try {
    return await realtime.createTransport(socket.id, release);
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * Channel namespaces `/channel/<channelId>`: the broadcaster (proven by its publish token, one
 * per channel) publishes; viewers watch over HLS or in real time over WebRTC. In a cluster,
 * viewers may join through any instance; publishing stays on the channel's own.
 */
export function serveChannels(nsp: SignallingNamespace, o: ChannelNamespaceOptions): void {
  const { registry, audiences } = o;

  nsp.use(async (socket, next) => {
    const id = channelIdOf(socket);
    const found = id ? registry.get(id) : undefined;
    const channel = found && !found.ended ? found : undefined;
    let record: ChannelRecord | null = null;
    if (!channel && id && o.lookup) {
      try {
        record = await o.lookup(id);
      } catch {
        return next(new ChannelError('internal', 'the channel directory is unavailable right now; retrying'));
      }
    }
    if (!channel && (!record || record.state.phase === 'ended')) return next(new ChannelError('not-found', 'channel not found'));
    const auth = channelAuth.safeParse(socket.handshake.auth);
    if (!auth.success) return next(new ChannelError('bad-request', 'invalid connection parameters: expected role viewer or broadcaster'));
    if (!channel) {
      if (auth.data.role === 'broadcaster') {
        return next(new ChannelError('conflict', `this channel is carried by another server (${record!.state.origin}); publish there`));
      }
      socket.data.role = 'viewer';
      socket.data.remote = record!;
      return next();
    }
    if (auth.data.role === 'broadcaster') {
      try {
        const replaced = channel.claimBroadcaster(socket.id, auth.data.publishToken, auth.data.session);
        if (replaced) socket.nsp.sockets.get(replaced)?.disconnect();
      } catch (error) {
        return next(error instanceof Error ? error : new Error(String(error)));
      }
    }
    socket.data.role = auth.data.role;
    next();
  });

  nsp.on('connection', (socket: ChannelSocket) => {
    const remote = socket.data.remote;
    if (remote && o.remoteChannels) return serveRemoteViewer(socket, remote, o.remoteChannels, o);
    const id = channelIdOf(socket);
    const channel = id ? registry.get(id) : undefined;
    if (!channel) return void socket.disconnect();
    const log = channel.logger.child({ socketId: socket.id, role: socket.data.role });
    const audience = audiences.join(channel, socket.nsp);
    const isBroadcaster = socket.data.role === 'broadcaster';
    log.info('joined');

    if (!isBroadcaster) {
      audience.viewerSockets.add(socket.id);
      audience.update();
    }
    socket.emit('channelState', audiences.stateOf(channel));
    socket.emit('viewerCount', audience.audience.value);
    socket.on('disconnect', (reason) => {
      log.info({ reason }, 'left');
      // 'client namespace disconnect' is the page leaving on purpose (Stop, tab closed).
      if (isBroadcaster) return channel.broadcasterLeft(socket.id, reason !== 'client namespace disconnect');
      channel.realtime.close(socket.id);
      if (audience.viewerSockets.delete(socket.id)) audience.update();
    });

    const on = requestHandlers<typeof channelRequestSchemas, ChannelResults>(
      channelRequestSchemas,
      socket,
      log,
      o.onRequestError,
      o.limits.pendingPerConnection,
    );
    const publishOnly = <P, R>(fn: (payload: P) => Promise<R>) => (payload: P) => {
      if (!channel.isBroadcaster(socket.id)) throw new ChannelError('unauthorized', 'only the channel’s broadcaster can publish');
      return fn(payload);
    };
    const viewOnly = <P, R>(fn: (payload: P) => Promise<R>) => (payload: P) => {
      if (isBroadcaster) throw new ChannelError('conflict', 'the broadcaster cannot watch its own channel in real time');
      return fn(payload);
    };

    on('getRouterRtpCapabilities', () => ({
      // The router always fills in every codec's preferredPayloadType, which the client type requires.
      rtpCapabilities: channel.router.rtpCapabilities as RtpCapabilities,
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

    on('createConsumerTransport', viewOnly(async () => {
      if (channel.liveProducers.length === 0) throw new ChannelError('conflict', 'the broadcast has not started yet');
      return createRealtimeTransport(socket, channel.realtime, o);
    }));
    on('connectConsumerTransport', viewOnly(async ({ dtlsParameters }) => {
      await channel.realtime.connect(socket.id, dtlsParameters);
      return { connected: true as const };
    }));
    on('consume', viewOnly(async ({ rtpCapabilities }) => ({
      consumers: await channel.realtime.consume(socket.id, rtpCapabilities as ViewerRtpCapabilities, channel.liveProducers),
    })));
    on('resumeConsumer', viewOnly(async ({ consumerId }) => {
      await channel.realtime.resume(socket.id, consumerId);
      return { resumed: true as const };
    }));
    on('stopConsuming', viewOnly(async () => {
      channel.realtime.close(socket.id);
      return { stopped: true as const };
    }));
  });
}

/**
 * A viewer of a channel another instance carries: counted here and told what the owner says.
 * Real-time viewing goes through a local relay of the channel (its tracks piped from the owner's
 * router to one of ours), so the viewer's WebRTC transport is on this instance.
 */
function serveRemoteViewer(socket: ChannelSocket, record: ChannelRecord, remoteChannels: RemoteChannels, o: ChannelNamespaceOptions): void {
  const channelId = record.channelId;
  const log = o.logger.child({ channelId, socketId: socket.id, remote: true });
  remoteChannels.join(socket.nsp, socket.id, record);
  log.info('joined through this instance');
  socket.on('disconnect', () => {
    void o.edges?.existing(channelId).then((edge) => edge?.realtime.close(socket.id));
    remoteChannels.leave(channelId, socket.id);
  });
  const on = requestHandlers<typeof channelRequestSchemas, ChannelResults>(
    channelRequestSchemas,
    socket,
    log,
    o.onRequestError,
    o.limits.pendingPerConnection,
  );
  const relay = async () => {
    if (!o.edges) throw new ChannelError('conflict', 'real-time viewing of this channel is not available on this server');
    return o.edges.get(channelId);
  };
  const publishing = () => {
    throw new ChannelError('unauthorized', 'only the channel’s broadcaster can publish');
  };
  on('createProducerTransport', publishing);
  on('connectProducerTransport', publishing);
  on('produce', publishing);
  on('stopBroadcast', publishing);

  on('getRouterRtpCapabilities', async () => ({ rtpCapabilities: (await relay()).router.rtpCapabilities as RtpCapabilities }));
  on('createConsumerTransport', async () => {
    const edge = await relay();
    if ((await edge.liveProducers()).length === 0) throw new ChannelError('conflict', 'the broadcast has not started yet');
    return createRealtimeTransport(socket, edge.realtime, o);
  });
  on('connectConsumerTransport', async ({ dtlsParameters }) => {
    await (await relay()).realtime.connect(socket.id, dtlsParameters);
    return { connected: true as const };
  });
  on('consume', async ({ rtpCapabilities }) => {
    const edge = await relay();
    return { consumers: await edge.realtime.consume(socket.id, rtpCapabilities as ViewerRtpCapabilities, await edge.liveProducers()) };
  });
  on('resumeConsumer', async ({ consumerId }) => {
    await (await relay()).realtime.resume(socket.id, consumerId);
    return { resumed: true as const };
  });
  on('stopConsuming', async () => {
    (await o.edges?.existing(channelId))?.realtime.close(socket.id);
    return { stopped: true as const };
  });
}
