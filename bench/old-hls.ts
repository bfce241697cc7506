/**
 * The HLS packaging livecast had before issue 13, kept only as the baseline of
 * bench/packaging-cost.ts: FFmpeg's own HLS muxer writing 0.5 s MPEG-TS segments and a playlist
 * to disk, and the server's LivePlaylist holding the playlist and segments in memory (an inotify
 * watch, one read per update). Copied from commit 4bfb392^ (server/src/readers/hls/
 * ffmpeg-args.ts, live-playlist.ts, playlist-text.ts); only the imports of the file names were
 * inlined and the blocking-reload waiters (no player waits here) left out.
 */
import { constants, watch, type FSWatcher } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';

const HLS_PLAYLIST_FILE = 'index.m3u8';
const HLS_SEGMENT_TEMPLATE = 'seg_%05d.ts';
const HLS_SEGMENT_LINES = /^(seg_\d{1,10}\.ts)$/gm;

/** FFmpeg command line: RTP described by an SDP in, a short live HLS window out (video copied). */
export function oldFfmpegHlsArgs(o: { sdpPath: string; outDir: string; segmentSeconds: number; listSize: number }): string[] {
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning',
    '-protocol_whitelist', 'file,udp,rtp',
    '-i', o.sdpPath,
    '-map', '0:v:0', '-map', '0:a:0',
    '-c:v', 'copy',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000',
    '-f', 'hls',
    '-hls_time', String(o.segmentSeconds),
    '-hls_list_size', String(o.listSize),
    '-hls_flags', 'delete_segments+independent_segments+program_date_time',
    '-hls_segment_filename', path.join(o.outDir, HLS_SEGMENT_TEMPLATE),
    path.join(o.outDir, HLS_PLAYLIST_FILE),
  ];
}

function parsePlaylistWindow(text: string): { lastMsn: number } {
  const mediaSequence = Number(/^#EXT-X-MEDIA-SEQUENCE:(\d+)/m.exec(text)?.[1] ?? 0);
  const segments = (text.match(/^#EXTINF:/gm) ?? []).length;
  return { lastMsn: segments > 0 ? mediaSequence + segments - 1 : -1 };
}

function withBlockingReload(text: string): string {
  if (text.includes('#EXT-X-SERVER-CONTROL')) return text;
  return text.replace(/^(#EXT-X-TARGETDURATION:\d+)$/m, '$1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES');
}

async function readSegment(file: string): Promise<Buffer | null> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
  if (!handle) return null;
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** The old server side: the playlist and each new segment read once per update into memory. */
export class OldLivePlaylist {
  private text: string | null = null;
  private lastMsn = -1;
  private readonly watcher: FSWatcher;
  private readonly file: string;
  private closed = false;
  private segments = new Map<string, Buffer>();

  constructor(private readonly dir: string) {
    this.file = path.join(dir, HLS_PLAYLIST_FILE);
    this.watcher = watch(dir, (_, filename) => {
      if (filename === HLS_PLAYLIST_FILE) void this.reload();
    });
    this.watcher.on('error', () => this.close());
    void this.reload();
  }

  get body(): string | null {
    return this.text;
  }

  get newestSegment(): number {
    return this.lastMsn;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.close();
    this.segments.clear();
  }

  private async reload(): Promise<void> {
    let raw: string;
    try {
      raw = await readFile(this.file, 'utf8');
    } catch {
      return;
    }
    if (this.closed) return;
    const { lastMsn } = parsePlaylistWindow(raw);
    if (lastMsn < this.lastMsn) return;
    const names = [...raw.matchAll(HLS_SEGMENT_LINES)].map((m) => m[1]!);
    const segments = new Map<string, Buffer>();
    for (const name of names) {
      const data = this.segments.get(name) ?? (await readSegment(path.join(this.dir, name)));
      if (data) segments.set(name, data);
    }
    if (this.closed || lastMsn < this.lastMsn) return;
    this.segments = segments;
    this.text = withBlockingReload(raw);
    this.lastMsn = lastMsn;
  }
}
