import { connectErrorCode, whipEndpointPath, type LobbyResults } from '$protocol';
import { connectChannel, connected, connectLobby, request, type ChannelSocket } from './signalling';

export interface EncoderChannel {
  channelId: string;
  /** Where an encoder (OBS 30+, any WHIP client) POSTs its offer. */
  whipUrl: string;
  /** The bearer token for that URL; separate from the page's publish token. */
  streamKey: string;
  watchUrl: string;
  /** The page's own secret: proves it is the channel's owner (hold, new key); never shown. */
  publishToken: string;
  /** The instance that carries the channel (null: the page's own server). */
  origin: string | null;
  /** OBS's "Server" for RTMP (the stream key goes in "Stream Key"); null when the server has no RTMP. */
  rtmpServer: string | null;
  /** The same over TLS, when the server has RTMPS. */
  rtmpsServer: string | null;
  /** The channel's SRT port (its passphrase is the stream key); null when the server has no SRT. */
  srtPort: number | null;
  /** The host encoders reach the channel's instance at. */
  host: string;
}

/** The SRT URL an encoder (OBS, FFmpeg, vMix) publishes to: the stream key is the passphrase. */
export function srtUrl(channel: EncoderChannel): string | null {
  if (channel.srtPort === null) return null;
  return `srt://${channel.host}:${channel.srtPort}?passphrase=${encodeURIComponent(channel.streamKey)}`;
}

/**
 * A channel for an encoder instead of this page's camera: created like any channel, but nobody
 * publishes from the page, so its WHIP URL and stream key can be given to OBS. While the page
 * follows it (`EncoderWatch`) the channel waits for the encoder; then it goes live by itself.
 */
export async function createEncoderChannel(publishKey?: string): Promise<EncoderChannel> {
  const lobby = connectLobby();
  let channel: LobbyResults['createChannel'];
  try {
    await connected(lobby);
    channel = await request(lobby, 'createChannel', publishKey ? { publishKey } : {});
  } finally {
    lobby.disconnect();
  }
  // In a cluster the channel lives on the instance that created it: the encoder must go there.
  const origin = channel.origin ?? location.origin;
  const host = new URL(origin).hostname;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  return {
    channelId: channel.channelId,
    whipUrl: new URL(whipEndpointPath(channel.channelId), origin).href,
    streamKey: channel.streamKey,
    watchUrl: `${location.origin}/watch/${channel.channelId}`,
    publishToken: channel.publishToken,
    origin: channel.origin,
    rtmpServer: channel.ingest.rtmpPort === null ? null : `rtmp://${hostInUrl}:${channel.ingest.rtmpPort}/live`,
    rtmpsServer: channel.ingest.rtmpsPort === null ? null : `rtmps://${hostInUrl}:${channel.ingest.rtmpsPort}/live`,
    srtPort: channel.ingest.srtPort,
    host: hostInUrl,
  };
}

/** Where an encoder channel stands, as the panel shows it. */
export type EncoderStatus =
  | { phase: 'connecting' | 'waiting' | 'starting' }
  | { phase: 'live'; viewers: number }
  | { phase: 'ended'; reason: string };

/**
 * Follows an encoder channel as its owner: the server counts the page as no viewer and, while it
 * is connected, does not drop the channel for want of an encoder (setting up OBS takes a while).
 * Socket.IO reconnects by itself after a network drop, with the same token, and holds it again.
 */
export class EncoderWatch {
  private socket: ChannelSocket | null = null;
  private status: EncoderStatus = { phase: 'connecting' };
  private viewers = 0;

  constructor(
    private readonly channel: EncoderChannel,
    private readonly onStatus: (status: EncoderStatus) => void,
  ) {}

  start(): void {
    const socket = connectChannel(this.channel.channelId, { role: 'owner', publishToken: this.channel.publishToken }, this.channel.origin);
    this.socket = socket;
    socket.on('channelState', (s) => {
      if (s.phase === 'ended') return this.end('the channel has ended');
      if (s.phase === 'live') return this.set({ phase: 'live', viewers: this.viewers });
      // Tracks exist once the encoder's offer was accepted; HLS follows when media flows.
      this.set({ phase: s.realtime ? 'starting' : 'waiting' });
    });
    socket.on('viewerCount', ({ viewers }) => {
      this.viewers = viewers;
      if (this.status.phase === 'live') this.set({ phase: 'live', viewers });
    });
    socket.on('streamEnded', ({ reason }) => this.end(reason));
    socket.on('connect_error', (error) => {
      // A network error is retried by Socket.IO; a refusal by the server is final.
      const refusal = connectErrorCode(error);
      if (refusal) this.end(refusal === 'not-found' ? 'the channel has ended' : error.message);
    });
  }

  /** Asks the server for a new stream key; the old one stops working at once. */
  async rotateKey(): Promise<string> {
    if (!this.socket) throw new Error('the channel is not followed');
    const { streamKey } = await request(this.socket, 'rotateStreamKey', { publishToken: this.channel.publishToken });
    return streamKey;
  }

  stop(): void {
    this.socket?.disconnect();
    this.socket = null;
  }

  private end(reason: string): void {
    this.stop();
    this.set({ phase: 'ended', reason });
  }

  private set(status: EncoderStatus): void {
    if (this.status.phase === 'ended') return;
    this.status = status;
    this.onStatus(status);
  }
}
