import { createFile, MP4BoxBuffer, type ISOFile } from 'mp4box';

/**
 * Fragmented MP4 as FFmpeg writes it to a pipe (`-f mp4 -movflags +frag_keyframe+empty_moov+
 * default_base_moof`): `ftyp`+`moov` (the init segment), then `moof`+`mdat` pairs (fragments of
 * about one frame each). The splitting into top-level boxes is done here (a byte count); what a
 * box says is read by mp4box.js.
 */

export interface TrackInfo {
  id: number;
  kind: 'video' | 'audio';
  timescale: number;
  /** The movie's defaults for the track (`trex`), used when a fragment gives none. */
  defaultSampleFlags?: number;
  defaultSampleDuration?: number;
}

/** The samples of one track in a fragment, in seconds of media time. */
export interface TrackSpan {
  start: number;
  duration: number;
  samples: number;
  /** The first sample is a sync sample (for video: a key frame). */
  sync: boolean;
}

/** What the packager needs of one fragment: the span of each track it carries samples of. */
export type FragmentTiming = Partial<Record<'video' | 'audio', TrackSpan>>;

/** Splits a byte stream into top-level ISO BMFF boxes. */
export class BoxSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Feeds bytes; returns the boxes completed by them, in order. */
  push(chunk: Buffer): { type: string; data: Buffer }[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const boxes: { type: string; data: Buffer }[] = [];
    let buffer = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    let offset = 0;
    while (buffer.length - offset >= 8) {
      let size = buffer.readUInt32BE(offset);
      let header = 8;
      if (size === 1) {
        if (buffer.length - offset < 16) break;
        size = Number(buffer.readBigUInt64BE(offset + 8));
        header = 16;
      }
      // Size 0 ("to the end of the file") cannot occur in a live stream; a size below the header is garbage.
      if (size < header) throw new Error(`malformed MP4 box of size ${size} at byte ${offset}`);
      if (buffer.length - offset < size) break;
      boxes.push({ type: buffer.toString('latin1', offset + 4, offset + 8), data: buffer.subarray(offset, offset + size) });
      offset += size;
    }
    buffer = buffer.subarray(offset);
    this.pending = buffer.length > 0 ? [buffer] : [];
    this.pendingBytes = buffer.length;
    return boxes;
  }
}

function parse(data: Buffer): ISOFile {
  const file = createFile(true);
  const copy = new ArrayBuffer(data.length);
  new Uint8Array(copy).set(data);
  file.appendBuffer(MP4BoxBuffer.fromArrayBuffer(copy, 0));
  return file;
}

/** The tracks an init segment (`moov`) declares. */
export function readInit(moov: Buffer): TrackInfo[] {
  const file = parse(moov);
  const traks = file.moov?.traks ?? [];
  const tracks: TrackInfo[] = [];
  const trexs = file.moov?.mvex?.trexs ?? [];
  for (const trak of traks) {
    const handler = trak.mdia?.hdlr?.handler;
    if (handler !== 'vide' && handler !== 'soun') continue;
    const id = trak.tkhd!.track_id;
    const trex = trexs.find((t) => t.track_id === id);
    tracks.push({ id, kind: handler === 'vide' ? 'video' : 'audio', timescale: trak.mdia!.mdhd!.timescale, defaultSampleFlags: trex?.default_sample_flags, defaultSampleDuration: trex?.default_sample_duration });
  }
  if (tracks.length === 0) throw new Error('the init segment declares no audio or video track');
  return tracks;
}

/** Sample flag bit 16 (ISO/IEC 14496-12 §8.8.3.1): sample_is_non_sync_sample. */
const NON_SYNC = 0x10000;

/** The timing of one `moof` (its `mdat` is not needed for that). */
export function readFragment(moof: Buffer, tracks: TrackInfo[]): FragmentTiming {
  const file = parse(moof);
  const box = file.moofs?.[0];
  if (!box) throw new Error('not a moof box');
  const timing: FragmentTiming = {};
  for (const traf of box.trafs ?? []) {
    const tfhd = traf.tfhd;
    const track = tracks.find((t) => t.id === tfhd?.track_id);
    if (!track || !tfhd) continue;
    let ticks = 0;
    let samples = 0;
    let firstFlags: number | undefined;
    for (const trun of traf.truns ?? []) {
      for (let i = 0; i < trun.sample_count; i++) ticks += trun.sample_duration?.[i] ?? (tfhd.flags & 0x8 ? tfhd.default_sample_duration : track.defaultSampleDuration) ?? 0;
      samples += trun.sample_count;
      if (firstFlags === undefined && trun.sample_count > 0) {
        // trun flags 0x4 / 0x400: first-sample flags / per-sample flags present (§8.8.8).
        firstFlags = trun.flags & 0x4 ? trun.first_sample_flags : trun.flags & 0x400 ? trun.sample_flags?.[0] : undefined;
        firstFlags ??= tfhd.flags & 0x20 ? tfhd.default_sample_flags : track.defaultSampleFlags;
      }
    }
    if (samples === 0) continue;
    timing[track.kind] = {
      start: Number(traf.tfdt?.baseMediaDecodeTime ?? 0) / track.timescale,
      duration: ticks / track.timescale,
      samples,
      // Every audio frame is a sync sample; for video the flags say.
      sync: track.kind === 'audio' || (firstFlags !== undefined && (firstFlags & NON_SYNC) === 0),
    };
  }
  return timing;
}
