import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { freePort } from '../server/test/helpers/net.js';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { expect, test } from '@playwright/test';
import { descendants, isAlive } from '../server/test/helpers/processes.js';
import { expectVideoPlaying } from './fixtures.js';

test('SIGTERM tells broadcasters and viewers, stops every child process and removes the HLS folders', async ({ browser }) => {
  const hlsDir = await mkdtemp(path.join(os.tmpdir(), 'livecast-e2e-sigterm-'));
  const recordingsDir = await mkdtemp(path.join(os.tmpdir(), 'livecast-e2e-sigterm-recordings-'));
  const port = await freePort();
  const server = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    // Recordings on (the default), in a folder removed with the test's: never in the repository.
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), HLS_DIR: hlsDir, RECORDINGS_DIR: recordingsDir, LOG_LEVEL: 'info', RTMP_PORT: '0', SRT_MIN_PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: server.stdout! }).on('line', (line) => line.includes('livecast listening') && resolve());
      server.once('exit', () => reject(new Error('the server exited during start-up')));
    });
    const base = `http://127.0.0.1:${port}`;
    const broadcaster = await (await browser.newContext({ baseURL: base })).newPage();
    await broadcaster.goto('/go-live');
    await broadcaster.getByTestId('go-live').click();
    await expect(broadcaster.getByTestId('status')).toHaveText('Live', { timeout: 20_000 });
    const channelId = (await broadcaster.getByTestId('channel-id').textContent())!.trim();
    const viewer = await (await browser.newContext({ baseURL: base })).newPage();
    await viewer.goto(`/watch/${channelId}?mode=hls`);
    await expectVideoPlaying(viewer);

    const children = descendants(server.pid!);
    expect(children.map((c) => c.comm).sort()).toEqual(expect.arrayContaining(['ffmpeg', 'mediasoup-worke']));
    expect(await readdir(hlsDir)).toEqual([]); // LL-HLS is held in memory: nothing on disk to leave behind

    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(broadcaster.getByTestId('status')).toHaveText('Ended');
    await expect(broadcaster.getByTestId('status-detail')).toHaveText('the server is shutting down');
    await expect(viewer.getByTestId('status')).toHaveText('Stream ended');
    for (const child of children) await expect.poll(() => isAlive(child.pid), { message: `${child.comm} ${child.pid} stopped` }).toBe(false);
    expect(await readdir(hlsDir)).toEqual([]);
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
    await rm(hlsDir, { recursive: true, force: true });
    await rm(recordingsDir, { recursive: true, force: true });
  }
});
