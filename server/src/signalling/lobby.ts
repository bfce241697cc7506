import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { Namespace } from 'socket.io';
import type { DirectoryEntry, LobbyClientToServer, LobbyResults, LobbyServerToClient } from '../../../protocol/index.js';
import { lobbyRequestSchemas } from '../../../protocol/schemas.js';
import type { Logger } from '../logger.js';
import { ChannelError } from '../media/channel-error.js';
import type { ChannelRegistry } from '../media/channel-registry.js';
import { sameSecret } from '../secrets.js';
import { requestHandlers } from './ack.js';

const DIRECTORY_ROOM = 'directory';

export interface LobbyOptions {
  /** Server-wide secret required to create channels; undefined = anyone may go live. */
  publishKey?: string;
  /** Channels one client address may create per minute. */
  createPerMinute: number;
  directoryIntervalMs: number;
  onRequestError?: (event: string) => void;
  onChannelCreated?: () => void;
}

/**
 * The lobby namespace `/`: creating channels and the live channel directory. Directory updates
 * are full snapshots (a few hundred bytes per channel), coalesced to at most one per interval.
 */
export function serveLobby(
  lobby: Namespace<LobbyClientToServer, LobbyServerToClient>,
  registry: ChannelRegistry,
  viewersOf: (channelId: string) => number,
  logger: Logger,
  options: LobbyOptions,
): { directoryChanged(): void } {
  const creations = new RateLimiterMemory({ points: options.createPerMinute, duration: 60 });
  const snapshot = (): DirectoryEntry[] =>
    registry
      .list()
      .filter((c) => c.state.phase === 'live')
      .map((c) => ({ channelId: c.id, viewers: viewersOf(c.id), liveSince: c.liveSince }))
      .sort((a, b) => b.viewers - a.viewers || a.liveSince - b.liveSince);

  let timer: NodeJS.Timeout | null = null;
  let last = '';
  const directoryChanged = () => {
    timer ??= setTimeout(() => {
      timer = null;
      const channels = snapshot();
      const key = JSON.stringify(channels);
      if (key === last) return;
      last = key;
      lobby.to(DIRECTORY_ROOM).emit('directory', { channels });
    }, options.directoryIntervalMs);
  };

  lobby.on('connection', (socket) => {
    const on = requestHandlers<typeof lobbyRequestSchemas, LobbyResults>(lobbyRequestSchemas, socket, logger, options.onRequestError);
    on('createChannel', async ({ publishKey }) => {
      if (options.publishKey !== undefined) {
        if (!publishKey) throw new ChannelError('this server requires a publish key to go live');
        if (!sameSecret(publishKey, options.publishKey)) throw new ChannelError('wrong publish key');
      }
      try {
        await creations.consume(socket.handshake.address);
      } catch {
        throw new ChannelError('too many channels created from your address; try again in a minute');
      }
      const { channel, publishToken } = await registry.create();
      options.onChannelCreated?.();
      channel.on('state', directoryChanged);
      channel.once('ended', directoryChanged);
      return { channelId: channel.id, publishToken };
    });
    on('watchDirectory', async () => {
      await socket.join(DIRECTORY_ROOM);
      return { channels: snapshot() };
    });
  });

  return { directoryChanged };
}
