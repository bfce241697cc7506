import type { Namespace } from 'socket.io';
import type { DirectoryEntry, LobbyClientToServer, LobbyResults, LobbyServerToClient } from '../../../protocol/index.js';
import { lobbyRequestSchemas } from '../../../protocol/schemas.js';
import type { Logger } from '../logger.js';
import type { ChannelRegistry } from '../media/channel-registry.js';
import { requestHandlers } from './ack.js';

const DIRECTORY_ROOM = 'directory';

/**
 * The lobby namespace `/`: creating channels and the live channel directory. Directory updates
 * are full snapshots (a few hundred bytes per channel), coalesced to at most one per interval.
 */
export function serveLobby(
  lobby: Namespace<LobbyClientToServer, LobbyServerToClient>,
  registry: ChannelRegistry,
  viewersOf: (channelId: string) => number,
  logger: Logger,
  intervalMs: number,
): { directoryChanged(): void } {
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
    }, intervalMs);
  };

  lobby.on('connection', (socket) => {
    const on = requestHandlers<typeof lobbyRequestSchemas, LobbyResults>(lobbyRequestSchemas, socket, logger);
    on('createChannel', async () => {
      const { channel, publishToken } = await registry.create();
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
