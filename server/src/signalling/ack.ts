import type { Socket } from 'socket.io';
import type { z } from 'zod';
import type { AckResult } from '../../../protocol/index.js';
import { keyOf, type Quota } from '../limits/quota.js';
import type { Logger } from '../logger.js';

type AnyAck = (result: unknown) => void;
type UntypedListeners = { on(event: string, listener: (...args: unknown[]) => void): void };
const noAck: AnyAck = () => undefined;

/**
 * Binds a protocol (request schemas + result types) to a socket and returns a typed `on(event,
 * handler)`. Handlers can never throw into Socket.IO: the payload is validated against the
 * protocol schema, errors (thrown or rejected) become `{ error }` acks, and a client that sent no
 * ack callback is tolerated. Arguments are read positionally — `(payload, ack)` or `(ack)` —
 * because a hostile client can send anything.
 */
export function requestHandlers<S extends Record<string, z.ZodType>, R extends { [K in keyof S]: unknown }>(
  schemas: S,
  socket: Socket,
  logger: Logger,
  onError: (event: string) => void = () => undefined,
  /** Requests in progress per Socket.IO connection (all its namespaces): a client cannot pile up work. */
  pending?: Quota,
) {
  return <E extends keyof S & string>(event: E, handler: (payload: z.output<S[E]>) => Promise<R[E]> | R[E]): void => {
    const schema = schemas[event] as z.ZodType<z.output<S[E]>>;
    // Registered untyped: what arrives is whatever the client sent, not what the protocol says.
    (socket as unknown as UntypedListeners).on(event, async (...args: unknown[]) => {
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
        reply({ error: `invalid ${event} request${where}: ${issue?.message ?? 'malformed payload'}` });
        return;
      }
      let release: () => void = () => undefined;
      try {
        if (pending) release = pending.take(keyOf(socket.conn));
        reply(await handler(parsed.data));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        logger.warn({ event, socketId: socket.id, err: message }, 'request failed');
        onError(event);
        reply({ error: message });
      } finally {
        release();
      }
    });
  };
}
