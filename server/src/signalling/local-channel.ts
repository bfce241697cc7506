import type { Channel } from '../channel/channel.js';
import type { ChannelRegistry } from '../channel/channel-registry.js';
import type { Audiences } from './audiences.js';
import type { ChannelLocator, ChannelPort } from './ports.js';

/** A channel of this instance as signalling sees it: calls straight into the channel. */
export function localChannelPort(channel: Channel, audiences: Audiences): ChannelPort {
  return {
    id: channel.id,
    logger: channel.logger,
    join: (socket) => audiences.join(channel, socket, socket.data.role === 'viewer'),
    leave: (socket) => audiences.leave(channel.id, socket.id),
    publish: {
      claim: (socketId, token, session) => channel.claimBroadcaster(socketId, token, session),
      left: (socketId, connectionLost) => channel.broadcasterLeft(socketId, connectionLost),
      isBroadcaster: (socketId) => channel.isBroadcaster(socketId),
      createTransport: () => channel.createProducerTransport(),
      connect: (dtlsParameters) => channel.connectProducerTransport(dtlsParameters),
      produce: (kind, rtpParameters, frameSize) => channel.produce(kind, rtpParameters, frameSize),
      stop: () => channel.end('the broadcaster ended the stream'),
    },
    owner: {
      hold: (socketId, token) => channel.holdIdle(socketId, token),
      release: (socketId) => channel.releaseIdle(socketId),
      rotateStreamKey: async (token) => channel.rotateStreamKey(token),
      setDetails: async (token, details) => channel.setDetails(token, details),
    },
    realtime: {
      rtpCapabilities: async () => channel.rtpCapabilities,
      createTransport: (viewerId, onClosed) => channel.realtime.createTransport(viewerId, onClosed),
      connect: (viewerId, dtlsParameters) => channel.realtime.connect(viewerId, dtlsParameters),
      consume: (viewerId, rtpCapabilities) => channel.realtime.consume(viewerId, rtpCapabilities),
      resume: (viewerId, consumerId) => channel.realtime.resume(viewerId, consumerId),
      setQuality: (viewerId, choice) => channel.realtime.setQuality(viewerId, choice),
      leave: (viewerId) => channel.realtime.leave(viewerId),
    },
  };
}

/** This instance's live channels. */
export function localChannels(registry: ChannelRegistry, audiences: Audiences): ChannelLocator {
  return {
    find: async (channelId) => {
      const channel = registry.get(channelId);
      return channel && !channel.ended ? localChannelPort(channel, audiences) : null;
    },
  };
}

/** The first locator that knows the channel: this instance's own, then (cluster) the others'. */
export function firstOf(...locators: ChannelLocator[]): ChannelLocator {
  return {
    find: async (channelId) => {
      for (const locator of locators) {
        const port = await locator.find(channelId);
        if (port) return port;
      }
      return null;
    },
  };
}
