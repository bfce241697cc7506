import Hls from 'hls.js';
import { lowLatencyHlsConfig } from './hls-config';

export interface Player {
  stop(): void;
  /**
   * Seconds between the capture of the frame on screen and now, from the stream's own clock
   * (the server's EXT-X-PROGRAM-DATE-TIME, anchored to when the media arrived), or null when unknown.
   */
  behindLive(): Promise<number | null>;
  /** Whether the player is further behind the live edge than it means to be. */
  lagging(): boolean;
  /** Jumps to where the player means to be behind the live edge. */
  goLive(): void;
}

/**
 * Plays a live HLS playlist in `video` (hls.js, or native HLS in Safari). `tuning: 'defaults'`
 * uses hls.js as it comes, the baseline the latency benchmark compares against.
 */
export function playHls(
  video: HTMLVideoElement,
  url: string,
  onFatal: (message: string) => void,
  tuning: 'low-latency' | 'defaults' = 'low-latency',
): Player {
  let hls: Hls | null = null;
  if (Hls.isSupported()) {
    hls = new Hls(tuning === 'defaults' ? {} : lowLatencyHlsConfig());
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls?.recoverMediaError();
      else onFatal(`playback failed (${data.details}); the stream may have ended`);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
  } else {
    onFatal('this browser cannot play HLS');
  }
  return {
    stop() {
      hls?.destroy();
      hls = null;
      video.removeAttribute('src');
      video.load();
    },
    async behindLive() {
      const date = hls?.playingDate;
      if (!date) return null;
      const seconds = (Date.now() - date.getTime()) / 1000;
      return Number.isFinite(seconds) && seconds > 0 ? seconds : null;
    },
    lagging() {
      if (!hls || hls.targetLatency === null) return false;
      // A second beyond the target: more than catching up at 1.1x will fix soon.
      return hls.latency > hls.targetLatency + 1;
    },
    goLive() {
      const live = hls?.liveSyncPosition;
      if (live !== null && live !== undefined) video.currentTime = live;
    },
  };
}
