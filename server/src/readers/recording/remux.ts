import { rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../logger.js';
import { FfmpegProcess } from '../hls/ffmpeg-process.js';
import { DOWNLOAD_FILE } from './recording-files.js';

/** A remux reads and writes the recording once; beyond this it is stuck (a wedged disk) and is killed. */
const REMUX_TIMEOUT_MS = 10 * 60_000;

/**
 * One MP4 of a recording, made by FFmpeg from its VOD playlist with `-c copy` (both streams,
 * remuxed, never re-encoded: seconds of I/O for an hour of video), moov atom first so that a
 * player can start before the whole file is there. Written under a temporary name and renamed,
 * so a half-made file is never served. The caller owns `running` (to stop remuxes at shutdown).
 * Resolves with the file's size.
 */
export async function remuxToMp4(o: { ffmpegPath: string; dir: string; playlist: string; logger: Logger; running: Set<FfmpegProcess> }): Promise<number> {
  const playlistFile = path.join(o.dir, 'download.m3u8');
  const temp = path.join(o.dir, 'download.tmp.mp4');
  await writeFile(playlistFile, o.playlist);
  const ffmpeg = new FfmpegProcess(
    o.ffmpegPath,
    [
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y',
      '-i', playlistFile,
      '-map', '0:v?', '-map', '0:a?', '-c', 'copy',
      '-movflags', '+faststart', '-f', 'mp4', temp,
    ],
    o.logger,
  );
  o.running.add(ffmpeg);
  const timer = setTimeout(() => ffmpeg.kill(), REMUX_TIMEOUT_MS);
  try {
    const exit = await ffmpeg.exited;
    if (exit.code !== 0) throw new Error(`ffmpeg could not remux the recording (exit ${exit.code ?? exit.signal})`);
    await rename(temp, path.join(o.dir, DOWNLOAD_FILE));
    return (await stat(path.join(o.dir, DOWNLOAD_FILE))).size;
  } finally {
    clearTimeout(timer);
    o.running.delete(ffmpeg);
    await rm(playlistFile, { force: true }).catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
  }
}
