import net from 'node:net';
import tls from 'node:tls';
import type AVPacket from 'node-media-server/src/core/avpacket.js';
import Flv from 'node-media-server/src/protocol/flv.js';
import Rtmp from 'node-media-server/src/protocol/rtmp.js';
import type { Logger } from '../logger.js';
import { flvCodecProblem } from './flv-codecs.js';

/** What a channel gives an RTMP encoder: the ingest its FLV goes to. */
export interface RtmpIngest {
  write(flv: Buffer): void;
  stop(): Promise<unknown>;
  readonly exited: Promise<unknown>;
}

/** What the RTMP server needs of a channel (Channel has it). */
export interface RtmpChannel {
  readonly id: string;
  /** Throws (a ChannelError) when the channel cannot take this encoder: it has another source. */
  publishRtmp(): RtmpIngest;
  /** The stream cannot be played (a codec livecast does not take): the channel ends, saying why. */
  end(reason: string): Promise<void>;
}

export interface RtmpServerOptions {
  host: string;
  port: number;
  /** RTMPS (RTMP in TLS) on its own port with the HTTPS certificate; null: none. */
  rtmps: { port: number; cert: Buffer; key: Buffer } | null;
  /** This instance's channel with this stream key, if any (compared in constant time). */
  channelForKey: (key: string) => RtmpChannel | undefined;
  logger: Logger;
  /** A connection must have published with a valid key by then (slow or silent clients). */
  publishWithinMs?: number;
  /** Connections that have not published yet, at most (a flood of them is cut at the door). */
  maxPending?: number;
}

/**
 * What one connection may make the protocol module allocate. It allocates a message's buffer from
 * the length its header claims (up to 16 MB) and keeps one per chunk stream id (up to ~130,000):
 * a few bytes could claim gigabytes. Before publishing, only small commands are sent; after, a
 * key frame of a high-bitrate stream is at most a few MB.
 */
const MAX_COMMAND_BYTES = 64 * 1024;
const MAX_MEDIA_MESSAGE_BYTES = 8 * 1024 * 1024;
const MAX_CHUNK_STREAMS = 16;

/** The RTMP application encoders publish to: `rtmp://<host>/live` with the stream key as stream name. */
export const RTMP_APP = 'live';

/**
 * RTMP ingest on one port for every channel: `rtmp://<host>:<port>/live/<stream key>`. The RTMP
 * protocol (handshake, chunk stream, AMF commands) is node-media-server's; this server decides who
 * may publish: the stream key names the channel and is checked when the encoder publishes, before
 * any of its media is read; a wrong key, a channel with another source, playing (livecast serves
 * HLS and WebRTC, not RTMP) and a codec other than H264/AAC are refused, and the connection closed.
 * Accepted media goes on as FLV into the channel's ingest FFmpeg.
 */
export class RtmpServer {
  private readonly server: net.Server;
  private readonly tlsServer: tls.Server | null;
  private readonly sockets = new Set<net.Socket>();
  private pending = 0;

  private constructor(private readonly o: RtmpServerOptions) {
    this.server = net.createServer((socket) => this.accept(socket));
    // A TLS handshake that fails (a scanner, a wrong certificate) never reaches accept().
    this.tlsServer = o.rtmps ? tls.createServer({ cert: o.rtmps.cert, key: o.rtmps.key, handshakeTimeout: 10_000 }, (socket) => this.accept(socket)) : null;
  }

  static async listen(o: RtmpServerOptions): Promise<RtmpServer> {
    const rtmp = new RtmpServer(o);
    const listen = (server: net.Server, port: number, name: string) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', (error) => reject(new Error(`${name} ${port}: ${error.message}`)));
        server.listen(port, o.host, () => resolve());
      });
    await listen(rtmp.server, o.port, 'RTMP_PORT');
    if (rtmp.tlsServer && o.rtmps) {
      await listen(rtmp.tlsServer, o.rtmps.port, 'RTMPS_PORT').catch((error: unknown) => {
        rtmp.server.close();
        throw error;
      });
    }
    for (const server of [rtmp.server, rtmp.tlsServer]) server?.on('error', (error) => o.logger.error({ err: error }, 'rtmp server error'));
    o.logger.info({ port: rtmp.port, rtmpsPort: rtmp.rtmpsPort }, `rtmp ingest on rtmp://${o.host}:${rtmp.port}/${RTMP_APP}/<stream key>${rtmp.rtmpsPort ? ` and rtmps://…:${rtmp.rtmpsPort}` : ''}`);
    return rtmp;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : this.o.port;
  }

  /** The RTMPS port, or null without TLS. */
  get rtmpsPort(): number | null {
    const address = this.tlsServer?.address();
    return typeof address === 'object' && address ? address.port : null;
  }

  /** Open connections (tests and leak checks). */
  get connections(): number {
    return this.sockets.size;
  }

  private accept(socket: net.Socket): void {
    const { logger } = this.o;
    const address = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.pending >= (this.o.maxPending ?? 64)) {
      logger.warn({ address }, 'rtmp: too many connections waiting to publish; refused');
      return void socket.destroy();
    }
    this.sockets.add(socket);
    this.pending++;
    let waiting = true;
    const published = () => {
      if (!waiting) return;
      waiting = false;
      this.pending--;
      clearTimeout(deadline);
    };
    const deadline = setTimeout(() => {
      logger.warn({ address }, 'rtmp: the connection did not publish in time; closed');
      socket.destroy();
    }, this.o.publishWithinMs ?? 10_000);
    socket.setNoDelay(true);

    const rtmp = new Rtmp();
    const allocate = rtmp.packetAlloc.bind(rtmp);
    rtmp.packetAlloc = () => {
      const length = rtmp.parserPacket.header.length;
      const limit = ingest ? MAX_MEDIA_MESSAGE_BYTES : MAX_COMMAND_BYTES;
      if (length > limit) throw new Error(`an RTMP message of ${length} bytes (at most ${limit} here)`);
      if (rtmp.inPackets.size > MAX_CHUNK_STREAMS) throw new Error(`more than ${MAX_CHUNK_STREAMS} RTMP chunk streams`);
      allocate();
    };
    let streamPath: { app: string; name: string } | null = null;
    let ingest: RtmpIngest | null = null;
    let channel: RtmpChannel | null = null;
    const refuse = (message: string, detail: object = {}) => {
      logger.warn({ address, ...detail }, `rtmp: ${message}`);
      socket.destroy();
    };

    rtmp.onOutputCallback = (buffer) => {
      if (!socket.destroyed) socket.write(buffer);
    };
    rtmp.onConnectCallback = (req) => (streamPath = { app: req.app, name: req.name });
    rtmp.onPlayCallback = () => refuse('playing over RTMP is not offered (watch over HLS or WebRTC); closed');
    rtmp.onPushCallback = () => {
      if (!streamPath || streamPath.app !== RTMP_APP) return refuse(`publish to rtmp://<host>/${RTMP_APP}/<stream key>; refused`, { app: streamPath?.app });
      const found = this.o.channelForKey(streamPath.name);
      // The key is never logged: a wrong one may be a typo of a right one.
      if (!found) return refuse('wrong stream key; refused');
      try {
        ingest = found.publishRtmp();
      } catch (error) {
        return refuse(`${error instanceof Error ? error.message : String(error)}; refused`, { channelId: found.id });
      }
      channel = found;
      published();
      logger.info({ address, channelId: found.id }, 'rtmp: an encoder is publishing');
      rtmp.onPacketCallback = (packet) => this.forward(packet, found, ingest!, socket, refuse);
      ingest.write(Flv.createHeader(true, true));
      // The ingest FFmpeg died (or the channel ended): the connection has nothing to go to.
      void ingest.exited.then(() => socket.destroy());
    };

    socket.on('data', (data) => {
      try {
        const error = rtmp.parserData(data);
        if (error) refuse(`protocol error: ${error}`);
      } catch (error) {
        refuse('malformed RTMP; closed', { err: error instanceof Error ? error.message : String(error) });
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      published();
      this.sockets.delete(socket);
      if (ingest) {
        logger.info({ address, channelId: channel?.id }, 'rtmp: the encoder disconnected');
        void ingest.stop();
      }
    });
  }

  /** One audio/video/data message of a publishing encoder, as an FLV tag to its ingest. */
  private forward(packet: AVPacket, channel: RtmpChannel, ingest: RtmpIngest, socket: net.Socket, refuse: (message: string) => void): void {
    if (socket.destroyed) return;
    const problem = flvCodecProblem(packet.codec_type, packet.data.subarray(0, packet.size));
    if (problem) {
      refuse(problem);
      void channel.end(problem);
      return;
    }
    ingest.write(Flv.createMessage(packet));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([this.server, this.tlsServer].map((server) => server && new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}
