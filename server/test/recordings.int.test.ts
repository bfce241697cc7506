/**
 * Issue 18: every broadcast recorded from its own LL-HLS segments (real mediasoup, FFmpeg and
 * disk), replayed from a VOD playlist read by an independent parser (hls-parser), downloaded as an
 * MP4 checked by ffprobe, deleted only with the broadcast's publish token; and a recordings
 * directory that cannot be written (chattr +i: the tests run as root, for whom permission bits
 * refuse nothing) never disturbs the live stream.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import HLS from 'hls-parser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hlsPlaylistPath, recordingDownloadPath, recordingPath, recordingPlaylistPath, recordingThumbnailPath, type RecordingEntry, type RecordingList } from '../../protocol/index.js';
import { createLogger } from '../src/logger.js';
import { logCapture } from './helpers/output.js';
import { eventually } from './helpers/processes.js';
import { startFedChannel, startTestApp, mediaSequenceOf } from './helpers/test-app.js';
import type { TestServer } from './helpers/server.js';

const chattr = (flag: '+i' | '-i', target: string) => execFileSync('chattr', [flag, target]);
const immutable: string[] = [];
const makeImmutable = (target: string) => {
  chattr('+i', target);
  immutable.push(target);
};
const releaseImmutable = () => {
  for (const target of immutable.splice(0)) if (existsSync(target)) chattr('-i', target);
};
afterEach(releaseImmutable);

const metric = async (app: TestServer, name: string) =>
  Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(await app.metrics.registry.metrics())?.[1] ?? 0);

const entryOf = async (app: TestServer, id: string): Promise<RecordingEntry | null> => {
  const response = await fetch(`${app.url}${recordingPath(id)}`);
  return response.ok ? ((await response.json()) as RecordingEntry) : null;
};

interface Probe {
  streams: { codec_type: string; codec_name: string }[];
  format: { duration: string; format_name: string };
}
function ffprobe(file: string): Probe {
  const out = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name:format=duration,format_name', '-of', 'json', file]);
  return JSON.parse(out.stdout.toString()) as Probe;
}

describe('recordings', () => {
  let app: TestServer;
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'livecast-recordings-test-'));
    app = await startTestApp({ LOG_LEVEL: 'error', THUMBNAIL_SECONDS: '2' });
  });
  afterAll(async () => {
    await app?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('records a broadcast from its segments: a growing EVENT playlist while live, then VOD, an MP4 download and the last picture', async () => {
    const fed = await startFedChannel(app);
    const id = fed.channel.id;
    expect(fed.channel.state.recording).toEqual({ playlist: recordingPlaylistPath(id) });
    try {
      // While live: the recording so far, seekable from its start (DVR), without an end.
      const live = await eventually(async () => {
        const response = await fetch(`${app.url}${recordingPlaylistPath(id)}`);
        if (!response.ok) return null;
        const playlist = HLS.parse(await response.text());
        return playlist instanceof HLS.types.MediaPlaylist && playlist.segments.length >= 6 ? playlist : null;
      }, 'six recorded segments', 20_000);
      expect(live.playlistType).toBe('EVENT');
      expect(live.endlist).toBe(false);
      expect((await entryOf(app, id))?.status).toBe('recording');
      // The MP4 is made from a finished broadcast only.
      const early = await fetch(`${app.url}${recordingDownloadPath(id)}`);
      expect(early.status).toBe(409);
      expect(await early.text()).toContain('still live');
    } finally {
      await fed.stop();
    }

    const entry = await eventually(async () => {
      const e = await entryOf(app, id);
      return e?.status === 'complete' ? e : null;
    }, 'the recording to be complete');
    expect(entry.listed).toBe(true);
    expect(entry.hasThumbnail).toBe(true);
    expect(entry.endedAt).toBeGreaterThan(entry.startedAt);

    const response = await fetch(`${app.url}${recordingPlaylistPath(id)}`);
    expect(response.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    const playlist = HLS.parse(await response.text());
    if (!(playlist instanceof HLS.types.MediaPlaylist)) throw new Error('not a media playlist');
    expect(playlist.playlistType).toBe('VOD');
    expect(playlist.endlist).toBe(true);
    const total = playlist.segments.reduce((sum, s) => sum + s.duration, 0);
    expect(total).toBeCloseTo(entry.duration, 1);
    for (const segment of playlist.segments) expect(Math.round(segment.duration)).toBeLessThanOrEqual(playlist.targetDuration);
    // Every segment and its init segment are served (a player needs them all to play it through).
    const first = playlist.segments[0]!;
    const base = `${app.url}${recordingPath(id)}/`;
    expect((await fetch(new URL(first.map!.uri, base))).status).toBe(200);
    for (const segment of playlist.segments) {
      const file = await fetch(new URL(segment.uri, base));
      expect(file.status, segment.uri).toBe(200);
      await file.arrayBuffer();
    }

    // The download: one MP4, both streams, the recording's duration (remuxed, not re-encoded).
    const download = await fetch(`${app.url}${recordingDownloadPath(id)}`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="livecast-.{8}\.mp4"$/);
    const mp4 = path.join(scratch, 'download.mp4');
    await writeFile(mp4, Buffer.from(await download.arrayBuffer()));
    const probe = ffprobe(mp4);
    expect(probe.format.format_name).toContain('mp4');
    expect(probe.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    expect(Number(probe.format.duration)).toBeGreaterThan(entry.duration - 0.5);
    expect(Number(probe.format.duration)).toBeLessThan(entry.duration + 0.5);
    // Made once, then served from the cached file (a range too, as video elements ask).
    const ranged = await fetch(`${app.url}${recordingDownloadPath(id)}`, { headers: { Range: 'bytes=0-99' } });
    expect(ranged.status).toBe(206);
    expect((await ranged.arrayBuffer()).byteLength).toBe(100);

    const picture = await fetch(`${app.url}${recordingThumbnailPath(id)}`);
    expect(picture.headers.get('content-type')).toBe('image/jpeg');
    expect((await picture.arrayBuffer()).byteLength).toBeGreaterThan(1000);

    const list = (await (await fetch(`${app.url}/recordings`)).json()) as RecordingList;
    expect(list.recordings.map((r) => r.recordingId)).toContain(id);
  }, 90_000);

  it('deletes a recording only with its broadcast’s publish token', async () => {
    const fed = await startFedChannel(app);
    const id = fed.channel.id;
    await eventually(async () => ((await entryOf(app, id))?.duration ?? 0) >= 2, 'two seconds recorded', 20_000);
    const remove = (token?: string) => fetch(`${app.url}${recordingPath(id)}`, { method: 'DELETE', headers: token ? { Authorization: `Bearer ${token}` } : {} });
    // A live broadcast's recording is not deleted under it.
    const whileLive = await remove(fed.publishToken);
    expect(whileLive.status).toBe(409);
    await fed.stop();
    await eventually(async () => (await entryOf(app, id))?.status === 'complete', 'the recording to be complete');

    const anonymous = await remove();
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="recordings"');
    expect(await anonymous.text()).toContain('publish token');
    const wrong = await remove('not-the-token-of-this-broadcast');
    expect(wrong.status).toBe(403);
    expect(await wrong.text()).toBe('this is not the publish token of the broadcast that made this recording\n');
    expect(await entryOf(app, id)).not.toBeNull();

    // The broadcaster may unlist it (on a PUBLISH_KEY server, list it): the same token rules.
    const patch = (token: string | undefined, body: string) =>
      fetch(`${app.url}${recordingPath(id)}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body });
    expect((await patch(undefined, '{"listed":false}')).status).toBe(401);
    expect((await patch('not-the-token-of-this-broadcast', '{"listed":false}')).status).toBe(403);
    const malformed = await patch(fed.publishToken, '{"listed":"no"}');
    expect(malformed.status).toBe(400);
    expect(await malformed.text()).toContain('listed');
    expect(((await (await patch(fed.publishToken, '{"listed":false}')).json()) as RecordingEntry).listed).toBe(false);
    const listed = (await (await fetch(`${app.url}/recordings`)).json()) as RecordingList;
    expect(listed.recordings.map((r) => r.recordingId)).not.toContain(id);
    // Unlisted, still reachable by its link.
    expect((await fetch(`${app.url}${recordingPlaylistPath(id)}`)).status).toBe(200);

    const deletedBefore = await metric(app, 'livecast_recordings_deleted_total');
    expect((await remove(fed.publishToken)).status).toBe(204);
    expect(await entryOf(app, id)).toBeNull();
    expect((await fetch(`${app.url}${recordingPlaylistPath(id)}`)).status).toBe(404);
    expect(await readdir(app.recordingsDir)).not.toContain(id);
    expect(await metric(app, 'livecast_recordings_deleted_total')).toBe(deletedBefore + 1);
  }, 60_000);

  it('a recording that cannot be written any more stops with one error and a metric; the live stream goes on', async () => {
    const log = logCapture();
    const faulty = await startTestApp({ LOG_LEVEL: 'error' }, { logger: createLogger('error', log) });
    try {
      const fed = await startFedChannel(faulty);
      const id = fed.channel.id;
      try {
        await eventually(async () => ((await entryOf(faulty, id))?.duration ?? 0) >= 2, 'two seconds recorded', 20_000);
        // The disk refuses from now on (as a full disk or a read-only remount would).
        makeImmutable(path.join(faulty.recordingsDir, id));
        await eventually(async () => (await metric(faulty, 'livecast_recording_failures_total')) === 1, 'the recording failure to be counted', 10_000);
        await eventually(() => fed.channel.state.recording === null, 'the channel to stop offering its recording');
        // The live stream is undisturbed: new segments keep coming.
        const playlist = async () => (await fetch(`${faulty.url}${hlsPlaylistPath(id)}`)).text();
        const before = mediaSequenceOf(await playlist());
        await eventually(async () => mediaSequenceOf(await playlist()) >= before + 3, 'the live playlist to move on', 15_000);
        expect(fed.channel.ended).toBe(false);
        expect(fed.channel.state.phase).toBe('live');
      } finally {
        await fed.stop();
      }
      const errors = log.records().filter((r) => r.level === 50);
      expect(errors.map((r) => r.msg)).toEqual(['recording stopped: the recordings directory cannot be written; the live stream goes on']);
      // What was written before the fault stays playable.
      const entry = await entryOf(faulty, id);
      expect(entry?.status).toBe('failed');
      expect(entry?.duration).toBeGreaterThanOrEqual(2);
    } finally {
      releaseImmutable(); // or stop could not remove the server's recordings folder
      await faulty.stop();
    }
  }, 60_000);

  it('a shutdown right after a broadcast ends waits for its recording to be finished', async () => {
    const log = logCapture();
    const server = await startTestApp({ LOG_LEVEL: 'error' }, { logger: createLogger('error', log) });
    try {
      const fed = await startFedChannel(server);
      const id = fed.channel.id;
      await eventually(async () => ((await entryOf(server, id))?.duration ?? 0) >= 2, 'two seconds recorded', 20_000);
      // The channel leaves the list as soon as it ends; its recording's last writes run after that.
      void fed.channel.end('the broadcaster left');
      await server.close();
      // Read at once: what a process exiting after close() leaves on disk.
      const metadata = JSON.parse(await readFile(path.join(server.recordingsDir, id, 'recording.json'), 'utf8')) as { status: string };
      await fed.stop();
      expect(metadata.status).toBe('complete');
      expect(log.records().filter((r) => typeof r.level === 'number' && r.level >= 50).map((r) => r.msg)).toEqual([]);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('a read-only recordings directory leaves the live stream playing', async () => {
    const dir = path.join(scratch, 'read-only');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    makeImmutable(dir);
    const log = logCapture();
    const faulty = await startTestApp({ LOG_LEVEL: 'error', RECORDINGS_DIR: dir }, { logger: createLogger('error', log) });
    try {
      const fed = await startFedChannel(faulty);
      try {
        await eventually(async () => (await metric(faulty, 'livecast_recording_failures_total')) === 1, 'the recording failure to be counted', 10_000);
        const playlist = async () => (await fetch(`${faulty.url}${hlsPlaylistPath(fed.channel.id)}`)).text();
        const before = mediaSequenceOf(await playlist());
        await eventually(async () => mediaSequenceOf(await playlist()) >= before + 3, 'the live playlist to move on', 15_000);
        expect(fed.channel.state).toMatchObject({ phase: 'live', recording: null });
      } finally {
        await fed.stop();
      }
      expect(log.records().filter((r) => r.level === 50).map((r) => r.msg)).toEqual(['recording stopped: the recordings directory cannot be written; the live stream goes on']);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      releaseImmutable();
      await faulty.stop();
    }
  }, 60_000);
});
