import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { eventually } from './processes.js';
import { freePort } from './net.js';
import { stopProcess } from './rtp-source.js';

export interface TestRedis {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(500, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      socket.end();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(false));
  });
}

/** A real, throwaway redis-server on 127.0.0.1 (a free port, or `port` to restart one), without persistence. */
export async function startRedis(port?: number): Promise<TestRedis> {
  port ??= await freePort();
  const child = spawn(process.env.REDIS_SERVER_PATH ?? 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning',
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}); is Debian's redis-server installed?`)));
  });
  await Promise.race([eventually(() => answersPing(port!), 'redis-server to answer PING', 10_000), exited]);
  exited.catch(() => undefined);
  return { url: `redis://127.0.0.1:${port}`, process: child, stop: () => stopProcess(child) };
}
