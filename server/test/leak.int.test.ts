/**
 * 100 go-live / stop cycles fed by RTP (no browser) must leave the server exactly as they found
 * it: routers, transports, child processes, UDP sockets, HLS folders, SDP files and ports.
 */
import { execFileSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, udpSocketCount } from './helpers/processes.js';
import { startFedChannel, startTestApp } from './helpers/test-app.js';

let app: Awaited<ReturnType<typeof startTestApp>>;
beforeAll(async () => {
  // Leaks, not A/V sync, are tested here: FFmpeg as a source sends its clock only every 5 s.
  app = await startTestApp({ MEDIASOUP_WORKERS: '2', CHANNEL_CREATE_PER_MINUTE: '1000', HLS_SYNC_WAIT_MS: '500' });
});
afterAll(() => app?.stop());

/** Direct children of this process by command name (mediasoup workers, FFmpeg). */
function childProcesses(): string[] {
  const out = execFileSync('ps', ['-o', 'comm=', '--ppid', String(process.pid)]).toString();
  return out.split('\n').map((l) => l.trim()).filter((c) => c && c !== 'ps').sort();
}

async function snapshot() {
  const dumps = await Promise.all(app.pool.workers.map((w) => w.dump()));
  const routerDumps = await Promise.all(app.registry.list().map((c) => c.router.dump()));
  const runDirs = (await readdir(os.tmpdir())).filter((d) => d.startsWith(`livecast-${process.pid}-`));
  const sdpFiles = (await Promise.all(runDirs.map((d) => readdir(`${os.tmpdir()}/${d}`)))).flat();
  return {
    routers: dumps.reduce((n, d) => n + d.routerIds.length, 0),
    transports: routerDumps.reduce((n, d) => n + d.transportIds.length, 0),
    children: childProcesses(),
    udpSockets: await udpSocketCount(),
    hlsFolders: (await readdir(app.config.hls.dir)).length,
    sdpFiles: sdpFiles.length,
    portsAllocated: app.ports.allocated,
    channels: app.registry.size,
  };
}

it('100 go-live/stop cycles leak nothing', async () => {
  const before = await snapshot();
  expect(before.children).toEqual(['mediasoup-worke', 'mediasoup-worke']); // comm is cut at 15 characters
  // The counter sees what a live channel holds (FFmpeg's 4 RTP/RTCP ports, the pipeline's and
  // the ingest's plain transports), so a leak would show.
  const probe = await startFedChannel(app);
  expect(await udpSocketCount()).toBeGreaterThanOrEqual(before.udpSockets + 8);
  await probe.stop();
  const CYCLES = 100;
  const PARALLEL = 4;
  let live = 0;
  for (let done = 0; done < CYCLES; done += PARALLEL) {
    await Promise.all(
      Array.from({ length: Math.min(PARALLEL, CYCLES - done) }, async (_, i) => {
        // Every tenth cycle waits for the playlist, so FFmpeg is stopped mid-segment too.
        const waitLive = (done + i) % 10 === 0;
        const fed = await startFedChannel(app, { waitLive });
        if (waitLive) live++;
        else await eventually(() => fed.channel.ffmpegPid, 'FFmpeg to start', 10_000);
        await fed.stop();
      }),
    );
  }
  expect(live).toBe(10);
  // Sockets of killed senders close asynchronously; give the kernel a moment.
  await eventually(async () => (await udpSocketCount()) <= before.udpSockets, 'UDP sockets to be released', 5000).catch(() => undefined);
  const after = await snapshot();
  console.log('leak check', { before, after });
  expect(after).toEqual(before);
}, 240_000);
