import Hls from 'hls.js';
import { lowLatencyHlsConfig } from './hls-config';

export interface Player {
  stop(): void;
  /** Seconds behind live as this player estimates it, or null when unknown. */
  behindLive(): Promise<number | null>;
}

/**
 * Plays a live HLS playlist in `video` (hls.js, or native HLS in Safari). `tuning: 'defaults'`
 * uses hls.js as it comes, the baseline the latency benchmark compares against.
 */
export function playHls(
  video: HTMLVideoElement,
  url: string,
  segmentSeconds: number,
  onFatal: (message: string) => void,
  tuning: 'low-latency' | 'defaults' = 'low-latency',
): Player {
  let hls: Hls | null = null;
  if (Hls.isSupported()) {
    hls = new Hls(tuning === 'defaults' ? {} : lowLatencyHlsConfig(segmentSeconds));
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
      const latency = hls?.latency;
      return latency !== undefined && Number.isFinite(latency) && latency > 0 ? latency : null;
    },
  };
}
