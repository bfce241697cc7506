import { constants, watch, type FSWatcher } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { HLS_PLAYLIST_FILE, HLS_SEGMENT_LINES } from '../../../../protocol/ids.js';
import { parsePlaylistWindow, withBlockingReload } from './playlist-text.js';

interface Waiter {
  msn: number;
  resolve(): void;
}

/** A segment held in memory: read once from disk when it enters the playlist. */
async function readSegment(file: string): Promise<Buffer | null> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
  if (!handle) return null;
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * The live playlist of one channel, held in memory with its segments: FFmpeg replaces
 * index.m3u8 atomically (write + rename), an inotify watch on the folder notices, and the
 * playlist and each new segment are read once per update however many viewers fetch them
 * (serving from disk cost several syscalls per request). A new playlist is published only once
 * the segments it lists are in memory. Requests for a segment that does not exist yet wait for
 * it (blocking playlist reload).
 */
export class LivePlaylist {
  private text: string | null = null;
  private lastMsn = -1;
  private readonly waiters = new Set<Waiter>();
  private readonly watcher: FSWatcher;
  private readonly file: string;
  private closed = false;
  private readonly readyListeners: (() => void)[] = [];
  private segments = new Map<string, Buffer>();

  constructor(private readonly dir: string) {
    this.file = path.join(dir, HLS_PLAYLIST_FILE);
    this.watcher = watch(dir, (_, filename) => {
      if (filename === HLS_PLAYLIST_FILE) void this.reload();
    });
    this.watcher.on('error', () => this.close());
    void this.reload();
  }

  /** The playlist as served (with the blocking-reload tag), or null before FFmpeg wrote one. */
  get body(): string | null {
    return this.text;
  }

  /** A listed segment's bytes, or undefined if it is not in the current window. */
  segment(name: string): Buffer | undefined {
    return this.segments.get(name);
  }

  get newestSegment(): number {
    return this.lastMsn;
  }

  onReady(listener: () => void): void {
    if (this.text !== null) listener();
    else this.readyListeners.push(listener);
  }

  /** Resolves true once segment `msn` is listed, false after `timeoutMs` or when closed. */
  waitForSegment(msn: number, timeoutMs: number): Promise<boolean> {
    if (this.lastMsn >= msn) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        msn,
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(this.lastMsn >= msn);
        },
      };
      const timer = setTimeout(waiter.resolve, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.close();
    this.segments.clear();
    for (const waiter of [...this.waiters]) waiter.resolve();
  }

  private async reload(): Promise<void> {
    let raw: string;
    try {
      raw = await readFile(this.file, 'utf8');
    } catch {
      return; // not written yet, or the channel is being removed
    }
    if (this.closed) return;
    const { lastMsn } = parsePlaylistWindow(raw);
    if (lastMsn < this.lastMsn) return; // a slower read of an older version finished late
    const names = [...raw.matchAll(HLS_SEGMENT_LINES)].map((m) => m[1]!);
    const segments = new Map<string, Buffer>();
    for (const name of names) {
      const data = this.segments.get(name) ?? (await readSegment(path.join(this.dir, name)));
      if (data) segments.set(name, data);
    }
    if (this.closed || lastMsn < this.lastMsn) return;
    this.segments = segments;
    const first = this.text === null;
    this.text = withBlockingReload(raw);
    this.lastMsn = lastMsn;
    for (const waiter of [...this.waiters]) if (waiter.msn <= lastMsn) waiter.resolve();
    if (first) this.readyListeners.splice(0).forEach((listener) => listener());
  }
}
