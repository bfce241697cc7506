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
  /** The sample entry's four-character code: avc1/avc3 (H264), mp4a (AAC), Opus, hev1, … */
  codec: string;
  /** H264: profile_idc (66 Baseline, 77 Main, 100 High, …), from the avcC box. */
  h264Profile?: number;
  /** The codec as HLS CODECS and MSE name it (RFC 6381: avc1.42e01f, mp4a.40.2). */
  codecString?: string;
  /** Video: the frame size the sample entry declares. */
  width?: number;
  height?: number;
  timescale: number;
  /** The movie's defaults for the track (`trex`), used when a fragment gives none. */
  defaultSampleFlags?: number;
  defaultSampleDuration?: number;
  /** For AAC: the length of every frame (1024 samples) in the track's timescale. */
  aacFrameTicks?: number;
}

/** The samples of one track in a fragment, in seconds of media time. */
export interface TrackSpan {
  start: number;
  duration: number;
  samples: number;
  /** The first sample is a sync sample (for video: a key frame). */
  sync: boolean;
  /**
   * The first sample's composition offset, seconds (presented this long after it is decoded:
   * H264 with B-frames); absent when it is 0.
   */
  presentationOffset?: number;
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
    const timescale = trak.mdia!.mdhd!.timescale;
    const entry = trak.mdia?.minf?.stbl?.stsd?.entries[0];
    const sampleRate = entry?.type === 'mp4a' && 'samplerate' in entry ? Number(entry.samplerate) : 0;
    // avc1/avc3 entries carry the avcC box (mp4box types it loosely across sample entries).
    const avcC = entry && 'avcC' in entry ? (entry.avcC as { AVCProfileIndication?: number } | undefined) : undefined;
    const h264Profile = avcC?.AVCProfileIndication;
    const codecString = entry?.getCodec();
    const size = entry && 'width' in entry && 'height' in entry ? { width: Number(entry.width), height: Number(entry.height) } : {};
    tracks.push({
      id,
      kind: handler === 'vide' ? 'video' : 'audio',
      codec: entry?.type ?? '',
      ...(h264Profile !== undefined ? { h264Profile } : {}),
      ...(codecString ? { codecString } : {}),
      ...(handler === 'vide' ? size : {}),
      timescale,
      defaultSampleFlags: trex?.default_sample_flags,
      defaultSampleDuration: trex?.default_sample_duration,
      aacFrameTicks: sampleRate > 0 ? (AAC_FRAME_SAMPLES * timescale) / sampleRate : undefined,
    });
  }
  if (tracks.length === 0) throw new Error('the init segment declares no audio or video track');
  return tracks;
}

/** AAC-LC (what FFmpeg's aac encoder makes) codes 1024 samples per frame. */
const AAC_FRAME_SAMPLES = 1024;

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
    let firstOffset = 0;
    for (const trun of traf.truns ?? []) {
      for (let i = 0; i < trun.sample_count; i++) ticks += trun.sample_duration?.[i] ?? (tfhd.flags & 0x8 ? tfhd.default_sample_duration : track.defaultSampleDuration) ?? 0;
      samples += trun.sample_count;
      if (firstFlags === undefined && trun.sample_count > 0) {
        // trun flags 0x4 / 0x400: first-sample flags / per-sample flags present (§8.8.8).
        firstFlags = trun.flags & 0x4 ? trun.first_sample_flags : trun.flags & 0x400 ? trun.sample_flags?.[0] : undefined;
        firstFlags ??= tfhd.flags & 0x20 ? tfhd.default_sample_flags : track.defaultSampleFlags;
        // trun flag 0x800: per-sample composition time offsets present.
        if (trun.flags & 0x800) firstOffset = trun.sample_composition_time_offset?.[0] ?? 0;
      }
    }
    if (samples === 0) continue;
    timing[track.kind] = {
      start: Number(traf.tfdt?.baseMediaDecodeTime ?? 0) / track.timescale,
      duration: ticks / track.timescale,
      samples,
      // Every audio frame is a sync sample; for video the flags say.
      sync: track.kind === 'audio' || (firstFlags !== undefined && (firstFlags & NON_SYNC) === 0),
      ...(firstOffset !== 0 ? { presentationOffset: firstOffset / track.timescale } : {}),
    };
  }
  return timing;
}

/**
 * FFmpeg's mp4 muxer writes no edit list with `empty_moov`; when a track starts later than the
 * other, it moves that track's first sample back to time 0 and lengthens it to reach the second
 * (movenc.c: "move the timestamp for this first sample to 0, increasing its duration instead").
 * For AAC the stream then starts with up to one frame of audio played early, then a hole. Every
 * AAC frame lasts the same, so the first one's true time is known: this puts it back, moving the
 * fragment's decode time forward and giving the sample its real length. Returns the fragment's
 * `moof` unchanged when its first audio sample is not lengthened (or the track is not AAC).
 * Done in place on a copy: the box sizes do not change.
 */
export function restoreFirstAacSample(moof: Buffer, tracks: TrackInfo[]): Buffer {
  const aac = tracks.find((t) => t.aacFrameTicks);
  return aac ? restoreFirstSample(moof, aac, aac.aacFrameTicks!, 1) : moof;
}

/**
 * The same for a video track, whose frames need not all last the same: the first frame is taken
 * to last as long as the one after it (`nextSpan`, its first sample). Returns the fragment's
 * `moof` unchanged when its first video sample is not longer than that by a quarter of a frame
 * (frame times jitter by a tick or a millisecond).
 */
export function restoreFirstVideoSample(moof: Buffer, tracks: TrackInfo[], nextSpan: TrackSpan): Buffer {
  const video = tracks.find((t) => t.kind === 'video');
  if (!video || nextSpan.samples === 0) return moof;
  const frame = Math.round((nextSpan.duration / nextSpan.samples) * video.timescale);
  return restoreFirstSample(moof, video, frame, Math.ceil(frame / 4));
}

/**
 * Gives `track`'s first sample in this fragment the length `frame` (ticks) if it is longer by at
 * least `minExtra`, moving the fragment's decode time forward by what it loses.
 */
function restoreFirstSample(moof: Buffer, track: TrackInfo, frame: number, minExtra: number): Buffer {
  const file = parse(moof);
  for (const traf of file.moofs?.[0]?.trafs ?? []) {
    if (traf.tfhd?.track_id !== track.id) continue;
    const trun = traf.truns?.[0];
    const { tfhd, tfdt } = traf;
    if (!frame || !trun || trun.sample_count === 0 || trun.start === undefined || tfdt?.start === undefined || tfhd?.start === undefined) continue;
    // Where the first sample's duration is written (§8.8.7, §8.8.8; after the 8-byte box header
    // and 4 bytes of version and flags): in the trun (flag 0x100), else tfhd's default (0x8).
    let at: number;
    if (trun.flags & 0x100) at = trun.start + 8 + 4 + 4 + (trun.flags & 0x1 ? 4 : 0) + (trun.flags & 0x4 ? 4 : 0);
    else if (tfhd.flags & 0x8 && trun.sample_count === 1) at = tfhd.start + 8 + 4 + 4 + (tfhd.flags & 0x1 ? 8 : 0) + (tfhd.flags & 0x2 ? 4 : 0);
    else continue;
    const duration = moof.readUInt32BE(at);
    const extra = duration - frame;
    if (extra < minExtra || !Number.isInteger(extra)) continue;
    const patched = Buffer.from(moof);
    patched.writeUInt32BE(frame, at);
    const time = tfdt.start + 8 + 4;
    if (tfdt.version === 1) patched.writeBigUInt64BE(patched.readBigUInt64BE(time) + BigInt(extra), time);
    else patched.writeUInt32BE(patched.readUInt32BE(time) + extra, time);
    return patched;
  }
  return moof;
}
