import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/** The values of every key under `prefix` (SCAN in batches, so Redis is never blocked by a long listing). */
export async function valuesByPrefix(redis: Redis, prefix: string): Promise<(string | null)[]> {
  const values: (string | null)[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) values.push(...(await redis.mget(keys)));
  } while (cursor !== '0');
  return values;
}

/** The URL without its password, for messages and logs. */
export function redactedRedisUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.href;
}

/**
 * A connected Redis client. Startup fails fast with a clear message when Redis is unreachable;
 * once running, ioredis reconnects on its own and the cluster rides out outages.
 *
 * `whileDown` says what commands do while the connection is down: `fail` rejects them at once
 * (callers handle it: a lookup answers "unavailable", a refresh is retried by the next
 * heartbeat), `queue` holds them until Redis is back (subscriptions must not be lost).
 */
export async function connectRedis(url: string, logger: Logger, name: string, whileDown: 'fail' | 'queue'): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectionName: name,
    connectTimeout: 5000,
    enableOfflineQueue: whileDown === 'queue',
    maxRetriesPerRequest: whileDown === 'queue' ? null : 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let connected = false;
  client.on('error', (error: Error) => {
    if (connected) logger.warn({ err: error.message, client: name }, 'redis connection problem');
  });
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot reach Redis at ${redactedRedisUrl(url)} (REDIS_URL): ${message}`);
  }
  connected = true;
  return client;
}
