import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './net.js';
import { eventually, waitForExit } from './processes.js';

/** A livecast server as its own process (`npm start` without the build), on 127.0.0.1. */
export interface Instance {
  url: string;
  pid: number;
  process: ChildProcess;
  /** Dies like a crash or an OOM kill: SIGKILL to the server process only. */
  crash(): void;
  /** SIGTERM (graceful), then SIGKILL to anything left in its process group; removes its hls/. */
  stop(): Promise<void>;
}

/**
 * `cwd`: another checkout of livecast (a benchmark's baseline from an earlier commit). Recordings
 * go to a folder inside its temporary one (removed by stop) unless `env` names RECORDINGS_DIR.
 */
export async function startInstance(env: Record<string, string> = {}, { cwd }: { cwd?: string } = {}): Promise<Instance> {
  const hlsDir = await mkdtemp(path.join(os.tmpdir(), 'livecast-instance-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Its own process group: whatever it leaves behind can be found and stopped by the test.
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), HLS_DIR: hlsDir, RECORDINGS_DIR: path.join(hlsDir, 'recordings'), LOG_LEVEL: 'warn', RTMP_PORT: '0', SRT_MIN_PORT: '0', ...env },
    detached: true,
    ...(cwd ? { cwd } : {}),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const pid = child.pid!;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await waitForExit(pid, 15_000);
    }
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // The group is empty: everything exited.
    }
    await rm(hlsDir, { recursive: true, force: true });
  };
  try {
    await eventually(
      () => {
        if (child.exitCode !== null) throw new Error(`the instance exited during start-up (${child.exitCode})`);
        return fetch(`${url}/healthz`).then((r) => r.ok, () => false);
      },
      `the instance on ${url} to answer`,
      30_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, pid, process: child, crash: () => process.kill(pid, 'SIGKILL'), stop };
}
