import type { types } from 'mediasoup';
import type { Channel } from '../../src/channel/channel.js';

/** Payload types and SSRCs an RTP sender must use; codecs as the router offers them. */
export const RTP_INGEST = {
  video: { payloadType: 102, ssrc: 22_222_222 },
  audio: { payloadType: 101, ssrc: 11_111_111 },
} as const;

export interface RtpIngest {
  /** H264 (packetization-mode 1) RTP and its RTCP go to these ports. */
  video: { rtpPort: number; rtcpPort: number };
  /** Opus RTP and its RTCP go to these ports. */
  audio: { rtpPort: number; rtcpPort: number };
  close(): void;
}

/**
 * Publishes to a channel from plain RTP instead of a browser (e.g. FFmpeg or a hardware encoder
 * on the same host): one PlainTransport per track on 127.0.0.1 that learns the sender's address
 * from its first packet (comedia), and producers the channel adopts like a broadcaster's.
 */
export async function createRtpIngest(channel: Channel): Promise<RtpIngest> {
  const transports: types.PlainTransport[] = [];
  const open = async (kind: 'audio' | 'video', rtpParameters: types.RtpParameters) => {
    const transport = await channel.router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      comedia: true,
      // Senders like FFmpeg send RTCP from a socket of its own; muxed, comedia would lock onto
      // whichever of the two came first and drop the other.
      rtcpMux: false,
    });
    transports.push(transport);
    const producer = await transport.produce({ kind, rtpParameters });
    return { ports: { rtpPort: transport.tuple.localPort, rtcpPort: transport.rtcpTuple!.localPort }, producer };
  };
  try {
    const video = await open('video', {
      codecs: [{
        mimeType: 'video/H264',
        payloadType: RTP_INGEST.video.payloadType,
        clockRate: 90000,
        parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
        // As a real encoder declares it: mediasoup sends key-frame requests (PLI) only to a source that takes them.
        rtcpFeedback: [{ type: 'nack', parameter: 'pli' }],
      }],
      encodings: [{ ssrc: RTP_INGEST.video.ssrc }],
    });
    const audio = await open('audio', {
      codecs: [{ mimeType: 'audio/opus', payloadType: RTP_INGEST.audio.payloadType, clockRate: 48000, channels: 2 }],
      encodings: [{ ssrc: RTP_INGEST.audio.ssrc }],
    });
    channel.addTrack(video.producer);
    channel.addTrack(audio.producer);
    return { video: video.ports, audio: audio.ports, close: () => transports.forEach((t) => t.close()) };
  } catch (error) {
    transports.forEach((t) => t.close());
    throw error;
  }
}
