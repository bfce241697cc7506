import type { z } from 'zod';
import type { AckError, AckResult } from '../../../protocol/index.js';
import { keyOf, type Quota } from '../limits/quota.js';
import type { Logger } from '../logger.js';
import { ChannelError } from '../channel/channel-error.js';

type AnyAck = (result: unknown) => void;
const noAck: AnyAck = () => undefined;
type Handler = (args: unknown[]) => void;

/** What request handling needs of a Socket.IO socket. */
export interface RequestSocket {
  readonly id: string;
  /** The underlying connection (shared by all namespaces of one client). */
  readonly conn: object;
  onAny(listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

/** Handlers per socket: one `onAny` dispatcher each, so that any event a client sends is looked up, not trusted. */
const handlersOf = new WeakMap<RequestSocket, Map<string, Handler>>();

/**
 * What a client is told about a failure. A ChannelError is a deliberate refusal (code and message
 * for the user); anything else is a fault of ours, logged with its detail and reported as
 * `internal` without it (mediasoup or Redis text is of no use to a browser and may say too much).
 */
export function toAckError(error: unknown, log: Logger, context: object): AckError {
  if (error instanceof ChannelError) {
    log.warn({ ...context, code: error.code, err: error.message }, 'request refused');
    return { code: error.code, message: error.message };
  }
  log.error({ ...context, err: error }, 'request failed');
  return { code: 'internal', message: 'the server could not do that; please try again' };
}

/**
 * Binds a protocol (request schemas + result types) to a socket and returns a typed `on(event,
 * handler)`. Handlers can never throw into Socket.IO: the payload is validated against the
 * protocol schema, errors (thrown or rejected) become `{ error: { code, message } }` acks, and a
 * client that sent no ack callback is tolerated. Arguments are read positionally — `(payload,
 * ack)` or `(ack)` — because a hostile client can send anything; events nobody handles are dropped.
 */
export function requestHandlers<S extends Record<string, z.ZodType>, R extends { [K in keyof S]: unknown }>(
  schemas: S,
  socket: RequestSocket,
  logger: Logger,
  onError: (event: string) => void = () => undefined,
  /** Requests in progress per Socket.IO connection (all its namespaces): a client cannot pile up work. */
  pending?: Quota,
) {
  let handlers = handlersOf.get(socket);
  if (!handlers) {
    const table = new Map<string, Handler>();
    handlersOf.set(socket, (handlers = table));
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (typeof event === 'string') table.get(event)?.(args);
    });
  }
  return <E extends keyof S & string>(event: E, handler: (payload: z.output<S[E]>) => Promise<R[E]> | R[E]): void => {
    const schema = schemas[event] as z.ZodType<z.output<S[E]>>;
    handlers.set(event, (args) => void handle(args));

    async function handle(args: unknown[]): Promise<void> {
      const last = args[args.length - 1];
      const ack: AnyAck = typeof last === 'function' ? (last as AnyAck) : noAck;
      const payload = typeof args[0] === 'function' ? undefined : args[0];
      const reply = (result: AckResult<R[E]>) => {
        try {
          ack(result);
        } catch {
          // The client is gone or sent a broken callback; nothing to tell it.
        }
      };
      const parsed = schema.safeParse(payload === undefined || payload === null ? {} : payload);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
        onError(event);
        reply({ error: { code: 'bad-request', message: `invalid ${event} request${where}: ${issue?.message ?? 'malformed payload'}` } });
        return;
      }
      let release: () => void = () => undefined;
      try {
        if (pending) release = pending.take(keyOf(socket.conn));
        reply(await handler(parsed.data));
      } catch (error) {
        onError(event);
        reply({ error: toAckError(error, logger, { event, socketId: socket.id }) });
      } finally {
        release();
      }
    }
  };
}
