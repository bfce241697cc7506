import { EventEmitter } from 'node:events';
import { newChannelId } from '../../../protocol/ids.js';
import type { Logger } from '../logger.js';
import { newPublishToken, newStreamKey } from '../secrets.js';
import { Channel, type ChannelContext, type ChannelOptions } from './channel.js';
import { ChannelError } from './channel-error.js';
import type { WorkerPool } from '../media/worker-pool.js';

/** All live channels of this server, each on a router of the least-loaded worker. */
export class ChannelRegistry extends EventEmitter<{ created: [Channel] }> {
  private readonly channels = new Map<string, Channel>();
  private pendingCreates = 0;
  private closing = false;
  /** Channels gone from the list (they said 'ended') whose teardown (a recording's last writes) still runs. */
  private readonly tearingDown = new Set<Promise<void>>();

  constructor(
    private readonly pool: WorkerPool,
    private readonly context: ChannelContext,
    private readonly logger: Logger,
  ) {
    super();
  }

  get size(): number {
    return this.channels.size;
  }

  get(channelId: string): Channel | undefined {
    return this.channels.get(channelId);
  }

  list(): Channel[] {
    return [...this.channels.values()];
  }

  /** The live channel whose stream key this is (RTMP names its channel by key alone). */
  findByStreamKey(key: string): Channel | undefined {
    // Every channel is compared (in constant time), so the answer's timing tells nothing.
    let found: Channel | undefined;
    for (const channel of this.channels.values()) if (channel.isStreamKey(key) && !channel.ended) found = channel;
    return found;
  }

  async create(options: ChannelOptions = {}): Promise<{ channel: Channel; publishToken: string; streamKey: string }> {
    if (this.closing) throw new ChannelError('full', 'the server is shutting down');
    const max = this.context.config.channels.max;
    if (this.channels.size + this.pendingCreates >= max) {
      throw new ChannelError('full', `this server is at its limit of ${max} channels; try again later`);
    }
    this.pendingCreates++;
    try {
      const id = newChannelId();
      const publishToken = newPublishToken();
      const streamKey = newStreamKey();
      const router = await this.pool.createRouter({ channelId: id });
      const channel = new Channel(id, publishToken, streamKey, router, this.context, this.logger, options);
      this.channels.set(id, channel);
      channel.once('ended', (reason) => {
        this.channels.delete(id);
        // 'ended' is heard inside end(), before it has handed out its promise: take it a tick later.
        const teardown = Promise.resolve().then(() => channel.end(reason));
        this.tearingDown.add(teardown);
        void teardown.finally(() => this.tearingDown.delete(teardown));
      });
      // An encoder may publish over SRT from now on; without a free port the channel goes on without SRT.
      await channel.openSrt().catch((error: unknown) => channel.logger.warn({ err: error }, 'no SRT listener for this channel'));
      channel.logger.info('channel created');
      this.emit('created', channel);
      return { channel, publishToken, streamKey };
    } finally {
      this.pendingCreates--;
    }
  }

  async endAll(reason: string): Promise<void> {
    this.closing = true;
    // Also the channels that ended moments ago: a shutdown must not cut their recordings short.
    await Promise.all([...this.list().map((c) => c.end(reason)), ...this.tearingDown]);
  }
}
