/**
 * Issue 18 in a cluster: recordings stay on the instance that made them; every instance lists
 * the listed ones cluster-wide with the holder's URL, and redirects requests for one it does not
 * hold to that instance (unlisted ones included: they are reachable by their link).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingPath, recordingPlaylistPath, type RecordingList } from '../../protocol/index.js';
import { eventually } from './helpers/processes.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { createRtpIngest } from './helpers/rtp-ingest.js';
import { startRtpSource, stopProcess } from './helpers/rtp-source.js';
import { startTestApp } from './helpers/test-app.js';
import type { TestServer } from './helpers/server.js';

const listOf = async (app: TestServer): Promise<RecordingList['recordings']> => ((await (await fetch(`${app.url}/recordings`)).json()) as RecordingList).recordings;

/** A broadcast of a few seconds on `app`, recorded and finished. */
async function broadcast(app: TestServer, o: { unlistedRecording?: boolean } = {}): Promise<string> {
  const { channel } = await app.registry.create(o);
  const ingest = await createRtpIngest(channel);
  const source = startRtpSource(ingest);
  try {
    await eventually(() => (app.recordings?.entry(channel.id)?.duration ?? 0) >= 2, 'two seconds recorded', 25_000);
  } finally {
    await channel.end('test over');
    await stopProcess(source);
  }
  await eventually(() => app.recordings?.entry(channel.id)?.status === 'complete', 'the recording to be finished');
  return channel.id;
}

describe('recordings in a cluster', () => {
  let redis: TestRedis;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    redis = await startRedis();
    const env = { REDIS_URL: redis.url, CLUSTER_CHANNEL_TTL_MS: '1500', LOG_LEVEL: 'error' };
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it('lists a recording of instance A on instance B with A’s URL, and B redirects its files to A', async () => {
    const listed = await broadcast(a);
    const unlisted = await broadcast(a, { unlistedRecording: true });
    const onB = await eventually(async () => (await listOf(b)).find((r) => r.recordingId === listed), 'B to list A’s recording', 10_000);
    expect(onB.origin).toBe(a.url);
    expect(onB.status).toBe('complete');
    // The recording never moved: B holds nothing.
    expect(b.recordings?.list()).toEqual([]);
    expect((await listOf(b)).map((r) => r.recordingId)).not.toContain(unlisted);
    expect((await listOf(a)).map((r) => r.recordingId)).not.toContain(unlisted);

    for (const id of [listed, unlisted]) {
      for (const path of [recordingPath(id), recordingPlaylistPath(id)]) {
        const response = await fetch(`${b.url}${path}`, { redirect: 'manual' });
        expect(response.status, path).toBe(307);
        expect(response.headers.get('location')).toBe(`${a.url}${path}`);
      }
    }
    // Followed, the redirect plays from A.
    expect((await fetch(`${b.url}${recordingPlaylistPath(listed)}`)).status).toBe(200);
    expect((await fetch(`${b.url}${recordingPath('AAAAAAAAAAAAAAAAAAAAAA')}`)).status).toBe(404);
  }, 90_000);
});
