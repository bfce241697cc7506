import { ChannelError } from '../channel/channel-error.js';
import type { Logger } from '../logger.js';
import type { ChannelPort } from '../signalling/ports.js';
import type { ChannelRecord } from './channel-directory.js';
import type { Relays } from './relay.js';
import { roomOf, type RemoteChannels } from './remote-channels.js';

const onlyTheBroadcaster = () => {
  throw new ChannelError('unauthorized', 'only the channel’s broadcaster can publish');
};

/**
 * The owner's requests are refused rather than routed to the origin: the page that holds the
 * publish token connects to the origin anyway (`createChannel` names it), so only a hand-made
 * client gets here, and refusing keeps the channel's secrets off the bus between instances.
 */
const onlyAtTheOrigin = (record: ChannelRecord) => () => {
  throw new ChannelError('conflict', `this channel is carried by another server (${record.state.origin}); manage it there`);
};

/**
 * A channel another instance carries, as signalling sees it: viewers are counted here and told
 * what the owner says (RemoteChannels); real-time viewing goes through this instance's relay of
 * the channel; publishing happens on the owner only.
 */
export function remoteChannelPort(record: ChannelRecord, remoteChannels: RemoteChannels, relays: Relays, logger: Logger): ChannelPort {
  const channelId = record.channelId;
  const relay = async () => {
    const opened = await relays.get(channelId);
    // Tracks the broadcaster added since the relay opened come with the next offer.
    await opened.refreshTracks();
    return opened;
  };
  return {
    id: channelId,
    logger: logger.child({ channelId, remote: true }),
    join: (socket) => remoteChannels.join(roomOf(socket.nsp), socket.id, record),
    leave: (socket) => remoteChannels.leave(channelId, socket.id),
    publish: {
      claim: () => {
        throw new ChannelError('conflict', `this channel is carried by another server (${record.state.origin}); publish there`);
      },
      left: () => undefined,
      isBroadcaster: () => false,
      createTransport: onlyTheBroadcaster,
      connect: onlyTheBroadcaster,
      produce: onlyTheBroadcaster,
      stop: onlyTheBroadcaster,
    },
    owner: {
      hold: onlyAtTheOrigin(record),
      release: () => undefined,
      rotateStreamKey: async () => onlyAtTheOrigin(record)(),
      setDetails: async () => onlyAtTheOrigin(record)(),
    },
    realtime: {
      rtpCapabilities: async () => (await relays.get(channelId)).router.rtpCapabilities,
      createTransport: async (viewerId, onClosed) => (await relay()).realtime.createTransport(viewerId, onClosed),
      connect: async (viewerId, dtlsParameters) => (await relays.get(channelId)).realtime.connect(viewerId, dtlsParameters),
      consume: async (viewerId, rtpCapabilities) => (await relay()).realtime.consume(viewerId, rtpCapabilities),
      resume: async (viewerId, consumerId) => (await relays.get(channelId)).realtime.resume(viewerId, consumerId),
      setQuality: async (viewerId, choice) => (await relays.get(channelId)).realtime.setQuality(viewerId, choice),
      leave: (viewerId) => relays.existing(channelId)?.realtime.leave(viewerId),
    },
  };
}
