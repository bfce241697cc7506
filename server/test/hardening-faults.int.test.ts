/**
 * One channel's failures stay in that channel: a file that cannot be removed, a hung FFmpeg. Immutable files (chattr +i) stand in for I/O errors and read-only
 * remounts; the tests run as root, for whom permission bits would not refuse anything.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeOwnerMark } from '../src/readers/hls/leftovers.js';
import { HlsPipeline } from '../src/readers/hls/hls-pipeline.js';
import { eventually, isAlive, waitForExit } from './helpers/processes.js';
import { startFedChannel, startTestApp } from './helpers/test-app.js';

type TestApp = Awaited<ReturnType<typeof startTestApp>>;

const chattr = (flag: '+i' | '-i', target: string) => execFileSync('chattr', [flag, target]);
const immutable: string[] = [];
const makeImmutable = (target: string) => {
  chattr('+i', target);
  immutable.push(target);
};
afterEach(() => {
  for (const target of immutable.splice(0)) if (existsSync(target)) chattr('-i', target);
});

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => void process.on('unhandledRejection', onUnhandled));
afterAll(() => void process.off('unhandledRejection', onUnhandled));

const metric = async (app: TestApp, name: string) =>
  Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(await app.metrics.registry.metrics())?.[1] ?? 0);

describe('fault isolation', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ HLS_STALL_TIMEOUT_MS: '2000' });
  });
  afterAll(() => app?.stop());

  it('ends a channel whose files cannot be removed without harming the server or another channel', async () => {
    const doomed = await startFedChannel(app);
    const healthy = await startFedChannel(app);
    try {
      const pipeline = doomed.channel.findReader('hls');
      if (!(pipeline instanceof HlsPipeline)) throw new Error('no HLS pipeline');
      makeImmutable(pipeline.sdpPath); // removing it now fails with EPERM
      const pid = doomed.channel.ffmpegPid!;
      await doomed.channel.end('test: a file cannot be removed'); // resolves, never rejects
      expect(doomed.channel.ended).toBe(true);
      expect(app.registry.get(doomed.channel.id)).toBeUndefined();
      expect(await waitForExit(pid)).toBe(true);
      expect(existsSync(pipeline.sdpPath)).toBe(true); // left for the next start-up's clean-up
      const res = await fetch(`${app.url}/hls/${doomed.channel.id}/index.m3u8`);
      expect(await res.text()).toMatch(/#EXT-X-ENDLIST\s*$/); // the final playlist, while players drain

      const before = healthy.channel.hlsStream!.newestSegment;
      await eventually(() => healthy.channel.hlsStream!.newestSegment >= before + 2, 'the other channel to keep streaming');
      expect(unhandled).toEqual([]);
    } finally {
      await doomed.stop();
      await healthy.stop();
    }
  });

  it('kills and restarts an FFmpeg that hangs (SIGSTOP): the playlist advances again within a few seconds', async () => {
    const fed = await startFedChannel(app);
    try {
      const playlist = fed.channel.hlsStream!;
      await eventually(() => playlist.newestSegment >= 2, 'a few segments');
      const stalls = await metric(app, 'livecast_ffmpeg_stalls_total');
      const hung = fed.channel.ffmpegPid!;
      process.kill(hung, 'SIGSTOP');
      const stoppedAt = Date.now();
      const frozenAt = playlist.newestSegment;
      expect(await waitForExit(hung, 8000)).toBe(true);
      await eventually(() => playlist.newestSegment > frozenAt + 1, 'the playlist to advance after the hang', 8000);
      const resumedMs = Date.now() - stoppedAt;
      expect(fed.channel.ended).toBe(false);
      expect(fed.channel.ffmpegPid).not.toBe(hung);
      expect(await metric(app, 'livecast_ffmpeg_stalls_total')).toBe(stalls + 1);
      expect(resumedMs).toBeLessThan(8000);
      console.log(`HLS resumed ${resumedMs} ms after FFmpeg was stopped (stall timeout 2 s)`);
    } finally {
      await fed.stop();
    }
  });
});

describe('start-up clean-up', () => {
  it('removes channel folders and run directories of processes that are gone, and keeps live ones', async () => {
    const hlsDir = await mkdtemp(path.join(os.tmpdir(), 'livecast-int-leftovers-'));
    const dead = spawnSync('true').pid!; // a pid that just exited
    expect(isAlive(dead)).toBe(false);
    const crashed = path.join(hlsDir, 'A'.repeat(22));
    const unmarked = path.join(hlsDir, 'B'.repeat(22));
    const live = path.join(hlsDir, 'C'.repeat(22));
    const notAChannel = path.join(hlsDir, 'keep-me');
    for (const dir of [crashed, unmarked, live, notAChannel]) await mkdir(dir);
    await writeFile(path.join(crashed, '.owner'), `${dead} 0123456789ab`);
    await writeFile(path.join(crashed, 'seg_00001.ts'), 'x');
    await writeOwnerMark(live); // this very process
    const runDir = path.join(os.tmpdir(), `livecast-${dead}-0123456789ab-abcdef`);
    await mkdir(runDir, { recursive: true });
    const app = await startTestApp({ HLS_DIR: hlsDir });
    try {
      expect((await readdir(hlsDir)).sort()).toEqual(['C'.repeat(22), 'keep-me']);
      expect(existsSync(runDir)).toBe(false);
    } finally {
      await app.stop();
      await rm(hlsDir, { recursive: true, force: true });
    }
  });
});
