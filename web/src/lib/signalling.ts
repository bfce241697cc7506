import { io, type Socket } from 'socket.io-client';
import {
  atOrigin,
  channelNamespace,
  isError,
  type ChannelAuth,
  type ChannelClientToServer,
  type ChannelServerToClient,
  type ErrorCode,
  type ErrorResult,
  type LobbyClientToServer,
  type LobbyServerToClient,
} from '$protocol';

export type LobbySocket = Socket<LobbyServerToClient, LobbyClientToServer>;
export type ChannelSocket = Socket<ChannelServerToClient, ChannelClientToServer>;

/** A step of the handshake that takes longer than this has failed (server gone, network down). */
const REQUEST_TIMEOUT_MS = 10_000;

/** The server refused a request; `code` says what kind of refusal (the page branches on it). */
export class RequestError extends Error {
  constructor(
    readonly code: ErrorCode | 'timeout',
    message: string,
  ) {
    super(message);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any payload/ack, narrowed per event below
type AnyRequest = (payload: any, ack: (result: any) => void) => void;
type ResultOf<F extends AnyRequest> = Exclude<Parameters<Parameters<F>[1]>[0], ErrorResult>;

/** Sends one request and resolves with its ack, or rejects with a RequestError carrying the server's code. */
export async function request<M extends { [K in E]: AnyRequest }, E extends keyof M & string>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- only the emit side matters here
  socket: Socket<any, M>,
  event: E,
  payload: Parameters<M[E]>[0],
): Promise<ResultOf<M[E]>> {
  let result: unknown;
  try {
    // The event and payload are checked against the protocol by this function's signature;
    // Socket.IO's own emit typing cannot follow a generic event name, so the call is dynamic.
    const timed = socket.timeout(REQUEST_TIMEOUT_MS);
    result = await Reflect.apply(timed.emitWithAck, timed, [event, payload]);
  } catch {
    throw new RequestError('timeout', `the server did not answer ${event} in time`);
  }
  if (isError(result)) throw new RequestError(result.error.code, result.error.message);
  return result as ResultOf<M[E]>;
}

export function connectLobby(): LobbySocket {
  return io({ transports: ['websocket'] });
}

/** `origin`: another instance of the cluster that carries the channel; null: the page's own server. */
export function connectChannel(channelId: string, auth: ChannelAuth, origin: string | null = null): ChannelSocket {
  return io(atOrigin(origin, channelNamespace(channelId)), { auth, transports: ['websocket'] });
}

/** What `connected` needs: Socket.IO's reserved connection events, whatever the socket's event maps. */
interface Connectable {
  readonly connected: boolean;
  once(event: 'connect', listener: () => void): unknown;
  once(event: 'connect_error', listener: (error: Error) => void): unknown;
  off(event: 'connect' | 'connect_error', listener?: (...args: never[]) => void): unknown;
  disconnect(): unknown;
}

/** Resolves on the first connect, rejects with the server's reason (its code in `error.data`). */
export function connected(socket: Connectable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    const onConnect = () => {
      socket.off('connect_error', onError);
      resolve();
    };
    const onError = (error: Error) => {
      socket.off('connect', onConnect);
      socket.disconnect();
      reject(error);
    };
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
  });
}
