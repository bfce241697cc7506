import { expect, test, type Page } from '@playwright/test';
import { startInstance, type Instance } from '../server/test/helpers/instance.js';
import { descendants, isAlive } from '../server/test/helpers/processes.js';
import { startRedis, type TestRedis } from '../server/test/helpers/redis.js';
import { watchCspViolations } from './csp.js';
import { expectVideoPlaying } from './fixtures.js';

/**
 * Two livecast instances (separate processes, as deployed) sharing one real Redis: the broadcaster
 * publishes through A, viewers open their pages on B.
 */
const TTL_MS = 2000;
let redis: TestRedis;
let a: Instance;
let b: Instance;

test.beforeAll(async () => {
  redis = await startRedis();
  // One layer, as in the other specs but the simulcast one (two cores: see the fixtures' `simulcast`);
  // a relayed simulcast broadcast played the same when this test ran alone with SIMULCAST=on.
  const env = { REDIS_URL: redis.url, CLUSTER_CHANNEL_TTL_MS: String(TTL_MS), MEDIASOUP_WORKERS: '1', SIMULCAST: 'off' };
  [a, b] = await Promise.all([startInstance(env), startInstance(env)]);
});
test.afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
});

const viewerCount = (page: Page) => page.getByTestId('viewer-count');

test('viewers on instance B play A’s channel over HLS and over WebRTC relayed by B, every page counts them all, and A’s crash ends it for them', async ({ browser }) => {
  // Two server processes, three pages, and HLS that starts once the broadcaster's clock is known
  // (HLS_SYNC_WAIT_MS): more than the default 90 s on a busy 2-core machine.
  test.setTimeout(180_000);
  const context = await browser.newContext();
  // Pages on B load HLS from A and the broadcaster's page may publish to another instance: the CSP allows it.
  const cspViolations = await watchCspViolations(context);
  const broadcaster = await context.newPage();
  await broadcaster.goto(`${a.url}/go-live`);
  await broadcaster.getByTestId('go-live').click();
  await expect(broadcaster.getByTestId('status')).toHaveText('Live', { timeout: 20_000 });
  const channelId = (await broadcaster.getByTestId('channel-id').textContent())!.trim();

  // B's directory lists A's channel; its link opens the watch page on B.
  const hlsOnB = await context.newPage();
  await hlsOnB.goto(`${b.url}/`);
  await expect(hlsOnB.locator(`a[href="/watch/${channelId}"]`)).toBeVisible();
  await hlsOnB.goto(`${b.url}/watch/${channelId}?mode=hls`);
  const realtimeOnB = await context.newPage();
  await realtimeOnB.goto(`${b.url}/watch/${channelId}?mode=realtime`);
  const hlsOnA = await context.newPage();
  await hlsOnA.goto(`${a.url}/watch/${channelId}?mode=hls`);
  for (const page of [hlsOnB, realtimeOnB, hlsOnA]) await expectVideoPlaying(page);
  await expect(realtimeOnB.getByTestId('mode')).toHaveAttribute('data-mode', 'realtime');
  expect(cspViolations).toEqual([]);

  // One total everywhere: on both instances' pages and on the broadcaster's.
  for (const page of [hlsOnB, realtimeOnB, hlsOnA, broadcaster]) await expect(viewerCount(page)).toHaveAttribute('data-viewers', '3');
  await expect(broadcaster.getByTestId('viewers-by-mode')).toHaveAttribute('data-realtime', '1');
  // The WebRTC viewer on B is served by B, from a relay of A's router (its tracks piped over UDP).
  const realtimeOn = async (instance: Instance) =>
    Number(/^livecast_viewers\{mode="realtime"\} (\d+)$/m.exec(await (await fetch(`${instance.url}/metrics`)).text())?.[1]);
  expect(await realtimeOn(b)).toBe(1);
  expect(await realtimeOn(a)).toBe(0);
  await hlsOnA.close();
  for (const page of [hlsOnB, realtimeOnB, broadcaster]) await expect(viewerCount(page)).toHaveAttribute('data-viewers', '2');

  // A dies without a chance to tell anyone; its FFmpeg and mediasoup worker must not outlive it.
  const children = descendants(a.pid);
  expect(children.map((c) => c.comm)).toEqual(expect.arrayContaining(['ffmpeg', 'mediasoup-worke']));
  const crashedAt = Date.now();
  a.crash();
  for (const page of [hlsOnB, realtimeOnB]) {
    await expect(page.getByTestId('status')).toHaveText('Stream ended', { timeout: TTL_MS * 3 });
  }
  const endedAfterMs = Date.now() - crashedAt;
  console.log(`viewer pages on B showed the end ${endedAfterMs} ms after A was killed (directory TTL ${TTL_MS} ms)`);
  expect(endedAfterMs).toBeLessThan(TTL_MS * 2 + 1000);
  await expect(hlsOnB.getByTestId('status-detail')).toContainText('stopped responding');
  for (const child of children) {
    await expect.poll(() => isAlive(child.pid), { message: `${child.comm} ${child.pid} exits with its server` }).toBe(false);
  }
  await context.close();
});
