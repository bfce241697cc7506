/**
 * 100 go-live / stop cycles fed by RTP (no browser) must leave the server exactly as they found
 * it: routers, transports, child processes, UDP sockets, HLS folders, SDP files and ports.
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually } from './helpers/processes.js';
import { startFedChannel, startTestApp } from './helpers/test-app.js';

let app: Awaited<ReturnType<typeof startTestApp>>;
beforeAll(async () => {
  app = await startTestApp({ MEDIASOUP_WORKERS: '2', CHANNEL_CREATE_PER_MINUTE: '1000' });
});
afterAll(() => app?.stop());

/** Direct children of this process by command name (mediasoup workers, FFmpeg). */
function childProcesses(): string[] {
  const out = execFileSync('ps', ['-o', 'comm=', '--ppid', String(process.pid)]).toString();
  return out.split('\n').map((l) => l.trim()).filter((c) => c && c !== 'ps').sort();
}

async function udpSocketCount(): Promise<number> {
  const tables = await Promise.all(['/proc/net/udp', '/proc/net/udp6'].map((f) => readFile(f, 'utf8')));
  return tables.reduce((n, t) => n + t.trim().split('\n').length - 1, 0);
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
    hlsFolders: (await readdir(app.config.HLS_DIR)).length,
    sdpFiles: sdpFiles.length,
    portsAllocated: app.ports.allocated,
    channels: app.registry.size,
  };
}

it('100 go-live/stop cycles leak nothing', async () => {
  const before = await snapshot();
  expect(before.children).toEqual(['mediasoup-worke', 'mediasoup-worke']); // comm is cut at 15 characters
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
