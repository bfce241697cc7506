import { atOrigin, CHANNEL_ID_PATTERN, connectErrorCode, type Audience, type ChannelState } from '$protocol';
import { playHls, playRecording, type Player, type Quality, type QualityChoice } from './hls-player';
import { playRealtime } from './realtime-player';
import { connectChannel, type ChannelSocket } from './signalling';

export type ViewerState = 'connecting' | 'waiting' | 'playing' | 'ended' | 'not-found' | 'error';
export type ViewingMode = 'realtime' | 'hls';

export interface ViewerEvents {
  onState(state: ViewerState, detail?: string): void;
  onAudience(audience: Audience): void;
  onMode(mode: ViewingMode, note?: string): void;
  /** The broadcaster's title and description, at once and whenever they change. */
  onDetails?(details: { title: string; description: string }): void;
  /** Whether the broadcast can be rewound (it is recorded), and whether it is now (DVR). */
  onRewind?(available: boolean, rewound: boolean): void;
}

/**
 * Watches a channel: joins its namespace as a viewer (that is what the viewer count counts), then
 * plays it in real time over WebRTC or over HLS. Without an explicit choice it takes real time
 * while the channel has free real-time slots, and falls back to HLS when WebRTC fails.
 *
 * With several server instances, the page's own server serves the viewer whichever instance
 * carries the channel (presence through Redis, real time through a relay of the channel's
 * tracks); HLS is fetched from the carrying instance (the channel's `origin`).
 */
export class Viewer {
  private socket: ChannelSocket | null = null;
  private player: Player | null = null;
  /** 'rewound': the broadcast's recording plays instead of the live edge (DVR). */
  private playerMode: ViewingMode | 'rewound' | null = null;
  private state: ViewerState = 'connecting';
  private channel: ChannelState | null = null;
  private audience: Audience = { viewers: 0, realtime: 0 };
  private mode: ViewingMode | null;
  private starting = false;
  private realtimeFailed = false;

  constructor(
    private readonly channelId: string,
    private readonly video: HTMLVideoElement,
    private readonly events: ViewerEvents,
    preferred: ViewingMode | null = null,
    private readonly hlsTuning: 'low-latency' | 'defaults' = 'low-latency',
  ) {
    this.mode = preferred;
  }

  start(): void {
    if (!CHANNEL_ID_PATTERN.test(this.channelId)) return this.set('not-found');
    const socket = connectChannel(this.channelId, { role: 'viewer' });
    this.socket = socket;
    socket.on('connect_error', (error) => {
      if (connectErrorCode(error) === 'not-found') {
        socket.disconnect();
        if (this.state === 'connecting') this.set('not-found');
        else this.end('the stream has ended');
      } else {
        if (this.state === 'connecting') this.set('connecting', `cannot reach the server (${error.message}); retrying…`);
        // Refused by the server (not a network failure): Socket.IO leaves retrying to us.
        if (!socket.active) setTimeout(() => socket === this.socket && socket.connect(), 2000);
      }
    });
    socket.on('channelState', (s) => {
      if (socket !== this.socket) return;
      this.channel = s;
      this.events.onDetails?.({ title: s.title, description: s.description });
      this.events.onRewind?.(s.recording !== null && s.phase === 'live', this.playerMode === 'rewound');
      if (s.phase === 'ended') return this.end('the stream has ended');
      void this.update();
    });
    socket.on('viewerCount', (audience) => {
      this.audience = audience;
      this.events.onAudience(audience);
    });
    socket.on('streamEnded', ({ reason }) => this.end(reason));
  }

  /** Switches between real time and HLS at the viewer's request. */
  choose(mode: ViewingMode): void {
    if (this.playerMode === 'rewound') this.stopPlayer();
    this.mode = mode;
    this.realtimeFailed = false;
    void this.update();
  }

  lagging(): boolean {
    return this.player?.lagging() ?? false;
  }

  /** Back to the live edge, playing: HLS jumps to where it means to be; real time shows frames as they arrive once playing. */
  goLive(): void {
    if (this.playerMode === 'rewound') {
      this.stopPlayer();
      this.events.onRewind?.(this.channel?.recording != null, false);
      void this.update();
      return;
    }
    this.player?.goLive();
    if (this.video.paused) void this.video.play().catch(() => undefined);
  }

  /**
   * Plays the live broadcast from `at` seconds after its start, from its recording (DVR): the
   * whole broadcast so far is seekable. `goLive` returns to the live edge.
   */
  rewind(at = 0): void {
    const c = this.channel;
    if (!c?.recording || c.phase !== 'live' || this.state === 'ended') return;
    this.stopPlayer();
    this.player = playRecording(this.video, atOrigin(c.origin, c.recording.playlist), (message) => this.set('error', message), at);
    this.playerMode = 'rewound';
    this.events.onRewind?.(true, true);
    this.play();
  }

  /** What the player offers to choose from (see Player.qualities). */
  qualities(): Quality[] {
    return this.player?.qualities() ?? [];
  }

  setQuality(choice: QualityChoice): Promise<void> {
    return this.player?.setQuality(choice) ?? Promise.resolve();
  }

  behindLive(): Promise<number | null> {
    return this.player?.behindLive() ?? Promise.resolve(null);
  }

  stop(): void {
    this.stopPlayer();
    this.socket?.disconnect();
    this.socket = null;
  }

  private wantedMode(): ViewingMode {
    if (this.realtimeFailed) return 'hls';
    if (this.mode) return this.mode;
    const c = this.channel;
    return c && this.audience.realtime < c.realtimeLimit ? 'realtime' : 'hls';
  }

  private async update(): Promise<void> {
    const c = this.channel;
    const socket = this.socket;
    if (!c || !socket || this.starting || this.state === 'ended') return;
    const mode = this.wantedMode();
    if (this.player && (this.playerMode === mode || this.playerMode === 'rewound')) return;
    this.stopPlayer();
    this.events.onMode(mode);

    if (mode === 'realtime') {
      if (!c.realtime) return this.set('waiting');
      this.starting = true;
      try {
        this.player = await playRealtime(socket, this.video, (message) => this.fallBack(message));
        this.playerMode = 'realtime';
        this.play();
      } catch (error) {
        this.fallBack(error instanceof Error ? error.message : String(error));
      } finally {
        this.starting = false;
      }
      // The choice or the channel may have changed while connecting.
      if (this.wantedMode() !== this.playerMode) void this.update();
      return;
    }
    if (!c.hls) return this.set('waiting');
    this.player = playHls(this.video, atOrigin(c.origin, c.hls.playlist), (message) => this.set('error', message), this.hlsTuning);
    this.playerMode = 'hls';
    this.play();
  }

  private fallBack(reason: string): void {
    if (this.state === 'ended') return;
    this.realtimeFailed = true;
    console.warn(`livecast: real-time viewing failed (${reason}); falling back to HLS`);
    this.stopPlayer();
    this.events.onMode('hls', `Real-time viewing is unavailable (${reason}); switched to HLS.`);
    void this.update();
  }

  private play(): void {
    const video = this.video;
    video.addEventListener('playing', () => this.set('playing'), { once: true });
    video.play().catch(() => {
      // Autoplay with sound was blocked: start muted, the page offers an unmute button.
      video.muted = true;
      void video.play().catch(() => undefined);
    });
  }

  private stopPlayer(): void {
    this.player?.stop();
    this.player = null;
    this.playerMode = null;
  }

  private end(reason: string): void {
    this.stop();
    this.set('ended', reason);
  }

  private set(state: ViewerState, detail?: string): void {
    this.state = state;
    this.events.onState(state, detail);
  }
}
