import { Device, type types } from 'mediasoup-client';
import { connectErrorCode, type Audience, type ChannelState, type ErrorCode } from '$protocol';
import { connectChannel, connectLobby, connected, request, RequestError, type ChannelSocket } from './signalling';

export type BroadcastState = 'connecting' | 'starting' | 'live' | 'reconnecting' | 'ended' | 'error';

export interface BroadcastEvents {
  /** `code`: why the server refused (state 'error'), e.g. 'unauthorized' when a publish key is needed. */
  onState(state: BroadcastState, detail?: string, code?: ErrorCode | 'timeout'): void;
  onAudience(audience: Audience): void;
  /** `origin`: the instance that carries the channel (null: the page's own server). */
  onChannel(channel: { channelId: string; publishToken: string; origin: string | null }): void;
}

/** Prefer H264: the server passes it through to HLS untouched; anything else is re-encoded. */
function preferredVideoCodec(device: Device): types.RtpCodecCapability | undefined {
  return device.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === 'video/h264');
}

/**
 * Simulcast layers for a camera `height` pixels high, lowest first: a quarter, half and full size
 * (720p: 180p, 360p, 720p) where the smallest stays at least 135 lines, two layers down to 270p,
 * none below (one layer is no choice). Each layer's ceiling grows with its pixels.
 */
export function simulcastEncodings(height: number): types.RtpEncodingParameters[] | undefined {
  const scales = height >= 540 ? [4, 2, 1] : height >= 270 ? [2, 1] : [];
  if (scales.length === 0) return undefined;
  return scales.map((scale) => {
    const layerHeight = height / scale;
    // ~1.5 Mbit/s at 720p, 500 kbit/s at 360p, 150 kbit/s at 180p; at most 4 Mbit/s.
    const maxBitrate = Math.min(4_000_000, Math.round(layerHeight <= 200 ? 150_000 : layerHeight <= 400 ? 500_000 : 1_500_000 * (layerHeight / 720) ** 2));
    return { scaleResolutionDownBy: scale, maxBitrate };
  });
}

/**
 * The publish side of the protocol: create a channel, join its namespace as the broadcaster and
 * run the handshake (router capabilities → producer transport → DTLS connect → one produce per
 * track). Every step is an acknowledged Socket.IO request; any failure ends in state 'error'.
 */
/** What the video starts at before the bandwidth estimate takes over, kbit/s. */
const START_BITRATE_KBPS = 1000;

export class Broadcast {
  private socket: ChannelSocket | null = null;
  private transport: types.Transport | null = null;
  private state: BroadcastState = 'connecting';
  private stopped = false;
  private publishToken: string | null = null;

  constructor(private readonly events: BroadcastEvents) {}

  async start(stream: MediaStream, publishKey?: string): Promise<void> {
    try {
      this.set('connecting');
      const lobby = connectLobby();
      let channel;
      try {
        await connected(lobby);
        channel = await request(lobby, 'createChannel', publishKey ? { publishKey } : {});
      } finally {
        lobby.disconnect();
      }
      this.publishToken = channel.publishToken;
      this.events.onChannel(channel);

      const session = crypto.randomUUID();
      const socket = connectChannel(channel.channelId, { role: 'broadcaster', publishToken: channel.publishToken, session }, channel.origin);
      this.socket = socket;
      this.listen(socket);
      await connected(socket);

      const { rtpCapabilities } = await request(socket, 'getRouterRtpCapabilities', {});
      const device = new Device();
      await device.load({ routerRtpCapabilities: rtpCapabilities });

      const { simulcast, ...options } = await request(socket, 'createProducerTransport', {});
      const transport = device.createSendTransport(options);
      this.transport = transport;
      transport.on('connect', ({ dtlsParameters }, done, fail) => {
        request(socket, 'connectProducerTransport', { dtlsParameters }).then(() => done(), fail);
      });
      const video = stream.getVideoTracks()[0];
      const audio = stream.getAudioTracks()[0];
      if (!video || !audio) throw new Error('both a camera and a microphone are needed to go live');
      const { width, height } = video.getSettings();
      // The server names the simulcast layers from it (720p, 360p, 180p).
      const videoFrameSize = width && height ? { width: Math.round(width), height: Math.round(height) } : undefined;
      transport.on('produce', ({ kind, rtpParameters }, done, fail) => {
        const frameSize = kind === 'video' ? videoFrameSize : undefined;
        request(socket, 'produce', { kind, rtpParameters, ...(frameSize ? { frameSize } : {}) }).then(({ producerId }) => done({ id: producerId }), fail);
      });
      transport.on('connectionstatechange', (state) => {
        if (state === 'failed') this.fail('the media connection to the server failed');
      });

      // Chromium's bandwidth estimate starts at 300 kbit/s and its encoder starts at 320x180,
      // climbing for seconds; a start bitrate of 1 Mbit/s (x-google-start-bitrate) has it send
      // full resolution from the first frames on a network that can carry it.
      // Simulcast: every layer from the first frames too (the start bitrate covers them all).
      const encodings = simulcast && height ? simulcastEncodings(height) : undefined;
      // Under CPU pressure Chromium drops simulcast layers or shrinks them ("balanced"); HLS carries
      // the top layer, and each size change is a new timeline for its viewers. "detail" makes it
      // keep the sizes and lower the frame rate instead.
      if (encodings && !video.contentHint) video.contentHint = 'detail';
      const startKbps = Math.max(START_BITRATE_KBPS, Math.ceil((encodings ?? []).reduce((sum, e) => sum + (e.maxBitrate ?? 0), 0) / 1000));
      await transport.produce({
        track: video,
        codec: preferredVideoCodec(device),
        ...(encodings ? { encodings } : {}),
        codecOptions: { videoGoogleStartBitrate: startKbps },
        stopTracks: false,
      });
      await transport.produce({ track: audio, stopTracks: false });
      if (this.state === 'connecting') this.set('starting');
    } catch (error) {
      this.fail(error instanceof Error ? error.message : String(error), error instanceof RequestError ? error.code : undefined);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const socket = this.socket;
    if (socket?.connected) await request(socket, 'stopBroadcast', {}).catch(() => undefined);
    this.teardown();
    this.set('ended', 'you ended the stream');
  }

  /** The page is going away: tell the server at once (no ack can arrive any more). */
  leave(): void {
    this.stopped = true;
    this.socket?.disconnect();
  }

  /** Names the stream (every page of the channel sees it at once); the server's answer, trimmed. */
  async setDetails(title: string, description: string): Promise<{ title: string; description: string }> {
    if (!this.socket?.connected || !this.publishToken) throw new Error('not connected to the channel');
    return request(this.socket, 'setDetails', { publishToken: this.publishToken, title, description });
  }

  private listen(socket: ChannelSocket): void {
    socket.on('channelState', (s: ChannelState) => {
      if (s.phase === 'live' && (this.state === 'starting' || this.state === 'connecting' || this.state === 'reconnecting')) this.set('live');
    });
    socket.on('viewerCount', (audience) => this.events.onAudience(audience));
    socket.on('streamEnded', ({ reason }) => {
      this.stopped = true;
      this.teardown();
      this.set('ended', reason);
    });
    socket.on('connect', () => {
      if (this.state === 'reconnecting') this.set('starting', 'reconnected');
    });
    socket.on('disconnect', (reason) => {
      if (!this.stopped && reason !== 'io client disconnect') this.set('reconnecting', 'lost the connection to the server');
    });
    socket.io.on('reconnect_failed', () => this.fail('could not reconnect to the server'));
    socket.on('connect_error', (error) => {
      // Network errors: Socket.IO keeps retrying. A refusal by the server (the channel ended
      // while we were away) is final.
      const refusal = connectErrorCode(error);
      if (this.state === 'reconnecting' && refusal) {
        this.stopped = true;
        this.teardown();
        this.set('ended', refusal === 'not-found' ? 'the channel ended while the connection was lost' : error.message);
      }
    });
  }

  private fail(message: string, code?: ErrorCode | 'timeout'): void {
    if (this.state === 'ended' || this.state === 'error') return;
    this.stopped = true;
    this.teardown();
    this.set('error', message, code);
  }

  private teardown(): void {
    this.transport?.close();
    this.transport = null;
    this.socket?.disconnect();
    this.socket = null;
  }

  private set(state: BroadcastState, detail?: string, code?: ErrorCode | 'timeout'): void {
    this.state = state;
    this.events.onState(state, detail, code);
  }
}
