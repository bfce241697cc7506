import type { Redis } from 'ioredis';
import { z } from 'zod';
import { audience, channelState } from '../../../protocol/schemas.js';
import { parseJson } from '../parse-json.js';
import { valuesByPrefix } from './redis.js';

/**
 * What an instance publishes about each channel it carries. Records come from other instances,
 * possibly of another version: checked on read.
 */
const recordSchema = z.object({
  channelId: z.string(),
  /** The owning instance (random per process). */
  instanceId: z.string(),
  state: channelState.loose(),
  audience,
  /** When the stream went live (ms since epoch), 0 before. */
  liveSince: z.number(),
});
export type ChannelRecord = z.infer<typeof recordSchema>;

export const parseRecord = (json: string | null): ChannelRecord | null => parseJson(recordSchema, json);

/**
 * Which instance carries which channel, in Redis. Each record expires unless its owner refreshes
 * it, so the channels of an instance that died disappear on their own after `ttlMs`.
 */
export class ChannelDirectory {
  constructor(
    private readonly redis: Redis,
    readonly ttlMs: number,
    private readonly prefix = 'livecast:channel:',
    private readonly instancePrefix = 'livecast:instance:',
  ) {}

  /** Marks an instance alive for one expiry period (its heartbeat renews it). */
  async markAlive(instanceId: string): Promise<void> {
    await this.redis.set(this.instancePrefix + instanceId, '1', 'PX', this.ttlMs);
  }

  /** Which of these instances have renewed their mark within the expiry period. */
  async alive(instanceIds: string[]): Promise<Set<string>> {
    if (instanceIds.length === 0) return new Set();
    const marks = await this.redis.mget(instanceIds.map((id) => this.instancePrefix + id));
    return new Set(instanceIds.filter((_, i) => marks[i] !== null));
  }

  async put(record: ChannelRecord): Promise<void> {
    await this.redis.set(this.prefix + record.channelId, JSON.stringify(record), 'PX', this.ttlMs);
  }

  async remove(channelId: string): Promise<void> {
    await this.redis.del(this.prefix + channelId);
  }

  async get(channelId: string): Promise<ChannelRecord | null> {
    return parseRecord(await this.redis.get(this.prefix + channelId));
  }

  /** Every channel of every instance (SCAN, so Redis is never blocked by a long listing). */
  async list(): Promise<ChannelRecord[]> {
    return (await valuesByPrefix(this.redis, this.prefix)).map(parseRecord).filter((r) => r !== null);
  }
}
