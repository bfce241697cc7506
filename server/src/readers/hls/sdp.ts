import type { types } from 'mediasoup';

/** One RTP stream as FFmpeg must see it: the consumer's codec, not the browser's. */
export interface RtpStreamDescription {
  kind: 'audio' | 'video';
  port: number;
  payloadType: number;
  encodingName: string;
  clockRate: number;
  channels?: number;
  fmtp?: string;
}

/**
 * Picks the media codec of a consumer (the first one that is not RTX/FEC) and turns it into the
 * fields an SDP m= section needs. Payload types are the router's, which the consumer sends with.
 */
export function describeConsumerStream(
  kind: 'audio' | 'video',
  port: number,
  rtpParameters: types.RtpParameters,
): RtpStreamDescription {
  const codec = rtpParameters.codecs.find((c) => !/\/(rtx|red|ulpfec|flexfec)$/i.test(c.mimeType));
  if (!codec) throw new Error(`the ${kind} consumer has no media codec`);
  const encodingName = codec.mimeType.split('/')[1] ?? codec.mimeType;
  const fmtp = Object.entries(codec.parameters ?? {})
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(';');
  return {
    kind,
    port,
    payloadType: codec.payloadType,
    // FFmpeg's RTP demuxer matches names case-insensitively, but opus must announce 2 channels.
    encodingName,
    clockRate: codec.clockRate,
    ...(kind === 'audio' ? { channels: codec.channels ?? 1 } : {}),
    ...(fmtp ? { fmtp } : {}),
  };
}

/** An SDP that makes FFmpeg listen for the given RTP streams on `ip` (RTCP on port + 1). */
export function writeSdp(sessionName: string, ip: string, streams: RtpStreamDescription[]): string {
  const lines = ['v=0', `o=- 0 0 IN IP4 ${ip}`, `s=${sessionName}`, `c=IN IP4 ${ip}`, 't=0 0'];
  for (const s of streams) {
    const rtpmap = [s.encodingName, s.clockRate, ...(s.channels && s.channels > 1 ? [s.channels] : [])].join('/');
    lines.push(`m=${s.kind} ${s.port} RTP/AVP ${s.payloadType}`);
    lines.push(`a=rtpmap:${s.payloadType} ${rtpmap}`);
    if (s.fmtp) lines.push(`a=fmtp:${s.payloadType} ${s.fmtp}`);
    lines.push('a=recvonly');
  }
  return `${lines.join('\n')}\n`;
}
