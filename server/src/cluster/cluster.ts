import { randomBytes } from 'node:crypto';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import type { ClusterConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { ChannelDirectory, type ChannelRecord } from './channel-directory.js';
import { connectRedis } from './redis.js';
import { RecordingDirectory } from './recording-directory.js';



/**
 * This instance's membership of a cluster: the Redis connections, the Socket.IO adapter that
 * carries events between instances, and the shared channel directory.
 */
export class Cluster {
  /** Tells this process apart from every other instance (and from its own earlier lives). */
  readonly instanceId = randomBytes(6).toString('hex');
  readonly directory: ChannelDirectory;
  /** Which instance holds which recordings (they stay where they were made). */
  readonly recordings: RecordingDirectory;
  private reconnectedAt = -Infinity;

  private constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    channelTtlMs: number,
  ) {
    this.directory = new ChannelDirectory(pub, channelTtlMs);
    this.recordings = new RecordingDirectory(pub, channelTtlMs);
    pub.on('ready', () => (this.reconnectedAt = Date.now()));
  }

  /**
   * The directory record of a channel, or null when the channel is gone. Right after a Redis
   * outage records may have expired while their owners are alive and about to rewrite them, so
   * for one expiry period "missing" is an error (unavailable), not an answer.
   */
  async locate(channelId: string): Promise<ChannelRecord | null> {
    const record = await this.directory.get(channelId);
    if (!record && !this.settled) throw new Error('the channel directory is catching up after a Redis outage');
    return record;
  }

  /** Redis has been reachable for a whole expiry period: what is missing from it is really gone. */
  get settled(): boolean {
    return Date.now() - this.reconnectedAt >= this.directory.ttlMs;
  }

  /** `config.channelTtlMs`: directory records expire after this long without a refresh. */
  static async connect(config: ClusterConfig, logger: Logger): Promise<Cluster> {
    const pub = await connectRedis(config.redisUrl, logger, 'livecast-pub', 'fail');
    const sub = await connectRedis(config.redisUrl, logger, 'livecast-sub', 'queue').catch((error: unknown) => {
      pub.disconnect();
      throw error;
    });
    // The adapter publishes without handling failures; during a Redis outage every event would
    // become an unhandled rejection and stop the process. Events are fire-and-forget anyway
    // (pub/sub keeps nothing): the heartbeat re-sends counts and viewers re-read the directory.
    const publish = pub.publish.bind(pub);
    pub.publish = ((...args: Parameters<typeof publish>) => {
      const sent = publish(...args);
      sent.catch(() => undefined);
      return sent;
    }) as typeof pub.publish;
    return new Cluster(pub, sub, config.channelTtlMs);
  }

  /** How often records are refreshed and owners checked: three chances before a record expires. */
  get heartbeatMs(): number {
    return Math.max(250, Math.floor(this.directory.ttlMs / 3));
  }

  adapter(): ReturnType<typeof createAdapter> {
    return createAdapter(this.pub, this.sub, { key: 'livecast' });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
  }
}
