import type { ConnectErrorData, ErrorCode } from '../../../protocol/index.js';

/**
 * A refusal the client should hear about: its code tells the client what to do, its message is
 * shown to the user. Anything else thrown while handling a request is a server fault and reaches
 * the client only as `internal`. As a Socket.IO middleware error, `data` carries the code.
 */
export class ChannelError extends Error {
  readonly data: ConnectErrorData;

  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.data = { code };
  }
}
