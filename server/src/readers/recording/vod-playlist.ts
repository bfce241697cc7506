import HLS from 'hls-parser';
import type { IndexEntry } from './recording-files.js';
import { segmentFileName } from './recording-files.js';

const round3 = (seconds: number): number => Math.round(seconds * 1000) / 1000;

/**
 * A recording's media playlist, written by hls-parser. Ended: `EXT-X-PLAYLIST-TYPE:VOD` and
 * `EXT-X-ENDLIST`, so players offer the whole timeline and seeking. While the broadcast is live:
 * `EVENT` (segments are only ever appended), which players treat as live with the whole
 * broadcast seekable behind the edge — the DVR window. A new init segment (FFmpeg restarted) or a
 * gap is an `EXT-X-DISCONTINUITY`. Target duration: the longest segment rounded up, so that no
 * EXTINF rounds above it.
 */
export function writeRecordingPlaylist(entries: readonly IndexEntry[], o: { ended: boolean }): string {
  const longest = entries.reduce((max, e) => Math.max(max, e.duration), 0);
  const segments = entries.map(
    (entry, i) =>
      new HLS.types.Segment({
        uri: segmentFileName(entry.msn),
        duration: round3(entry.duration),
        mediaSequenceNumber: i,
        // The first segment starts the timeline; a marker there would mean nothing.
        discontinuity: i > 0 && (entry.discontinuity || entry.init !== entries[i - 1]!.init),
        map: new HLS.types.MediaInitializationSection({ uri: entry.init }),
        programDateTime: new Date(entry.programDateTime),
      }),
  );
  return HLS.stringify(
    new HLS.types.MediaPlaylist({
      version: 7,
      targetDuration: Math.max(1, Math.ceil(longest)),
      mediaSequenceBase: 0,
      playlistType: o.ended ? 'VOD' : 'EVENT',
      segments,
      endlist: o.ended,
    }),
  );
}
