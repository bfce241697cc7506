import type { types } from 'mediasoup';

/**
 * Codecs every channel router offers. H264 Constrained Baseline comes first because FFmpeg can
 * copy it into HLS untouched; VP8 stays available for browsers without H264 (FFmpeg then
 * transcodes it). Opus is what browsers send; FFmpeg turns it into AAC.
 */
export const routerMediaCodecs: types.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
];
