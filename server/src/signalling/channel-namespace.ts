import { channelIdOfNamespace } from '../../../protocol/index.js';
import { channelAuth, channelRequestSchemas } from '../../../protocol/schemas.js';
import type { ChannelResults } from '../../../protocol/index.js';
import { ChannelError } from '../channel/channel-error.js';
import type { ClientAddresses } from '../http/client-address.js';
import type { ClientLimits } from '../limits/client-limits.js';
import { keyOf } from '../limits/quota.js';
import type { Logger } from '../logger.js';
import { requestHandlers } from './ack.js';
import type { ChannelLocator, ChannelPort } from './ports.js';
import type { SignallingNamespace, SignallingSocket } from './socket-types.js';

export interface ChannelNamespaceOptions {
  channels: ChannelLocator;
  addresses: ClientAddresses;
  limits: ClientLimits;
  onRequestError?: (event: string) => void;
  logger: Logger;
}

/**
 * What a refused connection is told: a ChannelError as it is (code in `data`), anything else —
 * a fault of ours — logged and reported as `internal` without its text, as acks do.
 */
export function refusal(error: unknown, logger: Logger): ChannelError {
  if (error instanceof ChannelError) return error;
  logger.error({ err: error }, 'connection refused by a fault');
  return new ChannelError('internal', 'the server could not accept this connection; please try again');
}

/** The channel each connected socket joined (found once, in the middleware). */
const portOf = new WeakMap<SignallingSocket, ChannelPort>();
/** Broadcaster claims and owner holds made in the middleware, released if the connection closes before it connects. */
const claimsInFlight = new WeakMap<SignallingSocket, () => void>();

/**
 * A real-time viewer session holds a WebRTC transport (ports, a share of the router): limited per
 * client address and per connection, released when the transport closes.
 */
function takeRealtimeSlot(socket: SignallingSocket, o: ChannelNamespaceOptions): () => void {
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

/**
 * Channel namespaces `/channel/<channelId>`: the broadcaster (proven by its publish token, one
 * per channel) publishes; viewers watch over HLS or in real time over WebRTC. The channel may be
 * this instance's or (cluster) another's: the same handlers serve both through its ChannelPort.
 */
export function serveChannels(nsp: SignallingNamespace, o: ChannelNamespaceOptions): void {
  nsp.use(async (socket, next) => {
    const id = channelIdOfNamespace(socket.nsp.name);
    let port: ChannelPort | null = null;
    try {
      port = id ? await o.channels.find(id) : null;
    } catch {
      return next(new ChannelError('internal', 'the channel directory is unavailable right now; retrying'));
    }
    if (!port) return next(new ChannelError('not-found', 'channel not found'));
    const auth = channelAuth.safeParse(socket.handshake.auth);
    if (!auth.success) return next(new ChannelError('bad-request', 'invalid connection parameters: expected role viewer, broadcaster or owner'));
    if (auth.data.role !== 'viewer') {
      let release: () => void;
      try {
        if (auth.data.role === 'broadcaster') {
          const replaced = port.publish.claim(socket.id, auth.data.publishToken, auth.data.session);
          if (replaced) socket.nsp.sockets.get(replaced)?.disconnect();
          release = () => port.publish.left(socket.id, true);
        } else {
          port.owner.hold(socket.id, auth.data.publishToken);
          release = () => port.owner.release(socket.id);
        }
      } catch (error) {
        return next(refusal(error, port.logger));
      }
      // A connection that closes before it is connected never gets 'disconnect': let the claim go.
      if (socket.conn.readyState !== 'open') {
        release();
        return next(new ChannelError('internal', 'the connection closed while joining'));
      }
      socket.conn.once('close', release);
      claimsInFlight.set(socket, release);
    }
    socket.data.role = auth.data.role;
    portOf.set(socket, port);
    next();
  });

  nsp.on('connection', (socket) => {
    const port = portOf.get(socket);
    const claim = claimsInFlight.get(socket);
    if (claim) socket.conn.off('close', claim); // from now on 'disconnect' tells the port
    if (!port) return void socket.disconnect();
    const role = socket.data.role;
    const log = port.logger.child({ socketId: socket.id, role: socket.data.role });
    port.join(socket);
    log.info('joined');
    socket.on('disconnect', (reason) => {
      log.info({ reason }, 'left');
      // 'client namespace disconnect' is the page leaving on purpose (Stop, tab closed).
      if (role === 'broadcaster') port.publish.left(socket.id, reason !== 'client namespace disconnect');
      else if (role === 'owner') port.owner.release(socket.id);
      else port.realtime.leave(socket.id);
      port.leave(socket);
    });

    const on = requestHandlers<typeof channelRequestSchemas, ChannelResults>(
      channelRequestSchemas,
      socket,
      log,
      o.onRequestError,
      o.limits.pendingPerConnection,
    );
    const publishOnly = <P, R>(fn: (payload: P) => Promise<R>) => (payload: P) => {
      if (!port.publish.isBroadcaster(socket.id)) throw new ChannelError('unauthorized', 'only the channel’s broadcaster can publish');
      return fn(payload);
    };
    // Real-time sessions are for counted viewers only: an uncounted connection must not take slots.
    const viewOnly = <P, R>(fn: (payload: P) => Promise<R>) => (payload: P) => {
      if (role === 'broadcaster') throw new ChannelError('conflict', 'the broadcaster cannot watch its own channel in real time');
      if (role !== 'viewer') throw new ChannelError('conflict', 'the channel’s owner page is not a viewer; open the watch page to watch');
      return fn(payload);
    };

    on('getRouterRtpCapabilities', async () => ({
      // The router always fills in every codec's preferredPayloadType, which the client type requires.
      rtpCapabilities: (await port.realtime.rtpCapabilities()) as ChannelResults['getRouterRtpCapabilities']['rtpCapabilities'],
    }));

    on('createProducerTransport', publishOnly(() => port.publish.createTransport()));
    on('connectProducerTransport', publishOnly(async ({ dtlsParameters }) => {
      await port.publish.connect(dtlsParameters);
      return { connected: true as const };
    }));
    on('produce', publishOnly(async ({ kind, rtpParameters, frameSize }) => ({
      // The schema checks the envelope; the channel checks codecs, mediasoup the rest in depth.
      producerId: await port.publish.produce(kind, rtpParameters as Parameters<ChannelPort['publish']['produce']>[1], frameSize),
    })));
    on('stopBroadcast', publishOnly(async () => {
      await port.publish.stop();
      return { stopped: true as const };
    }));

    on('rotateStreamKey', async ({ publishToken }) => ({ streamKey: await port.owner.rotateStreamKey(publishToken) }));
    on('setDetails', async ({ publishToken, title, description }) => port.owner.setDetails(publishToken, { title, description }));

    on('createConsumerTransport', viewOnly(async () => {
      const release = takeRealtimeSlot(socket, o);
      try {
        return await port.realtime.createTransport(socket.id, release);
      } catch (error) {
        release();
        throw error;
      }
    }));
    on('connectConsumerTransport', viewOnly(async ({ dtlsParameters }) => {
      await port.realtime.connect(socket.id, dtlsParameters);
      return { connected: true as const };
    }));
    // A viewer's capabilities as mediasoup types them; the router checks them in depth.
    on('consume', viewOnly(async ({ rtpCapabilities }) => port.realtime.consume(socket.id, rtpCapabilities as Parameters<ChannelPort['realtime']['consume']>[1])));
    on('resumeConsumer', viewOnly(async ({ consumerId }) => {
      await port.realtime.resume(socket.id, consumerId);
      return { resumed: true as const };
    }));
    on('setQuality', viewOnly(async ({ layer }) => ({ layer: await port.realtime.setQuality(socket.id, layer) })));
    on('stopConsuming', viewOnly(async () => {
      port.realtime.leave(socket.id);
      return { stopped: true as const };
    }));
  });
}
