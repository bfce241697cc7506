import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import HLS from 'hls-parser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../logger.js';
import { INDEX_FILE, METADATA_FILE, indexLine, parseMetadata, segmentFileName, type IndexEntry, type RecordingMetadata } from './recording-files.js';
import { RecordingStore, ownerTokenHash, type RecordingsConfig } from './recording-store.js';

const logger = createLogger('silent');
const MB = 1024 * 1024;
const id = (n: number) => `rec${String(n).padStart(19, '0')}`;

let dir: string;
let store: RecordingStore | null = null;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'livecast-store-test-'));
});
afterEach(async () => {
  await store?.close();
  store = null;
  await rm(dir, { recursive: true, force: true });
});

const config = (over: Partial<RecordingsConfig> = {}): RecordingsConfig => ({ dir, maxAgeMs: 0, maxBytes: 100 * MB, ffmpegPath: 'ffmpeg', ...over });

/** A recording on disk as a server would have left it: metadata, segments and their index. */
async function fabricate(n: number, o: { startedAt: number; segments: number; segmentBytes: number; status?: RecordingMetadata['status']; tornLine?: boolean }): Promise<string> {
  const recordingDir = path.join(dir, id(n));
  await mkdir(recordingDir, { recursive: true });
  let index = '';
  for (let msn = 0; msn < o.segments; msn++) {
    await writeFile(path.join(recordingDir, segmentFileName(msn)), Buffer.alloc(o.segmentBytes));
    const entry: IndexEntry = { msn, init: 'init_0.mp4', duration: 1, discontinuity: false, programDateTime: o.startedAt + msn * 1000, bytes: o.segmentBytes };
    index += indexLine(entry);
  }
  if (o.tornLine) index += '{"msn":99,"init":"in';
  await writeFile(path.join(recordingDir, INDEX_FILE), index);
  const status = o.status ?? 'complete';
  const meta: RecordingMetadata = {
    version: 1, recordingId: id(n), title: `recording ${n}`, description: '', status, startedAt: o.startedAt,
    endedAt: status === 'recording' ? null : o.startedAt + o.segments * 1000, listed: true, ownerTokenHash: ownerTokenHash(`token-${n}`),
    duration: status === 'recording' ? 0 : o.segments, bytes: status === 'recording' ? 0 : o.segments * o.segmentBytes,
  };
  await writeFile(path.join(recordingDir, METADATA_FILE), JSON.stringify(meta));
  return recordingDir;
}

describe('RecordingStore', () => {
  it('lists a recording cut short by a killed server as interrupted, playable up to its last whole segment', async () => {
    const recordingDir = await fabricate(1, { startedAt: Date.now() - 60_000, segments: 5, segmentBytes: 10, status: 'recording', tornLine: true });
    store = await RecordingStore.open(config(), logger);
    const entry = store.entry(id(1))!;
    expect(entry).toMatchObject({ status: 'interrupted', duration: 5, bytes: 50 });
    expect(entry.endedAt).toBe(entry.startedAt + 5000);
    // Written back, so that the next start agrees.
    expect(parseMetadata(await readFile(path.join(recordingDir, METADATA_FILE), 'utf8'))?.status).toBe('interrupted');
    const playlist = HLS.parse((await store.playlist(id(1)))!);
    if (!(playlist instanceof HLS.types.MediaPlaylist)) throw new Error('not a media playlist');
    expect(playlist.endlist).toBe(true);
    expect(playlist.segments.map((s) => s.uri)).toEqual(['seg_0.m4s', 'seg_1.m4s', 'seg_2.m4s', 'seg_3.m4s', 'seg_4.m4s']);
  });

  it('retention removes the oldest recordings past the size limit at start', async () => {
    const now = Date.now();
    await fabricate(1, { startedAt: now - 3000, segments: 4, segmentBytes: 0.25 * MB });
    await fabricate(2, { startedAt: now - 2000, segments: 4, segmentBytes: 0.25 * MB });
    await fabricate(3, { startedAt: now - 1000, segments: 4, segmentBytes: 0.25 * MB });
    store = await RecordingStore.open(config({ maxBytes: 2.5 * MB }), logger);
    expect(store.list().map((r) => r.recordingId)).toEqual([id(3), id(2)]);
    expect((await readdir(dir)).sort()).toEqual([id(2), id(3)]);
  });

  it('retention removes recordings past the age limit, never the one being recorded', async () => {
    await fabricate(1, { startedAt: Date.now() - 10 * 86_400_000, segments: 1, segmentBytes: 10 });
    store = await RecordingStore.open(config({ maxAgeMs: 86_400_000, maxBytes: 1 }), logger);
    expect(store.list()).toEqual([]);
    const writer = store.begin(id(2), { title: '', description: '', listed: true, ownerTokenHash: ownerTokenHash('t'), startedAt: Date.now() - 5 * 86_400_000 });
    writer.writeSegment({ msn: 0, init: 'init_0.mp4', duration: 1, discontinuity: false, programDateTime: Date.now() }, Buffer.alloc(100));
    await store.enforceRetention();
    // Older than the age limit and over the size limit, but in progress.
    expect(store.entry(id(2))?.status).toBe('recording');
    expect(store.isLive(id(2))).toBe(true);
    await writer.finish(Date.now());
    await store.enforceRetention();
    expect(store.entry(id(2))).toBeNull();
  });

  it('knows the owner by the publish token’s hash, and keeps the listing choice on disk', async () => {
    const recordingDir = await fabricate(1, { startedAt: Date.now(), segments: 1, segmentBytes: 10 });
    store = await RecordingStore.open(config(), logger);
    expect(store.isOwner(id(1), 'token-1')).toBe(true);
    expect(store.isOwner(id(1), 'token-2')).toBe(false);
    expect(store.isOwner(id(9), 'token-1')).toBe(false);
    await store.setListed(id(1), false);
    expect(parseMetadata(await readFile(path.join(recordingDir, METADATA_FILE), 'utf8'))?.listed).toBe(false);
    expect(JSON.stringify(await readFile(path.join(recordingDir, METADATA_FILE), 'utf8'))).not.toContain('token-1');
  });

  it('starts with an unusable directory (the server must), and records nothing there', async () => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, '');
    store = await RecordingStore.open(config({ dir: path.join(file, 'recordings') }), logger);
    expect(store.list()).toEqual([]);
    const writer = store.begin(id(1), { title: '', description: '', listed: true, ownerTokenHash: ownerTokenHash('t') });
    const failure = await new Promise<Error>((resolve) => writer.once('failed', resolve));
    expect(failure.message).toMatch(/ENOTDIR/);
  });
});
