/** FLV tag types (FLV 10.1 §E.4.1). */
export const FLV_AUDIO = 8;
export const FLV_VIDEO = 9;

/** FLV SoundFormat 10: AAC. */
const SOUND_FORMAT_AAC = 10;
/** FLV video CodecID 7: AVC (H264). */
const CODEC_ID_AVC = 7;
const SOUND_FORMATS: Record<number, string> = { 2: 'MP3', 11: 'Speex', 14: 'MP3', 7: 'G.711 A-law', 8: 'G.711 µ-law', 6: 'Nellymoser' };
const VIDEO_CODECS: Record<number, string> = { 2: 'Sorenson H.263', 3: 'Screen video', 4: 'VP6', 5: 'VP6 alpha', 6: 'Screen video 2', 12: 'HEVC' };

/**
 * Why an RTMP stream's audio or video tag cannot be taken (livecast passes H264 and AAC through),
 * or null. Read from the tag's first byte: enhanced RTMP (HEVC, AV1, VP9: the ExHeader bit) and
 * legacy codecs are named, so the broadcaster learns what to change in the encoder.
 */
export function flvCodecProblem(tagType: number, body: Buffer): string | null {
  if (body.length === 0) return null;
  const first = body[0]!;
  if (tagType === FLV_AUDIO) {
    const format = first >> 4;
    if (format === SOUND_FORMAT_AAC) return null;
    return `the encoder sends ${SOUND_FORMATS[format] ?? `audio format ${format}`} audio; livecast takes AAC`;
  }
  if (tagType === FLV_VIDEO) {
    if (first & 0x80) {
      // Enhanced RTMP: a FourCC follows the first byte.
      const fourCc = body.length >= 5 ? body.subarray(1, 5).toString('latin1') : '?';
      return `the encoder sends ${fourCc === 'hvc1' ? 'HEVC' : fourCc === 'av01' ? 'AV1' : fourCc === 'vp09' ? 'VP9' : fourCc} video (enhanced RTMP); livecast takes H264 (x264 or a hardware H.264 encoder)`;
    }
    const codec = first & 0x0f;
    if (codec === CODEC_ID_AVC) return null;
    return `the encoder sends ${VIDEO_CODECS[codec] ?? `video codec ${codec}`} video; livecast takes H264 (x264 or a hardware H.264 encoder)`;
  }
  return null;
}
