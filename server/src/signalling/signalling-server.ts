import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import { CHANNEL_NAMESPACE_PATTERN, MAX_MESSAGE_BYTES, type LobbyClientToServer, type LobbyServerToClient } from '../../../protocol/index.js';
import type { Logger } from '../logger.js';
import type { ChannelRegistry } from '../media/channel-registry.js';
import { Audiences } from './audiences.js';
import { serveChannels } from './channel-namespace.js';
import { serveLobby } from './lobby.js';

export interface SignallingOptions {
  /** Viewer-count and directory updates are coalesced to at most one per interval. */
  presenceIntervalMs?: number;
  publishKey?: string;
  createPerMinute: number;
  /** Told about every request answered with an error (metrics). */
  onRequestError?: (event: string) => void;
  onChannelCreated?: () => void;
}

/**
 * Socket.IO on the HTTP server: the lobby namespace `/` (create channels, live directory) and one
 * namespace per channel, `/channel/<channelId>`, created on first connection and dropped when empty.
 */
export function attachSignalling(
  httpServer: HttpServer,
  registry: ChannelRegistry,
  logger: Logger,
  options: SignallingOptions,
): { io: Server; audiences: Audiences } {
  const intervalMs = options.presenceIntervalMs ?? 250;
  const io = new Server<LobbyClientToServer, LobbyServerToClient>(httpServer, {
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    cleanupEmptyChildNamespaces: true,
    serveClient: false,
  });
  let directory: { directoryChanged(): void } | null = null;
  const audiences = new Audiences(intervalMs, () => directory?.directoryChanged());
  directory = serveLobby(io.of('/'), registry, (id) => audiences.viewersOf(id), logger, {
    publishKey: options.publishKey,
    createPerMinute: options.createPerMinute,
    directoryIntervalMs: intervalMs * 2,
    onRequestError: options.onRequestError,
    onChannelCreated: options.onChannelCreated,
  });
  serveChannels(io.of(CHANNEL_NAMESPACE_PATTERN), registry, audiences, options.onRequestError);
  return { io, audiences };
}
