import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CHANNEL_ID_PATTERN } from '../../../../protocol/index.js';
import type { Logger } from '../../logger.js';

/**
 * Which process wrote something: its pid and a random token of this process's life, because pids
 * are reused (in a container the server is pid 1 after every restart).
 */
const PROCESS_TOKEN = randomBytes(6).toString('hex');
const OWNER_FILE = '.owner';
/**
 * `livecast-<pid>-<token>-<random>` under the system temp dir: SDP files of one running server
 * (`livecast-<pid>-<port>` before tokens were added).
 */
const RUN_DIR_PATTERN = /^livecast-(\d+)-(?:([0-9a-f]{12})-[A-Za-z0-9]{6}|\d+)$/;

/** Prefix for mkdtemp. */
export const runDirPrefix = (): string => `livecast-${process.pid}-${PROCESS_TOKEN}-`;

function isStale(pid: number, token: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  if (pid === process.pid) return token !== PROCESS_TOKEN;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code !== 'EPERM';
  }
}

export async function writeOwnerMark(channelDir: string): Promise<void> {
  await writeFile(path.join(channelDir, OWNER_FILE), `${process.pid} ${PROCESS_TOKEN}`);
}

async function folderIsStale(channelDir: string): Promise<boolean> {
  const [pid, token] = (await readFile(path.join(channelDir, OWNER_FILE), 'utf8').catch(() => '')).split(' ');
  return isStale(Number(pid), token ?? '');
}

/**
 * A server that crashed (or could not remove a folder while running) leaves channel folders in
 * hls/ and its run directory behind. At start-up, whatever belongs to a process that is gone is
 * removed; folders of another running instance sharing hls/ are left alone. Failures are logged,
 * never fatal.
 */
export async function removeLeftovers(hlsRoot: string, tmpRoot: string, logger: Logger): Promise<string[]> {
  const removed: string[] = [];
  const remove = async (target: string) => {
    try {
      await rm(target, { recursive: true, force: true });
      removed.push(target);
    } catch (error) {
      logger.warn({ err: error, path: target }, 'could not remove a leftover of an earlier run');
    }
  };
  const folders = async (dir: string) => (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory());
  for (const entry of await folders(hlsRoot)) {
    const dir = path.join(hlsRoot, entry.name);
    if (CHANNEL_ID_PATTERN.test(entry.name) && (await folderIsStale(dir))) await remove(dir);
  }
  for (const entry of await folders(tmpRoot)) {
    const owner = RUN_DIR_PATTERN.exec(entry.name);
    if (owner && isStale(Number(owner[1]), owner[2] ?? '')) await remove(path.join(tmpRoot, entry.name));
  }
  if (removed.length > 0) logger.info({ removed }, 'removed leftovers of earlier runs');
  return removed;
}
