import type { types } from 'mediasoup';
import { ChannelError } from '../channel/channel-error.js';

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

/**
 * Refuses RTP parameters no real sender would offer: a codec of the other kind (audio carrying
 * H264), or a codec this router does not carry. Shapes and ranges (payload types 0–127, 32-bit
 * SSRCs) are checked by the protocol schema; mediasoup checks the rest in depth.
 */
export function refuseUnsupportedParameters(
  kind: 'audio' | 'video',
  rtpParameters: types.RtpParameters,
  routerCapabilities: types.RtpCapabilities,
): void {
  const offered = new Set(
    (routerCapabilities.codecs ?? []).filter((c) => c.kind === kind).map((c) => c.mimeType.toLowerCase()),
  );
  for (const codec of rtpParameters.codecs) {
    const mimeType = codec.mimeType.toLowerCase();
    if (!mimeType.startsWith(`${kind}/`)) throw new ChannelError('bad-request', `${kind === 'audio' ? 'an' : 'a'} ${kind} track cannot carry ${codec.mimeType}`);
    if (!offered.has(mimeType)) throw new ChannelError('bad-request', `unsupported codec ${codec.mimeType}; this server takes ${[...offered].join(', ')}`);
  }
}
