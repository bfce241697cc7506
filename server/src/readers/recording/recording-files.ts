import { z } from 'zod';
import { recordingEntry } from '../../../../protocol/schemas.js';
import { parseJson } from '../../parse-json.js';

/**
 * What a recording keeps on disk next to its media, and how it is read back. Two files:
 *
 * - `recording.json`, the metadata, rewritten whole and atomically (temp file, fsync, rename) on
 *   the few occasions it changes: start, a new title, the broadcaster's listing choice, the end.
 * - `index.jsonl`, one line per segment, appended once the segment's file is written. A server
 *   killed mid-append leaves at most one partial last line, which is ignored: the recording is
 *   playable up to its last complete segment, without rewriting a growing file every second.
 */

export const METADATA_FILE = 'recording.json';
export const INDEX_FILE = 'index.jsonl';
export const THUMBNAIL_FILE = 'thumbnail.jpg';
export const DOWNLOAD_FILE = 'download.mp4';

/** The entry's fields a recording keeps (`recordingEntry`, declared once in protocol/), and its own. */
export const recordingMetadata = recordingEntry.pick({ recordingId: true, title: true, description: true, status: true, startedAt: true, endedAt: true, listed: true }).extend({
  version: z.literal(1),
  /** SHA-256 of the channel's publish token (hex): proves the broadcaster; the token itself is never stored. */
  ownerTokenHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** Totals as of the last write of this file (the index is the truth while recording). */
  duration: z.number().min(0),
  bytes: z.number().int().min(0),
  /** Why writing stopped (status 'failed'). */
  error: z.string().optional(),
});
export type RecordingMetadata = z.infer<typeof recordingMetadata>;

export const indexEntry = z.object({
  msn: z.number().int().min(0),
  /** The init segment it needs (a new one after an FFmpeg restart: a discontinuity). */
  init: z.string().regex(/^init_\d{1,5}\.mp4$/),
  duration: z.number().positive(),
  discontinuity: z.boolean(),
  /** Wall-clock time of its first sample, ms since the epoch (EXT-X-PROGRAM-DATE-TIME). */
  programDateTime: z.number(),
  bytes: z.number().int().min(0),
});
export type IndexEntry = z.infer<typeof indexEntry>;

export const segmentFileName = (msn: number): string => `seg_${msn}.m4s`;

/** Metadata from a file's text, or null when it is not valid (a partial or foreign file). */
export const parseMetadata = (text: string): RecordingMetadata | null => parseJson(recordingMetadata, text);

/** The index's entries in order; a line that does not parse (the partial last one of a killed server) is skipped. */
export function parseIndex(text: string): IndexEntry[] {
  const entries: IndexEntry[] = [];
  for (const line of text.split('\n')) {
    // A torn line (the last of a killed server) does not parse: everything before it is intact.
    const entry = line.trim() ? parseJson(indexEntry, line) : null;
    if (entry) entries.push(entry);
  }
  return entries;
}

export const indexLine = (entry: IndexEntry): string => `${JSON.stringify(entry)}\n`;

/** Seconds of media and bytes of media files the entries describe. */
export function totals(entries: readonly IndexEntry[]): { duration: number; bytes: number } {
  let duration = 0;
  let bytes = 0;
  for (const e of entries) {
    duration += e.duration;
    bytes += e.bytes;
  }
  return { duration: Math.round(duration * 1000) / 1000, bytes };
}
