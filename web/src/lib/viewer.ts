import Hls from 'hls.js';
import { CHANNEL_ID_PATTERN, type ChannelState } from '$protocol';
import { lowLatencyHlsConfig } from './hls-config';
import { connectChannel, type ChannelSocket } from './signalling';

export type ViewerState = 'connecting' | 'waiting' | 'playing' | 'ended' | 'not-found' | 'error';

export interface ViewerEvents {
  onState(state: ViewerState, detail?: string): void;
  onViewers(viewers: number): void;
}

/**
 * Watches a channel: joins its namespace as a viewer (which is what the viewer count counts),
 * waits until the server says the HLS playlist exists, then plays it with hls.js.
 */
export class Viewer {
  private socket: ChannelSocket | null = null;
  private hls: Hls | null = null;
  private playlist: string | null = null;
  private state: ViewerState = 'connecting';

  constructor(
    private readonly channelId: string,
    private readonly video: HTMLVideoElement,
    private readonly events: ViewerEvents,
  ) {}

  start(): void {
    if (!CHANNEL_ID_PATTERN.test(this.channelId)) return this.set('not-found');
    const socket = connectChannel(this.channelId, { role: 'viewer' });
    this.socket = socket;
    socket.on('connect_error', (error) => {
      if (error.message === 'channel not found') {
        socket.disconnect();
        this.set(this.state === 'playing' || this.state === 'waiting' ? 'ended' : 'not-found',
          this.state === 'connecting' ? undefined : 'the stream has ended');
      } else if (this.state === 'connecting') {
        this.set('connecting', `cannot reach the server (${error.message}); retrying…`);
      }
    });
    socket.on('channelState', (s) => this.onChannelState(s));
    socket.on('viewerCount', ({ viewers }) => this.events.onViewers(viewers));
    socket.on('streamEnded', ({ reason }) => this.end(reason));
  }

  /** Seconds behind the live edge as hls.js estimates it (from the playlist), if playing HLS. */
  get behindLiveSeconds(): number | null {
    const latency = this.hls?.latency;
    return latency !== undefined && Number.isFinite(latency) && latency > 0 ? latency : null;
  }

  stop(): void {
    this.hls?.destroy();
    this.hls = null;
    this.socket?.disconnect();
    this.socket = null;
  }

  private onChannelState(s: ChannelState): void {
    if (s.phase === 'ended') return this.end('the stream has ended');
    if (!s.hls) return this.set('waiting');
    if (this.playlist !== s.hls.playlist) {
      this.playlist = s.hls.playlist;
      this.play(s.hls.playlist, s.hls.segmentSeconds);
    }
  }

  private play(url: string, segmentSeconds: number): void {
    const video = this.video;
    if (Hls.isSupported()) {
      const hls = new Hls(lowLatencyHlsConfig(segmentSeconds));
      this.hls = hls;
      hls.on(Hls.Events.ERROR, (_, data) => {
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
        else this.set('error', `playback failed (${data.details}); the stream may have ended`);
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = url; // Safari plays HLS natively
    } else {
      return this.set('error', 'this browser cannot play HLS');
    }
    video.addEventListener('playing', () => this.set('playing'), { once: true });
    video.play().catch(() => {
      // Autoplay with sound was blocked: start muted, the page offers an unmute button.
      video.muted = true;
      void video.play().catch(() => undefined);
    });
  }

  private end(reason: string): void {
    this.stop();
    this.video.removeAttribute('src');
    this.video.load();
    this.set('ended', reason);
  }

  private set(state: ViewerState, detail?: string): void {
    this.state = state;
    this.events.onState(state, detail);
  }
}
