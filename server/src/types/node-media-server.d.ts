// The parts of node-media-server's RTMP protocol module livecast uses (the package ships no types).
declare module 'node-media-server/src/core/avpacket.js' {
  class AVPacket {
    /** FLV tag type: 8 audio, 9 video, 18 script data. */
    codec_type: number;
    /** Audio: FLV SoundFormat (10 = AAC). Video: FLV CodecID (7 = H264), or an enhanced-RTMP FourCC. */
    codec_id: number;
    flags: number;
    pts: number;
    dts: number;
    size: number;
    data: Buffer;
  }
  export = AVPacket;
}

declare module 'node-media-server/src/protocol/rtmp.js' {
  import type AVPacket from 'node-media-server/src/core/avpacket.js';
  class Rtmp {
    /** With publish and play: the app, the stream name (without its query) and the query. */
    onConnectCallback: (req: { app: string; name: string; host: string; query: Record<string, unknown> }) => void;
    onPlayCallback: () => void;
    onPushCallback: () => void;
    onPacketCallback: (packet: AVPacket) => void;
    onOutputCallback: (buffer: Buffer) => void;
    /** Feeds bytes from the socket; returns an error message, or null. */
    parserData(buffer: Buffer): string | null;
    /** Internals the server bounds (see RtmpServer): the message being read, and one per chunk stream. */
    parserPacket: { header: { length: number } };
    inPackets: Map<number, unknown>;
    /** Allocates the message's payload buffer (of the length its header claims). */
    packetAlloc(): void;
  }
  export = Rtmp;
}

declare module 'node-media-server/src/protocol/flv.js' {
  import type AVPacket from 'node-media-server/src/core/avpacket.js';
  class Flv {
    static createHeader(hasAudio: boolean, hasVideo: boolean): Buffer;
    /** One FLV tag (with its trailing previous-tag size) for a packet. */
    static createMessage(packet: AVPacket): Buffer;
  }
  export = Flv;
}
