import type { LlPackager } from './ll-packager.js';
import { writeLlPlaylist } from './ll-playlist.js';
import type { HlsRenditions } from './renditions.js';

/** Blocking requests wait at most this many target durations (rfc8216bis §6.2.5.2), then get 503. */
const BLOCK_TARGET_DURATIONS = 3;

export type BlockResult = 'ready' | 'timeout' | 'gone';

/**
 * One channel's LL-HLS as HTTP serves it: the playlist (full or delta) written once per change
 * however many players ask, the files by name, and blocking: a playlist request for a segment or
 * part not there yet, or a request for the hinted part, waits until it exists.
 */
export class LlHlsStream {
  private full: string | null = null;
  private delta: string | null = null;
  /** The same as bytes: thousands of players ask for each version, and each string answer would be encoded again. */
  private fullBytes: Buffer | null = null;
  private deltaBytes: Buffer | null = null;
  private readonly waiters = new Set<() => void>();
  private closed = false;
  /**
   * A channel with several renditions: set on the top one's stream (the one served as the
   * channel's), which then answers for index.m3u8 with the multivariant playlist.
   */
  renditions: HlsRenditions | null = null;
  /** This stream as one of a channel's renditions: its name there, for the reports on the others. */
  renditionName: string | null = null;
  private reportsOf: HlsRenditions | null = null;

  /** `packager`: what readers of the packaged media (the recorder) read besides HTTP. */
  constructor(readonly packager: LlPackager) {
    packager.onChange(() => {
      this.full = null;
      this.delta = null;
      this.fullBytes = null;
      this.deltaBytes = null;
      for (const wake of [...this.waiters]) wake();
    });
  }

  /** Whether a playlist exists yet (the first segment is complete). */
  get ready(): boolean {
    return this.packager.lastCompleteMsn >= 0;
  }

  /** Calls `listener` once, when the first playlist exists. */
  whenReady(listener: () => void): void {
    if (this.ready) return listener();
    const stop = this.packager.onChange(() => {
      if (!this.ready) return;
      stop();
      listener();
    });
  }

  get targetDuration(): number {
    return this.packager.targetDuration;
  }

  get partTarget(): number {
    return this.packager.partTarget;
  }

  get ended(): boolean {
    return this.packager.isEnded;
  }

  /** The newest complete segment's number (-1 before the first). */
  get lastCompleteMsn(): number {
    return this.packager.lastCompleteMsn;
  }

  /** The same, as tests and benchmarks watch a stream advance. */
  get newestSegment(): number {
    return this.packager.lastCompleteMsn;
  }

  get newestPart(): { msn: number; part: number } | null {
    return this.packager.newest;
  }

  /** Makes this stream rendition `name` of `renditions`: its playlists report on the others. */
  joinRenditions(renditions: HlsRenditions, name: string): void {
    this.reportsOf = renditions;
    this.renditionName = name;
  }

  /**
   * Written once per version of this stream: the reports on the other renditions are as of then,
   * at most a part behind (rewriting on every part of every rendition would multiply the work).
   */
  playlist(skip: boolean): string {
    const renditionReports = this.reportsOf && this.renditionName ? this.reportsOf.reportsFor(this.renditionName) : undefined;
    if (skip) return (this.delta ??= writeLlPlaylist(this.packager, { skip: true, renditionReports }));
    return (this.full ??= writeLlPlaylist(this.packager, { renditionReports }));
  }

  /** `playlist(skip)` encoded once per version, as HTTP sends it. */
  playlistBytes(skip: boolean): Buffer {
    if (skip) return (this.deltaBytes ??= Buffer.from(this.playlist(true)));
    return (this.fullBytes ??= Buffer.from(this.playlist(false)));
  }

  /** See LlPackager.latestKeyFramePart (the thumbnailer reads it). */
  latestKeyFramePart(): ReturnType<LlPackager['latestKeyFramePart']> {
    return this.packager.latestKeyFramePart();
  }

  file(name: string): Buffer | undefined {
    return this.packager.file(name);
  }

  /** Whether `name` is the part the playlist hints at (a request for it blocks until it exists). */
  isHinted(name: string): boolean {
    return this.packager.hintedPart === name;
  }

  /** Whether the playlist has segment `msn` complete, or (with `part`) that part of it or anything later. */
  has(msn: number, part?: number): boolean {
    if (part === undefined) return this.packager.lastCompleteMsn >= msn;
    const newest = this.packager.newest;
    if (!newest) return false;
    return newest.msn > msn || (newest.msn === msn && newest.part >= part);
  }

  /** Waits until `done()` holds, the stream ends or closes ('gone'), or three target durations pass ('timeout'). */
  waitUntil(done: () => boolean): Promise<BlockResult> {
    if (done()) return Promise.resolve('ready');
    if (this.closed || this.packager.isEnded) return Promise.resolve('gone');
    return new Promise((resolve) => {
      const finish = (result: BlockResult) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(result);
      };
      const wake = () => {
        if (done()) finish('ready');
        else if (this.closed || this.packager.isEnded) finish('gone');
      };
      const timer = setTimeout(() => finish('timeout'), BLOCK_TARGET_DURATIONS * this.packager.targetDuration * 1000);
      this.waiters.add(wake);
    });
  }

  close(): void {
    this.closed = true;
    for (const wake of [...this.waiters]) wake();
  }
}
