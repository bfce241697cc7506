import Hls from 'hls.js';
import { lowLatencyHlsConfig } from './hls-config';
import { easedTargetLatency } from './stall-backoff';

/**
 * How far behind its target latency (PART-HOLD-BACK) the player may fall before it jumps to it.
 * hls.js catches up by playing faster only while more than 1 s is buffered ahead, which a player
 * three parts behind the live edge never has: a player that started at the last key frame, or
 * fell behind in a stall, stayed ~1.2 s behind instead of ~0.6 s.
 */
const JUMP_BEYOND_TARGET_S = 0.3;
const EDGE_CHECK_MS = 500;
/** A jump needs this much smooth playback since the previous one (or the start): never a seek loop on a struggling machine. */
const STEADY_BEFORE_JUMP_MS = 3000;
/** …and this much media buffered beyond where it lands. */
const BUFFERED_BEYOND_JUMP_S = 0.3;

/**
 * Jumps to hls.js's live sync position when it is already buffered and the player lags, and
 * earns back the target latency hls.js gave up in stalls (stall-backoff.ts).
 */
function keepNearLiveEdge(hls: Hls, video: HTMLVideoElement): () => void {
  let steadySince = performance.now();
  /** Since the last stall, seek, or step back towards the hold-back. */
  let smoothSince = steadySince;
  const unsteady = () => (steadySince = smoothSince = performance.now());
  video.addEventListener('waiting', unsteady);
  video.addEventListener('seeking', unsteady);
  const timer = setInterval(() => {
    const position = hls.liveSyncPosition;
    const target = hls.targetLatency;
    if (position === null || target === null || video.paused || video.seeking || video.readyState < HTMLMediaElement.HAVE_FUTURE_DATA) return;
    // Where the target starts and returns to: the playlist's PART-HOLD-BACK (or HOLD-BACK).
    const details = hls.latestLevelDetails;
    const holdBack = details ? details.partHoldBack || details.holdBack : 0;
    const eased = holdBack > 0 ? easedTargetLatency(target, holdBack, performance.now() - smoothSince) : null;
    if (eased !== null) {
      // The setter also clears hls.js's stall count: the target is then exactly this.
      hls.targetLatency = eased;
      smoothSince = performance.now();
      return;
    }
    if (performance.now() - steadySince < STEADY_BEFORE_JUMP_MS || hls.latency - target < JUMP_BEYOND_TARGET_S) return;
    for (let i = 0; i < video.buffered.length; i++) {
      if (video.buffered.start(i) <= position && video.buffered.end(i) >= position + BUFFERED_BEYOND_JUMP_S) {
        video.currentTime = position;
        return;
      }
    }
  }, EDGE_CHECK_MS);
  return () => {
    clearInterval(timer);
    video.removeEventListener('waiting', unsteady);
    video.removeEventListener('seeking', unsteady);
  };
}

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
  /** The qualities the viewer may choose between, lowest first (empty: the stream has one). */
  qualities(): Quality[];
  /** Pins a quality (one of `qualities()`), or 'auto': the player follows the bandwidth. */
  setQuality(choice: QualityChoice): Promise<void>;
}

/** One quality a player offers: a simulcast layer (real time) or an HLS rendition. */
export interface Quality {
  id: number;
  /** What the menu says: the height ("360p"), or the layer's number when the height is unknown. */
  label: string;
}

export type QualityChoice = 'auto' | number;

/** A stream of one quality offers no choice. */
export const ONE_QUALITY = { qualities: (): Quality[] => [], setQuality: async (): Promise<void> => undefined };

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
  let stopEdgeKeeper = () => {};
  if (Hls.isSupported()) {
    hls = new Hls(tuning === 'defaults' ? {} : lowLatencyHlsConfig());
    if (tuning !== 'defaults') stopEdgeKeeper = keepNearLiveEdge(hls, video);
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        console.warn(`livecast: recovering from a media error (${data.details})`);
        // Recovery gives the video a new source, which leaves it paused: a viewer who was watching goes on watching.
        const wasPlaying = !video.paused;
        hls?.recoverMediaError();
        if (wasPlaying) void video.play().catch(() => undefined);
      } else onFatal(`playback failed (${data.details}); the stream may have ended`);
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
      stopEdgeKeeper();
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
    qualities() {
      const levels = hls?.levels ?? [];
      return levels.length < 2 ? [] : levels.map((level, id) => ({ id, label: level.height ? `${level.height}p` : `${Math.round(level.bitrate / 1000)} kbit/s` }));
    },
    async setQuality(choice) {
      // -1 hands the choice back to hls.js's bandwidth estimate; a level switches at once.
      if (hls) hls.currentLevel = choice === 'auto' ? -1 : choice;
    },
  };
}

/**
 * Plays a broadcast's recording: its VOD playlist once it ended (replay), or its EVENT playlist
 * while it is live (DVR: the whole broadcast so far is seekable; the live edge is where the
 * LL-HLS player is, not here). From `startAt` seconds. No live-edge keeping, a normal buffer.
 */
export function playRecording(video: HTMLVideoElement, url: string, onFatal: (message: string) => void, startAt = 0): Player {
  let hls: Hls | null = null;
  if (Hls.isSupported()) {
    hls = new Hls({ startPosition: startAt, maxBufferLength: 20, backBufferLength: 30, enableWorker: true });
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls?.recoverMediaError();
      else onFatal(`the recording cannot be played (${data.details})`);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
    video.addEventListener('loadedmetadata', () => (video.currentTime = startAt), { once: true });
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
    behindLive: async () => null,
    lagging: () => false,
    goLive() {},
    ...ONE_QUALITY,
  };
}
