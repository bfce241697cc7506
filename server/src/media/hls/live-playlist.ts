import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parsePlaylistWindow, withBlockingReload } from './playlist-text.js';

interface Waiter {
  msn: number;
  resolve(): void;
}

/**
 * The live playlist of one channel, held in memory: FFmpeg replaces index.m3u8 atomically
 * (write + rename), an inotify watch on the folder notices, and the file is read once per update
 * however many viewers poll it. Requests for a segment that does not exist yet wait for it
 * (blocking playlist reload).
 */
export class LivePlaylist {
  private text: string | null = null;
  private lastMsn = -1;
  private readonly waiters = new Set<Waiter>();
  private readonly watcher: FSWatcher;
  private readonly file: string;
  private closed = false;
  private readonly readyListeners: (() => void)[] = [];

  constructor(dir: string) {
    this.file = path.join(dir, 'index.m3u8');
    this.watcher = watch(dir, (_, filename) => {
      if (filename === 'index.m3u8') void this.reload();
    });
    this.watcher.on('error', () => this.close());
    void this.reload();
  }

  /** The playlist as served (with the blocking-reload tag), or null before FFmpeg wrote one. */
  get body(): string | null {
    return this.text;
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
    const first = this.text === null;
    this.text = withBlockingReload(raw);
    this.lastMsn = lastMsn;
    for (const waiter of [...this.waiters]) if (waiter.msn <= lastMsn) waiter.resolve();
    if (first) this.readyListeners.splice(0).forEach((listener) => listener());
  }
}
