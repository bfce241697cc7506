import { EventEmitter } from 'node:events';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { INDEX_FILE, METADATA_FILE, THUMBNAIL_FILE, indexLine, segmentFileName, totals, type IndexEntry, type RecordingMetadata } from './recording-files.js';

/** Writes queued beyond this many bytes mean the disk cannot keep up with the broadcast: recording stops. */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

export type NewSegment = Omit<IndexEntry, 'bytes'>;

/**
 * One recording's directory, written in order through one queue: the metadata first, then init
 * segments, segments (each file written before its index line, so the index never names a file
 * that is not whole), the preview picture and metadata updates. The first failure (full disk,
 * unwritable directory, a disk that cannot keep up) stops all further writes and is reported
 * once ('failed'); nothing is thrown at the caller, whose live stream must go on. 'finished'
 * comes once the final metadata is written (or could not be).
 */
export class RecordingWriter extends EventEmitter<{ failed: [Error]; finished: [] }> {
  /** The segments written so far (the playlist while live). */
  readonly entries: IndexEntry[] = [];
  private queue: Promise<void> = Promise.resolve();
  private queuedBytes = 0;
  private failure: Error | null = null;
  private finished = false;
  private thumbnailWritten = false;

  constructor(
    readonly dir: string,
    private meta: RecordingMetadata,
  ) {
    super();
    this.enqueue(0, async () => {
      await mkdir(dir, { recursive: true });
      await this.writeMetadata();
    });
  }

  get metadata(): RecordingMetadata {
    const { duration, bytes } = totals(this.entries);
    return { ...this.meta, duration, bytes };
  }

  get failed(): Error | null {
    return this.failure;
  }

  get done(): boolean {
    return this.finished;
  }

  writeInit(name: string, data: Buffer): void {
    this.enqueue(data.length, () => writeFile(path.join(this.dir, name), data));
  }

  writeSegment(segment: NewSegment, data: Buffer): void {
    const entry: IndexEntry = { ...segment, bytes: data.length };
    this.enqueue(data.length, async () => {
      await writeFile(path.join(this.dir, segmentFileName(entry.msn)), data);
      await appendFile(path.join(this.dir, INDEX_FILE), indexLine(entry));
      this.entries.push(entry);
    });
  }

  writeThumbnail(jpeg: Buffer): void {
    this.enqueue(jpeg.length, async () => {
      await writeFileAtomic(path.join(this.dir, THUMBNAIL_FILE), jpeg);
      this.thumbnailWritten = true;
    });
  }

  get hasThumbnail(): boolean {
    return this.thumbnailWritten;
  }

  /** Title, description or listing changed: the metadata file is rewritten (in queue order). */
  update(change: Partial<Pick<RecordingMetadata, 'title' | 'description' | 'listed'>>): void {
    this.meta = { ...this.meta, ...change };
    this.enqueue(0, () => this.writeMetadata());
  }

  /**
   * The broadcast ended: waits for every queued write, then writes the final metadata ('complete',
   * or 'failed' with the reason after a failure, if the disk still takes it). Never rejects.
   */
  async finish(endedAt: number): Promise<void> {
    if (this.finished) return;
    await this.queue;
    this.finished = true;
    const failure = this.failure;
    this.meta = { ...this.meta, endedAt, status: failure ? 'failed' : 'complete', ...(failure ? { error: failure.message } : {}) };
    await this.writeMetadata().catch(() => undefined);
    this.emit('finished');
  }

  private writeMetadata(): Promise<void> {
    return writeFileAtomic(path.join(this.dir, METADATA_FILE), `${JSON.stringify(this.metadata, null, 2)}\n`);
  }

  private enqueue(bytes: number, write: () => Promise<unknown>): void {
    if (this.failure || this.finished) return;
    if (this.queuedBytes + bytes > MAX_QUEUED_BYTES) return this.fail(new Error(`the disk cannot keep up: ${Math.round(this.queuedBytes / 2 ** 20)} MiB waiting to be written`));
    this.queuedBytes += bytes;
    this.queue = this.queue.then(async () => {
      try {
        if (!this.failure) await write();
      } catch (error) {
        this.fail(error instanceof Error ? error : new Error(String(error)));
      } finally {
        this.queuedBytes -= bytes;
      }
    });
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.meta = { ...this.meta, status: 'failed', error: error.message };
    this.emit('failed', error);
  }
}
