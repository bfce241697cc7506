import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { RecordingEntry } from '../../../protocol/index.js';
import { recordingEntry } from '../../../protocol/schemas.js';
import { parseJson } from '../parse-json.js';
import { valuesByPrefix } from './redis.js';

/** What an instance publishes about the recordings it holds; from other instances (maybe other versions): checked on read. */
const holdingsSchema = z.object({ instanceId: z.string(), origin: z.string(), recordings: z.array(recordingEntry.loose()) });
type Holdings = z.infer<typeof holdingsSchema>;

/** An instance publishes at most this many recordings (its newest): the shared list stays small. */
export const MAX_PUBLISHED_RECORDINGS = 500;

export const parseHoldings = (json: string | null): Holdings | null => parseJson(holdingsSchema, json);

/**
 * Which instance holds which recordings, in Redis: one record per instance (its recordings with
 * its origin), expiring unless refreshed, so the recordings of an instance that is down (and so
 * cannot serve them) leave the list, and come back with it. Recordings themselves never move:
 * they stay on the disk of the instance that made them.
 */
export class RecordingDirectory {
  constructor(
    private readonly redis: Redis,
    readonly ttlMs: number,
    private readonly prefix = 'livecast:recordings:',
  ) {}

  async publish(instanceId: string, origin: string, recordings: RecordingEntry[]): Promise<void> {
    const holdings: Holdings = { instanceId, origin, recordings: recordings.slice(0, MAX_PUBLISHED_RECORDINGS) };
    await this.redis.set(this.prefix + instanceId, JSON.stringify(holdings), 'PX', this.ttlMs);
  }

  async withdraw(instanceId: string): Promise<void> {
    await this.redis.del(this.prefix + instanceId);
  }

  /** Every live instance's holdings. */
  async all(): Promise<Holdings[]> {
    return (await valuesByPrefix(this.redis, this.prefix)).map(parseHoldings).filter((h) => h !== null);
  }

  /** The listed recordings of every instance, each with its holder's origin, newest first. */
  async listed(): Promise<RecordingEntry[]> {
    return (await this.all())
      .flatMap((h) => h.recordings.filter((r) => r.listed).map((r) => ({ ...r, origin: h.origin })))
      .sort((a, b) => b.startedAt - a.startedAt);
  }

  /** The origin of the instance other than `self` that holds a recording, or null. */
  async originOf(recordingId: string, self: string): Promise<string | null> {
    const holder = (await this.all()).find((h) => h.instanceId !== self && h.recordings.some((r) => r.recordingId === recordingId));
    return holder?.origin ?? null;
  }
}
