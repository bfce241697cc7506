import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestServer } from './helpers/server.js';
import { startTestApp } from './helpers/test-app.js';
import { eventually } from './helpers/processes.js';

let app: TestServer;

beforeAll(async () => {
  app = await startTestApp({ MEDIASOUP_WORKERS: '2' });
});
afterAll(() => app?.stop());

it('replaces a worker killed with SIGKILL and ends exactly the channels it carried', async () => {
  // The least-loaded choice puts one channel on each worker.
  const a = (await app.registry.create()).channel;
  const b = (await app.registry.create()).channel;
  const reasons = new Map<string, string>();
  for (const c of [a, b]) c.once('ended', (reason) => reasons.set(c.id, reason));

  const victim = app.pool.workers[0]!;
  const survivorPid = app.pool.workers[1]!.pid;
  process.kill(victim.pid, 'SIGKILL');

  await eventually(() => reasons.size === 1, 'one channel to end');
  expect([...reasons.values()]).toEqual(['the media server restarted; please go live again']);
  const [endedId] = [...reasons.keys()];
  const survivor = endedId === a.id ? b : a;
  expect(app.registry.get(endedId!)).toBeUndefined();
  expect(app.registry.get(survivor.id)).toBe(survivor);
  expect(survivor.ended).toBe(false);

  await eventually(() => app.pool.workers.length === 2, 'the worker to be replaced');
  const pids = app.pool.workers.map((w) => w.pid);
  expect(pids).toContain(survivorPid);
  expect(pids).not.toContain(victim.pid);

  // New channels work and go to the fresh, empty worker.
  const c = (await app.registry.create()).channel;
  expect(c.router.closed).toBe(false);
  expect(app.pool.loads().map((l) => l.routers).sort()).toEqual([1, 1]);
  await Promise.all([survivor, c].map((ch) => ch.end('test over')));
});
