/**
 * Issue 18 through the real pages: a 20 s broadcast from /go-live is rewound by a viewer who
 * joins at 20 s (DVR), then, once stopped, replayed from the start, sought to 10 s and played to
 * its end; the directory lists it under "Recent broadcasts"; its MP4 is checked by ffprobe; and a
 * server SIGKILLed mid-broadcast lists the recording as interrupted after a restart, and it plays.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { recordingDownloadPath, type RecordingEntry } from '../protocol/index.js';
import { freePort } from '../server/test/helpers/net.js';
import { expect, expectVideoPlaying, goLive, test } from './fixtures.js';

/** axe-core's serious and critical findings on the page as it is now. */
async function accessibilityProblems(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

const video = (page: Page) => page.getByTestId('player');
const currentTime = (page: Page) => video(page).evaluate((v: HTMLVideoElement) => v.currentTime);

async function expectAdvancing(page: Page): Promise<void> {
  const t0 = await currentTime(page);
  await expect.poll(() => currentTime(page)).toBeGreaterThan(t0 + 0.5);
}

test('a 20 s broadcast: rewound while live (DVR), then replayed from the start, sought and played to the end; listed; its MP4 is whole', async ({ app, browser, page }) => {
  test.setTimeout(180_000);
  await page.goto('/go-live');
  await page.getByTestId('title-input').fill('Recorded on purpose');
  await page.getByTestId('go-live').click();
  await expect(page.getByTestId('status')).toHaveText('Live', { timeout: 20_000 });
  const channelId = (await page.getByTestId('channel-id').textContent())!.trim();
  const liveAt = Date.now();
  await expect(page.getByTestId('recording-panel')).toContainText('This broadcast is being recorded');

  // DVR: a viewer who joins 20 s into the broadcast goes back to 2 s of it, then back to the edge.
  await page.waitForTimeout(Math.max(0, 20_000 - (Date.now() - liveAt)));
  const viewer = await (await browser.newContext()).newPage();
  await viewer.goto(`/watch/${channelId}?mode=hls`);
  await expectVideoPlaying(viewer);
  await viewer.getByTestId('rewind').click();
  await expect(viewer.getByTestId('rewound')).toBeVisible();
  await expect(viewer.getByTestId('seek')).toBeVisible();
  await expect.poll(() => viewer.getByTestId('seek').evaluate((e: HTMLInputElement) => Number(e.max)), { timeout: 20_000 }).toBeGreaterThan(15);
  await viewer.getByTestId('seek').fill('2');
  await expect.poll(() => currentTime(viewer)).toBeGreaterThanOrEqual(2);
  expect(await currentTime(viewer)).toBeLessThan(5);
  await expectAdvancing(viewer);
  // "Go to live" leaves the recording for the live edge (LL-HLS again, a second or so behind).
  await viewer.getByTestId('go-live-edge').click();
  await expect(viewer.getByTestId('rewound')).toHaveCount(0);
  await expect(viewer.getByTestId('seek')).toHaveCount(0);
  await expectVideoPlaying(viewer);
  await expect.poll(async () => Number(await viewer.getByTestId('latency').getAttribute('data-seconds')), { timeout: 20_000 }).toBeLessThan(3);

  await page.getByTestId('stop').click();
  await expect(page.getByTestId('status')).toHaveText('Ended');
  // The viewer who was watching is offered the replay.
  await expect(viewer.getByTestId('watch-replay')).toBeVisible({ timeout: 15_000 });
  await viewer.context().close();

  // The replay: from the start, sought to 10 s, played to its end.
  const watcher = await (await browser.newContext()).newPage();
  await watcher.goto(`/watch/${channelId}`);
  await expect(watcher.getByTestId('status')).toHaveText('Replay');
  await expect(watcher.getByTestId('stream-title')).toHaveText('Recorded on purpose');
  await expectVideoPlaying(watcher);
  expect(await currentTime(watcher)).toBeLessThan(5);
  const duration = await video(watcher).evaluate((v: HTMLVideoElement) => v.duration);
  expect(duration).toBeGreaterThan(19);
  await watcher.getByTestId('seek').fill('10');
  await expect.poll(() => currentTime(watcher)).toBeGreaterThanOrEqual(10);
  await expectAdvancing(watcher);
  await watcher.getByTestId('seek').fill(String(Math.floor(duration - 2)));
  await expect.poll(() => video(watcher).evaluate((v: HTMLVideoElement) => v.ended), { timeout: 15_000 }).toBe(true);
  expect(await accessibilityProblems(watcher)).toEqual([]);

  // The directory's recent broadcasts: title, picture, duration.
  await watcher.goto('/');
  const card = watcher.locator(`[data-testid=recording-entry][data-recording-id="${channelId}"]`);
  await expect(card.getByTestId('recording-title')).toHaveText('Recorded on purpose');
  await expect(card.getByTestId('recording-duration')).toContainText('s');
  await expect.poll(() => card.getByTestId('recording-thumbnail').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  expect(await accessibilityProblems(watcher)).toEqual([]);

  // The download, as the go-live page links it: one MP4 with both streams, about 20 s long.
  const href = await page.getByTestId('recording-download').getAttribute('href');
  expect(href).toBe(recordingDownloadPath(channelId));
  const response = await page.request.get(href!);
  expect(response.status()).toBe(200);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livecast-e2e-download-'));
  try {
    const file = path.join(dir, 'replay.mp4');
    await writeFile(file, await response.body());
    const probe = JSON.parse(spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type:format=duration', '-of', 'json', file]).stdout.toString()) as {
      streams: { codec_type: string }[];
      format: { duration: string };
    };
    expect(probe.streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    const entry = app.recordings!.entry(channelId)!;
    expect(Math.abs(Number(probe.format.duration) - entry.duration)).toBeLessThan(0.5);
    expect(entry.duration).toBeGreaterThan(19);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  // The broadcaster deletes it (its page holds the publish token).
  await page.getByTestId('delete-recording').click();
  await expect(page.getByTestId('recording-panel')).toContainText('The recording is deleted');
  expect(app.recordings!.entry(channelId)).toBeNull();
});

/** A server as its own process (so that it can be killed) over a given recordings folder. */
async function startServerProcess(recordingsDir: string, hlsDir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), HLS_DIR: hlsDir, RECORDINGS_DIR: recordingsDir, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => line.includes('livecast listening') && resolve());
    child.once('exit', () => reject(new Error('the server exited during start-up')));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

test('a server killed mid-broadcast lists the recording as interrupted after a restart, and it plays', async ({ browser }) => {
  test.setTimeout(120_000);
  const hlsDir = await mkdtemp(path.join(os.tmpdir(), 'livecast-e2e-kill-'));
  const recordingsDir = await mkdtemp(path.join(os.tmpdir(), 'livecast-e2e-kill-recordings-'));
  const servers: ChildProcess[] = [];
  try {
    const first = await startServerProcess(recordingsDir, hlsDir);
    servers.push(first.child);
    const broadcaster = await (await browser.newContext({ baseURL: first.url })).newPage();
    const channelId = await goLive(broadcaster);
    await broadcaster.waitForTimeout(6000);
    const killed = new Promise((resolve) => first.child.once('exit', resolve));
    first.child.kill('SIGKILL');
    await killed;
    await broadcaster.context().close();

    const second = await startServerProcess(recordingsDir, hlsDir);
    servers.push(second.child);
    const entry = (await (await fetch(`${second.url}/recordings/${channelId}`)).json()) as RecordingEntry;
    expect(entry.status).toBe('interrupted');
    expect(entry.duration).toBeGreaterThan(3);
    const listed = (await (await fetch(`${second.url}/recordings`)).json()) as { recordings: RecordingEntry[] };
    expect(listed.recordings.map((r) => r.recordingId)).toContain(channelId);

    const watcher = await (await browser.newContext({ baseURL: second.url })).newPage();
    await watcher.goto(`/watch/${channelId}`);
    await expect(watcher.getByTestId('status')).toHaveText('Replay');
    await expect(watcher.getByTestId('replay-details')).toContainText('Interrupted broadcast');
    await expectVideoPlaying(watcher);
    await watcher.context().close();
  } finally {
    for (const child of servers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(hlsDir, { recursive: true, force: true });
    await rm(recordingsDir, { recursive: true, force: true });
  }
});
