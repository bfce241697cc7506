import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { CHANNEL_ID_PATTERN, type RecordingEntry } from '../../../../protocol/index.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { FfmpegProcess } from '../hls/ffmpeg-process.js';
import { writeFileAtomic } from './atomic-file.js';
import { DOWNLOAD_FILE, INDEX_FILE, METADATA_FILE, THUMBNAIL_FILE, parseIndex, parseMetadata, totals, type IndexEntry, type RecordingMetadata } from './recording-files.js';
import { RecordingWriter } from './recording-writer.js';
import { recordingsToDelete } from './retention.js';
import { remuxToMp4 } from './remux.js';
import { writeRecordingPlaylist } from './vod-playlist.js';

export type RecordingsConfig = NonNullable<Config['recordings']>;

/** Retention also runs this often (a live broadcast grows; recordings age). */
const RETENTION_INTERVAL_MS = 60_000;

export const ownerTokenHash = (publishToken: string): string => createHash('sha256').update(publishToken).digest('hex');

interface Stored {
  dir: string;
  /** As on disk for a finished recording; the writer has the live one's. */
  meta: RecordingMetadata;
  writer: RecordingWriter | null;
  /** Loaded on the first playlist request of a finished recording. */
  entries: IndexEntry[] | null;
  /** Beyond the media: picture and cached download. */
  extraBytes: number;
  hasThumbnail: boolean;
  remux: Promise<number> | null;
}

export interface RecordingStoreHooks {
  onDeleted?: (reason: 'retention' | 'owner') => void;
}

/**
 * Every recording of this instance, one directory each under RECORDINGS_DIR, named by its id:
 * the catalogue (metadata in memory, from the sidecar files at start), new recordings' writers,
 * the playlists and files HTTP serves, the MP4 downloads (made on demand, kept), deletion by
 * the owner, and retention. Metadata lives in sidecar JSON files written atomically rather than
 * in a database: it is a handful of fields per recording, written a few times per broadcast, read
 * once at start; SQLite would need a native binding built at install time for that (see README).
 *
 * A recording whose metadata still says 'recording' at start was cut short by a crash or a kill:
 * it becomes 'interrupted', playable up to its last complete segment. The store never throws for
 * a bad directory: a missing or unwritable RECORDINGS_DIR makes each new recording fail (logged,
 * counted), never the server.
 */
export class RecordingStore {
  private readonly recordings = new Map<string, Stored>();
  private readonly remuxes = new Set<FfmpegProcess>();
  private readonly timer: NodeJS.Timeout;
  private retention: Promise<void> = Promise.resolve();

  private constructor(
    private readonly config: RecordingsConfig,
    private readonly logger: Logger,
    private readonly hooks: RecordingStoreHooks,
  ) {
    this.timer = setInterval(() => void this.enforceRetention(), RETENTION_INTERVAL_MS);
    this.timer.unref();
  }

  static async open(config: RecordingsConfig, logger: Logger, hooks: RecordingStoreHooks = {}): Promise<RecordingStore> {
    const store = new RecordingStore(config, logger.child({ component: 'recordings' }), hooks);
    await store.load();
    await store.enforceRetention();
    return store;
  }

  get dir(): string {
    return this.config.dir;
  }

  private async load(): Promise<void> {
    try {
      await mkdir(this.config.dir, { recursive: true });
    } catch (error) {
      this.logger.error({ err: error, dir: this.config.dir }, 'the recordings directory cannot be created; broadcasts will not be recorded until it can');
      return;
    }
    const names = await readdir(this.config.dir).catch(() => []);
    let interrupted = 0;
    for (const name of names) {
      if (!CHANNEL_ID_PATTERN.test(name)) continue;
      const dir = path.join(this.config.dir, name);
      const meta = parseMetadata(await readFile(path.join(dir, METADATA_FILE), 'utf8').catch(() => ''));
      if (!meta || meta.recordingId !== name) {
        this.logger.warn({ dir }, 'a recording without valid metadata is ignored');
        continue;
      }
      const stored: Stored = { dir, meta, writer: null, entries: null, ...(await extraFiles(dir)), remux: null };
      if (meta.status === 'recording') {
        // Its server died mid-broadcast: what the index lists is whole, the rest never happened.
        const entries = await this.readEntries(dir);
        const last = entries.at(-1);
        stored.entries = entries;
        stored.meta = { ...meta, ...totals(entries), status: 'interrupted', endedAt: last ? Math.round(last.programDateTime + last.duration * 1000) : meta.startedAt };
        await writeFileAtomic(path.join(dir, METADATA_FILE), `${JSON.stringify(stored.meta, null, 2)}\n`).catch((error: unknown) =>
          this.logger.warn({ err: error, dir }, 'could not mark an interrupted recording on disk'),
        );
        interrupted++;
      }
      this.recordings.set(name, stored);
    }
    this.logger.info({ dir: this.config.dir, recordings: this.recordings.size, interrupted }, 'recordings loaded');
  }

  private async readEntries(dir: string): Promise<IndexEntry[]> {
    return parseIndex(await readFile(path.join(dir, INDEX_FILE), 'utf8').catch(() => ''));
  }

  /** Starts a new recording (its directory and metadata are written by the writer's first step). */
  begin(recordingId: string, o: { title: string; description: string; listed: boolean; ownerTokenHash: string; startedAt?: number }): RecordingWriter {
    const dir = path.join(this.config.dir, recordingId);
    const meta: RecordingMetadata = {
      version: 1,
      recordingId,
      title: o.title,
      description: o.description,
      status: 'recording',
      startedAt: o.startedAt ?? Date.now(),
      endedAt: null,
      listed: o.listed,
      ownerTokenHash: o.ownerTokenHash,
      duration: 0,
      bytes: 0,
    };
    const writer = new RecordingWriter(dir, meta);
    const stored: Stored = { dir, meta, writer, entries: null, extraBytes: 0, hasThumbnail: false, remux: null };
    this.recordings.set(recordingId, stored);
    // Once its final metadata is written, the recording is like any finished one.
    writer.once('finished', () => {
      stored.meta = writer.metadata;
      stored.entries = [...writer.entries];
      stored.writer = null;
      void extraFiles(dir).then((extra) => {
        Object.assign(stored, extra);
        return this.enforceRetention();
      });
    });
    return writer;
  }

  private metaOf(stored: Stored): RecordingMetadata {
    return stored.writer ? stored.writer.metadata : stored.meta;
  }

  /** One recording as clients see it (`origin`: where it is served from, null for here). */
  entry(recordingId: string, origin: string | null = null): RecordingEntry | null {
    const stored = this.recordings.get(recordingId);
    return stored ? this.describe(stored, origin) : null;
  }

  /** All of this instance's recordings, newest first. */
  list(origin: string | null = null): RecordingEntry[] {
    return [...this.recordings.values()].map((s) => this.describe(s, origin)).sort((a, b) => b.startedAt - a.startedAt);
  }

  private describe(stored: Stored, origin: string | null): RecordingEntry {
    const m = this.metaOf(stored);
    return {
      recordingId: m.recordingId,
      title: m.title,
      description: m.description,
      status: m.status,
      startedAt: m.startedAt,
      endedAt: m.endedAt,
      duration: m.duration,
      bytes: m.bytes + stored.extraBytes,
      listed: m.listed,
      hasThumbnail: stored.writer ? stored.writer.hasThumbnail : stored.hasThumbnail,
      origin,
    };
  }

  /** The recording's playlist: EVENT while it is written (DVR), VOD once it ended; null if unknown or empty. */
  async playlist(recordingId: string): Promise<string | null> {
    const stored = this.recordings.get(recordingId);
    if (!stored) return null;
    const live = stored.writer !== null && !stored.writer.done;
    const entries = stored.writer ? stored.writer.entries : (stored.entries ??= await this.readEntries(stored.dir));
    if (entries.length === 0) return null;
    return writeRecordingPlaylist(entries, { ended: !live });
  }

  /** Where a recording's file is on disk (the name is already one of the served kinds), or null. */
  filePath(recordingId: string, file: string): string | null {
    const stored = this.recordings.get(recordingId);
    return stored ? path.join(stored.dir, file) : null;
  }

  /**
   * The MP4 of a finished recording, remuxed on the first request (one remux at a time per
   * recording; later requests wait for it) and kept next to it.
   */
  async download(recordingId: string): Promise<{ file: string } | { refused: 'not-found' | 'live' | 'empty' }> {
    const stored = this.recordings.get(recordingId);
    if (!stored) return { refused: 'not-found' };
    if (stored.writer) return { refused: 'live' };
    const file = path.join(stored.dir, DOWNLOAD_FILE);
    if (await stat(file).then((s) => s.isFile(), () => false)) return { file };
    const playlist = await this.playlist(recordingId);
    if (!playlist) return { refused: 'empty' };
    stored.remux ??= remuxToMp4({ ffmpegPath: this.config.ffmpegPath, dir: stored.dir, playlist, logger: this.logger.child({ recordingId }), running: this.remuxes });
    try {
      const size = await stored.remux;
      Object.assign(stored, await extraFiles(stored.dir));
      this.logger.info({ recordingId, bytes: size }, 'recording remuxed to MP4');
      return { file };
    } finally {
      stored.remux = null;
    }
  }

  /** Whether `publishToken` is the token of the broadcast that made this recording (constant time). */
  isOwner(recordingId: string, publishToken: string): boolean {
    const stored = this.recordings.get(recordingId);
    if (!stored) return false;
    const expected = Buffer.from(this.metaOf(stored).ownerTokenHash, 'hex');
    const given = Buffer.from(ownerTokenHash(publishToken), 'hex');
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  isLive(recordingId: string): boolean {
    return this.recordings.get(recordingId)?.writer != null;
  }

  async setListed(recordingId: string, listed: boolean): Promise<void> {
    const stored = this.recordings.get(recordingId);
    if (!stored) return;
    if (stored.writer) return stored.writer.update({ listed });
    stored.meta = { ...stored.meta, listed };
    await writeFileAtomic(path.join(stored.dir, METADATA_FILE), `${JSON.stringify(stored.meta, null, 2)}\n`);
  }

  /** Deletes a finished recording (files and all); false if it is unknown or still being written. */
  async delete(recordingId: string, reason: 'retention' | 'owner'): Promise<boolean> {
    const stored = this.recordings.get(recordingId);
    if (!stored || stored.writer) return false;
    this.recordings.delete(recordingId);
    await stored.remux?.catch(() => undefined);
    await rm(stored.dir, { recursive: true, force: true });
    this.logger.info({ recordingId, reason, bytes: stored.meta.bytes + stored.extraBytes }, 'recording deleted');
    this.hooks.onDeleted?.(reason);
    return true;
  }

  /** Bytes all recordings take (media, pictures, downloads). */
  get totalBytes(): number {
    let total = 0;
    for (const s of this.recordings.values()) total += this.metaOf(s).bytes + s.extraBytes;
    return total;
  }

  get activeCount(): number {
    let n = 0;
    for (const s of this.recordings.values()) if (s.writer) n++;
    return n;
  }

  /** Deletes what the age and size limits say, oldest first; one run at a time. */
  enforceRetention(): Promise<void> {
    this.retention = this.retention.then(async () => {
      const doomed = recordingsToDelete(
        [...this.recordings.values()].map((s) => ({ recordingId: this.metaOf(s).recordingId, startedAt: this.metaOf(s).startedAt, bytes: this.metaOf(s).bytes + s.extraBytes, inProgress: s.writer !== null })),
        { now: Date.now(), maxAgeMs: this.config.maxAgeMs, maxBytes: this.config.maxBytes },
      );
      for (const recordingId of doomed) {
        await this.delete(recordingId, 'retention').catch((error: unknown) => this.logger.error({ err: error, recordingId }, 'retention could not delete a recording'));
      }
    });
    return this.retention;
  }

  /** Stops retention and any remux (their half-made files are removed by remuxToMp4). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const ffmpeg of this.remuxes) ffmpeg.kill();
    await Promise.allSettled([...this.recordings.values()].map((s) => s.remux));
    await this.retention;
  }
}

/** What a recording holds besides its media: its picture and its cached download. */
async function extraFiles(dir: string): Promise<{ extraBytes: number; hasThumbnail: boolean }> {
  const [thumbnail, download] = await Promise.all([THUMBNAIL_FILE, DOWNLOAD_FILE].map((f) => stat(path.join(dir, f)).then((s) => s.size, () => 0)));
  return { extraBytes: thumbnail! + download!, hasThumbnail: thumbnail! > 0 };
}
