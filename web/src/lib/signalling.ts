import { io, type Socket } from 'socket.io-client';
import {
  atOrigin,
  channelNamespace,
  isError,
  type ChannelAuth,
  type ChannelClientToServer,
  type ChannelServerToClient,
  type ErrorResult,
  type LobbyClientToServer,
  type LobbyServerToClient,
} from '$protocol';

export type LobbySocket = Socket<LobbyServerToClient, LobbyClientToServer>;
export type ChannelSocket = Socket<ChannelServerToClient, ChannelClientToServer>;

/** A step of the handshake that takes longer than this has failed (server gone, network down). */
const REQUEST_TIMEOUT_MS = 10_000;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any payload/ack, narrowed per event below
type AnyRequest = (payload: any, ack: (result: any) => void) => void;
type ResultOf<F extends AnyRequest> = Exclude<Parameters<Parameters<F>[1]>[0], ErrorResult>;

/** Sends one request and resolves with its ack, or rejects with the server's `{ error }` message. */
export async function request<M extends { [K in E]: AnyRequest }, E extends keyof M & string>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- only the emit side matters here
  socket: Socket<any, M>,
  event: E,
  payload: Parameters<M[E]>[0],
): Promise<ResultOf<M[E]>> {
  let result: unknown;
  try {
    const timed = socket.timeout(REQUEST_TIMEOUT_MS) as unknown as {
      emitWithAck(event: string, payload: unknown): Promise<unknown>;
    };
    result = await timed.emitWithAck(event, payload);
  } catch {
    throw new Error(`the server did not answer ${event} in time`);
  }
  if (isError(result)) throw new Error(result.error);
  return result as ResultOf<M[E]>;
}

export function connectLobby(): LobbySocket {
  return io({ transports: ['websocket'] });
}

/** `origin`: another instance of the cluster that carries the channel; null: the page's own server. */
export function connectChannel(channelId: string, auth: ChannelAuth, origin: string | null = null): ChannelSocket {
  return io(atOrigin(origin, channelNamespace(channelId)), { auth, transports: ['websocket'] });
}

/** Resolves on the first connect, rejects with the server's reason (e.g. "channel not found"). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- works for any typed socket
export function connected(socket: Socket<any, any>): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    const s = socket as unknown as Socket;
    const onConnect = () => {
      s.off('connect_error', onError);
      resolve();
    };
    const onError = (error: Error) => {
      s.off('connect', onConnect);
      s.disconnect();
      reject(error);
    };
    s.once('connect', onConnect);
    s.once('connect_error', onError);
  });
}
