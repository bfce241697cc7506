import type { Namespace, Server, Socket } from 'socket.io';
import type {
  ChannelAuth,
  ChannelClientToServer,
  ChannelServerToClient,
  LobbyClientToServer,
  LobbyServerToClient,
} from '../../../protocol/index.js';
import type { ChannelRecord } from '../cluster/channel-directory.js';
import type { ClusterEvents } from '../cluster/messages.js';

/**
 * Socket.IO's generics apply to a whole server, every namespace alike: the server is typed with
 * both the lobby's and the channels' events, so that no namespace needs a cast to its own type.
 */
export type ClientToServer = LobbyClientToServer & ChannelClientToServer;
export type ServerToClient = LobbyServerToClient & ChannelServerToClient;

export interface SocketData {
  role: ChannelAuth['role'];
  /** Set when another instance carries the channel (cluster). */
  remote?: ChannelRecord;
}

export type SignallingServer = Server<ClientToServer, ServerToClient, ClusterEvents, SocketData>;
export type SignallingNamespace = Namespace<ClientToServer, ServerToClient, ClusterEvents, SocketData>;
export type SignallingSocket = Socket<ClientToServer, ServerToClient, ClusterEvents, SocketData>;
