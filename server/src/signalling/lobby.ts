import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { SignallingNamespace } from './socket-types.js';
import type { DirectoryEntry, LobbyClientToServer, LobbyResults, LobbyServerToClient } from '../../../protocol/index.js';
import { lobbyRequestSchemas } from '../../../protocol/schemas.js';
import type { ClusterEvents } from '../cluster/cluster.js';
import type { ClientAddresses } from '../http/client-address.js';
import type { ClientLimits } from '../limits/client-limits.js';
import type { Logger } from '../logger.js';
import { ChannelError } from '../channel/channel-error.js';
import type { ChannelRegistry } from '../channel/channel-registry.js';
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
  addresses: ClientAddresses;
  limits: ClientLimits;
}

/**
 * The lobby namespace `/`: creating channels and the live channel directory. Directory updates
 * are full snapshots (a few hundred bytes per channel), coalesced to at most one per interval.
 */
export function serveLobby(
  lobby: SignallingNamespace,
  registry: ChannelRegistry,
  /** The live channels (of every instance, in a cluster). */
  liveChannels: () => Promise<DirectoryEntry[]>,
  /** Where channels created here are carried from, as the broadcaster should connect (null: here). */
  origin: () => string | null,
  logger: Logger,
  options: LobbyOptions,
): { directoryChanged(): void } {
  const creations = new RateLimiterMemory({ points: options.createPerMinute, duration: 60 });
  const snapshot = async (): Promise<DirectoryEntry[]> =>
    (await liveChannels()).sort((a, b) => b.viewers - a.viewers || a.liveSince - b.liveSince);

  let last = '';
  /** Pushes the snapshot if it changed; true when it did. */
  const push = async (): Promise<boolean> => {
    const channels = await snapshot();
    const key = JSON.stringify(channels);
    if (key === last) return false;
    last = key;
    // Every instance pushes to its own lobby: the snapshot already covers the whole cluster.
    lobby.local.to(DIRECTORY_ROOM).emit('directory', { channels });
    return true;
  };
  // Like the viewer count: a change after a quiet interval goes out at once, later ones at the
  // end of the interval; a change that arrives while a snapshot is being read gets its own.
  let timer: NodeJS.Timeout | null = null;
  let pushing = false;
  let dirty = false;
  let pushedAt = -Infinity;
  const directoryChanged = (): void => {
    if (pushing) return void (dirty = true);
    if (timer) return;
    const wait = Math.max(0, pushedAt + options.directoryIntervalMs - Date.now());
    timer = setTimeout(() => {
      timer = null;
      pushing = true;
      dirty = false;
      push()
        .then((pushed) => pushed && (pushedAt = Date.now()))
        .catch((error: unknown) => logger.warn({ err: String(error) }, 'cannot refresh the channel directory'))
        .finally(() => {
          pushing = false;
          if (dirty) directoryChanged();
        });
    }, wait);
  };

  lobby.on('connection', (socket) => {
    const { limits } = options;
    const on = requestHandlers<typeof lobbyRequestSchemas, LobbyResults>(
      lobbyRequestSchemas,
      socket,
      logger,
      options.onRequestError,
      limits.pendingPerConnection,
    );
    const address = options.addresses.of(socket.request);
    on('createChannel', async ({ publishKey }) => {
      if (options.publishKey !== undefined) {
        if (!publishKey) throw new ChannelError('unauthorized', 'this server requires a publish key to go live');
        if (!sameSecret(publishKey, options.publishKey)) throw new ChannelError('unauthorized', 'wrong publish key');
      }
      // Held until the channel ends: a squatter's channels count against its own address only.
      const release = limits.channelsPerAddress.take(address);
      try {
        try {
          await creations.consume(address);
        } catch {
          throw new ChannelError('full', 'too many channels created from your address; try again in a minute');
        }
        const { channel, publishToken } = await registry.create();
        channel.once('ended', release);
        options.onChannelCreated?.();
        return { channelId: channel.id, publishToken, origin: origin() };
      } catch (error) {
        release();
        throw error;
      }
    });
    on('watchDirectory', async () => {
      await socket.join(DIRECTORY_ROOM);
      try {
        return { channels: await snapshot() };
      } catch {
        // Joined all the same: the next push brings the list once the directory answers again.
        throw new ChannelError('internal', 'the channel directory is unavailable right now; it will update when it is back');
      }
    });
  });

  return { directoryChanged };
}
