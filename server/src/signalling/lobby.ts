import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { SignallingNamespace } from './socket-types.js';
import type { DirectoryEntry, LobbyResults } from '../../../protocol/index.js';
import { lobbyRequestSchemas } from '../../../protocol/schemas.js';
import type { ClientAddresses } from '../http/client-address.js';
import type { ClientLimits } from '../limits/client-limits.js';
import type { Logger } from '../logger.js';
import { ChannelError } from '../channel/channel-error.js';
import { sameSecret } from '../secrets.js';
import { requestHandlers } from './ack.js';
import { Coalescer } from './coalesced-value.js';
import type { ChannelFactory, DirectorySource } from './ports.js';

const DIRECTORY_ROOM = 'directory';

export interface LobbyOptions {
  channels: ChannelFactory;
  /** The live channels listed (this instance's, or the whole cluster's). */
  directory: DirectorySource;
  /** Where channels created here are carried from, as the broadcaster should connect (null: here). */
  origin: string | null;
  /** Server-wide secret required to create channels; undefined = anyone may go live. */
  publishKey?: string;
  /** Channels one client address may create per minute. */
  createPerMinute: number;
  directoryIntervalMs: number;
  addresses: ClientAddresses;
  limits: ClientLimits;
  onRequestError?: (event: string) => void;
  onChannelCreated?: () => void;
  logger: Logger;
}

/**
 * The lobby namespace `/`: creating channels and the live channel directory. Directory updates
 * are full snapshots (a few hundred bytes per channel), coalesced to at most one per interval.
 */
export function serveLobby(lobby: SignallingNamespace, options: LobbyOptions): void {
  const { channels, logger, limits } = options;
  const creations = new RateLimiterMemory({ points: options.createPerMinute, duration: 60 });
  const snapshot = async (): Promise<DirectoryEntry[]> =>
    [...(await options.directory.live())].sort((a, b) => b.viewers - a.viewers || a.liveSince - b.liveSince);

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
  const pushes = new Coalescer(options.directoryIntervalMs, push, (error) =>
    logger.warn({ err: String(error) }, 'cannot refresh the channel directory'),
  );
  options.directory.onChange(() => pushes.poke());

  lobby.on('connection', (socket) => {
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
        const { channel, publishToken, streamKey } = await channels.create({ unlistedRecording: options.publishKey !== undefined });
        channel.once('ended', release);
        options.onChannelCreated?.();
        const ports = channel.ingestPorts;
        return { channelId: channel.id, publishToken, streamKey, origin: options.origin, ingest: { rtmpPort: ports.rtmp, rtmpsPort: ports.rtmps, srtPort: ports.srt } };
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
}
