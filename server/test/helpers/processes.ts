import { execFileSync } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';

/** All processes below `pid`, with their command names (cut at 15 characters by the kernel). */
export function descendants(pid: number): { pid: number; comm: string }[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,comm=']).toString().trim().split('\n');
  const procs = rows.map((r) => r.trim().split(/\s+/)).map(([p, pp, comm]) => ({ pid: Number(p), ppid: Number(pp), comm: comm ?? '' }));
  const found: { pid: number; comm: string }[] = [];
  const walk = (parent: number) => {
    for (const p of procs.filter((x) => x.ppid === parent)) {
      found.push({ pid: p.pid, comm: p.comm });
      walk(p.pid);
    }
  };
  walk(pid);
  return found;
}

/** True while a process with this pid exists (signal 0 only checks). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `pid` is gone; returns false if it still runs after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** Polls `check` until it returns a truthy value or the time runs out (then throws `what`). */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * UDP sockets held by this process and its children (mediasoup workers, FFmpeg, RTP senders):
 * the socket inodes of their file descriptors that /proc/net/udp lists. Counting the whole table
 * would also count other programs on the machine opening and closing sockets meanwhile.
 */
export async function udpSocketCount(): Promise<number> {
  const tables = await Promise.all(['/proc/net/udp', '/proc/net/udp6'].map((f) => readFile(f, 'utf8')));
  const udpInodes = new Set(tables.flatMap((t) => t.trim().split('\n').slice(1).map((line) => line.trim().split(/\s+/)[9])));
  const pids = [process.pid, ...descendants(process.pid).map((p) => p.pid)];
  let count = 0;
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && udpInodes.has(inode)) count++;
    }
  }
  return count;
}
